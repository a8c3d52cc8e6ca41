"""What a token cache file must hold: one rule for the store and the print-access-token fast path.

Standard library only, no imports at all (the fast path imports it). A file that breaks the rule
is set aside by the store and never served by the fast path.
"""

from __future__ import annotations

#: Fields every cache file has: what a refresh needs (``refresh_token`` too, unless the grant
#: died and the record keeps only the set-up: then ``login_needed`` says why).
REQUIRED = ("client_id", "client_secret")
#: Fields that are strings when present (null allowed).
OPTIONAL_STRINGS = (
    "token",
    "expiry",
    "token_uri",
    "account",
    "quota_project_id",
    "client_secret_file",
    "login_needed",
    "login_needed_since",
)
# RFC 6750 §2.1 b64token: what an access token may be made of (it goes into a header).
_B64TOKEN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/")


def is_cache_data(data: object) -> bool:
    """True if ``data`` has the shape of a cache file (authorized_user, maybe with a token), or
    of one whose grant died (no refresh token; ``login_needed`` says why)."""
    if not isinstance(data, dict):
        return False
    if not all(isinstance(data.get(k), str) and data[k] for k in REQUIRED):
        return False
    refresh = data.get("refresh_token")
    if not (isinstance(refresh, str) and refresh) and not isinstance(data.get("login_needed"), str):
        return False
    if data.get("type", "authorized_user") != "authorized_user":
        return False
    scopes = data.get("scopes")
    if scopes is not None and not (
        isinstance(scopes, str)
        or (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes))
    ):
        return False
    return all(data.get(k) is None or isinstance(data[k], str) for k in OPTIONAL_STRINGS)


def usable_token(value: object) -> bool:
    """An access token that can be sent as ``Authorization: Bearer`` (RFC 6750 b64token)."""
    if not isinstance(value, str):
        return False
    body = value.rstrip("=")
    return bool(body) and len(value) <= 8192 and set(body) <= _B64TOKEN


__all__ = ["OPTIONAL_STRINGS", "REQUIRED", "is_cache_data", "usable_token"]
