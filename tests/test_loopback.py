"""The loopback listener over real sockets: strays, Host checks, bad state, denial, timeout."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from gemini_oauth import _loopback, _peer
from gemini_oauth._loopback import LoopbackListener
from gemini_oauth.errors import (
    CallbackError,
    ConsentDeniedError,
    LoginError,
    LoginTimeoutError,
    PortInUseError,
)

STATE = "unit-state-" + "x" * 40


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def _get(url: str, host: str | None = None) -> httpx.Response:
    headers = {"Host": host} if host else {}
    return httpx.get(url, headers=headers, timeout=5)


def test_redirect_uri_is_ip_literal_with_random_path() -> None:
    with LoopbackListener() as one, LoopbackListener() as two:
        assert one.redirect_uri.startswith(f"http://127.0.0.1:{one.port}/oauth2callback/")
        assert len(one.path) >= len("/oauth2callback/") + 22
        assert one.path != two.path and one.port != two.port


def test_strays_then_valid_callback(
    pool: ThreadPoolExecutor, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for noisy in ("httpx", "httpcore"):  # this test's own "browser" logs its URLs
        caplog.set_level(logging.WARNING, logger=noisy)
    with LoopbackListener(timeout=10) as lb:
        result: Future[str] = pool.submit(lb.wait, STATE)
        base = f"http://127.0.0.1:{lb.port}"
        good = f"{lb.redirect_uri}?state={STATE}&code=4%2Fsecret-code"
        assert _get(base + "/favicon.ico").status_code == 404
        assert _get(base + "/oauth2callback/guess?state=x&code=y").status_code == 404
        assert _get(good, host="evil.example").status_code == 404  # DNS rebinding
        assert _get(good, host=f"127.0.0.1:{lb.port + 1}").status_code == 404
        assert httpx.post(good, timeout=5).status_code == 404
        bad = _get(f"{lb.redirect_uri}?state=wrong&code=zzz")
        assert bad.status_code == 400 and "state" in bad.text
        denied_wrong_state = _get(f"{lb.redirect_uri}?state=wrong&error=access_denied")
        assert denied_wrong_state.status_code == 400
        ok = _get(good, host=f"localhost:{lb.port}")
        assert ok.status_code == 200 and "Signed in" in ok.text
        assert ok.headers["referrer-policy"] == "no-referrer"
        assert ok.headers["cache-control"] == "no-store"
        assert "<script" not in ok.text and "http" not in ok.text.split("</style>")[1]
        assert result.result(5) == "4/secret-code"
    with pytest.raises(httpx.ConnectError):  # replaying the callback: the port is closed
        _get(good)
    out, err = capfd.readouterr()
    for text in (out, err, caplog.text):
        assert "secret-code" not in text and STATE not in text


def test_idle_connection_does_not_block(pool: ThreadPoolExecutor) -> None:
    with LoopbackListener(timeout=10) as lb:
        result = pool.submit(lb.wait, STATE)
        idle = socket.create_connection(("127.0.0.1", lb.port))  # a browser preconnect
        try:
            ok = _get(f"{lb.redirect_uri}?state={STATE}&code=c1")
            assert ok.status_code == 200 and result.result(5) == "c1"
        finally:
            idle.close()


def test_ipv6_side_if_available(pool: ThreadPoolExecutor) -> None:
    with LoopbackListener(timeout=10) as lb:
        if len(lb._listeners) < 2:
            pytest.skip("no ::1 here")
        result = pool.submit(lb.wait, STATE)
        ok = _get(f"http://[::1]:{lb.port}{lb.path}?state={STATE}&code=c6")
        assert ok.status_code == 200 and result.result(5) == "c6"


def test_denial_ends_the_wait(pool: ThreadPoolExecutor) -> None:
    with LoopbackListener(timeout=10) as lb:
        result = pool.submit(lb.wait, STATE)
        page = _get(f"{lb.redirect_uri}?error=access_denied&state={STATE}")
        assert page.status_code == 200 and "denied" in page.text
        with pytest.raises(ConsentDeniedError):
            result.result(5)


def test_server_error_with_right_state_ends_the_wait(pool: ThreadPoolExecutor) -> None:
    with LoopbackListener(timeout=10) as lb:
        result = pool.submit(lb.wait, STATE)
        page = _get(f"{lb.redirect_uri}?error=invalid_scope&state={STATE}")
        assert "invalid_scope" in page.text
        with pytest.raises(LoginError, match="invalid_scope"):
            result.result(5)


def test_page_escapes_text(pool: ThreadPoolExecutor) -> None:
    with LoopbackListener(timeout=10) as lb:
        result = pool.submit(lb.wait, STATE)
        page = _get(f"{lb.redirect_uri}?state={STATE}&state=<b>x</b>&code=1")
        assert page.status_code == 400 and "<b>" not in page.text
        _get(f"{lb.redirect_uri}?state={STATE}&code=ok")
        assert result.result(5) == "ok"


def test_too_many_bad_callbacks(pool: ThreadPoolExecutor) -> None:
    with LoopbackListener(timeout=10, max_bad=3) as lb:
        result = pool.submit(lb.wait, STATE)
        for _ in range(3):
            _get(f"{lb.redirect_uri}?state=bad&code=1")
        with pytest.raises(CallbackError, match="Gave up"):
            result.result(5)


def test_oversized_request_is_refused(pool: ThreadPoolExecutor) -> None:
    with LoopbackListener(timeout=10) as lb:
        result = pool.submit(lb.wait, STATE)
        assert _get(f"{lb.redirect_uri}?x={'a' * 20000}").status_code == 431
        _get(f"{lb.redirect_uri}?state={STATE}&code=after")
        assert result.result(5) == "after"


def test_timeout_releases_the_port(pool: ThreadPoolExecutor) -> None:
    lb = LoopbackListener(timeout=0.3)
    with lb:
        port = lb.port
        start = time.monotonic()
        waiting = pool.submit(lb.wait, STATE)
        with pytest.raises(LoginTimeoutError, match=r"within 0\.3 seconds"):
            waiting.result(60)  # a listener that ignored its timeout fails here, not at 120 s
        assert time.monotonic() - start >= 0.3  # it waited its timeout out, not less
    with socket.socket() as probe:  # no SO_REUSEADDR: the port is really free again
        probe.bind(("127.0.0.1", port))


def test_port_taken_fails_fast() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError) as err, LoopbackListener(port=port, timeout=300):
            pass  # never reached: open() refuses the port before anything waits
        assert str(port) in err.value.message
        assert err.value.exit_code == 3


def test_fixed_port_and_exception_closes() -> None:
    for _ in range(5):  # a port found free may be taken before the listener binds it: try again
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
        try:
            with pytest.raises(RuntimeError), LoopbackListener(port=port) as lb:
                assert lb.redirect_uri.startswith(f"http://127.0.0.1:{port}/")
                raise RuntimeError("boom")
        except PortInUseError:
            continue
        break
    else:
        raise AssertionError("every free port was taken before the listener could bind it")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


# ---------------------------------------------------------------- the launcher and the peers


def test_the_launcher_redirects_once(pool: ThreadPoolExecutor) -> None:
    target = "http://127.0.0.1:9/o/oauth2/auth?state=s&redirect_uri=x"
    with LoopbackListener(timeout=10) as lb:
        launcher = lb.launcher(target)
        assert launcher.startswith(f"http://127.0.0.1:{lb.port}/start/") and "state" not in launcher
        result = pool.submit(lb.wait, STATE)
        first = httpx.get(launcher, timeout=5)
        assert first.status_code == 302 and first.headers["location"] == target
        assert first.headers["referrer-policy"] == "no-referrer"
        again = httpx.get(launcher, timeout=5)  # a reload, from this user's own browser
        assert again.status_code == 410 and "already" in again.text
        _get(f"{lb.redirect_uri}?state={STATE}&code=fine")
        assert result.result(5) == "fine"


def test_where_peers_cannot_be_told_a_second_launch_stops_the_login(
    pool: ThreadPoolExecutor,
) -> None:
    """Someone else may have read the launcher from the browser's argv and opened it first."""
    with LoopbackListener(timeout=10, verify_peers=False) as lb:
        launcher = lb.launcher("http://127.0.0.1:9/auth?state=s")
        result = pool.submit(lb.wait, STATE)
        assert httpx.get(launcher, timeout=5).status_code == 302
        assert httpx.get(launcher, timeout=5).status_code == 410
        with pytest.raises(LoginError, match="opened twice"):
            result.result(5)


def test_a_launcher_never_carries_a_header_break() -> None:
    with LoopbackListener() as lb, pytest.raises(ValueError):
        lb.launcher("http://127.0.0.1:9/auth?x=1\r\nSet-Cookie: a=b")


_KNOCK = """
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as s:
    s.sendall(sys.argv[2].encode() + b"\\r\\n\\r\\n")
    answer = b""
    while chunk := s.recv(4096):
        answer += chunk
print(answer.split(b"\\r\\n", 1)[0].decode())
"""


@pytest.mark.skipif(not _peer.supported(), reason="needs /proc/net/tcp")
def test_another_users_program_is_refused_and_the_user_told(
    pool: ThreadPoolExecutor, other_user: tuple[int, str]
) -> None:
    uid, python = other_user
    said: list[str] = []
    with LoopbackListener(timeout=10, warn=said.append) as lb:
        launcher = lb.launcher("http://127.0.0.1:9/auth?state=s")
        result = pool.submit(lb.wait, STATE)
        for target in (urlsplit(launcher).path, f"{lb.path}?state={STATE}&code=stolen"):
            request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{lb.port}"
            knock = subprocess.run([python, "-c", _KNOCK, str(lb.port), request], user=uid,
                                   cwd="/", capture_output=True, text=True, timeout=30)  # fmt: skip
            assert knock.stdout.strip() == "HTTP/1.1 403 Forbidden", knock.stderr
        assert said == [
            f"A connection from another user's program (uid {uid}) was refused: only your own "
            "browser may finish this sign-in. If your browser runs as another user, use "
            "--no-browser and paste the address."
        ]
        assert httpx.get(launcher, timeout=5).status_code == 302  # still unused: ours to open
        _get(f"{lb.redirect_uri}?state={STATE}&code=ours")
        assert result.result(5) == "ours"


def test_idle_connections_cannot_starve_the_callback(
    pool: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 5: 100 idle connections (more than the listener keeps) and the honest callback
    still gets through at once: the oldest idle connection makes room. The idle timers are set
    past the test's life, so only that eviction can let it through (no clock decides)."""
    monkeypatch.setattr(_loopback, "SILENT_IDLE", 3600.0)
    monkeypatch.setattr(_loopback, "CONNECTION_IDLE", 3600.0)
    with LoopbackListener(timeout=30) as lb:
        result = pool.submit(lb.wait, STATE)
        idle = [socket.create_connection(("127.0.0.1", lb.port), timeout=5) for _ in range(100)]
        try:
            ok = httpx.get(f"{lb.redirect_uri}?state={STATE}&code=through", timeout=30)
            assert ok.status_code == 200 and result.result(30) == "through"
        finally:
            for sock in idle:
                sock.close()
