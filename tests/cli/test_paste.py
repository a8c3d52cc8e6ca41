"""The headless paste flow as a real process: what people paste is forgiven, a cut-off or used
address gets another try, a bare code is refused with its reason."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from gemini_oauth._useragent import approve
from gemini_oauth.emulator import Emulator

from .weekone import SCRIPT, environment


def paste_login(
    client_secret_file: Path, tmp_path: Path, answers: Callable[[str], list[str]]
) -> tuple[int, str]:
    """``login --no-browser``; ``answers(url)`` are the lines pasted, one per prompt."""
    proc = subprocess.Popen(
        [SCRIPT, "login", "--client-secret", str(client_secret_file), "--no-browser"],
        cwd=tmp_path,
        env=environment(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        seen, url = "", ""
        for _ in range(20):
            line = proc.stderr.readline()
            seen += line
            if line.startswith("    http://"):
                url = line.strip()
                break
        assert url, seen
        pasted = "".join(answer + "\n" for answer in answers(url))
        _, err = proc.communicate(pasted, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, seen + err


def address(url: str) -> str:
    """The address the browser ends on after Allow (the listener is not there: paste flow)."""
    return approve(url, follow_redirect=False)


@pytest.mark.parametrize(
    "wrap",
    ['"{}"', "'{}'", "  {}   ", "<{}>", "\t{}\r", "\u201c{}\u201d"],
    ids=["double-quotes", "single-quotes", "blanks", "angle-brackets", "tab-cr", "smart-quotes"],
)
def test_what_people_paste_is_forgiven(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path, wrap: str
) -> None:
    code, err = paste_login(client_secret_file, tmp_path, lambda url: [wrap.format(address(url))])
    assert code == 0, err
    assert "Logged in as tester@example.com" in err and "does not fit" not in err


def test_a_cut_off_address_gets_another_try(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    def cut_inside_the_code(url: str) -> list[str]:
        whole = address(url)
        return [whole[: whole.index("code=") + 12], whole]

    code, err = paste_login(client_secret_file, tmp_path, cut_inside_the_code)
    assert code == 0, err
    assert "Google refused the code in that address (Malformed auth code)" in err
    assert "it looks cut off, or was already used" in err and "(2 left)" in err
    assert "7 days" not in err and "Testing" not in err
    assert emulator.control.counters()["token.authorization_code"] == 2

    def cut_inside_the_state(url: str) -> list[str]:
        whole = address(url)
        return [whole[: whole.index("state=") + 10], whole]

    code, err = paste_login(client_secret_file, tmp_path, cut_inside_the_state)
    assert code == 0 and "it looks cut off; copy the whole address again." in err, err
    assert "possible CSRF" not in err


def test_an_address_already_used_gets_another_try(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    def used_then_fresh(url: str) -> list[str]:
        used = address(url)
        query = parse_qs(urlsplit(used).query)
        redirect = used.split("?")[0]
        spent = httpx.post(  # someone redeemed it first (a wrong verifier still uses it up)
            emulator.base_url + "/token",
            data={"grant_type": "authorization_code", "code": unquote(query["code"][0]),
                  "redirect_uri": redirect, "code_verifier": "v" * 43,
                  "client_id": emulator.client_id, "client_secret": emulator.client_secret},
            timeout=10,
        )  # fmt: skip
        assert spent.status_code == 400
        return [used, address(url)]  # the sign-in address opened again

    code, err = paste_login(client_secret_file, tmp_path, used_then_fresh)
    assert code == 0, err
    assert "in that address (Bad Request): it looks cut off, or was already used" in err
    assert "open the sign-in address above again for a new one" in err


def test_a_bare_code_is_refused_with_the_reason(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    def code_alone(url: str) -> list[str]:
        whole = address(url)
        return [unquote(parse_qs(urlsplit(whole).query)["code"][0]), whole]

    code, err = paste_login(client_secret_file, tmp_path, code_alone)
    assert code == 0, err
    assert "it looks like the code alone" in err and "its state cannot be checked" in err
    assert emulator.control.counters()["token.authorization_code"] == 1  # never sent


def test_three_bad_pastes_end_the_login(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    code, err = paste_login(client_secret_file, tmp_path, lambda url: ["nonsense"] * 3)
    assert code == 3 and "No valid address after 3 attempts." in err
    assert "(1 left)" in err and "0 left" not in err


def test_an_empty_paste_is_said_to_be_empty(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    """Enter pressed before pasting: the reason is that nothing came, not a code without state."""
    code, err = paste_login(client_secret_file, tmp_path, lambda url: ["", address(url)])
    assert code == 0, err
    assert "nothing was pasted" in err and "code alone" not in err


def test_the_sign_in_pages_own_address_is_told_apart(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    """Google's error page (a blocked app, a refused scope) stays on Google's host: pasting its
    address is told as that, not as 'must start with http://127.0.0.1', and the next try counts."""
    code, err = paste_login(
        client_secret_file,
        tmp_path,
        lambda url: [url, "http://[::1]:1/oauth2callback?state=x&code=y", address(url)],
    )
    assert code == 0, err
    assert "that is an address of" not in err  # the emulator's page and [::1] are loopback
    host = urlsplit(emulator.base_url).hostname
    assert f"that is an address of {host}" not in err
    google = "https://accounts.google.com/signin/oauth/error?authError=abc"
    code, err = paste_login(client_secret_file, tmp_path, lambda url: [google, address(url)])
    assert code == 0, err
    assert "that is an address of accounts.google.com, not the one the browser goes to" in err
    assert "the sign-in did not finish: its page says why" in err
