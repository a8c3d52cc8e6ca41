"""`gemini-oauth adc ...`: Application Default Credentials, interchangeable with gcloud's."""

from __future__ import annotations

import json
import sys

import click

from gemini_oauth import _adc as _adc
from gemini_oauth import scopes as _scopes
from gemini_oauth._cli.login import flow_options


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.group()
def adc() -> None:
    """Application Default Credentials, the file gcloud and Google's libraries read.

    \b
    Same file, same format as `gcloud auth application-default`:
      gemini-oauth adc login --client-secret client_secret.json
      gemini-oauth adc print-access-token
    """


@adc.command()
@flow_options(
    scopes_help="Comma-separated scopes; must include cloud-platform, as gcloud requires. "
    "Default: cloud-platform,generative-language.retriever (the quickstart's gcloud command).",
    quota_help="Project billed for API calls, written as quota_project_id.",
)
def login(
    client_secret: str | None,
    scopes: str | None,
    no_browser: bool,
    port: int,
    timeout: float,
    login_hint: str | None,
    quota_project: str | None,
    as_json: bool,
) -> None:
    """Sign in and write the ADC file, as `gcloud auth application-default login` does.

    \b
    The file (application_default_credentials.json in gcloud's config dir) is what gcloud,
    google.auth.default() and every Google client library read. Example:
      gemini-oauth adc login --client-secret client_secret.json --quota-project my-project
    """
    from gemini_oauth._client_secrets import load_client_secret
    from gemini_oauth._flow import run_login
    from gemini_oauth.errors import LoginError

    wanted = _scopes.parse_scopes(scopes) if scopes else _scopes.GCLOUD_QUICKSTART_SCOPES
    if _scopes.CLOUD_PLATFORM not in wanted:
        raise click.BadParameter(
            "cloud-platform is required (gcloud refuses ADC without it, and client libraries "
            "ask for it); add it, e.g. --scopes cloud-platform,retriever.",
            param_hint="--scopes",
        )
    if quota_project and not _adc.is_project_id(quota_project):
        raise click.BadParameter("not a Google Cloud project id.", param_hint="--quota-project")
    path = _adc.adc_path()
    client = load_client_secret(client_secret)
    _say(f"Using OAuth client {client.client_id}.")
    _say(f"Asking for: {', '.join(_scopes.short_name(s) for s in wanted)}.")
    try:
        result = run_login(
            client,
            wanted,
            no_browser=True if no_browser else None,
            port=port,
            timeout=timeout,
            login_hint=login_hint,
            required_scopes=(_scopes.CLOUD_PLATFORM,),
        )
    except LoginError as exc:  # the flow's hints name plain 'login'
        exc.hint = exc.hint.replace("gemini-oauth login", "gemini-oauth adc login")
        raise
    written = _adc.write_adc(
        result, client, quota_project=quota_project, path=path, warn=lambda m: _say("warning: " + m)
    )
    _say(f"Credentials saved to file: [{written}]")
    _say("They will be used by any library that asks for Application Default Credentials.")
    if not quota_project:
        _say("note: no quota project; Google bills the project that owns the OAuth client.")
        _say("  To choose one: gemini-oauth adc set-quota-project PROJECT_ID")
    if as_json:
        summary = {
            "path": str(written),
            "account": result.account or None,
            "client_id": client.client_id,
            "scopes": list(result.granted_scopes),
            "quota_project_id": quota_project,
        }
        click.echo(json.dumps(summary, indent=2))


@adc.command("print-access-token")
@click.option("--no-cache", is_flag=True, help="Always refresh, as gcloud does.")
def print_access_token(no_cache: bool) -> None:
    """Print an access token from ADC, as `gcloud auth application-default print-access-token`.

    The token is cached (0600, outside the ADC file) until 5 minutes before it expires.
    """
    click.echo(_adc.access_token(use_cache=not no_cache))


@adc.command("set-quota-project")
@click.argument("project_id")
def set_quota_project(project_id: str) -> None:
    """Set the project billed for API calls made with ADC (quota_project_id)."""
    if not _adc.is_project_id(project_id):
        raise click.BadParameter(
            "not a project id; use the ID (e.g. my-project-123) or number from the console.",
            param_hint="PROJECT_ID",
        )
    path = _adc.set_quota_project(project_id)
    _say(f"Quota project {project_id!r} written to [{path}].")


@adc.command()
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def revoke(yes: bool) -> None:
    """Revoke the ADC refresh token at Google, then delete the file."""
    path = _adc.adc_path()
    _adc.read_adc(path)  # a clear error when there is nothing to revoke
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("Not a terminal: pass --yes to revoke without asking.")
        click.confirm(f"Revoke the credentials in {path} and delete the file?", abort=True)
    _adc.revoke(path=path)
    _say(f"Revoked and deleted [{path}].")


@adc.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show the ADC file: path, type, account, client, quota project, overrides."""
    info = _adc.adc_status()
    if as_json:
        click.echo(json.dumps(info.to_dict(), indent=2))
    else:
        mark = "✓" if info.exists else "✗"
        click.echo(f"{mark} {info.path}" + ("" if info.exists else " (missing)"))
        for label, value in (
            ("type", info.type),
            ("account", info.account),
            ("client id", info.client_id),
            ("quota project", info.quota_project_id),
            ("overridden by", info.overridden_by),
        ):
            if value:
                click.echo(f"  {label}: {value}")
    for note in info.warnings:
        _say(f"warning: {note}")
    if not info.exists:
        _say("Run 'gemini-oauth adc login' to create it.")
        ctx.exit(3)
