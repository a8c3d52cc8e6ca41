"""The Redis cache backend against a real redis-server: the file store's contract (round trip,
atomic writes, set-aside, a refused token never re-adopted), the lock (compare-and-delete,
fenced writes), failures (unreachable, a held token kept), and the URL's rules."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from conftest import RedisServer
from gemini_oauth import _clock
from gemini_oauth._cache_backend import profile_record
from gemini_oauth._cache_url import parse_cache_url
from gemini_oauth._client import GeminiClient
from gemini_oauth._client_secrets import client_from_dict
from gemini_oauth._credentials import CachedCredentials, load_creds, load_profile, save_login
from gemini_oauth._flow import LoginResult
from gemini_oauth._redis_cache import RedisRecord
from gemini_oauth._transport import HttpxRequest
from gemini_oauth.emulator import Emulator
from gemini_oauth.errors import CacheError, CacheUnavailableError, CacheUrlError
from gemini_oauth.scopes import DEFAULT_SCOPES


def seed(emulator: Emulator, url: str, profile: str = "default", lifetime: float = 3600.0) -> Any:
    """A logged-in profile in the cache at ``url`` (no browser); returns the token response."""
    body: dict[str, Any] = emulator.control.issue_grant(list(DEFAULT_SCOPES))
    result = LoginResult(
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=_clock.now() + lifetime,
        granted_scopes=tuple(DEFAULT_SCOPES),
        account=emulator.user_email,
    )
    client = client_from_dict(emulator.client_secret_json())
    save_login(result, client, file=profile_record(profile, cache=url))
    return body


def test_a_profile_round_trips_through_redis(emulator: Emulator, redis_server: RedisServer) -> None:
    url = redis_server.url()
    body = seed(emulator, url, "work")
    stored = json.loads(redis_server.client().get("gemini-oauth:profile:work"))
    assert stored["refresh_token"] == body["refresh_token"]
    assert stored["account"] == emulator.user_email
    assert redis_server.client().ttl("gemini-oauth:profile:work") == -1  # no expiry: the login
    record = profile_record("work", cache=url)
    assert record.read() == stored
    creds = load_profile("work", cache=url)
    assert isinstance(creds, CachedCredentials) and creds.token == body["access_token"]
    with GeminiClient(profile="work", cache=url, base_url=emulator.base_url) as gemini:
        assert gemini.list_models().models
    assert record.delete() and record.read() is None and not record.delete()
    # nothing on disk: the home holds no profile file
    assert not profile_record("work").read()


def test_the_environment_variable_selects_redis_and_load_creds_uses_it(
    emulator: Emulator, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = seed(emulator, redis_server.url())
    monkeypatch.setenv("GEMINI_OAUTH_CACHE_URL", redis_server.url())
    assert profile_record().backend == "redis"
    creds = load_creds(interactive=False)
    assert creds.token == body["access_token"]


def test_an_expired_token_is_refreshed_once_and_shared(
    emulator: Emulator, redis_server: RedisServer
) -> None:
    url = redis_server.url()
    seed(emulator, url, lifetime=-10)
    first, second = load_profile(cache=url), load_profile(cache=url)
    request = HttpxRequest()
    try:
        first.refresh(request)
        second.refresh(request)  # adopts what the first wrote
    finally:
        request.close()
    assert first.token == second.token
    assert emulator.control.counters().get("token.refresh_token") == 1
    assert json.loads(redis_server.client().get("gemini-oauth:profile:default"))["token"] == (
        first.token
    )


def test_a_refused_token_is_never_readopted(emulator: Emulator, redis_server: RedisServer) -> None:
    url = redis_server.url()
    body = seed(emulator, url)  # valid for an hour by our clock
    creds = load_profile(cache=url)
    request = HttpxRequest()
    try:
        creds.refresh(request)  # as after a 401: the cached token is the one held
    finally:
        request.close()
    assert creds.token != body["access_token"]
    assert emulator.control.counters().get("token.refresh_token") == 1


def test_a_dead_grant_keeps_the_set_up_in_redis(
    emulator: Emulator, redis_server: RedisServer
) -> None:
    from gemini_oauth.errors import InvalidGrantError

    url = redis_server.url()
    body = seed(emulator, url, lifetime=-10)
    import httpx

    httpx.post(
        f"{emulator.base_url}/revoke", data={"token": body["refresh_token"]}
    ).raise_for_status()
    creds = load_profile(cache=url)
    request = HttpxRequest()
    with pytest.raises(InvalidGrantError):
        try:
            creds.refresh(request)
        finally:
            request.close()
    kept = profile_record(cache=url).read()
    assert kept is not None and "refresh_token" not in kept and kept["login_needed"]
    assert kept["client_id"] == emulator.client_id


def test_a_corrupt_record_is_set_aside(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    redis = redis_server.client()
    redis.set("gemini-oauth:profile:default", b'{"not": "a record"')
    with caplog.at_level(logging.WARNING):
        assert profile_record(cache=redis_server.url()).read() is None
    kept = [k.decode() for k in redis.keys("gemini-oauth:profile:default.corrupt-*")]
    assert len(kept) == 1 and 0 < redis.ttl(kept[0]) <= 7 * 86400
    assert redis.get("gemini-oauth:profile:default") is None
    assert "moved it to gemini-oauth:profile:default.corrupt-" in caplog.text
    assert "a record" not in caplog.text  # the value itself is never logged


# -- the lock --------------------------------------------------------------------------------


def test_release_deletes_only_our_own_lock(redis_server: RedisServer) -> None:
    record = profile_record(cache=redis_server.url("lock_ttl=5"))
    redis = redis_server.client()
    with record.lock():
        ours = redis.get("gemini-oauth:lock:default")
        assert ours and 0 < redis.pttl("gemini-oauth:lock:default") <= 5000
        redis.set("gemini-oauth:lock:default", b"someone-else")  # ours expired; another took it
    assert redis.get("gemini-oauth:lock:default") == b"someone-else"


def test_a_forked_child_holds_none_of_its_parents_locks(redis_server: RedisServer) -> None:
    """A child forked while its parent holds the lock (same thread id) must queue for it like
    any other process, and leaving the parent's ``with`` must not release the parent's lock."""
    import os

    record = profile_record(cache=redis_server.url())
    redis = redis_server.client()
    pid, code = -1, 0
    try:
        with record.lock():
            ours = redis.get("gemini-oauth:lock:default")
            pid = os.fork()
            if pid == 0:
                try:
                    with record.lock(timeout=0):
                        code = 1  # it passed for the holder of its parent's lock
                except CacheError:
                    pass
            else:
                _, status = os.waitpid(pid, 0)
                assert os.waitstatus_to_exitcode(status) == 0
                assert redis.get("gemini-oauth:lock:default") == ours  # still the parent's
        if pid != 0:
            assert redis.get("gemini-oauth:lock:default") is None  # the parent's release
    except BaseException:
        code = code or 2
        if pid != 0:
            raise
    finally:
        if pid == 0:
            os._exit(code)


def test_writes_are_fenced_by_the_lock(redis_server: RedisServer) -> None:
    record = profile_record(cache=redis_server.url())
    redis = redis_server.client()
    redis.set("gemini-oauth:profile:default", b"before")
    with record.lock():
        redis.set("gemini-oauth:lock:default", b"someone-else")
        with pytest.raises(CacheError, match="Lost the lock") as info:
            record.write({"client_id": "x", "client_secret": "y", "refresh_token": "z"})
        with pytest.raises(CacheError, match="Lost the lock"):
            record.delete()
    assert redis.get("gemini-oauth:profile:default") == b"before"
    assert "lock_ttl" in info.value.hint


def test_the_lock_is_reentrant_and_kept_alive_past_its_ttl(redis_server: RedisServer) -> None:
    import time

    record = profile_record(cache=redis_server.url("lock_ttl=1"))
    redis = redis_server.client()
    with record.lock(), record.lock():
        token = redis.get("gemini-oauth:lock:default")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and redis.pttl("gemini-oauth:lock:default") > 700:
            time.sleep(0.05)  # wait for the TTL to run down past a third...
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and redis.pttl("gemini-oauth:lock:default") < 900:
            time.sleep(0.05)  # ...and the watchdog to extend it
        assert redis.get("gemini-oauth:lock:default") == token
        assert redis.pttl("gemini-oauth:lock:default") >= 700
    assert redis.get("gemini-oauth:lock:default") is None


# -- failures --------------------------------------------------------------------------------


def test_an_unreachable_redis_names_the_url_without_its_password(
    redis_server: RedisServer,
) -> None:
    url = redis_server.url(user="app", password="s3cret-pass")
    redis_server.kill()
    with pytest.raises(CacheUnavailableError) as info:
        load_profile(cache=url)
    shown = str(info.value)
    assert f"redis://app:***@127.0.0.1:{redis_server.port}/0" in shown
    assert "s3cret-pass" not in shown and "s3cret-pass" not in repr(info.value.__cause__)
    assert f"redis-cli -h 127.0.0.1 -p {redis_server.port} ping" in info.value.hint
    assert info.value.exit_code == 1


def test_a_held_token_keeps_working_when_redis_is_down_and_says_so_once(
    emulator: Emulator, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = redis_server.url()
    body = seed(emulator, url, lifetime=200)  # valid, but inside the refresh margin
    creds = load_profile(cache=url)
    redis_server.kill()
    with (
        caplog.at_level(logging.WARNING),
        GeminiClient(creds, base_url=emulator.base_url) as gemini,
    ):
        gemini.list_models()
        gemini.list_models()
    assert creds.token == body["access_token"]
    told = [r for r in caplog.records if "held in memory" in r.getMessage()]
    assert len(told) == 1 and f"127.0.0.1:{redis_server.port}" in told[0].getMessage()
    assert emulator.control.counters().get("token.refresh_token", 0) == 0


def test_a_wrong_password_is_named_as_such(redis_server: RedisServer) -> None:
    redis_server.client().config_set("requirepass", "right-one")
    with pytest.raises(CacheError, match="refused the user name or password") as info:
        profile_record(cache=redis_server.url(password="wrong-one")).read()
    assert "wrong-one" not in str(info.value) and "right-one" not in str(info.value)


# -- the URL ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:6379/0", "not a redis:// or rediss://"),
        ("redis:///0", "names no host"),
        ("redis://127.0.0.1:6379/x", "not a database number"),
        ("redis://127.0.0.1:99999/0", "malformed"),
        ("redis://127.0.0.1/0?mode=all", "mode must be"),
        ("redis://127.0.0.1/0?prefix=a%20b", "prefix must be"),
        ("redis://127.0.0.1/0?lock_ttl=0", "lock_ttl must be"),
        ("redis://127.0.0.1/0?socket_timeout=1", "options this tool does not know"),
    ],
)
def test_malformed_urls_are_usage_errors(url: str, why: str) -> None:
    with pytest.raises(CacheUrlError, match=why) as info:
        parse_cache_url(url)
    assert info.value.exit_code == 2 and "GEMINI_OAUTH_CACHE_URL" in info.value.hint


def test_plain_redis_to_another_machine_is_refused_unless_allowed() -> None:
    with pytest.raises(CacheUrlError, match="in clear text") as info:
        parse_cache_url("redis://app:pw-in-url@10.1.2.3:6379/0")
    assert "pw-in-url" not in str(info.value) and "rediss://" in info.value.hint
    assert parse_cache_url("redis://10.1.2.3:6379/0?allow_plaintext=1").host == "10.1.2.3"
    assert parse_cache_url("rediss://app:pw@redis.internal:6380/2").tls
    for loopback in ("127.0.0.1", "localhost", "[::1]"):
        assert parse_cache_url(f"redis://{loopback}/0").port == 6379


def test_the_password_never_shows() -> None:
    url = parse_cache_url("rediss://app:p%40ss-word@redis.internal:6380/3?mode=tokens&prefix=t")
    assert url.password == "p@ss-word"
    shown = " ".join((url.shown, repr(url), RedisRecord(url, "work").location))
    assert "p@ss" not in shown and "p%40ss" not in shown
    assert url.shown == "rediss://app:***@redis.internal:6380/3?mode=tokens&prefix=t"
    assert RedisRecord(url, "work").key == "t:access-token:work"
    with pytest.raises(CacheUrlError) as info:
        parse_cache_url("redis://app:hidden-pw@127.0.0.1/0?mode=bad")
    assert "hidden-pw" not in str(info.value)


def test_a_fleet_user_with_the_documented_acl_does_everything_grant_mode_needs(
    emulator: Emulator, redis_server: RedisServer
) -> None:
    admin = redis_server.client()
    admin.execute_command(  # as docs/REDIS.md prescribes for mode=grant
        "ACL", "SETUSER", "fleet", "on", ">fleet-pw", "resetkeys", "~gemini-oauth:*",
        "resetchannels", "-@all", "+get", "+set", "+del", "+pttl", "+pexpire", "+expire",
        "+rename", "+eval", "+ping",
    )  # fmt: skip
    url = redis_server.url(user="fleet", password="fleet-pw")
    seed(emulator, url, lifetime=-10)
    creds = load_profile(cache=url)
    request = HttpxRequest()
    try:
        creds.refresh(request)
    finally:
        request.close()
    assert emulator.control.counters()["token.refresh_token"] == 1
    record = profile_record(cache=url)
    assert record.health()["record"] is True  # type: ignore[attr-defined]
    with record.lock():
        assert admin.get(RedisRecord(parse_cache_url(url), "default").lock_key) is not None
    admin.set("gemini-oauth:profile:other", b"not json")
    assert profile_record("other", cache=url).read() is None  # set aside with rename + expire
    assert record.delete()
    with pytest.raises(CacheError, match="does not let this user"):
        profile_record(cache=url.replace("/0", "/0?prefix=elsewhere")).read()


def test_a_hint_names_the_cache_url_as_bash_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pasted command names a cache URL the environment does not hold: as --cache, quoted so
    that bash gives it back; one with a password is read into the variable, never on the
    command line; nothing when the environment has it."""
    import subprocess

    from gemini_oauth._cache_url import in_command
    from gemini_oauth._setup import login_command

    url = 'rediss://h:6380/2?prefix=a&ssl_ca_certs=/c/$HOME/"x\\y`z'
    before, after = in_command(url)
    said = subprocess.run(
        ["bash", "-c", f"printf '%s\\n' {after}"], capture_output=True, text=True, check=True
    )
    assert before == "" and said.stdout.splitlines() == ["--cache", url]
    secret = "rediss://app:s3cr3t@h:6380/2"
    assert login_command("team", secret) == (
        "read -rs GEMINI_OAUTH_CACHE_URL && export GEMINI_OAUTH_CACHE_URL && "
        "gemini-oauth login --profile team"
    )
    monkeypatch.setenv("GEMINI_OAUTH_CACHE_URL", url)
    assert in_command(url) == in_command(None) == ("", "")
