"""The answers every route shares: OAuth JSON errors, ``google.rpc.Status`` errors, Google's API
JSON, and the JSON object body an API method reads.

A leaf of the emulator: it imports no route module, so every route module can import it.
"""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import dataclass, field
from typing import Any

from flask import Response, jsonify, request

from gemini_oauth.emulator._constants import GEMINI_SERVICE

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def json_error(status: int, error: str, description: str) -> Response:
    """An OAuth-style JSON error (``error``, ``error_description``)."""
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@dataclass
class ApiFault(Exception):
    """A ``google.rpc.Status`` error answer; raised inside API handlers, rendered by
    :func:`fault_response`."""

    code: int
    status: str
    message: str
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    violations: list[tuple[str, str]] = field(default_factory=list)
    bare: bool = False  # Google sends some errors without any details
    service: str = GEMINI_SERVICE  # ErrorInfo's metadata.service

    def body(self) -> dict[str, Any]:
        """Google's error JSON: ErrorInfo, LocalizedMessage (+ BadRequest for field errors)."""
        if self.bare:
            return {"error": {"code": self.code, "message": self.message, "status": self.status}}
        details: list[dict[str, Any]] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": self.reason or self.status,
                "domain": "googleapis.com",
                "metadata": {"service": self.service, **self.metadata},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": self.message,
            },
        ]
        if self.violations:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": f, "description": d} for f, d in self.violations],
                }
            )
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "status": self.status,
                "details": details,
            }
        }


def invalid_argument(message: str, field_path: str = "") -> ApiFault:
    """400 INVALID_ARGUMENT, with a BadRequest field violation when ``field_path`` is given."""
    violations = [(field_path, message)] if field_path else []
    text = f"* {field_path}: {message}" if field_path else message
    return ApiFault(400, "INVALID_ARGUMENT", text, violations=violations)


def api_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer as Google's API front end writes it (indented, ``Vary``)."""
    response = Response(
        json.dumps(body, indent=2) + "\n", status, content_type="application/json; charset=UTF-8"
    )
    response.headers["Vary"] = "Origin, X-Origin, Referer"
    response.headers.update(headers or {})
    return response


def fault_response(fault: ApiFault) -> Response:
    return api_json(fault.body(), fault.code, fault.headers)


def rpc_error(status: int, message: str) -> Response:
    """A bare ``google.rpc.Status`` error for ``status`` (injected faults, unrouted requests)."""
    return fault_response(
        ApiFault(status, _STATUS_NAMES.get(status, "UNKNOWN"), message, bare=True)
    )


def json_object_body() -> dict[str, Any]:
    """The request's JSON object body (none: ``{}``); ApiFault 400 as Google answers otherwise."""
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise invalid_argument(
            "Invalid JSON payload received. Unexpected token; the body must be a JSON object."
        ) from None
    if not isinstance(body, dict):
        raise invalid_argument("Invalid JSON payload received. Expected a JSON object.")
    return body


def drop_connection() -> Response:
    """Cut this request's TCP connection; the answer returned never reaches the client."""
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
    return Response(status=500)
