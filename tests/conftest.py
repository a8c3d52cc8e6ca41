"""Shared fixtures: the emulator over real HTTP, its client file, and an isolated environment."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from gemini_oauth.emulator import Emulator, pytest_plugin

# Shared 2-core machines are slow and noisy: no per-example deadline; in CI, the same examples
# every run, so a landing never depends on luck.
settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run first (otherwise in collection order): under xdist the long ones
    start early and short ones fill the end, so no worker finishes a long test alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


# A suite started in the background (nohup, `&` in a script) inherits SIGINT ignored, and every
# process a test starts would too: the tests that press Ctrl-C on a child need it back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_ISOLATED_VARS = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_QUOTA_PROJECT",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GCE_METADATA_HOST",
    "GCE_METADATA_ROOT",
    "GCE_METADATA_IP",
)


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """No test ever reads or writes the real user's caches, gcloud config or API keys."""
    for name in list(os.environ):
        if name.startswith("GEMINI_OAUTH_") or name in _ISOLATED_VARS:
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("GEMINI_OAUTH_HOME", str(home / "gemini-oauth"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(home / "gcloud"))
    # Tests stay on loopback: google-auth and gcloud must not probe the GCE metadata server
    # (169.254.169.254). Tests of the emulator's metadata server undo this explicitly.
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    monkeypatch.setenv("CLOUDSDK_CORE_CHECK_GCE_METADATA", "false")
    monkeypatch.setenv("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "true")
    monkeypatch.setenv("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "true")
    return home


emulator = pytest_plugin.emulator  # the `emulator` and `emulator_session` fixtures
emulator_session = pytest_plugin.emulator_session


class HeldWaits:
    """The emulator's sleep as a gate the test opens: every wait it asks for (fault latency, the
    pause before each streamed chunk after the first) is recorded and held until the test calls
    ``release()``, once per wait, or until ``limit`` seconds pass. That last case sets ``overran``
    and stops all holding: the test never released the wait because what it proves (a chunk
    reaching the caller, a loop still running) did not happen, so ``overran`` must stay False.
    """

    def __init__(self, limit: float = 10.0) -> None:
        self.limit = limit
        self.requested: list[float] = []
        self.overran = False
        self._permits = 0
        self._open = False
        self._changed = threading.Condition()

    def __call__(self, seconds: float) -> None:
        with self._changed:
            self.requested.append(seconds)
            self._changed.notify_all()
            if not self._changed.wait_for(lambda: self._open or self._permits > 0, self.limit):
                self.overran = self._open = True
            elif not self._open:
                self._permits -= 1

    def started(self, count: int = 1) -> bool:
        """Wait (at most ``limit`` s) until the emulator has asked for ``count`` waits."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.requested) >= count, self.limit)

    def release(self, count: int = 1) -> None:
        """Let ``count`` waits (held now or asked for later) end."""
        with self._changed:
            self._permits += count
            self._changed.notify_all()

    def open(self) -> None:
        """Hold nothing any more (teardown: no server thread outlives the test held)."""
        with self._changed:
            self._open = True
            self._changed.notify_all()


@pytest.fixture
def held_waits(emulator: Emulator) -> Iterator[HeldWaits]:
    """The ``emulator``'s waits, held until the test releases them (see HeldWaits)."""
    waits = HeldWaits()
    emulator.state.sleep = waits
    yield waits
    waits.open()


@pytest.fixture
def google_auth_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits google-auth's own token-endpoint retries ask for, recorded instead of slept.

    Plain google-auth credentials retry a failing refresh inside google-auth (3 attempts, about
    1 s then 2 s apart, ``google/auth/_exponential_backoff.py``, which calls ``time.sleep``);
    only that module's ``time`` is replaced. Our own code's waits have their own seams.
    """
    import types

    from google.auth import _exponential_backoff

    slept: list[float] = []
    monkeypatch.setattr(_exponential_backoff, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


@pytest.fixture
def client_secret_file(emulator: Emulator, tmp_path: Path) -> Path:
    """The emulator's Desktop client file, written 0600 into ``tmp_path``."""
    return emulator.write_client_secret(tmp_path / "client_secret.json")


OTHER_UID = 65534  # nobody


@pytest.fixture
def other_user() -> tuple[int, str]:
    """(uid, python) for running a stdlib-only script as another local user: the attacker.

    Needs root (to switch uid) and an interpreter that user may run (the test venv usually sits
    under a private home, so a system python is looked for).
    """
    import shutil
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("running a process as another uid needs root")
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3")):
        if not candidate:
            continue
        try:
            probe = subprocess.run(
                [candidate, "-c", "pass"], user=OTHER_UID, cwd="/", capture_output=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return OTHER_UID, candidate
    pytest.skip("no python interpreter that another uid may run")


@pytest.fixture
def seed_login(emulator: Emulator) -> Any:
    """``seed_login(profile="default", lifetime=3600, scopes=DEFAULT_SCOPES, quota_project=None)``
    caches an emulator grant as a logged-in profile (no browser); returns the token response.
    A negative lifetime leaves an expired access token."""
    from gemini_oauth import _clock
    from gemini_oauth import _store as store
    from gemini_oauth._client_secrets import client_from_dict
    from gemini_oauth._credentials import save_login
    from gemini_oauth._flow import LoginResult
    from gemini_oauth.scopes import DEFAULT_SCOPES

    def seed(
        profile: str = "default",
        lifetime: float = 3600.0,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        quota_project: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = emulator.control.issue_grant(list(scopes))
        result = LoginResult(
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            expires_at=_clock.now() + lifetime,
            granted_scopes=tuple(scopes),
            account=emulator.user_email,
        )
        client = client_from_dict(emulator.client_secret_json())
        save_login(result, client, file=store.profile_file(profile), quota_project=quota_project)
        return body

    return seed


class Trap:
    """A local HTTP server (and proxy) that records every request it gets: where a secret must
    never go. ``seen`` holds (request line, headers) pairs."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        seen = self.seen = list[tuple[str, dict[str, str]]]()

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("latin-1") if length else ""
                seen.append((self.requestline + (" " + body if body else ""), dict(self.headers)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_CONNECT = _record

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def authorizations(self) -> list[str]:
        return [headers.get("Authorization", "(none)") for _, headers in self.seen]


@pytest.fixture
def trap() -> Iterator[Trap]:
    """A Trap on 127.0.0.1, proven to see what is sent to it, then emptied."""
    import httpx

    server = Trap()
    httpx.post(server.url + "/probe", headers={"Authorization": "Bearer probe"}, timeout=10)
    assert server.authorizations == ["Bearer probe"]
    server.seen.clear()
    yield server
    server.server.shutdown()
    server.server.server_close()


class RedisServer:
    """A redis-server of this test's own: 127.0.0.1 on an ephemeral port, no persistence, its
    files under the test's tmp_path. ``stop()``/``kill()`` and ``start()`` again restart it on
    the same port (empty: nothing is saved)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = 0
        self.process: Any = None

    def url(self, query: str = "", user: str = "", password: str = "") -> str:
        auth = f"{user}:{password}@" if password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0" + (f"?{query}" if query else "")

    def start(self) -> RedisServer:
        import shutil
        import socket
        import subprocess
        import time

        binary = shutil.which("redis-server")
        assert binary is not None
        for _ in range(5):  # another process may take a free port before redis binds it
            if not self.port or self.process is None:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", 0))
                    self.port = probe.getsockname()[1]
            self.process = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.folder), "--daemonize", "no",
                 "--logfile", str(self.folder / "redis.log"), "--loglevel", "warning"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                        conn.sendall(b"PING\r\n")
                        if conn.recv(64).startswith(b"+PONG"):
                            return self
                except OSError:
                    time.sleep(0.02)
            self.stop()
            self.port = 0
        raise RuntimeError(f"redis-server did not start: {self.folder / 'redis.log'}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def client(self) -> Any:
        """A redis-py client as the admin (no ACL user)."""
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for this test alone (so tests may run in parallel processes); skips with
    the reason when redis-server or the redis library is missing."""
    import shutil

    pytest.importorskip("redis", reason="the redis library is missing: pip install '.[redis]'")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder).start()
    yield server
    server.kill()
