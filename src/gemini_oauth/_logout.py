"""Ending a cached login at Google (RFC 7009): ``logout``'s revoke-then-delete, and revoking the
grant a new login replaced. The one revocation rule is ``_token_endpoint.revoke``'s.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from gemini_oauth._constants import GOOGLE_REVOKE_URI
from gemini_oauth._store import TokenFile, has_grant
from gemini_oauth._token_endpoint import PERMISSIONS_URL, revoke
from gemini_oauth.errors import RevocationError

if TYPE_CHECKING:
    import httpx


def revoke_and_delete(
    file: TokenFile, *, client: httpx.Client | None = None
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


def revoke_replaced(
    old: dict[str, Any], *, out: TextIO | None = None, http: httpx.Client | None = None
) -> bool:
    """Revoke the refresh token a new login replaced (RFC 7009), so grants do not pile up
    towards Google's 100 per client and account; a failure is a warning, never an error."""
    from gemini_oauth._transport import HttpxRequest

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


__all__ = ["revoke_and_delete", "revoke_replaced"]
