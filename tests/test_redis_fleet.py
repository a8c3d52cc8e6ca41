"""A fleet on one grant, as real processes sharing nothing but a Redis URL (each "machine" has a
home of its own): one refresh per expiry, a lock holder killed mid-refresh, Redis restarted
under load, and workers in access-tokens-only mode that never receive a refresh token."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gemini_oauth.emulator import Emulator

from conftest import RedisServer  # isort: skip
from test_redis_cache import seed  # isort: skip

pytestmark = pytest.mark.slow

#: One process of a machine: load the profile from the cache URL, refresh if it must, say how
#: long the refresh took and the token's hash.
REFRESH = r"""
import hashlib, sys, time
from gemini_oauth._credentials import load_profile
from gemini_oauth._transport import HttpxRequest
creds = load_profile(cache=sys.argv[1])
started = time.monotonic()
if not creds.valid:
    request = HttpxRequest()
    creds.refresh(request)
    request.close()
print(hashlib.sha256(creds.token.encode()).hexdigest()[:16], time.monotonic() - started)
"""

#: A long-lived worker: one GeminiClient, API calls until told to stop; a line per call.
WORKER = r"""
import pathlib, sys, time
from gemini_oauth._client import GeminiClient
from gemini_oauth._credentials import load_profile
url, base, log, stop = sys.argv[1:5]
out = open(log, "a", buffering=1)
creds = load_profile(cache=url)
with GeminiClient(creds, base_url=base, max_attempts=1, deadline=5) as gemini:
    for _ in range(3000):  # bounded: at most about five minutes
        if pathlib.Path(stop).exists():
            break
        try:
            gemini.list_models()
            out.write("ok\n")
        except Exception as exc:
            out.write(f"error {type(exc).__name__}: {exc}\n")
        time.sleep(0.1)
"""


def machine(tmp_path: Path, n: int) -> dict[str, str]:
    """The environment of a process on machine ``n``: a home of its own, nothing shared."""
    home = tmp_path / f"machine{n}"
    home.mkdir(exist_ok=True)
    return {**os.environ, "GEMINI_OAUTH_HOME": str(home / "gemini-oauth")}


def start(script: str, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_one_refresh_for_a_fleet_sharing_only_the_url(
    emulator: Emulator, redis_server: RedisServer, tmp_path: Path
) -> None:
    url = redis_server.url()
    seed(emulator, url, lifetime=-10)  # expired everywhere
    emulator.control.add_fault("/token", latency=1.0)  # the winner is slow: the others wait
    fleet = [start(REFRESH, url, env=machine(tmp_path, m)) for m in range(4) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in fleet]
    assert all(p.returncode == 0 for p in fleet), [err for _, err in results]
    tokens = {out.split()[0] for out, _ in results}
    assert len(tokens) == 1, tokens
    assert emulator.control.counters()["token.refresh_token"] == 1
    waited = sorted(float(out.split()[1]) for out, _ in results)
    assert waited[-1] >= 0.5  # some waited on the winner's (slow) refresh and took its token


def test_a_lock_holder_killed_mid_refresh_costs_at_most_the_locks_ttl(
    emulator: Emulator, redis_server: RedisServer, tmp_path: Path
) -> None:
    ttl = 3.0
    url = redis_server.url(f"lock_ttl={ttl:g}")
    seed(emulator, url, lifetime=-10)
    in_refresh, release = threading.Event(), threading.Event()

    def held_up(seconds: float) -> None:  # the emulator's latency: until the test lets go
        in_refresh.set()
        release.wait(seconds)

    emulator.state.sleep = held_up
    emulator.control.add_fault("/token", latency=120.0)  # the first refresh only
    try:
        holder = start(REFRESH, url, env=machine(tmp_path, 1))
        wait_for(in_refresh.is_set, "the holder's refresh to reach the token endpoint")
        admin = redis_server.client()
        assert admin.get("gemini-oauth:lock:default") is not None
        holder.kill()  # kill -9 in the middle of the refresh, lock held
        holder.wait(timeout=30)
        left = admin.pttl("gemini-oauth:lock:default")
        assert 0 < left <= ttl * 1000  # the dead holder's lock is still there, and will expire
        other = start(REFRESH, url, env=machine(tmp_path, 2))
        out, err = other.communicate(timeout=60)
        assert other.returncode == 0, err
        waited = float(out.split()[1])
        assert waited <= ttl + 2.0, waited  # within the TTL (plus the refresh itself)
        assert emulator.control.counters()["token.refresh_token"] == 1  # the other's
        assert admin.get("gemini-oauth:lock:default") is None  # released by the other
    finally:
        release.set()


def test_workers_ride_out_a_redis_restart_and_the_login_comes_back(
    emulator: Emulator, redis_server: RedisServer, tmp_path: Path
) -> None:
    url = redis_server.url()
    seed(emulator, url)
    stop = tmp_path / "stop"
    logs = [tmp_path / f"worker{n}.log" for n in range(4)]
    workers = [
        start(WORKER, url, emulator.base_url, str(log), str(stop), env=machine(tmp_path, n))
        for n, log in enumerate(logs)
    ]

    def oks() -> list[int]:
        return [log.read_text().count("ok\n") if log.exists() else 0 for log in logs]

    try:
        wait_for(lambda: min(oks()) >= 3, "every worker calling the API")
        redis_server.kill()  # crashes; nothing was saved
        before = oks()
        wait_for(
            lambda: all(a >= b + 3 for a, b in zip(oks(), before, strict=True)), "calls while down"
        )
        redis_server.start()  # the same port, empty
        assert redis_server.client().get("gemini-oauth:profile:default") is None
        emulator.control.advance_clock(3700)  # every token expires: 401, refresh, put back
        before = oks()
        wait_for(
            lambda: all(a >= b + 3 for a, b in zip(oks(), before, strict=True)),
            "calls after restart",
        )
    finally:
        stop.touch()
        for worker in workers:
            worker.communicate(timeout=60)
    assert all(w.returncode == 0 for w in workers)
    errors = [line for log in logs for line in log.read_text().splitlines() if line != "ok"]
    assert errors == []
    assert emulator.control.counters()["token.refresh_token"] == 1  # one for the whole fleet
    restored = redis_server.client().get("gemini-oauth:profile:default")
    assert restored is not None and b"refresh_token" in restored


class RecordingProxy:
    """A TCP relay to Redis that keeps every byte both ways: what a worker sent and read."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.seen = bytearray()
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                with self.lock:
                    self.seen += chunk
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def acl_users(redis_server: RedisServer) -> Iterator[dict[str, str]]:
    """The users docs/REDIS.md prescribes for access-tokens-only mode (the passwords)."""
    admin = redis_server.client()
    admin.execute_command(
        "ACL", "SETUSER", "publisher", "on", ">publisher-pw", "resetkeys",
        "~gemini-oauth:access-token:*", "resetchannels", "-@all", "+set", "+get", "+ping",
    )  # fmt: skip
    admin.execute_command(
        "ACL", "SETUSER", "worker", "on", ">worker-pw", "resetkeys",
        "~gemini-oauth:access-token:*", "resetchannels", "-@all", "+get", "+ping",
    )  # fmt: skip
    admin.execute_command("ACL", "SETUSER", "default", "off")  # no one else gets in
    yield {"publisher": "publisher-pw", "worker": "worker-pw"}


def test_access_token_workers_never_receive_a_refresh_token(
    emulator: Emulator,
    redis_server: RedisServer,
    acl_users: dict[str, str],
    seed_login: Any,
    tmp_path: Path,
) -> None:
    import redis

    grant = seed_login(lifetime=-10)  # the publisher's own login, in its files: expired
    secrets = (grant["refresh_token"].encode(), emulator.client_secret.encode())
    publisher_url = redis_server.url(user="publisher", password=acl_users["publisher"])
    said = tmp_path / "publisher.txt"
    publisher = subprocess.Popen(
        [sys.executable, "-m", "gemini_oauth", "-v", "cache", "publish", "--interval", "1"],
        env={**os.environ, "GEMINI_OAUTH_CACHE_URL": publisher_url},
        stdout=subprocess.DEVNULL, stderr=said.open("w"),
    )  # fmt: skip
    proxy = RecordingProxy(redis_server.port)
    try:
        reader = redis.Redis(port=redis_server.port, username="worker", password="worker-pw")
        try:
            wait_for(
                lambda: (
                    publisher.poll() is not None
                    or reader.get("gemini-oauth:access-token:default") is not None
                ),
                "the publisher",
                timeout=20,
            )
        finally:
            print(said.read_text())
        assert publisher.poll() is None
        worker_url = f"redis://worker:{acl_users['worker']}@127.0.0.1:{proxy.port}/0?mode=tokens"
        runs = []
        for n, args in enumerate(
            (
                ["print-access-token"],
                ["models", "list", "--endpoint", emulator.base_url],
                ["status", "--json"],
                ["doctor", "--json"],
            )
        ):
            env = {**machine(tmp_path, 10 + n), "GEMINI_OAUTH_CACHE_URL": worker_url}
            runs.append(
                subprocess.run(
                    [sys.executable, "-m", "gemini_oauth", *args],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
            )
        token, listed, status = runs[0], runs[1], runs[2]
        assert token.returncode == 0, token.stderr
        assert listed.returncode == 0, listed.stderr
        assert status.returncode == 0 and '"mode": "tokens"' in status.stdout, status.stderr
        assert '"refresh_token_present": false' in status.stdout
        # what the workers read went through the proxy: the token, and never a secret
        assert token.stdout.strip().encode() in proxy.seen  # it would have seen a secret
        for secret in secrets:
            assert secret not in proxy.seen
            for run in runs:
                assert secret.decode() not in run.stdout + run.stderr
        for path in tmp_path.rglob("machine1*/**/*"):
            if path.is_file():
                assert all(secret not in path.read_bytes() for secret in secrets), path
        # and the ACL keeps them out of everything else
        with pytest.raises(redis.exceptions.NoPermissionError):
            reader.get("gemini-oauth:profile:default")
        with pytest.raises(redis.exceptions.NoPermissionError):
            reader.set("gemini-oauth:access-token:default", "forged")
        assert emulator.control.counters()["token.refresh_token"] == 1  # the publisher's
    finally:
        publisher.terminate()
        publisher.wait(timeout=30)
        proxy.close()
