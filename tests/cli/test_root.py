"""The root group: --verbose / GEMINI_OAUTH_DEBUG logging, and run()'s redacted error output."""

from __future__ import annotations

import logging

import click
import pytest

from gemini_oauth import _clock
from gemini_oauth import _store as store
from gemini_oauth._cli import _root
from gemini_oauth._cli._root import COMMANDS, DEBUG_LOGGERS, run
from gemini_oauth._client_secrets import client_from_dict
from gemini_oauth._credentials import save_login
from gemini_oauth._flow import LoginResult
from gemini_oauth._redact import MASK
from gemini_oauth.emulator import Emulator
from gemini_oauth.errors import LoginRequiredError
from gemini_oauth.scopes import CLOUD_PLATFORM, OPENID

SECRET = "ya" + "29.root-test-" + "s3cr3t" * 4  # built at runtime: never a committed token shape


@click.command()
@click.argument("kind")
def boom(kind: str) -> None:
    """Fail in the way asked, with a secret in the message."""
    if kind == "known":
        raise LoginRequiredError(f"refresh_token={SECRET} refused", hint=f"Bearer {SECRET}")
    raise RuntimeError(f"unexpected with {SECRET}")


@pytest.fixture
def with_boom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(COMMANDS, "boom", f"{__name__}:boom")


def _seed(emulator: Emulator) -> str:
    body = emulator.control.issue_grant([OPENID, CLOUD_PLATFORM])
    result = LoginResult(
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=_clock.now() + 3600,
        granted_scopes=(OPENID, CLOUD_PLATFORM),
        account=emulator.user_email,
    )
    client = client_from_dict(emulator.client_secret_json())
    save_login(result, client, file=store.profile_file("default"))
    return str(body["access_token"])


def _levels() -> dict[str, int]:
    return {name: logging.getLogger(name).level for name in DEBUG_LOGGERS}


def test_help_documents_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    assert "-v, --verbose" in out and "GEMINI_OAUTH_DEBUG=1" in out and "redacted" in out


@pytest.mark.parametrize("how", ["-v", "--verbose", "env", "after"])
def test_verbose_logs_requests_without_secrets_then_restores_logging(
    emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    token = _seed(emulator)
    handlers, levels = list(logging.getLogger().handlers), _levels()
    if how == "env":
        monkeypatch.setenv("GEMINI_OAUTH_DEBUG", "1")
    args = ["models", "list", "--endpoint", emulator.base_url]
    if how == "after":  # after the command name also works (not for curl: its -v is curl's)
        args.insert(2, "--verbose")
    elif how != "env":
        args.insert(0, how)
    assert run(args) == 0
    out, err = capsys.readouterr()
    assert "gemini-2.5-flash\tGemini 2.5 Flash" in out
    assert "INFO httpx: HTTP Request: GET " + emulator.base_url + "/v1/models" in err
    assert "DEBUG httpcore" in err and token not in out + err
    assert logging.getLogger().handlers == handlers and _levels() == levels


@pytest.mark.parametrize("value", ["", "0", "no"])
def test_quiet_without_verbose(
    emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
) -> None:
    _seed(emulator)
    monkeypatch.setenv("GEMINI_OAUTH_DEBUG", value)
    assert run(["models", "list", "--endpoint", emulator.base_url]) == 0
    assert "httpx" not in capsys.readouterr().err


def test_known_error_is_redacted(with_boom: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["boom", "known"]) == 3
    err = capsys.readouterr().err
    assert err == f"error: refresh_token={MASK} refused\n  Bearer {MASK}\n"


@pytest.mark.parametrize("verbose", [False, True])
def test_unexpected_error_is_redacted(
    with_boom: None, capsys: pytest.CaptureFixture[str], verbose: bool
) -> None:
    assert run(["--verbose", "boom", "x"] if verbose else ["boom", "x"]) == 1
    err = capsys.readouterr().err
    assert SECRET not in err
    assert f"error: unexpected RuntimeError: unexpected with ya29.{MASK}" in err
    assert "This is a bug in gemini-oauth" in err
    assert ("Traceback (most recent call last)" in err) is verbose
    assert ("run again with --verbose" in err) is not verbose
    assert _root._debug is None  # logging was undone


def test_usage_error_echoing_a_secret_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models", "list", "--page-size", SECRET]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--page-size'" in err and SECRET not in err and MASK in err


def test_curl_keeps_its_own_verbose() -> None:
    from gemini_oauth._cli._root import LazyGroup

    curl, generate = LazyGroup._load("curl"), LazyGroup._load("generate")
    assert curl is not None and generate is not None
    assert "verbose" not in [p.name for p in curl.params]
    assert "verbose" in [p.name for p in generate.params]
