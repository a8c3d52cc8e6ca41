"""Where a profile's record lives: the interface the credentials use, and the choice by URL.

Two backends hold the same record (``_cache_format``): the file store (``_store.TokenFile``,
the default) and Redis (``_redis_cache.RedisRecord``), chosen by a cache URL (the ``cache``
argument, else $GEMINI_OAUTH_CACHE_URL). The redis library is imported only when a URL asks
for it. A backend is a ``CacheRecord``: read, write, delete, a lock that makes one refresh for
all who share it, and a ``location`` to name it in messages (never a secret).
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from gemini_oauth._constants import CACHE_URL_ENV


class CacheRecord(Protocol):
    """One profile's record in a backend.

    ``read`` gives the record or None (a corrupt one is set aside); ``write`` is atomic;
    ``lock`` is held by one holder at a time across every process that shares the backend,
    and is reentrant in a thread. ``tokens_only``: the record is a published access token
    (``_published``), which is read, never refreshed here. ``volatile``: records may be lost
    (a cache server restarted without persistence), so a holder puts its own back.
    """

    backend: str
    tokens_only: bool
    volatile: bool

    @property
    def location(self) -> str: ...

    def read(self) -> dict[str, Any] | None: ...

    def write(self, data: Any) -> None: ...

    def delete(self) -> bool: ...

    def lock(self, timeout: float = 120.0) -> AbstractContextManager[None]: ...


def selected_url(cache: str | None = None) -> str | None:
    """The cache URL in force: ``cache``, else $GEMINI_OAUTH_CACHE_URL; None (or "") is the
    file store."""
    url = cache if cache is not None else os.environ.get(CACHE_URL_ENV)
    return url.strip() or None if url else None


def profile_record(
    profile: str = "default",
    home: str | os.PathLike[str] | Path | None = None,
    cache: str | None = None,
) -> CacheRecord:
    """The record of ``profile``: in Redis when a cache URL is in force, else its file."""
    from gemini_oauth._store import profile_file, validate_profile_name

    url = selected_url(cache)
    if url is None:
        return profile_file(profile, home)
    from gemini_oauth._cache_url import parse_cache_url
    from gemini_oauth._redis_cache import RedisRecord

    return RedisRecord(parse_cache_url(url), validate_profile_name(profile))


def describe(record: CacheRecord) -> dict[str, Any]:
    """What ``status`` shows about the backend: its name, where, its mode (never a secret)."""
    return {
        "backend": record.backend,
        "location": record.location,
        "mode": "tokens" if record.tokens_only else "grant",
    }


__all__ = ["CacheRecord", "describe", "profile_record", "selected_url"]
