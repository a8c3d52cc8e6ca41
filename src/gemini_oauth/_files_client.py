"""The Files API as methods GeminiClient and AsyncGeminiClient
inherit (``FilesMixin``, ``AsyncFilesMixin``); they call the clients' own send loop, so every
call has the same retries, refresh-on-401 and quota project.

Uploads follow ``_resumable``: streamed from disk a piece at a time, one chunk per request; after
a dropped connection or a retryable answer the client waits (the retry policy's sleep), asks the
server how much it has (``query``) and sends only the rest. Each chunk gets its own attempts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from gemini_oauth._request_auth import bearer_of
from gemini_oauth._resumable import (
    CHUNK_SIZE,
    QUERY_HEADERS,
    aread_pieces,
    chunk_headers,
    guess_mime_type,
    read_pieces,
    session_url,
    start_body,
    start_headers,
    upload_status,
)
from gemini_oauth._retry import Action, Attempts, Decision, RetryPolicy
from gemini_oauth._wire import (
    FilePage,
    file_page,
    json_object,
    list_params,
    resource_path,
)
from gemini_oauth.errors import ApiError, FileStateError, LoginRequiredError, NetworkError

if TYPE_CHECKING:
    from gemini_oauth._request_auth import OAuthHeaders

#: A callback told (bytes sent so far, total bytes) after each chunk of an upload.
Progress = Callable[[int, int], None]
_POLL_INTERVAL = 2.0


def _file_path(name: str | Mapping[str, Any]) -> str:
    return resource_path("files", str(name["name"]) if isinstance(name, Mapping) else name)


def _final_file(response: httpx.Response) -> dict[str, Any]:
    data = json_object(response.content, response.status_code)
    file = data.get("file", data)
    return file if isinstance(file, dict) else {}


def _check_state(file: dict[str, Any]) -> bool:
    """True once ACTIVE; FileStateError if processing failed."""
    state = file.get("state")
    if state == "FAILED":
        error = (file.get("error") or {}).get("message") or "no reason given"
        raise FileStateError(f"Google could not process {file.get('name')}: {error}")
    return state == "ACTIVE"


class _Shared:
    """What both mixins expect of the client they are mixed into (``BaseClient``)."""

    if TYPE_CHECKING:
        _policy: RetryPolicy
        _auth: OAuthHeaders
        _base_url: str
        _timeout: float

        def _upload_url(self, path: str) -> str: ...
        def _auth_request(self) -> Any: ...
        def _error(self, response: httpx.Response) -> ApiError: ...
        @staticmethod
        def _decide(attempts: Attempts, response: httpx.Response) -> Decision: ...
        @staticmethod
        def _network_error(exc: httpx.TransportError, url: str) -> NetworkError: ...

    def _session(self, started: httpx.Response) -> str:
        given = started.headers.get("x-goog-upload-url")
        if not given:
            raise NetworkError(
                "The upload did not start: the server sent no X-Goog-Upload-URL.",
                hint="Try again; --verbose shows the exchange.",
            )
        return session_url(given, self._base_url)

    @staticmethod
    def _upload_plan(
        path: str | PathLike[str], mime_type: str | None, chunk_size: int
    ) -> tuple[Path, int, str, int]:
        source = Path(path)
        size = source.stat().st_size  # FileNotFoundError / IsADirectoryError as Python says
        if not source.is_file():
            raise IsADirectoryError(f"{source} is not a regular file")
        granule = 256 * 1024
        return source, size, mime_type or guess_mime_type(source), max(granule, chunk_size)


class FilesMixin(_Shared):
    """Files, embeddings and cached contents for GeminiClient."""

    if TYPE_CHECKING:
        _http: httpx.Client

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
        ) -> httpx.Response: ...
        def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]: ...

    # -- files --------------------------------------------------------------------------------

    def upload_file(
        self,
        path: str | PathLike[str],
        *,
        mime_type: str | None = None,
        display_name: str | None = None,
        name: str | None = None,
        chunk_size: int = CHUNK_SIZE,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Upload a file (resumable, streamed from disk); the ``File`` (its ``state`` may be
        PROCESSING: see :meth:`wait_active`). ``mime_type`` defaults to a guess from the name."""
        source, size, mime, chunk_size = self._upload_plan(path, mime_type, chunk_size)
        started = self._send(
            "POST",
            "",
            url=self._upload_url("files"),
            body=start_body(mime, display_name, name),
            headers=start_headers(size, mime),
        )
        url = self._session(started)
        offset, attempts = 0, self._policy.start()
        while True:
            length = min(chunk_size, size - offset)
            attempts.begin()
            auth = self._auth.headers(self._auth_request(), "POST", url)
            try:
                request = self._http.build_request(
                    "POST",
                    url,
                    content=read_pieces(source, offset, length),
                    headers={**chunk_headers(offset, length, offset + length >= size), **auth},
                    timeout=self._timeout,
                )
                response: httpx.Response | None = self._http.send(request)
            except httpx.TransportError as exc:
                decision = attempts.after_transport_error(repeatable=True, error=type(exc).__name__)
                if decision.action is Action.RAISE:
                    raise self._network_error(exc, url) from None
                response = None
            if response is not None and response.is_success:
                status = upload_status(response.headers)
                if status.state == "final":
                    if progress is not None:
                        progress(size, size)
                    return _final_file(response)
                offset = status.received if status.received is not None else offset + length
                attempts = self._policy.start()  # the next chunk has attempts of its own
                if progress is not None:
                    progress(offset, size)
                continue
            if response is not None:
                decision = self._decide(attempts, response)
                if decision.action is Action.RAISE:
                    raise self._error(response)
                if decision.action is Action.REFRESH:
                    try:
                        self._auth.refresh(self._auth_request(), bearer_of(auth))
                    except LoginRequiredError:
                        raise self._error(response) from None
                    continue
            attempts.wait(decision.delay)
            queried = self._send("POST", "", url=url, headers=QUERY_HEADERS)
            status = upload_status(queried.headers)
            if status.state == "final":
                return _final_file(queried)
            offset = status.received if status.received is not None else offset

    def get_file(self, name: str) -> dict[str, Any]:
        """One file by name (``files/abc``, ``abc``, or its ``uri``)."""
        return self._json("GET", _file_path(name))

    def list_files(self, page_size: int | None = None, page_token: str | None = None) -> FilePage:
        """One page of this project's files, newest first."""
        return file_page(self._json("GET", "files", params=list_params(page_size, page_token)))

    def iter_files(self, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every file, walking all pages."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = self.list_files(page_size, token)
            yield from page.files
            if not page.next_page_token or page.next_page_token in seen:
                return
            token = page.next_page_token
            seen.add(token)

    def delete_file(self, name: str) -> None:
        """Delete a file now (uploaded files go by themselves 48 hours after upload)."""
        self._json("DELETE", _file_path(name))

    def wait_active(
        self,
        file: str | Mapping[str, Any],
        *,
        timeout: float = 600.0,
        interval: float = _POLL_INTERVAL,
    ) -> dict[str, Any]:
        """Poll until the file is ACTIVE and return it; FileStateError if it FAILED or is still
        PROCESSING after ``timeout`` seconds. Waits through the retry policy's sleep."""
        name = _file_path(file)
        clock = Attempts(RetryPolicy(deadline=timeout, sleep=self._policy.sleep))
        while True:
            found = self.get_file(name)
            if _check_state(found):
                return found
            if clock.elapsed() + interval > timeout:
                raise FileStateError(
                    f"{name} is still {found.get('state', 'PROCESSING')} after {timeout:g} s."
                )
            clock.wait(interval)

    def register_files(self, uris: Sequence[str]) -> list[dict[str, Any]]:
        """Register Cloud Storage objects (``gs://bucket/object``) as files (``files:register``).

        Needs OAuth with a scope that reads Cloud Storage (cloud-platform, or
        devstorage.read_only), and a bucket whose readers include the Gemini API service agent.
        """
        data = self._json("POST", "files:register", body={"uris": list(uris)})
        return list(data.get("files") or [])


class AsyncFilesMixin(_Shared):
    """The async twin of FilesMixin, for AsyncGeminiClient."""

    if TYPE_CHECKING:
        _http: httpx.AsyncClient

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
        ) -> httpx.Response: ...
        async def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]: ...

        _refresh_lock: asyncio.Lock

        async def _headers(self, method: str, url: str) -> dict[str, str]: ...

    async def upload_file(
        self,
        path: str | PathLike[str],
        *,
        mime_type: str | None = None,
        display_name: str | None = None,
        name: str | None = None,
        chunk_size: int = CHUNK_SIZE,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Upload a file (resumable, streamed from disk); the ``File``."""
        source, size, mime, chunk_size = self._upload_plan(path, mime_type, chunk_size)
        started = await self._send(
            "POST",
            "",
            url=self._upload_url("files"),
            body=start_body(mime, display_name, name),
            headers=start_headers(size, mime),
        )
        url = self._session(started)
        offset, attempts = 0, self._policy.start()
        while True:
            length = min(chunk_size, size - offset)
            attempts.begin()
            auth = await self._headers("POST", url)
            try:
                request = self._http.build_request(
                    "POST",
                    url,
                    content=aread_pieces(source, offset, length),
                    headers={**chunk_headers(offset, length, offset + length >= size), **auth},
                    timeout=self._timeout,
                )
                response: httpx.Response | None = await self._http.send(request)
            except httpx.TransportError as exc:
                decision = attempts.after_transport_error(repeatable=True, error=type(exc).__name__)
                if decision.action is Action.RAISE:
                    raise self._network_error(exc, url) from None
                response = None
            if response is not None and response.is_success:
                status = upload_status(response.headers)
                if status.state == "final":
                    if progress is not None:
                        progress(size, size)
                    return _final_file(response)
                offset = status.received if status.received is not None else offset + length
                attempts = self._policy.start()
                if progress is not None:
                    progress(offset, size)
                continue
            if response is not None:
                decision = self._decide(attempts, response)
                if decision.action is Action.RAISE:
                    raise self._error(response)
                if decision.action is Action.REFRESH:
                    async with self._refresh_lock:
                        try:
                            await asyncio.to_thread(
                                self._auth.refresh, self._auth_request(), bearer_of(auth)
                            )
                        except LoginRequiredError:
                            raise self._error(response) from None
                    continue
            await attempts.wait_async(decision.delay)
            queried = await self._send("POST", "", url=url, headers=QUERY_HEADERS)
            status = upload_status(queried.headers)
            if status.state == "final":
                return _final_file(queried)
            offset = status.received if status.received is not None else offset

    async def get_file(self, name: str) -> dict[str, Any]:
        """One file by name (``files/abc``, ``abc``, or its ``uri``)."""
        return await self._json("GET", _file_path(name))

    async def list_files(
        self, page_size: int | None = None, page_token: str | None = None
    ) -> FilePage:
        """One page of this project's files, newest first."""
        params = list_params(page_size, page_token)
        return file_page(await self._json("GET", "files", params=params))

    async def iter_files(self, page_size: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every file, walking all pages."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = await self.list_files(page_size, token)
            for file in page.files:
                yield file
            if not page.next_page_token or page.next_page_token in seen:
                return
            token = page.next_page_token
            seen.add(token)

    async def delete_file(self, name: str) -> None:
        """Delete a file now."""
        await self._json("DELETE", _file_path(name))

    async def wait_active(
        self,
        file: str | Mapping[str, Any],
        *,
        timeout: float = 600.0,
        interval: float = _POLL_INTERVAL,
    ) -> dict[str, Any]:
        """Poll until the file is ACTIVE and return it (see GeminiClient.wait_active)."""
        name = _file_path(file)
        clock = Attempts(RetryPolicy(deadline=timeout, async_sleep=self._policy.async_sleep))
        while True:
            found = await self.get_file(name)
            if _check_state(found):
                return found
            if clock.elapsed() + interval > timeout:
                raise FileStateError(
                    f"{name} is still {found.get('state', 'PROCESSING')} after {timeout:g} s."
                )
            await clock.wait_async(interval)

    async def register_files(self, uris: Sequence[str]) -> list[dict[str, Any]]:
        """Register Cloud Storage objects as files (see GeminiClient.register_files)."""
        data = await self._json("POST", "files:register", body={"uris": list(uris)})
        return list(data.get("files") or [])


__all__ = ["AsyncFilesMixin", "FilesMixin", "Progress"]
