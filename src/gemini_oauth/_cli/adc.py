"""`gemini-oauth adc ...`: Application Default Credentials, interchangeable with gcloud's."""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime, timezone
from pathlib import Path

import click

from gemini_oauth import _adc as _adc
from gemini_oauth import scopes as _scopes
from gemini_oauth._cli._options import (
    client_file_fix,
    confirm,
    echo_json,
    exit_with,
    json_option,
    login_options,
    say,
    say_what_else_ends,
    verbose_option,
    yes_option,
)
from gemini_oauth._cli._output import spinner, waiting
from gemini_oauth._constants import CREDENTIALS_ENV
from gemini_oauth._project import is_project_id
from gemini_oauth.errors import QuotaProjectError

_SET_QUOTA = "gemini-oauth adc set-quota-project"


@click.group(short_help="Application Default Credentials, as gcloud's.")
@verbose_option
def adc() -> None:
    """Application Default Credentials, the file gcloud and Google's libraries read.

    \b
    Same file, same format as `gcloud auth application-default`:
      gemini-oauth adc login --client-secret client_secret.json
      gemini-oauth adc print-access-token
    """


@adc.command(short_help="Sign in and write the ADC file, as gcloud does.")
@login_options(
    scopes_help="Comma-separated scopes; must include cloud-platform, as gcloud requires. "
    "Default: cloud-platform,generative-language.retriever (the quickstart's gcloud command).",
    quota_help="Project billed for API calls, written as quota_project_id.",
)
@verbose_option
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

    The file (application_default_credentials.json in gcloud's config folder) is what gcloud,
    google.auth.default() and every Google client library read. A --quota-project is checked
    with Google first, as gcloud does (the account must be allowed to bill it).

    \b
    Example:
      gemini-oauth adc login --client-secret client_secret.json \\
          --quota-project my-project
    """
    wanted = _scopes.parse_scopes(scopes) if scopes else _scopes.GCLOUD_QUICKSTART_SCOPES
    if _scopes.CLOUD_PLATFORM not in wanted:
        raise click.BadParameter(
            "cloud-platform is required (gcloud refuses ADC without it, and client libraries "
            "ask for it); add it, e.g. --scopes cloud-platform,retriever.",
            param_hint="--scopes",
        )
    if quota_project and not is_project_id(quota_project):
        raise click.BadParameter("not a Google Cloud project id.", param_hint="--quota-project")
    with client_file_fix("gemini-oauth adc login"):
        written = _adc.login(
            client_secret,
            wanted,
            quota_project=None,  # set below, once Google says this account may use it
            no_browser=True if no_browser else None,
            port=port,
            timeout=timeout,
            login_hint=login_hint,
            waiting=waiting,
        )
    say(f"Credentials saved to file: [{written.path}]")
    say("They will be used by any library that asks for Application Default Credentials.")
    if quota_project:
        _set_quota_project(quota_project, Path(written.path), written.account, during_login=True)
        written = dataclasses.replace(written, quota_project_id=quota_project)
    else:
        say("note: no quota project; Google bills the project that owns the OAuth client.")
        say("  To choose one: gemini-oauth adc set-quota-project PROJECT_ID")
    if as_json:
        echo_json(written.to_dict())


@adc.command("print-access-token", short_help="Print an access token from ADC (cached).")
@click.option("--no-cache", is_flag=True, help="Always refresh, as gcloud does.")
@json_option(
    "Print {access_token, expiry (RFC 3339), expires_in, token_type} as JSON, for credential "
    "helpers."
)
@verbose_option
def print_access_token(no_cache: bool, as_json: bool) -> None:
    """Print an access token from ADC, as `gcloud auth application-default print-access-token`.

    The token is cached (0600, outside the ADC file) until 5 minutes before it expires.
    """
    token, expires_at = _adc.access_token_and_expiry(use_cache=not no_cache)
    if as_json:
        from gemini_oauth._cli.session import echo_token_json

        expiry = datetime.fromtimestamp(expires_at, timezone.utc) if expires_at else None
        echo_token_json(token, expiry)
    else:
        click.echo(token)


@adc.command("set-quota-project", short_help="Set the project billed for calls made with ADC.")
@click.argument("project_id")
@verbose_option
def set_quota_project(project_id: str) -> None:
    """Set the project billed for API calls made with ADC (quota_project_id).

    As gcloud does, Google is asked first (Cloud Resource Manager) whether the ADC account may
    use the project (serviceusage.services.use); a project it may not use is refused and
    nothing is written. When Google cannot be asked (offline), it is written with a warning.
    """
    if not is_project_id(project_id):
        raise click.BadParameter(
            "not a project id; use the ID (e.g. my-project-123) or number from the console.",
            param_hint="PROJECT_ID",
        )
    path = _adc.adc_path()
    info = _adc.read_adc(path)
    if info.get("type") != "authorized_user":
        _adc.set_quota_project(project_id, path=path)  # refuses, saying why
    _set_quota_project(project_id, path, info.get("account") or None, during_login=False)


def _set_quota_project(
    project: str, path: Path, account: str | None, *, during_login: bool
) -> None:
    """Write ``project`` as the ADC file's quota project once Google says the account may use
    it (or cannot be asked: a warning); refused, the file keeps what it had."""
    from gemini_oauth._resource_manager import check_quota_project

    def token() -> str:  # the file being changed, whatever $GOOGLE_APPLICATION_CREDENTIALS says
        env = {k: v for k, v in os.environ.items() if k != CREDENTIALS_ENV}
        return _adc.access_token(env=env)

    try:
        with spinner(f"Checking that you may use project {project}"):
            warning = check_quota_project(project, token, account=account)
    except QuotaProjectError as exc:
        kept = "saved without a quota project" if during_login else "left as it was"
        exc.hint = f"The ADC file was {kept}. {exc.hint} Then: {_SET_QUOTA} PROJECT_ID"
        raise
    _adc.set_quota_project(project, path=path)
    say(f"Quota project {project!r} written to [{path}].")
    if warning:
        say(f"warning: {warning}")


@adc.command(short_help="Revoke the ADC refresh token, then delete the file.")
@yes_option
@verbose_option
def revoke(yes: bool) -> None:
    """Revoke the ADC refresh token at Google, then delete the file."""
    path = _adc.adc_path()
    say_what_else_ends(_adc.read_adc(path))  # read_adc: a clear error when there is nothing
    confirm(f"Revoke the credentials in {path} and delete the file?", action="revoke", yes=yes)
    _adc.revoke(path=path)
    say(f"Revoked and deleted [{path}].")


@adc.command(short_help="Show where ADC come from: source, account, project.")
@json_option("Print the status as JSON on stdout (shape: docs/JSON.md).")
@verbose_option
def status(as_json: bool) -> None:
    """Show what Google's libraries would use as ADC, and the ADC file: path, type, account,
    client, quota project, overrides.

    The source is $GOOGLE_APPLICATION_CREDENTIALS's file (a user's ADC or a service-account
    key), else the ADC file, else the metadata server. Exit code 3 when there is none.
    """
    from gemini_oauth._adc_status import adc_status

    info = adc_status()
    if as_json:
        echo_json(info.to_dict())
    else:
        if info.source is not None:
            click.echo(f"✓ Application Default Credentials: {info.source.describe()}")
        else:
            click.echo("✗ No Application Default Credentials")
        if info.source is None or info.source.path != info.path:  # else said just above
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
        say(f"warning: {note}")
    if info.overridden_by and info.source is None:  # a variable to fix, not a login to make
        say(f"Fix or unset {CREDENTIALS_ENV}.")
        exit_with(1)
    if info.source is None:
        say(f"Run '{_adc.login_command()}' to create them.")
        exit_with(3)
