"""google.auth.transport.Request over one httpx.Client (google-auth ships none for sync httpx)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from google.auth import exceptions, transport

DEFAULT_TIMEOUT = 30.0


class HttpxResponse(transport.Response):
    """google-auth's view of an httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxRequest(transport.Request):
    """Make google-auth's HTTP calls (token refresh) with httpx; errors become TransportError."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._client = client
        self._owned = client is None

    @property
    def client(self) -> httpx.Client:
        """The httpx client, made on first use (a TLS context costs tens of milliseconds)."""
        if self._client is None:
            self._client = httpx.Client(timeout=DEFAULT_TIMEOUT)
        return self._client

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> HttpxResponse:
        try:
            response = self.client.request(
                method,
                url,
                content=body,
                headers=headers,
                timeout=timeout if timeout is not None else self.client.timeout,
            )
        except httpx.HTTPError as exc:
            # The text names the exception class and the OS reason, never the request body.
            raise exceptions.TransportError(  # type: ignore[no-untyped-call]
                f"{type(exc).__name__}: {exc}"
            ) from None
        return HttpxResponse(response)

    def close(self) -> None:
        """Close the client if this object made it."""
        if self._owned and self._client is not None:
            self._client.close()
            self._client = None
