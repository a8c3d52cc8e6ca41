"""The emulator's server: faults, Host check, body limits, error shapes, logging, persistence."""

from __future__ import annotations

import json
import logging
import socket
import stat
import time
from pathlib import Path

import httpx
import pytest

from gemini_oauth.emulator import Emulator, EmulatorState

HTTP = httpx.Client(timeout=10)
CLOUD = "https://www.googleapis.com/auth/cloud-platform"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def refresh(emu: Emulator, refresh_token: str) -> httpx.Response:
    form = {"client_id": emu.client_id, "client_secret": emu.client_secret}
    form.update(grant_type="refresh_token", refresh_token=refresh_token)
    return HTTP.post(f"{emu.base_url}/token", data=form)


def test_emulator_attributes_and_client_file(emulator: Emulator, tmp_path: Path) -> None:
    assert emulator.base_url.startswith("http://127.0.0.1:")
    assert emulator.client_id == "1000000000001-emulator.apps.googleusercontent.com"
    assert (emulator.project_id, emulator.project_number) == ("emulator-project", 1000000000001)
    assert (emulator.user_email, emulator.api_key) == ("tester@example.com", "emulator-api-key")
    installed = emulator.client_secret_json()["installed"]
    assert installed["token_uri"] == f"{emulator.base_url}/token"
    assert installed["auth_uri"] == f"{emulator.base_url}/o/oauth2/auth"
    assert installed["client_secret"] == emulator.client_secret
    path = emulator.write_client_secret(tmp_path / "new" / "client_secret.json")
    assert json.loads(path.read_text()) == emulator.client_secret_json()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_private_files_without_fchmod_as_on_windows(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python < 3.13 on Windows has no os.fchmod: the demo's client file and --state still work."""
    import os

    monkeypatch.delattr(os, "fchmod", raising=False)
    old = os.umask(0)  # and whatever the umask
    try:
        path = emulator.write_client_secret(tmp_path / "client_secret.json")
        state = Emulator(state_path=tmp_path / "state.json")
    finally:
        os.umask(old)
    assert json.loads(path.read_text()) == emulator.client_secret_json()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(tmp_path / "state.json").stat().st_mode) == 0o600
    assert state.state.path == tmp_path / "state.json"


def test_client_secret_file_fixture(client_secret_file: Path, emulator: Emulator) -> None:
    assert json.loads(client_secret_file.read_text()) == emulator.client_secret_json()


def test_binds_loopback_only_and_stops(tmp_path: Path) -> None:
    emu = Emulator().start()
    port = int(emu.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    emu.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    with pytest.raises(RuntimeError):
        _ = emu.base_url


def test_taken_port_raises_oserror() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            Emulator(port=taken.getsockname()[1]).start()


def test_session_fixture_serves(emulator_session: Emulator) -> None:
    config = HTTP.get(f"{emulator_session.base_url}/.well-known/openid-configuration")
    assert config.status_code == 200


# -- faults -----------------------------------------------------------------------------------


def test_fault_status_hits_count_requests_then_clears(emulator: Emulator) -> None:
    emulator.control.add_fault("/tokeninfo", 503, count=2)
    statuses = [HTTP.get(f"{emulator.base_url}/tokeninfo").status_code for _ in range(3)]
    assert statuses == [503, 503, 400]
    body = HTTP.get(f"{emulator.base_url}/tokeninfo").json()
    assert body["error_description"] == "Invalid Value"
    assert emulator.control.counters()["faults"] == 2


def test_fault_429_with_retry_after_on_gemini_paths(emulator: Emulator) -> None:
    emulator.control.add_fault("/v1beta/models", 429, retry_after=2)
    response = HTTP.get(f"{emulator.base_url}/v1beta/models/gemini-2.5-flash")
    assert response.status_code == 429 and response.headers["retry-after"] == "2"
    assert response.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert HTTP.get(f"{emulator.base_url}/v1beta/models").status_code != 429


def test_fault_on_token_endpoint_is_oauth_shaped(emulator: Emulator) -> None:
    emulator.control.add_fault("/token", 503, retry_after=1)
    response = HTTP.post(f"{emulator.base_url}/token", data={"grant_type": "refresh_token"})
    assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"


def test_fault_latency_is_asked_of_the_emulators_sleep_before_answering(
    emulator: Emulator,
) -> None:
    """The faulted request asks for its latency before it is answered; the next asks nothing."""
    requested: list[float] = []
    emulator.state.sleep = requested.append
    emulator.control.add_fault("/tokeninfo", latency=0.4)
    response = HTTP.get(f"{emulator.base_url}/tokeninfo")
    assert response.status_code == 400 and requested == [0.4]
    assert HTTP.get(f"{emulator.base_url}/tokeninfo").status_code == 400
    assert requested == [0.4]  # the recorder saw the first request: this one asked for nothing
    assert emulator.control.counters()["faults"] == 1


def test_the_emulator_really_sleeps_by_default(tmp_path: Path) -> None:
    assert EmulatorState().sleep is time.sleep
    assert Emulator(state_path=tmp_path / "state.json").state.sleep is time.sleep


def test_fault_drop_closes_the_connection_without_a_response(emulator: Emulator) -> None:
    emulator.control.add_fault("/token", drop=True)
    with pytest.raises(httpx.RemoteProtocolError):
        HTTP.post(f"{emulator.base_url}/token", data={"grant_type": "refresh_token"})
    assert HTTP.post(f"{emulator.base_url}/token", data={}).status_code == 400


def test_unlimited_fault_until_cleared_and_control_is_exempt(emulator: Emulator) -> None:
    emulator.control.add_fault("/", 500, count=None)
    for _ in range(3):
        assert HTTP.get(f"{emulator.base_url}/tokeninfo").status_code == 500
    assert emulator.control.counters()["faults"] == 3  # the control surface is never faulted
    emulator.control.clear_faults()
    assert HTTP.get(f"{emulator.base_url}/tokeninfo").status_code == 400


def test_fault_with_custom_body(emulator: Emulator) -> None:
    emulator.control.add_fault("/token", 400, body={"error": "invalid_grant", "x": 1})
    response = HTTP.post(f"{emulator.base_url}/token", data={})
    assert response.status_code == 400 and response.json() == {"error": "invalid_grant", "x": 1}


# -- Host header, bodies, error shapes, logs ----------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1:1", "localhost", "attacker:{port}"])
def test_foreign_host_header_is_refused(emulator: Emulator, host: str) -> None:
    port = emulator.base_url.rsplit(":", 1)[1]
    response = HTTP.get(
        f"{emulator.base_url}/.well-known/openid-configuration",
        headers={"Host": host.format(port=port)},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"])
def test_loopback_host_headers_are_accepted(emulator: Emulator, host: str) -> None:
    port = emulator.base_url.rsplit(":", 1)[1]
    response = HTTP.get(
        f"{emulator.base_url}/.well-known/openid-configuration",
        headers={"Host": host.format(port=port)},
    )
    assert response.status_code == 200


def test_oversized_oauth_body_is_413(emulator: Emulator) -> None:
    body = "grant_type=refresh_token&refresh_token=" + "a" * (64 * 1024)
    response = HTTP.post(f"{emulator.base_url}/token", content=body, headers=FORM)
    assert response.status_code == 413 and response.json()["error"] == "invalid_request"
    chunks = iter([b"grant_type=refresh_token&x="] + [b"a" * 8192] * 10)
    response = HTTP.post(f"{emulator.base_url}/revoke", content=chunks, headers=FORM)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"grant_type=%ZZ&\xff\xfe=%"),
        ("multipart/form-data; boundary=x", b"--x\r\nbroken"),
        ("multipart/form-data", b"no boundary"),
        ("application/json", b"{not json"),
    ],
)
def test_malformed_token_bodies_get_json_errors(
    emulator: Emulator, content_type: str, body: bytes
) -> None:
    response = HTTP.post(
        f"{emulator.base_url}/token", content=body, headers={"Content-Type": content_type}
    )
    assert 400 <= response.status_code < 500
    assert "error" in response.json() and "Traceback" not in response.text


def test_unknown_paths_and_methods_answer_json(emulator: Emulator) -> None:
    assert HTTP.get(f"{emulator.base_url}/nope").json()["error"]["code"] == 404
    response = HTTP.get(f"{emulator.base_url}/token")
    assert response.status_code == 405 and response.json()["error"] == "invalid_request"


def test_request_lines_with_tokens_are_never_logged(
    emulator: Emulator, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="werkzeug")
    grant = emulator.control.issue_grant([CLOUD])
    HTTP.get(f"{emulator.base_url}/tokeninfo", params={"access_token": grant["access_token"]})
    HTTP.post(f"{emulator.base_url}/revoke?token={grant['refresh_token']}")
    out, err = capfd.readouterr()
    server_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = out + err + "\n".join(r.getMessage() for r in server_records)
    assert grant["access_token"] not in logged and grant["refresh_token"] not in logged
    assert "tokeninfo" not in logged


def test_malformed_request_lines_with_tokens_are_never_logged(
    emulator: Emulator, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """http.server's "Bad request syntax ('GET /...')" would quote the whole request line."""
    caplog.set_level(logging.DEBUG, logger="werkzeug")
    token = emulator.control.issue_grant([CLOUD])["access_token"]
    port = int(emulator.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET /tokeninfo?access_token={token} x HTTP/1.1\r\n\r\n".encode())
        answer = sock.recv(1024)
        while data := sock.recv(1024):  # http.server logs before answering, then closes
            answer += data
    assert answer.startswith(b"HTTP/1.1 400")
    out, err = capfd.readouterr()
    server_records = [r for r in caplog.records if r.name == "werkzeug"]
    logged = out + err + "\n".join(r.getMessage() for r in server_records)
    assert "400" in logged and token not in logged and "tokeninfo" not in logged


# -- persistence ----------------------------------------------------------------------------


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "emu" / "state.json"
    with Emulator(state_path=path) as first:
        first.control.set_publishing_status("production")
        first.control.add_user("second@example.com")
        grant = first.control.issue_grant([CLOUD], email="second@example.com")
        doomed = first.control.issue_grant([CLOUD])
        first.control.advance_clock(60)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with Emulator(state_path=path) as second:
        assert second.control.state()["publishing_status"] == "production"
        assert second.control.state()["clock_offset"] == 60
        info = HTTP.get(
            f"{second.base_url}/tokeninfo", params={"access_token": grant["access_token"]}
        )
        assert info.status_code == 200
        assert refresh(second, grant["refresh_token"]).status_code == 200
        assert HTTP.post(f"{second.base_url}/revoke", data={"token": doomed["refresh_token"]})
    with Emulator(state_path=path) as third:
        assert refresh(third, grant["refresh_token"]).status_code == 200
        assert refresh(third, doomed["refresh_token"]).json()["error"] == "invalid_grant"
        assert "second@example.com" in third.control.state()["users"]


def test_corrupt_state_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a readable emulator state file"):
        Emulator(state_path=path)


def test_connections_are_kept_alive_across_requests_with_unread_bodies(emulator: Emulator) -> None:
    """One HTTP/1.1 connection serves GETs and POSTs in turn, even when a body went unread."""
    import http.client

    port = int(emulator.base_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    key = f"key={emulator.api_key}"
    requests = [
        ("GET", f"/v1/models?{key}", None, 200),
        ("POST", "/v1/models/gemini-2.5-flash:generateContent?key=wrong", b'{"contents": []}', 400),
        ("POST", "/token", b"x" * 100_000, 413),
        (
            "POST",
            f"/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse&{key}",
            b'{"contents": [{"parts": [{"text": "hi"}]}]}',
            200,
        ),
        ("GET", f"/v1/models/gemini-2.5-flash?{key}", None, 200),
    ]
    sockets = set()
    for method, path, body, status in requests:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        response.read()
        assert response.status == status, (method, path)
        assert response.getheader("Connection") != "close"
        sockets.add(id(conn.sock))
    assert len(sockets) == 1 and conn.sock is not None
    conn.close()


def test_stop_closes_kept_alive_connections() -> None:
    """A stopped emulator answers nothing, not even on a connection a client kept open, and no
    handler thread outlives stop()."""
    import threading

    others = set(threading.enumerate())
    emu = Emulator().start()
    serving = f"gemini-oauth-emulator:{emu.base_url.rsplit(':', 1)[1]}"
    url = f"{emu.base_url}/.well-known/openid-configuration"
    with httpx.Client(timeout=5) as client:
        assert client.get(url).status_code == 200  # the connection stays in the pool
        handlers = [t for t in set(threading.enumerate()) - others if t.name != serving]
        assert handlers  # the kept-alive connection's handler thread is there to be seen
        emu.stop()
        with pytest.raises(httpx.TransportError):
            client.get(url)
    for thread in set(threading.enumerate()) - others:
        thread.join(timeout=5)
        assert not thread.is_alive(), f"{thread.name} outlived stop()"
