"""The click application: the command table, loaded lazily, and where outcomes become exit codes.

Exit codes come from three things only: a GeminiOAuthError's ``exit_code`` (errors), click's usage
errors (2) and ``_options.exit_with`` (a command that said its piece and ends with a code).
"""

from __future__ import annotations

import importlib
import io
import logging
import sys
import traceback

import click

from gemini_oauth import __version__
from gemini_oauth._cli import _debug, _output
from gemini_oauth._cli._options import say, verbose_option
from gemini_oauth._redact import redact, terminal_text
from gemini_oauth.errors import GeminiOAuthError

# command name -> "module:attribute"; modules load only when their command runs or is listed.
COMMANDS: dict[str, str] = {
    "login": "gemini_oauth._cli.login:login",
    "logout": "gemini_oauth._cli.session:logout",
    "status": "gemini_oauth._cli.session:status",
    "profiles": "gemini_oauth._cli.profiles:profiles",
    "print-access-token": "gemini_oauth._cli.session:print_access_token",
    "models": "gemini_oauth._cli.api:models",
    "generate": "gemini_oauth._cli.api:generate",
    "curl": "gemini_oauth._cli.curl:curl",
    "files": "gemini_oauth._cli.files:files",
    "embed": "gemini_oauth._cli.files:embed",
    "exec": "gemini_oauth._cli.exec_:exec_",
    "metadata-server": "gemini_oauth._cli.metadata_server:metadata_server",
    "adc": "gemini_oauth._cli.adc:adc",
    "emulator": "gemini_oauth._cli.emulator:emulator",
    "demo": "gemini_oauth._cli.demo:demo",
    "doctor": "gemini_oauth._cli.doctor:doctor",
    "cache": "gemini_oauth._cli.cache:cache",
}


def load_command(name: str) -> click.Command:
    """Import the command behind ``COMMANDS[name]``; a wrong entry fails loudly, never hides."""
    module_name, _, attr = COMMANDS[name].partition(":")
    command = getattr(importlib.import_module(module_name), attr, None)
    if not isinstance(command, click.Command):
        raise TypeError(f"COMMANDS[{name!r}] = {COMMANDS[name]!r} is not a click command.")
    return command


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def invoke(self, ctx: click.Context) -> object:
        # Before click's own EPIPE handling, which ends with exit code 1.
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise click.exceptions.Exit(_output.pipe_closed()) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gemini-oauth")
@verbose_option
def cli() -> None:
    """OAuth access to the Gemini API from a desktop client_secret.json, without gcloud.

    \b
    Start here:
      gemini-oauth demo                  the whole story against a local emulator
      gemini-oauth login                 sign in with ./client_secret.json
      gemini-oauth models list           the models your account can use
      gemini-oauth print-access-token    a bearer token for curl
      gemini-oauth profiles              your saved logins, and the default one

    Messages go to stderr, data to stdout (--json: one JSON document). Exit codes: 0 ok,
    1 error, 2 bad usage or client file, 3 login needed or failed, 4 API error, 130
    interrupted. Environment variables: see the README.

    \b
    Shell completion (bash; zsh and fish likewise):
      eval "$(_GEMINI_OAUTH_COMPLETE=bash_source gemini-oauth)"
    """


def run(args: list[str]) -> int:
    """Run the CLI and return its exit code; errors print their message and hint to stderr.

    Whatever is printed for an error goes through ``redact`` and ``terminal_text``: a last line
    of defence, since no error should hold a secret or a terminal escape in the first place. A
    closed pipe on stdout ends the command quietly with 0, as Unix tools do (``_output``).
    """
    last_resort, logging.lastResort = logging.lastResort, _SaidAsWarning(logging.WARNING)
    try:
        return _run(args)
    except BrokenPipeError:  # stdout's reader left while an error was said: as quietly
        return _output.pipe_closed()
    finally:
        logging.lastResort = last_resort
        _debug.stop_debug_logging()


class _SaidAsWarning(logging.Handler):
    """The library's warnings that no handler takes (logging's last resort): said as the CLI
    says its own, ``warning: ...`` on stderr (above a spinner), redacted. With --verbose the
    debug handler takes them instead."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            say(_shown(f"warning: {record.getMessage()}"))
        except Exception:
            self.handleError(record)


def _run(args: list[str]) -> int:
    try:
        # Not standalone: click returns an Exit's code (exit_with) instead of raising it, and
        # lets every other exception through to here.
        code = cli.main(args, prog_name="gemini-oauth", standalone_mode=False)
    except GeminiOAuthError as exc:
        say(_shown(f"error: {exc.message}"))
        if exc.hint:
            say(_shown(f"  {exc.hint}"))
        return exc.exit_code
    except click.exceptions.Abort:
        say("Aborted.")
        return 130
    except KeyboardInterrupt:
        say("Interrupted.")
        return 130
    except click.ClickException as exc:
        shown = io.StringIO()
        exc.show(file=shown)
        click.echo(_shown(shown.getvalue()), err=True, nl=False)
        return exc.exit_code
    except Exception as exc:  # a bug: say so without a raw traceback (it could hold a secret)
        if _debug.active():
            say(_shown(traceback.format_exc()).rstrip())
        say(_shown(f"error: unexpected {type(exc).__name__}: {exc}"))
        hint = "" if _debug.active() else "run again with --verbose for the traceback, and "
        say(f"  This is a bug in gemini-oauth: {hint}please report it.")
        return 1
    return code if isinstance(code, int) else 0  # commands return None: 0 unless exit_with


def _shown(text: str) -> str:
    return terminal_text(redact(text))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
