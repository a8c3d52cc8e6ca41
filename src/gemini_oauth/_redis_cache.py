"""A profile's record in Redis (``redis://``, ``rediss://``): the file store's contract across
machines. docs/REDIS.md has the design and the argument for why the lock is correct.

Keys (``PREFIX`` is the URL's ``prefix``, default ``gemini-oauth``):

- ``PREFIX:profile:NAME``: the record as JSON, the same record as a profile file; one SET, so a
  writer that dies mid-write leaves the old record or the new one, never a torn one.
- ``PREFIX:lock:NAME``: the refresh lock, ``SET NX PX`` with a random token; released by a
  compare-and-delete script, kept alive by its holder's watchdog, gone ``lock_ttl`` seconds
  after a holder died. Writes made while holding it are fenced: a script writes only if the
  lock still holds our token, so a holder that lost it (stopped past the TTL) writes nothing.
- ``PREFIX:access-token:NAME``: in access-tokens-only mode, the published access token
  (``_published``), expiring with the token; the only key a worker reads.

Values are never logged; the URL is shown without its password.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from gemini_oauth._cache_format import is_cache_data
from gemini_oauth._cache_url import CacheUrl
from gemini_oauth._constants import MAX_JSON_FILE
from gemini_oauth._published import is_published
from gemini_oauth._redact import redact, server_text
from gemini_oauth.errors import CacheError, CacheUnavailableError

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

#: Compare-and-delete: release the lock only if it still holds our token.
_RELEASE = """if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0"""
#: Compare-and-extend: the watchdog keeps a live holder's lock.
_EXTEND = """if redis.call('get', KEYS[1]) == ARGV[1] then
return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"""
#: A fenced write (ARGV[2] set) or delete (no ARGV[2]): only while the lock holds our token.
_FENCED = """if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
if ARGV[2] then redis.call('set', KEYS[2], ARGV[2]) return 1 end
return redis.call('del', KEYS[2])"""
#: Set a corrupt value aside, if it is still the value we read.
_SET_ASIDE = """if redis.call('get', KEYS[1]) == ARGV[1] then
redis.call('rename', KEYS[1], KEYS[2]) redis.call('expire', KEYS[2], ARGV[2]) return 1 end
return 0"""
#: A corrupt record set aside is kept this long for a look, then Redis drops it.
SET_ASIDE_SECONDS = 7 * 86400
#: How long one Redis command may take before the server counts as unreachable.
SOCKET_TIMEOUT = 5.0

_CLIENTS: dict[CacheUrl, redis.Redis] = {}
_LOCKS: dict[tuple[CacheUrl, str], _DistributedLock] = {}
_GUARD = threading.Lock()


def client(url: CacheUrl) -> redis.Redis:
    """One connection pool per URL and process (redis-py's pool is thread-safe and fork-aware)."""
    with _GUARD:
        found = _CLIENTS.get(url)
        if found is None:
            found = _CLIENTS[url] = _connect(url)
        return found


def _connect(url: CacheUrl) -> redis.Redis:
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    tls: dict[str, Any] = {}
    if url.tls:
        tls = {"ssl": True, "ssl_cert_reqs": "required", "ssl_ca_certs": url.ssl_ca_certs}
    return redis.Redis(
        host=url.host,
        port=url.port,
        db=url.db,
        username=url.username,
        password=url.password,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        **tls,
    )


@contextlib.contextmanager
def talking(url: CacheUrl, doing: str) -> Iterator[None]:
    """Turn the redis library's errors into ours: the URL without its password, and the fix."""
    import redis.exceptions as rex

    try:
        yield
    except rex.AuthenticationError:
        raise CacheError(
            f"Redis at {url.shown} refused the user name or password of the cache URL.",
            hint="Check the user and password in the cache URL against the server's ACL "
            "(docs/REDIS.md lists what each mode needs).",
        ) from None
    except rex.NoPermissionError as exc:
        raise CacheError(
            f"Redis at {url.shown} does not let this user {doing} ({_said(exc)}).",
            hint="Give the user the ACL docs/REDIS.md lists for this mode"
            + (" (a worker in mode=tokens only reads)." if url.tokens_only else "."),
        ) from None
    except (rex.ConnectionError, rex.TimeoutError) as exc:
        raise CacheUnavailableError(
            f"Cannot reach Redis at {url.shown} ({_said(exc)}).",
            hint=f"Check that Redis is running and reachable from here "
            f"('redis-cli {url.server} ping'), then try again.",
        ) from None
    except rex.RedisError as exc:
        raise CacheError(f"Redis at {url.shown} answered an error while trying to {doing}: "
                         f"{_said(exc)}.") from None  # fmt: skip


def _said(exc: BaseException) -> str:
    return redact(server_text(str(exc) or type(exc).__name__)).rstrip(".")[:200]


class RedisRecord:
    """One profile in Redis: a ``_cache_backend.CacheRecord``.

    In ``mode=tokens`` it reads the published access token and nothing else; its lock is a
    no-op (workers never refresh) and writing is refused.
    """

    backend = "redis"
    #: A Redis without persistence loses records when restarted: holders put theirs back.
    volatile = True

    def __init__(self, url: CacheUrl, profile: str) -> None:
        self.url = url
        self.profile = profile
        self.tokens_only = url.tokens_only
        self.key = url.key("access-token" if url.tokens_only else "profile", profile)
        self.lock_key = url.key("lock", profile)

    def __repr__(self) -> str:
        return f"RedisRecord({self.location!r})"

    @property
    def location(self) -> str:
        """The redacted URL and the key, for messages."""
        return f"{self.url.shown} key {self.key}"

    # -- reading -------------------------------------------------------------------------------

    def read(self) -> dict[str, Any] | None:
        """The record, or None; a corrupt value is set aside (grant mode) or ignored (tokens)."""
        with talking(self.url, "read the cache"):
            raw: bytes | None = client(self.url).get(self.key)  # type: ignore[assignment]
        if raw is None:
            return None
        data = _parse(raw, self.tokens_only)
        if data is not None:
            return data
        if self.tokens_only:  # a worker may not write; the publisher's next round replaces it
            log.warning("The published token at %s is not one; ignoring it.", self.location)
            return None
        aside = f"{self.key}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        with talking(self.url, "set a corrupt record aside"):
            moved = client(self.url).eval(_SET_ASIDE, 2, self.key, aside, raw, SET_ASIDE_SECONDS)
        if moved:
            log.warning(
                "The cached record at %s was corrupt or not a credentials record; moved it to "
                "%s (kept 7 days). Run 'gemini-oauth login' to sign in again.",
                self.location,
                aside,
            )
            return None
        return self.read()  # it changed meanwhile

    # -- writing -------------------------------------------------------------------------------

    def write(self, data: Mapping[str, Any]) -> None:
        """One SET (atomic); while this process holds the lock, only if it still does."""
        self._refuse_in_tokens_mode()
        payload = json.dumps(dict(data), separators=(",", ":"))
        held = self._held_token()
        with talking(self.url, "write the cache"):
            if held is None:
                client(self.url).set(self.key, payload)
                return
            done = client(self.url).eval(_FENCED, 2, self.lock_key, self.key, held, payload)
        if done == -1:
            raise _lost_lock(self)

    def delete(self) -> bool:
        """Remove the record; True if there was one (fenced like ``write``)."""
        self._refuse_in_tokens_mode()
        held = self._held_token()
        with talking(self.url, "delete from the cache"):
            if held is None:
                return bool(client(self.url).delete(self.key))
            done = client(self.url).eval(_FENCED, 2, self.lock_key, self.key, held)
        if done == -1:
            raise _lost_lock(self)
        return bool(done)

    def publish(self, data: Mapping[str, Any], lifetime: float) -> None:
        """Set the published access token (``_published``), gone from Redis after ``lifetime``."""
        if not is_published(data):
            raise ValueError("not a published access-token record")
        key = self.url.key("access-token", self.profile)
        payload = json.dumps(dict(data), separators=(",", ":"))
        with talking(self.url, "publish the access token"):
            client(self.url).set(key, payload, px=max(1, int(lifetime * 1000)))

    def health(self) -> dict[str, Any]:
        """For ``doctor``: the round trip of a PING, whether the record (or published token)
        is there, and how long the refresh lock is still held (never a value)."""
        redis = client(self.url)
        with talking(self.url, "check the cache"):
            start = time.perf_counter()
            redis.ping()
            round_trip = (time.perf_counter() - start) * 1000
            there = redis.get(self.key) is not None
            held = None if self.tokens_only else int(redis.pttl(self.lock_key))
        return {
            "mode": self.url.mode,
            "tls": self.url.tls,
            "round_trip_ms": round(round_trip, 2),
            "record": there,
            "lock_held_ms": held if held is not None and held > 0 else None,
        }

    def _refuse_in_tokens_mode(self) -> None:
        if self.tokens_only:
            raise CacheError(
                f"The cache {self.location} holds access tokens only (mode=tokens); this "
                "process only reads them.",
                hint="Drop mode=tokens from the URL to share the whole login instead.",
            )

    # -- the lock ------------------------------------------------------------------------------

    def lock(self, timeout: float = 120.0) -> contextlib.AbstractContextManager[None]:
        """Hold the profile's lock in Redis: one holder across every machine (reentrant)."""
        if self.tokens_only:
            return contextlib.nullcontext()
        _forget_locks_after_fork()
        with _GUARD:
            found = _LOCKS.setdefault(
                (self.url, self.lock_key), _DistributedLock(self.url, self.lock_key)
            )
        return found.hold(timeout)

    def _held_token(self) -> str | None:
        with _GUARD:
            found = _LOCKS.get((self.url, self.lock_key))
        return found.token_of_this_thread() if found is not None else None


def _lost_lock(record: RedisRecord) -> CacheError:
    return CacheError(
        f"Lost the lock on {record.location} (held past its TTL of {record.url.lock_ttl:g} s, "
        "e.g. while this process was stopped); nothing was written, as another process may "
        "have written since.",
        hint="Try again; if this process is often stopped or slow, raise lock_ttl in the URL.",
    )


def _parse(raw: bytes, published: bool) -> dict[str, Any] | None:
    if len(raw) > MAX_JSON_FILE:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    ok = is_published(data) if published else is_cache_data(data)
    return data if ok else None


class _DistributedLock:
    """A Redis lock for one key: threads of this process queue on a local lock first, then the
    outermost holder takes ``SET key TOKEN NX PX ttl`` and a watchdog extends it while held."""

    def __init__(self, url: CacheUrl, key: str) -> None:
        self.url, self.key = url, key
        self.local = threading.RLock()
        self.depth = 0
        self.owner: int | None = None
        self.token: str | None = None
        #: A copy of a parent's lock in a forked child: held by the parent, never by the child.
        self.inherited = False

    def token_of_this_thread(self) -> str | None:
        if self.inherited:
            return None
        return self.token if self.owner == threading.get_ident() else None

    @contextlib.contextmanager
    def hold(self, timeout: float) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        if not self.local.acquire(timeout=timeout):
            raise self._timeout(timeout)
        try:
            if self.depth == 0:
                self._take(deadline, timeout)
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self._give_back()
        finally:
            self.local.release()

    def _take(self, deadline: float, timeout: float) -> None:
        token = self._acquire(deadline, timeout)
        self.token, self.owner = token, threading.get_ident()
        _WATCHDOG.watch(self, token)

    def _give_back(self) -> None:
        token = self.token
        _WATCHDOG.drop(self)
        self.token = self.owner = None
        if self.inherited:
            return  # the parent's lock: the parent releases it
        # unreachable: the TTL frees it
        with contextlib.suppress(CacheError), talking(self.url, "release the cache lock"):
            client(self.url).eval(_RELEASE, 1, self.key, str(token))

    def _acquire(self, deadline: float, timeout: float) -> str:
        token = secrets.token_hex(16)
        ttl_ms = int(self.url.lock_ttl * 1000)
        redis = client(self.url)
        delay = 0.005
        while True:  # bounded by the deadline
            with talking(self.url, "take the cache lock"):
                if redis.set(self.key, token, nx=True, px=ttl_ms):
                    return token
                if redis.get(self.key) == token.encode():  # our SET ran; its answer was lost
                    return token
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timeout(timeout)
            time.sleep(min(left, delay * (0.5 + random.random())))  # noqa: S311 - jitter
            delay = min(delay * 2, 0.05)

    def extend(self, token: str) -> bool:
        """Reset the TTL if the lock still holds ``token``; False when it was lost."""
        try:
            with talking(self.url, "extend the cache lock"):
                ttl_ms = int(self.url.lock_ttl * 1000)
                return bool(client(self.url).eval(_EXTEND, 1, self.key, token, ttl_ms))
        except CacheError:
            return True  # Redis away for a moment: try again; the TTL bounds the harm

    def _timeout(self, timeout: float) -> CacheError:
        return CacheError(
            f"Timed out after {timeout:g} s waiting for the cache lock {self.key} at "
            f"{self.url.shown}.",
            hint="Another gemini-oauth process holds it (a refresh or a login); try again. "
            f"A holder that died frees it within {self.url.lock_ttl:g} s.",
        )


class _Watchdog:
    """One thread per process keeps every lock it holds alive (a third of the TTL at a time),
    so taking a lock starts no thread; a process that dies stops extending, and its locks
    expire within their TTL."""

    def __init__(self) -> None:
        self.held: dict[int, tuple[_DistributedLock, str]] = {}
        self.changed = threading.Condition()
        self.thread: threading.Thread | None = None

    def watch(self, lock: _DistributedLock, token: str) -> None:
        with self.changed:
            self.held[id(lock)] = (lock, token)
            if self.thread is None or not self.thread.is_alive():  # also after a fork
                self.thread = threading.Thread(target=self._run, daemon=True, name="cache-lock")
                self.thread.start()
            self.changed.notify()

    def drop(self, lock: _DistributedLock) -> None:
        with self.changed:
            self.held.pop(id(lock), None)

    def _run(self) -> None:
        while True:  # a daemon thread: ends with the process
            with self.changed:
                while not self.held:
                    self.changed.wait()
                period = min(lock.url.lock_ttl for lock, _ in self.held.values()) / 3
                self.changed.wait(period)
                due = list(self.held.items())
            for key, (lock, token) in due:
                if not lock.extend(token):
                    log.warning("The cache lock %s expired while held; writes are refused.",
                                lock.key)  # fmt: skip
                    with self.changed:
                        if self.held.get(key, (None, ""))[1] == token:
                            del self.held[key]


_WATCHDOG = _Watchdog()
_FORK_HOOKED = False


def _forget_locks_after_fork() -> None:
    """Have a forked child start with no lock of its parent's (registered on first use).

    The child's thread has the id of the one that forked, so a lock its parent held would pass
    for the child's own (reentrant) without a word to Redis, and the child leaving it would
    release the parent's lock. In the child the copies are marked inherited and a new registry,
    guard and watchdog (whose thread did not survive the fork) start empty.
    """
    global _FORK_HOOKED
    if not _FORK_HOOKED and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _FORK_HOOKED = True


def _after_fork_in_child() -> None:
    global _LOCKS, _GUARD, _WATCHDOG
    for lock in _LOCKS.values():
        lock.inherited = True
    _LOCKS, _GUARD, _WATCHDOG = {}, threading.Lock(), _Watchdog()


__all__ = ["SET_ASIDE_SECONDS", "RedisRecord", "client", "talking"]
