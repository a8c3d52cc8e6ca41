"""The retry rules (pure): Retry-After, RetryInfo, bounded backoff, decisions, the sleep seam."""

from __future__ import annotations

import asyncio
import json
import random

from gemini_oauth._retry import (
    RAISE,
    REFRESH,
    RETURN,
    Action,
    Retrying,
    RetryPolicy,
    parse_retry_after,
    retry_info_delay,
)


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=90.0) == 10.0


def test_retry_info_delay() -> None:
    info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
    assert retry_info_delay(json.dumps({"error": {"details": [info]}}).encode()) == 37.0
    assert retry_info_delay(b'{"error": {"details": []}}') is None
    assert retry_info_delay(b"<html>") is None


def test_retry_policy_is_bounded() -> None:
    policy = RetryPolicy(max_attempts=4, deadline=5.0, initial_backoff=1.0, rng=random.Random(1))
    delays = [policy.delay(n, 0.0) for n in range(1, 5)]
    assert delays[3] is None  # the fourth attempt was the last
    assert all(d is not None and 0.5 * 2 ** (i) <= d <= 2 ** (i) for i, d in enumerate(delays[:3]))
    assert policy.delay(1, 0.0, retry_after=4.0) == 4.0
    assert policy.delay(1, 0.0, retry_after=6.0) is None  # would pass the deadline
    assert policy.delay(1, 4.9) is None


def test_decisions() -> None:
    attempts = RetryPolicy(initial_backoff=0.0).start()
    attempts.begin()
    assert attempts.after_response(200, None, b"") == RETURN
    assert attempts.after_response(401, None, b"") == REFRESH
    assert attempts.count == 0  # the resend after a refresh is not another attempt
    attempts.begin()
    assert attempts.after_response(401, None, b"") == RAISE  # a second 401: give up
    assert attempts.after_response(404, None, b"") == RAISE
    retry = attempts.after_response(503, "2", b"")
    assert retry.action is Action.RETRY and retry.delay == 2.0
    assert attempts.after_response(429, "60", b"") == RAISE  # past the 30 s deadline
    assert attempts.after_response(401, None, b"", refresh_on_401=False) == RAISE
    assert attempts.after_transport_error(repeatable=False) == RAISE
    assert attempts.after_transport_error(repeatable=True).action is Action.RETRY


def test_the_sleep_is_a_seam_and_the_deadline_holds_without_waiting() -> None:
    """A fake sleep still counts as time spent: the deadline ends the retries, not the clock."""
    slept: list[float] = []
    policy = RetryPolicy(
        max_attempts=100,
        deadline=10.0,
        initial_backoff=1.0,
        rng=random.Random(7),
        sleep=slept.append,
    )
    attempts = policy.start()
    while True:
        attempts.begin()
        decision = attempts.after_response(503, None, b"")
        if decision.action is Action.RAISE:
            break
        attempts.wait(decision.delay)
    assert 3 <= len(slept) < 10 and sum(slept) < 10.0
    assert all(0.5 * 2**i <= d <= 2**i for i, d in enumerate(slept[:3]))  # jittered, doubling
    assert attempts.elapsed() >= sum(slept)
    assert attempts.timeout(60.0) <= 10.0 - sum(slept)  # a later attempt gets what is left


def test_async_sleep_is_a_seam() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    attempts = RetryPolicy(async_sleep=fake_sleep).start()
    asyncio.run(attempts.wait_async(1.5))
    assert slept == [1.5] and attempts.elapsed() >= 1.5


def test_each_wait_is_told_before_it_starts() -> None:
    told: list[Retrying] = []
    order: list[str] = []
    policy = RetryPolicy(
        initial_backoff=0.0,
        sleep=lambda s: order.append(f"sleep {s:g}"),
        on_retry=lambda n: (told.append(n), order.append("told")),
    )
    attempts = policy.start()
    attempts.begin()
    attempts.wait(attempts.after_response(429, "5", b"").delay)
    attempts.begin()
    attempts.wait(attempts.after_transport_error(repeatable=True, error="ConnectError").delay)
    assert [str(n) for n in told] == [
        "rate-limited (429); retrying in 5 s, attempt 2 of 4",
        "no answer (ConnectError); retrying in 0 s, attempt 3 of 4",
    ]
    assert order == ["told", "sleep 5", "told", "sleep 0"]
    assert str(Retrying(0.37, 2, 3, "bad gateway (502)")).endswith("in 0.4 s, attempt 2 of 3")
