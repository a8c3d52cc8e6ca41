"""print-access-token, status and logout: in-process through run(), and as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from gemini_oauth import _clock
from gemini_oauth import _store as store
from gemini_oauth._cli._root import run
from gemini_oauth._client_secrets import client_from_dict
from gemini_oauth._credentials import save_login
from gemini_oauth._flow import LoginResult
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import CLOUD_PLATFORM, OPENID, RETRIEVER, USERINFO_EMAIL

SCOPES = [OPENID, USERINFO_EMAIL, CLOUD_PLATFORM, RETRIEVER]
SCRIPT = str(Path(sys.executable).parent / "gemini-oauth")


def seed(emulator: Emulator, profile: str = "default", lifetime: float = 3600.0) -> dict[str, Any]:
    body = emulator.control.issue_grant(SCOPES)
    result = LoginResult(
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=_clock.now() + lifetime,
        granted_scopes=tuple(SCOPES),
        account=emulator.user_email,
    )
    client = client_from_dict(emulator.client_secret_json())
    save_login(result, client, file=store.profile_file(profile), quota_project="quota-p")
    return body


class Captured:
    """Everything the commands printed, to scan for secrets at the end."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.texts: list[str] = []

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = run(list(args))
        out, err = self.capsys.readouterr()
        self.texts += [out, err]
        return code, out, err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Captured:
    return Captured(capsys)


def secrets_of(body: dict[str, Any]) -> list[str]:
    return [body["access_token"], body["refresh_token"], "emulator-client-secret"]


def test_print_access_token_real_process_prints_only_the_token(emulator: Emulator) -> None:
    body = seed(emulator)
    result = subprocess.run(
        [SCRIPT, "print-access-token"], capture_output=True, text=True, timeout=30
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, body["access_token"] + "\n", "")


def test_print_access_token_refreshes_an_expiring_token(emulator: Emulator, cli: Captured) -> None:
    body = seed(emulator, "work", lifetime=100.0)
    code, out, err = cli("print-access-token", "--profile", "work")
    assert code == 0 and err == ""
    token = out.strip()
    assert out == token + "\n" and token != body["access_token"] and token.startswith("ya29.")
    assert emulator.control.counters()["token.refresh_token"] == 1
    assert cli("print-access-token", "--profile", "work")[1] == out
    assert emulator.control.counters()["token.refresh_token"] == 1


def test_print_access_token_without_login(cli: Captured) -> None:
    code, out, err = cli("print-access-token")
    assert (code, out) == (3, "")
    assert "Not logged in" in err and "gemini-oauth login" in err


def test_print_access_token_after_revocation(emulator: Emulator, cli: Captured) -> None:
    body = seed(emulator, lifetime=0.0)
    httpx.post(emulator.base_url + "/revoke", data={"token": body["refresh_token"]}, timeout=10)
    code, out, err = cli("print-access-token")
    assert (code, out) == (3, "")
    assert "revoked" in err and "not the 7-day Testing limit" in err
    assert ") (" not in err  # one parenthesis at a time
    assert "Run 'gemini-oauth login' to sign in again." in err
    assert not store.has_grant(store.profile_file("default").read())
    assert not any(s in t for s in secrets_of(body) for t in cli.texts)


def test_invalid_profile_name(cli: Captured) -> None:
    code, out, err = cli("status", "--profile", "../etc")
    assert code == 2 and out == "" and "'../etc' is not a profile name" in err  # bad usage


def test_status_json(emulator: Emulator, cli: Captured) -> None:
    body = seed(emulator)
    code, out, err = cli("status", "--json")
    assert code == 0 and err == ""
    info = json.loads(out)
    assert info["logged_in"] is True
    assert info["account"] == emulator.user_email
    assert info["client_id"] == emulator.client_id
    assert info["scopes"] == SCOPES
    assert info["quota_project"] == "quota-p"
    assert info["refresh_token_present"] is True
    assert info["token_valid"] is True and 3500 < info["token_expires_in"] <= 3600
    assert info["cache_path"] == str(store.profile_file("default").path)
    assert info["token_expiry"].endswith("Z")
    assert not any(s in out for s in secrets_of(body))


def test_status_human_goes_to_stdout(emulator: Emulator, cli: Captured) -> None:
    body = seed(emulator)
    code, out, err = cli("status")
    assert code == 0 and err == ""
    assert emulator.user_email in out and "retriever" in out and "quota-p" in out
    assert not any(s in out for s in secrets_of(body))


def test_status_when_logged_out(cli: Captured) -> None:
    code, out, _ = cli("status", "--json")
    assert code == 3 and json.loads(out)["logged_in"] is False
    code, out, err = cli("status")
    assert code == 3 and out == "" and "Not logged in" in err


def test_logout_revokes_then_deletes(emulator: Emulator, cli: Captured) -> None:
    body = seed(emulator)
    code, out, err = cli("logout", "--yes")
    assert (code, out) == (0, "") and "Logged out" in err
    assert emulator.control.counters()["revoke"] == 1
    assert not store.profile_file("default").path.exists()
    refused = httpx.post(
        emulator.base_url + "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
        },
        timeout=10,
    )
    assert refused.json()["error"] == "invalid_grant"
    assert cli("logout", "--yes")[0] == 0
    assert not any(s in t for s in secrets_of(body) for t in cli.texts)


def test_generate_with_a_bad_quota_project_is_bad_usage_before_any_login(cli: Captured) -> None:
    code, out, err = cli("generate", "--quota-project", "Bad Id", "hi")  # and nobody logged in
    assert (code, out) == (2, "")
    assert "'Bad Id' is not a Google Cloud project id" in err and "Not logged in" not in err


def test_logout_of_an_already_revoked_token_deletes(emulator: Emulator, cli: Captured) -> None:
    body = seed(emulator)
    httpx.post(emulator.base_url + "/revoke", data={"token": body["refresh_token"]}, timeout=10)
    assert cli("logout", "--yes")[0] == 0
    assert not store.profile_file("default").path.exists()


@pytest.mark.parametrize("fault", [{"status": 503}, {"drop": True}])
def test_logout_failure_keeps_the_cache(
    fault: dict[str, Any], emulator: Emulator, cli: Captured
) -> None:
    body = seed(emulator)
    file = store.profile_file("default")
    before = file.path.read_bytes()
    emulator.control.add_fault("/revoke", **fault)
    code, out, err = cli("logout", "--yes")
    assert code == 1 and out == ""
    assert "kept" in err and "nothing was deleted" in err
    assert file.path.read_bytes() == before
    assert not any(s in t for s in secrets_of(body) for t in cli.texts)


def test_logout_local_when_google_cannot_be_reached(emulator: Emulator, cli: Captured) -> None:
    """The revocation fails: its hint offers --local (with --profile); --local deletes the file
    only, says the grant lives on at Google with the permissions URL, and it does."""
    body = seed(emulator, "work")
    emulator.control.add_fault("/revoke", drop=True, count=None)
    code, _, err = cli("logout", "--yes", "--profile", "work")
    assert code == 1 and "gemini-oauth logout --local --profile work" in err
    assert store.profile_file("work").path.exists()
    code, _, err = cli("logout", "--local", "--profile", "work")
    assert code == 2 and "--yes" in err  # it asks first, as logout does
    code, out, err = cli("logout", "--local", "--yes", "--profile", "work")
    assert code == 0 and out == "" and not store.profile_file("work").path.exists()
    assert "nothing was sent to Google" in err
    assert "still valid at Google" in err and "https://myaccount.google.com/permissions" in err
    emulator.control.clear_faults()
    assert emulator.control.counters().get("revoke", 0) == 0
    alive = httpx.post(
        emulator.base_url + "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
        },
        timeout=10,
    )
    assert alive.status_code == 200  # as said: the grant lives on until revoked
    code, _, err = cli("logout", "--local", "--yes", "--profile", "work")
    assert code == 0 and "nothing to do" in err
    assert not any(s in t for s in secrets_of(body) for t in cli.texts)


def test_logout_asks_without_yes(emulator: Emulator, cli: Captured) -> None:
    seed(emulator)
    code, _, err = cli("logout")
    assert code == 2 and "--yes" in err
    assert store.profile_file("default").path.exists()


def test_print_access_token_repairs_a_loose_cache_and_warns_on_stderr(emulator: Emulator) -> None:
    body = seed(emulator)
    path = store.profile_file("default").path
    path.chmod(0o644)
    result = subprocess.run(
        [SCRIPT, "print-access-token"], capture_output=True, text=True, timeout=30
    )
    assert (result.returncode, result.stdout) == (0, body["access_token"] + "\n")
    assert "0600" in result.stderr and body["access_token"] not in result.stderr
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("command", [["print-access-token"], ["status"]])
def test_corrupt_cache_is_reported_set_aside_and_login_offered(command: list[str]) -> None:
    path = store.profile_file("default").path
    path.parent.mkdir(mode=0o700, parents=True)
    path.write_text('{"type": "authorized_user", "refresh_token": "half-writ')
    path.chmod(0o600)
    result = subprocess.run([SCRIPT, *command], capture_output=True, text=True, timeout=30)
    assert result.returncode == 3 and result.stdout == "", result.stderr
    assert "corrupt" in result.stderr and "gemini-oauth login" in result.stderr
    assert "Traceback" not in result.stderr and "half-writ" not in result.stderr
    assert not path.exists() and len(list(path.parent.glob("default.json.corrupt-*"))) == 1


@pytest.mark.parametrize("command", [["print-access-token"], ["status"], ["logout", "--yes"]])
def test_home_under_a_plain_file_is_a_clear_error(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Captured
) -> None:
    """A GEMINI_OAUTH_HOME that cannot be a folder: the fix is named, no 'this is a bug'."""
    (tmp_path / "plain").write_text("x")
    monkeypatch.setenv("GEMINI_OAUTH_HOME", str(tmp_path / "plain" / "home"))
    code, out, err = cli(*command)
    assert (code, out) == (1, "")
    assert "GEMINI_OAUTH_HOME" in err and "bug" not in err and "unexpected" not in err


# ---------------------------------------------------------------- hostile files and servers


def _process(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})  # fmt: skip


def test_print_access_token_leaves_a_shared_home_as_it_was(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 2: one print-access-token took the sticky and world bits off a 1777 home."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("GEMINI_OAUTH_HOME", str(shared))
    seed(emulator, lifetime=100.0)  # within the margin: the full CLI refreshes and writes
    done = _process("print-access-token")
    assert done.returncode == 0 and done.stdout.startswith("ya29."), done.stderr
    assert emulator.control.counters()["token.refresh_token"] == 1
    assert shared.stat().st_mode & 0o7777 == 0o1777
    assert (shared / "profiles").stat().st_mode & 0o777 == 0o700


@pytest.mark.skipif(
    not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() != 0,
    reason="planting another user's file needs root",
)
def test_a_cache_planted_by_another_user_is_not_used(emulator: Emulator, trap: Any) -> None:
    """Finding 2: as root, a cache owned by another uid, naming its own token_uri, was used."""
    import os

    seed(emulator, lifetime=0.0)
    path = store.profile_file("default").path
    planted = {**json.loads(path.read_text()), "token_uri": trap.url + "/token"}
    path.write_text(json.dumps(planted))
    path.chmod(0o644)
    os.chown(path, 65534, -1)
    done = _process("print-access-token")
    assert trap.seen == []
    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    assert f"The token cache {path} belongs to another user (uid 65534)" in done.stderr
    assert path.stat().st_mode & 0o777 == 0o644 and path.stat().st_uid == 65534


def test_a_token_with_a_lone_surrogate_is_refreshed_not_printed(emulator: Emulator) -> None:
    """Finding 10: the fast path printed a traceback (UnicodeEncodeError)."""
    seed(emulator)
    path = store.profile_file("default").path
    path.write_text(path.read_text().replace('"token": "ya29.', '"token": "\\ud800ya29.'))
    done = _process("print-access-token")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.startswith("ya29.emu.") and "\\ud800" not in path.read_text()
    assert emulator.control.counters()["token.refresh_token"] == 1


def test_a_deeply_nested_cache_is_set_aside_not_a_bug() -> None:
    path = store.profile_file("default").path
    path.parent.mkdir(mode=0o700, parents=True)
    path.write_text("[" * 100_000)
    path.chmod(0o600)
    done = _process("print-access-token")
    assert (done.returncode, done.stdout) == (3, ""), done.stderr
    assert "corrupt" in done.stderr and "bug" not in done.stderr


def test_an_absurd_expires_in_is_cut_to_a_day(emulator: Emulator) -> None:
    """Finding 10: expires_in 1e20 overflowed every date (OverflowError at refresh)."""
    seed(emulator, lifetime=0.0)
    answer = {"access_token": "ya29.absurd", "expires_in": 10**20, "token_type": "Bearer"}
    emulator.control.add_fault("/token", 200, body=answer)
    done = _process("print-access-token")
    assert (done.returncode, done.stdout) == (0, "ya29.absurd\n"), done.stderr
    expiry = _clock.rfc3339_to_epoch(json.loads(store.profile_file().path.read_text())["expiry"])
    assert expiry - _clock.now() <= 86400 + 60
