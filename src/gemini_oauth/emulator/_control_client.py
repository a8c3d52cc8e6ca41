"""``EmulatorControl``: a Python client of the control surface under ``/__emulator__/``, over HTTP.

It speaks to a running emulator in this process or another (``gemini-oauth emulator``); the routes
it calls are in ``_control.py``. Needs only httpx.
"""

from __future__ import annotations

import base64
import functools
import ssl
from typing import Any

import httpx

from gemini_oauth.emulator._constants import CONTROL_HEADER, CONTROL_PREFIX, DEFAULT_USER


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One per process: building one per client costs ~0.1 s (the emulator speaks plain http)."""
    return ssl.create_default_context()


class EmulatorControl:
    """A Python client of the control surface, over HTTP (httpx)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.base_url}{CONTROL_PREFIX}/",
            timeout=timeout,
            verify=_ssl_context(),
            headers={CONTROL_HEADER: "1"},  # what a cross-site request cannot send
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            raise ValueError(f"emulator control {path}: {response.status_code} {response.text}")
        return response.json()

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock forward; returns its new ``now``."""
        return float(self._call("POST", "clock/advance", {"seconds": seconds})["now"])

    def reset(self) -> None:
        self._call("POST", "reset")

    def add_fault(
        self,
        path: str,
        status: int | None = None,
        *,
        count: int | None = 1,
        retry_after: float | None = None,
        latency: float = 0.0,
        drop: bool = False,
        body: dict[str, Any] | None = None,
        drop_after: int | None = None,
    ) -> None:
        """Make the next ``count`` requests under ``path`` fail (``count=None``: until cleared).

        ``drop_after``: an upload chunk's connection is cut after that many of its bytes arrived.
        """
        fault = {"path": path, "status": status, "count": count, "retry_after": retry_after}
        extra = {"latency": latency, "drop": drop, "body": body, "drop_after": drop_after}
        self._call("POST", "faults", {**fault, **extra})

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def counters(self) -> dict[str, int]:
        return dict(self._call("GET", "counters"))

    def state(self) -> dict[str, Any]:
        return dict(self._call("GET", "state"))

    def set_publishing_status(self, status: str) -> None:
        self._call("POST", "app", {"publishing_status": status})

    def set_verified(self, verified: bool) -> None:
        """Mark the app verified (no "Google hasn't verified this app" warning) or not (default)."""
        self._call("POST", "app", {"verified": verified})

    def require_reauth(self, after: float | None = 0.0, email: str = DEFAULT_USER) -> None:
        """Workspace session control: refreshes of ``email``'s Cloud Platform grants fail with
        ``invalid_rapt`` once their sign-in is ``after`` seconds old; None lifts it."""
        self._call("POST", f"users/{email}/reauth", {"after": after})

    def delete_client(self, client_id: str) -> None:
        """Delete an OAuth client: its token requests and sign-ins answer ``deleted_client``."""
        self._call("DELETE", f"clients/{client_id}")

    def restore_client(self, client_id: str) -> None:
        self._call("POST", f"clients/{client_id}/restore")

    def add_user(self, email: str, test_user: bool = True, *, project_member: bool = True) -> None:
        body = {"email": email, "test_user": test_user, "project_member": project_member}
        self._call("POST", "users", body)

    def remove_user(self, email: str) -> None:
        self._call("DELETE", f"users/{email}")

    def set_project(
        self,
        id: str,
        number: int,
        *,
        api_enabled: bool = True,
        members: list[str] | None = None,
        api_key: str | None = None,
    ) -> None:
        body: dict[str, Any] = {"id": id, "number": number, "api_enabled": api_enabled}
        body["members"] = members if members is not None else [DEFAULT_USER]
        if api_key is not None:
            body["api_key"] = api_key
        self._call("POST", "projects", body)

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str] | None = None,
        project_id: str | None = None,
    ) -> None:
        body: dict[str, Any] = {"client_id": client_id, "client_secret": client_secret}
        if redirect_uris is not None:
            body["redirect_uris"] = redirect_uris
        if project_id is not None:
            body["project_id"] = project_id
        self._call("POST", "clients", body)

    def issue_grant(
        self, scopes: list[str], email: str | None = None, client_id: str | None = None
    ) -> dict[str, Any]:
        """A token response (access and refresh token) as if the user had consented."""
        body: dict[str, Any] = {"scopes": list(scopes)}
        if email is not None:
            body["email"] = email
        if client_id is not None:
            body["client_id"] = client_id
        return dict(self._call("POST", "grants", body))

    def create_service_account(
        self, email: str | None = None, project: str | None = None
    ) -> dict[str, Any]:
        """A new key for ``email`` (created if new; default: a fresh account in the default
        project): the complete service-account key file as a dict."""
        body = {k: v for k, v in (("email", email), ("project", project)) if v is not None}
        return dict(self._call("POST", "service-accounts", body))

    def set_metadata(
        self, service_account: str | None = None, scopes: list[str] | None = None
    ) -> None:
        """Choose the metadata server's default account and the scopes of its tokens."""
        body: dict[str, Any] = {}
        if service_account is not None:
            body["service_account"] = service_account
        if scopes is not None:
            body["scopes"] = scopes
        self._call("POST", "metadata", body)

    def set_bucket(
        self, name: str, *, project: str | None = None, service_agent_read: bool = True
    ) -> None:
        """Create or change a bucket (``service_agent_read=False``: Gemini may not read it)."""
        body: dict[str, Any] = {"name": name, "service_agent_read": service_agent_read}
        if project is not None:
            body["project"] = project
        self._call("POST", "buckets", body)

    def put_object(
        self, bucket: str, name: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> str:
        """Put an object into the emulated Cloud Storage; returns its ``gs://`` URI."""
        body = {
            "bucket": bucket,
            "name": name,
            "data": base64.b64encode(data).decode(),
            "content_type": content_type,
        }
        return str(self._call("POST", "objects", body)["uri"])

    def set_file_limits(
        self,
        *,
        max_file_bytes: int | None = None,
        project_bytes: int | None = None,
        processing_seconds: float | str | None = "unchanged",
    ) -> dict[str, Any]:
        """The Files API's limits (one file, one project's total) and how long files stay
        PROCESSING (``None``: by MIME type, video 10 s and audio 5 s of the emulator's clock)."""
        body: dict[str, Any] = {}
        if max_file_bytes is not None:
            body["max_file_bytes"] = max_file_bytes
        if project_bytes is not None:
            body["project_bytes"] = project_bytes
        if processing_seconds != "unchanged":
            body["processing_seconds"] = processing_seconds
        return dict(self._call("POST", "files", body))
