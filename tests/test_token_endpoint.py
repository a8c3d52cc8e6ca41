"""The token endpoint module: forms, answers, the one error mapping, the refresh grant and its
retries (sleep injected), the code exchange (never resent), revocation's one rule, and
google-auth's refresh failures; against the emulator over real HTTP where there is HTTP."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
from google.auth import exceptions as ga_exceptions

from gemini_oauth._client_secrets import ClientSecret, client_from_dict
from gemini_oauth._retry import RetryPolicy
from gemini_oauth._token_endpoint import (
    GrantContext,
    error_from_answer,
    exchange_code,
    from_google_auth,
    id_token_email,
    parse_token_response,
    refresh_grant,
    refresh_policy,
    refresh_request,
    revoke,
    token_request,
)
from gemini_oauth._transport import HttpxRequest
from gemini_oauth.emulator import Emulator
from gemini_oauth.errors import (
    InvalidGrantError,
    LoginRequiredError,
    RevocationError,
    TokenEndpointError,
)
from gemini_oauth.scopes import CLOUD_PLATFORM

CLIENT = ClientSecret(
    client_id="cid.apps.example",
    client_secret="unit-secret",
    auth_uri="https://accounts.example/o/oauth2/auth",
    token_uri="https://oauth2.example/token",
    revoke_uri="https://oauth2.example/revoke",
)
CODE = "4/unit-code"
KEPT = "the cached login was kept"


@pytest.fixture
def sent() -> Iterator[tuple[HttpxRequest, list[httpx.Request]]]:
    """A google-auth Request over httpx that records every request it sends."""
    seen: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [seen.append]}, timeout=10)
    request = HttpxRequest(http)
    yield request, seen
    http.close()


def _form(request: httpx.Request) -> dict[str, str]:
    request.read()
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def _refresh_form(emulator: Emulator, **kw: str) -> dict[str, str]:
    grant = emulator.control.issue_grant([CLOUD_PLATFORM])
    return refresh_request(
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        refresh_token=grant["refresh_token"],
        **kw,
    )


def _policy(slept: list[float], **kw: float) -> RetryPolicy:
    return RetryPolicy(
        **{**vars(refresh_policy()), "rng": random.Random(3), "sleep": slept.append, **kw}
    )  # type: ignore[arg-type]


# ---------------------------------------------------------------- forms and answers (pure)


def _id_token(claims: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln"


def test_token_request() -> None:
    form = token_request(CLIENT, CODE, "v" * 64, "http://127.0.0.1:5/cb")
    assert form["grant_type"] == "authorization_code" and form["code_verifier"] == "v" * 64
    assert form["client_secret"] == "unit-secret" and form["redirect_uri"].endswith("/cb")


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


def test_refresh_request() -> None:
    form = refresh_request(client_id="c", client_secret="s", refresh_token="r")
    assert form == {
        "grant_type": "refresh_token",
        "client_id": "c",
        "client_secret": "s",
        "refresh_token": "r",
    }
    full = refresh_request(
        client_id="c", client_secret="s", refresh_token="r", scopes=["a", "b"], rapt_token="p"
    )
    assert full["scope"] == "a b" and full["rapt"] == "p"


def test_invalid_grant_keeps_its_subtype() -> None:
    """Workspace reauthentication: the subtype stays on the error for the message to use."""
    body = {"error": "invalid_grant", "error_subtype": "invalid_rapt", "error_description": "rapt"}
    error = error_from_answer(400, body)
    assert isinstance(error, InvalidGrantError) and error.subtype == "invalid_rapt"
    assert error.status == 400 and not error.transient
    assert "7 days" not in error.hint and "gemini-oauth login" in error.hint
    adc = GrantContext(login="gemini-oauth adc login")
    plain = error_from_answer(400, {"error": "invalid_grant"}, context=adc)
    assert plain.subtype is None and "7 days" in plain.hint and "adc login" in plain.hint
    assert (
        error_from_answer(400, {"error": "invalid_grant", "error_subtype": "<x>"}).subtype is None
    )


@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (401, {"error": "invalid_client", "error_description": "Unauthorized"}, "secret changed"),
        (400, {"error": "unauthorized_client"}, "secret changed"),
        (
            401,
            {"error": "invalid_client", "error_description": "The OAuth client was deleted."},
            "restore it within 30 days",
        ),
        (400, {"error": "deleted_client"}, "restore it within 30 days"),
        (400, {"error": "invalid_scope", "error_description": "Invalid OAuth scope"}, "scopes"),
        (400, {"error": "invalid_request"}, "if it persists"),
    ],
)
def test_refusals_say_what_to_do(status: int, body: dict[str, str], says: str) -> None:
    error = error_from_answer(status, body, context=GrantContext(kept=KEPT))
    assert type(error) is TokenEndpointError and not error.transient
    assert says in error.hint and "gemini-oauth login" in error.hint
    assert error.error == body["error"] and error.message.endswith("; the cached login was kept.")
    assert f"HTTP {status}" in error.message


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, {"error": "temporarily_unavailable"}),
        (429, {"error": "rate_limit_exceeded"}),
        (500, {"error": "server_error"}),
        (400, {"error": "temporarily_unavailable"}),
        (None, {"error": "internal_failure"}),
    ],
)
def test_transient_answers_are_marked(status: int | None, body: dict[str, str]) -> None:
    error = error_from_answer(status, body)
    assert error.transient and "try again in a minute" in error.hint


def test_server_text_is_untrusted() -> None:
    """Codes outside OAuth's alphabet are not shown; descriptions are one short, redacted line."""
    refresh = "1//" + "r" * 40
    body = {
        "error": "bad\x1b[31m",
        "error_description": f"echo {refresh}\x1b]0;title\x07 \u202e" + "z" * 500,
    }
    error = error_from_answer(400, body)
    assert (
        error.error == "unknown_error" and "\x1b" not in str(error) and "\u202e" not in str(error)
    )
    assert refresh not in str(error) and len(error.description or "") <= 200


def test_refresh_grant_retries_what_says_try_again(
    emulator: Emulator, sent: tuple[HttpxRequest, list[httpx.Request]]
) -> None:
    """Two 503s, then a token: three requests, two requested waits, none waited for real."""
    request, seen = sent
    form = _refresh_form(emulator)
    emulator.control.add_fault("/token", 503, count=2)
    slept: list[float] = []
    answer = refresh_grant(request, emulator.base_url + "/token", form, retry=_policy(slept))
    assert answer.access_token and answer.expires_in > 3000
    assert len(seen) == 3 and emulator.control.counters()["token.refresh_token"] == 1
    assert len(slept) == 2 and 0.25 <= slept[0] <= 0.5 and 0.5 <= slept[1] <= 1.0


def test_refresh_grant_gives_up_within_its_budget(
    emulator: Emulator, sent: tuple[HttpxRequest, list[httpx.Request]]
) -> None:
    request, seen = sent
    form = _refresh_form(emulator)
    emulator.control.add_fault("/token", 503, count=None)
    slept: list[float] = []
    with pytest.raises(TokenEndpointError) as info:
        refresh_grant(
            request,
            emulator.base_url + "/token",
            form,
            retry=_policy(slept),
            context=GrantContext(kept=KEPT),
        )
    assert info.value.transient and info.value.status == 503 and "kept" in info.value.message
    assert len(seen) == 3 and len(slept) == 2  # max_attempts=3
    # the server's Retry-After past the deadline: no wait at all, one request
    emulator.control.clear_faults()
    emulator.control.add_fault("/token", 429, count=None, retry_after=60)
    del seen[:], slept[:]
    with pytest.raises(TokenEndpointError) as info:
        refresh_grant(request, emulator.base_url + "/token", form, retry=_policy(slept))
    assert info.value.status == 429 and info.value.transient
    assert len(seen) == 1 and slept == []
    # a Retry-After within the deadline is honoured
    emulator.control.clear_faults()
    emulator.control.add_fault("/token", 503, count=1, retry_after=4)
    del seen[:], slept[:]
    assert refresh_grant(request, emulator.base_url + "/token", form, retry=_policy(slept))
    assert slept == [4.0] and len(seen) == 2


def test_refresh_grant_never_resends_a_refusal_or_after_a_transport_error(
    emulator: Emulator, sent: tuple[HttpxRequest, list[httpx.Request]]
) -> None:
    request, seen = sent
    form = _refresh_form(emulator)
    slept: list[float] = []
    bad = {**form, "client_secret": "wrong"}
    with pytest.raises(TokenEndpointError, match="invalid_client"):
        refresh_grant(request, emulator.base_url + "/token", bad, retry=_policy(slept))
    emulator.control.add_fault("/token", drop=True, count=1)
    with pytest.raises(TokenEndpointError, match="Could not reach") as info:
        refresh_grant(request, emulator.base_url + "/token", form, retry=_policy(slept))
    assert info.value.transient and form["refresh_token"] not in str(info.value)
    assert len(seen) == 2 and slept == []


def test_refresh_grant_passes_scope_and_rapt(
    emulator: Emulator, sent: tuple[HttpxRequest, list[httpx.Request]]
) -> None:
    request, seen = sent
    form = _refresh_form(emulator, scopes=[CLOUD_PLATFORM], rapt_token="unit-rapt")
    answer = refresh_grant(request, emulator.base_url + "/token", form)
    assert answer.granted_scopes == (CLOUD_PLATFORM,)
    assert _form(seen[0])["rapt"] == "unit-rapt" and _form(seen[0])["scope"] == CLOUD_PLATFORM


def test_refresh_answer_without_a_token_is_an_error(
    emulator: Emulator, sent: tuple[HttpxRequest, list[httpx.Request]]
) -> None:
    request, _ = sent
    form = _refresh_form(emulator)
    emulator.control.add_fault("/token", 200, body={"access_token": "", "expires_in": 3600})
    with pytest.raises(TokenEndpointError, match="without a usable access token"):
        refresh_grant(request, emulator.base_url + "/token", form, retry=_policy([]))


def test_the_code_exchange_is_sent_once(
    emulator: Emulator, sent: tuple[HttpxRequest, list[httpx.Request]]
) -> None:
    """A code is single use: a 503 is reported, never resent."""
    request, seen = sent
    client = client_from_dict(emulator.client_secret_json())
    emulator.control.add_fault("/token", 503, count=5)
    form = token_request(client, "4/unit-code", "v" * 43, "http://127.0.0.1:5/cb")
    with pytest.raises(TokenEndpointError, match="temporarily_unavailable") as info:
        exchange_code(request, client.token_uri, form)
    assert info.value.transient and len(seen) == 1
    assert "4/unit-code" not in str(info.value) and "v" * 43 not in str(info.value)


# ---------------------------------------------------------------- revocation (RFC 7009)


def _revoke(emulator: Emulator, token: str) -> None:
    request = HttpxRequest()
    try:
        revoke(request, emulator.base_url + "/revoke", token, kept="the file was kept")
    finally:
        request.close()


def test_revoke_200_and_already_gone_are_done(emulator: Emulator) -> None:
    grant = emulator.control.issue_grant([CLOUD_PLATFORM])
    _revoke(emulator, grant["refresh_token"])  # 200
    _revoke(emulator, grant["refresh_token"])  # 400 invalid_token: already gone
    assert emulator.control.counters()["revoke"] == 2


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (
            400,
            {"error": "invalid_request", "error_description": "Bad token form"},
            "HTTP 400 (invalid_request: Bad token form)",
        ),
        (401, {"error": "invalid_client"}, "HTTP 401 (invalid_client)"),
        (503, None, "HTTP 503 (temporarily_unavailable: Injected fault.)"),
        (500, {"oops": 1}, "HTTP 500; the file was kept."),
    ],
)
def test_revoke_anything_else_keeps_and_says_why(
    emulator: Emulator, status: int, body: dict[str, object] | None, said: str
) -> None:
    grant = emulator.control.issue_grant([CLOUD_PLATFORM])
    emulator.control.add_fault("/revoke", status, body=body)
    with pytest.raises(RevocationError) as info:
        _revoke(emulator, grant["refresh_token"])
    assert said in info.value.message and info.value.message.endswith("the file was kept.")
    assert info.value.status == status and grant["refresh_token"] not in str(info.value)
    if body and "error" in body:
        assert info.value.error == body["error"]
    assert "nothing was deleted" in info.value.hint.lower()
    _revoke(emulator, grant["refresh_token"])  # the grant was still alive
    assert emulator.state.live_grant(grant["refresh_token"]) is None


def test_revoke_unreachable(emulator: Emulator) -> None:
    emulator.control.add_fault("/revoke", drop=True)
    with pytest.raises(RevocationError, match="Could not reach the revocation endpoint"):
        _revoke(emulator, "1//unit-refresh-token")


# ---------------------------------------------------------------- google-auth's refreshes


def test_google_auth_failures_map_through_the_same_rules() -> None:
    body = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    error = from_google_auth(ga_exceptions.RefreshError("invalid_grant: x", body))
    assert isinstance(error, InvalidGrantError) and error.description == body["error_description"]
    assert "gemini-oauth adc login" in error.hint and error.status is None
    retryable = ga_exceptions.RefreshError("x", {"error": "weird"}, retryable=True)
    assert from_google_auth(retryable).transient  # type: ignore[attr-defined]
    down = from_google_auth(ga_exceptions.TransportError("ConnectError: [Errno 111] refused"))
    assert isinstance(down, TokenEndpointError) and down.transient
    assert "Could not reach the token endpoint (ConnectError" in down.message
    reauth = ga_exceptions.RefreshError("Reauthentication is needed. Please run `gcloud ...`.")
    assert from_google_auth(reauth).subtype == "rapt_required"  # type: ignore[attr-defined]
    fields = ga_exceptions.RefreshError("The credentials do not contain the necessary fields")
    assert isinstance(from_google_auth(fields), LoginRequiredError)
    same = InvalidGrantError("already ours")
    assert from_google_auth(same) is same
    other = from_google_auth(ValueError("invalid literal for int() with base 10: 'soon'"))
    assert type(other) is TokenEndpointError and "soon" in other.message


def test_a_deeply_nested_id_token_names_no_account() -> None:
    """Finding 10: a RecursionError from the id_token's payload."""
    import base64

    from gemini_oauth._token_endpoint import id_token_email

    payload = base64.urlsafe_b64encode(b"[" * 100_000).decode().rstrip("=")
    assert id_token_email(f"eyJhbGciOiJub25lIn0.{payload}.") == ""
