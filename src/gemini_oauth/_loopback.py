"""The loopback redirect listener of a native app (RFC 8252 §7.3, §8.3).

It listens on 127.0.0.1 (and ::1 on the same port where possible) only, on a fresh unguessable
path, answers stray requests with 404, and returns the code of the first valid callback. Nothing a
browser sends is logged. Sockets are closed on every exit path.

Any local user may connect to 127.0.0.1, and any local user can read a browser's command line in
/proc. So where the system tells a peer's owner (``_peer``), only this user's programs are served:
another uid's request gets a 403 and is never parsed. The browser is not given the
authorization URL itself but a one-time launcher on this listener that redirects to it, so its
command line holds nothing another user could finish the login with. A launcher opened twice
stops the login where peers cannot be checked (someone else may have read it first).
Connections are bounded: the oldest idle one makes room for a new one, and one that has sent
nothing is dropped after a short wait.
"""

from __future__ import annotations

import contextlib
import html
import os
import secrets
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from gemini_oauth import _peer
from gemini_oauth._authorize import parse_callback
from gemini_oauth.errors import (
    CallbackError,
    ConsentDeniedError,
    LoginError,
    LoginTimeoutError,
    PortInUseError,
)

MAX_REQUEST = 16 * 1024
MAX_CONNECTIONS = 64
#: Seconds a connection may stay open without completing its request.
CONNECTION_IDLE = 10.0
#: Seconds a connection may stay open having sent nothing at all (a preconnect, or a squatter).
SILENT_IDLE = 2.0
FOREIGN_PEER = (
    "A connection from another user's program{who} was refused: only your own browser may finish "
    "this sign-in. If your browser runs as another user, use --no-browser and paste the address."
)


def callback_path() -> str:
    """A fresh callback path per login: a second process cannot guess it (RFC 8252 §8.10)."""
    return "/oauth2callback/" + secrets.token_urlsafe(16)


@dataclass
class _Conn:
    sock: socket.socket
    started: float
    data: bytearray = field(default_factory=bytearray)


class LoopbackListener:
    """Wait for the authorization redirect on ``http://127.0.0.1:PORT/oauth2callback/<random>``.

    ``warn`` receives what the user should know (a refused connection of another user).
    ``verify_peers`` (default: where the system tells a peer's owner) serves this uid only.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        timeout: float = 300.0,
        max_bad: int = 20,
        warn: Callable[[str], None] | None = None,
        verify_peers: bool | None = None,
    ) -> None:
        self.requested_port = port
        self.timeout = timeout
        self.max_bad = max_bad
        self.path = callback_path()
        self.port = 0
        self.verify_peers = _peer.supported() if verify_peers is None else verify_peers
        self._warn = warn
        self._warned = False
        self._launch_path = "/start/" + secrets.token_urlsafe(16)
        self._launch_target: str | None = None
        self._launched = False
        self._listeners: list[socket.socket] = []
        self._conns: dict[socket.socket, _Conn] = {}

    @property
    def redirect_uri(self) -> str:
        """The redirect URI from the bound socket (RFC 8252 §7.3: an IP literal, not localhost)."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def __enter__(self) -> LoopbackListener:
        self.open()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        """Bind 127.0.0.1 (then ::1 on the same port, best effort); a taken --port fails at once."""
        attempts = 5 if self.requested_port == 0 else 1
        for attempt in range(attempts):
            v4 = _bind(socket.AF_INET, "127.0.0.1", self.requested_port)
            self.port = v4.getsockname()[1]
            try:
                v6: socket.socket | None = _bind(socket.AF_INET6, "::1", self.port)
            except OSError:
                v6 = None
            if v6 is not None or attempt == attempts - 1 or not socket.has_ipv6:
                break
            v4.close()  # ::1 taken on this ephemeral port: try another port
        self._listeners = [s for s in (v4, v6) if s is not None]

    def close(self) -> None:
        for sock in [*self._listeners, *self._conns]:
            with contextlib.suppress(OSError):
                sock.close()
        self._listeners, self._conns = [], {}

    def launcher(self, url: str) -> str:
        """A one-time address on this listener that redirects the browser to ``url``.

        Give it to the browser instead of ``url``: its command line (readable by other users)
        then holds nothing that could finish this login.
        """
        if any(ord(c) < 0x21 or ord(c) > 0x7E for c in url):
            raise ValueError("the authorization URL must be printable ASCII without blanks")
        self._launch_target = url
        return f"http://127.0.0.1:{self.port}{self._launch_path}"

    def hosts(self) -> frozenset[str]:
        """The Host header values accepted (DNS-rebinding defence)."""
        return frozenset(f"{h}:{self.port}" for h in ("127.0.0.1", "[::1]", "localhost"))

    def wait(self, expected_state: str) -> str:
        """Serve until a valid callback (returns its code), denial, timeout or too many bad ones."""
        if not self._listeners:
            raise RuntimeError("LoopbackListener.wait() before open()")
        deadline = time.monotonic() + self.timeout
        bad = 0
        with selectors.DefaultSelector() as sel:
            for lsock in self._listeners:
                sel.register(lsock, selectors.EVENT_READ)
            while True:
                now = time.monotonic()
                if now >= deadline:
                    raise LoginTimeoutError(
                        f"No answer from the browser within {self.timeout:g} seconds."
                    )
                self._drop_idle(sel, now)
                for key, _ in sel.select(min(deadline - now, 1.0)):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock in self._listeners:
                        self._accept(sel, sock)
                        continue
                    if sock not in self._conns:  # evicted by an accept in this same round
                        continue
                    request = self._read(sel, sock)
                    if request is None:
                        continue
                    owner = _peer.peer_uid(sock) if self.verify_peers else None
                    if self.verify_peers and owner != os.geteuid():
                        self._refuse_foreign(sock, owner)
                        outcome: str | LoginError | bool | None = None
                    else:
                        outcome = self._handle(sock, request, expected_state)
                    sel.unregister(sock)
                    self._conns.pop(sock, None)
                    sock.close()
                    if isinstance(outcome, str):
                        return outcome
                    if isinstance(outcome, BaseException):
                        raise outcome
                    if outcome:
                        bad += 1
                        if bad >= self.max_bad:
                            raise CallbackError(
                                f"Gave up after {bad} callbacks that failed checks."
                            )

    def _accept(self, sel: selectors.BaseSelector, lsock: socket.socket) -> None:
        """Accept every pending connection (a full backlog would delay the next one by a SYN
        retry). Whose it is is asked once its request is complete (``_owned``)."""
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError:  # BlockingIOError: none left
                return
            record = _Conn(conn, time.monotonic())
            if len(self._conns) >= MAX_CONNECTIONS:
                self._evict(sel)
            conn.setblocking(False)
            self._conns[conn] = record
            sel.register(conn, selectors.EVENT_READ)

    def _refuse_foreign(self, sock: socket.socket, owner: int | None) -> None:
        """Answer 403 to another user's program, never parsing its request; tell the user once."""
        _send(sock, 403, "Not your sign-in", "This sign-in belongs to another user.")
        if self._warn is not None and not self._warned:
            self._warned = True
            self._warn(FOREIGN_PEER.format(who=f" (uid {owner})" if owner is not None else ""))

    def _evict(self, sel: selectors.BaseSelector) -> None:
        """Make room: close the oldest connection that has sent nothing, else the oldest one."""
        silent = [c for c in self._conns.values() if not c.data]
        victim = min(silent or self._conns.values(), key=lambda c: c.started)
        self._close(sel, victim.sock)

    def _close(self, sel: selectors.BaseSelector, sock: socket.socket) -> None:
        sel.unregister(sock)
        del self._conns[sock]
        sock.close()

    def _drop_idle(self, sel: selectors.BaseSelector, now: float) -> None:
        for sock, conn in list(self._conns.items()):
            limit = CONNECTION_IDLE if conn.data else SILENT_IDLE
            if now - conn.started > limit:
                self._close(sel, sock)

    def _read(self, sel: selectors.BaseSelector, sock: socket.socket) -> bytes | None:
        """Read until the end of the request head; None while incomplete or after closing it."""
        conn = self._conns[sock]
        try:
            chunk = sock.recv(4096)
        except BlockingIOError:
            return None
        except OSError:
            chunk = b""
        conn.data += chunk
        if chunk and b"\r\n\r\n" not in conn.data and len(conn.data) <= MAX_REQUEST:
            return None
        if not chunk or len(conn.data) > MAX_REQUEST:
            sel.unregister(sock)
            del self._conns[sock]
            if chunk:
                _send(sock, 431, "Request too large", "The request was too large.")
            sock.close()
            return None
        return bytes(conn.data)

    def _handle(
        self, sock: socket.socket, request: bytes, state: str
    ) -> str | LoginError | bool | None:
        """Answer one request: a code or an error (done), True (bad callback), None (stray)."""
        head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        fields = (h.partition(":") for h in lines[1:])
        hosts = [v.strip().lower() for k, _, v in fields if k.strip().lower() == "host"]
        if len(parts) != 3 or parts[0] != "GET" or len(hosts) != 1 or hosts[0] not in self.hosts():
            _send(sock, 404, "Not found", "Nothing here.")
            return None
        if parts[1] == self._launch_path and self._launch_target is not None:
            return self._launch(sock)
        if parts[1].partition("?")[0] != self.path:
            _send(sock, 404, "Not found", "Nothing here.")
            return None
        try:
            code = parse_callback(parts[1], state, self.path)
        except ConsentDeniedError as exc:
            _send(sock, 200, "Sign-in cancelled", "You denied access. You can close this tab.")
            return exc
        except CallbackError as exc:
            _send(sock, 400, "Sign-in check failed", f"{exc.message} You can close this tab.")
            return True
        except LoginError as exc:
            _send(sock, 200, "Sign-in failed", f"{exc.message} You can close this tab.")
            return exc
        _send(
            sock,
            200,
            "Signed in",
            "gemini-oauth received the authorization. You can close this tab and "
            "return to the terminal.",
        )
        return code

    def _launch(self, sock: socket.socket) -> LoginError | None:
        """The launcher: once, a redirect to the authorization URL; then a page, or an error."""
        if not self._launched:
            self._launched = True
            assert self._launch_target is not None
            _send(sock, 302, "Signing in", "Continue to the sign-in page.", self._launch_target)
            return None
        _send(
            sock,
            410,
            "Link already used",
            "This sign-in link was already opened. Use the address printed in the terminal.",
        )
        if self.verify_peers:
            return None  # only this user's programs get here: a reload, not an attack
        return LoginError(
            "The sign-in link was opened twice; another program on this machine may have read it "
            "from the browser's command line, so this login was stopped.",
            hint="Run 'gemini-oauth login' again; if it happens again, use --no-browser.",
        )


def _bind(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        exclusive = getattr(socket, "SO_EXCLUSIVEADDRUSE", None)  # Windows: nobody may share
        if exclusive is not None:
            sock.setsockopt(socket.SOL_SOCKET, exclusive, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if family == socket.AF_INET6:
            raise
        raise PortInUseError(f"Cannot listen on 127.0.0.1:{port}: {exc.strerror}.") from None
    return sock


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px system-ui,sans-serif;margin:4em auto;max-width:36em;color:#222}}
h1{{font-size:1.4em}}</style></head><body><h1>{title}</h1><p>{text}</p></body></html>"""


def _page(status: int, title: str, text: str, location: str | None = None) -> bytes:
    """A small self-contained page; no external resources, no referrer, no caching."""
    body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode("utf-8")
    reason = {
        200: "OK",
        302: "Found",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        410: "Gone",
        431: "Too Large",
    }[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        + (f"Location: {location}\r\n" if location else "")
        + "Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Referrer-Policy: no-referrer\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii")
    return head + body


def _send(
    sock: socket.socket, status: int, title: str, text: str, location: str | None = None
) -> None:
    with contextlib.suppress(OSError):
        sock.setblocking(True)
        sock.settimeout(2.0)
        sock.sendall(_page(status, title, text, location))
