"""Access tokens only: what a publisher puts in a shared cache, and the credentials of a worker
that reads it. The record has a closed set of fields, so a refresh token or client secret can
never be in one that passes ``is_published``; workers refresh by reading the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from google.oauth2 import credentials as ga_credentials

from gemini_oauth import _clock
from gemini_oauth._cache_format import usable_token
from gemini_oauth._clock import rfc3339_to_epoch, to_rfc3339
from gemini_oauth._constants import REFRESH_MARGIN
from gemini_oauth._setup import NO_CONTEXT, GrantContext
from gemini_oauth.errors import CacheError, CacheUnavailableError

if TYPE_CHECKING:
    from google.auth.transport import Request

    from gemini_oauth._cache_backend import CacheRecord

log = logging.getLogger(__name__)

PUBLISHED_TYPE = "published_access_token"
#: Every field a published record may have: nothing that refreshes or signs in.
FIELDS = frozenset(
    {"type", "token", "expiry", "scopes", "quota_project_id", "account", "client_id",
     "published_at"}
)  # fmt: skip
#: A publisher refreshes when less than this is left, so that workers, who come back for a
#: token when less than REFRESH_MARGIN is left, always find a newer one.
PUBLISH_LEAD = 2 * REFRESH_MARGIN


def published_record(
    *,
    token: str,
    expires_at: float,
    scopes: Sequence[str],
    quota_project: str | None,
    account: str | None,
    client_id: str | None,
) -> dict[str, Any]:
    """The record a publisher sets: the access token, its expiry, whose it is and what for."""
    data: dict[str, Any] = {
        "type": PUBLISHED_TYPE,
        "token": token,
        "expiry": to_rfc3339(expires_at),
        "scopes": list(scopes),
        "quota_project_id": quota_project,
        "account": account,
        "client_id": client_id,
        "published_at": to_rfc3339(_clock.now()),
    }
    if not is_published(data):
        raise ValueError("the access token cannot be published (not an RFC 6750 token)")
    return data


def is_published(data: object) -> bool:
    """The shape of a published access token, and nothing more (no refresh token, no secret)."""
    if not isinstance(data, dict) or data.get("type") != PUBLISHED_TYPE or set(data) - FIELDS:
        return False
    if not usable_token(data.get("token")) or not isinstance(data.get("expiry"), str):
        return False
    scopes = data.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        return False
    optional = ("quota_project_id", "account", "client_id", "published_at")
    return all(data.get(k) is None or isinstance(data[k], str) for k in optional)


def publish_hint(profile: str = "default") -> str:
    """Where and how to start the publisher of ``profile``: the URL is the publisher's own (its
    user, no ?mode=tokens), given by the environment since a password never goes on a command
    line."""
    flag = "" if profile == "default" else f" --profile {profile}"
    return (
        f"'gemini-oauth cache publish{flag}' where the login lives, with "
        "$GEMINI_OAUTH_CACHE_URL naming this cache as the publisher's user (no ?mode=tokens)"
    )


def keep_held_token(creds: Any, why: str) -> bool:
    """True if ``creds`` hold a token that has not expired, to keep using when the cache fails
    (said once per credentials): a fleet does not stop, nor storm the token endpoint."""
    expiry = creds.expiry
    at = None if expiry is None else expiry.replace(tzinfo=timezone.utc).timestamp()
    if not creds.token or at is None or at <= _clock.now():
        return False
    if not getattr(creds, "_told_held", False):
        creds._told_held = True
        where = creds.file.location if creds.file is not None else "the cache"
        log.warning("Using the access token held in memory (valid until %s): %s (%s).",
                    to_rfc3339(at), why, where)  # fmt: skip
    return True


def no_login_here(record: CacheRecord, profile: str) -> CacheError:
    """The error of a login asked of a cache that holds access tokens only."""
    flag = "" if profile == "default" else f" --profile {profile}"
    return CacheError(
        f"The cache {record.location} holds access tokens only (mode=tokens): a login is never "
        "stored there.",
        hint=f"Sign in where the publisher runs ('gemini-oauth login{flag}'), then run "
        f"{publish_hint(profile)}.",
    )


def _expiry(data: Mapping[str, Any]) -> datetime | None:
    try:
        epoch = rfc3339_to_epoch(data["expiry"])
        return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


class PublishedCredentials(ga_credentials.Credentials):
    """A worker's credentials: the access token a publisher put in the cache; no refresh token.

    ``refresh`` reads the record again and takes a newer token; a token equal to the one held
    is never taken back (it may be the one the server just refused). When the cache cannot
    be reached, or has nothing newer, a held token that has not expired is kept (said once).
    """

    def __init__(self, record: CacheRecord, context: GrantContext | None = None) -> None:
        super().__init__(None)  # type: ignore[no-untyped-call]
        self._file = record
        self._context = context or NO_CONTEXT
        self._client_id: str | None = None

    @classmethod
    def from_record(
        cls, data: Mapping[str, Any], record: CacheRecord, context: GrantContext | None = None
    ) -> PublishedCredentials:
        creds = cls(record, context)
        creds.take(data)
        return creds

    @property
    def file(self) -> CacheRecord:
        """Where the published token is read."""
        return self._file

    @property
    def context(self) -> GrantContext:
        return self._context

    @property
    def account(self) -> str:
        return self._account

    @property
    def expired(self) -> bool:
        """True when fewer than REFRESH_MARGIN seconds remain (as CachedCredentials)."""
        if self.expiry is None:
            return False
        left: float = self.expiry.replace(tzinfo=timezone.utc).timestamp() - _clock.now()
        return left <= REFRESH_MARGIN

    def take(self, data: Mapping[str, Any]) -> None:
        self.token, self.expiry = data["token"], _expiry(data)
        self._account = str(data.get("account") or "")
        self._scopes = self._granted_scopes = list(data.get("scopes") or [])
        self._quota_project_id = data.get("quota_project_id")
        self._client_id = data.get("client_id")

    def refresh(self, request: Request) -> None:
        """Take the newest published token; never call the token endpoint."""
        held = self.token
        try:
            data = self._file.read()
        except CacheUnavailableError:
            if keep_held_token(self, "the cache cannot be reached"):
                return
            raise
        if data is not None and data["token"] != held:
            self.take(data)
            if not self.expired:
                return
        if keep_held_token(self, "no newer access token is published there"):
            return
        raise self._nothing_newer(data, held)

    def nothing_published(self) -> CacheError:
        return self._nothing_newer(None, None)

    def _nothing_newer(self, data: Mapping[str, Any] | None, held: str | None) -> CacheError:
        where = self._file.location
        what = (
            "no access token is published"
            if data is None
            else "the access token published there was refused"
            if data["token"] == held
            else "the access token published there has expired"
        )
        return CacheError(
            f"{what[:1].upper()}{what[1:]} at {where}; this process reads access tokens only "
            "(mode=tokens) and does not refresh them itself.",
            hint=f"Start (or restart) the publisher: run "
            f"{publish_hint(getattr(self._file, 'profile', 'default'))} (docs/REDIS.md).",
        )


__all__ = [
    "FIELDS",
    "PUBLISHED_TYPE",
    "PUBLISH_LEAD",
    "PublishedCredentials",
    "is_published",
    "keep_held_token",
    "no_login_here",
    "published_record",
]
