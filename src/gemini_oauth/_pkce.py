"""PKCE (RFC 7636) and the anti-CSRF ``state``; pure functions over ``secrets``."""

from __future__ import annotations

import base64
import hashlib
import secrets

VERIFIER_LENGTH = 64


def make_verifier() -> str:
    """A 64-character verifier of unreserved characters, 384 random bits (RFC 7636 §4.1, §7.1)."""
    return secrets.token_urlsafe(48)


def s256_challenge(verifier: str) -> str:
    """code_challenge = BASE64URL(SHA256(ASCII(code_verifier))), unpadded (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_state() -> str:
    """A one-time state of 256 bits, past the 2^-128 bound (RFC 6749 §10.10, RFC 8252 §8.9)."""
    return secrets.token_urlsafe(32)
