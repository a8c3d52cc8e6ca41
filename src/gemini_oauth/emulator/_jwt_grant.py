"""Service-account JWTs: the JWT-bearer grant (RFC 7523) at ``/token`` and self-signed JWT access.

As Google: the assertion is an RS256 JWT signed with one of the account's keys (``kid`` is the
``private_key_id``), ``iss`` is the account's email, ``aud`` is Google's token endpoint
(google-auth always sends ``https://oauth2.googleapis.com/token``, whatever the ``token_uri``),
``exp`` at most an hour after ``iat``, and ``scope`` names what the access token may do. A
self-signed JWT (AIP-4111) is sent as the bearer itself: ``aud`` is the API's
``https://SERVICE/`` address or a ``scope`` claim says what it is for. Checks use the emulator's
clock; every failure answers with Google's words.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Audiences Google's token endpoint accepts in an assertion (old and new names of itself).
TOKEN_AUDIENCES = (
    "https://oauth2.googleapis.com/token",
    "https://www.googleapis.com/oauth2/v4/token",
    "https://accounts.google.com/o/oauth2/token",
)
GEMINI_AUDIENCES = (
    "https://generativelanguage.googleapis.com/",
    "https://generativelanguage.googleapis.com",
)
MAX_LIFETIME = 3600
CLOCK_SKEW = 300  # Google tolerates a few minutes of clock difference
BAD_SIGNATURE = "Invalid JWT Signature."
BAD_TIME = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values in the JWT claim."
)
NO_ACCOUNT = "Invalid grant: account not found"
BAD_SCOPE = "Invalid OAuth scope or ID token audience provided."


class JwtRefused(ValueError):
    """An assertion Google would refuse: ``error`` and ``description`` as it answers."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Jwt:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def parse(token: str) -> Jwt:
    """Split and decode a compact JWS; ``JwtRefused`` when it is not one."""
    parts = token.split(".")
    try:
        if len(parts) != 3:
            raise ValueError("not three parts")
        header, claims = json.loads(_unb64(parts[0])), json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except ValueError:  # binascii.Error and JSONDecodeError are ValueErrors
        raise JwtRefused("invalid_grant", BAD_SIGNATURE) from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtRefused("invalid_grant", BAD_SIGNATURE)
    return Jwt(header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


def new_key() -> tuple[str, str, str]:
    """A fresh RSA-2048 key: (key id, PKCS#8 private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return secrets.token_hex(20), private, public


def signature_ok(public_pem: str, jwt: Jwt) -> bool:
    key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(jwt.signature, jwt.signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def verify_signature(jwt: Jwt, keys: dict[str, str] | None) -> None:
    """The account exists (``keys``: key id -> public PEM, None if unknown) and signed ``jwt``."""
    if keys is None:
        raise JwtRefused("invalid_grant", NO_ACCOUNT)
    kid = jwt.header.get("kid")
    candidates = [keys[kid]] if isinstance(kid, str) and kid in keys else list(keys.values())
    if jwt.header.get("alg") != "RS256" or not any(signature_ok(k, jwt) for k in candidates):
        raise JwtRefused("invalid_grant", BAD_SIGNATURE)


def lifetime(claims: dict[str, Any], now: float) -> float:
    """``exp`` if ``iat``/``exp`` describe a short-lived token issued by ``now``, else refuse."""
    iat, exp = claims.get("iat"), claims.get("exp")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (iat, exp)):
        raise JwtRefused("invalid_grant", BAD_TIME)
    assert isinstance(iat, (int, float)) and isinstance(exp, (int, float))  # for mypy
    if not (iat - CLOCK_SKEW <= now and 0 < exp - iat <= MAX_LIFETIME):
        raise JwtRefused("invalid_grant", BAD_TIME)
    return float(exp)


def verify_assertion(
    jwt: Jwt, keys: dict[str, str] | None, now: float, own_audiences: tuple[str, ...] = ()
) -> None:
    """The checks of a JWT-bearer assertion: account, signature, time, audience.

    ``own_audiences``: the emulator's own token URLs, which libraries that put ``token_uri`` in
    ``aud`` (not google-auth) send.
    """
    verify_signature(jwt, keys)
    if now >= lifetime(jwt.claims, now):
        raise JwtRefused("invalid_grant", BAD_TIME)
    if jwt.claims.get("aud") not in TOKEN_AUDIENCES + own_audiences:
        raise JwtRefused(
            "invalid_grant",
            f"Invalid JWT: Failed audience check. The right audience is {TOKEN_AUDIENCES[0]}",
        )
