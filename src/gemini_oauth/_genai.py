"""``genai_client()``: a real ``google.genai.Client`` for the Gemini Developer API, over OAuth.

google-genai refuses to build a Developer API client without an API key, and its
``credentials=`` applies to Vertex AI only. The way around it uses public options alone:

1. We pass ``api_key=API_KEY_PLACEHOLDER`` (not a key; it satisfies the constructor) and
   ``vertexai=False``, so environment keys and Vertex settings are ignored.
2. We hand the SDK our own ``httpx.Client`` / ``httpx.AsyncClient`` through
   ``HttpOptions(httpx_client=..., httpx_async_client=...)``, both built with ``auth=OAuthAuth``.
   That ``httpx.Auth`` removes the placeholder ``x-goog-api-key`` header from every request, sets
   ``Authorization: Bearer <token>`` (refreshed before expiry) and ``x-goog-user-project``, and
   after a 401 refreshes once and resends. Sync, async and streaming calls all go through it.
   A request that already carries ``Authorization`` keeps it (and its ``x-goog-user-project``):
   that is ``files.register_files(auth=...)``, whose credentials the SDK applied itself; only the
   placeholder key goes, which otherwise makes Google answer 401 OVERLOADED_CREDENTIALS.

Nothing inside the SDK is patched. The Live API (websockets) does not use the httpx clients
and is not covered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any

import httpx

from gemini_oauth._extras import install_hint
from gemini_oauth._request_auth import (
    OAuthHeaders,
    bearer_of,
    resolve_base_url,
    resolve_credentials,
    resolve_quota_project,
)
from gemini_oauth._wire import USER_AGENT
from gemini_oauth.errors import GeminiOAuthError

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.genai import Client

#: What google-genai gets as its "API key"; OAuthAuth strips it, so it never leaves the process.
API_KEY_PLACEHOLDER = "gemini-oauth-placeholder-not-a-key"


class OAuthAuth(httpx.Auth):
    """httpx auth that replaces any API key with the OAuth bearer token and quota project."""

    requires_request_body = True  # the body is resent after a 401 refresh

    def __init__(self, oauth: OAuthHeaders, timeout: float = 30.0) -> None:
        self.oauth = oauth
        self._timeout = timeout
        self._request: Any = None

    def _auth_request(self) -> Any:
        # A plain client of its own: a client carrying this auth would authorize the token call.
        if self._request is None:
            from gemini_oauth._transport import HttpxRequest

            self._request = HttpxRequest(httpx.Client(timeout=self._timeout))
        return self._request

    def _apply(self, request: httpx.Request, headers: dict[str, str]) -> None:
        request.headers.pop("x-goog-api-key", None)
        request.headers.pop("x-goog-user-project", None)
        request.headers.update(headers)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        if "authorization" in request.headers:  # the caller's own credentials (register_files)
            request.headers.pop("x-goog-api-key", None)
            yield request
            return
        headers = self.oauth.headers(self._auth_request(), request.method, str(request.url))
        self._apply(request, headers)
        response = yield request
        if response.status_code == 401:
            self.oauth.refresh(self._auth_request(), bearer_of(headers))
            self._apply(request, self.oauth.headers(self._auth_request()))
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if "authorization" in request.headers:  # the caller's own credentials (register_files)
            request.headers.pop("x-goog-api-key", None)
            yield request
            return
        # Always off the loop: the headers' lock may be held by a refresh in another thread.
        auth, method, url = self._auth_request(), request.method, str(request.url)
        headers = await asyncio.to_thread(self.oauth.headers, auth, method, url)
        self._apply(request, headers)
        response = yield request
        if response.status_code == 401:
            await asyncio.to_thread(self.oauth.refresh, auth, bearer_of(headers))
            self._apply(request, await asyncio.to_thread(self.oauth.headers, auth))
            yield request


def genai_client(
    credentials: Credentials | None = None,
    *,
    profile: str | None = None,
    quota_project: str | None = None,
    base_url: str | None = None,
    api_version: str | None = None,
    adc: bool = False,
    cache: str | None = None,
    **http_options: Any,
) -> Client:
    """A ``google.genai.Client`` for the Gemini Developer API, authorized by OAuth.

    Credentials, quota project and base URL resolve as for ``GeminiClient``. Extra keyword
    arguments become ``google.genai.types.HttpOptions`` fields (``timeout`` in ms,
    ``retry_options``, ``headers``...).
    """
    try:
        from google import genai
        from google.genai import types
    except ImportError:
        raise GeminiOAuthError(
            "google-genai is not installed.",
            hint=install_hint("genai"),
        ) from None
    creds = resolve_credentials(credentials, profile=profile, adc=adc, cache=cache)
    auth = OAuthAuth(OAuthHeaders(creds, resolve_quota_project(quota_project, creds)))
    timeout = httpx.Timeout(60.0, connect=15.0)
    agent = {"user-agent": USER_AGENT}
    options = types.HttpOptions(
        base_url=resolve_base_url(base_url) + "/",
        api_version=api_version,
        httpx_client=httpx.Client(auth=auth, timeout=timeout, headers=agent),
        httpx_async_client=httpx.AsyncClient(auth=auth, timeout=timeout, headers=agent),
        **http_options,
    )
    return genai.Client(vertexai=False, api_key=API_KEY_PLACEHOLDER, http_options=options)


__all__ = ["API_KEY_PLACEHOLDER", "OAuthAuth", "genai_client"]
