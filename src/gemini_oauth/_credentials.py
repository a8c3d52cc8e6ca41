"""google-auth Credentials backed by the token cache: single-flight refresh, load_creds, login.

The cache is a ``_cache_backend.CacheRecord``: a profile file by default, a Redis record when
a cache URL is in force (``cache=``, else $GEMINI_OAUTH_CACHE_URL); the refresh is the same.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from google.oauth2 import credentials as ga_credentials

from gemini_oauth import _clock, _setup
from gemini_oauth._cache_backend import CacheRecord, profile_record, selected_url
from gemini_oauth._cache_format import usable_token
from gemini_oauth._clock import rfc3339_to_epoch, to_rfc3339
from gemini_oauth._constants import GOOGLE_TOKEN_URI, REFRESH_MARGIN
from gemini_oauth._logout import revoke_and_delete, revoke_replaced
from gemini_oauth._project import check_project_id
from gemini_oauth._retry import RetryPolicy
from gemini_oauth._setup import file_context, login_command, login_needed_error, profile_context
from gemini_oauth._store import TokenFile, has_grant, without_tokens
from gemini_oauth._token_endpoint import (
    NO_CONTEXT,
    PERMISSIONS_URL,
    REAUTH_SUBTYPES,
    GrantContext,
    refresh_grant,
    refresh_policy,
    refresh_request,
)
from gemini_oauth.errors import (
    CacheUnavailableError,
    GeminiOAuthError,
    InvalidGrantError,
    LoginError,
    LoginRequiredError,
)
from gemini_oauth.scopes import (
    QUICKSTART_SCOPES,
    USERINFO_EMAIL,
    calls_gemini,
    gemini_scope_warning,
    granted_form,
    parse_scopes,
    short_name,
)

if TYPE_CHECKING:
    import httpx
    from google.auth.transport import Request

    from gemini_oauth._client_secrets import ClientSecret
    from gemini_oauth._flow import LoginResult, Waiting
    from gemini_oauth._published import PublishedCredentials
    from gemini_oauth._transport import HttpxRequest

__all__ = [
    "CachedCredentials",
    "load_creds",
    "load_profile",
    "login",
    "login_command",
    "revoke_and_delete",
    "save_login",
    "sign_in",
]


def _naive_utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)


def _epoch(expiry: datetime | None) -> float | None:
    return None if expiry is None else expiry.replace(tzinfo=timezone.utc).timestamp()


def _token_fresh(data: dict[str, Any]) -> bool:
    """The cached access token is valid for more than the margin."""
    try:
        remaining = rfc3339_to_epoch(data["expiry"]) - _clock.now()
    except (KeyError, TypeError, ValueError):
        return False
    return usable_token(data.get("token")) and remaining > REFRESH_MARGIN


def _scope_list(data: dict[str, Any]) -> list[str]:
    scopes = data.get("scopes") or []
    return scopes.split() if isinstance(scopes, str) else list(scopes)


class CachedCredentials(ga_credentials.Credentials):
    """google-auth user credentials bound to a cache record; ``refresh`` is single-flight. The
    refresh grant is ours (``_token_endpoint.refresh_grant``, through the given google-auth
    ``Request``): answers that say "try again" are retried under ``refresh_retry``, whose
    sleep is a seam.
    """

    #: Retries of the refresh grant (an instance may carry its own, e.g. with a fake sleep).
    refresh_retry: RetryPolicy = refresh_policy()

    def __init__(self, token: str | None = None, *args: Any, **kwargs: Any) -> None:
        self._file: CacheRecord | None = kwargs.pop("file", None)
        self._context: GrantContext = kwargs.pop("context", None) or NO_CONTEXT
        #: The record these came from: put back if a volatile cache lost it (Redis restarted).
        self._seed: dict[str, Any] | None = kwargs.pop("seed", None)
        super().__init__(token, *args, **kwargs)  # type: ignore[no-untyped-call]

    @classmethod
    def from_cache(
        cls, data: dict[str, Any], file: CacheRecord | None, context: GrantContext | None = None
    ) -> CachedCredentials:
        """Build from cache data, keeping its token_uri (google-auth's helper would not).

        A token without a readable expiry is dropped: google-auth would deem it valid forever.
        ``context`` names the login in errors (default: the cache file's ``load_creds``).
        """
        expiry = None
        if isinstance(data.get("expiry"), str):
            try:
                expiry = _naive_utc(rfc3339_to_epoch(data["expiry"]))
            except (ValueError, OverflowError, OSError):  # unreadable, or year 0 / 10000
                expiry = None
        scopes = _scope_list(data) or None
        rapt = data.get("rapt_token")
        token = data.get("token")
        return cls(
            token if expiry is not None and usable_token(token) else None,
            refresh_token=data["refresh_token"],
            token_uri=data.get("token_uri") or GOOGLE_TOKEN_URI,
            client_id=data["client_id"],
            client_secret=data["client_secret"],
            scopes=scopes,
            granted_scopes=scopes,
            quota_project_id=data.get("quota_project_id"),
            universe_domain=data.get("universe_domain") or "googleapis.com",
            account=data.get("account") or "",
            rapt_token=rapt if isinstance(rapt, str) and rapt else None,
            expiry=expiry,
            file=file,
            context=context or (file_context(file, data) if isinstance(file, TokenFile) else None),
            seed=dict(data),
        )

    @property
    def file(self) -> CacheRecord | None:
        """The cache record (a file, or Redis) this credential reads and updates."""
        return self._file

    @property
    def context(self) -> GrantContext:
        """Whose login this is and how to sign it in again, for the errors of a refresh."""
        return self._context

    @property
    def expired(self) -> bool:
        """True when fewer than REFRESH_MARGIN seconds remain (google-auth's margin: 225 s)."""
        expires_at = _epoch(self.expiry)
        return expires_at is not None and expires_at - _clock.now() <= REFRESH_MARGIN

    def _make_copy(self) -> CachedCredentials:
        cred: CachedCredentials = super()._make_copy()  # type: ignore[no-untyped-call]
        cred._file = self._file
        cred._context, cred._seed = self._context, self._seed
        cred.refresh_retry = self.refresh_retry
        return cred

    def _adopt(self, data: dict[str, Any]) -> None:
        fresh = CachedCredentials.from_cache(data, self._file, self._context)
        self.token, self.expiry = fresh.token, fresh.expiry
        self._refresh_token = fresh.refresh_token
        self._client_id, self._client_secret = fresh.client_id, fresh.client_secret
        self._token_uri = fresh.token_uri
        self._rapt_token, self._seed = fresh.rapt_token, fresh._seed
        if fresh.scopes:  # a login made again may hold more: refresh for what it was granted
            self._scopes, self._granted_scopes = fresh.scopes, fresh.granted_scopes

    def refresh(self, request: Request) -> None:
        """Refresh once for all: under the cache lock, adopt a token another refresher wrote.

        A cached token equal to the one held is never adopted: it may be the token the server
        just refused (revoked, or a clock ahead of ours), so it is refreshed instead. When the
        cache cannot be reached, a held token that has not expired is kept (said once): a fleet
        does not storm the token endpoint because its cache is down.
        """
        if self._file is None:
            self._refresh_unlocked(request, None)
            return
        try:
            self._refresh_shared(request, self._file)
        except CacheUnavailableError:
            from gemini_oauth._published import keep_held_token

            if not keep_held_token(self, "the cache cannot be reached"):
                raise

    def _refresh_shared(self, request: Request, file: CacheRecord) -> None:
        held = self.token
        early = file.read()  # a winner's token is taken without queueing for the lock
        if has_grant(early) and early.get("token") != held and _token_fresh(early):
            return self._adopt(early)
        with file.lock():
            data = file.read()
            if data is None and file.volatile and self._seed is not None:  # lost: ours goes back
                data = dict(self._seed)
            if not has_grant(data):
                raise login_needed_error(self._context, data)
            self._adopt(data)
            if data.get("token") != held and _token_fresh(data):
                return
            self._refresh_unlocked(request, data)
            data.update(
                token=self.token,
                expiry=to_rfc3339(_epoch(self.expiry) or _clock.now()),
                refresh_token=self.refresh_token,
            )
            file.write(data)
            self._seed = data

    def _refresh_unlocked(self, request: Request, data: dict[str, Any] | None) -> None:
        """The refresh grant; on any failure nothing of this object (or the cache) changes."""
        if not (self._refresh_token and self._client_id and self._client_secret):
            raise LoginRequiredError("These credentials cannot be refreshed (no refresh token).")
        form = refresh_request(
            client_id=self._client_id,
            client_secret=self._client_secret,
            refresh_token=self._refresh_token,
            scopes=self._scopes,
            rapt_token=self._rapt_token,
        )
        issued = _clock.now()  # before the request: the expiry errs on the early side
        context = self._context
        if data is not None:  # another process may have signed in again meanwhile
            context = replace(
                context,
                issued_at=_setup.issued_at(data),
                account=data.get("account") or context.account,
            )
        try:
            answer = refresh_grant(
                request, self._token_uri or GOOGLE_TOKEN_URI, form, retry=self.refresh_retry,
                context=context,
            )  # fmt: skip
        except InvalidGrantError as exc:
            if exc.subtype in REAUTH_SUBTYPES:  # the grant lives; a new sign-in is still needed
                raise
            if data is not None and self._file is not None:  # the set-up stays for the login
                self._file.write(
                    without_tokens(data, _first_sentence(exc.message), to_rfc3339(_clock.now()))
                )
            raise
        self.token = answer.access_token
        self.expiry = _naive_utc(issued + answer.expires_in)
        if answer.refresh_token:  # Google does not rotate; a server that does is followed
            self._refresh_token = answer.refresh_token
        if answer.id_token:
            self._id_token = answer.id_token
        if answer.granted_scopes:
            self._granted_scopes = list(answer.granted_scopes)


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text


def load_profile(
    profile: str = "default", *, home: str | Path | None = None, cache: str | None = None
) -> CachedCredentials | PublishedCredentials:
    """The cached credentials of a profile; LoginRequiredError if there are none, or if its grant
    died (the record keeps its set-up for ``gemini-oauth login --profile NAME``).

    ``cache`` is a cache URL (default $GEMINI_OAUTH_CACHE_URL, else the profile's file); with
    ``mode=tokens`` the credentials hold the published access token only (``_published``).
    """
    file = profile_record(profile, home, cache)
    data = file.read()
    context = profile_context(profile, data or {}, cache)
    if file.tokens_only:
        from gemini_oauth._published import PublishedCredentials

        if data is None:
            raise PublishedCredentials(file, context).nothing_published()
        return PublishedCredentials.from_record(data, file, context)
    if not has_grant(data):
        raise login_needed_error(context, data)
    return CachedCredentials.from_cache(data, file, context)


def save_login(
    result: LoginResult,
    client: ClientSecret,
    *,
    file: CacheRecord,
    quota_project: str | None = None,
    command: str = "gemini-oauth login",
) -> dict[str, Any] | None:
    """Write a fresh login to the cache (under its lock), as an authorized_user file.

    Without a new refresh token the record's own is kept (same client). Returns the record it
    replaced when that held another live refresh token (for ``revoke_replaced``), else None.
    """
    with file.lock():
        old = file.read() or {}
        refresh_token = result.refresh_token
        if not refresh_token and old.get("client_id") == client.client_id and has_grant(old):
            refresh_token = old["refresh_token"]
        if not refresh_token:
            raise LoginError(
                "Google returned no refresh token.",
                hint=f"Remove this app's access at {PERMISSIONS_URL}, then run '{command}' again.",
            )
        quota = quota_project or old.get("quota_project_id")
        data: dict[str, Any] = {
            "type": "authorized_user",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "refresh_token": refresh_token,
        }
        if quota:
            data["quota_project_id"] = quota
        data.update(
            account=result.account or "",
            universe_domain="googleapis.com",
            token=result.access_token,
            expiry=to_rfc3339(result.expires_at),
            scopes=list(result.granted_scopes),
            token_uri=client.token_uri,
            auth_uri=client.auth_uri,
            revoke_uri=client.revoke_uri,
            refresh_token_issued=(  # on the server's clock: the 7-day age is read on it
                to_rfc3339(getattr(result, "issued_at", None) or _clock.now())
                if refresh_token == result.refresh_token
                else old.get("refresh_token_issued")
            ),
        )
        source = str(client.path) if client.path else old.get("client_secret_file")
        if source:
            data["client_secret_file"] = os.path.abspath(source)
        file.write(data)
    return old if has_grant(old) and old["refresh_token"] != refresh_token else None


def sign_in(
    client_secret: str | Path | ClientSecret | None,
    scopes: str | Iterable[str],
    *,
    command: str = "gemini-oauth login",
    out: TextIO | None = None,
    require_refresh_token: bool = True,
    **flow_options: Any,
) -> tuple[ClientSecret, LoginResult]:
    """Read the client file, say which one and what is asked, then run ``_flow.run_login``.

    The interactive part of ``login()`` and ``_adc.login()``; it saves nothing. Scopes are checked
    before any browser opens (ScopeError for an unknown name; a warning when none can call
    Gemini). When Google sends no refresh token (it sends one only when its consent screen is
    shown) and ``require_refresh_token``, the login runs once more with ``prompt=consent``.
    Conversation goes to ``out`` (stderr). Hints of the errors it raises name ``command``.
    """
    from gemini_oauth._client_secrets import ClientSecret as Client
    from gemini_oauth._client_secrets import endpoint_warnings, load_client_secret
    from gemini_oauth._flow import run_login

    stream = out if out is not None else sys.stderr

    def say(text: str) -> None:
        print(text, file=stream, flush=True)

    try:
        wanted = parse_scopes(scopes)
        client = (
            client_secret
            if isinstance(client_secret, Client)
            else load_client_secret(client_secret)
        )
        where = f"from {client.path}" if client.path else "saved with this login"
        say(f"Using OAuth client {client.client_id} {where}.")
        for note in endpoint_warnings(client):
            say(f"warning: {note}")
        say(f"Asking for: {', '.join(short_name(s) for s in wanted)}.")
        if not calls_gemini(wanted):
            say(gemini_scope_warning(wanted, command))
        result = run_login(client, wanted, out=stream, **flow_options)
        if not result.refresh_token and require_refresh_token:
            say(
                "Google sent no refresh token (it sends one only when its consent screen is "
                "shown); asking again with the consent screen..."
            )
            result = run_login(client, wanted, out=stream, **{**flow_options, "prompt": "consent"})
            if not result.refresh_token:
                raise LoginError(
                    "Google sent no refresh token, even with its consent screen shown.",
                    hint=f"Remove this app's access at {PERMISSIONS_URL}, then run "
                    "'gemini-oauth login' again.",
                )
    except GeminiOAuthError as exc:
        exc.hint = exc.hint.replace("gemini-oauth login", command)
        raise
    return client, result


def login(
    client_secret: str | Path | None = None,
    scopes: str | Iterable[str] | None = None,
    *,
    profile: str = "default",
    file: CacheRecord | None = None,
    home: str | Path | None = None,
    cache: str | None = None,
    quota_project: str | None = None,
    no_browser: bool | None = None,
    port: int = 0,
    timeout: float = 300.0,
    login_hint: str | None = None,
    required_scopes: Iterable[str] | None = None,
    out: TextIO | None = None,
    open_browser: Callable[[str], bool] | None = None,
    prompt_input: Callable[[str], str] | None = None,
    http: httpx.Client | None = None,
    default_scopes: Iterable[str] = QUICKSTART_SCOPES,
    waiting: Waiting | None = None,
) -> CachedCredentials:
    """Run the browser (or paste) login and cache the result; returns the new credentials.

    The cache is ``file``, else the profile's (in the cache URL ``cache``, if any). What is not
    given comes from the saved set-up, so signing in again needs no flags: the client
    (``client_secret`` None: the one the login was made with, else the file search), ``scopes``
    (None: those granted before, else ``default_scopes``), ``quota_project`` and ``login_hint``
    (the account). A refresh token this login replaces is revoked after the new one is saved,
    unless both are the same account's access to the same client (Google would end the new one
    too; see ``_logout``). Conversation (which client, what is asked, the sign-in address) goes
    to ``out`` (stderr). The other options are ``_flow.run_login``'s. The credentials carry
    ``account``, ``granted_scopes``, ``quota_project_id`` and ``file``.
    """
    if quota_project:
        check_project_id(quota_project)  # before the browser, not after
    target = file or profile_record(profile, home, cache)  # a bad name fails before any browser
    if target.tokens_only:
        from gemini_oauth._published import no_login_here

        raise no_login_here(target, profile)
    old = target.read() or {}  # an untrusted cache fails here too
    held = old.get("account") or ""
    token_file = target if file is not None and isinstance(target, TokenFile) else None
    command = (
        login_command(profile, cache)
        if token_file is None
        else _setup.load_creds_command(token_file.path)
    )
    where = f"profile {profile}" if file is None else target.location
    client = client_secret or _setup.client_from_record(old)
    if old and client_secret is None and scopes is None:
        named = f"profile '{profile}'" if file is None else where
        print(f"Signing in with the saved set-up of {named}.", file=out or sys.stderr, flush=True)
    wanted = scopes if scopes is not None else (_scope_list(old) or tuple(default_scopes))
    reusable = has_grant(old) and not client_secret and client is not None
    client, result = sign_in(
        client,
        wanted,
        command=command,
        out=out,
        require_refresh_token=not reusable,
        no_browser=no_browser,
        port=port,
        timeout=timeout,
        login_hint=login_hint,  # the profile's account is checked after (_flow.keep_account)
        required_scopes=required_scopes,
        open_browser=open_browser,
        prompt_input=prompt_input,
        http=http,
        waiting=waiting,
    )
    email_asked = USERINFO_EMAIL in parse_scopes(wanted)
    if held and not login_hint and (result.account or email_asked):  # else it cannot be told
        from gemini_oauth._flow import keep_account

        logout = None if token_file else _setup.profile_command("logout", profile, cache)
        keep_account(held, where, client, result, out, prompt_input, http, command, logout)
    replaced = save_login(result, client, file=target, quota_project=quota_project, command=command)
    data = target.read()
    if data is None:  # pragma: no cover - we just wrote it
        raise LoginRequiredError(f"The login was not saved to {target.location}.")
    if replaced is not None:
        revoke_replaced(replaced, data, out=out, http=http)
    ctx = file_context(token_file, data) if token_file else profile_context(profile, data, cache)
    return CachedCredentials.from_cache(data, target, ctx)


def load_creds(
    client_secret: str | Path | None = None,
    token: str | Path = "token.json",  # noqa: S107
    scopes: str | Sequence[str] = QUICKSTART_SCOPES,
    *,
    interactive: bool | None = None,
    no_browser: bool | None = None,
    quota_project: str | None = None,
    profile: str | None = None,
    request: Request | None = None,
    cache: str | None = None,
    **flow_options: Any,
) -> CachedCredentials | PublishedCredentials:
    """The quickstart's ``load_creds()``, without its failure modes.

    ``client_secret`` (read only to log in): the cached login's client, else
    $GEMINI_OAUTH_CLIENT_SECRET, ./client_secret.json or the one ./client_secret_*.json.

    Uses ``token`` (or the cache of ``profile``) when it covers ``scopes``; refreshes it when
    expired; logs in when there is no usable token, when the refresh token is dead, or for the
    union of scopes when the cached grant lacks some. ``interactive`` (default: stdin is a TTY
    or a notebook kernel, where the paste flow runs, or a browser can be opened, as the
    quickstart's function does from an IDE or a GUI app) False raises LoginRequiredError /
    InvalidGrantError instead of opening a login. With a cache URL (``cache``, else
    $GEMINI_OAUTH_CACHE_URL) it is the profile's login there (``default`` unless named).
    """
    from gemini_oauth._flow import browser_usable, in_notebook, no_terminal

    if selected_url(cache) is not None:
        profile = profile or "default"
    file = profile_record(profile, cache=cache) if profile else TokenFile(token)
    if file.tokens_only:
        return load_profile(profile or "default", cache=cache)
    if quota_project:
        check_project_id(quota_project)
    wanted = parse_scopes(scopes)
    terminal = sys.stdin.isatty() or in_notebook()
    if interactive is None:
        interactive = terminal or (not no_browser and browser_usable())
    if interactive and not terminal and "prompt_input" not in flow_options:
        flow_options["prompt_input"] = no_terminal  # a browser, but nowhere to paste
    data = file.read()
    granted = _scope_list(data) if data else []
    reason = "There is no cached login"
    context = (
        profile_context(profile or "default", data or {}, cache)
        if profile or not isinstance(file, TokenFile)
        else file_context(file, data or {})
    )
    if data is not None:
        missing = [s for s in wanted if granted_form(s) not in granted]
        if not has_grant(data):
            reason = login_needed_error(context, data).message.rstrip(".")
        elif not missing:
            creds = CachedCredentials.from_cache(data, file, context)
            try:
                if not creds.valid:
                    own = _default_request()  # made lazily: costs nothing until used
                    try:
                        creds.refresh(request or own)
                    finally:
                        own.close()
                if quota_project and quota_project != data.get("quota_project_id"):
                    set_quota_project(file, quota_project)
                    creds = creds.with_quota_project(quota_project)
                return creds
            except (InvalidGrantError, LoginRequiredError) as exc:
                if not interactive:
                    raise
                reason = exc.message.rstrip(".")
        else:
            reason = f"The cached login lacks {', '.join(missing)}"
        quota_project = quota_project or data.get("quota_project_id")
    if not interactive:
        raise LoginRequiredError(
            f"{reason} ({file.location}), and there is no terminal or browser here to sign in "
            "with.",
            hint=f"Run {context.run} in a terminal, or call load_creds(interactive=True).",
        )
    union = [*granted, *(s for s in wanted if granted_form(s) not in granted)]
    target: dict[str, Any] = {"profile": profile, "cache": cache} if profile else {"file": file}
    return login(
        client_secret,
        union,
        **target,
        quota_project=quota_project,
        no_browser=False if not terminal else no_browser,
        **flow_options,
    )


def set_quota_project(file: CacheRecord, quota_project: str) -> None:
    with file.lock():
        data = file.read()
        if data is not None:
            data["quota_project_id"] = quota_project
            file.write(data)


def _default_request() -> HttpxRequest:
    from gemini_oauth._transport import HttpxRequest

    return HttpxRequest()
