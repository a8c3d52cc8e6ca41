"""The control surface under /__emulator__/ and its Python client, over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from gemini_oauth.emulator import Emulator

HTTP = httpx.Client(timeout=10)
AUTH = "https://www.googleapis.com/auth/"
CLOUD = AUTH + "cloud-platform"


def tokeninfo(emu: Emulator, access_token: str) -> httpx.Response:
    return HTTP.get(f"{emu.base_url}/tokeninfo", params={"access_token": access_token})


def refresh(emu: Emulator, refresh_token: str) -> httpx.Response:
    form = {"client_id": emu.client_id, "client_secret": emu.client_secret}
    form.update(grant_type="refresh_token", refresh_token=refresh_token)
    return HTTP.post(f"{emu.base_url}/token", data=form)


def test_issue_grant_is_a_token_response(emulator: Emulator) -> None:
    body = emulator.control.issue_grant(["openid", "email", CLOUD])
    assert body["access_token"].startswith("ya29.emu.")
    assert body["refresh_token"].startswith("1//emu.")
    assert body["expires_in"] == 3599 and body["token_type"] == "Bearer" and "id_token" in body
    assert set(body["scope"].split()) == {"openid", AUTH + "userinfo.email", CLOUD}
    info = tokeninfo(emulator, body["access_token"]).json()
    assert info["email"] == emulator.user_email and info["aud"] == emulator.client_id
    assert refresh(emulator, body["refresh_token"]).status_code == 200


def test_issue_grant_for_another_user_and_client(emulator: Emulator) -> None:
    emulator.control.add_user("second@example.com")
    emulator.control.add_client("other-client", "other-secret")
    body = emulator.control.issue_grant(
        [CLOUD, "email"], email="second@example.com", client_id="other-client"
    )
    info = tokeninfo(emulator, body["access_token"]).json()
    assert info["email"] == "second@example.com" and info["aud"] == "other-client"


@pytest.mark.parametrize(
    "body",
    [
        {"scopes": []},
        {"scopes": [AUTH + "drive"]},
        {"scopes": [CLOUD], "email": "ghost@example.com"},
        {"scopes": [CLOUD], "client_id": "ghost"},
        {"scopes": "not-a-list"},
        {},
    ],
)
def test_issue_grant_refuses_bad_requests(emulator: Emulator, body: dict[str, object]) -> None:
    response = HTTP.post(f"{emulator.base_url}/__emulator__/grants", json=body)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_advance_clock_moves_the_emulators_time(emulator: Emulator) -> None:
    before = emulator.state.now()
    after = emulator.control.advance_clock(3600)
    assert before + 3600 <= after <= emulator.state.now()  # the time it answered, an hour on
    assert emulator.control.state()["clock_offset"] == 3600


def test_counters_count_each_endpoint(emulator: Emulator) -> None:
    counters = emulator.control.counters()
    assert counters["token.refresh_token"] == 0 and counters["revoke"] == 0
    body = emulator.control.issue_grant([CLOUD])
    refresh(emulator, body["refresh_token"])
    refresh(emulator, body["refresh_token"])
    tokeninfo(emulator, body["access_token"])
    HTTP.post(f"{emulator.base_url}/revoke", data={"token": body["access_token"]})
    counters = emulator.control.counters()
    assert counters["token.refresh_token"] == 2
    assert counters["tokeninfo"] == 1 and counters["revoke"] == 1
    assert counters["token.authorization_code"] == 0  # issue_grant is not a token request


def test_reset_restores_the_defaults(emulator: Emulator) -> None:
    control = emulator.control
    body = control.issue_grant([CLOUD])
    control.set_publishing_status("production")
    control.add_user("second@example.com")
    control.add_fault("/tokeninfo", 503, count=None)
    control.advance_clock(100)
    control.reset()
    summary = control.state()
    assert summary["publishing_status"] == "testing" and summary["clock_offset"] == 0
    assert summary["grants"] == 0 and summary["faults"] == 0
    assert summary["users"] == [emulator.user_email]
    assert tokeninfo(emulator, body["access_token"]).status_code == 400
    assert control.counters()["tokeninfo"] == 1  # counted after the reset, not faulted


def test_state_summary_has_no_secrets(emulator: Emulator) -> None:
    body = emulator.control.issue_grant([CLOUD])
    text = HTTP.get(f"{emulator.base_url}/__emulator__/state").text
    for secret in (body["access_token"], body["refresh_token"], emulator.client_secret):
        assert secret not in text
    summary = emulator.control.state()
    assert summary["grants"] == 1 and summary["live_access_tokens"] == 1


def test_publishing_status_validation(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="publishing_status"):
        emulator.control.set_publishing_status("published")
    emulator.control.set_publishing_status("production")
    assert emulator.control.state()["publishing_status"] == "production"


def test_add_and_remove_users(emulator: Emulator) -> None:
    control = emulator.control
    control.add_user("second@example.com", test_user=False, project_member=False)
    user = emulator.state.users["second@example.com"]
    assert user.test_user is False and user.sub.isdigit()
    project = emulator.state.project(emulator.project_id)
    assert project is not None and "second@example.com" not in project.members
    control.remove_user("second@example.com")
    assert "second@example.com" not in control.state()["users"]
    response = HTTP.post(f"{emulator.base_url}/__emulator__/users", json={"email": "no-at-sign"})
    assert response.status_code == 400


def test_set_project(emulator: Emulator) -> None:
    emulator.control.set_project(
        "other-project", 42, api_enabled=False, members=["a@example.com"], api_key="other-key"
    )
    project = emulator.state.project("other-project")
    assert project is not None and project.number == 42 and not project.api_enabled
    assert project.members == {"a@example.com"}
    assert emulator.state.project("42") == project
    assert emulator.state.api_key_project("other-key") == project
    assert emulator.state.client_project(emulator.client_id).id == emulator.project_id


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("clock/advance", {"seconds": "soon"}),
        ("clock/advance", {"seconds": True}),
        ("faults", {"status": 503}),
        ("faults", {"path": "token", "status": 503}),
        ("faults", {"path": "/token", "status": 999}),
        ("projects", {"id": "p"}),
        ("app", {}),
        ("clients", {"client_id": "c", "client_secret": "s", "project_id": "ghost"}),
    ],
)
def test_control_rejects_bad_bodies(emulator: Emulator, path: str, body: dict[str, object]) -> None:
    response = HTTP.post(f"{emulator.base_url}/__emulator__/{path}", json=body)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_control_rejects_non_json(emulator: Emulator) -> None:
    response = HTTP.post(
        f"{emulator.base_url}/__emulator__/clock/advance",
        content=b"[1, 2",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400 and "error_description" in response.json()


def test_control_checks_the_host_header(emulator: Emulator) -> None:
    response = HTTP.post(
        f"{emulator.base_url}/__emulator__/reset", headers={"Host": "rebound.example"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("headers", "content"),
    [
        ({"Content-Type": "text/plain"}, b'{"seconds": 3600}'),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"seconds=3600"),
        ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x--"),
        ({}, b""),
    ],
    ids=["text", "form", "multipart", "none"],
)
def test_the_control_surface_refuses_cross_site_simple_requests(
    emulator: Emulator, headers: dict[str, str], content: bytes
) -> None:
    """Finding 12: a web page can POST these to 127.0.0.1 without a preflight; it cannot send a
    JSON content type or a custom header without one."""
    url = f"{emulator.base_url}/__emulator__/clock/advance"
    refused = HTTP.post(url, headers=headers, content=content)
    assert (
        refused.status_code == 403 and "X-Emulator-Control" in refused.json()["error_description"]
    )
    assert HTTP.post(f"{emulator.base_url}/__emulator__/reset", headers=headers).status_code == 403
    assert emulator.control.state()["clock_offset"] == 0
    assert HTTP.post(url, json={"seconds": 60}).status_code == 200  # a JSON body: a program
    assert HTTP.post(f"{emulator.base_url}/__emulator__/reset",
                     headers={"X-Emulator-Control": "1"}).status_code == 200  # fmt: skip


@pytest.mark.parametrize("seconds", ["NaN", "Infinity", "-Infinity"])
def test_the_clock_moves_by_finite_amounts_only(emulator: Emulator, seconds: str) -> None:
    url = f"{emulator.base_url}/__emulator__/clock/advance"
    body = f'{{"seconds": {seconds}}}'.encode()
    answer = HTTP.post(url, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "finite" in answer.json()["error_description"]
    fault = f'{{"path": "/token", "latency": {seconds}}}'.encode()
    answer = HTTP.post(f"{emulator.base_url}/__emulator__/faults", content=fault,
                       headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 400
    assert emulator.control.state()["clock_offset"] == 0 and emulator.control.state()["faults"] == 0
