"""The root group: the command table, the shared options, --verbose / GEMINI_OAUTH_DEBUG logging,
and run()'s redacted error output."""

from __future__ import annotations

import logging

import click
import pytest

from gemini_oauth import _clock
from gemini_oauth import _store as store
from gemini_oauth._cli import _debug
from gemini_oauth._cli._debug import DEBUG_LOGGERS
from gemini_oauth._cli._root import COMMANDS, cli, load_command, run
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
    assert not _debug.active()  # logging was undone


def test_usage_error_echoing_a_secret_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models", "list", "--page-size", SECRET]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--page-size'" in err and SECRET not in err and MASK in err


def _every_command() -> list[tuple[str, click.Command]]:
    """Each command and subcommand, by its full name ("adc login"), groups included."""
    found: list[tuple[str, click.Command]] = []

    def walk(name: str, command: click.Command) -> None:
        found.append((name, command))
        if isinstance(command, click.Group):
            for sub_name, sub in command.commands.items():
                walk(f"{name} {sub_name}", sub)

    for name in COMMANDS:
        walk(name, load_command(name))
    return found


def test_every_entry_of_the_table_is_a_command() -> None:
    assert cli.list_commands(click.Context(cli)) == list(COMMANDS)
    for name in COMMANDS:
        assert isinstance(load_command(name), click.Command), name


@pytest.mark.parametrize(
    "target",
    [
        "gemini_oauth._cli.sesion:status",  # a typo in the module
        "gemini_oauth._cli.session:staus",  # a typo in the attribute
        "gemini_oauth._cli.session:status_data",  # not a command
    ],
)
def test_a_wrong_entry_fails_loudly(
    target: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(COMMANDS, "broken", target)
    with pytest.raises((ImportError, TypeError)):
        load_command("broken")
    assert run(["broken"]) == 1
    assert "This is a bug in gemini-oauth" in capsys.readouterr().err
    assert run(["--help"]) == 1  # the listing loads every entry: no command silently dropped


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["logn"]) == 2
    assert "No such command 'logn'" in capsys.readouterr().err


def test_verbose_is_shown_on_every_command_but_curl() -> None:
    """curl passes -v to curl; every other command documents -v/--verbose in its --help."""
    for name, command in _every_command():
        verbose = [p for p in command.params if p.name == "verbose"]
        if name == "curl":
            assert verbose == [], name
            continue
        assert len(verbose) == 1 and not getattr(verbose[0], "hidden", False), name
        assert "-v, --verbose" in command.get_help(click.Context(command, info_name=name)), name


def test_every_help_fits_80_columns() -> None:
    """Each --help, as a terminal of 80 columns shows it: no line wider (a \\b block is not
    rewrapped by click, so its lines must be short already)."""
    for name, command in _every_command():
        context = click.Context(command, info_name=name, terminal_width=80, max_content_width=80)
        wide = [line for line in command.get_help(context).splitlines() if len(line) > 80]
        assert wide == [], name


def test_profile_is_one_option_everywhere() -> None:
    """--profile NAME: the same spelling, metavar, environment variable and help everywhere."""
    shapes = {
        name: (tuple(p.opts), p.metavar, p.envvar, getattr(p, "help", None), p.default)
        for name, command in _every_command()
        for p in command.params
        if p.name == "profile"
    }
    assert set(shapes) == {
        "login", "logout", "status", "print-access-token", "models list", "models get",
        "generate", "curl", "files upload", "files list", "files get", "files delete",
        "files register", "embed", "exec", "metadata-server", "doctor", "cache publish",
        "cache push",
    }  # fmt: skip
    assert len(set(shapes.values())) == 1, shapes
    opts, metavar, envvar, help_text, default = next(iter(shapes.values()))
    assert (opts, metavar, envvar) == (("--profile",), "NAME", "GEMINI_OAUTH_PROFILE")
    assert callable(default) and default() == "default"  # unless `profiles use` chose another
    assert help_text is not None and "$GEMINI_OAUTH_PROFILE" in help_text
    assert "'gemini-oauth profiles use' chose" in help_text


def test_curl_keeps_its_own_verbose(emulator: Emulator, capfd: pytest.CaptureFixture[str]) -> None:
    """After PATH, -v is curl's: curl's own trace appears, not our DEBUG logs."""
    _seed(emulator)
    assert run(["curl", "--endpoint", emulator.base_url, "/v1/models", "-sS", "-v"]) == 0
    out, err = capfd.readouterr()
    assert '"models"' in out and "> GET /v1/models" in err  # curl's -v trace
    assert "DEBUG httpcore" not in err and not _debug.active()
