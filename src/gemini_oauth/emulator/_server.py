"""The Flask app and a real threaded WSGI server on 127.0.0.1, run in a background thread.

Before any handler: the Host header check (DNS rebinding defence), the body limit of the OAuth
endpoints, and the faults (status, Retry-After, latency, dropped connection) by path prefix.
Request lines are never logged: they carry codes and tokens.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from gemini_oauth.emulator import (
    _caches,
    _control,
    _files,
    _gemini,
    _metadata,
    _oauth_authorize,
    _oauth_token,
    _resource_manager,
    _uploads,
)
from gemini_oauth.emulator._constants import CONTROL_PREFIX
from gemini_oauth.emulator._records import Fault
from gemini_oauth.emulator._responses import drop_connection, json_error, rpc_error
from gemini_oauth.emulator._state import EmulatorState

OAUTH_PREFIXES = ("/o/oauth2", "/token", "/revoke", "/tokeninfo", "/oauth2", "/v1/userinfo")
OAUTH_BODY_LIMIT = 64 * 1024
BODY_LIMIT = 32 * 1024 * 1024
_DRAIN_LIMIT = 1024 * 1024


def is_oauth_path(path: str) -> bool:
    return path.startswith(OAUTH_PREFIXES) or path == "/.well-known/openid-configuration"


def create_app(state: EmulatorState) -> Flask:
    """The whole emulator as one Flask app: OAuth, control, metadata server and Gemini."""
    app = Flask("gemini_oauth.emulator")
    app.config.update(MAX_CONTENT_LENGTH=BODY_LIMIT, EMULATOR_PORT=0, JSON_SORT_KEYS=False)
    app.config["EMULATOR_NOW"] = state.now  # the Date header tells the emulator's time
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.before_request(lambda: _check_host(app))
    app.before_request(lambda: _apply_fault(state))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    _oauth_authorize.register(app, state)
    _oauth_token.register(app, state)
    _control.register(app, state)
    _metadata.register(app, state)
    _files.register(app, state)
    _uploads.register(app, state)
    _caches.register(app, state)
    _resource_manager.register(app, state)
    _gemini.register(app, state)
    return app


def _check_host(app: Flask) -> Response | None:
    port = app.config["EMULATOR_PORT"]
    allowed = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    if request.host.lower() not in allowed:
        return json_error(400, "invalid_request", "Host header not allowed.")
    if is_oauth_path(request.path):
        # One byte over the limit, read eagerly: werkzeug silently truncates a streamed
        # (chunked) body at exactly max_content_length instead of refusing it.
        request.max_content_length = OAUTH_BODY_LIMIT + 1
        length = request.content_length
        if length is None:
            length = len(request.get_data(cache=True))
        if length > OAUTH_BODY_LIMIT:
            raise RequestEntityTooLarge()
    return None


def _take_fault(state: EmulatorState, path: str) -> Fault | None:
    with state.lock:
        for fault in state.faults:
            if path.startswith(fault.path) and (fault.count is None or fault.count > 0):
                if fault.count is not None:
                    fault.count -= 1
                return fault
        state.faults = [f for f in state.faults if f.count is None or f.count > 0]
    return None


def _apply_fault(state: EmulatorState) -> Response | None:
    if request.path.startswith(CONTROL_PREFIX):
        return None
    fault = _take_fault(state, request.full_path)  # a prefix may include the query
    if fault is None:
        return None
    state.count("faults")
    if fault.latency > 0:
        state.sleep(fault.latency)
    if fault.drop_after is not None:
        g.drop_after = fault.drop_after  # the upload route cuts the connection mid-body
        return None
    if fault.drop:
        return drop_connection()
    if fault.status is None:
        return None
    if fault.body is not None:
        response = jsonify(fault.body)
        response.status_code = fault.status
    elif is_oauth_path(request.path):
        error = "temporarily_unavailable" if fault.status >= 500 else "rate_limit_exceeded"
        response = json_error(fault.status, error, "Injected fault.")
    else:
        response = rpc_error(fault.status, "Injected fault.")
    if fault.retry_after is not None:
        response.headers["Retry-After"] = f"{fault.retry_after:g}"
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if is_oauth_path(request.path) or request.path.startswith(CONTROL_PREFIX):
        error = "invalid_request" if status < 500 else "server_error"
        return json_error(status, error, exc.name)
    return rpc_error(status, exc.description or exc.name)


def _internal_error(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):  # pragma: no cover - routed to _http_error
        return _http_error(exc)
    return json_error(500, "server_error", "Internal error in the emulator.")


class _BodyReader:
    """The request stream, bounded to this request's body so nothing reads into the next request."""

    def __init__(self, raw: Any, length: int | None) -> None:
        self.raw = raw
        self.left = length  # None: unbounded (chunked bodies; the connection closes after)

    def _bound(self, size: int) -> int:
        if self.left is None:
            return size
        return self.left if size < 0 or size > self.left else size

    def read(self, size: int = -1) -> bytes:
        size = self._bound(size)
        data: bytes = self.raw.read(size) if size != 0 else b""
        if self.left is not None:
            self.left -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        size = self._bound(size)
        line: bytes = self.raw.readline(size) if size != 0 else b""
        if self.left is not None:
            self.left -= len(line)
        return line

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class _QuietHandler(WSGIRequestHandler):
    """Never logs request lines (they carry codes and tokens); keeps HTTP/1.1 connections alive.

    werkzeug's development handler closes every connection because http.server cannot drain an
    unread body; this one counts what the app read and drains the rest (bodies up to 1 MiB with a
    Content-Length), so clients can reuse one connection as they do with Google.
    """

    timeout = 60  # an idle keep-alive connection is closed after this many seconds
    _keep_alive = False

    def setup(self) -> None:
        super().setup()
        # Small writes (SSE chunks) go out at once; Nagle would hold them on a reused connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        open_connections(self.server).add(self.connection)

    def finish(self) -> None:
        open_connections(self.server).discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length", "0")
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        self._keep_alive = not chunked and length.isdigit() and int(length) <= _DRAIN_LIMIT
        raw, body = self.rfile, _BodyReader(self.rfile, int(length) if self._keep_alive else None)
        self.rfile = body  # type: ignore[assignment]
        try:
            super().run_wsgi()
            if self._keep_alive and not self.close_connection:
                body.read()  # drain what the app left unread
        finally:
            self.rfile = raw

    def send_header(self, keyword: str, value: str) -> None:
        if self._keep_alive and keyword.lower() == "connection" and value.lower() == "close":
            return  # http.server still closes when the client asked to
        super().send_header(keyword, value)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header from the emulator's clock (offset included), as Google's tells its."""
        app: Any = getattr(self.server, "app", None)
        now = getattr(app, "config", {}).get("EMULATOR_NOW")
        return super().date_time_string(now() if timestamp is None and now else timestamp)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:
        if type != "error" or message.startswith('"'):
            return
        if message.startswith("code %d, message"):  # send_error's message may quote the line
            message, args = "code %d (request not shown)", args[:1]
        super().log(type, message, *args)


def open_connections(server: Any) -> set[socket.socket]:
    """The server's live client connections (kept alive between requests), so stop() ends them."""
    connections: set[socket.socket] = server.__dict__.setdefault("emulator_connections", set())
    return connections


class ServerThread:
    """A threaded WSGI server on 127.0.0.1 serving ``app`` from a daemon thread."""

    def __init__(self, app: Flask, port: int = 0) -> None:
        # Bind here: werkzeug prints and calls sys.exit() when the port is taken; we raise OSError.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # POSIX: rebind a port in TIME_WAIT; Windows' SO_REUSEADDR would let others steal it.
            exclusive = getattr(socket, "SO_EXCLUSIVEADDRUSE", None)
            sock.setsockopt(socket.SOL_SOCKET, exclusive or socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(128)
            self.port = int(sock.getsockname()[1])
            self.server: BaseWSGIServer = make_server(
                "127.0.0.1",
                self.port,
                app,
                threaded=True,
                request_handler=_QuietHandler,
                fd=sock.fileno(),
            )
        open_connections(self.server)  # created before any handler thread runs
        app.config["EMULATOR_PORT"] = self.port
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.01},  # stop() waits up to one poll (tests stop many)
            name=f"gemini-oauth-emulator:{self.port}",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and end every open connection, idle keep-alives included."""
        self.server.shutdown()
        self.server.server_close()
        for connection in list(open_connections(self.server)):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
