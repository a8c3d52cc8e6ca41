"""google-auth Credentials backed by the token cache: single-flight refresh, load_creds, login."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from google.oauth2 import credentials as ga_credentials

from gemini_oauth import _clock
from gemini_oauth._cache_format import usable_token
from gemini_oauth._clock import rfc3339_to_epoch, to_rfc3339
from gemini_oauth._constants import (
    GOOGLE_REVOKE_URI,
    GOOGLE_TOKEN_URI,
    REFRESH_MARGIN,
    TESTING_REFRESH_LIFETIME,
)
from gemini_oauth._project import check_project_id
from gemini_oauth._retry import RetryPolicy
from gemini_oauth._store import TokenFile, profile_file
from gemini_oauth._token_endpoint import (
    REAUTH_SUBTYPES,
    refresh_grant,
    refresh_policy,
    refresh_request,
    revoke,
)
from gemini_oauth.errors import (
    AccountMismatchError,
    GeminiOAuthError,
    InvalidGrantError,
    LoginError,
    LoginRequiredError,
)
from gemini_oauth.scopes import (
    QUICKSTART_SCOPES,
    USERINFO_EMAIL,
    granted_form,
    parse_scopes,
    short_name,
)

if TYPE_CHECKING:
    import httpx
    from google.auth.transport import Request

    from gemini_oauth._client_secrets import ClientSecret
    from gemini_oauth._flow import LoginResult
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
    """google-auth user credentials bound to a cache file; ``refresh`` is single-flight.

    The refresh grant is ours (``_token_endpoint.refresh_grant``, through the given google-auth
    ``Request``): answers that say "try again" are retried under ``refresh_retry``, whose sleep
    is a seam.
    """

    #: Retries of the refresh grant (an instance may carry its own, e.g. with a fake sleep).
    refresh_retry: RetryPolicy = refresh_policy()

    def __init__(self, token: str | None = None, *args: Any, **kwargs: Any) -> None:
        self._file: TokenFile | None = kwargs.pop("file", None)
        super().__init__(token, *args, **kwargs)  # type: ignore[no-untyped-call]

    @classmethod
    def from_cache(cls, data: dict[str, Any], file: TokenFile | None) -> CachedCredentials:
        """Build from cache data, keeping its token_uri (google-auth's helper would not).

        A token without a readable expiry is dropped: google-auth would deem it valid forever.
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
        )

    @property
    def file(self) -> TokenFile | None:
        """The cache file this credential reads and updates."""
        return self._file

    @property
    def expired(self) -> bool:
        """True when fewer than REFRESH_MARGIN seconds remain (google-auth's margin: 225 s)."""
        expires_at = _epoch(self.expiry)
        return expires_at is not None and expires_at - _clock.now() <= REFRESH_MARGIN

    def _make_copy(self) -> CachedCredentials:
        cred: CachedCredentials = super()._make_copy()  # type: ignore[no-untyped-call]
        cred._file = self._file
        cred.refresh_retry = self.refresh_retry
        return cred

    def _adopt(self, data: dict[str, Any]) -> None:
        fresh = CachedCredentials.from_cache(data, self._file)
        self.token, self.expiry = fresh.token, fresh.expiry
        self._refresh_token = fresh.refresh_token
        self._client_id, self._client_secret = fresh.client_id, fresh.client_secret
        self._token_uri = fresh.token_uri
        self._rapt_token = fresh.rapt_token

    def refresh(self, request: Request) -> None:
        """Refresh once for all: under the cache lock, adopt a token another refresher wrote.

        A cached token equal to the one held is never adopted: it may be the token the server
        just refused (revoked, or a clock ahead of ours), so it is refreshed instead.
        """
        if self._file is None:
            self._refresh_unlocked(request, None)
            return
        held = self.token
        with self._file.lock():
            data = self._file.read()
            if data is None:
                raise LoginRequiredError(f"The cached login in {self._file.path} is gone.")
            self._adopt(data)
            if data.get("token") != held and _token_fresh(data):
                return
            self._refresh_unlocked(request, data)
            data.update(
                token=self.token,
                expiry=to_rfc3339(_epoch(self.expiry) or _clock.now()),
                refresh_token=self.refresh_token,
            )
            self._file.write(data)

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
        try:
            answer = refresh_grant(
                request,
                self._token_uri or GOOGLE_TOKEN_URI,
                form,
                retry=self.refresh_retry,
                kept="the cached login was kept",
            )
        except InvalidGrantError as exc:
            if exc.subtype in REAUTH_SUBTYPES:  # the grant lives; a new sign-in is still needed
                raise
            if data is not None and self._file is not None:
                self._file.delete()
            raise _invalid_grant(data or {}, exc) from None
        self.token = answer.access_token
        self.expiry = _naive_utc(issued + answer.expires_in)
        if answer.refresh_token:  # Google does not rotate; a server that does is followed
            self._refresh_token = answer.refresh_token
        if answer.id_token:
            self._id_token = answer.id_token
        if answer.granted_scopes:
            self._granted_scopes = list(answer.granted_scopes)


def _invalid_grant(data: dict[str, Any], refused: InvalidGrantError) -> InvalidGrantError:
    """Tell a 7-day Testing expiry from a revocation by the refresh token's age."""
    description = refused.description or ""
    who = f" for {data['account']}" if data.get("account") else ""
    said = f" (Google said: {description})" if description else ""
    age = None
    if isinstance(data.get("refresh_token_issued"), str):
        try:
            age = _clock.now() - rfc3339_to_epoch(data["refresh_token_issued"])
        except ValueError:
            age = None
    if age is not None and age >= TESTING_REFRESH_LIFETIME - 3600:
        message = (
            f"The refresh token{who} has expired: it is {age / 86400:.1f} days old, and apps in "
            f"Testing status get refresh tokens that last 7 days{said}. "
            "The cached login was removed."
        )
    else:
        message = (
            f"The refresh token{who} was revoked (in the Google Account's security settings, by "
            f"'gemini-oauth logout', or by a password change){said}. The cached login was removed."
        )
    return InvalidGrantError(
        message,
        error="invalid_grant",
        description=refused.description,
        status=refused.status,
        subtype=refused.subtype,
        hint=refused.hint,
    )


def load_profile(profile: str = "default", *, home: str | Path | None = None) -> CachedCredentials:
    """The cached credentials of a profile; LoginRequiredError if there are none."""
    file = profile_file(profile, home)
    data = file.read()
    if data is None:
        raise LoginRequiredError(
            f"Not logged in (profile {profile!r}).",
            hint=f"Run 'gemini-oauth login{_profile_flag(profile)}'.",
        )
    return CachedCredentials.from_cache(data, file)


def save_login(
    result: LoginResult,
    client: ClientSecret,
    *,
    file: TokenFile,
    quota_project: str | None = None,
) -> None:
    """Write a fresh login to the cache (under its lock), as an authorized_user file."""
    with file.lock():
        old = file.read() or {}
        refresh_token = result.refresh_token
        if not refresh_token and old.get("client_id") == client.client_id:
            refresh_token = old.get("refresh_token")
        if not refresh_token:
            raise LoginError(
                "Google returned no refresh token.",
                hint="Remove this app's access at https://myaccount.google.com/permissions, "
                "then run 'gemini-oauth login' again.",
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
            refresh_token_issued=(
                to_rfc3339(_clock.now())
                if refresh_token == result.refresh_token
                else old.get("refresh_token_issued")
            ),
        )
        file.write(data)


def login_command(profile: str = "default") -> str:
    """What logs a profile in again, for hints: ``gemini-oauth login [--profile NAME]``."""
    return f"gemini-oauth login{_profile_flag(profile)}"


def sign_in(
    client_secret: str | Path | None,
    scopes: str | Iterable[str],
    *,
    command: str = "gemini-oauth login",
    out: TextIO | None = None,
    **flow_options: Any,
) -> tuple[ClientSecret, LoginResult]:
    """Read the client file, say which one and what is asked, then run ``_flow.run_login``.

    The interactive part of ``login()`` and ``_adc.login()``; it saves nothing. Conversation goes
    to ``out`` (stderr). Hints of the errors it raises name ``command``, the login to run again.
    """
    from gemini_oauth._client_secrets import endpoint_warnings, load_client_secret
    from gemini_oauth._flow import run_login

    stream = out if out is not None else sys.stderr
    client = load_client_secret(client_secret)
    wanted = parse_scopes(scopes)
    print(f"Using OAuth client {client.client_id} from {client.path}.", file=stream, flush=True)
    for note in endpoint_warnings(client):
        print(f"warning: {note}", file=stream, flush=True)
    print(f"Asking for: {', '.join(short_name(s) for s in wanted)}.", file=stream, flush=True)
    try:
        return client, run_login(client, wanted, out=stream, **flow_options)
    except GeminiOAuthError as exc:
        exc.hint = exc.hint.replace("gemini-oauth login", command)
        raise


def login(
    client_secret: str | Path | None = None,
    scopes: str | Iterable[str] = QUICKSTART_SCOPES,
    *,
    profile: str = "default",
    file: TokenFile | None = None,
    home: str | Path | None = None,
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
) -> CachedCredentials:
    """Run the browser (or paste) login and cache the result; returns the new credentials.

    The cache is ``file``, else the profile's. Conversation (which client file, what is asked,
    the sign-in address) goes to ``out`` (stderr). ``quota_project`` None keeps the cached one.
    The other options are ``_flow.run_login``'s. The credentials carry what a caller shows:
    ``account``, ``granted_scopes``, ``quota_project_id`` and ``file``.
    """
    if quota_project:
        check_project_id(quota_project)  # before the browser, not after
    target = file or profile_file(profile, home)  # a bad profile name fails before any browser
    held = (target.read() or {}).get("account") or ""  # an untrusted cache fails here too
    command = "gemini-oauth login" if file else login_command(profile)
    client, result = sign_in(
        client_secret,
        scopes,
        command=command,
        out=out,
        no_browser=no_browser,
        port=port,
        timeout=timeout,
        login_hint=login_hint,
        required_scopes=required_scopes,
        open_browser=open_browser,
        prompt_input=prompt_input,
        http=http,
    )
    email_asked = USERINFO_EMAIL in parse_scopes(scopes)
    if held and not login_hint and (result.account or email_asked):  # else it cannot be told
        where = f"profile {profile}" if file is None else str(target.path)
        _keep_account(held, where, client, result, out, prompt_input, http, profile)
    save_login(result, client, file=target, quota_project=quota_project)
    data = target.read()
    if data is None:  # pragma: no cover - we just wrote it
        raise LoginRequiredError(f"The login was not saved to {target.path}.")
    return CachedCredentials.from_cache(data, target)


def _keep_account(
    held: str,
    where: str,
    client: ClientSecret,
    result: LoginResult,
    out: TextIO | None,
    prompt_input: Callable[[str], str] | None,
    http: httpx.Client | None,
    profile: str,
) -> None:
    """A sign-in as another account than the one cached replaces it only if the user says so.

    Asked on the terminal (or ``prompt_input``); without one, refused. A refused sign-in is
    revoked (``_flow.discard``) and AccountMismatchError raised; nothing is saved.
    """
    from gemini_oauth._flow import discard, in_notebook, same_account, shown_account

    if same_account(held, result.account):
        return
    stream = out if out is not None else sys.stderr
    new = result.account or "(an account that was not shared)"
    question = f"You signed in as {new}, but {where} belongs to {held}; replace {held} with {new}?"
    if prompt_input is not None or sys.stdin.isatty() or in_notebook():
        print(question + " [y/N] ", end="", file=stream, flush=True)
        try:
            answer = (prompt_input or (lambda _: input()))("")
        except EOFError:
            answer = ""
        if answer.strip().lower() in ("y", "yes"):
            return
        said = discard(client, result, http)
        raise AccountMismatchError(
            f"Kept {held} in {where}; the sign-in as {shown_account(result.account)} was not "
            f"saved and {said}.",
            expected=held,
            actual=result.account,
            hint=f"Run '{login_command(profile)} --login-hint {held}' to sign in as {held}.",
        )
    said = discard(client, result, http)
    flag = _profile_flag(profile)
    replace = f"--login-hint {result.account}" if result.account else "--login-hint EMAIL"
    raise AccountMismatchError(
        f"You signed in as {shown_account(result.account)}, but {where} belongs to {held}; "
        f"with no terminal to ask on, nothing was saved and {said}.",
        expected=held,
        actual=result.account,
        hint=f"To replace {held}, run '{login_command(profile)} {replace}', or "
        f"'gemini-oauth logout{flag}' first.",
    )


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
    **flow_options: Any,
) -> CachedCredentials:
    """The quickstart's ``load_creds()``, without its failure modes.

    ``client_secret`` (read only to log in) defaults to $GEMINI_OAUTH_CLIENT_SECRET, else
    ./client_secret.json, else the one ./client_secret_*.json; ``token`` to ./token.json.

    Uses ``token`` (or the cache of ``profile``) when it covers ``scopes``; refreshes it when
    expired; logs in when there is no usable token, when the refresh token is dead, or for the
    union of scopes when the cached grant lacks some. ``interactive`` (default: stdin is a TTY, or
    a notebook kernel, where the paste flow runs) False raises LoginRequiredError /
    InvalidGrantError instead of opening a login.
    """
    file = profile_file(profile) if profile else TokenFile(token)
    if quota_project:
        check_project_id(quota_project)
    wanted = parse_scopes(scopes)
    if interactive is None:
        from gemini_oauth._flow import in_notebook

        interactive = sys.stdin.isatty() or in_notebook()
    data = file.read()
    granted = _scope_list(data) if data else []
    reason = "There is no cached login"
    if data is not None:
        missing = [s for s in wanted if granted_form(s) not in granted]
        if not missing:
            creds = CachedCredentials.from_cache(data, file)
            try:
                if not creds.valid:
                    own = _default_request()  # made lazily: costs nothing until used
                    try:
                        creds.refresh(request or own)
                    finally:
                        own.close()
                if quota_project and quota_project != data.get("quota_project_id"):
                    _set_quota_project(file, quota_project)
                    creds = creds.with_quota_project(quota_project)
                return creds
            except (InvalidGrantError, LoginRequiredError) as exc:
                if not interactive:
                    raise
                reason = exc.message
        else:
            reason = f"The cached login lacks {', '.join(missing)}"
        quota_project = quota_project or data.get("quota_project_id")
    if not interactive:
        raise LoginRequiredError(
            f"{reason} in {file.path}, and this is not an interactive session.",
            hint="Run 'gemini-oauth login' in a terminal, or call load_creds(interactive=True).",
        )
    union = [*granted, *(s for s in wanted if granted_form(s) not in granted)]
    return login(
        client_secret,
        union,
        file=file,
        quota_project=quota_project,
        no_browser=no_browser,
        **flow_options,
    )


def _profile_flag(profile: str) -> str:
    return "" if profile == "default" else f" --profile {profile}"


def _set_quota_project(file: TokenFile, quota_project: str) -> None:
    with file.lock():
        data = file.read()
        if data is not None:
            data["quota_project_id"] = quota_project
            file.write(data)


def _default_request() -> HttpxRequest:
    from gemini_oauth._transport import HttpxRequest

    return HttpxRequest()


def revoke_and_delete(
    file: TokenFile, *, client: httpx.Client | None = None
) -> dict[str, Any] | None:
    """Log out (RFC 7009): revoke the refresh token at the server, then delete the cache.

    The rule is ``_token_endpoint.revoke``'s: a 200, or ``invalid_token`` (already dead),
    deletes; anything else keeps the cache and raises RevocationError with the server's reason.
    Returns the data that was removed, or None when there was no login.
    """
    from gemini_oauth._transport import HttpxRequest

    with file.lock():
        data = file.read()
        if data is None:
            return None
        request = HttpxRequest(client)
        try:
            uri = data.get("revoke_uri") or GOOGLE_REVOKE_URI
            revoke(request, uri, data["refresh_token"], kept="the cached login was kept")
        finally:
            request.close()
        file.delete()
        return data
