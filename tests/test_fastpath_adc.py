"""The stdlib-only ``adc print-access-token``: it serves the ADC access-token cache only where the
full CLI would serve the same token, and leaves everything else to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemini_oauth import _adc
from gemini_oauth._cli._root import run as full_cli
from gemini_oauth._fastpath import ADC_FILE, plain_token_uri, try_adc_access_token
from gemini_oauth._gcloud_paths import ADC_FILENAME
from gemini_oauth._urls import checked_url
from gemini_oauth.emulator import Emulator

CLOUD = "https://www.googleapis.com/auth/cloud-platform"


def adc_file(emu: Emulator, **extra: Any) -> Path:
    grant = emu.control.issue_grant([CLOUD])
    info = {
        "account": "",
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "refresh_token": grant["refresh_token"],
        "type": "authorized_user",
        "universe_domain": "googleapis.com",
        **extra,
    }
    path = _adc.adc_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info, indent=2))
    return path


@pytest.fixture
def cached(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's ADC file and its access token cached by the full CLI (one refresh)."""
    monkeypatch.setenv("CLOUDSDK_AUTH_TOKEN_HOST", f"{emulator.base_url}/token")
    path = adc_file(emulator)
    assert full_cli(["adc", "print-access-token"]) == 0
    assert emulator.control.counters()["token.refresh_token"] == 1
    return path


def fast(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[bool, str]:
    served = try_adc_access_token(args)
    return served, capsys.readouterr().out


def full(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = full_cli(["adc", "print-access-token", *args])
    return code, capsys.readouterr().out


def test_serves_what_the_full_cli_serves(
    emulator: Emulator, cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    served, text = fast([], capsys)
    assert served and text.startswith("ya29.emu.") and full([], capsys) == (0, text)
    served, as_json = fast(["--json"], capsys)
    code, full_json = full(["--json"], capsys)
    assert served and code == 0
    ours, theirs = json.loads(as_json), json.loads(full_json)
    assert ours["access_token"] == theirs["access_token"] == text.strip()
    assert ours["expiry"] == theirs["expiry"]
    assert abs(ours["expires_in"] - theirs["expires_in"]) <= 1
    assert emulator.control.counters()["token.refresh_token"] == 1  # none of these refreshed
    assert ADC_FILE == ADC_FILENAME


def test_anything_else_goes_to_the_full_cli(
    emulator: Emulator,
    cached: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for args in (["--no-cache"], ["--json", "--json"], ["-v"], ["x"]):
        assert fast(args, capsys) == (False, "")
    monkeypatch.setenv("CLOUDSDK_AUTH_TOKEN_HOST", f"{emulator.base_url}/token?x=1")
    assert fast([], capsys) == (False, "")  # not plain: the full CLI rebuilds or refuses it
    monkeypatch.setenv("CLOUDSDK_AUTH_TOKEN_HOST", f"{emulator.base_url}/token")
    cache = next((Path(os.environ["GEMINI_OAUTH_HOME"]) / "adc-tokens").glob("[!.]*.json"))
    cache.chmod(0o644)
    assert fast([], capsys) == (False, "")  # the store repairs it: not ours to serve
    cache.chmod(0o600)
    data = json.loads(cache.read_text())
    cache.write_text(json.dumps({**data, "expires_at": time.time() + 200}))
    assert fast([], capsys) == (False, "")  # within the refresh margin
    cache.write_text(json.dumps(data))
    assert fast([], capsys)[0]
    adc_file(emulator)  # a new refresh token: another cache file, none yet
    assert fast([], capsys) == (False, "")
    cached.write_text(json.dumps({"type": "service_account", "client_email": "a@b.c"}))
    assert fast([], capsys) == (False, "")
    cached.unlink()
    assert fast([], capsys) == (False, "")


def test_google_application_credentials_wins_as_in_the_full_cli(
    emulator: Emulator,
    cached: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = tmp_path / "user.json"
    other.write_text(cached.read_text())
    cached.unlink()
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(other))
    served, text = fast([], capsys)
    assert served and full([], capsys) == (0, text)


def test_hot_path_imports_nothing_heavy(cached: Path) -> None:
    code = (
        "import sys\n"
        "from gemini_oauth._cli import main\n"
        "try:\n    main(['adc', 'print-access-token'])\n"
        "except SystemExit as e:\n    code = e.code\n"
        "print(sorted(sys.modules), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.startswith("ya29.emu.")
    loaded = set(eval(result.stderr))  # noqa: S307 - our own subprocess's repr of a list
    bare = subprocess.run(
        [sys.executable, "-c", "import sys; print(sorted(sys.modules))"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    added = loaded - set(eval(bare.stdout))  # noqa: S307 - what the hot path adds to startup
    heavy = {"httpx", "google", "click", "rich", "hashlib", "json", "re", "pathlib", "urllib"}
    assert not heavy & {name.split(".")[0] for name in added}, sorted(added)


_URL_PARTS = st.sampled_from(["https://", "http://", "HTTPS://", "ftp://", "https:/", "", "//"])
_HOSTS = st.sampled_from(
    ["oauth2.googleapis.com", "127.0.0.1", "localhost", "Example.com", "a..b", "-a.com", "[::1]",
     "exa_mple.com", "xn--bcher-kva.example", "h", "10.0.0.1", "a.b.", "user@host"]
)  # fmt: skip
_PORTS = st.sampled_from(["", ":8089", ":0", ":080", ":65535", ":65536", ":", ":x"])
_PATHS = st.sampled_from(
    ["/token", "/", "", "/o/oauth2/token", "/a//b", "/./t", "/../t", "/t?x=1", "/t#f", "/%41",
     "/t~x", "/T_1-2.3", "/ t", "/t;x", "/t'x"]
)  # fmt: skip


@settings(max_examples=400)
@given(st.tuples(_URL_PARTS, _HOSTS, _PORTS, _PATHS))
def test_a_plain_token_uri_is_what_the_url_rule_gives_back(parts: tuple[str, ...]) -> None:
    value = "".join(parts)
    try:
        accepted = plain_token_uri(value)
    except ValueError:
        return
    assert checked_url(value) == accepted == value


@st.composite
def cache_texts(draw: st.DrawFn) -> str:
    token = draw(st.sampled_from(['"ya29.emu.good"', '"ya29 bad"', '""', "1", "null"]))
    later = time.time() + 3000
    expires = draw(
        st.sampled_from(
            [repr(later), str(int(later)), f'"{later}"', "true", "null", "1e400", "NaN", "-1"]
        )
    )
    members = [f'"token": {token}', f'"expires_at": {expires}']
    return "{" + ", ".join(draw(st.permutations(members))) + "}"


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=cache_texts())
def test_the_fast_path_serves_only_what_the_full_cli_would(
    text: str,
    emulator: Emulator,
    cached: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cache = next((Path(os.environ["GEMINI_OAUTH_HOME"]) / "adc-tokens").glob("[!.]*.json"))
    good = cache.read_bytes()
    try:
        cache.write_text(text)
        served, shown = fast([], capsys)
        emulator.control.add_fault("/token", 400, count=None)  # a refresh cannot be mistaken
        code, out = full([], capsys)
        if served:
            assert (code, out) == (0, shown), text
    finally:
        emulator.control.clear_faults()
        cache.write_bytes(good)


def test_a_token_planted_by_another_user_is_never_printed(
    cached: Path, other_user: tuple[int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The home is a folder others may write in (sticky, as /tmp): another uid makes the
    access-token folder first and plants a token under the key of our ADC file. Neither the
    fast path nor the full CLI prints it; once the folder and file are ours, the same file is
    served (so the plant was where we look)."""
    import shutil
    import tempfile

    uid, python = other_user
    shared = Path(tempfile.mkdtemp(prefix="shared-home-", dir="/tmp"))  # tmp_path: 0700 parents
    shared.chmod(0o1777)
    try:
        _planted_token_is_refused(shared, cached, uid, python, monkeypatch)
    finally:
        shutil.rmtree(shared)


def _planted_token_is_refused(
    shared: Path, cached: Path, uid: int, python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_OAUTH_HOME", str(shared))
    refresh_token = json.loads(cached.read_text())["refresh_token"]
    key = _adc._cache_file(refresh_token, _adc.token_uri(), os.environ).path.name
    planted = "fake-token-planted-by-another-user"
    plant = (
        "import json, os, sys\n"
        "folder = os.path.join(sys.argv[1], 'adc-tokens')\n"
        "os.mkdir(folder, 0o700)\n"
        "fd = os.open(os.path.join(folder, sys.argv[2]), os.O_WRONLY | os.O_CREAT, 0o600)\n"
        "os.write(fd, json.dumps({'token': sys.argv[3], 'expires_at': 4e9}).encode())\n"
    )
    subprocess.run([python, "-c", plant, str(shared), key, planted], user=uid, cwd="/",
                   check=True, timeout=30)  # fmt: skip
    command = [sys.executable, "-m", "gemini_oauth", "adc", "print-access-token"]
    for args in ([], ["--json"]):
        result = subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)
        assert planted not in result.stdout + result.stderr
        assert result.returncode == 1 and "belongs to another user" in result.stderr
    assert try_adc_access_token([]) is False
    for path in (shared / "adc-tokens", shared / "adc-tokens" / key):
        os.chown(path, os.geteuid(), os.getegid())
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.stdout == planted + "\n"  # the same file, now ours, is served
