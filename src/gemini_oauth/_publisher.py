"""Access tokens only: the publisher keeps the refresh token on its machine, refreshes ahead of
expiry and publishes the access token (with its expiry, quota project, scopes and account) to a
cache server, where workers (``mode=tokens``) read it and never see a refresh token.

It refreshes when less than ``PUBLISH_LEAD`` (twice the refresh margin) is left, so workers,
who come back when less than the margin is left, always find a newer token; and it sets the
token again every ``interval`` seconds, so a cache server restarted without persistence has it
back within that time. The key expires with the token: a publisher that died leaves nothing
stale behind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gemini_oauth import _clock
from gemini_oauth._published import PUBLISH_LEAD, published_record
from gemini_oauth._redis_cache import RedisRecord
from gemini_oauth._token_source import AccessToken, TokenSource
from gemini_oauth.errors import CacheUnavailableError, TokenEndpointError

log = logging.getLogger(__name__)

#: How often the token is set again (a Redis restarted empty has it back within this).
DEFAULT_INTERVAL = 30.0
#: The wait before trying again after a failure that may pass (Redis or Google away).
RETRY_AFTER = 5.0


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


@dataclass
class Publisher:
    """Publishes ``source``'s access tokens to ``target`` until told to stop."""

    source: TokenSource
    target: RedisRecord
    interval: float = DEFAULT_INTERVAL
    #: The wait seam (tests pass a fake); returns True to stop.
    wait: Callable[[float], bool] = field(default=_sleep)
    #: Told each time a new token is published: (the token's expiry, epoch seconds).
    on_new: Callable[[float], None] = lambda expires_at: None
    #: Told once per failure that may pass: what failed.
    on_trouble: Callable[[str], None] = lambda message: None
    last: AccessToken | None = None

    def publish_once(self) -> AccessToken:
        """Refresh if less than PUBLISH_LEAD is left, then set the published record."""
        token = self.source.token(min_left=PUBLISH_LEAD)
        record = published_record(
            token=token.token,
            expires_at=token.expires_at,
            scopes=self.source.scopes(),
            quota_project=self.source.quota_project,
            account=self.source.account,
            client_id=self.source.client_id,
        )
        self.target.publish(record, lifetime=token.expires_at - _clock.now())
        if self.last is None or self.last.token != token.token:
            self.on_new(token.expires_at)
        self.last = token
        return token

    def run(self, rounds: int | None = None) -> None:
        """Publish, wait, publish again (``rounds`` times, or until ``wait`` says stop).

        Failures that may pass (the cache server or the token endpoint away for a while) are
        told and tried again; a dead grant raises (a new login is needed here).
        """
        done = 0
        while rounds is None or done < rounds:
            done += 1
            try:
                token = self.publish_once()
            except (CacheUnavailableError, TokenEndpointError) as exc:
                if isinstance(exc, TokenEndpointError) and not exc.transient:
                    raise
                self.on_trouble(exc.message)
                pause = RETRY_AFTER
            else:
                ahead = token.expires_at - PUBLISH_LEAD - _clock.now()
                pause = max(1.0, min(self.interval, ahead))
            if (rounds is None or done < rounds) and self.wait(pause):
                return


__all__ = ["DEFAULT_INTERVAL", "RETRY_AFTER", "Publisher"]
