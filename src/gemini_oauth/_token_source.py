"""Fresh access tokens from one login, refreshed once for every caller: what the metadata server
and ``gemini-oauth exec`` hand out. Only access tokens leave it, never the refresh token.

A profile refreshes through ``CachedCredentials`` (single-flight across processes through the
cache's lock); user ADC (an ``authorized_user`` file) is wrapped the same way without a cache, so
that its refresh answers tell which scopes the grant holds; any other credentials (a service
account key, a metadata server) refresh through google-auth. One lock serialises refreshes here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timezone
from typing import TYPE_CHECKING, Any

from gemini_oauth import _clock
from gemini_oauth._constants import REFRESH_MARGIN, UNIVERSE_DOMAIN
from gemini_oauth._credentials import CachedCredentials, login_command
from gemini_oauth._project import check_project_id
from gemini_oauth._token_endpoint import ADC_LOGIN, GrantContext, from_google_auth
from gemini_oauth.scopes import granted_form

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    from gemini_oauth._transport import HttpxRequest


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when it expires (epoch seconds)."""

    token: str
    expires_at: float

    def expires_in(self) -> int:
        """Whole seconds left, as the metadata server and ``--json`` report them."""
        return max(0, int(self.expires_at - _clock.now()))


class TokenSource:
    """Access tokens of one set of credentials, valid beyond REFRESH_MARGIN when handed out."""

    def __init__(self, credentials: Credentials, *, description: str, sign_in: str) -> None:
        #: Whose tokens these are, for messages: "profile 'default' (you@example.com)".
        self.description = description
        #: The command that signs in again, for hints: "'gemini-oauth login --profile work'".
        self.sign_in = sign_in
        self._credentials = _with_our_refresh(credentials)
        self._lock = threading.Lock()
        self._request: HttpxRequest | None = None

    @classmethod
    def resolve(
        cls, profile: str | None = None, *, adc: bool = False, cache: str | None = None
    ) -> TokenSource:
        """A named profile, else $GEMINI_OAUTH_PROFILE, else the one ``profiles use`` chose, else
        'default' if it exists, else ADC.

        Profiles are read from the cache URL ``cache`` (else $GEMINI_OAUTH_CACHE_URL), else files.
        """
        from gemini_oauth._credentials import load_profile
        from gemini_oauth._request_auth import resolve_credentials

        if not adc:
            from gemini_oauth._cache_backend import profile_record, selected_url
            from gemini_oauth._store import chosen_profile

            name = profile or chosen_profile()
            # ADC only when no 'default' exists: one whose sign-in ended is reported, not skipped
            shared = selected_url(cache) is not None  # and never behind a fleet's cache
            if name or shared or profile_record("default", cache=cache).read() is not None:
                creds = load_profile(name or "default", cache=cache)
                who = f" ({creds.account})" if creds.account else ""
                return cls(
                    creds,
                    description=f"profile {name or 'default'!r}{who}",
                    sign_in=f"'{login_command(name or 'default', cache)}'",
                )
        source = cls(resolve_credentials(adc=True), description="", sign_in=ADC_LOGIN)
        who = f" ({source.account})" if source.account else ""
        source.description = f"Application Default Credentials{who}"
        return source

    # ---------------------------------------------------------------- what the grant is

    @property
    def account(self) -> str | None:
        """The signed-in account's email, or the service account's; None when unknown."""
        creds = self._credentials
        found = getattr(creds, "account", None) or getattr(creds, "service_account_email", None)
        return found if isinstance(found, str) and "@" in found else None

    @property
    def quota_project(self) -> str | None:
        """The grant's quota project, held to the one project-id rule (other programs get it)."""
        value = getattr(self._credentials, "quota_project_id", None) or None
        return None if value is None else check_project_id(value)

    @property
    def client_id(self) -> str | None:
        """The OAuth client's id (public for installed apps), when the credentials have one."""
        found = getattr(self._credentials, "client_id", None)
        return found if isinstance(found, str) and found else None

    @property
    def client_project_number(self) -> str | None:
        """The project that owns the OAuth client: a client id starts with its number."""
        client_id = getattr(self._credentials, "client_id", None) or ""
        number = client_id.split("-", 1)[0]
        return number if "-" in client_id and number.isdigit() else None

    @property
    def project_id(self) -> str | None:
        """The quota project, else the OAuth client's project (the one Google bills then)."""
        return self.quota_project or self.client_project_number

    @property
    def universe_domain(self) -> str:
        return str(getattr(self._credentials, "universe_domain", None) or UNIVERSE_DOMAIN)

    def scopes(self) -> tuple[str, ...]:
        """The scopes the grant holds (full URLs); user ADC learns them from its first refresh."""
        found = self._known_scopes()
        if found is None:
            self.token()
            found = self._known_scopes()
        return found or ()

    def _known_scopes(self) -> tuple[str, ...] | None:
        creds = self._credentials
        found = getattr(creds, "granted_scopes", None) or getattr(creds, "scopes", None)
        return tuple(granted_form(s) for s in found) if found else None

    # ---------------------------------------------------------------- tokens

    def token(self, min_left: float = REFRESH_MARGIN) -> AccessToken:
        """A token with more than ``min_left`` seconds left; refreshes (once for all callers)
        if not."""
        with self._lock:
            creds = self._credentials
            if not creds.token or _left(creds) <= min_left:
                self._refresh()
            expiry = creds.expiry
            expires_at = (
                expiry.replace(tzinfo=timezone.utc).timestamp()
                if expiry is not None
                else _clock.now() + REFRESH_MARGIN  # no expiry told: refreshed at every ask
            )
            return AccessToken(str(creds.token), expires_at)

    def _refresh(self) -> None:
        if self._request is None:
            from gemini_oauth._transport import HttpxRequest

            self._request = HttpxRequest()
        try:
            self._credentials.refresh(self._request)  # type: ignore[no-untyped-call]
        except Exception as exc:
            context = GrantContext(login=self.sign_in.strip("'"), source=self.description)
            raise from_google_auth(exc, self._credentials, context=context) from None

    def close(self) -> None:
        """Close the HTTP client used for refreshes."""
        with self._lock:
            if self._request is not None:
                self._request.close()
                self._request = None


def _left(creds: Any) -> float:
    """Seconds the held token has left (0 without an expiry: refresh at every ask)."""
    if creds.expiry is None:
        return 0.0
    return float(creds.expiry.replace(tzinfo=timezone.utc).timestamp() - _clock.now())


def _with_our_refresh(creds: Credentials) -> Credentials:
    """User ADC as ``CachedCredentials`` without a cache: its refresh keeps the granted scopes
    (google-auth drops them when it asked for none) and retries what Google says to retry."""
    from google.oauth2.credentials import Credentials as UserCredentials

    if type(creds) is not UserCredentials or not creds.refresh_token:
        return creds
    return CachedCredentials(
        None,
        refresh_token=creds.refresh_token,
        token_uri=creds.token_uri,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        quota_project_id=creds.quota_project_id,
        universe_domain=creds.universe_domain,
        account=creds.account or "",
        rapt_token=creds.rapt_token,
    )


__all__ = ["AccessToken", "TokenSource"]
