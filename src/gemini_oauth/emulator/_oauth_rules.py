"""Google's OAuth 2.0 rules for installed apps as pure functions: redirect URIs, PKCE, repeated
parameters, ID tokens (RFC 6749, RFC 7636, RFC 8252). The routes are in ``_oauth_authorize.py``
(the browser's side) and ``_oauth_token.py`` (the client's side).

The grant logic is written by hand rather than on Authlib's ``AuthorizationServer`` because
Google's semantics differ from Authlib's at almost every turn: invalid clients and redirect URIs
get an HTML error page rather than an error redirect; a challenge without a method means
``plain``; a replayed code revokes the tokens first issued from it; refresh tokens are not rotated
and are absent from refresh responses; Testing-status apps get 7-day refresh tokens; revoking an
unknown token answers 400 (Authlib answers 200); tokeninfo and userinfo have Google's shapes.
Authlib still supplies the RFC 7636 S256 transform (``create_s256_code_challenge``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from werkzeug.datastructures import MultiDict

from gemini_oauth.emulator._records import AuthCode

CHALLENGE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 §4.1 / §4.2
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def redirect_uri_allowed(uri: str, registered: Iterable[str]) -> bool:
    """RFC 8252 §7.3 / RFC 9700 §4.1.3: loopback http on any port and path, else an exact match."""
    if any(ch in uri for ch in "\x00\t\r\n \\#"):
        return False
    parts = urlsplit(uri)
    if "@" in parts.netloc or not parts.netloc:  # CVE-2024-8883: http://127.0.0.1:80@evil
        return False
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    if parts.hostname in _LOOPBACK:
        return parts.scheme == "http"
    return uri in registered


def duplicate_parameter(params: MultiDict[str, str], ignore: str = "") -> str | None:
    """The first parameter given twice (``ignore`` may repeat, as the consent form's scopes do)."""
    return next((k for k in params if k != ignore and len(params.getlist(k)) > 1), None)


def pkce_problem(record: AuthCode, verifier: str | None) -> str | None:
    """RFC 7636 §4.6 with Google's messages; a verifier without a challenge fails (RFC 9700)."""
    if record.challenge is None:
        return None if verifier is None else "Invalid code verifier."
    if verifier is None:
        return "Missing code verifier."
    if not CHALLENGE.fullmatch(verifier):
        return "Invalid code verifier."
    expected = (
        create_s256_code_challenge(verifier) if record.challenge_method == "S256" else verifier
    )
    if not hmac.compare_digest(expected.encode(), record.challenge.encode()):
        return "Invalid code verifier."
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def id_token(claims: dict[str, Any], key: str) -> str:
    """A compact JWS (HS256, keyed with the client secret) over ``claims``."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(key.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"
