"""Authorization URL, strict callback parsing (with hypothesis), token response parsing."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gemini_oauth._authorize import (
    authorization_url,
    id_token_email,
    parse_callback,
    parse_token_response,
    token_request,
)
from gemini_oauth._client_secrets import ClientSecret
from gemini_oauth.errors import (
    CallbackError,
    ConsentDeniedError,
    InvalidGrantError,
    LoginError,
    TokenEndpointError,
)

CLIENT = ClientSecret(
    client_id="cid.apps.example",
    client_secret="unit-secret",
    auth_uri="https://accounts.example/o/oauth2/auth",
    token_uri="https://oauth2.example/token",
    revoke_uri="https://oauth2.example/revoke",
)
STATE = "s" * 43
PATH = "/oauth2callback/abcdefghijklmnopqrstuv"
CODE = "4/unit-code"
GOOD = f"{PATH}?state={STATE}&code={quote(CODE, safe='')}&scope=openid"


def _id_token(claims: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln"


def test_authorization_url() -> None:
    url = authorization_url(
        CLIENT, "http://127.0.0.1:5/cb", ["openid", "a b"], STATE, "ch", "u@example.com", "consent"
    )
    parts = urlsplit(url)
    assert url.startswith(CLIENT.auth_uri + "?")
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {
        "response_type": "code",
        "client_id": CLIENT.client_id,
        "redirect_uri": "http://127.0.0.1:5/cb",
        "scope": "openid a b",
        "state": STATE,
        "code_challenge": "ch",
        "code_challenge_method": "S256",
        "access_type": "offline",
        "login_hint": "u@example.com",
        "prompt": "consent",
    }
    assert "unit-secret" not in url


def test_token_request() -> None:
    form = token_request(CLIENT, CODE, "v" * 64, "http://127.0.0.1:5/cb")
    assert form["grant_type"] == "authorization_code" and form["code_verifier"] == "v" * 64
    assert form["client_secret"] == "unit-secret" and form["redirect_uri"].endswith("/cb")


@pytest.mark.parametrize(
    "url",
    [
        GOOD,
        f"http://127.0.0.1:8080{GOOD}",
        f"http://[::1]:8080{GOOD}",
        f"http://localhost:8080{GOOD}",
        f"HTTP://LOCALHOST:8080{GOOD}",
        f"{PATH}?code={quote(CODE, safe='')}&state={STATE}",
    ],
)
def test_good_callbacks(url: str) -> None:
    assert parse_callback(url, STATE, PATH) == CODE


def test_expected_port() -> None:
    assert parse_callback(f"http://127.0.0.1:8080{GOOD}", STATE, PATH, expected_port=8080) == CODE
    for url in (f"http://127.0.0.1:8081{GOOD}", f"http://127.0.0.1{GOOD}"):
        with pytest.raises(CallbackError, match="port"):
            parse_callback(url, STATE, PATH, expected_port=8080)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (f"{PATH}?code=x", "no state"),
        (f"{PATH}?state=wrong&code=x", "does not match"),
        (f"{PATH}?state=wrong&error=access_denied", "does not match"),
        (f"{PATH}?error=access_denied", "no state"),
        (f"/other?state={STATE}&code=x", "wrong path"),
        (f"{PATH}/?state={STATE}&code=x", "wrong path"),
        (f"{PATH}?state={STATE}&state={STATE}&code=x", "repeats"),
        (f"{PATH}?state={STATE}&code=x&code=y", "repeats"),
        (f"{PATH}?state={STATE};code=x", "does not match"),
        (f"{PATH}?state={STATE}&code=x;y=z&", "malformed"),
        (f"{PATH}?state={STATE}", "no code"),
        (f"{PATH}?state={STATE}&code=", "no code"),
        (f"{PATH}?state={STATE}&code=x&error=access_denied", "both"),
        (f" {GOOD}", "blanks"),
        (f"{GOOD}\n", "blanks"),
        (f"{PATH}?state={STATE}&code=a\tb", "blanks"),
        (f"{PATH}?state={STATE}&code=a%0Ab", "control"),
        (f"{PATH}?state={STATE}&code=%FF", "UTF-8"),
        (f"{GOOD}#frag", "fragment"),
        (PATH, "no query"),
        (f"http://127.0.0.1:80@evil.example{GOOD}", "userinfo"),
        (f"http://evil.example@127.0.0.1{GOOD}", "userinfo"),
        (f"http://evil.example{GOOD}", "not on this machine"),
        (f"http://127.0.0.1.evil.example{GOOD}", "not on this machine"),
        (f"https://127.0.0.1{GOOD}", "must start with http://"),
        (f"http://127.0.0.1:80x{GOOD}", "port"),
        (f"http://[::1{GOOD}", "malformed host"),
        (f"javascript:alert(1)//{GOOD}", "must start"),
    ],
)
def test_bad_callbacks(url: str, words: str) -> None:
    with pytest.raises(CallbackError) as err:
        parse_callback(url, STATE, PATH)
    assert words in err.value.message
    assert CODE not in str(err.value) and "code=x" not in str(err.value)


def test_denial_and_server_errors() -> None:
    with pytest.raises(ConsentDeniedError):
        parse_callback(f"{PATH}?state={STATE}&error=access_denied", STATE, PATH)
    with pytest.raises(LoginError, match="invalid_scope") as err:
        parse_callback(f"{PATH}?error=invalid_scope&state={STATE}", STATE, PATH)
    assert not isinstance(err.value, CallbackError)
    with pytest.raises(LoginError, match="unprintable"):
        parse_callback(f"{PATH}?error=%3Cscript%3E&state={STATE}", STATE, PATH)


# -- hostile input, property based ---------------------------------------------------------------

_chars = st.characters(codec="utf-8")
_pieces = st.sampled_from(
    ["&", "=", ";", "?", "#", "%", "%0A", "%FF", "@", ":", "/", " ", "\t", "\n", "state", "code",
     "error", "access_denied", STATE, PATH, CODE, "127.0.0.1", "[::1]", "http://", "localhost"]
)  # fmt: skip
_hostile = st.lists(st.one_of(_pieces, st.text(_chars, max_size=8)), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(_hostile)
def test_never_crashes_with_anything_but_login_errors(text: str) -> None:
    for candidate in (text, GOOD + text, PATH + "?" + text, "http://127.0.0.1:1" + text):
        try:
            code = parse_callback(candidate, STATE, PATH)
        except LoginError:
            continue
        # accepted: it must carry exactly our state on exactly our path
        rest = candidate[7:] if candidate.lower().startswith("http://") else candidate
        assert rest[rest.index("/") :].startswith(PATH + "?")
        assert f"state={STATE}" in candidate and code


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(GOOD) - 1), st.text(_chars, min_size=1, max_size=3))
def test_tampering_with_state_or_path_is_never_accepted(pos: int, insert: str) -> None:
    tampered = GOOD[:pos] + insert + GOOD[pos:]
    try:
        code = parse_callback(tampered, STATE, PATH)
    except LoginError:
        return
    # the only acceptable edits leave state and path intact (e.g. inside code or scope values)
    assert tampered.startswith(PATH + "?") and f"state={STATE}&" in tampered
    assert code


@settings(max_examples=200, deadline=None)
@given(st.text(_chars, min_size=1, max_size=60))
def test_wrong_state_never_reaches_error_or_code(state: str) -> None:
    if state == STATE:
        return
    for body in (f"code=x&state={quote(state)}", f"error=access_denied&state={quote(state)}"):
        with pytest.raises(CallbackError):
            parse_callback(f"{PATH}?{body}", STATE, PATH)


# -- token responses ------------------------------------------------------------------------------


def test_token_response_full() -> None:
    body = {
        "access_token": "at-1",
        "expires_in": "3599",
        "refresh_token": "rt-1",
        "scope": "openid https://www.googleapis.com/auth/cloud-platform",
        "token_type": "Bearer",
        "id_token": _id_token({"email": "me@example.com", "sub": "1"}),
        "refresh_token_expires_in": 604799,
        "something_new": {"nested": True},
    }
    tr = parse_token_response(200, json.dumps(body).encode())
    assert (tr.access_token, tr.expires_in, tr.refresh_token) == ("at-1", 3599, "rt-1")
    assert tr.granted_scopes == ("openid", "https://www.googleapis.com/auth/cloud-platform")
    assert tr.account == "me@example.com"
    assert "at-1" not in repr(tr) and "rt-1" not in repr(tr)


def test_token_response_minimal() -> None:
    tr = parse_token_response(200, {"access_token": "a", "expires_in": 10})
    assert tr.refresh_token is None and tr.granted_scopes == () and tr.account == ""


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>oops</html>",
        b"[]",
        b'{"expires_in": 3600}',
        b'{"access_token": "", "expires_in": 3600}',
        b'{"access_token": 5, "expires_in": 3600}',
        b'{"access_token": "a"}',
        b'{"access_token": "a", "expires_in": "soon"}',
        b'{"access_token": "a", "expires_in": -1}',
        b'{"access_token": "a", "expires_in": true}',
        b'{"access_token": "a", "expires_in": 1, "token_type": "mac"}',
    ],
)
def test_token_response_malformed(body: bytes) -> None:
    with pytest.raises(TokenEndpointError) as err:
        parse_token_response(200, body)
    assert not isinstance(err.value, InvalidGrantError) and err.value.status == 200


def test_token_errors() -> None:
    body = {"error": "invalid_grant", "error_description": "Bad Request"}
    with pytest.raises(InvalidGrantError) as err:
        parse_token_response(400, json.dumps(body))
    assert err.value.error == "invalid_grant" and err.value.description == "Bad Request"
    assert "invalid_grant: Bad Request" in err.value.message
    with pytest.raises(TokenEndpointError) as err2:
        parse_token_response(401, {"error": "invalid_client", "error_description": "Unauthorized"})
    assert err2.value.error == "invalid_client" and err2.value.status == 401
    assert "download it again" in err2.value.hint
    with pytest.raises(TokenEndpointError, match="unknown_error") as err3:
        parse_token_response(500, {"error": "<b>\n", "error_description": "x" * 1000})
    assert "try again in a minute" in err3.value.hint
    with pytest.raises(TokenEndpointError, match="HTTP 502"):
        parse_token_response(502, b"Bad gateway")


@pytest.mark.parametrize(
    ("token", "email"),
    [
        (_id_token({"email": "a@example.com"}), "a@example.com"),
        (_id_token({"sub": "1"}), ""),
        (_id_token({"email": 5}), ""),
        ("a.b", ""),
        ("a.!!!.c", ""),
        ("a." + base64.urlsafe_b64encode(b"[1]").decode() + ".c", ""),
    ],
)
def test_id_token_email(token: str, email: str) -> None:
    assert id_token_email(token) == email
