"""The emulator's Compute Engine metadata server over real HTTP, and google-auth's own client
of it (``google.auth.compute_engine``) pointed at it by GCE_METADATA_HOST / GCE_METADATA_IP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.auth import compute_engine
from google.auth.compute_engine import _metadata as _md

from gemini_oauth._transport import HttpxRequest
from gemini_oauth.emulator import DEFAULT_SERVICE_ACCOUNT, Emulator

CLOUD = "https://www.googleapis.com/auth/cloud-platform"
EMAIL = "https://www.googleapis.com/auth/userinfo.email"
V1 = "/computeMetadata/v1/"
FLAVOR = {"Metadata-Flavor": "Google"}
HTTP = httpx.Client(timeout=10)
_metadata: Any = _md  # untyped


def md(
    emu: Emulator, path: str, headers: dict[str, str] | None = None, **params: str
) -> httpx.Response:
    return HTTP.get(
        emu.base_url + path, headers=FLAVOR if headers is None else headers, params=params
    )


@pytest.fixture
def gce(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpxRequest]:
    """google-auth's metadata client aimed at the emulator (its host is read at import)."""
    host = emulator.base_url.removeprefix("http://")
    monkeypatch.setenv("GCE_METADATA_IP", host)
    monkeypatch.setenv("GCE_METADATA_HOST", host)
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", host)
    monkeypatch.setattr(_metadata, "_NO_GCE_CHECK", False)
    request = HttpxRequest()
    yield request
    request.close()


@pytest.mark.parametrize("path", ["/", "/computeMetadata/", V1 + "project/project-id",
                                  V1 + "instance/service-accounts/default/token"])  # fmt: skip
def test_metadata_flavor_header_is_required(emulator: Emulator, path: str) -> None:
    for headers in ({}, {**FLAVOR, "X-Forwarded-For": "1.2.3.4"}):
        response = md(emulator, path, headers)
        assert response.status_code == 403, headers
        assert response.headers["Metadata-Flavor"] == "Google"
        assert "access_token" not in response.text
    assert emulator.control.counters()["metadata.token"] == 0


def test_leaves_directories_and_json(emulator: Emulator) -> None:
    root = md(emulator, "/")
    assert root.status_code == 200 and root.headers["Metadata-Flavor"] == "Google"
    project = md(emulator, V1 + "project/project-id")
    assert project.text == emulator.project_id
    assert project.headers["Content-Type"].startswith("application/text")
    assert md(emulator, V1 + "project/numeric-project-id").text == str(emulator.project_number)
    assert md(emulator, V1 + "project/numeric-project-id", alt="json").json() == 1000000000001
    listing = md(emulator, V1 + "instance/service-accounts/").text.splitlines()
    assert listing == ["default/", f"{DEFAULT_SERVICE_ACCOUNT}/"]
    info = md(emulator, V1 + "instance/service-accounts/default/", recursive="true")
    assert info.headers["Content-Type"] == "application/json"
    assert info.json() == {
        "aliases": ["default"],
        "email": DEFAULT_SERVICE_ACCOUNT,
        "scopes": [CLOUD],
    }
    email = md(emulator, V1 + f"instance/service-accounts/{DEFAULT_SERVICE_ACCOUNT}/email")
    assert email.text == DEFAULT_SERVICE_ACCOUNT
    assert md(emulator, V1 + "instance/service-accounts/default/scopes").text == CLOUD + "\n"
    missing = md(emulator, V1 + "instance/nothing-here")
    assert missing.status_code == 404 and missing.headers["Metadata-Flavor"] == "Google"


def test_token_is_reused_until_near_expiry_and_works_at_gemini(emulator: Emulator) -> None:
    path = V1 + "instance/service-accounts/default/token"
    first = md(emulator, path, scopes=EMAIL).json()  # as on Compute Engine: scopes are ignored
    assert set(first) == {"access_token", "expires_in", "token_type"}
    assert first["token_type"] == "Bearer" and 3500 < first["expires_in"] <= 3600
    assert md(emulator, path).json()["access_token"] == first["access_token"]
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    assert HTTP.get(emulator.base_url + "/v1/models", headers=bearer).status_code == 200
    info = HTTP.get(
        emulator.base_url + "/tokeninfo", params={"access_token": first["access_token"]}
    )
    assert info.json()["scope"] == CLOUD
    emulator.control.advance_clock(3600 - 200)
    second = md(emulator, path).json()
    assert second["access_token"] != first["access_token"] and second["expires_in"] > 3500
    assert emulator.control.counters()["metadata.token"] == 3


def test_instance_account_and_scopes_are_configurable(emulator: Emulator) -> None:
    key = emulator.control.create_service_account()
    emulator.control.set_metadata(service_account=key["client_email"], scopes=[EMAIL])
    info = md(emulator, V1 + "instance/service-accounts/default/", recursive="true").json()
    assert info["email"] == key["client_email"] and info["scopes"] == [EMAIL]
    token = md(emulator, V1 + "instance/service-accounts/default/token").json()["access_token"]
    response = HTTP.get(
        emulator.base_url + "/v1/models", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403 and "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in response.text
    with pytest.raises(ValueError, match="unknown service_account"):
        emulator.control.set_metadata(service_account="ghost@example.iam.gserviceaccount.com")


def test_faults_reach_the_metadata_server(emulator: Emulator) -> None:
    emulator.control.add_fault(V1 + "instance/service-accounts/default/token", 503)
    assert md(emulator, V1 + "instance/service-accounts/default/token").status_code == 503
    assert md(emulator, V1 + "instance/service-accounts/default/token").status_code == 200


def test_google_auth_finds_and_uses_it(emulator: Emulator, gce: HttpxRequest) -> None:
    assert _metadata.ping(gce)
    assert _metadata.is_on_gce(gce)
    assert _metadata.get_project_id(gce) == emulator.project_id
    assert _metadata.get_universe_domain(gce) == "googleapis.com"
    info = _metadata.get_service_account_info(gce)
    assert info["email"] == DEFAULT_SERVICE_ACCOUNT
    creds = compute_engine.Credentials()  # type: ignore[no-untyped-call]
    creds.refresh(gce)  # type: ignore[no-untyped-call]
    assert creds.valid and creds.service_account_email == DEFAULT_SERVICE_ACCOUNT
    bearer = {"Authorization": f"Bearer {creds.token}"}
    assert HTTP.get(emulator.base_url + "/v1/models", headers=bearer).status_code == 200


def test_google_auth_default_falls_back_to_it(
    emulator: Emulator, gce: HttpxRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    import google.auth

    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    creds, project = google.auth.default(scopes=[CLOUD], request=gce)
    assert isinstance(creds, compute_engine.Credentials) and project == emulator.project_id


def test_new_instance_scopes_apply_to_the_next_token(emulator: Emulator) -> None:
    token_path = V1 + "instance/service-accounts/default/token"
    before = md(emulator, token_path).json()["access_token"]
    emulator.control.set_metadata(scopes=[EMAIL])
    after = md(emulator, token_path).json()["access_token"]
    assert after != before  # the cached token carries the old scopes
    bearer = {"Authorization": f"Bearer {after}"}
    response = HTTP.get(emulator.base_url + "/v1/models", headers=bearer)
    assert response.status_code == 403 and "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in response.text


@pytest.mark.parametrize("headers", [{}, FLAVOR])
def test_error_pages_escape_the_path(emulator: Emulator, headers: dict[str, str]) -> None:
    """The 403/404 pages name the URL asked for: escaped, never markup a browser would run."""
    response = md(emulator, V1 + "%3Cscript%3Ealert(1)%3C%2Fscript%3E", headers)
    assert response.status_code in (403, 404) and "text/html" in response.headers["content-type"]
    assert "<script>" not in response.text and "&lt;script&gt;" in response.text
