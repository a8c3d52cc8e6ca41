"""``gemini-oauth login``: sign in with a Desktop OAuth client and cache the result."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from typing import Any, TypeVar

import click

from gemini_oauth.scopes import DEFAULT_SCOPES, short_name

#: DEFAULT_SCOPES in short form (tests check they match).
DEFAULT_SCOPES_TEXT = "openid,email,cloud-platform,retriever"
F = TypeVar("F", bound=Callable[..., Any])


def _say(text: str) -> None:
    click.echo(text, err=True)


def flow_options(*, scopes_help: str, quota_help: str) -> Callable[[F], F]:
    """The options every login command shares (``login`` and ``adc login``)."""
    options = [
        click.option(
            "--client-secret",
            "client_secret",
            metavar="PATH",
            help="Desktop OAuth client file. Default: $GEMINI_OAUTH_CLIENT_SECRET, "
            "./client_secret.json, or the one ./client_secret_*.json.",
        ),
        click.option("--scopes", metavar="LIST", help=scopes_help),
        click.option(
            "--no-browser",
            is_flag=True,
            help="Do not open a browser here: print a link to open on any machine, then paste "
            "back the address it ends on. Chosen automatically over SSH, in containers and "
            "notebooks.",
        ),
        click.option(
            "--port",
            type=click.IntRange(0, 65535),
            default=0,
            show_default=True,
            help="Loopback port for the redirect; 0 picks a free one.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.1),
            default=300.0,
            show_default=True,
            metavar="SECONDS",
            help="How long to wait for the browser.",
        ),
        click.option("--login-hint", metavar="EMAIL", help="Preselect this Google account."),
        click.option(
            "--quota-project",
            metavar="ID",
            help=quota_help + " Not read from $GOOGLE_CLOUD_QUOTA_PROJECT, which overrides it "
            "at call time instead.",
        ),
        click.option(
            "--json", "as_json", is_flag=True, help="Also print a summary as JSON on stdout."
        ),
    ]

    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


@click.command()
@flow_options(
    scopes_help="Comma-separated scopes; short names allowed. Default: "
    f"{DEFAULT_SCOPES_TEXT} (the quickstart's, plus your identity for 'status').",
    quota_help="Project billed for API calls (sent as x-goog-user-project).",
)
@click.option(
    "--profile",
    default="default",
    metavar="NAME",
    envvar="GEMINI_OAUTH_PROFILE",
    show_default=True,
    help="Name for this login, to keep several accounts or clients side by side.",
)
def login(
    client_secret: str | None,
    scopes: str | None,
    no_browser: bool,
    port: int,
    timeout: float,
    login_hint: str | None,
    quota_project: str | None,
    profile: str,
    as_json: bool,
) -> None:
    """Sign in to Google and cache credentials for the Gemini API.

    \b
    What happens:
      1. Reads your Desktop OAuth client file (client_secret.json).
      2. Opens Google's consent page in your browser (or prints a link with --no-browser).
      3. Google sends the browser back to a one-time address on 127.0.0.1, which this
         command listens on; it checks the answer (state, PKCE) and gets tokens.
      4. Saves them to your profile file, readable only by you (mode 0600).

    \b
    Examples:
      gemini-oauth login
      gemini-oauth login --client-secret ~/Downloads/client_secret_123.json
      gemini-oauth login --no-browser            # over SSH: paste the final address back
      gemini-oauth login --scopes retriever,cloud-platform --profile work
    """
    from gemini_oauth._client_secrets import find_client_secret, load_client_secret
    from gemini_oauth._credentials import save_login
    from gemini_oauth._flow import run_login
    from gemini_oauth._store import profile_file
    from gemini_oauth.scopes import parse_scopes

    file = profile_file(profile)  # validates the profile name before any browser opens
    path = find_client_secret(client_secret)
    client = load_client_secret(path)
    wanted = parse_scopes(scopes) if scopes else DEFAULT_SCOPES
    if not wanted:
        raise click.BadParameter("give at least one scope", param_hint="--scopes")
    _say(f"Using OAuth client {client.client_id} from {path}.")
    _say(f"Asking for: {', '.join(short_name(s) for s in wanted)}.")
    result = run_login(
        client,
        wanted,
        no_browser=True if no_browser else None,
        port=port,
        timeout=timeout,
        login_hint=login_hint,
    )
    save_login(result, client, file=file, quota_project=quota_project)
    quota_project = (file.read() or {}).get("quota_project_id")  # the flag, else the kept one
    mode = stat.S_IMODE(file.path.stat().st_mode)
    granted = ", ".join(short_name(s) for s in result.granted_scopes)
    _say(f"✓ Logged in as {result.account or '(account not shared: add the openid scope)'}.")
    _say(f"✓ Scopes granted: {granted}.")
    if quota_project:
        _say(f"✓ Quota project: {quota_project}.")
    _say(f"✓ Credentials saved to {file.path} (mode {mode:04o}).")
    if as_json:
        summary = {
            "profile": profile,
            "account": result.account or None,
            "scopes": list(result.granted_scopes),
            "cache_path": str(file.path),
            "cache_mode": f"{mode:04o}",
            "quota_project": quota_project,
        }
        click.echo(json.dumps(summary, indent=2))
