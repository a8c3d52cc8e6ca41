"""Authenticating a Gemini request: whose credentials, which quota project, which endpoint, and
the headers they give (``Authorization: Bearer``, ``x-goog-user-project``).

Shared by the REST clients (``_client``), the google-genai adapter (``_genai``) and the CLI's
``curl``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gemini_oauth._constants import (
    BASE_URL_ENV,
    CREDENTIALS_ENV,
    GEMINI_BASE_URL,
    PROFILE_ENV,
    QUOTA_PROJECT_ENV,
    is_loopback_host,
)
from gemini_oauth._token_endpoint import from_google_auth
from gemini_oauth.errors import AdcError, GeminiOAuthError, LoginRequiredError
from gemini_oauth.scopes import CLOUD_PLATFORM

if TYPE_CHECKING:
    from google.auth.credentials import Credentials


def resolve_credentials(
    credentials: Credentials | None = None, *, profile: str | None = None, adc: bool = False
) -> Credentials:
    """Explicit credentials, else a gemini-oauth profile (named or default), else ADC."""
    if credentials is not None:
        return credentials
    if not adc:
        from gemini_oauth import _credentials as creds_mod

        name = profile or os.environ.get(PROFILE_ENV) or None
        try:
            return creds_mod.load_profile(name or "default")
        except LoginRequiredError:  # no such profile: ADC, unless one was named
            if name is not None:
                raise
    return _adc()


def _adc() -> Credentials:
    """Application Default Credentials, found as gcloud and google-auth find them (see _adc.py)."""
    from gemini_oauth._adc import adc_path, default_credentials

    try:
        return default_credentials([CLOUD_PLATFORM])[0]
    except AdcError:
        if os.environ.get(CREDENTIALS_ENV) or adc_path().exists():
            raise  # there is something to fix in what was found
        raise AdcError(
            "No gemini-oauth profile and no Application Default Credentials were found.",
            hint="Run 'gemini-oauth login' (or 'gemini-oauth adc login'), then try again.",
        ) from None


def resolve_quota_project(explicit: str | None, credentials: Credentials) -> str | None:
    """Explicit argument (``""`` means none), else $GOOGLE_CLOUD_QUOTA_PROJECT, else the creds'."""
    if explicit is not None:
        return explicit or None
    return os.environ.get(QUOTA_PROJECT_ENV) or (
        getattr(credentials, "quota_project_id", None) or None
    )


def resolve_base_url(explicit: str | None) -> str:
    """Explicit argument, else $GOOGLE_GEMINI_BASE_URL, else Google's endpoint."""
    url = (explicit or os.environ.get(BASE_URL_ENV) or GEMINI_BASE_URL).rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise GeminiOAuthError(
            f"The API base URL {url!r} does not start with https:// or http://.",
            hint=f"Pass --endpoint {GEMINI_BASE_URL} (or fix GOOGLE_GEMINI_BASE_URL).",
        )
    host = urlsplit(url).hostname or ""
    if url.startswith("http://") and not is_loopback_host(host):
        raise GeminiOAuthError(
            f"The API base URL {url!r} is plain http to another machine: the access token would "
            "cross the network in clear text.",
            hint="Use https://, or http:// only to 127.0.0.1, [::1] or localhost (an emulator).",
        )
    return url


def oauth_credentials(
    credentials: Credentials | None = None,
    *,
    profile: str | None = None,
    quota_project: str | None = None,
    adc: bool = False,
) -> Credentials:
    """The google-auth credentials gemini-oauth calls Gemini with, valid now, carrying the quota
    project it would send: what APIs that take credentials want, in one line.

    ``client.files.register_files(auth=gemini_oauth.oauth_credentials(), uris=[...])``: the SDK
    reads ``token`` and ``quota_project_id`` from them. Resolution as for ``GeminiClient``.
    """
    from gemini_oauth._transport import HttpxRequest

    creds = resolve_credentials(credentials, profile=profile, adc=adc)
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
                raise from_google_auth(exc, self.credentials) from None
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
                raise from_google_auth(exc, self.credentials) from None

    def needs_refresh(self) -> bool:
        """True when the next request would have to refresh first (blocking I/O)."""
        return not self.credentials.valid


def bearer_of(headers: Mapping[str, str]) -> str:
    """The token in an ``Authorization: Bearer`` header ('' if none)."""
    value = headers.get("authorization") or headers.get("Authorization") or ""
    return value[7:] if value.lower().startswith("bearer ") else ""


__all__ = [
    "OAuthHeaders",
    "bearer_of",
    "oauth_credentials",
    "resolve_base_url",
    "resolve_credentials",
    "resolve_quota_project",
]
