"""Session commands: print-access-token, status, logout."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import click

from gemini_oauth import _clock
from gemini_oauth._cache_backend import CacheRecord, describe, profile_record
from gemini_oauth._cli._options import (
    cache_url,
    confirm,
    echo_json,
    exit_with,
    json_option,
    profile_option,
    say,
    say_what_else_ends,
    verbose_option,
    yes_option,
)
from gemini_oauth._cli._output import console
from gemini_oauth._clock import rfc3339_to_epoch, to_rfc3339
from gemini_oauth._redact import terminal_text
from gemini_oauth._setup import login_command, profile_command, profile_flag
from gemini_oauth._store import has_grant
from gemini_oauth._token_endpoint import PERMISSIONS_URL
from gemini_oauth.errors import CacheError, RevocationError
from gemini_oauth.scopes import short_name

_NO_QUOTA_PROJECT = "(none: the client's project pays)"


@click.command("print-access-token", short_help="Print a valid access token, refreshed if needed.")
@profile_option
@json_option(
    "Print {access_token, expiry (RFC 3339), expires_in, token_type} as JSON, for credential "
    "helpers."
)
@verbose_option
def print_access_token(profile: str, as_json: bool) -> None:
    """Print a valid access token, refreshing it if needed; nothing else goes to stdout.

    \b
    curl -H "Authorization: Bearer $(gemini-oauth print-access-token)" ...
    """
    from gemini_oauth._credentials import load_profile

    creds = load_profile(profile, cache=cache_url())
    if not creds.valid:
        from gemini_oauth._transport import HttpxRequest

        request = HttpxRequest()
        try:
            creds.refresh(request)
        finally:
            request.close()
    if as_json:
        echo_token_json(str(creds.token), creds.expiry)
    else:
        click.echo(creds.token)


def echo_token_json(token: str, expiry: datetime | None) -> None:
    """``--json`` of both print-access-token commands (the fast path's shape, one writer)."""
    from gemini_oauth._fastpath import access_token_json

    at = _clock.now()
    expires_at = expiry.replace(tzinfo=timezone.utc).timestamp() if expiry else at
    text = access_token_json(token, expires_at, at)
    if text is not None:
        click.echo(text)
        return
    echo_json(  # a token needing JSON escapes (never seen): the same shape through json
        {
            "access_token": token,
            "expiry": to_rfc3339(expires_at),
            "expires_in": max(0, int(expires_at - at)),
            "token_type": "Bearer",
        }
    )


def status_data(profile: str, file: CacheRecord, data: dict[str, Any] | None) -> dict[str, Any]:
    """What ``status --json`` prints (never a token or secret); docs/JSON.md has its shapes."""
    out: dict[str, Any] = {
        "profile": profile,
        "cache_path": file.location,
        "cache_backend": {**describe(file), "reachable": True},  # read() would have raised
    }
    if data is None:
        return {**out, "logged_in": False}
    if not has_grant(data) and not file.tokens_only:  # the sign-in ended; the set-up waits
        scopes = data.get("scopes") or []
        return {
            **out,
            "logged_in": False,
            "login_needed": data.get("login_needed"),
            "login_needed_since": data.get("login_needed_since"),
            "login_command": login_command(profile, cache_url()),
            "account": data.get("account") or None,
            "client_id": data.get("client_id"),
            "scopes": scopes.split() if isinstance(scopes, str) else scopes,
            "quota_project": data.get("quota_project_id"),
        }
    expiry, remaining = data.get("expiry"), None
    try:
        remaining = int(rfc3339_to_epoch(expiry) - _clock.now()) if expiry else None
    except ValueError:
        remaining = None
    scopes = data.get("scopes") or []
    return {
        **out,
        "logged_in": True,
        "account": data.get("account") or None,
        "client_id": data.get("client_id"),
        "scopes": scopes.split() if isinstance(scopes, str) else scopes,
        "token_expiry": expiry,
        "token_expires_in": remaining,
        "token_valid": bool(data.get("token")) and remaining is not None and remaining > 0,
        "quota_project": data.get("quota_project_id"),
        "refresh_token_present": bool(data.get("refresh_token")),
        "token_uri": data.get("token_uri"),
        **({"published_at": data.get("published_at")} if file.tokens_only else {}),
    }


@click.command(short_help="Show a login: account, scopes, token, cache.")
@profile_option
@json_option("Print the status as JSON on stdout (shapes: docs/JSON.md).")
@verbose_option
def status(profile: str, as_json: bool) -> None:
    """Show who is logged in, the client, scopes granted, token expiry and where the cache is."""
    file = profile_record(profile, cache=cache_url())
    info = status_data(profile, file, file.read())
    if as_json:
        echo_json(info)
        if not info["logged_in"]:
            exit_with(3)
        return
    from rich.console import Console
    from rich.markup import escape

    from gemini_oauth._published import publish_hint

    if not info["logged_in"]:  # an error: stderr, exit 3
        err = Console(stderr=True, highlight=False)
        if "login_needed" in info:
            since = f" since {info['login_needed_since']}" if info["login_needed_since"] else ""
            err.print(f"[red]X[/] Login needed (profile {escape(profile)}){escape(since)}:")
            why = terminal_text(str(info["login_needed"] or "no refresh token"))
            err.print(f"  {escape(why)}", soft_wrap=True)
            kept = [
                f"account {info['account'] or '(unknown)'}",
                f"client {info['client_id']}",
                "scopes " + (", ".join(short_name(s) for s in info["scopes"]) or "(none)"),
                f"quota project {info['quota_project'] or '(none)'}",
            ]
            kept_text = terminal_text("; ".join(kept))  # a cache server's text is untrusted
            err.print(f"  Kept for the next login: {escape(kept_text)}.", soft_wrap=True)
        elif file.tokens_only:
            err.print(f"[red]X[/] No access token is published (profile {escape(profile)}).")
            err.print(f"  Cache: {escape(file.location)} (access tokens only).", soft_wrap=True)
            err.print(f"  Run {escape(publish_hint(profile))}.", soft_wrap=True)
            exit_with(3)
        else:
            err.print(f"[red]X[/] Not logged in (profile {escape(profile)}).")
        err.print(f"  Run '{escape(login_command(profile, cache_url()))}'.", soft_wrap=True)
        exit_with(3)
    out = console(soft_wrap=True)  # the status is the data asked for: stdout, as adc status
    left = info["token_expires_in"]
    token_line = (
        f"[green]✓[/] Access token valid for {left // 60} min"
        if info["token_valid"]
        else "[yellow]![/] Access token expired; the next command refreshes it"
    )
    rows = [
        f"[green]✓[/] Logged in as [bold]{escape(info['account'] or '(unknown account)')}[/]",
        f"  - Profile: {escape(profile)}",
        f"  - Client: {escape(str(info['client_id']))}",
        "  - Scopes: " + escape(", ".join(short_name(s) for s in info["scopes"]) or "(none)"),
        f"  - {token_line} (expiry {escape(str(info['token_expiry']))})",
        "  - Refresh token: "
        + (
            "not here (access tokens only, from the publisher)"
            if file.tokens_only
            else "present"
            if info["refresh_token_present"]
            else "[red]missing[/]"
        ),
        f"  - Quota project: {escape(info['quota_project'] or _NO_QUOTA_PROJECT)}",
        f"  - Cache: {escape(info['cache_path'])}",
        f"  - Cache backend: {_backend_row(info['cache_backend'])}",
    ]
    for row in rows:
        out.print(terminal_text(row))


def _backend_row(backend: dict[str, Any]) -> str:
    if backend["backend"] == "file":
        return "files (this machine)"
    mode = "access tokens only" if backend["mode"] == "tokens" else "the whole login, shared"
    return f"Redis, reachable; {mode}"


@click.command(short_help="Revoke a login at Google, then delete it here.")
@profile_option
@click.option(
    "--local",
    is_flag=True,
    help="Only delete the saved login, without revoking it (when Google cannot be reached): "
    f"the sign-in stays valid at Google until you remove it at {PERMISSIONS_URL}.",
)
@yes_option
@verbose_option
def logout(profile: str, local: bool, yes: bool) -> None:
    """Revoke the refresh token at Google (RFC 7009), then delete the cached login.

    If the revocation endpoint cannot confirm, nothing is deleted and the exit code is 1;
    --local then deletes it here only.
    """
    from gemini_oauth._credentials import revoke_and_delete

    file = profile_record(profile, cache=cache_url())
    data = file.read()
    if file.tokens_only:
        raise CacheError(
            f"The cache {file.location} holds access tokens only; logging out happens where "
            "the login lives (and the publisher runs).",
            hint=f"Run 'gemini-oauth logout{profile_flag(profile)}' on that machine.",
        )
    if local:
        _delete_locally(profile, file, data, yes)
        return
    if data is not None and not has_grant(data):  # nothing at Google to revoke
        confirm(f"Remove the saved set-up of profile {profile}?", action="log out", yes=yes)
        file.delete()
        say(f"Profile {profile} had no live sign-in; its saved set-up was removed.")
        say(f"  ({file.location})")
        return
    if data is not None:
        who = data.get("account") or "this account"
        say_what_else_ends(data, profile=profile)
        question = f"Log out {who} (profile {profile}) and revoke its token?"
        confirm(question, action="log out", yes=yes)
        try:
            revoked = revoke_and_delete(file)
        except RevocationError as exc:
            here = profile_command("logout --local", profile, cache_url())
            exc.hint = f"{exc.hint} To delete it here only: {here}"
            raise
        if revoked is not None:  # None: another process logged out meanwhile
            say(f"Logged out {who}: token revoked and {file.location} deleted.")
            return
    say(f"Not logged in (profile {profile}); nothing to do.")


def _delete_locally(
    profile: str, file: CacheRecord, data: dict[str, Any] | None, yes: bool
) -> None:
    """``logout --local``: the file goes, the grant stays alive at Google (and says so)."""
    if data is None:
        say(f"Not logged in (profile {profile}); nothing to do.")
        return
    who = data.get("account") or "this account"
    alive = has_grant(data)
    if alive:
        question = f"Delete the login of {who} (profile {profile}) without revoking it?"
        confirm(question, action="delete the login", yes=yes)
    file.delete()
    say(f"Deleted {file.location} (profile {profile}); nothing was sent to Google.")
    if alive:
        say(
            f"warning: the sign-in of {who} is still valid at Google until it is revoked: "
            f"remove this app's access at {PERMISSIONS_URL}."
        )
