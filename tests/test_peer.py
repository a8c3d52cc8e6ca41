"""The loopback peer's owner, told from /proc/net/tcp{,6}, including for another uid's process."""

from __future__ import annotations

import os
import socket
import subprocess
import textwrap

import pytest

from gemini_oauth import _peer

pytestmark = pytest.mark.skipif(not _peer.supported(), reason="needs Linux with /proc/net/tcp")

_CONNECT = textwrap.dedent(
    """
    import socket, sys
    family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
    with socket.socket(family) as s:
        s.connect((sys.argv[1], int(sys.argv[2])))
        s.recv(1)
    """
)


def _server(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.socket(family)
    server.bind((host, 0))
    server.listen()
    server.settimeout(10)
    return server


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_a_connection_from_this_process_is_ours(host: str) -> None:
    with _server(host) as server, socket.socket(server.family) as client:
        client.connect(server.getsockname()[:2])
        conn, _ = server.accept()
        with conn:
            assert _peer.peer_uid(conn) == os.geteuid()


def test_a_v4_mapped_client_of_a_dual_stack_server_is_found() -> None:
    with socket.socket(socket.AF_INET6) as server:
        server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        server.bind(("::", 0))
        server.listen()
        with socket.create_connection(("127.0.0.1", server.getsockname()[1]), timeout=10):
            conn, _ = server.accept()
            with conn:
                assert _peer.peer_uid(conn) == os.geteuid()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_a_connection_from_another_uid_is_told_apart(
    host: str, other_user: tuple[int, str]
) -> None:
    uid, python = other_user
    with _server(host) as server:
        port = server.getsockname()[1]
        child = subprocess.Popen([python, "-c", _CONNECT, host, str(port)], user=uid, cwd="/")
        try:
            conn, _ = server.accept()
            with conn:
                assert _peer.peer_uid(conn) == uid != os.geteuid()
                conn.sendall(b"x")
        finally:
            assert child.wait(timeout=10) == 0


def test_an_unconnected_socket_has_no_peer() -> None:
    with socket.socket() as lonely:
        assert _peer.peer_uid(lonely) is None


_LISTEN = textwrap.dedent(
    """
    import socket, sys
    family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((sys.argv[1], 0))
        s.listen()
        print(s.getsockname()[1], flush=True)
        sys.stdin.read()
    """
)


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::"])  # noqa: S104
def test_the_owner_of_a_listening_port_is_told(host: str, other_user: tuple[int, str]) -> None:
    """Whoever listens on a port (also on every address), told without a connection to it."""
    uid, python = other_user
    with _server("127.0.0.1") as ours:
        assert _peer.listener_uid(ours.getsockname()[1]) == os.geteuid()
    child = subprocess.Popen([python, "-c", _LISTEN, host], user=uid, cwd="/",
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        assert _peer.listener_uid(port) == uid != os.geteuid()
    finally:
        child.kill()
        child.wait(timeout=10)
    assert _peer.listener_uid(port) is None  # nobody listens there now
