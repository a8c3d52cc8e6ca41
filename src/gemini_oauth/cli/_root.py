"""The click application: a lazily loaded group, and one place that turns errors into exit codes."""

from __future__ import annotations

import importlib
import sys

import click

from gemini_oauth import __version__
from gemini_oauth.errors import GeminiOAuthError

# command name -> "module:attribute"; modules load only when their command runs.
COMMANDS: dict[str, str] = {
    "login": "gemini_oauth.cli.login:login",
    "logout": "gemini_oauth.cli.session:logout",
    "status": "gemini_oauth.cli.session:status",
    "print-access-token": "gemini_oauth.cli.session:print_access_token",
    "models": "gemini_oauth.cli.api:models",
    "generate": "gemini_oauth.cli.api:generate",
    "curl": "gemini_oauth.cli.api:curl",
    "adc": "gemini_oauth.cli.adc:adc",
    "emulator": "gemini_oauth.cli.emulator:emulator",
    "demo": "gemini_oauth.cli.demo:demo",
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
        return command if isinstance(command, click.Command) else None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gemini-oauth")
def cli() -> None:
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


def run(args: list[str]) -> int:
    """Run the CLI and return its exit code; errors print their message and hint to stderr."""
    try:
        result = cli.main(args, prog_name="gemini-oauth", standalone_mode=False)
    except GeminiOAuthError as exc:
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"  {exc.hint}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
