"""The emulator's OAuth endpoints over real HTTP: authorization, consent, token, revoke, info."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from gemini_oauth.emulator import Emulator
from gemini_oauth.emulator._oauth_rules import redirect_uri_allowed

AUTH = "https://www.googleapis.com/auth/"
CLOUD = AUTH + "cloud-platform"
RETRIEVER = AUTH + "generative-language.retriever"
EMAIL = AUTH + "userinfo.email"
REDIRECT = "http://127.0.0.1:5555/callback"
HTTP = httpx.Client(timeout=10)  # one client: building an SSL context per call costs ~0.1 s


def post_form(url: str, pairs: list[tuple[str, str]]) -> httpx.Response:
    """POST repeated form fields (httpx's ``data=`` takes a dict only)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return HTTP.post(url, content=urlencode(pairs), headers=headers)


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(emu: Emulator, *, warned: bool = True, **params: str) -> httpx.Response:
    """The authorization request; past "Google hasn't verified this app" (Continue) unless
    ``warned`` is False."""
    query = {
        "client_id": emu.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": f"{CLOUD} {RETRIEVER}",
        "state": "state-123",
        **params,
    }
    page = HTTP.get(f"{emu.base_url}/o/oauth2/v2/auth", params=query)
    if warned and 'id="unverified"' in page.text:
        return press_warning(emu, page, "continue")
    return page


def press_warning(emu: Emulator, page: httpx.Response, action: str) -> httpx.Response:
    """Press Continue or Back to safety on the unverified-app warning."""
    consent = re.search(r'name="consent" value="([^"]+)"', page.text)
    assert consent is not None, page.text
    form = [("consent", consent.group(1)), ("action", action)]
    return post_form(f"{emu.base_url}/o/oauth2/unverified", form)


def approve(
    emu: Emulator, page: httpx.Response, action: str = "allow", scopes: list[str] | None = None
) -> tuple[dict[str, str], str]:
    """Submit the consent form; returns the redirect's query and the URL without it."""
    assert page.status_code == 200, page.text
    consent = re.search(r'name="consent" value="([^"]+)"', page.text)
    assert consent is not None
    if scopes is None:
        scopes = re.findall(r'name="scope" value="([^"]+)" checked', page.text)
    form = [("consent", consent.group(1)), ("action", action)] + [("scope", s) for s in scopes]
    response = post_form(f"{emu.base_url}/o/oauth2/approval", form)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    return dict(parse_qsl(location.query)), location._replace(query="").geturl()


def get_code(emu: Emulator, **params: str) -> str:
    query, _ = approve(emu, authorize(emu, **params))
    return query["code"]


def token(emu: Emulator, **form: str) -> httpx.Response:
    body = {"client_id": emu.client_id, "client_secret": emu.client_secret, **form}
    return HTTP.post(f"{emu.base_url}/token", data=body)


def exchange(emu: Emulator, code: str, **form: str) -> httpx.Response:
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    return token(emu, **{**body, **form})


def refresh(emu: Emulator, refresh_token: str, **form: str) -> httpx.Response:
    return token(emu, grant_type="refresh_token", refresh_token=refresh_token, **form)


def tokeninfo(emu: Emulator, access_token: str) -> httpx.Response:
    return HTTP.get(f"{emu.base_url}/tokeninfo", params={"access_token": access_token})


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body: dict[str, Any] = response.json()
    return response.status_code, body.get("error", ""), body.get("error_description", "")


def pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def full_login(emu: Emulator, scope: str = f"{CLOUD} {RETRIEVER}") -> dict[str, Any]:
    verifier = secrets.token_urlsafe(48)
    code = get_code(
        emu, scope=scope, code_challenge=challenge_of(verifier), code_challenge_method="S256"
    )
    response = exchange(emu, code, code_verifier=verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- redirect URIs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:1/",
        "http://127.0.0.1:65535/any/path?x=1",
        "http://127.0.0.1",
        "http://[::1]:8080/cb",
        "http://localhost:4242",
        "http://LOCALHOST:4242/cb",
    ],
)
def test_loopback_redirect_matches_on_any_port(uri: str) -> None:
    assert redirect_uri_allowed(uri, ["http://localhost"])


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:80@evil.example/cb",
        "http://user@127.0.0.1:80/cb",
        "https://127.0.0.1:8080/cb",
        "ftp://127.0.0.1/cb",
        "http://127.0.0.1:8080/cb#frag",
        "http://127.0.0.1.evil.example/cb",
        "http://127.0.0.1:notaport/cb",
        "http://127.0.0.1:8080\\@evil.example",
        "http://evil.example/cb",
        "https://app.example/callback/",
        "",
        "urn:ietf:wg:oauth:2.0:oob",
    ],
)
def test_other_redirects_are_refused(uri: str) -> None:
    assert not redirect_uri_allowed(uri, ["https://app.example/callback"])


def test_registered_redirect_must_match_exactly(emulator: Emulator) -> None:
    emulator.control.add_client("web-client", "web-secret", ["https://app.example/callback"])
    ok = authorize(emulator, client_id="web-client", redirect_uri="https://app.example/callback")
    assert ok.status_code == 200
    bad = authorize(emulator, client_id="web-client", redirect_uri="https://app.example/callback2")
    assert bad.status_code == 400 and "Error 400: redirect_uri_mismatch" in bad.text


@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1:41234/cb", "http://[::1]:51234/", "http://localhost:61234/x"]
)
def test_authorization_accepts_loopback_forms(emulator: Emulator, uri: str) -> None:
    query, base = approve(emulator, authorize(emulator, redirect_uri=uri))
    assert base == uri and query["code"].startswith("4/emu.")


def test_mismatch_is_a_page_never_a_redirect_and_escapes_input(emulator: Emulator) -> None:
    uri = 'http://127.0.0.1:80@evil.example/<script>alert("x")</script>'
    page = authorize(emulator, redirect_uri=uri)
    assert page.status_code == 400 and "location" not in page.headers
    assert "Error 400: redirect_uri_mismatch" in page.text
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


def test_unknown_client_page(emulator: Emulator) -> None:
    page = authorize(emulator, client_id="nobody.apps.googleusercontent.com")
    assert page.status_code == 401 and "location" not in page.headers
    assert "Error 401: invalid_client" in page.text
    assert "The OAuth client was not found." in page.text


@pytest.mark.parametrize(
    ("params", "error", "text"),
    [
        ({"scope": ""}, "invalid_request", "Missing required parameter: scope"),
        ({"response_type": ""}, "invalid_request", "Missing required parameter: response_type"),
        ({"response_type": "token"}, "unsupported_response_type", "token"),
        ({"scope": f"{CLOUD} {AUTH}drive"}, "invalid_scope", AUTH + "drive"),
        ({"code_challenge_method": "S256"}, "invalid_request", "code_challenge"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request", ""),
        ({"code_challenge": "a" * 43, "code_challenge_method": "S512"}, "invalid_request", ""),
        ({"login_hint": "<b>ghost</b>@example.com"}, "invalid_request", "&lt;b&gt;ghost"),
    ],
)
def test_authorization_errors_are_pages(
    emulator: Emulator, params: dict[str, str], error: str, text: str
) -> None:
    page = authorize(emulator, **params)
    assert page.status_code == 400 and "location" not in page.headers
    assert f"Error 400: {error}" in page.text and text in page.text
    assert "<b>" not in page.text


def test_duplicate_parameters_are_refused(emulator: Emulator) -> None:
    url = f"{emulator.base_url}/o/oauth2/auth"
    params = [("client_id", emulator.client_id), ("redirect_uri", REDIRECT)]
    params += [("response_type", "code"), ("scope", CLOUD), ("state", "a"), ("state", "b")]
    page = HTTP.get(url, params=params)
    assert page.status_code == 400 and "Error 400: invalid_request" in page.text
    assert "Duplicate parameter: state" in page.text


# -- consent --------------------------------------------------------------------------------------


def test_consent_page_content(emulator: Emulator) -> None:
    page = authorize(emulator, scope=f"openid email {CLOUD}")
    assert page.status_code == 200
    assert "Gemini OAuth Emulator" in page.text and emulator.user_email in page.text
    assert '<form id="consent" method="post" action="/o/oauth2/approval">' in page.text
    ticked = re.findall(r'type="checkbox" name="scope" value="([^"]+)" checked', page.text)
    assert ticked == ["openid", EMAIL, CLOUD]
    pattern = r'<span class="description">([^<]+)</span> <code>([^<]+)</code>'
    described = re.findall(pattern, page.text)
    assert described == [  # Google's words beside each scope, as its consent screen shows them
        ("Associate you with your personal info on Google", "openid"),
        ("See your primary Google Account email address", EMAIL),
        (
            "See, edit, configure, and delete your Google Cloud data and see the email address "
            "for your Google Account.",
            CLOUD,
        ),
    ]
    assert 'id="allow" name="action" value="allow"' in page.text
    assert 'id="deny" name="action" value="deny"' in page.text
    assert "<script" not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert emulator.control.counters()["auth"] == 1


def test_allow_redirects_with_code_state_and_scope(emulator: Emulator) -> None:
    query, base = approve(emulator, authorize(emulator))
    assert base == REDIRECT
    assert set(query) == {"code", "state", "scope"}
    assert query["state"] == "state-123" and set(query["scope"].split()) == {CLOUD, RETRIEVER}


def test_deny_redirects_access_denied(emulator: Emulator) -> None:
    query, base = approve(emulator, authorize(emulator), action="deny")
    assert base == REDIRECT and query == {"error": "access_denied", "state": "state-123"}


def test_unticked_scope_is_not_granted(emulator: Emulator) -> None:
    query, _ = approve(emulator, authorize(emulator), scopes=[RETRIEVER])
    assert query["scope"] == RETRIEVER
    body = exchange(emulator, query["code"]).json()
    assert body["scope"] == RETRIEVER
    assert tokeninfo(emulator, body["access_token"]).json()["scope"] == RETRIEVER


def test_nothing_ticked_is_access_denied(emulator: Emulator) -> None:
    query, _ = approve(emulator, authorize(emulator), scopes=[])
    assert query == {"error": "access_denied", "state": "state-123"}


def test_consent_transaction_is_single_use(emulator: Emulator) -> None:
    page = authorize(emulator)
    approve(emulator, page)
    consent = re.search(r'name="consent" value="([^"]+)"', page.text)
    assert consent is not None
    again = HTTP.post(
        f"{emulator.base_url}/o/oauth2/approval",
        data={"consent": consent.group(1), "action": "allow", "scope": CLOUD},
    )
    assert again.status_code == 400 and "location" not in again.headers


def test_duplicate_consent_answers_are_refused_and_the_consent_kept(emulator: Emulator) -> None:
    page = authorize(emulator)
    consent = re.search(r'name="consent" value="([^"]+)"', page.text)
    assert consent is not None
    pairs = [("consent", consent.group(1)), ("action", "allow"), ("action", "deny")]
    twice = post_form(f"{emulator.base_url}/o/oauth2/approval", [*pairs, ("scope", CLOUD)])
    assert twice.status_code == 400 and "location" not in twice.headers
    assert "Duplicate parameter: action" in twice.text
    query, _ = approve(emulator, page)  # two ticked scopes are no duplicate
    assert set(query["scope"].split()) == {CLOUD, RETRIEVER}


def test_non_test_user_is_blocked_in_testing_but_not_production(emulator: Emulator) -> None:
    emulator.control.add_user("outsider@example.com", test_user=False)
    page = authorize(emulator, login_hint="outsider@example.com")
    assert page.status_code == 403 and "Error 403: access_denied" in page.text
    assert "has not completed the Google verification process" in page.text
    assert "developer-approved testers" in page.text
    emulator.control.set_publishing_status("production")
    query, _ = approve(emulator, authorize(emulator, login_hint="outsider@example.com"))
    assert "code" in query


def test_login_hint_selects_the_user(emulator: Emulator) -> None:
    emulator.control.add_user("second@example.com")
    page = authorize(emulator, login_hint="second@example.com", scope="openid email")
    assert "second@example.com" in page.text
    query, _ = approve(emulator, page)
    body = exchange(emulator, query["code"]).json()
    assert tokeninfo(emulator, body["access_token"]).json()["email"] == "second@example.com"


# -- token endpoint: authorization_code ------------------------------------------------------------


def test_code_exchange_response(emulator: Emulator) -> None:
    body = full_login(emulator, scope=f"openid email {CLOUD}")
    assert body["access_token"].startswith("ya29.emu.")
    assert body["refresh_token"].startswith("1//emu.")
    assert body["expires_in"] == 3599 and body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == {"openid", EMAIL, CLOUD}
    header, payload, signature = body["id_token"].split(".")
    expected = hmac.new(
        emulator.client_secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256
    ).digest()
    assert base64.urlsafe_b64decode(pad(signature)) == expected
    claims = json.loads(base64.urlsafe_b64decode(pad(payload)))
    assert claims["iss"] == emulator.base_url and claims["aud"] == emulator.client_id
    assert claims["email"] == emulator.user_email and claims["email_verified"] is True
    assert claims["exp"] - claims["iat"] == 3600 and claims["sub"].isdigit()
    assert emulator.control.counters()["token.authorization_code"] == 1


def test_no_id_token_without_identity_scopes(emulator: Emulator) -> None:
    assert "id_token" not in full_login(emulator, scope=CLOUD)


def test_token_response_is_not_cached(emulator: Emulator) -> None:
    response = exchange(emulator, get_code(emulator))
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"


def test_code_is_single_use_and_replay_revokes_its_tokens(emulator: Emulator) -> None:
    code = get_code(emulator)
    first = exchange(emulator, code).json()
    assert tokeninfo(emulator, first["access_token"]).status_code == 200
    assert error_of(exchange(emulator, code)) == (400, "invalid_grant", "Bad Request")
    assert tokeninfo(emulator, first["access_token"]).status_code == 400
    assert error_of(refresh(emulator, first["refresh_token"]))[1] == "invalid_grant"


def test_code_expires_after_ten_minutes(emulator: Emulator) -> None:
    code = get_code(emulator)
    emulator.control.advance_clock(601)
    assert error_of(exchange(emulator, code)) == (400, "invalid_grant", "Bad Request")
    fresh = get_code(emulator)
    emulator.control.advance_clock(590)
    assert exchange(emulator, fresh).status_code == 200


def test_unknown_code(emulator: Emulator) -> None:
    assert error_of(exchange(emulator, "4/emu.nonsense"))[:2] == (400, "invalid_grant")


def test_redirect_uri_must_equal_the_authorization_requests(emulator: Emulator) -> None:
    code = get_code(emulator)
    response = exchange(emulator, code, redirect_uri="http://127.0.0.1:5556/callback")
    assert error_of(response)[:2] == (400, "redirect_uri_mismatch")


def test_pkce_s256_wrong_verifier(emulator: Emulator) -> None:
    verifier = secrets.token_urlsafe(32)
    code = get_code(emulator, code_challenge=challenge_of(verifier), code_challenge_method="S256")
    wrong = exchange(emulator, code, code_verifier=secrets.token_urlsafe(32))
    assert error_of(wrong) == (400, "invalid_grant", "Invalid code verifier.")


def test_pkce_missing_verifier(emulator: Emulator) -> None:
    verifier = secrets.token_urlsafe(32)
    code = get_code(emulator, code_challenge=challenge_of(verifier), code_challenge_method="S256")
    assert error_of(exchange(emulator, code)) == (400, "invalid_grant", "Missing code verifier.")


@pytest.mark.parametrize("verifier", ["short", "a" * 129, "a" * 42 + "!", "é" * 43])
def test_pkce_verifier_grammar(emulator: Emulator, verifier: str) -> None:
    code = get_code(emulator, code_challenge=challenge_of(verifier), code_challenge_method="S256")
    assert error_of(exchange(emulator, code, code_verifier=verifier))[:2] == (400, "invalid_grant")


def test_pkce_rfc7636_vector(emulator: Emulator) -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    code = get_code(emulator, code_challenge=challenge, code_challenge_method="S256")
    assert exchange(emulator, code, code_verifier=verifier).status_code == 200


def test_pkce_plain_only_when_asked_or_defaulted(emulator: Emulator) -> None:
    verifier = secrets.token_urlsafe(32)
    code = get_code(emulator, code_challenge=verifier, code_challenge_method="plain")
    assert exchange(emulator, code, code_verifier=verifier).status_code == 200
    # Google's default when a challenge comes without a method is plain, not S256.
    code = get_code(emulator, code_challenge=challenge_of(verifier))
    assert error_of(exchange(emulator, code, code_verifier=verifier))[1] == "invalid_grant"
    code = get_code(emulator, code_challenge=verifier)
    assert exchange(emulator, code, code_verifier=verifier).status_code == 200
    # With S256, sending the challenge itself as the verifier fails.
    challenge = challenge_of(verifier)
    code = get_code(emulator, code_challenge=challenge, code_challenge_method="S256")
    assert error_of(exchange(emulator, code, code_verifier=challenge))[1] == "invalid_grant"


def test_verifier_without_challenge_is_refused(emulator: Emulator) -> None:
    code = get_code(emulator)
    response = exchange(emulator, code, code_verifier=secrets.token_urlsafe(32))
    assert error_of(response)[:2] == (400, "invalid_grant")


# -- token endpoint: client authentication and request errors -------------------------------------


def test_client_secret_by_http_basic(emulator: Emulator) -> None:
    code = get_code(emulator)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    basic = (emulator.client_id, emulator.client_secret)
    response = HTTP.post(f"{emulator.base_url}/o/oauth2/token", data=form, auth=basic)
    assert response.status_code == 200 and "access_token" in response.json()


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        ({"client_secret": "wrong"}, (401, "invalid_client", "Unauthorized")),
        ({"client_id": "nobody"}, (401, "invalid_client", "The OAuth client was not found.")),
        ({"client_secret": None}, (400, "invalid_request", "client_secret is missing.")),
        ({"client_id": None}, (400, "invalid_request", "")),
    ],
)
def test_client_authentication_errors(
    emulator: Emulator, client: dict[str, str | None], expected: tuple[int, str, str]
) -> None:
    code = get_code(emulator)
    form = {"client_id": emulator.client_id, "client_secret": emulator.client_secret, **client}
    form.update(grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    response = HTTP.post(
        f"{emulator.base_url}/token", data={k: v for k, v in form.items() if v is not None}
    )
    status, error, description = error_of(response)
    assert (status, error) == expected[:2] and expected[2] in description
    assert emulator.client_secret not in response.text and code not in response.text


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({}, (400, "invalid_request", "Missing required parameter: grant_type")),
        (
            {"grant_type": "password"},
            (400, "unsupported_grant_type", "Invalid grant_type: password"),
        ),
        (
            {"grant_type": "authorization_code", "redirect_uri": REDIRECT},
            (400, "invalid_request", "Missing required parameter: code"),
        ),
        (
            {"grant_type": "authorization_code", "code": "4/emu.x"},
            (400, "invalid_request", "Missing required parameter: redirect_uri"),
        ),
        (
            {"grant_type": "refresh_token"},
            (400, "invalid_request", "Missing required parameter: refresh_token"),
        ),
    ],
)
def test_token_request_errors(
    emulator: Emulator, form: dict[str, str], expected: tuple[int, str, str]
) -> None:
    assert error_of(token(emulator, **form)) == expected


def test_token_duplicate_parameters(emulator: Emulator) -> None:
    form = [("client_id", emulator.client_id), ("client_secret", emulator.client_secret)]
    form += [("grant_type", "refresh_token"), ("refresh_token", "a"), ("refresh_token", "b")]
    response = post_form(f"{emulator.base_url}/token", form)
    assert error_of(response) == (400, "invalid_request", "Duplicate parameter: refresh_token")


# -- token endpoint: refresh_token ------------------------------------------------------------


def test_refresh_returns_a_new_access_token_only(emulator: Emulator) -> None:
    login = full_login(emulator)
    response = refresh(emulator, login["refresh_token"])
    body = response.json()
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert body["access_token"].startswith("ya29.emu.")
    assert body["access_token"] != login["access_token"]
    assert "refresh_token" not in body and body["expires_in"] == 3599
    assert set(body["scope"].split()) == {CLOUD, RETRIEVER}
    assert tokeninfo(emulator, login["access_token"]).status_code == 200  # the old one still works
    assert emulator.control.counters()["token.refresh_token"] == 1


def test_refresh_with_narrower_and_wider_scope(emulator: Emulator) -> None:
    login = full_login(emulator)
    narrow = refresh(emulator, login["refresh_token"], scope=RETRIEVER).json()
    assert narrow["scope"] == RETRIEVER
    assert tokeninfo(emulator, narrow["access_token"]).json()["scope"] == RETRIEVER
    wide = refresh(emulator, login["refresh_token"], scope=f"{RETRIEVER} {AUTH}drive")
    assert error_of(wide)[:2] == (400, "invalid_scope")


def test_refresh_by_another_client_is_refused(emulator: Emulator) -> None:
    emulator.control.add_client("other-client", "other-secret")
    login = full_login(emulator)
    form = {"client_id": "other-client", "client_secret": "other-secret"}
    response = token(emulator, grant_type="refresh_token", refresh_token=login["refresh_token"])
    assert response.status_code == 200
    response = HTTP.post(
        f"{emulator.base_url}/token",
        data={**form, "grant_type": "refresh_token", "refresh_token": login["refresh_token"]},
    )
    assert error_of(response)[:2] == (400, "unauthorized_client")


def test_refresh_after_revoke(emulator: Emulator) -> None:
    login = full_login(emulator)
    assert HTTP.post(
        f"{emulator.base_url}/revoke", data={"token": login["refresh_token"]}
    ).is_success
    expected = (400, "invalid_grant", "Token has been expired or revoked.")
    assert error_of(refresh(emulator, login["refresh_token"])) == expected


def test_unknown_refresh_token(emulator: Emulator) -> None:
    expected = (400, "invalid_grant", "Token has been expired or revoked.")
    assert error_of(refresh(emulator, "1//emu.unknown")) == expected


def test_testing_app_refresh_tokens_expire_after_seven_days(emulator: Emulator) -> None:
    login = full_login(emulator)
    identity = full_login(emulator, scope="openid email profile")
    emulator.control.advance_clock(7 * 24 * 3600 - 60)
    assert refresh(emulator, login["refresh_token"]).status_code == 200
    emulator.control.advance_clock(120)
    expected = (400, "invalid_grant", "Token has been expired or revoked.")
    assert error_of(refresh(emulator, login["refresh_token"])) == expected
    assert refresh(emulator, identity["refresh_token"]).status_code == 200


def test_production_app_refresh_tokens_do_not_expire(emulator: Emulator) -> None:
    emulator.control.set_publishing_status("production")
    login = full_login(emulator)
    emulator.control.advance_clock(30 * 24 * 3600)
    assert refresh(emulator, login["refresh_token"]).status_code == 200


def test_access_tokens_expire_after_an_hour(emulator: Emulator) -> None:
    login = full_login(emulator)
    emulator.control.advance_clock(3590)
    assert tokeninfo(emulator, login["access_token"]).json()["expires_in"] in ("9", "10")
    emulator.control.advance_clock(11)
    assert tokeninfo(emulator, login["access_token"]).status_code == 400


# -- revoke, tokeninfo, userinfo, discovery ------------------------------------------------------


def test_revoking_an_access_token_revokes_the_grant(emulator: Emulator) -> None:
    login = full_login(emulator)
    sibling = refresh(emulator, login["refresh_token"]).json()["access_token"]
    response = HTTP.post(f"{emulator.base_url}/revoke", params={"token": login["access_token"]})
    assert response.status_code == 200
    for access in (login["access_token"], sibling):
        assert tokeninfo(emulator, access).status_code == 400
    assert error_of(refresh(emulator, login["refresh_token"]))[1] == "invalid_grant"
    assert emulator.control.counters()["revoke"] == 1


def test_revoking_a_refresh_token_ends_the_accounts_access_to_the_client(
    emulator: Emulator,
) -> None:
    """As at Google: every token of that account for that client ends, not only the one sent;
    other accounts and other clients keep theirs."""
    login = full_login(emulator)
    again = full_login(emulator)  # a second sign-in of the same account to the same client
    emulator.control.add_user("other@example.com")
    emulator.control.add_client("1000000000001-other.apps.googleusercontent.com", "other-secret")
    other_user = emulator.control.issue_grant([CLOUD], email="other@example.com")
    other_client = emulator.control.issue_grant(
        [CLOUD], client_id="1000000000001-other.apps.googleusercontent.com"
    )
    url = f"{emulator.base_url}/o/oauth2/revoke"
    assert HTTP.post(url, data={"token": login["refresh_token"]}).status_code == 200
    for ended in (login, again):
        assert tokeninfo(emulator, ended["access_token"]).status_code == 400
        assert error_of(refresh(emulator, ended["refresh_token"]))[1] == "invalid_grant"
    for kept in (other_user, other_client):
        assert tokeninfo(emulator, kept["access_token"]).status_code == 200
        assert emulator.state.live_grant(kept["refresh_token"]) is not None


def test_revoke_unknown_or_missing_token(emulator: Emulator) -> None:
    url = f"{emulator.base_url}/revoke"
    expected = (400, "invalid_token", "Token expired or revoked")
    assert error_of(HTTP.post(url, data={"token": "ya29.emu.nope"})) == expected
    login = full_login(emulator)
    assert HTTP.post(url, data={"token": login["refresh_token"]}).status_code == 200
    assert error_of(HTTP.post(url, data={"token": login["refresh_token"]})) == expected
    assert error_of(HTTP.post(url, data={}))[:2] == (400, "invalid_request")


def test_tokeninfo_by_query_form_and_bearer(emulator: Emulator) -> None:
    login = full_login(emulator, scope=f"email {CLOUD}")
    access = login["access_token"]
    url = f"{emulator.base_url}/oauth2/v3/tokeninfo"
    answers = [
        HTTP.get(url, params={"access_token": access}),
        HTTP.post(url, data={"access_token": access}),
        HTTP.get(url, headers={"Authorization": f"Bearer {access}"}),
    ]
    for response in answers:
        body = response.json()
        assert response.status_code == 200
        assert body["aud"] == body["azp"] == emulator.client_id
        assert body["email"] == emulator.user_email and body["email_verified"] == "true"
        assert set(body["scope"].split()) == {EMAIL, CLOUD}
        assert body["access_type"] == "offline" and body["sub"].isdigit()
        assert 3590 <= int(body["expires_in"]) <= 3600 and int(body["exp"]) > 0
    assert emulator.control.counters()["tokeninfo"] == 3


def test_tokeninfo_invalid(emulator: Emulator) -> None:
    response = tokeninfo(emulator, "ya29.emu.nope")
    assert response.status_code == 400 and response.json()["error_description"] == "Invalid Value"
    assert HTTP.get(f"{emulator.base_url}/tokeninfo").status_code == 400


def test_userinfo(emulator: Emulator) -> None:
    login = full_login(emulator, scope=f"openid email {CLOUD}")
    for path in ("/v1/userinfo", "/oauth2/v3/userinfo"):
        response = HTTP.get(
            f"{emulator.base_url}{path}",
            headers={"Authorization": f"Bearer {login['access_token']}"},
        )
        assert response.status_code == 200
        body = response.json()
        assert body["email"] == emulator.user_email and body["email_verified"] is True
    assert emulator.control.counters()["userinfo"] == 2


def test_userinfo_needs_an_identity_scope_and_a_valid_token(emulator: Emulator) -> None:
    login = full_login(emulator, scope=CLOUD)
    url = f"{emulator.base_url}/v1/userinfo"
    for access in (login["access_token"], "ya29.emu.nope"):
        response = HTTP.get(url, headers={"Authorization": f"Bearer {access}"})
        assert response.status_code == 401 and "www-authenticate" in response.headers
    assert HTTP.get(url).status_code == 401


def test_openid_configuration(emulator: Emulator) -> None:
    config = HTTP.get(f"{emulator.base_url}/.well-known/openid-configuration").json()
    base = emulator.base_url
    assert config["issuer"] == base
    assert config["authorization_endpoint"] == f"{base}/o/oauth2/v2/auth"
    assert config["token_endpoint"] == f"{base}/token"
    assert config["revocation_endpoint"] == f"{base}/revoke"
    assert config["userinfo_endpoint"] == f"{base}/v1/userinfo"
    assert "S256" in config["code_challenge_methods_supported"]
    for key in ("authorization_endpoint", "token_endpoint", "revocation_endpoint"):
        assert HTTP.options(config[key]).status_code < 500


def test_users_sharing_an_email_prefix_have_different_subjects(emulator: Emulator) -> None:
    subjects = set()
    for email in ("alice@example.com", "alice@example.org"):
        emulator.control.add_user(email)
        token = emulator.control.issue_grant(["email"], email=email)["access_token"]
        info = httpx.get(f"{emulator.base_url}/tokeninfo", params={"access_token": token}).json()
        assert info["email"] == email and len(info["sub"]) == 21
        subjects.add(info["sub"])
    assert len(subjects) == 2


def test_gclouds_default_adc_scopes_are_known(emulator: Emulator) -> None:
    """``gcloud auth application-default login --client-id-file`` without --scopes asks for
    openid, userinfo.email, cloud-platform and sqlservice.login; Google grants them all."""
    gcloud_default = ["openid", EMAIL, CLOUD, AUTH + "sqlservice.login"]
    query, _ = approve(emulator, authorize(emulator, scope=" ".join(gcloud_default)))
    body = exchange(emulator, query["code"]).json()
    assert set(body["scope"].split()) == set(gcloud_default) and body["refresh_token"]
