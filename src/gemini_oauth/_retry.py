"""When to send a request again: bounded attempts, a deadline, jittered backoff, the server's word.

No I/O of its own: the policy owns the seams (the random source, the sleep, sync and async, and
``on_retry``, told of each wait before it starts), so tests ask for delays instead of waiting them
out and a command line can say why it waits. The clients' send loops and the token endpoint's
refresh grant both follow it.
"""

from __future__ import annotations

import enum
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gemini_oauth import _clock

#: Statuses that say "try again": timeout, rate limit, and the server-side failures.
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: ErrorInfo reasons of a 429 that waiting does not fix (a storage quota is full until a delete).
LASTING_QUOTA_REASONS = frozenset({"FILE_STORAGE_QUOTA_EXCEEDED"})


async def _asyncio_sleep(seconds: float) -> None:
    import asyncio  # only async callers pay for it

    await asyncio.sleep(seconds)


class Action(enum.Enum):
    """What a send loop does with an answer (or a transport error)."""

    RETURN = "return"  # a success: hand the response over
    RAISE = "raise"  # an error that another try would not fix, or no tries left
    REFRESH = "refresh"  # a first 401: refresh the token and resend (not counted as an attempt)
    RETRY = "retry"  # wait ``Decision.delay`` seconds, then send again


@dataclass(frozen=True)
class Decision:
    """An ``Action``, with the seconds to wait first when it is RETRY."""

    action: Action
    delay: float = 0.0


RETURN = Decision(Action.RETURN)
RAISE = Decision(Action.RAISE)
REFRESH = Decision(Action.REFRESH)


#: What a retried status is called in a notice.
_STATUS_NAMES = {
    408: "request timed out",
    429: "rate-limited",
    500: "server error",
    502: "bad gateway",
    503: "unavailable",
    504: "gateway timed out",
}


@dataclass(frozen=True)
class Retrying:
    """A wait about to start: ``delay`` seconds before ``attempt`` of ``max_attempts``, because
    of ``cause`` ("rate-limited (429)", "no connection (ConnectError)")."""

    delay: float
    attempt: int
    max_attempts: int
    cause: str

    def __str__(self) -> str:
        return (
            f"{self.cause}; retrying in {round(self.delay, 1):g} s, "
            f"attempt {self.attempt} of {self.max_attempts}"
        )


def status_cause(status: int) -> str:
    """``rate-limited (429)``: a retried answer, as a notice names it."""
    return f"{_STATUS_NAMES.get(status, 'HTTP error')} ({status})"


@dataclass
class RetryPolicy:
    """When to try again: bounded by attempts and by a deadline (seconds from the first try)."""

    max_attempts: int = 4
    deadline: float = 30.0
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep
    async_sleep: Callable[[float], Awaitable[None]] = _asyncio_sleep
    #: Told of each wait before it starts (a command line prints it; nothing by default).
    on_retry: Callable[[Retrying], None] | None = None

    def delay(self, attempt: int, elapsed: float, retry_after: float | None = None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up."""
        if attempt >= self.max_attempts:
            return None
        backoff = min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))
        wait = backoff * (0.5 + self.rng.random() / 2)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return None if elapsed + wait >= self.deadline else wait

    def start(self) -> Attempts:
        """The bookkeeping of one request's attempts under this policy."""
        return Attempts(self)


class Attempts:
    """One request's attempts: how many so far, the time they took, and the waits between them.

    The time counts each requested delay as waited, so the deadline holds with a fake sleep too.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.count = 0
        self._refreshed = False
        self._started = time.monotonic()
        self._slept = 0.0  # measured inside policy.sleep
        self._waited = 0.0  # requested of it
        self._cause = "error"  # why the last decision was to retry

    def begin(self) -> None:
        """Count the attempt about to be sent."""
        self.count += 1

    def elapsed(self) -> float:
        """Seconds since the first attempt began (requested delays counted as waited)."""
        return time.monotonic() - self._started - self._slept + self._waited

    def timeout(self, limit: float) -> float:
        """The timeout of the current attempt: ``limit``, cut to what is left of the deadline."""
        if self.count <= 1:
            return limit
        return max(0.001, min(limit, self.policy.deadline - self.elapsed()))

    def after_response(
        self, status: int, retry_after: str | None, body: bytes, *, refresh_on_401: bool = True
    ) -> Decision:
        """The decision for an answer: its status, ``Retry-After`` header and (error) body."""
        if 200 <= status < 300:
            return RETURN
        if status == 401 and refresh_on_401 and not self._refreshed:
            self._refreshed = True
            self.count -= 1  # the resend after a refresh is not another attempt
            return REFRESH
        if status not in RETRYABLE_STATUS or error_reason(body) in LASTING_QUOTA_REASONS:
            return RAISE
        self._cause = status_cause(status)
        wait = parse_retry_after(retry_after)
        if wait is None:
            wait = retry_info_delay(body)
        return self._retry(self.policy.delay(self.count, self.elapsed(), wait))

    def after_transport_error(self, *, repeatable: bool, error: str = "") -> Decision:
        """The decision after a failed send; ``repeatable`` False when resending could do harm;
        ``error`` names it (the exception's type) for the notice."""
        self._cause = f"no answer ({error})" if error else "no answer"
        return self._retry(self.policy.delay(self.count, self.elapsed()) if repeatable else None)

    @staticmethod
    def _retry(delay: float | None) -> Decision:
        return RAISE if delay is None else Decision(Action.RETRY, delay)

    def _notify(self, delay: float) -> None:
        if self.policy.on_retry is not None:
            self.policy.on_retry(
                Retrying(delay, self.count + 1, self.policy.max_attempts, self._cause)
            )

    def wait(self, delay: float) -> None:
        """Sleep through the policy's sync sleep (``on_retry`` is told first)."""
        self._notify(delay)
        self._waited += delay
        started = time.monotonic()
        try:
            self.policy.sleep(delay)
        finally:
            self._slept += time.monotonic() - started

    async def wait_async(self, delay: float) -> None:
        """Sleep through the policy's async sleep (``on_retry`` is told first)."""
        self._notify(delay)
        self._waited += delay
        started = time.monotonic()
        try:
            await self.policy.async_sleep(delay)
        finally:
            self._slept += time.monotonic() - started


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils  # the HTTP-date form is rare

    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (_clock.now() if now is None else now))


def error_reason(body: bytes | str) -> str:
    """The ``google.rpc.ErrorInfo`` reason of an error body ('' if none)."""
    try:
        for detail in json.loads(body)["error"]["details"]:
            if str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo"):
                return str(detail.get("reason", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""
    return ""


def retry_info_delay(body: bytes | str) -> float | None:
    """The ``google.rpc.RetryInfo`` delay of an error body ("37s" -> 37.0), if it has one."""
    try:
        details = json.loads(body)["error"]["details"]
        for detail in details:
            if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
                return float(str(detail["retryDelay"]).rstrip("s"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return None


__all__ = [
    "RETRYABLE_STATUS",
    "Action",
    "Attempts",
    "Decision",
    "RetryPolicy",
    "Retrying",
    "error_reason",
    "parse_retry_after",
    "retry_info_delay",
    "status_cause",
]
