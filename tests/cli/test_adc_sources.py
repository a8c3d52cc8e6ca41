"""ADC told apart, as real processes: falling back to it is said once, with its source and account;
``adc status`` and ``adc print-access-token`` know service-account keys and the metadata server;
fixes under ADC are the ``adc`` commands; network errors name the real token host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gemini_oauth.emulator import Emulator
from gemini_oauth.emulator._constants import DEFAULT_SERVICE_ACCOUNT

from .weekone import gemini, ua


@pytest.fixture
def adc_login(emulator: Emulator, client_secret_file: Path, tmp_path: Path) -> dict[str, str]:
    """A user's ADC written by ``adc login``; the environment that points refreshes at the
    emulator (gcloud's token-host property)."""
    done = gemini("adc", "login", "--client-secret", str(client_secret_file), cwd=tmp_path,
                  browser=ua())  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {"CLOUDSDK_AUTH_TOKEN_HOST": f"{emulator.base_url}/token"}


@pytest.fixture
def key_file(emulator: Emulator, tmp_path: Path) -> Path:
    key = tmp_path / "sa-key.json"
    key.write_text(json.dumps(emulator.control.create_service_account()))
    key.chmod(0o600)
    return key


def test_falling_back_to_adc_is_said_once_with_source_and_account(
    emulator: Emulator, adc_login: dict[str, str], tmp_path: Path
) -> None:
    done = gemini("models", "list", "--endpoint", emulator.base_url, cwd=tmp_path, **adc_login)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1, done.stderr
    assert "no gemini-oauth login (profile 'default')" in notes[0]
    assert "user credentials" in notes[0] and "application_default_credentials.json" in notes[0]
    asked = gemini("models", "list", "--adc", "--endpoint", emulator.base_url, cwd=tmp_path,
                   **adc_login)  # fmt: skip
    assert asked.returncode == 0 and "note:" not in asked.stderr  # asked for: nothing to say


def test_a_default_profile_whose_sign_in_ended_is_not_skipped_for_adc(
    emulator: Emulator, adc_login: dict[str, str], client_secret_file: Path, tmp_path: Path
) -> None:
    login = gemini("login", "--client-secret", str(client_secret_file), cwd=tmp_path, browser=ua())
    assert login.returncode == 0, login.stderr
    emulator.control.advance_clock(8 * 86400)
    first = gemini("models", "list", "--endpoint", emulator.base_url, cwd=tmp_path, **adc_login)
    assert first.returncode == 3 and "Testing status" in first.stderr
    again = gemini("models", "list", "--endpoint", emulator.base_url, cwd=tmp_path, **adc_login)
    assert again.returncode == 3, again.stderr
    assert "Profile 'default' needs a new sign-in" in again.stderr and "note:" not in again.stderr


def test_an_unreachable_token_host_is_named(
    emulator: Emulator, adc_login: dict[str, str], tmp_path: Path
) -> None:
    down = "http://127.0.0.1:9/token"
    done = gemini("models", "list", "--endpoint", emulator.base_url, cwd=tmp_path,
                  CLOUDSDK_AUTH_TOKEN_HOST=down)  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert f"Could not reach the token endpoint {down}" in done.stderr
    assert "Application Default Credentials" in done.stderr and "--endpoint" not in done.stderr


def test_adc_status_and_token_with_a_service_account_key(
    emulator: Emulator, key_file: Path, tmp_path: Path
) -> None:
    email = json.loads(key_file.read_text())["client_email"]
    status = gemini("adc", "status", cwd=tmp_path, GOOGLE_APPLICATION_CREDENTIALS=str(key_file))
    assert status.returncode == 0, status.stderr
    first = status.stdout.splitlines()[0]
    assert first.startswith("✓ Application Default Credentials: service-account key")
    assert str(key_file) in first and email in first and "GOOGLE_APPLICATION_CREDENTIALS" in first
    shown = json.loads(gemini("adc", "status", "--json", cwd=tmp_path,
                              GOOGLE_APPLICATION_CREDENTIALS=str(key_file)).stdout)  # fmt: skip
    assert shown["source"]["type"] == "service_account" and shown["source"]["account"] == email
    assert "private_key" not in json.dumps(shown)

    token = gemini("adc", "print-access-token", cwd=tmp_path,
                   GOOGLE_APPLICATION_CREDENTIALS=str(key_file))  # fmt: skip
    assert token.returncode == 0 and token.stdout.startswith("ya29.emu."), token.stderr
    assert "refresh token" not in token.stderr


def test_adc_status_and_token_from_the_metadata_server(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = emulator.base_url.removeprefix("http://")
    monkeypatch.delenv("NO_GCE_CHECK")  # this test is the one that wants the metadata server
    env = {"GCE_METADATA_HOST": host, "GCE_METADATA_IP": host}
    status = gemini("adc", "status", cwd=tmp_path, **env)
    assert status.returncode == 0, status.stderr
    assert f"the metadata server ({host}, {DEFAULT_SERVICE_ACCOUNT})" in status.stdout
    token = gemini("adc", "print-access-token", cwd=tmp_path, **env)
    assert token.returncode == 0 and token.stdout.startswith("ya29.emu."), token.stderr
    listed = gemini("models", "list", "--endpoint", emulator.base_url, cwd=tmp_path, **env)
    assert listed.returncode == 0, listed.stderr
    assert "Application Default Credentials are used: the metadata server" in listed.stderr


def test_fixes_under_adc_are_the_adc_commands(
    emulator: Emulator, adc_login: dict[str, str], tmp_path: Path
) -> None:
    emulator.control.set_project("someone-elses", 4242, members=[])
    denied = gemini("models", "list", "--adc", "--endpoint", emulator.base_url,
                    "--quota-project", "someone-elses", cwd=tmp_path, **adc_login)  # fmt: skip
    assert denied.returncode == 4 and "USER_PROJECT_DENIED" in denied.stderr
    assert "gemini-oauth adc set-quota-project PROJECT_ID" in denied.stderr
    assert "--quota-project" not in denied.stderr.split("\n  ")[-1]


def test_adc_reauthentication_is_read_from_googles_answer(
    emulator: Emulator, adc_login: dict[str, str], tmp_path: Path
) -> None:
    """A user's ADC refresh through our grant keeps Google's answer: invalid_rapt is seen (not
    guessed from text), never retried, and the fix is the adc login."""
    emulator.control.require_reauth(after=0)
    before = emulator.control.counters()["token.refresh_token"]
    done = gemini("adc", "print-access-token", "--no-cache", cwd=tmp_path, **adc_login)
    assert done.returncode == 3, done.stderr
    assert "requires signing in again every few hours" in done.stderr
    assert "'gemini-oauth adc login" in done.stderr
    assert emulator.control.counters()["token.refresh_token"] == before + 1


def test_adc_asked_for_and_missing_says_so_beside_a_profile(
    emulator: Emulator, seed_login: object, tmp_path: Path
) -> None:
    """`--adc` with a saved profile and no ADC anywhere: the cause is ADC, the fix `adc login`."""
    seed_login()  # type: ignore[operator]
    done = gemini("generate", "--adc", "hi", "--endpoint", emulator.base_url, cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("error: No usable Application Default Credentials"), done.stderr
    assert "No gemini-oauth profile" not in done.stderr
    assert done.stderr.rstrip().splitlines()[-1].startswith("  Run 'gemini-oauth adc login")
    fallback = gemini("models", "list", "--endpoint", emulator.base_url, cwd=tmp_path,
                      GEMINI_OAUTH_HOME=str(tmp_path / "empty-home"))  # fmt: skip
    assert fallback.returncode == 3, fallback.stderr  # nothing at all: both ways are named
    assert "No gemini-oauth profile and no Application Default Credentials" in fallback.stderr
