"""redact(): secrets by name and by shape disappear, ordinary text stays, and it is idempotent."""

from __future__ import annotations

import io
import json
import logging
import string
from collections.abc import Callable

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from gemini_oauth._redact import MASK, SECRET_NAMES, RedactingFilter, redact, server_text

# Real-looking prefixes are built at runtime: committed text must never look like a Google secret.
ACCESS, REFRESH, CODE = "ya" + "29.", "1" + "//", "4" + "/"
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_.~+/="
secrets_ = st.text(TOKEN_ALPHABET, min_size=12, max_size=80)
SEPARATORS = [" ", "\n", "\t", ", ", "; ", "(", "[", "{", "'", '"', "&", "?", "<", ">"]
fillers = st.lists(
    st.sampled_from(
        [
            "DEBUG httpx: ",
            "POST /token HTTP/1.1",
            "error: ",
            "expires_in=3599",
            "https://oauth2.googleapis.com/token",
            "127.0.0.1:8085",
            "scope=openid",
            *SEPARATORS,
        ]
    ),
    max_size=4,
).map("".join)

# Every way a named secret is written: query/form, percent-encoded, JSON, repr, header.
CONTEXTS: list[Callable[[str, str], str]] = [
    lambda n, s: f"?{n}={s}&x=1",
    lambda n, s: f"&{n}={s}",
    lambda n, s: f"{n}={s}",
    lambda n, s: f"redirect_uri=http%3A%2F%2Fh%2F%3F{n}%3D{s}",
    lambda n, s: json.dumps({n: s, "expires_in": 3599}),
    lambda n, s: json.dumps(json.dumps({n: s})),  # JSON inside a JSON string
    lambda n, s: repr({n: s}),
    lambda n, s: f"Credentials({n}={s!r})",
    lambda n, s: f"{n}: {s}" if "_" in n or "-" in n else f"{n}={s}",
]
SHAPES: list[Callable[[str], str]] = [
    lambda s: ACCESS + s,
    lambda s: REFRESH + s,
    lambda s: CODE + s,
    lambda s: "Authorization: Bearer " + s,
    lambda s: "authorization: basic " + s,
    lambda s: repr({"Authorization": "Bearer " + s}),
    lambda s: "sent with bearer " + s,
    lambda s: "x-goog-api-key: " + s,
    lambda s: "GOCSPX-" + "".join(c if c.isalnum() or c in "-_" else "x" for c in s),
]


@given(
    name=st.sampled_from(SECRET_NAMES),
    secret=secrets_,
    context=st.sampled_from(CONTEXTS),
    before=fillers,
    after=fillers,
)
def test_named_secrets_never_survive(
    name: str, secret: str, context: Callable[[str, str], str], before: str, after: str
) -> None:
    text = before + " " + context(name, secret) + " " + after
    assume(secret not in before + " " + context(name, "") + " " + after)  # else indistinct
    out = redact(text)
    assert secret not in out
    assert MASK in out
    assert redact(out) == out


@given(
    secret=secrets_,
    shape=st.sampled_from(SHAPES),
    before=fillers,
    after=fillers,
    sep=st.sampled_from(SEPARATORS),
)
def test_secrets_by_shape_never_survive(
    secret: str, shape: Callable[[str], str], before: str, after: str, sep: str
) -> None:
    assume(secret not in before + sep + shape("") + sep + after)  # e.g. "x-goog-api-k"
    out = redact(before + sep + shape(secret) + sep + after)
    assert secret not in out
    assert redact(out) == out


_interesting = st.sampled_from(
    [
        *(ACCESS, REFRESH, CODE, "1%2F%2F", "4%2F", "code=", "%3D", "%3F", "&", "=", '"', "'"),
        *("\\", ": ", "Bearer ", "Authorization: ", MASK, "[", "]", "token", "state", "_", "-"),
    ]
)


@given(st.lists(_interesting | st.text(TOKEN_ALPHABET + " \"'\\[]{}:,&?%", max_size=6)))
@example(["token=", MASK, "]"])
@example([REFRESH, "token=", "x"])
@example(["Bearer ", "ya29.", "0"])  # a short token, masked by shape, then again as a bearer
@example(["Bearer ", "1//", "0"])
def test_idempotent_on_tricky_text(parts: list[str]) -> None:
    once = redact("".join(parts))
    assert redact(once) == once


@given(st.text())
def test_idempotent_on_any_text(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@pytest.mark.parametrize(
    "text",
    [
        'POST http://127.0.0.1:8085/token "HTTP/1.1 200 OK"',
        "code_challenge_method=S256&response_type=code&access_type=offline",
        '{"error": {"code": 401, "status": "UNAUTHENTICATED"}}',
        "error code: 401, token expired; run 'gemini-oauth login'",
        "page_token=abc&pageToken=def token_uri=https://oauth2.googleapis.com/token",
        "a Bearer token, Basic auth",
        "models/gemini-2.5-flash 4/5 tests passed at 127.0.0.1//x",
        "client_id=1000000000001-emulator.apps.googleusercontent.com",
    ],
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /auth?state=s1&code=c2 HTTP/1.1", f"GET /auth?state={MASK}&code={MASK} HTTP/1.1"),
        ('{"access_token": "t", "n": 1}', f'{{"access_token": "{MASK}", "n": 1}}'),
        ("Authorization: Bearer abc", f"Authorization: Bearer {MASK}"),
        (f"refresh {REFRESH}abc.def", f"refresh {REFRESH}{MASK}"),
        ("x-goog-api-key: emulator-api-key", f"x-goog-api-key: {MASK}"),
        ("GET /v1/models?key=k1 HTTP/1.1", f"GET /v1/models?key={MASK} HTTP/1.1"),
    ],
)
def test_exact_replacements(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_filter_redacts_message_args_and_traceback() -> None:
    secret = ACCESS + "abcdefghijklmnopqrstuvwxyz"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("gemini_oauth.tests.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("sent %s with %r", "Authorization: Bearer sekret-value", {"token": secret})
        try:
            raise RuntimeError(f"refresh failed for refresh_token={secret}")
        except RuntimeError:
            logger.exception("boom")
        logger.warning("bad format %d", secret)  # a broken call must not print its args
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert secret not in text and "sekret-value" not in text
    assert "RuntimeError" in text and "Traceback" in text and "bad format %d" in text


def test_private_keys_and_bare_jwts_never_survive() -> None:
    """Service-account keys and JWTs (assertions, id tokens) are secrets whatever their label."""
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + "x" * 40
    pem = "-----BEGIN " + "PRIVATE KEY-----\n" + body + "\n-----END " + "PRIVATE KEY-----\n"
    key_file = json.dumps({"type": "service_account", "private_key": pem, "client_email": "a@b"})
    jwt = "eyJhbGciOiJSUzI1NiJ9" + ".eyJpc3MiOiJhQGIifQ" + ".c2lnbmF0dXJlLXBhcnQ"
    for text in (key_file, pem, "loaded " + pem[:60], f"assertion sent: {jwt} ok", repr(jwt)):
        out = redact(text)
        assert body[:20] not in out and jwt not in out and "c2lnbmF0dXJl" not in out, out
        assert redact(out) == out
    assert "a@b" in redact(key_file)  # what is not secret stays readable


def test_server_text_is_one_short_printable_redacted_line() -> None:
    said = "bad\x1b[31m token\u202e ya29.abcdefghij\n\tsee  https://x.example/?code=4/abcdefgh"
    shown = server_text(said)
    assert shown == f"bad[31m token ya29.{MASK} see https://x.example/?code={MASK}"
    assert server_text("x" * 500) == "x" * 199 + "…"
    assert server_text("é日本 ok") == "é日本 ok"  # printable text of any script stays
