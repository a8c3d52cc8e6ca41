"""A saved login's set-up: the client given back from a record, and the commands its errors name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gemini_oauth._setup import (
    GrantContext,
    client_from_record,
    load_creds_command,
    login_command,
    login_needed_error,
    profile_context,
)
from gemini_oauth.emulator import Emulator


def record(emulator: Emulator, client_file: Path | None = None) -> dict[str, Any]:
    installed = emulator.client_secret_json()["installed"]
    data = {key: installed[key] for key in ("client_id", "client_secret", "auth_uri", "token_uri")}
    data["revoke_uri"] = emulator.base_url + "/revoke"
    if client_file is not None:
        data["client_secret_file"] = str(client_file)
    return data


def test_the_client_comes_back_from_its_file_or_the_record(
    emulator: Emulator, client_secret_file: Path
) -> None:
    from_file = client_from_record(record(emulator, client_secret_file))
    assert from_file is not None and from_file.path == client_secret_file
    client_secret_file.unlink()  # the download was cleaned up: the record's copy serves
    from_record = client_from_record(record(emulator, client_secret_file))
    assert from_record is not None and from_record.path is None
    assert from_record.client_id == emulator.client_id
    assert from_record.token_uri == f"{emulator.base_url}/token"


def test_a_file_that_now_holds_another_client_is_not_used(
    emulator: Emulator, tmp_path: Path
) -> None:
    other = emulator.client_secret_json()
    other["installed"]["client_id"] = "someone-else.apps.googleusercontent.com"
    path = tmp_path / "client_secret.json"
    path.write_text(json.dumps(other))
    client = client_from_record(record(emulator, path))
    assert client is not None and client.client_id == emulator.client_id and client.path is None


def test_a_record_without_a_usable_client_gives_none(emulator: Emulator) -> None:
    assert client_from_record({}) is None
    assert (
        client_from_record({**record(emulator), "token_uri": "http://evil.example/token"}) is None
    )


def test_commands_that_work_when_pasted(tmp_path: Path) -> None:
    assert login_command() == "gemini-oauth login"
    assert login_command("work") == "gemini-oauth login --profile work"
    assert profile_context("work", {}).run == "'gemini-oauth login --profile work'"
    command = load_creds_command(tmp_path / "token.json")
    assert command.startswith('python3 -c "from gemini_oauth import load_creds; load_creds(')
    assert GrantContext(login=command).run == command  # has quotes of its own: not wrapped
    adc = GrantContext(login="gemini-oauth adc login")
    assert "adc login --client-secret PATH" in adc.with_new_client()


def test_a_login_that_ended_says_why_and_what_was_kept() -> None:
    context = profile_context("work", {})
    error = login_needed_error(context, {"login_needed": "It expired.", "login_needed_since": "T"})
    assert error.message == "Profile 'work' needs a new sign-in (since T): It expired."
    assert "'gemini-oauth login --profile work'" in error.hint and "quota project" in error.hint
    assert login_needed_error(context, None).message == "Not logged in (profile 'work')."
