"""``gemini-oauth profiles``: the saved logins, their state, and which one is the default."""

from __future__ import annotations

import os
from typing import Any

import click

from gemini_oauth._cli._options import (
    cache_option,
    cache_url,
    checked_profile,
    echo_json,
    json_option,
    say,
    verbose_option,
)
from gemini_oauth._cli._output import print_table, say_on_terminal
from gemini_oauth._constants import PROFILE_ENV
from gemini_oauth._setup import login_command
from gemini_oauth.errors import CacheError

#: What a profile's ``state`` says, and how a table shows it.
STATES = {
    "valid": "valid",  # a sign-in is saved (Google's word on it: `gemini-oauth doctor`)
    "login_needed": "needs login",  # the sign-in ended; the set-up is kept
    "not_logged_in": "not logged in",  # the default names a profile without a file
    "unreadable": "unreadable",  # refused by the store (another user's file, a link, ...)
}
_HEADERS = ("Name", "Default", "State", "Account", "Quota project", "Client")


def profile_entry(name: str, default: str, cache: str | None = None) -> dict[str, Any]:
    """One profile for ``profiles --json`` (never a token or secret), read where it is cached:
    its file, or the cache URL ``cache`` in force."""
    from gemini_oauth._cache_backend import profile_record
    from gemini_oauth._store import has_grant

    file = profile_record(name, cache=cache)
    entry: dict[str, Any] = {
        "name": name,
        "default": name == default,
        "state": "not_logged_in",
        "account": None,
        "client_id": None,
        "quota_project": None,
        "scopes": [],
        "token_expiry": None,
        "login_needed": None,
        "login_command": login_command(name, cache),
        "cache_path": file.location,
    }
    try:
        data = file.read()
    except CacheError as exc:
        return {**entry, "state": "unreadable", "problem": exc.message}
    if data is None:
        return entry
    scopes = data.get("scopes") or []
    entry.update(
        state="valid" if has_grant(data) or file.tokens_only else "login_needed",
        account=data.get("account") or None,
        client_id=data.get("client_id"),
        quota_project=data.get("quota_project_id"),
        scopes=scopes.split() if isinstance(scopes, str) else scopes,
        token_expiry=data.get("expiry") if has_grant(data) else None,
        login_needed=None if has_grant(data) else (data.get("login_needed") or "no refresh token"),
    )
    return entry


def profiles_data(cache: str | None = None) -> dict[str, Any]:
    """What ``profiles --json`` prints: the default, where it comes from, the cache, each
    profile (the default one too when it has no login yet). With a cache URL in force, the
    profiles are those this machine knows by name (its files, the default), read from the
    cache: a cache server is not listed."""
    from gemini_oauth._cache_backend import profile_record, selected_url
    from gemini_oauth._store import chosen_profile, config_home, list_profiles

    chosen = chosen_profile()
    default = chosen or "default"
    url = selected_url(cache)
    names = set(list_profiles()) | ({default} if chosen or url else set())
    source = "environment" if os.environ.get(PROFILE_ENV) else "chosen" if chosen else "built-in"
    where = {"backend": "file", "location": str(config_home() / "profiles")}
    if url is not None:
        record = profile_record(default, cache=url)
        where = {"backend": record.backend, "location": record.location.rsplit(" key ", 1)[0]}
    entries = [profile_entry(name, default, url) for name in sorted(names)]
    return {
        "default": default,
        "default_from": source,
        "cache": where,
        "profiles": [e for e in entries if e["state"] != "not_logged_in" or e["default"]],
    }


@click.group(
    invoke_without_command=True, short_help="List the saved logins; choose the default one."
)
@json_option(
    'Print {"default", "default_from", "cache": {"backend", "location"}, "profiles": [{"name", '
    '"default", "state", "account", "client_id", "quota_project", "scopes", "token_expiry", '
    '"login_needed", "login_command", "cache_path"}]} as JSON.'
)
@cache_option
@verbose_option
@click.pass_context
def profiles(ctx: click.Context, as_json: bool) -> None:
    """List the saved logins (profiles): account, state, quota project, client; * marks the
    default, the one used without --profile.

    States: valid (a sign-in is saved; 'gemini-oauth doctor' asks Google about it),
    needs login (the sign-in ended; its set-up is kept for the next login).

    \b
    Choose the default:
      gemini-oauth profiles use NAME       for every shell
      export GEMINI_OAUTH_PROFILE=NAME     for this one
    """
    if ctx.invoked_subcommand is None:
        show(as_json, cache_url())


@profiles.command("list")
@json_option("Print the profiles as JSON (the shape of 'gemini-oauth profiles --json').")
@cache_option
@verbose_option
def list_profiles_command(as_json: bool) -> None:
    """List the saved logins (the same as 'gemini-oauth profiles')."""
    show(as_json, cache_url())


def show(as_json: bool, cache: str | None) -> None:
    info = profiles_data(cache)
    if as_json:
        echo_json(info)
        return
    entries = info["profiles"]
    if not entries:
        say("No saved logins. Sign in with: gemini-oauth login")
    else:
        rows = [
            [
                e["name"],
                "*" if e["default"] else "",
                STATES[e["state"]],
                e["account"] or "-",
                e["quota_project"] or "-",
                e["client_id"] or "-",
            ]
            for e in entries
        ]
        print_table(_HEADERS, rows, name="profiles")
    for e in entries:
        if e["state"] == "unreadable":
            say(f"warning: profile {e['name']}: {e['problem']}")
    if info["default_from"] == "environment":
        say_on_terminal(f"(The default comes from ${PROFILE_ENV} in this shell.)")
    if not any(e["default"] for e in entries):
        say_on_terminal(
            "(No profile 'default': commands without --profile use Application Default "
            "Credentials; see 'gemini-oauth adc status'.)"
        )


@profiles.command("use", short_help="Make NAME the default profile.")
@click.argument("name", callback=checked_profile)
@verbose_option
def use(name: str) -> None:
    """Make NAME the default profile: the one every command uses without --profile.

    'gemini-oauth profiles use default' goes back to the profile named 'default'.
    $GEMINI_OAUTH_PROFILE, when set, still wins in its shell.
    """
    from gemini_oauth._store import choose_profile, profile_file

    path = choose_profile(name)
    where = "no choice saved" if name == "default" else f"saved in {path}"
    say(f"Default profile: {name} ({where}).")
    if profile_file(name).read() is None:
        say(f"  It has no login yet; sign in with: {login_command(name)}")
    named = os.environ.get(PROFILE_ENV)
    if named and named != name:
        say(f"note: ${PROFILE_ENV}={named} is set in this shell and wins over it; unset it.")


__all__ = ["STATES", "profile_entry", "profiles", "profiles_data"]
