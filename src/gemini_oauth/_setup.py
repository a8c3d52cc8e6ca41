"""A saved login's set-up: what a record keeps beside its tokens, and what it tells its errors
(``GrantContext``: whose login, the command that makes it again, when its grant was issued).

A profile (or a ``load_creds`` token file) records the client it was made with (id, secret,
endpoints, the file it came from), the scopes granted, the quota project and the account. When
the grant dies only the tokens go (``_store.without_tokens``), so a new login can be made from
the record alone: ``client_from_record`` gives back the client, and the record's scopes, quota
project and account are the login's defaults. ``grant_context`` tells the token endpoint's
errors whose login it is and the exact command that signs it in again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gemini_oauth._clock import rfc3339_to_epoch
from gemini_oauth.errors import LoginRequiredError

if TYPE_CHECKING:
    from gemini_oauth._client_secrets import ClientSecret
    from gemini_oauth._store import TokenFile


@dataclass(frozen=True)
class GrantContext:
    """What the caller knows that the token endpoint's answer does not.

    ``login`` is the command that signs in again, as it is pasted (``gemini-oauth login
    --profile work``, ``gemini-oauth adc login``); ``source`` names whose credentials these are
    ("profile 'work'"); ``issued_at`` is when the refresh token was issued (epoch seconds), which
    tells a 7-day Testing expiry from a revocation; ``kept`` says what the caller keeps when the
    failure is not final ("the cached login was kept"); ``on_dead`` what it does with its record
    when the grant is dead ("Its tokens were removed; its settings were kept.").
    """

    login: str = "gemini-oauth login"
    source: str = ""
    account: str = ""
    issued_at: float | None = None
    kept: str = ""
    on_dead: str = ""
    #: Application Default Credentials: their fixes are the ``adc`` commands.
    adc: bool = False

    @property
    def run(self) -> str:
        """The login command, quoted for a hint (unless it holds single quotes of its own)."""
        return self.login if "'" in self.login else f"'{self.login}'"

    def with_new_client(self) -> str:
        """The login command with a freshly downloaded client file, quoted."""
        if "--client-secret" in self.login or not self.login.startswith("gemini-oauth "):
            return self.run
        return f"'{self.login} --client-secret PATH/TO/NEW/client_secret.json'"


#: For callers that know nothing more (tests, a bare code exchange).
NO_CONTEXT = GrantContext()


#: What a dead grant leaves behind, as its error says.
KEPT_SETUP = (
    "Its tokens were removed; its set-up (client, scopes, quota project, account) was kept, so "
    "the command below signs in again without retyping anything."
)
#: What a failure that is not final leaves behind.
KEPT_LOGIN = "the cached login was kept"


def profile_flag(profile: str) -> str:
    return "" if profile == "default" else f" --profile {profile}"


def profile_command(words: str, profile: str = "default", cache: str | None = None) -> str:
    """``gemini-oauth WORDS [--profile NAME]`` for hints, naming the cache URL ``cache`` when
    the environment does not (``_cache_url.in_command``: --cache, or the variable)."""
    from gemini_oauth._cache_url import in_command

    before, after = in_command(cache)
    return f"{before}gemini-oauth {words}{profile_flag(profile)}{after}"


def login_command(profile: str = "default", cache: str | None = None) -> str:
    """What logs a profile in again, for hints: ``gemini-oauth login [--profile NAME]``, with
    its cache URL when the environment does not give it."""
    return profile_command("login", profile, cache)


def load_creds_command(path: Path) -> str:
    """What signs a ``load_creds`` token file in again, pasted in a terminal."""
    return f"python3 -c \"from gemini_oauth import load_creds; load_creds(token=r'{path}')\""


def issued_at(data: Mapping[str, Any]) -> float | None:
    """When the record's refresh token was issued (epoch seconds), if it says."""
    value = data.get("refresh_token_issued")
    try:
        return rfc3339_to_epoch(value) if isinstance(value, str) else None
    except ValueError:
        return None


def grant_context(data: Mapping[str, Any], *, login: str, source: str) -> GrantContext:
    """The context of a saved login's refresh: whose, issued when, and how to sign in again."""
    account = data.get("account")
    return GrantContext(
        login=login,
        source=source,
        account=account if isinstance(account, str) else "",
        issued_at=issued_at(data),
        kept=KEPT_LOGIN,
        on_dead=KEPT_SETUP,
    )


def profile_context(
    profile: str, data: Mapping[str, Any], cache: str | None = None
) -> GrantContext:
    return grant_context(data, login=login_command(profile, cache), source=f"profile '{profile}'")


def file_context(file: TokenFile, data: Mapping[str, Any]) -> GrantContext:
    return grant_context(
        data, login=load_creds_command(file.path), source=f"the login cached in {file.path}"
    )


def login_needed_error(context: GrantContext, data: dict[str, Any] | None) -> LoginRequiredError:
    """The error of a record without a grant: never logged in, or its grant died (and why)."""
    whose = context.source or "this login"
    if data is None:
        return LoginRequiredError(f"Not logged in ({whose}).", hint=f"Run {context.run}.")
    why = data.get("login_needed") or "it has no refresh token."
    since = data.get("login_needed_since")
    when = f" (since {since})" if isinstance(since, str) else ""
    return LoginRequiredError(
        f"{whose[:1].upper()}{whose[1:]} needs a new sign-in{when}: {why}",
        hint=f"Run {context.run}; it keeps the client, scopes, quota project and account.",
    )


def client_from_record(data: Mapping[str, Any]) -> ClientSecret | None:
    """The OAuth client a record was made with: its file when that still holds the same client,
    else the record's own copy (id, secret, endpoints); None if the record has no usable one."""
    from gemini_oauth._client_secrets import ClientSecret as Client
    from gemini_oauth._client_secrets import check_endpoint, load_client_secret
    from gemini_oauth.errors import ClientSecretError

    client_id, secret = data.get("client_id"), data.get("client_secret")
    if not (isinstance(client_id, str) and client_id and isinstance(secret, str) and secret):
        return None
    recorded = data.get("client_secret_file")
    if isinstance(recorded, str) and recorded and os.path.isfile(recorded):
        try:
            client = load_client_secret(recorded)
        except ClientSecretError:
            client = None
        if client is not None and client.client_id == client_id:
            return client  # the file may hold a newer secret
    uris = {k: data.get(k) for k in ("auth_uri", "token_uri", "revoke_uri")}
    if not all(isinstance(v, str) and v for v in uris.values()):
        return None
    try:
        for name, uri in uris.items():
            check_endpoint(name, str(uri), "The saved login")
    except ClientSecretError:
        return None
    return Client(
        client_id=client_id,
        client_secret=secret,
        auth_uri=str(uris["auth_uri"]),
        token_uri=str(uris["token_uri"]),
        revoke_uri=str(uris["revoke_uri"]),
    )


__all__ = [
    "KEPT_LOGIN",
    "KEPT_SETUP",
    "NO_CONTEXT",
    "GrantContext",
    "client_from_record",
    "file_context",
    "grant_context",
    "issued_at",
    "load_creds_command",
    "login_command",
    "login_needed_error",
    "profile_command",
    "profile_context",
    "profile_flag",
]
