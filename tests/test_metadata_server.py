"""The metadata server: google-auth's own metadata calls against it, each of the server's rules,
true lifetimes, one refresh for many callers, other users refused, the Unix socket."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.auth import exceptions as ga_exceptions
from google.auth.compute_engine import _metadata
from google.auth.transport.requests import Request

from gemini_oauth import _peer, _store
from gemini_oauth._constants import REFRESH_MARGIN
from gemini_oauth._credentials import CachedCredentials
from gemini_oauth._metadata_server import MetadataServer
from gemini_oauth._retry import RetryPolicy
from gemini_oauth._token_source import TokenSource
from gemini_oauth.emulator import Emulator
from gemini_oauth.errors import GeminiOAuthError
from gemini_oauth.scopes import CLOUD_PLATFORM, DEFAULT_SCOPES, RETRIEVER

FLAVOR = {"Metadata-Flavor": "Google"}
SA = "/computeMetadata/v1/instance/service-accounts/default/"

Seed = Callable[..., dict[str, Any]]


@pytest.fixture
def serve(seed_login: Seed) -> Iterator[Callable[..., MetadataServer]]:
    """``serve(**seed_login options)``: a logged-in default profile behind a running server."""
    started: list[MetadataServer] = []

    def start(**seed: Any) -> MetadataServer:
        seed_login(**seed)
        server = MetadataServer(TokenSource.resolve()).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        server.app.source.close()


@pytest.fixture
def google_auth_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[MetadataServer], None]:
    """Point google-auth at a server (it reads GCE_METADATA_HOST once, at import)."""

    def point(server: MetadataServer) -> None:
        monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", server.address)
        monkeypatch.setenv("GCE_METADATA_IP", server.address)

    return point


def get(server: MetadataServer, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"http://{server.address}{path}", headers=headers or FLAVOR, timeout=10)


def refreshes(emulator: Emulator) -> int:
    return emulator.control.counters().get("token.refresh_token", 0)


def test_google_auth_reads_everything_it_asks_for(
    serve: Callable[..., MetadataServer],
    emulator: Emulator,
    google_auth_at: Callable[[MetadataServer], None],
) -> None:
    server = serve(quota_project="quota-p")
    google_auth_at(server)
    request = Request()
    assert _metadata.ping(request)  # GCE_METADATA_IP: status 200 and Metadata-Flavor: Google
    info = _metadata.get_service_account_info(request)  # ?recursive=true -> JSON
    assert set(info) == {"aliases", "email", "scopes"} and info["aliases"] == ["default"]
    assert info["email"] == emulator.user_email and set(info["scopes"]) == set(DEFAULT_SCOPES)
    assert _metadata.get(request, "instance/service-accounts/default/email") == emulator.user_email
    assert set(_metadata.get(request, "instance/service-accounts/default/scopes").split()) == set(
        DEFAULT_SCOPES
    )
    assert _metadata.get_project_id(request) == "quota-p"
    assert _metadata.get_universe_domain(request) == "googleapis.com"
    token, expiry = _metadata.get_service_account_token(request, scopes=[CLOUD_PLATFORM])
    assert token.startswith("ya29.emu.") and expiry is not None
    raw = get(server, SA + "token").json()
    assert set(raw) == {"access_token", "expires_in", "token_type"}
    assert raw["token_type"] == "Bearer" and raw["access_token"] == token
    # and the credentials class end to end, its token accepted by the Gemini API
    from google.auth import compute_engine

    creds = compute_engine.Credentials()
    creds.refresh(request)
    assert creds.token == token and creds.service_account_email == emulator.user_email
    models = httpx.get(
        f"{emulator.base_url}/v1/models", headers={"Authorization": f"Bearer {creds.token}"}
    )
    assert models.status_code == 200 and models.json()["models"]


def test_the_client_project_when_there_is_no_quota_project(
    serve: Callable[..., MetadataServer], emulator: Emulator
) -> None:
    server = serve()
    number = emulator.client_id.split("-")[0]
    assert get(server, "/computeMetadata/v1/project/project-id").text == number
    assert get(server, "/computeMetadata/v1/project/numeric-project-id").text == number


def test_without_the_flavor_header_403(serve: Callable[..., MetadataServer]) -> None:
    server = serve()
    for path in ("/", SA + "token", "/computeMetadata/v1/project/project-id"):
        answer = httpx.get(f"http://{server.address}{path}")
        assert answer.status_code == 403, path
        assert "Metadata-Flavor" in answer.text and "ya29." not in answer.text
        assert answer.headers["Metadata-Flavor"] == "Google"
    wrong = get(server, SA + "token", **{"Metadata-Flavor": "google"})
    assert wrong.status_code == 403


def test_x_forwarded_for_403(serve: Callable[..., MetadataServer]) -> None:
    server = serve()
    answer = get(server, SA + "token", **FLAVOR, **{"X-Forwarded-For": "10.0.0.1"})
    assert answer.status_code == 403 and "X-Forwarded-For" in answer.text
    assert "access_token" not in answer.text
    assert get(server, SA + "token").status_code == 200  # the same request without it


def test_a_token_for_scopes_the_grant_lacks_is_refused_with_the_reason(
    serve: Callable[..., MetadataServer], google_auth_at: Callable[[MetadataServer], None]
) -> None:
    server = serve(scopes=(CLOUD_PLATFORM,))
    drive = "https://www.googleapis.com/auth/drive"
    refused = get(server, f"{SA}token?scopes={drive},{CLOUD_PLATFORM}")
    assert refused.status_code == 400
    assert "does not hold drive" in refused.text and "It holds: cloud-platform" in refused.text
    assert "gemini-oauth login --scopes cloud-platform,drive" in refused.text
    assert "ya29." not in refused.text
    retriever = get(server, f"{SA}token?scopes={RETRIEVER}")
    assert retriever.status_code == 400 and "generative-language.retriever" in retriever.text
    granted = get(server, f"{SA}token?scopes={CLOUD_PLATFORM}")
    assert granted.status_code == 200 and granted.json()["access_token"].startswith("ya29.")
    # google-auth surfaces the reason to its caller
    from google.auth import compute_engine

    google_auth_at(server)
    creds = compute_engine.Credentials(scopes=[drive])
    with pytest.raises(ga_exceptions.RefreshError, match="does not hold drive"):
        creds.refresh(Request())


def test_identity_says_why_there_is_no_id_token(serve: Callable[..., MetadataServer]) -> None:
    server = serve()
    answer = get(server, SA + "identity?audience=https://example.com")
    assert answer.status_code == 404  # as a VM without a service account: gcloud goes on
    assert "only for service accounts" in answer.text and "eyJ" not in answer.text


def test_only_reads_and_known_paths(serve: Callable[..., MetadataServer]) -> None:
    server = serve()
    post = httpx.post(f"http://{server.address}{SA}token", headers=FLAVOR)
    assert post.status_code == 405
    assert get(server, "/computeMetadata/v1/instance/zone").status_code == 404
    assert get(server, SA + "refresh_token").status_code == 404
    listing = get(server, "/computeMetadata/v1/instance/service-accounts/")
    assert listing.text.split() == ["default/", "tester@example.com/"]
    by_email = get(server, "/computeMetadata/v1/instance/service-accounts/tester@example.com/token")
    assert by_email.status_code == 200


def test_a_token_with_its_true_remaining_lifetime(
    serve: Callable[..., MetadataServer], emulator: Emulator
) -> None:
    server = serve(lifetime=1000)
    first = get(server, SA + "token").json()
    assert 990 <= first["expires_in"] <= 1000
    assert refreshes(emulator) == 0  # handed out as cached


def test_a_token_near_its_end_is_refreshed_first(
    serve: Callable[..., MetadataServer], emulator: Emulator
) -> None:
    server = serve(lifetime=REFRESH_MARGIN - 1)
    answer = get(server, SA + "token").json()
    assert refreshes(emulator) == 1
    assert answer["expires_in"] > 3500


def test_many_callers_on_an_expired_grant_cause_one_refresh(
    serve: Callable[..., MetadataServer], emulator: Emulator
) -> None:
    server = serve(lifetime=-10)
    tokens: list[str] = []
    start = threading.Barrier(16)

    def fetch() -> None:
        start.wait()
        tokens.append(get(server, SA + "token").json()["access_token"])

    workers = [threading.Thread(target=fetch) for _ in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert len(tokens) == 16 and len(set(tokens)) == 1
    assert refreshes(emulator) == 1


def test_a_revoked_login_answers_403_with_what_to_do(
    serve: Callable[..., MetadataServer], emulator: Emulator
) -> None:
    server = serve(lifetime=-10)
    httpx.post(f"{emulator.base_url}/revoke", data={"token": _refresh_token()})
    answer = get(server, SA + "token")
    assert answer.status_code == 403
    assert "revoked" in answer.text and "gemini-oauth login" in answer.text
    assert "1//" not in answer.text


def test_a_transient_failure_answers_503_so_clients_retry(
    serve: Callable[..., MetadataServer], emulator: Emulator
) -> None:
    server = serve(lifetime=-10)
    creds = server.app.source._credentials
    assert isinstance(creds, CachedCredentials)
    waits: list[float] = []
    creds.refresh_retry = RetryPolicy(max_attempts=2, deadline=10, sleep=waits.append)
    emulator.control.add_fault("/token", status=503, count=2)
    answer = get(server, SA + "token")
    assert answer.status_code == 503 and "ya29." not in answer.text
    assert len(waits) == 1  # retried once inside, without waiting for real
    assert get(server, SA + "token").status_code == 200  # the fault is spent


def _refresh_token() -> str:
    from gemini_oauth._store import profile_file

    data = profile_file("default").read()
    assert data is not None
    return str(data["refresh_token"])


# ---------------------------------------------------------------- other users

_ATTACKER = textwrap.dedent(
    """
    import sys, urllib.request, urllib.error
    request = urllib.request.Request(sys.argv[1], headers={"Metadata-Flavor": "Google"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            print(answer.status, answer.read().decode())
    except urllib.error.HTTPError as refused:
        print(refused.code, refused.read().decode())
    """
)


@pytest.mark.skipif(not _peer.supported(), reason="needs Linux with /proc/net/tcp")
def test_another_users_process_gets_nothing(
    serve: Callable[..., MetadataServer], other_user: tuple[int, str]
) -> None:
    uid, python = other_user
    server = serve()
    url = f"http://{server.address}{SA}token"
    attacker = subprocess.run(
        [python, "-c", _ATTACKER, url], user=uid, cwd="/", capture_output=True, text=True,
        timeout=30, check=True,
    )  # fmt: skip
    assert attacker.stdout.startswith("403 ")
    assert f"uid {uid}" in attacker.stdout and "ya29." not in attacker.stdout
    ours = subprocess.run(
        ["/usr/bin/env", python, "-c", _ATTACKER, url], capture_output=True, text=True,
        timeout=30, check=True,
    )  # fmt: skip
    assert ours.stdout.startswith("200 ") and "ya29." in ours.stdout  # same script, our uid


# ---------------------------------------------------------------- the Unix socket


def _unix_get(path: Path, target: str) -> tuple[int, str]:
    transport = httpx.HTTPTransport(uds=str(path))
    with httpx.Client(transport=transport, timeout=10) as client:
        answer = client.get(f"http://metadata{target}", headers=FLAVOR)
    return answer.status_code, answer.text


def test_unix_socket_is_private_and_serves(seed_login: Seed, tmp_path: Path) -> None:
    seed_login()
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    path = folder / "metadata.sock"
    with MetadataServer(TokenSource.resolve(), unix_socket=path) as server:
        assert (path.stat().st_mode & 0o777) == 0o600
        status, body = _unix_get(path, SA + "token")
        assert status == 200 and json.loads(body)["access_token"].startswith("ya29.")
        assert os.listdir(folder) == ["metadata.sock"]  # the private bind directory is gone
        with pytest.raises(GeminiOAuthError, match="already exists"):
            MetadataServer(server.app.source, unix_socket=path)
    assert not path.exists()


def test_unix_socket_replaces_only_a_stale_socket(seed_login: Seed, tmp_path: Path) -> None:
    seed_login()
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(stale))  # bound, never listening: a crashed server's leftover
    with MetadataServer(TokenSource.resolve(), unix_socket=stale):
        assert _unix_get(stale, SA + "email") == (200, "tester@example.com")
    regular = tmp_path / "notes.txt"
    regular.write_text("mine")
    with pytest.raises(GeminiOAuthError, match="already exists"):
        MetadataServer(TokenSource.resolve(), unix_socket=regular)
    assert regular.read_text() == "mine"


def test_unix_socket_refuses_a_directory_others_may_write(seed_login: Seed, tmp_path: Path) -> None:
    seed_login()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(GeminiOAuthError, match="changed by other users") as caught:
        MetadataServer(TokenSource.resolve(), unix_socket=shared / "m.sock")
    assert "--unix-socket" in caught.value.hint


def test_a_web_page_rebinding_its_name_to_loopback_gets_nothing(
    serve: Callable[..., MetadataServer],
) -> None:
    """DNS rebinding (aws-vault#578): a page at http://attacker.example:PORT/ that re-resolves
    its name to 127.0.0.1 is same-origin with the server, so the user's own browser may send
    Metadata-Flavor and read the answer; its request names the attacker's host, never an
    address or a name that no public DNS answers (localhost, *.internal)."""
    server = serve()
    port = server.address.rsplit(":", 1)[1]
    for host in ("attacker.example", f"attacker.example:{port}", f"127.0.0.1.nip.io:{port}",
                 f"LOCALHOST.attacker.example:{port}", "[::1]x:80", f"0x7f000001:{port}",
                 "metadata.attacker.example"):  # fmt: skip
        answer = get(server, SA + "token", Host=host, **FLAVOR)
        assert answer.status_code == 403, host
        assert "DNS rebinding" in answer.text and "access_token" not in answer.text
    for host in (server.address, f"localhost:{port}", "localhost", "127.0.0.1",
                 "metadata.google.internal", "metadata", f"host.docker.internal:{port}",
                 f"[::1]:{port}", "169.254.169.254", f"app.localhost:{port}"):  # fmt: skip
        answer = get(server, SA + "token", Host=host, **FLAVOR)
        assert answer.status_code == 200 and answer.json()["access_token"], host


def test_a_cached_quota_project_that_is_no_project_id_is_never_served(
    serve: Callable[..., MetadataServer],
) -> None:
    """The record's quota_project_id goes to other programs (a header, an env var): held to the
    project-id rule, a tampered one is refused, never passed on."""
    server = serve(quota_project="quota-p")
    assert get(server, "/computeMetadata/v1/project/project-id").text == "quota-p"
    file = _store.profile_file("default")
    data = file.read()
    assert data is not None
    file.write({**data, "quota_project_id": "Bad Project\r\nX-Injected: yes"})
    fresh = MetadataServer(TokenSource.resolve()).start()
    try:
        for path in ("project/project-id", "?recursive=true"):
            answer = get(fresh, "/computeMetadata/v1/" + path)
            assert answer.status_code >= 400 and "X-Injected" not in answer.headers
            assert "is not a Google Cloud project id" in answer.text
    finally:
        fresh.stop()
        fresh.app.source.close()


def test_a_refused_token_reaches_a_client_as_the_servers_reason_not_try_again(
    serve: Callable[..., MetadataServer],
    emulator: Emulator,
    google_auth_at: Callable[[MetadataServer], None],
) -> None:
    """A program behind the server (exec's child) whose login died there is told why and what
    to run, as the server said it; 'try again in a minute' would send it round in circles."""
    from google.auth import compute_engine

    from gemini_oauth import GeminiClient
    from gemini_oauth.errors import TokenEndpointError

    server = serve(lifetime=-10)
    google_auth_at(server)
    httpx.post(f"{emulator.base_url}/revoke", data={"token": _refresh_token()})
    client = GeminiClient(
        compute_engine.Credentials(), base_url=emulator.base_url, quota_project=""
    )
    with client, pytest.raises(GeminiOAuthError) as info:
        client.list_models()
    error = info.value
    assert not (isinstance(error, TokenEndpointError) and error.transient)
    assert "metadata server" in error.message and "HTTP 403" in error.message
    assert "revoked" in error.message and "gemini-oauth login" in str(error)
    assert "Try again in a minute" not in str(error) and "b'" not in str(error)
    assert error.exit_code == 3
