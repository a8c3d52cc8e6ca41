"""Which URLs may receive a secret, and URLs rebuilt from checked parts. Pure.

One rule wherever a URL enters (a client file's endpoints, the API base URL,
``CLOUDSDK_AUTH_TOKEN_HOST``, ``gemini-oauth curl``'s PATH): https, or plain http to a loopback
host (an emulator); RFC 3986 characters only (no blanks, controls, backslashes, quotes or braces,
which parsers disagree on and shells expand); no userinfo; a plain host name or IP literal. The URL
is then rebuilt from its parsed parts, with the shell's favourite characters percent-encoded, so
what was checked is exactly what is sent, shown or handed to a browser.
"""

from __future__ import annotations

import ipaddress
import string
from urllib.parse import quote, urlsplit

from gemini_oauth._constants import is_loopback_host

_UNRESERVED = string.ascii_letters + string.digits + "-._~"
#: RFC 3986 §2: unreserved, reserved (gen-delims and sub-delims), and '%' for escapes.
_URL_CHARS = frozenset(_UNRESERVED + ":/?#[]@" + "!$&'()*+,;=" + "%")
_HEX = frozenset(string.hexdigits)
_HOST_CHARS = frozenset(string.ascii_lowercase + string.digits + "-.")
# Kept as they are when rebuilding; other sub-delims ($ ( ) ' ! * , ;) are percent-encoded.
_PATH_SAFE = "/:@%"
_QUERY_SAFE = "/:@%?&=+"


def checked_url(url: str, *, query: bool = True, path: bool = True) -> str:
    """``url`` rebuilt from its checked parts; ValueError saying what is wrong with it.

    ``query`` False refuses a query, ``path`` False anything after the host but '/'.
    """
    bad = sorted({c for c in url if c not in _URL_CHARS})
    if bad:
        shown = ", ".join(repr(c) for c in bad[:3])
        raise ValueError(f"it contains characters that have no place in a URL ({shown})")
    _check_escapes(url)
    try:
        parts = urlsplit(url)
    except ValueError:  # "Invalid IPv6 URL"
        raise ValueError("its host is not a valid [IPv6] literal") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not url[len(scheme) :].startswith("://"):
        raise ValueError("it is not an https:// URL")
    if "@" in parts.netloc:
        raise ValueError("it contains userinfo (an '@' before the host)")
    host = _host(parts.netloc)
    try:
        port = parts.port
    except ValueError:
        raise ValueError("its port is malformed") from None
    if scheme == "http" and not is_loopback_host(host):
        raise ValueError(
            "it is plain http:// to another machine, so secrets would cross the network in "
            "clear text"
        )
    if parts.fragment or "#" in url:
        raise ValueError("it has a #fragment")
    if parts.query and not query:
        raise ValueError("it has a ?query")
    if parts.path.strip("/") and not path:
        raise ValueError("it has a path")
    rebuilt = f"{scheme}://{host}" + (f":{port}" if port is not None else "")
    rebuilt += quote(parts.path, safe=_PATH_SAFE)
    if parts.query:
        rebuilt += "?" + quote(parts.query, safe=_QUERY_SAFE)
    return rebuilt


def is_secure_url(url: str) -> bool:
    """Whether a secret may be sent to ``url`` (``checked_url`` accepts it)."""
    try:
        checked_url(url)
    except ValueError:
        return False
    return True


def host_of(url: str) -> str:
    """The host of an already checked URL, lower case, IPv6 without brackets."""
    return (urlsplit(url).hostname or "").lower()


def is_google_host(host: str) -> bool:
    """Google's own OAuth and API hosts: accounts.google.com and ``*.googleapis.com``."""
    host = host.lower().rstrip(".")
    return host == "accounts.google.com" or host.endswith(".googleapis.com")


def is_local_host(host: str) -> bool:
    """This machine: 127.0.0.1, ::1 (with or without brackets) or localhost."""
    return is_loopback_host(host) or is_loopback_host(f"[{host}]")


def is_trusted_host(host: str) -> bool:
    """Google's hosts, or this machine (an emulator)."""
    return is_google_host(host) or is_local_host(host)


def _check_escapes(url: str) -> None:
    at = url.find("%")
    while at >= 0:
        if not set(url[at + 1 : at + 3]) <= _HEX or len(url[at + 1 : at + 3]) != 2:
            raise ValueError("it contains a '%' that is not a percent-escape")
        at = url.find("%", at + 3)


def _host(netloc: str) -> str:
    """The host of ``netloc`` as it will be written back: a DNS name, IPv4 or [IPv6] literal."""
    if netloc.startswith("["):
        literal, close, _ = netloc[1:].partition("]")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            close = ""
        if not close:
            raise ValueError("its host is not a valid [IPv6] literal")
        return f"[{literal.lower()}]"
    host = netloc.rsplit(":", 1)[0] if ":" in netloc else netloc
    host = host.lower()
    labels = host.rstrip(".").split(".")
    if (
        not host
        or not set(host) <= _HOST_CHARS
        or not all(
            0 < len(label) <= 63 and not label.startswith("-") and not label.endswith("-")
            for label in labels
        )
    ):
        raise ValueError("its host is not a valid host name")
    return host


__all__ = [
    "checked_url",
    "host_of",
    "is_google_host",
    "is_local_host",
    "is_secure_url",
    "is_trusted_host",
]
