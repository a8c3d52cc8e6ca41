"""A local Compute Engine metadata server backed by the user's own grant.

Every Google client library finds credentials at the metadata server named by
``GCE_METADATA_HOST`` (data) and ``GCE_METADATA_IP`` (google-auth's detection ping of ``/``). This
serves what google-auth's ``compute_engine`` asks for, in the shapes it parses: the ping,
``instance/service-accounts/{default,EMAIL}/`` (JSON with ``?recursive=true``), ``email``,
``scopes``, ``token`` (``{access_token, expires_in, token_type}`` as JSON), ``project/project-id``
(the quota project, else the OAuth client's project), ``project/numeric-project-id`` (the client's
project number: gcloud's test for "on GCE") and ``universe/universe-domain``. Leaves are
``application/text``, JSON with ``?alt=json``.

The real server's rules: no ``Metadata-Flavor: Google`` -> 403, any ``X-Forwarded-For`` -> 403
(stops SSRF through proxies), every answer carries ``Metadata-Flavor: Google``. Ours: only access
tokens leave, with their true remaining lifetime; a token for scopes the grant does not hold is
refused with the reason (a token that would fail later is worse); ``identity`` answers 404 with
why a user's grant mints no audience-bound ID tokens (gcloud reads 404 as "none here" and goes
on). Any local user can connect to a loopback port, so a TCP connection whose peer socket another
uid owns is refused (``_peer``: Linux's /proc/net/tcp); a Unix socket is guarded by its file
mode (0600 in the user's directory) instead.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import socket
import stat
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import ThreadingMixIn, UnixStreamServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gemini_oauth import _peer
from gemini_oauth._constants import is_loopback_host
from gemini_oauth._redact import redact
from gemini_oauth._token_source import TokenSource
from gemini_oauth.errors import GeminiOAuthError, NetworkError, TokenEndpointError
from gemini_oauth.scopes import granted_form, short_name

log = logging.getLogger(__name__)

PREFIX = "/computeMetadata/v1/"
#: What google-auth, gcloud and the other languages' libraries read to find the server.
METADATA_ENV = ("GCE_METADATA_HOST", "GCE_METADATA_IP", "GCE_METADATA_ROOT")
_TEXT = "application/text"
_JSON = "application/json"
_IDENTITY_REFUSAL = (
    "This metadata server holds a user's OAuth grant, not a service account: Google mints "
    "audience-bound ID tokens only for service accounts, so there is none to give. Use a service "
    "account (gcloud auth print-identity-token --impersonate-service-account=EMAIL "
    "--audiences=AUDIENCE) for services that want ID tokens."
)


@dataclass(frozen=True)
class Reply:
    """One answer: status, body and its content type."""

    status: int
    body: str
    content_type: str = _TEXT


def names_this_machine(host: str | None) -> bool:
    """A Host header no web page can own, so no DNS rebinding (aws-vault#578) can send it: an IP
    address, ``localhost``, GCE's short ``metadata``, or a name under ``.localhost`` (RFC 6761)
    or ``.internal`` (private use: metadata.google.internal, host.docker.internal); or none
    (HTTP/1.0)."""
    if host is None:
        return True
    name = host.strip().lower()
    if name.startswith("["):  # [IPv6]:port
        name, bracket, port = name[1:].partition("]")
        if not bracket or (port and not (port[:1] == ":" and port[1:].isdigit())):
            return False
    else:
        bare, colon, port = name.rpartition(":")
        if colon and port.isdigit():
            name = bare
    name = name.removesuffix(".")
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return name in ("localhost", "metadata") or name.endswith((".localhost", ".internal"))


def _refused(status: int, why: str) -> Reply:
    return Reply(status, why.rstrip() + "\n", "text/plain; charset=utf-8")


class MetadataApp:
    """The protocol: request line and headers in, ``Reply`` out; no sockets."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def answer(self, method: str, target: str, header: Callable[[str], str | None]) -> Reply:
        """``header(name)`` is the request's header of that name (any case), or None."""
        if header("Metadata-Flavor") != "Google":
            return _refused(403, "Missing Metadata-Flavor:Google header.")
        if header("X-Forwarded-For") is not None:
            return _refused(403, "Request had an X-Forwarded-For header and was rejected.")
        if not names_this_machine(header("Host")):
            return _refused(
                403,
                "Request named a host that is no address of this machine, as a web page using "
                "DNS rebinding would, and was rejected. Set GCE_METADATA_HOST to an IP address "
                "(127.0.0.1:PORT), localhost, metadata or a name under .internal.",
            )
        if method not in ("GET", "HEAD"):
            return _refused(405, f"{method} is not served here; the metadata server is read-only.")
        url = urlsplit(target)
        query = parse_qs(url.query)
        try:
            return self._route(url.path, query)
        except GeminiOAuthError as exc:  # the login behind the server failed: say what to do
            transient = isinstance(exc, NetworkError) or (
                isinstance(exc, TokenEndpointError) and exc.transient
            )
            return _refused(503 if transient else 403, redact(str(exc)))

    def _route(self, path: str, query: dict[str, list[str]]) -> Reply:
        if path == "/":
            return Reply(200, "computeMetadata/\n")
        if path == "/computeMetadata/":
            return Reply(200, "v1/\n")
        if not (path + "/").startswith(PREFIX):
            return _not_found()
        parts = [p for p in path[len(PREFIX) :].split("/") if p]
        accounts = self._accounts()
        if len(parts) == 4 and parts[:2] == ["instance", "service-accounts"]:
            if parts[2] in accounts and parts[3] == "token":
                return self._token(query)
            if parts[2] in accounts and parts[3] == "identity":  # 404, as a VM without one:
                return _refused(404, _IDENTITY_REFUSAL)  # gcloud then goes on without it
        node: Any = self._tree(accounts)
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                return _not_found()
            node = node[part]
        return _value(node, query)

    def _accounts(self) -> list[str]:
        email = self.source.account
        return ["default", email] if email else ["default"]

    def _tree(self, accounts: list[str]) -> dict[str, Any]:
        source = self.source
        entry = {
            "aliases": ["default"],
            "email": source.account or "default",
            "scopes": list(source.scopes()),
        }
        project: dict[str, Any] = {}
        if source.project_id:
            project["project-id"] = source.project_id
        if source.client_project_number:  # gcloud's test for "on GCE" reads it
            project["numeric-project-id"] = source.client_project_number
        return {
            "instance": {"service-accounts": {name: entry for name in accounts}},
            "project": project,
            "universe": {"universe-domain": source.universe_domain},
        }

    def _token(self, query: dict[str, list[str]]) -> Reply:
        wanted = [
            granted_form(s) for v in query.get("scopes", []) for s in v.replace(",", " ").split()
        ]
        held = self.source.scopes()
        missing = [s for s in dict.fromkeys(wanted) if s not in held]
        if missing:
            return _refused(400, self._scope_refusal(missing, held))
        token = self.source.token()
        body = {
            "access_token": token.token,
            "expires_in": token.expires_in(),
            "token_type": "Bearer",
        }
        return Reply(200, json.dumps(body), _JSON)

    def _scope_refusal(self, missing: list[str], held: tuple[str, ...]) -> str:
        names = ", ".join(short_name(s) for s in missing)
        union = ",".join(short_name(s) for s in (*held, *missing))
        login = self.source.sign_in.strip("'")
        return (
            f"The grant of {self.source.description} does not hold {names}; a token without "
            f"{'them' if len(missing) > 1 else 'it'} would be refused by the API it is for. "
            f"It holds: {', '.join(short_name(s) for s in held) or '(nothing)'}. To add "
            f"{'them' if len(missing) > 1 else 'it'}, sign in again: {login} --scopes {union}"
        )


def _not_found() -> Reply:
    return _refused(404, "The requested URL was not found on this server.")


def _value(node: Any, query: dict[str, list[str]]) -> Reply:
    """A directory lists its entries (JSON with ?recursive=true); a leaf is text (?alt=json)."""
    if isinstance(node, dict):
        if query.get("recursive") == ["true"]:
            return Reply(200, json.dumps(node), _JSON)
        names = (f"{k}/" if isinstance(v, dict) else k for k, v in node.items())
        return Reply(200, "".join(f"{name}\n" for name in names))
    if query.get("alt") == ["json"]:
        return Reply(200, json.dumps(node), _JSON)
    if isinstance(node, list):
        return Reply(200, "".join(f"{item}\n" for item in node))
    return Reply(200, str(node))


# ---------------------------------------------------------------- HTTP over sockets


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: google-auth's requests session reuses it
    server_version = "Metadata Server for VM"  # Google's Server header
    timeout = 30  # an idle keep-alive connection does not hold a thread for ever
    server: _TcpServer | _UnixServer

    def setup(self) -> None:
        super().setup()
        if self.connection.family != socket.AF_UNIX:
            # headers and body leave in two writes: Nagle would hold the body ~40 ms for an ACK
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.refusal = self.server.owner.peer_refusal(self.connection)
        if self.refusal:
            log.warning("%s", self.refusal)

    def _serve(self) -> None:
        if self.refusal:
            reply = _refused(403, self.refusal)
        else:
            reply = self.server.owner.app.answer(self.command, self.path, self.headers.get)
        body = reply.body.encode()
        self.send_response(reply.status)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        log.info("%s %s %d", self.command, self.path, reply.status)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged by ``_serve`` (path and status, never a body)."""


class _Quiet:
    """A failure in a handler (a bug) is logged redacted, not printed raw by socketserver."""

    def handle_error(self, request: object, client_address: object) -> None:
        log.error("%s", redact(traceback.format_exc()).rstrip())


class _TcpServer(_Quiet, ThreadingHTTPServer):
    daemon_threads = True
    owner: MetadataServer


class _TcpServer6(_TcpServer):
    address_family = socket.AF_INET6


class _UnixServer(_Quiet, ThreadingMixIn, UnixStreamServer):
    daemon_threads = True
    owner: MetadataServer


class MetadataServer:
    """The metadata protocol for ``source`` on ``host:port`` (loopback, a free port by default),
    and on ``unix_socket`` if given. Bound when made; ``start()`` serves in background threads.

    A host other than loopback exposes tokens to anyone who can reach it (as on a VM); local
    peers of another uid are still refused there, and peers that cannot be told apart (another
    machine, another network namespace) are served.
    """

    def __init__(
        self,
        source: TokenSource,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        unix_socket: str | Path | None = None,
    ) -> None:
        self.app = MetadataApp(source)
        self.exposed = not is_loopback_host(host)
        self.uid = os.geteuid()
        self.peers_known = _peer.supported()
        server_class = _TcpServer6 if ":" in host else _TcpServer
        self._servers: list[_TcpServer | _UnixServer] = [server_class((host, port), _Handler)]
        self.unix_socket = Path(unix_socket) if unix_socket is not None else None
        if self.unix_socket is not None:
            try:
                self._servers.append(_bind_unix(self.unix_socket))
            except BaseException:
                self._servers[0].server_close()
                raise
        for server in self._servers:
            server.owner = self
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> str:
        """``HOST:PORT`` as GCE_METADATA_HOST takes it (IPv6 in brackets)."""
        host, port = self._servers[0].socket.getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def environment(self) -> dict[str, str]:
        """The variables that point Google's libraries (and gcloud) at this server."""
        return dict.fromkeys(METADATA_ENV, self.address)

    def peer_refusal(self, conn: socket.socket) -> str | None:
        """Why this connection gets nothing, or None when its peer may have tokens."""
        if conn.family == socket.AF_UNIX or not self.peers_known:
            return None
        uid = _peer.peer_uid(conn)
        if uid == self.uid:
            return None
        if uid is None:
            if self.exposed:
                return None  # another machine or network namespace: what --host exposes
            return "could not tell which user this loopback connection comes from; refused."
        return f"refused a connection from uid {uid}: only uid {self.uid} gets tokens here."

    def start(self) -> MetadataServer:
        """Serve in daemon threads until ``stop()``."""
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                args=(0.1,),  # how often it looks for stop(): the latency of stopping
                name="gemini-oauth-metadata",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving, close the sockets, remove the Unix socket file."""
        for server in self._servers:
            if self._threads:
                server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        if self.unix_socket is not None:
            with contextlib.suppress(OSError):
                self.unix_socket.unlink()

    def __enter__(self) -> MetadataServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _bind_unix(path: Path) -> _UnixServer:
    """A Unix socket at ``path``, mode 0600 from its first moment (bound in a private directory,
    then renamed into place). A stale socket nobody listens on is replaced; anything else is not.
    """
    parent = path.parent
    info = parent.stat()
    if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise GeminiOAuthError(
            f"{parent} may be changed by other users, so a socket in it could be replaced.",
            hint="Put the socket in a directory of your own, e.g. "
            "--unix-socket $XDG_RUNTIME_DIR/gemini-oauth-metadata.sock",
        )
    if path.exists() or path.is_symlink():
        if not (stat.S_ISSOCK(path.lstat().st_mode) and not _listening(path)):
            raise GeminiOAuthError(
                f"{path} already exists.", hint="Remove it, or choose another --unix-socket path."
            )
        path.unlink()
    private = Path(tempfile.mkdtemp(prefix=".gemini-oauth-", dir=parent))
    try:
        server = _UnixServer(str(private / "s"), _Handler, bind_and_activate=False)
        try:
            server.server_bind()
            os.chmod(private / "s", 0o600)
            os.rename(private / "s", path)
            server.server_address = str(path)
            server.server_activate()
        except BaseException:
            server.server_close()
            raise
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(private)
    return server


def _listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


__all__ = ["METADATA_ENV", "MetadataApp", "MetadataServer", "Reply"]
