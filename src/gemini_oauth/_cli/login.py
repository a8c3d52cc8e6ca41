"""``gemini-oauth login``: sign in with a Desktop OAuth client and cache the result."""

from __future__ import annotations

import stat
import sys
from typing import TYPE_CHECKING, Any

import click

from gemini_oauth._cli._options import (
    cache_url,
    client_file_fix,
    echo_json,
    login_options,
    profile_option,
    say,
    verbose_option,
)
from gemini_oauth._cli._output import spinner, waiting
from gemini_oauth._project import check_project_id
from gemini_oauth._setup import login_command
from gemini_oauth.errors import QuotaProjectError
from gemini_oauth.scopes import DEFAULT_SCOPES, short_name

if TYPE_CHECKING:
    from gemini_oauth._credentials import CachedCredentials

#: DEFAULT_SCOPES in short form (tests check they match).
DEFAULT_SCOPES_TEXT = "openid,email,cloud-platform,retriever"


@click.command(short_help="Sign in with your Desktop OAuth client; save the login.")
@login_options(
    scopes_help="Comma-separated scopes; short names allowed. Default: those the profile was "
    f"granted, else {DEFAULT_SCOPES_TEXT} (the quickstart's, plus your identity for 'status').",
    quota_help="Project billed for API calls (sent as x-goog-user-project); default: the "
    "profile's.",
    saved_client="the client the profile was made with, else ",
)
@click.option(
    "--force",
    is_flag=True,
    help="Sign in again without asking, when the profile is already logged in.",
)
@profile_option
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
    force: bool,
    profile: str,
) -> None:
    """Sign in to Google and cache credentials for the Gemini API.

    \b
    What happens:
      1. Reads your Desktop OAuth client file (client_secret.json).
      2. Opens Google's consent page in your browser (a spinner counts down
         the time left), or prints a link with --no-browser.
      3. Google sends the browser back to a one-time address on 127.0.0.1,
         which this command listens on; it checks the answer (state, PKCE)
         and gets tokens.
      4. Saves them to your profile, readable only by you (mode 0600).
      5. With --quota-project, asks Google whether you may bill that project
         (as gcloud does) before saving it.

    Signing in again to a profile needs no flags: its client, scopes, quota project and account
    are kept, even after its sign-in ended (7-day expiry, revocation). A sign-in it replaces of
    another account or client is revoked, so grants do not pile up (Google keeps at most 100
    per app and account, dropping the oldest of the same account and client itself).

    \b
    Examples:
      gemini-oauth login
      gemini-oauth login --client-secret ~/Downloads/client_secret_123.json
      gemini-oauth login --no-browser      # over SSH: paste back the address
      gemini-oauth login --scopes retriever,cloud-platform --profile work
      gemini-oauth login --profile work    # again, with the same set-up
    """
    from gemini_oauth._cache_backend import profile_record
    from gemini_oauth._credentials import login as sign_in_and_save
    from gemini_oauth._store import TokenFile, has_grant
    from gemini_oauth.scopes import parse_scopes

    wanted = parse_scopes(scopes) if scopes else None  # unknown names: exit 2, before any browser
    if scopes is not None and not wanted:
        raise click.BadParameter("give at least one scope", param_hint="--scopes")
    if quota_project:
        check_project_id(quota_project)  # the syntax before the browser; Google's word after
    current = profile_record(profile, cache=cache_url()).read()
    if has_grant(current) and not force and not _sign_in_again(profile, current or {}):
        return
    with client_file_fix(login_command(profile)):
        creds = sign_in_and_save(
            client_secret,
            wanted,
            profile=profile,
            quota_project=None,  # set below, once Google says this account may use it
            no_browser=True if no_browser else None,
            port=port,
            timeout=timeout,
            login_hint=login_hint,
            default_scopes=DEFAULT_SCOPES,
            cache=cache_url(),
            waiting=waiting,
        )
    assert creds.file is not None  # login() always caches
    where = creds.file.location
    mode = None
    if isinstance(creds.file, TokenFile):
        mode = f"{stat.S_IMODE(creds.file.path.stat().st_mode):04o}"
    scopes_granted = list(creds.granted_scopes or ())
    say(f"✓ Logged in as {creds.account or '(account not shared: add the openid scope)'}.")
    say(f"✓ Scopes granted: {', '.join(short_name(s) for s in scopes_granted)}.")
    say(f"✓ Credentials saved to {where}" + (f" (mode {mode})." if mode else "."))
    billed = creds.quota_project_id  # the one the profile kept, unless the flag's is allowed
    if quota_project:
        billed = _set_quota_project(profile, creds, quota_project)
    if billed:
        say(f"✓ Quota project: {billed}.")
    if as_json:
        echo_json(
            {
                "profile": profile,
                "account": creds.account or None,
                "scopes": scopes_granted,
                "cache_path": where,
                "cache_mode": mode,
                "quota_project": billed,
            }
        )


def _set_quota_project(profile: str, creds: CachedCredentials, project: str) -> str:
    """Save ``project`` as the profile's quota project if Google lets the account use it (a
    warning when that cannot be told); QuotaProjectError, the login kept, when it does not."""
    from gemini_oauth._credentials import set_quota_project
    from gemini_oauth._resource_manager import check_quota_project

    assert creds.file is not None
    try:
        with spinner(f"Checking that you may use project {project}"):
            warning = check_quota_project(project, str(creds.token), account=creds.account)
    except QuotaProjectError as exc:
        kept = creds.quota_project_id or "none: the client's project pays"
        exc.hint = (
            f"The login was saved; its quota project is unchanged ({kept}). {exc.hint} Then: "
            f"{login_command(profile, cache_url())} --force --quota-project PROJECT_ID"
        )
        raise
    set_quota_project(creds.file, project)
    if warning:
        say(f"warning: {warning}")
    return project


def _sign_in_again(profile: str, current: dict[str, Any]) -> bool:
    """A profile that holds a grant: on a terminal, ask; elsewhere, say it is being replaced."""
    who = current.get("account") or "an unknown account (no openid scope)"
    if not sys.stdin.isatty():
        say(f"Profile '{profile}' is logged in as {who}; signing in again replaces that login.")
        return True
    if click.confirm(f"Profile '{profile}' is logged in as {who}; sign in again?", err=True):
        return True
    say(f"Nothing changed: profile '{profile}' is still logged in as {who}.")
    say(f"  To sign in again without this question: {login_command(profile, cache_url())} --force")
    return False
