"""Ending a cached login at Google (RFC 7009): ``logout``'s revoke-then-delete, and revoking the
grant a new login replaced. The one revocation rule is ``_token_endpoint.revoke``'s.

Google revokes access whole: revoking any token of an account for an OAuth client ends every
refresh token of that account for that client (seen in practice, e.g. Significant-Gravitas/AutoGPT
#10493, which reverted a per-token revocation for that reason; the emulator does the same). So a
login that replaces one of the same account and client never revokes it (that would end the new
one too), and a logout names the other saved logins it ends.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from gemini_oauth._constants import GOOGLE_REVOKE_URI
from gemini_oauth._store import has_grant
from gemini_oauth._token_endpoint import PERMISSIONS_URL, revoke
from gemini_oauth.errors import RevocationError

if TYPE_CHECKING:
    import httpx

    from gemini_oauth._cache_backend import CacheRecord


def revoke_and_delete(
    file: CacheRecord, *, client: httpx.Client | None = None
) -> dict[str, Any] | None:
    """Log out (RFC 7009): revoke the refresh token at the server, then delete the cache.

    The rule is ``_token_endpoint.revoke``'s: a 200, or ``invalid_token`` (already dead),
    deletes; anything else keeps the cache and raises RevocationError with the server's reason.
    Returns the data that was removed, or None when there was no login.
    """
    from gemini_oauth._transport import HttpxRequest

    with file.lock():
        data = file.read()
        if data is None:
            return None
        if not has_grant(data):  # a set-up whose sign-in already ended: nothing to revoke
            file.delete()
            return data
        request = HttpxRequest(client)
        try:
            uri = data.get("revoke_uri") or GOOGLE_REVOKE_URI
            revoke(request, uri, data["refresh_token"], kept="the cached login was kept")
        finally:
            request.close()
        file.delete()
        return data


def same_access(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two saved logins may be one account's access to one OAuth client, which Google
    revokes as a whole: the same client, and the same account or one that cannot be told."""
    if a.get("client_id") != b.get("client_id"):
        return False
    left, right = (str(x.get("account") or "").strip().lower() for x in (a, b))
    return not left or not right or left == right


def ended_with(
    data: Mapping[str, Any], others: Iterable[tuple[str, Mapping[str, Any]]]
) -> list[str]:
    """The names of the ``others`` (name, record) holding a live login that revoking ``data``'s
    refresh token ends too (see the module docstring)."""
    return [
        name
        for name, other in others
        if has_grant(other)
        and other.get("refresh_token") != data.get("refresh_token")
        and same_access(data, other)
    ]


def saved_logins(
    *, skip_profile: str | None = None, skip_adc: bool = False
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, record) of every saved user login here: the profiles, and a user's ADC file;
    unreadable ones are passed over (this only informs a decision about revoking)."""
    from gemini_oauth._gcloud_paths import adc_path
    from gemini_oauth._store import list_profiles, profile_file
    from gemini_oauth.errors import GeminiOAuthError

    for name in list_profiles():
        if name == skip_profile:
            continue
        try:
            record = profile_file(name).read()
        except GeminiOAuthError:
            continue
        if record is not None:
            yield f"profile {name}", record
    if not skip_adc:
        try:
            with open(adc_path(), "rb") as stream:
                adc = json.loads(stream.read(1 << 20))
        except (OSError, ValueError, RecursionError):
            return
        if isinstance(adc, dict) and adc.get("type") == "authorized_user":
            yield "Application Default Credentials", adc


def revoke_replaced(
    old: dict[str, Any],
    new: Mapping[str, Any],
    *,
    out: TextIO | None = None,
    http: httpx.Client | None = None,
) -> bool:
    """Revoke the refresh token a new login replaced (RFC 7009), so grants do not pile up
    towards Google's 100 per client and account; a failure is a warning, never an error.

    Not when both are the same account's access to the same client: Google would end the new
    login with it, and its 100-token limit drops the oldest (the replaced one) first anyway.
    """
    from gemini_oauth._transport import HttpxRequest

    if same_access(old, new):
        return False

    stream = out if out is not None else sys.stderr
    request = HttpxRequest(http)
    try:
        uri = old.get("revoke_uri") or GOOGLE_REVOKE_URI
        revoke(request, uri, old["refresh_token"], kept="")
    except RevocationError as exc:
        said = exc.message.rstrip(".")
        print(
            f"warning: the sign-in this one replaced could not be revoked ({said}); it stays "
            f"valid until removed at {PERMISSIONS_URL}.",
            file=stream,
            flush=True,
        )
        return False
    finally:
        request.close()
    print("Revoked the sign-in this one replaced.", file=stream, flush=True)
    return True


__all__ = [
    "ended_with",
    "revoke_and_delete",
    "revoke_replaced",
    "same_access",
    "saved_logins",
]
