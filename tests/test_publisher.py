"""Access tokens only: the publisher (refresh ahead, publish the token and nothing more, ride
out Redis going away) and the worker's credentials (take newer tokens, never re-adopt one,
keep a held token, never log in or write), against a real redis-server and the emulator."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from gemini_oauth import _clock
from gemini_oauth._cache_backend import profile_record
from gemini_oauth._cache_url import parse_cache_url
from gemini_oauth._client import GeminiClient
from gemini_oauth._credentials import load_profile, login
from gemini_oauth._published import PUBLISH_LEAD, PublishedCredentials, published_record
from gemini_oauth._publisher import RETRY_AFTER, Publisher
from gemini_oauth._redis_cache import RedisRecord
from gemini_oauth._token_source import TokenSource
from gemini_oauth._transport import HttpxRequest
from gemini_oauth.emulator import Emulator
from gemini_oauth.errors import CacheError, InvalidGrantError

from conftest import RedisServer  # isort: skip

KEY = "gemini-oauth:access-token:default"


def publisher(server: RedisServer, **kwargs: Any) -> Publisher:
    """The publisher of the profile 'default' in this machine's files; waits are recorded."""
    pauses: list[float] = kwargs.setdefault("pauses", [])
    del kwargs["pauses"]
    target = RedisRecord(parse_cache_url(server.url()), "default")
    return Publisher(
        TokenSource.resolve("default", cache=""),
        target,
        wait=lambda seconds: pauses.append(seconds) or False,
        **kwargs,
    )


def test_only_the_access_token_is_published(
    emulator: Emulator, redis_server: RedisServer, seed_login: Any
) -> None:
    grant = seed_login(quota_project=emulator.project_id)
    pauses: list[float] = []
    publisher(redis_server, pauses=pauses).run(rounds=2)
    raw = redis_server.client().get(KEY)
    record = json.loads(raw)
    assert set(record) == {  # nothing that refreshes or signs in
        "type", "token", "expiry", "scopes", "quota_project_id", "account", "client_id",
        "published_at",
    }  # fmt: skip
    assert record["token"] == grant["access_token"]
    assert record["quota_project_id"] == emulator.project_id
    assert record["account"] == emulator.user_email and record["scopes"]
    for secret in (grant["refresh_token"], emulator.client_secret):
        assert secret.encode() not in raw
    assert 3000 < redis_server.client().ttl(KEY) <= 3600  # gone when the token is
    assert pauses == [30.0]  # set again every interval, long before the lead
    assert emulator.control.counters().get("token.refresh_token", 0) == 0


def test_the_publisher_refreshes_ahead_of_the_workers(
    emulator: Emulator, redis_server: RedisServer, seed_login: Any
) -> None:
    grant = seed_login(lifetime=PUBLISH_LEAD - 60)  # workers would still use it for 4 min
    new: list[float] = []
    publisher(redis_server, on_new=new.append).run(rounds=1)
    assert emulator.control.counters()["token.refresh_token"] == 1
    published = json.loads(redis_server.client().get(KEY))
    assert published["token"] != grant["access_token"] and len(new) == 1
    assert new[0] - _clock.now() > 3000


def test_the_publisher_rides_out_redis_going_away(
    emulator: Emulator, redis_server: RedisServer, seed_login: Any
) -> None:
    seed_login()
    troubles: list[str] = []
    pauses: list[float] = []
    redis_server.kill()
    publisher(redis_server, on_trouble=troubles.append, pauses=pauses).run(rounds=2)
    assert len(troubles) == 2 and "Cannot reach Redis" in troubles[0]
    assert pauses == [RETRY_AFTER]
    redis_server.start()  # back, empty: the next round has the token there again
    publisher(redis_server).run(rounds=1)
    assert redis_server.client().get(KEY) is not None


def test_a_dead_grant_stops_the_publisher(
    emulator: Emulator, redis_server: RedisServer, seed_login: Any
) -> None:
    grant = seed_login(lifetime=-10)
    httpx.post(f"{emulator.base_url}/revoke", data={"token": grant["refresh_token"]})
    with pytest.raises(InvalidGrantError):
        publisher(redis_server).run(rounds=3)


# -- the workers -----------------------------------------------------------------------------


def test_a_worker_reads_the_token_and_calls_the_api(
    emulator: Emulator, redis_server: RedisServer, seed_login: Any
) -> None:
    grant = seed_login(quota_project=emulator.project_id)
    publisher(redis_server).run(rounds=1)
    url = redis_server.url("mode=tokens")
    creds = load_profile(cache=url)
    assert isinstance(creds, PublishedCredentials) and creds.token == grant["access_token"]
    assert creds.quota_project_id == emulator.project_id
    assert creds.account == emulator.user_email and creds.valid
    with GeminiClient(profile="default", cache=url, base_url=emulator.base_url) as gemini:
        assert gemini.list_models().models
        assert gemini.quota_project == emulator.project_id
    assert TokenSource.resolve(cache=url).token().token == grant["access_token"]


def test_a_worker_takes_a_newer_token_and_never_readopts_a_refused_one(
    emulator: Emulator,
    redis_server: RedisServer,
    seed_login: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    grant = seed_login()
    publisher(redis_server).run(rounds=1)
    creds = load_profile(cache=redis_server.url("mode=tokens"))
    request = HttpxRequest()
    try:
        with caplog.at_level(logging.WARNING):
            creds.refresh(request)  # nothing newer: the held token (not expired) is kept
            creds.refresh(request)
        assert creds.token == grant["access_token"]
        assert len([r for r in caplog.records if "held in memory" in r.getMessage()]) == 1
        creds.expiry = _clock_naive(-1)  # and once it has expired, that is an error
        with pytest.raises(CacheError, match="was refused") as info:
            creds.refresh(request)
        hint = info.value.hint
        assert "'gemini-oauth cache publish' where the login lives, with $GEMINI_OAUTH" in hint
        seed_login(lifetime=PUBLISH_LEAD - 60)  # the publisher's next round refreshes
        publisher(redis_server).run(rounds=1)
        creds.refresh(request)
        assert creds.token != grant["access_token"] and creds.valid
    finally:
        request.close()
    assert emulator.control.counters()["token.refresh_token"] == 1  # never the worker's


def _clock_naive(offset: float) -> Any:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(_clock.now() + offset, timezone.utc).replace(tzinfo=None)


def test_nothing_published_says_to_start_the_publisher(redis_server: RedisServer) -> None:
    with pytest.raises(CacheError, match="No access token is published") as info:
        load_profile("team", cache=redis_server.url("mode=tokens"))
    assert "'gemini-oauth cache publish --profile team' where the login lives" in info.value.hint


def test_a_worker_never_logs_in_nor_writes(
    emulator: Emulator, redis_server: RedisServer, client_secret_file: Any
) -> None:
    url = redis_server.url("mode=tokens")
    opened: list[str] = []
    with pytest.raises(CacheError, match="access tokens only") as info:
        login(client_secret_file, cache=url, open_browser=lambda u: opened.append(u) or True)
    assert opened == [] and "gemini-oauth cache publish" in info.value.hint
    record = profile_record(cache=url)
    with pytest.raises(CacheError, match="only reads"):
        record.write({"client_id": "x", "client_secret": "y", "refresh_token": "z"})
    with pytest.raises(CacheError, match="only reads"):
        record.delete()
    assert redis_server.client().keys("*") == []


@pytest.mark.parametrize("extra", ["refresh_token", "client_secret"])
def test_a_record_with_a_secret_is_never_published_nor_taken(
    emulator: Emulator, redis_server: RedisServer, extra: str
) -> None:
    """The closed set of fields is the defence: a publisher cannot set a record holding a refresh
    token or client secret, and a worker does not take one that something else put there."""
    record = published_record(
        token="ya" + "29.published-for-the-test",
        expires_at=_clock.now() + 3000,
        scopes=["https://www.googleapis.com/auth/cloud-platform"],
        quota_project=None,
        account=emulator.user_email,
        client_id=emulator.client_id,
    )
    target = RedisRecord(parse_cache_url(redis_server.url()), "default")
    target.publish(record, 60)  # the record as made: published
    worker = load_profile(cache=redis_server.url("mode=tokens"))
    assert worker.token == record["token"]

    planted = {**record, extra: "1//" + "planted-secret"}
    with pytest.raises(ValueError, match="not a published access-token record"):
        target.publish(planted, 60)
    assert json.loads(redis_server.client().get(KEY)) == record  # left as it was
    redis_server.client().set(KEY, json.dumps(planted))
    with pytest.raises(CacheError):
        load_profile(cache=redis_server.url("mode=tokens"))
