"""Who is on the other end of a loopback TCP connection: the peer socket's owner uid.

Any local user can connect to a port on 127.0.0.1. A server that hands out secrets on loopback (the
login's redirect listener, the metadata server) asks here whether the peer belongs to this user.
On Linux the kernel publishes every TCP socket with its owner's uid in ``/proc/net/tcp`` and
``/proc/net/tcp6`` (of the reader's network namespace): the peer's socket is the entry whose local
address is the peer's address and whose remote address is ours. Other systems publish no such table
to unprivileged processes, so ``peer_uid`` answers None there and callers say what that means.
"""

from __future__ import annotations

import ipaddress
import socket
import sys

_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
_MAX_TABLE = 64 << 20  # a table larger than this is not read (bounded work per connection)


def supported() -> bool:
    """Whether this system tells a loopback peer's owner (Linux with /proc mounted)."""
    return sys.platform.startswith("linux") and _readable(_TABLES[0])


def _readable(path: str) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


def peer_uid(conn: socket.socket) -> int | None:
    """The uid owning the peer of the connected TCP socket ``conn``; None if it cannot be told."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        ours = _endpoint(conn.getsockname())
        theirs = _endpoint(conn.getpeername())
    except (OSError, ValueError):
        return None
    wanted = {(local, remote) for local in _forms(theirs) for remote in _forms(ours)}
    for table in _TABLES:
        uid = _find(table, wanted)
        if uid is not None:
            return uid
    return None


def listener_uid(port: int, host: str = "127.0.0.1") -> int | None:
    """The uid owning the socket that listens on ``host``:``port`` (else on every address at
    that port); None if none is seen or it cannot be told. Unlike ``peer_uid`` of a connection
    to it, this does not depend on the listener keeping the connection open."""
    if not sys.platform.startswith("linux"):
        return None
    for address in (host, "0.0.0.0", "::"):  # noqa: S104 - names wildcard binds, binds nothing
        try:
            forms = _forms(_endpoint((address, port)))
        except ValueError:
            return None
        wanted = {(local, "0" * (len(local) - 5) + ":0000") for local in forms}  # no remote end
        for table in _TABLES:
            uid = _find(table, wanted)
            if uid is not None:
                return uid
    return None


def _endpoint(address: tuple[str, int] | tuple[str, int, int, int]) -> tuple[bytes, int]:
    """(16-byte IPv6 form of the address, port); IPv4 becomes ::ffff:a.b.c.d."""
    ip = ipaddress.ip_address(address[0].split("%")[0])
    if isinstance(ip, ipaddress.IPv4Address):
        ip = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + ip.packed)
    return ip.packed, int(address[1])


def _forms(endpoint: tuple[bytes, int]) -> list[str]:
    """How the kernel writes an endpoint in tcp (IPv4) and tcp6: hex words in host byte order."""
    packed, port = endpoint
    order = sys.byteorder
    words = [packed[i : i + 4] for i in range(0, 16, 4)]
    six = "".join(int.from_bytes(w, "big").to_bytes(4, order).hex().upper() for w in words)
    forms = [f"{six}:{port:04X}"]
    if packed[:12] == b"\0" * 10 + b"\xff\xff":  # IPv4 (or IPv4-mapped): also the tcp form
        four = int.from_bytes(packed[12:], "big").to_bytes(4, order).hex().upper()
        forms.append(f"{four}:{port:04X}")
    return forms


def _find(table: str, wanted: set[tuple[str, str]]) -> int | None:
    try:
        with open(table, "rb") as stream:
            raw = stream.read(_MAX_TABLE + 1)
    except OSError:
        return None
    if len(raw) > _MAX_TABLE:
        return None
    for local, remote in wanted:  # a search, not a parse: tables of busy hosts are long
        at = raw.find(f" {local} {remote} ".encode())
        if at < 0:
            continue
        start, end = raw.rfind(b"\n", 0, at) + 1, raw.find(b"\n", at)
        fields = raw[start : end if end >= 0 else len(raw)].split()
        if len(fields) > 7 and (fields[1], fields[2]) == (local.encode(), remote.encode()):
            try:
                return int(fields[7])
            except ValueError:
                return None
    return None
