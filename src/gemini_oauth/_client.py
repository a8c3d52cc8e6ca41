"""The REST clients for the Gemini API over OAuth credentials: GeminiClient and AsyncGeminiClient.

Every request carries ``Authorization: Bearer`` (refreshed before expiry, and once more after a
401) and ``x-goog-user-project`` when a quota project is known. Retries (``_retry``): 408, 429,
5xx and transport errors, with jittered exponential backoff that honours ``Retry-After``, at most
``max_attempts`` attempts and never past ``deadline`` seconds. POSTs are retried as well:
generateContent and countTokens change no server state, so a repeat costs quota at worst; the
one exception is a read timeout on a POST (the model may still be working, a repeat would only
double the wait). A stream is retried only before its first chunk.

``BaseClient`` holds what both share (settings resolved once, headers, the retry policy, error
mapping); the two send loops stay parallel, as httpx's do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from gemini_oauth._api_errors import error_from_response
from gemini_oauth._content_client import AsyncContentMixin, ContentMixin
from gemini_oauth._files_client import AsyncFilesMixin, FilesMixin
from gemini_oauth._request_auth import (
    OAuthHeaders,
    bearer_of,
    caller_context,
    resolve_base_url,
    resolve_credentials,
    resolve_quota_project,
)
from gemini_oauth._retry import Action, Attempts, Decision, Retrying, RetryPolicy
from gemini_oauth._wire import (
    USER_AGENT,
    Contents,
    ModelPage,
    SseDecoder,
    count_body,
    event_error,
    generate_body,
    json_object,
    list_params,
    model_page,
    model_path,
)
from gemini_oauth.errors import ApiError, GeminiOAuthError, LoginRequiredError, NetworkError

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

#: Errors of our own request (a header with a newline, an unknown scheme): never resent.
_LOCAL_ERRORS = (httpx.LocalProtocolError, httpx.UnsupportedProtocol)


class BaseClient:
    """The settings and rules GeminiClient and AsyncGeminiClient share.

    Credentials: explicit, else a profile (named, $GEMINI_OAUTH_PROFILE, or ``default`` if it
    exists), else Application Default Credentials (``adc=True``: ADC only). Quota project:
    explicit (``""`` = none), else $GOOGLE_CLOUD_QUOTA_PROJECT, else the credentials'. Base URL:
    explicit, else $GOOGLE_GEMINI_BASE_URL, else Google's. ``cache``: where profiles are cached
    (a redis:// URL; default $GEMINI_OAUTH_CACHE_URL, else files).
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        profile: str | None = None,
        quota_project: str | None = None,
        base_url: str | None = None,
        api_version: str = "v1",
        timeout: float = 60.0,
        max_attempts: int = 4,
        deadline: float = 30.0,
        initial_backoff: float = 0.5,
        adc: bool = False,
        cache: str | None = None,
        on_retry: Callable[[Retrying], None] | None = None,
    ) -> None:
        creds = resolve_credentials(credentials, profile=profile, adc=adc, cache=cache)
        self._auth = OAuthHeaders(creds, resolve_quota_project(quota_project, creds))
        self._caller = caller_context(creds)
        self._base_url = resolve_base_url(base_url)
        self._api_version = api_version.strip("/")
        self._timeout = timeout
        self._policy = RetryPolicy(
            max_attempts=max(1, max_attempts),
            deadline=deadline,
            initial_backoff=initial_backoff,
            on_retry=on_retry,
        )

    @property
    def credentials(self) -> Credentials:
        """The google-auth credentials every request is authorized with."""
        return self._auth.credentials

    @property
    def quota_project(self) -> str | None:
        """The project sent as ``x-goog-user-project`` (None: none is sent)."""
        return self._auth.quota_project

    @property
    def base_url(self) -> str:
        """The API's origin (and path prefix), without a trailing slash."""
        return self._base_url

    def _url(self, path: str) -> str:
        return f"{self._base_url}/{self._api_version}/{path.lstrip('/')}"

    def _upload_url(self, path: str) -> str:
        """Where uploads start: ``BASE/upload/VERSION/PATH``."""
        return f"{self._base_url}/upload/{self._api_version}/{path.lstrip('/')}"

    @staticmethod
    def _decide(attempts: Attempts, response: httpx.Response) -> Decision:
        # Only an error's body was read; a success may be a stream still to come.
        body = b"" if response.is_success else response.content
        retry_after = response.headers.get("retry-after")
        return attempts.after_response(response.status_code, retry_after, body)

    @staticmethod
    def _after_transport_error(
        attempts: Attempts, exc: httpx.TransportError, method: str
    ) -> Decision:
        # A read timeout on a POST: the model may still be working, a repeat would double it.
        # A local protocol error (a malformed header or URL of ours) would fail the same way.
        repeatable = not (method == "POST" and isinstance(exc, httpx.ReadTimeout)) and not (
            isinstance(exc, _LOCAL_ERRORS)
        )
        return attempts.after_transport_error(repeatable=repeatable, error=type(exc).__name__)

    def _error(self, response: httpx.Response) -> ApiError:
        return error_from_response(
            response.status_code,
            response.content,
            quota_project=self.quota_project,
            secrets=[self.credentials.token or ""],
            caller=self._caller,
            retry_after=response.headers.get("retry-after"),
        )

    @staticmethod
    def _network_error(exc: httpx.TransportError, url: str) -> GeminiOAuthError:
        kind = type(exc).__name__
        if isinstance(exc, _LOCAL_ERRORS):
            return GeminiOAuthError(
                f"The request to {url.split('?')[0]} was not sent: a header or the URL is "
                f"malformed ({kind}).",
                hint="Check the quota project, endpoint and headers given to gemini-oauth.",
            )
        return NetworkError(f"Could not reach {url.split('?')[0]} ({kind}) after retrying.")

    def _check_event(self, event: Any) -> dict[str, Any]:
        failed = event_error(event)
        if failed is not None:
            raise error_from_response(
                *failed, quota_project=self.quota_project, caller=self._caller
            )
        return event if isinstance(event, dict) else {}


# ---------------------------------------------------------------- sync client


class GeminiClient(FilesMixin, ContentMixin, BaseClient):
    """A Gemini API client over OAuth credentials, with one pooled HTTP connection.

    ``sleep`` (default ``time.sleep``) is how the client waits between attempts; ``on_retry`` is
    told of each wait before it starts (a ``Retrying``: ``str()`` of it reads "rate-limited (429);
    retrying in 5 s, attempt 2 of 4").
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        profile: str | None = None,
        quota_project: str | None = None,
        base_url: str | None = None,
        api_version: str = "v1",
        timeout: float = 60.0,
        max_attempts: int = 4,
        deadline: float = 30.0,
        http: httpx.Client | None = None,
        initial_backoff: float = 0.5,
        adc: bool = False,
        sleep: Callable[[float], None] | None = None,
        cache: str | None = None,
        on_retry: Callable[[Retrying], None] | None = None,
    ) -> None:
        super().__init__(
            credentials,
            profile=profile,
            quota_project=quota_project,
            base_url=base_url,
            api_version=api_version,
            timeout=timeout,
            max_attempts=max_attempts,
            deadline=deadline,
            initial_backoff=initial_backoff,
            adc=adc,
            cache=cache,
            on_retry=on_retry,
        )
        if sleep is not None:
            self._policy.sleep = sleep
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=timeout, headers={"user-agent": USER_AGENT})
        self._request: Any = None

    def _auth_request(self) -> Any:
        if self._request is None:
            from gemini_oauth._transport import HttpxRequest

            self._request = HttpxRequest(self._http)
        return self._request

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        stream: bool = False,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url, attempts = url or self._url(path), self._policy.start()
        while True:
            attempts.begin()
            auth = self._auth.headers(self._auth_request(), method, url)
            request = self._http.build_request(
                method,
                url,
                params=params,
                json=body,
                headers={**(headers or {}), **auth},
                timeout=attempts.timeout(self._timeout),
            )
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                decision = self._after_transport_error(attempts, exc, method)
                if decision.action is Action.RAISE:
                    raise self._network_error(exc, url) from None
                attempts.wait(decision.delay)
                continue
            if not response.is_success:
                response.read()
                response.close()
            decision = self._decide(attempts, response)
            if decision.action is Action.RETURN:
                return response
            if decision.action is Action.RAISE:
                raise self._error(response)
            if decision.action is Action.REFRESH:
                try:
                    self._auth.refresh(self._auth_request(), bearer_of(auth))
                except LoginRequiredError:  # not refreshable: the 401 itself says more
                    raise self._error(response) from None
                continue
            attempts.wait(decision.delay)

    def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        response = self._send(method, path, **kw)
        return json_object(response.content, response.status_code)

    def list_models(self, page_size: int | None = None, page_token: str | None = None) -> ModelPage:
        """One page of the models this account can use."""
        return model_page(self._json("GET", "models", params=list_params(page_size, page_token)))

    def iter_models(self, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every model, walking all pages."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = self.list_models(page_size, token)
            yield from page.models
            if not page.next_page_token or page.next_page_token in seen:
                return  # the last page, or a server that cycles its page tokens
            token = page.next_page_token
            seen.add(token)

    def get_model(self, name: str) -> dict[str, Any]:
        """One model by name (``gemini-x`` or ``models/gemini-x``)."""
        return self._json("GET", model_path(name))

    def generate_content(
        self, model: str, contents: Contents, **request_fields: Any
    ) -> dict[str, Any]:
        """``models.generateContent``; extra keyword arguments are request fields (REST names)."""
        return self._json(
            "POST",
            f"{model_path(model)}:generateContent",
            body=generate_body(contents, request_fields),
        )

    def stream_generate_content(
        self, model: str, contents: Contents, **request_fields: Any
    ) -> Iterator[dict[str, Any]]:
        """``models.streamGenerateContent`` over SSE: each chunk as soon as it arrives."""
        response = self._send(
            "POST",
            f"{model_path(model)}:streamGenerateContent",
            params={"alt": "sse"},
            body=generate_body(contents, request_fields),
            stream=True,
        )
        decoder = SseDecoder()
        try:
            for line in response.iter_lines():
                event = decoder.feed(line)
                if event is not None:
                    yield self._check_event(event)
            event = decoder.flush()
            if event is not None:
                yield self._check_event(event)
        except httpx.TransportError as exc:
            raise self._network_error(exc, str(response.url)) from None
        finally:
            response.close()

    def count_tokens(self, model: str, contents: Contents) -> int:
        """``models.countTokens``: the prompt's total tokens."""
        data = self._json("POST", f"{model_path(model)}:countTokens", body=count_body(contents))
        return int(data.get("totalTokens", 0))

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> GeminiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- async client


class AsyncGeminiClient(AsyncFilesMixin, AsyncContentMixin, BaseClient):
    """The async twin of GeminiClient, over one pooled ``httpx.AsyncClient``.

    ``sleep`` (default ``asyncio.sleep``) is how the client waits between attempts; ``on_retry``
    as GeminiClient's.
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        profile: str | None = None,
        quota_project: str | None = None,
        base_url: str | None = None,
        api_version: str = "v1",
        timeout: float = 60.0,
        max_attempts: int = 4,
        deadline: float = 30.0,
        http: httpx.AsyncClient | None = None,
        initial_backoff: float = 0.5,
        adc: bool = False,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        cache: str | None = None,
        on_retry: Callable[[Retrying], None] | None = None,
    ) -> None:
        super().__init__(
            credentials,
            profile=profile,
            quota_project=quota_project,
            base_url=base_url,
            api_version=api_version,
            timeout=timeout,
            max_attempts=max_attempts,
            deadline=deadline,
            initial_backoff=initial_backoff,
            adc=adc,
            cache=cache,
            on_retry=on_retry,
        )
        if sleep is not None:
            self._policy.async_sleep = sleep
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout, headers={"user-agent": USER_AGENT})
        self._sync_http: httpx.Client | None = None
        self._request: Any = None
        self._refresh_lock = asyncio.Lock()

    def _auth_request(self) -> Any:
        # google-auth refreshes synchronously; it gets its own small sync client, run off-loop.
        if self._request is None:
            from gemini_oauth._transport import HttpxRequest

            self._sync_http = httpx.Client(timeout=self._timeout)
            self._request = HttpxRequest(self._sync_http)
        return self._request

    async def _headers(self, method: str, url: str) -> dict[str, str]:
        # Every thread that takes the headers' lock runs under _refresh_lock: holding it, the
        # quick path below never waits on that lock with the event loop's thread.
        async with self._refresh_lock:
            if self._auth.needs_refresh():
                request = self._auth_request()
                return await asyncio.to_thread(self._auth.headers, request, method, url)
            return self._auth.headers(self._auth_request(), method, url)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        stream: bool = False,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url, attempts = url or self._url(path), self._policy.start()
        while True:
            attempts.begin()
            auth = await self._headers(method, url)
            request = self._http.build_request(
                method,
                url,
                params=params,
                json=body,
                headers={**(headers or {}), **auth},
                timeout=attempts.timeout(self._timeout),
            )
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                decision = self._after_transport_error(attempts, exc, method)
                if decision.action is Action.RAISE:
                    raise self._network_error(exc, url) from None
                await attempts.wait_async(decision.delay)
                continue
            if not response.is_success:
                await response.aread()
                await response.aclose()
            decision = self._decide(attempts, response)
            if decision.action is Action.RETURN:
                return response
            if decision.action is Action.RAISE:
                raise self._error(response)
            if decision.action is Action.REFRESH:
                used = bearer_of(auth)
                async with self._refresh_lock:
                    try:
                        await asyncio.to_thread(self._auth.refresh, self._auth_request(), used)
                    except LoginRequiredError:  # not refreshable: the 401 itself says more
                        raise self._error(response) from None
                continue
            await attempts.wait_async(decision.delay)

    async def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        response = await self._send(method, path, **kw)
        return json_object(response.content, response.status_code)

    async def list_models(
        self, page_size: int | None = None, page_token: str | None = None
    ) -> ModelPage:
        """One page of the models this account can use."""
        params = list_params(page_size, page_token)
        return model_page(await self._json("GET", "models", params=params))

    async def iter_models(self, page_size: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every model, walking all pages."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = await self.list_models(page_size, token)
            for model in page.models:
                yield model
            if not page.next_page_token or page.next_page_token in seen:
                return  # the last page, or a server that cycles its page tokens
            token = page.next_page_token
            seen.add(token)

    async def get_model(self, name: str) -> dict[str, Any]:
        """One model by name (``gemini-x`` or ``models/gemini-x``)."""
        return await self._json("GET", model_path(name))

    async def generate_content(
        self, model: str, contents: Contents, **request_fields: Any
    ) -> dict[str, Any]:
        """``models.generateContent``; extra keyword arguments are request fields (REST names)."""
        return await self._json(
            "POST",
            f"{model_path(model)}:generateContent",
            body=generate_body(contents, request_fields),
        )

    async def stream_generate_content(
        self, model: str, contents: Contents, **request_fields: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """``models.streamGenerateContent`` over SSE: each chunk as soon as it arrives."""
        response = await self._send(
            "POST",
            f"{model_path(model)}:streamGenerateContent",
            params={"alt": "sse"},
            body=generate_body(contents, request_fields),
            stream=True,
        )
        decoder = SseDecoder()
        try:
            async for line in response.aiter_lines():
                event = decoder.feed(line)
                if event is not None:
                    yield self._check_event(event)
            event = decoder.flush()
            if event is not None:
                yield self._check_event(event)
        except httpx.TransportError as exc:
            raise self._network_error(exc, str(response.url)) from None
        finally:
            await response.aclose()

    async def count_tokens(self, model: str, contents: Contents) -> int:
        """``models.countTokens``: the prompt's total tokens."""
        path = f"{model_path(model)}:countTokens"
        data = await self._json("POST", path, body=count_body(contents))
        return int(data.get("totalTokens", 0))

    async def aclose(self) -> None:
        """Close the HTTP clients this object created."""
        if self._owns_http:
            await self._http.aclose()
        if self._sync_http is not None:
            self._sync_http.close()

    async def __aenter__(self) -> AsyncGeminiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = ["AsyncGeminiClient", "BaseClient", "GeminiClient", "ModelPage"]
