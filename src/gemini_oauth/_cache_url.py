"""The cache URL: which Redis, which mode, which namespace; its one safety rule; shown redacted.

``redis://[USER[:PASSWORD]@]HOST[:PORT][/DB][?OPTIONS]``, or ``rediss://`` for TLS. Options:

- ``mode=grant`` (default): the whole login (refresh token included) lives in Redis and any
  machine refreshes it, one at a time under an expiring lock.
- ``mode=tokens``: access tokens only. A publisher (``gemini-oauth cache publish``) keeps the
  refresh token on its machine and publishes the access token, its expiry, the quota project
  and the scopes; workers read them and never see a refresh token.
- ``prefix=NAME``: the key namespace (default ``gemini-oauth``).
- ``lock_ttl=SECONDS``: how long a dead lock holder can stall the others (default 20).
- ``allow_plaintext=1``: allow ``redis://`` to another machine (tokens cross the network in
  clear); without it only loopback hosts may be reached without TLS.
- ``ssl_ca_certs=PATH``: the CA bundle that signs a ``rediss://`` server's certificate.

Pure: parsing and checking only, no socket, no redis import (``in_command`` reads
$GEMINI_OAUTH_CACHE_URL to tell a flag's URL from the environment's).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from gemini_oauth._constants import CACHE_URL_ENV, is_loopback_host
from gemini_oauth.errors import CacheUrlError

GRANT, TOKENS = "grant", "tokens"
DEFAULT_PREFIX = "gemini-oauth"
DEFAULT_LOCK_TTL = 20.0
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_OPTIONS = ("mode", "prefix", "lock_ttl", "allow_plaintext", "ssl_ca_certs")


@dataclass(frozen=True)
class CacheUrl:
    """A checked cache URL. ``password`` never appears in ``shown`` or in ``repr``."""

    scheme: str
    host: str
    port: int
    db: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    mode: str = GRANT
    prefix: str = DEFAULT_PREFIX
    lock_ttl: float = DEFAULT_LOCK_TTL
    allow_plaintext: bool = False
    ssl_ca_certs: str | None = None

    @property
    def tls(self) -> bool:
        return self.scheme == "rediss"

    @property
    def tokens_only(self) -> bool:
        return self.mode == TOKENS

    @property
    def shown(self) -> str:
        """The URL for messages: the password replaced by ``***``, options that matter kept."""
        user = quote(self.username or "", safe="")
        auth = f"{user}:***@" if self.password else (f"{user}@" if user else "")
        host = f"[{self.host}]" if ":" in self.host else self.host
        options = [f"mode={self.mode}"] if self.mode != GRANT else []
        if self.prefix != DEFAULT_PREFIX:
            options.append(f"prefix={self.prefix}")
        tail = "?" + "&".join(options) if options else ""
        return f"{self.scheme}://{auth}{host}:{self.port}/{self.db}{tail}"

    @property
    def server(self) -> str:
        """Host and port, as a redis-cli command takes them."""
        return f"-h {self.host} -p {self.port}" + (" --tls" if self.tls else "")

    def key(self, kind: str, profile: str) -> str:
        """``PREFIX:KIND:PROFILE``; kinds are ``profile``, ``lock`` and ``access-token``."""
        return f"{self.prefix}:{kind}:{profile}"


def parse_cache_url(url: str) -> CacheUrl:
    """Parse and check ``url``; CacheUrlError (exit 2) naming what is wrong, never the password.

    Plain ``redis://`` is allowed to loopback hosts only, unless ``allow_plaintext=1``.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise _bad(url, "its host or port is malformed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss"):
        raise _bad(url, "it is not a redis:// or rediss:// URL")
    host = parts.hostname or ""
    if not host:
        raise _bad(url, "it names no host")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise _bad(url, "its path is not a database number (/0 to /15 by default)")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise _bad(url, f"it has options this tool does not know ({', '.join(unknown)})")
    mode = options.get("mode", GRANT)
    if mode not in (GRANT, TOKENS):
        raise _bad(url, f"mode must be {GRANT} or {TOKENS}")
    prefix = options.get("prefix", DEFAULT_PREFIX)
    if not _PREFIX.fullmatch(prefix):
        raise _bad(url, "prefix must be 1-64 letters, digits, '.', '_', ':' or '-'")
    try:
        lock_ttl = float(options.get("lock_ttl", DEFAULT_LOCK_TTL))
    except ValueError:
        lock_ttl = -1.0
    if not 1.0 <= lock_ttl <= 600.0:
        raise _bad(url, "lock_ttl must be a number of seconds from 1 to 600")
    allow = options.get("allow_plaintext", "").lower()
    if allow not in _TRUE + _FALSE:
        raise _bad(url, "allow_plaintext must be 1 or 0")
    found = CacheUrl(
        scheme=scheme,
        host=host,
        port=port or 6379,
        db=int(path or 0),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        mode=mode,
        prefix=prefix,
        lock_ttl=lock_ttl,
        allow_plaintext=allow in _TRUE,
        ssl_ca_certs=options.get("ssl_ca_certs") or None,
    )
    if scheme == "redis" and not found.allow_plaintext and not is_loopback_host(host):
        raise CacheUrlError(
            f"The cache URL {found.shown} is plain redis:// to another machine, so tokens (and "
            "the Redis password) would cross the network in clear text; refusing to use it.",
            hint="Use rediss:// (TLS), or add allow_plaintext=1 to the URL's options if the "
            "network between this machine and Redis is private.",
        )
    return found


def _bad(url: str, why: str) -> CacheUrlError:
    return CacheUrlError(
        f"The cache URL {_without_userinfo(url)} cannot be used: {why}.",
        hint=f"Set {CACHE_URL_ENV} (or --cache) to redis://HOST:PORT/DB on loopback or "
        "rediss://[USER:PASSWORD@]HOST:PORT/DB, with mode=tokens for access tokens only.",
    )


def has_password(url: str) -> bool:
    """Whether ``url`` carries a password (``USER:PASSWORD@`` or ``:PASSWORD@``), even when it
    is malformed otherwise."""
    authority = url.strip().partition("://")[2].partition("/")[0].partition("?")[0]
    return ":" in authority.rpartition("@")[0]


def password_in_argv(url: str, option: str) -> CacheUrlError:
    """The refusal of a URL with a password given as ``option`` on the command line: any user
    of the machine reads a command line (ps, /proc/PID/cmdline) while it runs; the environment
    only its owner."""
    return CacheUrlError(
        f"The cache URL {_without_userinfo(url)} was given with its password on the command "
        f"line ({option}), where other users of this machine can read it (ps, "
        "/proc/PID/cmdline) while the command runs; refusing to use it.",
        hint=f"Give it in ${CACHE_URL_ENV} instead (the environment is yours alone), then run "
        f"the command again without {option}; paste the URL after: "
        f"read -rs {CACHE_URL_ENV} && export {CACHE_URL_ENV}",
    )


def in_command(url: str | None) -> tuple[str, str]:
    """How a command to paste names the cache URL ``url`` when $GEMINI_OAUTH_CACHE_URL does not
    hold it (pasted without it, the command would use this machine's files): the text to put
    ``(before, after)`` the command's words; ``("", "")`` when the environment holds it or there
    is none. After: `` --cache "URL"``, whole. A URL with a password never goes on a command
    line (``password_in_argv``): before, the shell reads it into the variable unseen.
    """
    if not url or not url.strip() or url == os.environ.get(CACHE_URL_ENV):
        return "", ""
    if has_password(url):
        return f"read -rs {CACHE_URL_ENV} && export {CACHE_URL_ENV} && ", ""
    quoted = re.sub(r'([$`"\\])', r"\\\1", url.strip())
    return "", f' --cache "{quoted}"'  # double quotes: hints quote commands in single ones


def _without_userinfo(url: str) -> str:
    """The URL with anything before an '@' of its authority replaced, for a message."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return "(not a URL)"
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}://{authority}{slash}{tail}"[:200]


__all__ = [
    "DEFAULT_LOCK_TTL",
    "DEFAULT_PREFIX",
    "GRANT",
    "TOKENS",
    "CacheUrl",
    "has_password",
    "in_command",
    "parse_cache_url",
    "password_in_argv",
]
