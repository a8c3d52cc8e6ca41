"""Authorization URL and strict callback parsing (with hypothesis)."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gemini_oauth._authorize import authorization_url, parse_callback
from gemini_oauth._client_secrets import ClientSecret
from gemini_oauth.errors import (
    CallbackError,
    ConsentDeniedError,
    LoginError,
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
