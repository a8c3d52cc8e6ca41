"""Page tokens and page sizes of List methods, as pure functions.

A page token is opaque and tamper-evident: it binds the next offset to the call's other parameters.
"""

from __future__ import annotations

import base64
import hashlib
import json

from gemini_oauth.emulator._responses import invalid_argument

_PAGE_SALT = b"gemini-oauth-emulator-page-token"


def _page_mac(payload: bytes) -> str:
    return hashlib.sha256(_PAGE_SALT + payload).hexdigest()[:16]


def encode_page_token(version: str, page_size: int, offset: int) -> str:
    """An opaque, tamper-evident token binding the next offset to the call's other parameters."""
    payload = json.dumps([version, page_size, offset], separators=(",", ":")).encode()
    raw = payload + b"." + _page_mac(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, version: str, page_size: int) -> int:
    """The offset a token stands for; ApiFault 400 if it is forged or from another call."""
    bad = invalid_argument(
        "Invalid page token. The page token must come from a previous ListModels call with the "
        "same parameters.",
        "page_token",
    )
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload, _, mac = raw.rpartition(b".")
        if mac.decode() != _page_mac(payload):
            raise bad
        token_version, token_size, offset = json.loads(payload)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise bad from exc
    if (token_version, token_size) != (version, page_size) or not isinstance(offset, int):
        raise bad
    return offset


def page_size(raw: str | None) -> int:
    """``pageSize`` as Google reads it: absent or 0 means 50, at most 1000."""
    if raw is None or raw == "":
        return 50
    try:
        size = int(raw)
    except ValueError:
        raise invalid_argument(f'Invalid value "{raw}": must be an integer.', "page_size") from None
    if size < 0:
        raise invalid_argument("page_size must not be negative.", "page_size")
    return 50 if size == 0 else min(size, 1000)
