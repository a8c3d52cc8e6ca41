"""The click application: a lazily loaded group, and one place that turns errors into exit codes."""

from __future__ import annotations

import importlib
import io
import logging
import os
import sys
import traceback

import click

from gemini_oauth import __version__
from gemini_oauth._redact import RedactingFilter, redact
from gemini_oauth.errors import GeminiOAuthError

#: Loggers that --verbose turns to DEBUG (everything else still reaches stderr from WARNING up).
DEBUG_LOGGERS = ("gemini_oauth", "httpx", "httpcore", "google.auth", "urllib3")
DEBUG_ENV = "GEMINI_OAUTH_DEBUG"
_debug: tuple[logging.Handler, dict[str, int]] | None = None

# command name -> "module:attribute"; modules load only when their command runs.
COMMANDS: dict[str, str] = {
    "login": "gemini_oauth._cli.login:login",
    "logout": "gemini_oauth._cli.session:logout",
    "status": "gemini_oauth._cli.session:status",
    "print-access-token": "gemini_oauth._cli.session:print_access_token",
    "models": "gemini_oauth._cli.api:models",
    "generate": "gemini_oauth._cli.api:generate",
    "curl": "gemini_oauth._cli.api:curl",
    "adc": "gemini_oauth._cli.adc:adc",
    "emulator": "gemini_oauth._cli.emulator:emulator",
    "demo": "gemini_oauth._cli.demo:demo",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._load(name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not built yet
                return None
            raise
        command = getattr(module, attr, None)
        if not isinstance(command, click.Command):
            return None
        _accept_verbose(command)
        return command


def _accept_verbose(command: click.Command) -> None:
    """Let ``-v/--verbose`` come after a command name too (hidden there; the root documents it).

    Not on commands that pass unknown options through (curl keeps its own ``-v``).
    """
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_verbose(sub)
    passes_through = command.context_settings.get(
        "ignore_unknown_options", command.ignore_unknown_options
    )
    if passes_through or any(p.name == "verbose" for p in command.params):
        return
    command.params.append(
        click.Option(
            ["-v", "--verbose"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            hidden=True,
            callback=lambda ctx, param, value: start_debug_logging() if value else None,
        )
    )


def start_debug_logging() -> None:
    """Send DEBUG logs of our HTTP and auth stack to stderr, through the secret-redacting filter."""
    global _debug
    if _debug is not None:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    handler.addFilter(RedactingFilter())
    levels = {name: logging.getLogger(name).level for name in DEBUG_LOGGERS}
    for name in DEBUG_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    # On the root logger, so other libraries' warnings go through the filter too.
    logging.getLogger().addHandler(handler)
    _debug = (handler, levels)


def stop_debug_logging() -> None:
    """Undo ``start_debug_logging``; run() calls it, leaving in-process callers as they were."""
    global _debug
    if _debug is None:
        return
    handler, levels = _debug
    _debug = None
    logging.getLogger().removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _env_debug() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gemini-oauth")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help=f"Log HTTP and auth details to stderr, secrets redacted (or set {DEBUG_ENV}=1).",
)
def cli(verbose: bool) -> None:
    """OAuth access to the Gemini API from a desktop client_secret.json, without gcloud.

    \b
    Start here:
      gemini-oauth demo                      the whole story against a local emulator
      gemini-oauth login                     sign in with ./client_secret.json
      gemini-oauth models list               the models your account can use
      gemini-oauth print-access-token        a bearer token for curl

    Messages go to stderr, data to stdout. Exit codes: 0 ok, 1 error, 2 bad usage or
    client file, 3 login needed or failed, 4 API error, 130 interrupted.
    """
    if verbose or _env_debug():
        start_debug_logging()


def run(args: list[str]) -> int:
    """Run the CLI and return its exit code; errors print their message and hint to stderr.

    Whatever is printed for an error goes through ``redact``: a last line of defence, since no
    error should hold a secret in the first place.
    """
    try:
        return _run(args)
    finally:
        stop_debug_logging()


def _run(args: list[str]) -> int:
    try:
        result = cli.main(args, prog_name="gemini-oauth", standalone_mode=False)
    except GeminiOAuthError as exc:
        click.echo(redact(f"error: {exc.message}"), err=True)
        if exc.hint:
            click.echo(redact(f"  {exc.hint}"), err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except click.ClickException as exc:
        shown = io.StringIO()
        exc.show(file=shown)
        click.echo(redact(shown.getvalue()), err=True, nl=False)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except Exception as exc:  # a bug: say so without a raw traceback (it could hold a secret)
        if _debug is not None:
            click.echo(redact(traceback.format_exc()).rstrip(), err=True)
        click.echo(redact(f"error: unexpected {type(exc).__name__}: {exc}"), err=True)
        hint = "" if _debug is not None else "run again with --verbose for the traceback, and "
        click.echo(f"  This is a bug in gemini-oauth: {hint}please report it.", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
