"""Authenticating a Gemini request: whose credentials, which quota project, which endpoint, and
the headers they give (``Authorization: Bearer``, ``x-goog-user-project``).

Shared by the REST clients (``_client``), the google-genai adapter (``_genai``) and the CLI's
``curl``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gemini_oauth._constants import (
    BASE_URL_ENV,
    CREDENTIALS_ENV,
    GEMINI_BASE_URL,
    QUOTA_PROJECT_ENV,
)
from gemini_oauth._project import check_project_id
from gemini_oauth._token_endpoint import (
    ANY_CONTEXT,
    GOOGLE_AUTH_CONTEXT,
    GrantContext,
    from_google_auth,
)
from gemini_oauth._urls import checked_url, host_of, is_local_host
from gemini_oauth.errors import (
    AdcError,
    CacheError,
    GeminiOAuthError,
    NetworkError,
    QuotaProjectError,
    TokenEndpointError,
)
from gemini_oauth.scopes import CLOUD_PLATFORM

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

log = logging.getLogger(__name__)


def resolve_credentials(
    credentials: Credentials | None = None,
    *,
    profile: str | None = None,
    adc: bool = False,
    notice: Callable[[str], None] | None = None,
    cache: str | None = None,
) -> Credentials:
    """Explicit credentials, else a gemini-oauth profile (named or default), else ADC.

    A profile is named by ``profile``, $GEMINI_OAUTH_PROFILE or ``gemini-oauth profiles use``,
    and read from the cache URL ``cache`` (else $GEMINI_OAUTH_CACHE_URL), else from its file.

    ADC is used unasked only when no profile is named, no cache URL is in force and no
    ``default`` profile exists (a profile whose login ended is reported, not skipped);
    ``notice`` is then told, once, which source and account that is.
    """
    if credentials is not None:
        return credentials
    if not adc:
        from gemini_oauth import _credentials as creds_mod
        from gemini_oauth._cache_backend import profile_record, selected_url
        from gemini_oauth._store import chosen_profile

        name = profile or chosen_profile()
        shared = selected_url(cache) is not None  # a fleet's cache: never ADC behind its back
        if name is not None or shared or profile_record("default", cache=cache).read() is not None:
            return creds_mod.load_profile(name or "default", cache=cache)
    creds = _adc(asked=adc)
    if not adc and notice is not None:
        notice(_fallback_note(creds))
    return creds


def _fallback_note(credentials: Credentials) -> str:
    from gemini_oauth._adc_status import find_source

    source = find_source(probe_metadata=False)
    email = getattr(credentials, "service_account_email", None)
    who = f" ({email})" if isinstance(email, str) and "@" in email else ""
    what = source.describe() if source is not None else f"the metadata server{who}"
    return (
        f"note: no gemini-oauth login (profile 'default'), so Application Default Credentials "
        f"are used: {what}. Run 'gemini-oauth login' to use a login of your own."
    )


def _adc(*, asked: bool = False) -> Credentials:
    """Application Default Credentials, found as gcloud and google-auth find them (see _adc.py);
    ``asked``: the caller chose ADC (``--adc``), so a missing file is only about ADC."""
    from gemini_oauth._adc import adc_path, default_credentials

    try:
        return default_credentials([CLOUD_PLATFORM])[0]
    except AdcError:
        if asked or os.environ.get(CREDENTIALS_ENV) or adc_path().exists():
            raise  # there is something to fix in what was found, or ADC was asked for
        raise AdcError(
            "No gemini-oauth profile and no Application Default Credentials were found.",
            hint="Run 'gemini-oauth login' (or 'gemini-oauth adc login'), then try again.",
        ) from None


def resolve_quota_project(explicit: str | None, credentials: Credentials) -> str | None:
    """Explicit argument (``""`` means none), else $GOOGLE_CLOUD_QUOTA_PROJECT, else the creds'.

    Whichever is used must be a project id (``_project.check_project_id``): it becomes a header.
    """
    if explicit is not None:
        return check_project_id(explicit) if explicit else None
    if os.environ.get(QUOTA_PROJECT_ENV):
        return check_project_id(os.environ[QUOTA_PROJECT_ENV], source=f"${QUOTA_PROJECT_ENV}")
    stored = getattr(credentials, "quota_project_id", None)
    if not stored:
        return None
    file = getattr(credentials, "file", None)
    where = f"the cached login {file.location}" if file is not None else "these credentials"
    return check_project_id(
        stored,
        source=f"The quota project of {where}",
        error=CacheError if file is not None else QuotaProjectError,
        hint=f'Fix or remove "quota_project_id" in {file.location}, or pass --quota-project ID.'
        if file is not None
        else "Set a valid quota project on the credentials, or pass quota_project=ID.",
    )


def resolve_base_url(explicit: str | None) -> str:
    """Explicit argument, else $GOOGLE_GEMINI_BASE_URL, else Google's endpoint.

    The URL rule is ``_urls.checked_url``'s, without a query; a host that is neither
    ``*.googleapis.com`` nor this machine gets the bearer token too, so it is warned about.
    """
    url = (explicit or os.environ.get(BASE_URL_ENV) or GEMINI_BASE_URL).rstrip("/")
    if not url.lower().startswith(("https://", "http://")):
        raise GeminiOAuthError(
            f"The API base URL {url!r} does not start with https:// or http://.",
            hint=f"Pass --endpoint {GEMINI_BASE_URL} (or fix {BASE_URL_ENV}).",
        )
    try:
        checked = checked_url(url, query=False).rstrip("/")
    except ValueError as exc:
        raise GeminiOAuthError(
            f"The API base URL {url!r} cannot be used: {exc}.",
            hint="Use https://, or http:// only to 127.0.0.1, [::1] or localhost (an emulator): "
            f"--endpoint {GEMINI_BASE_URL} (or fix {BASE_URL_ENV}).",
        ) from None
    host = host_of(checked)
    if not (host.endswith(".googleapis.com") or is_local_host(host)):
        log.warning(
            "The API base URL %s is neither Google's (*.googleapis.com) nor this machine; "
            "your access token is sent there.",
            checked,
        )
    return checked


def oauth_credentials(
    credentials: Credentials | None = None,
    *,
    profile: str | None = None,
    quota_project: str | None = None,
    adc: bool = False,
    cache: str | None = None,
) -> Credentials:
    """The google-auth credentials gemini-oauth calls Gemini with, valid now, carrying the quota
    project it would send: what APIs that take credentials want, in one line.

    ``client.files.register_files(auth=gemini_oauth.oauth_credentials(), uris=[...])``: the SDK
    reads ``token`` and ``quota_project_id`` from them. Resolution as for ``GeminiClient``.
    """
    from gemini_oauth._transport import HttpxRequest

    creds = resolve_credentials(credentials, profile=profile, adc=adc, cache=cache)
    project = resolve_quota_project(quota_project, creds)
    if project != getattr(creds, "quota_project_id", None) and hasattr(creds, "with_quota_project"):
        creds = creds.with_quota_project(project)
    if not creds.valid:
        request = HttpxRequest()
        try:
            OAuthHeaders(creds, project).refresh(request, creds.token)
        finally:
            request.close()
    return creds


class OAuthHeaders:
    """Bearer and quota-project headers from google-auth credentials, refreshed when needed.

    Thread-safe: one lock serialises refreshes, and a 401 refreshes only if nobody else has.
    Refresh failures become our errors through ``_token_endpoint.from_google_auth``.
    """

    def __init__(self, credentials: Credentials, quota_project: str | None) -> None:
        self.credentials = credentials
        self.quota_project = quota_project
        self._lock = threading.Lock()

    def headers(self, request: Any, method: str = "GET", url: str = "") -> dict[str, str]:
        """Auth headers, refreshing first when the token is missing or about to expire."""
        headers: dict[str, str] = {}
        with self._lock:
            try:
                self.credentials.before_request(request, method, url, headers)  # type: ignore[no-untyped-call]
            except Exception as exc:
                raise _for_api(from_google_auth(exc, self.credentials)) from None
        headers.pop("x-goog-user-project", None)
        if self.quota_project:
            headers["x-goog-user-project"] = self.quota_project
        return headers

    def refresh(self, request: Any, used_token: str | None) -> None:
        """Refresh after a 401, unless another caller already replaced the token."""
        with self._lock:
            if self.credentials.token != used_token:
                return
            try:
                self.credentials.refresh(request)  # type: ignore[no-untyped-call]
            except Exception as exc:
                raise _for_api(from_google_auth(exc, self.credentials)) from None

    def needs_refresh(self) -> bool:
        """True when the next request would have to refresh first (blocking I/O)."""
        return not self.credentials.valid


def caller_context(credentials: Credentials) -> GrantContext:
    """Whose login is behind a call: a saved login's or ADC's own context; credentials of
    google-auth's (a service account, the metadata server) are ADC's."""
    from google.oauth2.credentials import Credentials as UserCredentials

    context = getattr(credentials, "context", None)
    if isinstance(context, GrantContext):
        return context
    return ANY_CONTEXT if isinstance(credentials, UserCredentials) else GOOGLE_AUTH_CONTEXT


def _for_api(error: GeminiOAuthError) -> GeminiOAuthError:
    """During an API call, a token endpoint that failed to answer is an outage of the call's own
    path (exit 4, as an unreachable API), not a login that is needed (3)."""
    if isinstance(error, TokenEndpointError) and error.transient:
        error.exit_code = NetworkError.exit_code
    return error


def bearer_of(headers: Mapping[str, str]) -> str:
    """The token in an ``Authorization: Bearer`` header ('' if none)."""
    value = headers.get("authorization") or headers.get("Authorization") or ""
    return value[7:] if value.lower().startswith("bearer ") else ""


__all__ = [
    "OAuthHeaders",
    "bearer_of",
    "caller_context",
    "oauth_credentials",
    "resolve_base_url",
    "resolve_credentials",
    "resolve_quota_project",
]
