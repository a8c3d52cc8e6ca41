"""Service accounts at the emulator over real HTTP: key files, the JWT-bearer grant (RFC 7523)
as google-auth sends it, Google's refusals, self-signed JWT access, projects and revocation."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from google.auth import crypt, jwt
from google.oauth2 import service_account

from gemini_oauth._transport import HttpxRequest
from gemini_oauth.emulator import Emulator
from gemini_oauth.emulator._jwt_grant import BAD_SCOPE, BAD_SIGNATURE, BAD_TIME, JWT_BEARER

AUTH = "https://www.googleapis.com/auth/"
CLOUD = AUTH + "cloud-platform"
RETRIEVER = AUTH + "generative-language.retriever"
EMAIL = AUTH + "userinfo.email"
GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"
GEMINI_AUD = "https://generativelanguage.googleapis.com/"
JwtCredentials: Any = jwt.Credentials  # untyped
HTTP = httpx.Client(timeout=10)


def sa_creds(key: dict[str, Any], scopes: list[str] | None = None) -> Any:
    return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        key, scopes=[CLOUD] if scopes is None else scopes
    )


def refreshed(creds: Any) -> Any:
    request = HttpxRequest()
    try:
        creds.refresh(request)
    finally:
        request.close()
    return creds


def assertion(
    key: dict[str, Any], *, signer_key: dict[str, Any] | None = None, **claims: Any
) -> str:
    """An RS256 JWT as google-auth builds it, signed with ``signer_key`` (default ``key``)."""
    signing = signer_key or key
    signer = crypt.RSASigner.from_service_account_info(signing)  # type: ignore[no-untyped-call]
    now = int(time.time())
    payload = {"iss": key["client_email"], "aud": GOOGLE_TOKEN, "scope": CLOUD, "iat": now}
    payload = {**payload, "exp": now + 3600, **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    return str(jwt.encode(signer, payload).decode())  # type: ignore[no-untyped-call]


def unsigned(key: dict[str, Any]) -> str:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": key["client_email"], "aud": GOOGLE_TOKEN, "scope": CLOUD, "iat": now}
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({**claims, 'exp': now + 60})}."


def grant(emu: Emulator, token: str) -> httpx.Response:
    return HTTP.post(f"{emu.base_url}/token", data={"grant_type": JWT_BEARER, "assertion": token})


def models(emu: Emulator, token: str, **headers: str) -> httpx.Response:
    return HTTP.get(
        f"{emu.base_url}/v1/models", headers={"Authorization": f"Bearer {token}", **headers}
    )


def test_key_file_is_complete_and_google_auth_loads_it(emulator: Emulator) -> None:
    key = emulator.control.create_service_account()
    assert key["type"] == "service_account" and key["project_id"] == emulator.project_id
    assert key["client_email"].endswith("@emulator-project.iam.gserviceaccount.com")
    assert key["token_uri"] == emulator.base_url + "/token"
    assert key["auth_uri"].startswith(emulator.base_url) and key["client_id"].isdigit()
    assert len(key["private_key_id"]) == 40 and "PRIVATE KEY-----" in key["private_key"]
    creds = sa_creds(key)
    assert creds.service_account_email == key["client_email"]
    state = emulator.control.state()
    assert key["client_email"] in state["service_accounts"]
    assert "PRIVATE" not in json.dumps(state)  # only the public key is kept


def test_google_auth_refresh_gets_a_token_that_gemini_accepts(emulator: Emulator) -> None:
    key = emulator.control.create_service_account()
    creds = refreshed(sa_creds(key, [CLOUD, EMAIL]))
    assert creds.valid and creds.token.startswith("ya29.emu.")
    assert emulator.control.counters()["token.jwt_bearer"] == 1
    assert models(emulator, creds.token).status_code == 200
    info = HTTP.get(f"{emulator.base_url}/tokeninfo", params={"access_token": creds.token}).json()
    assert info["email"] == key["client_email"] and info["azp"] == key["client_id"]
    assert info["sub"] == key["client_id"] and info["access_type"] == "online"
    assert info["scope"].split() == sorted([CLOUD, EMAIL])


def test_token_carries_the_scopes_asked_for(emulator: Emulator) -> None:
    key = emulator.control.create_service_account()
    body = grant(emulator, assertion(key, scope=RETRIEVER)).json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["token_type"] == "Bearer" and 3500 < body["expires_in"] <= 3600
    info = HTTP.get(f"{emulator.base_url}/tokeninfo", params={"access_token": body["access_token"]})
    assert info.json()["scope"] == RETRIEVER and "email" not in info.json()
    identity = grant(emulator, assertion(key, scope=EMAIL)).json()["access_token"]
    response = models(emulator, identity)
    assert response.status_code == 403
    assert response.json()["error"]["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"


def test_emulator_token_uri_is_an_accepted_audience(emulator: Emulator) -> None:
    key = emulator.control.create_service_account()
    assert grant(emulator, assertion(key, aud=emulator.base_url + "/token")).status_code == 200


@pytest.mark.parametrize(
    ("claims", "status", "error", "description"),
    [
        ({"aud": "https://example.com/token"}, 400, "invalid_grant", "Failed audience check"),
        ({"scope": None}, 400, "invalid_scope", BAD_SCOPE),
        ({"scope": AUTH + "drive"}, 400, "invalid_scope", BAD_SCOPE),
        ({"iss": "nobody@emulator-project.iam.gserviceaccount.com"}, 400, "invalid_grant",
         "account not found"),
        ({"iat": int(time.time()) + 3600}, 400, "invalid_grant", BAD_TIME),
        ({"exp": int(time.time()) + 7200}, 400, "invalid_grant", BAD_TIME),
        ({"exp": None}, 400, "invalid_grant", BAD_TIME),
        ({"sub": "tester@example.com"}, 400, "unauthorized_client", "unauthorized"),
    ],
)  # fmt: skip
def test_assertions_google_refuses(
    emulator: Emulator, claims: dict[str, Any], status: int, error: str, description: str
) -> None:
    key = emulator.control.create_service_account()
    response = grant(emulator, assertion(key, **claims))
    assert response.status_code == status
    assert response.json()["error"] == error and description in response.json()["error_description"]
    assert "access_token" not in response.text


def test_wrong_signature_is_refused(emulator: Emulator) -> None:
    key = emulator.control.create_service_account()
    other = emulator.control.create_service_account()
    for token in (
        assertion(key, signer_key=other),  # another account's key
        assertion(key, signer_key={**other, "private_key_id": key["private_key_id"]}),
        assertion(key)[:-6] + "AAAAAA",  # tampered signature
        unsigned(key),  # alg none
        "not-a-jwt",
    ):
        response = grant(emulator, token)
        assert response.status_code == 400, token
        assert response.json() == {"error": "invalid_grant", "error_description": BAD_SIGNATURE}


def test_expired_assertion_by_the_emulator_clock(emulator: Emulator) -> None:
    key = emulator.control.create_service_account()
    emulator.control.advance_clock(2 * 3600)  # google-auth signs with the real clock
    with pytest.raises(Exception, match="short-lived token") as info:
        refreshed(sa_creds(key))
    assert type(info.value).__name__ == "RefreshError"


def test_missing_assertion(emulator: Emulator) -> None:
    response = HTTP.post(f"{emulator.base_url}/token", data={"grant_type": JWT_BEARER})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_second_key_of_the_same_account_also_signs(emulator: Emulator) -> None:
    first = emulator.control.create_service_account()
    second = emulator.control.create_service_account(email=first["client_email"])
    assert second["private_key_id"] != first["private_key_id"]
    assert second["client_id"] == first["client_id"]
    for key in (first, second):
        assert grant(emulator, assertion(key)).status_code == 200


def test_account_of_another_project_bills_that_project(emulator: Emulator) -> None:
    emulator.control.set_project("other-project", 4242, api_enabled=False, members=[])
    key = emulator.control.create_service_account(project="other-project")
    assert key["client_email"].endswith("@other-project.iam.gserviceaccount.com")
    token = refreshed(sa_creds(key)).token
    response = models(emulator, token)
    assert response.status_code == 403 and "4242" in response.text  # SERVICE_DISABLED there
    # a member of its own project only: the default project denies it as a quota project
    denied = models(emulator, token, **{"x-goog-user-project": emulator.project_id})
    assert denied.status_code == 403 and "USER_PROJECT_DENIED" in denied.text


def test_quota_project_header_works_for_its_own_project(emulator: Emulator) -> None:
    key = emulator.control.create_service_account()
    token = refreshed(sa_creds(key)).token
    assert models(emulator, token, **{"x-goog-user-project": emulator.project_id}).is_success
    emulator.control.set_project("stranger", 77, members=[])
    denied = models(emulator, token, **{"x-goog-user-project": "stranger"})
    assert denied.status_code == 403 and "USER_PROJECT_DENIED" in denied.text


def test_self_signed_jwt_with_scope_claim(emulator: Emulator) -> None:
    """``always_use_jwt_access``: google-auth sends a JWT with a scope claim as the bearer."""
    key = emulator.control.create_service_account()
    creds = refreshed(sa_creds(key).with_always_use_jwt_access(True))
    claims = jwt.decode(creds.token, verify=False)  # type: ignore[no-untyped-call]
    assert claims["scope"] == CLOUD and "aud" not in claims
    assert models(emulator, creds.token).status_code == 200
    assert emulator.control.counters()["token.jwt_bearer"] == 0
    tokeninfo = HTTP.get(f"{emulator.base_url}/tokeninfo", params={"access_token": creds.token})
    assert tokeninfo.status_code == 400  # only APIs accept self-signed JWTs


def test_self_signed_jwt_with_api_audience(emulator: Emulator) -> None:
    key = emulator.control.create_service_account()
    base = sa_creds(key, [])
    good = refreshed(JwtCredentials.from_signing_credentials(base, GEMINI_AUD))
    assert models(emulator, good.token.decode()).status_code == 200
    other = refreshed(
        JwtCredentials.from_signing_credentials(base, "https://pubsub.googleapis.com/")
    )
    refused = models(emulator, other.token.decode())
    assert refused.status_code == 401 and "ACCESS_TOKEN_TYPE_UNSUPPORTED" in refused.text
    stranger = emulator.control.create_service_account()
    forged = assertion(key, signer_key=stranger, aud=GEMINI_AUD, scope=None)
    assert models(emulator, forged).status_code == 401
    emulator.control.advance_clock(3601)
    expired = models(emulator, good.token.decode())
    assert expired.status_code == 401 and "ACCESS_TOKEN_EXPIRED" in expired.text


def test_revoking_a_service_account_token_revokes_only_it(emulator: Emulator) -> None:
    key = emulator.control.create_service_account()
    first, second = (grant(emulator, assertion(key)).json()["access_token"] for _ in range(2))
    assert HTTP.post(f"{emulator.base_url}/revoke", data={"token": first}).status_code == 200
    assert models(emulator, first).status_code == 401
    assert models(emulator, second).status_code == 200


def test_service_accounts_survive_a_restart(tmp_path: Any) -> None:
    path = tmp_path / "state.json"
    with Emulator(state_path=path) as emu:
        key = emu.control.create_service_account()
    with Emulator(state_path=path) as emu:
        key = {**key, "token_uri": emu.base_url + "/token"}
        assert models(emu, refreshed(sa_creds(key)).token).status_code == 200
    assert "PRIVATE" not in path.read_text()


def test_control_refuses_bad_bodies(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="unknown project"):
        emulator.control.create_service_account(project="nope")
    with pytest.raises(ValueError, match="email"):
        emulator.control.create_service_account(email="no-at-sign")


def test_same_account_name_in_two_projects_bills_each_its_own(emulator: Emulator) -> None:
    """Ids come from the whole email: ``bot@a`` and ``bot@b`` share a prefix, not an identity."""
    emulator.control.set_project("gemini-project-b", 4343, api_enabled=False, members=[])
    first = emulator.control.create_service_account(
        "gemini-bot@gemini-project-a.iam.gserviceaccount.com"
    )
    second = emulator.control.create_service_account(
        "gemini-bot@gemini-project-b.iam.gserviceaccount.com", project="gemini-project-b"
    )
    assert first["client_id"] != second["client_id"]
    assert models(emulator, refreshed(sa_creds(first)).token).status_code == 200
    response = models(emulator, refreshed(sa_creds(second)).token)
    assert response.status_code == 403 and "4343" in response.text  # its own, disabled project
