"""The token endpoint (RFC 6749 §3.2, §5) and revocation (RFC 7009): the one place where their
answers become our errors, as ``google/oauth2/_client.py`` is for google-auth.

Every grant we send goes through here: the refresh-token grant of a saved login
(``refresh_grant``, retried on answers that say "try again", under a RetryPolicy whose sleep is a
seam) and the authorization-code exchange (``exchange_code``, sent once: a code is single use,
and Google revokes what a replayed code gave). Refresh failures of google-auth's own credentials
(ADC files, service accounts, the metadata server) map through ``from_google_auth``. ``revoke``
has one rule for every caller. Requests go through a ``google.auth.transport.Request``
(``_transport.HttpxRequest``); a transport error is never resent, and its message never holds
the request. Server text is untrusted: error codes must fit a small alphabet, descriptions pass
through ``_redact.server_text``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from gemini_oauth._cache_format import usable_token
from gemini_oauth._constants import MAX_TOKEN_LIFETIME
from gemini_oauth._redact import server_text
from gemini_oauth._retry import RETRYABLE_STATUS, Action, RetryPolicy
from gemini_oauth.errors import (
    TESTING_NOTE,
    AdcError,
    GeminiOAuthError,
    InvalidGrantError,
    LoginRequiredError,
    RevocationError,
    TokenEndpointError,
)

if TYPE_CHECKING:
    from google.auth.transport import Request

    from gemini_oauth._client_secrets import ClientSecret

log = logging.getLogger(__name__)

#: Error codes that mean "try again later" (google-auth's ``_can_retry`` list).
TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error", "internal_failure"})
#: ``error_subtype`` of an ``invalid_grant`` when a Workspace admin requires reauthentication.
REAUTH_SUBTYPES = frozenset({"invalid_rapt", "rapt_required"})

#: How to sign in again, quoted, for hints: a saved login, ADC, or credentials of either kind.
LOGIN = "'gemini-oauth login'"
ADC_LOGIN = "'gemini-oauth adc login'"
ANY_LOGIN = "'gemini-oauth login' (or 'gemini-oauth adc login' for Application Default Credentials)"

_SAFE_CODE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_QB = frozenset('"\\')
_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
_TROUBLE = "The token endpoint is having trouble; try again in a minute."
_STILL_LIVE = (
    "Nothing was deleted, and the grant may still be live: remove this app's access at "
    "https://myaccount.google.com/permissions, or try again later."
)


def refresh_policy() -> RetryPolicy:
    """The refresh grant's retries: two quick ones; a Retry-After past 10 s gives up at once."""
    return RetryPolicy(max_attempts=3, deadline=10.0, initial_backoff=0.5, max_backoff=2.0)


# ---------------------------------------------------------------- requests and answers (pure)


@dataclass(frozen=True)
class TokenResponse:
    """A successful token endpoint answer (RFC 6749 §5.1); secrets kept out of repr."""

    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str | None = field(default=None, repr=False)
    granted_scopes: tuple[str, ...] = ()
    id_token: str | None = field(default=None, repr=False)
    account: str = ""
    token_type: str = "Bearer"  # noqa: S105 (a type name, not a secret)


def token_request(
    client: ClientSecret, code: str, verifier: str, redirect_uri: str
) -> dict[str, str]:
    """The form that exchanges a code with its PKCE verifier (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
    return {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": redirect_uri,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
    }


def refresh_request(
    *,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    scopes: tuple[str, ...] | list[str] | None = None,
    rapt_token: str | None = None,
) -> dict[str, str]:
    """The refresh-token grant (RFC 6749 §6), with Google's reauth proof token when there is one."""
    form = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    if scopes:
        form["scope"] = " ".join(scopes)
    if rapt_token:
        form["rapt"] = rapt_token
    return form


def parse_token_response(
    status: int,
    body: bytes | str | Mapping[str, Any],
    *,
    sign_in: str = LOGIN,
    kept: str = "",
) -> TokenResponse:
    """Parse a token endpoint answer; unknown fields ignored, errors typed (RFC 6749 §5.1, §5.2).

    ``sign_in`` is the command the hints name; ``kept`` what the caller kept ("the cached login
    was kept"), appended to every message.
    """
    data = body if isinstance(body, Mapping) else _json_object(body)
    if data is None:
        transient = _transient_status(status)
        said = f"The token endpoint answered HTTP {status} with a body that is not a JSON object"
        raise TokenEndpointError(
            _sentence(said, kept),
            status=status,
            transient=transient,
            hint=_TROUBLE if transient else "Check the token_uri in the client file; try again.",
        )
    if status >= 400 or "error" in data:
        raise error_from_answer(status, data, sign_in=sign_in, kept=kept)
    retry = f"Try again in a minute; if it persists, run {sign_in}."
    access = data.get("access_token")
    if not usable_token(access):
        said = "The token endpoint answered without a usable access token (no access_token string)"
        raise TokenEndpointError(
            _sentence(said, kept),
            status=status,
            hint=retry,
        )
    expires_in = _int(data.get("expires_in"))
    if expires_in is not None:
        expires_in = min(expires_in, MAX_TOKEN_LIFETIME)  # 1e20 would overflow every date
    if expires_in is None:
        raise TokenEndpointError(
            _sentence("The token endpoint's answer has no valid expires_in", kept),
            status=status,
            hint=retry,
        )
    token_type = data.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenEndpointError(
            _sentence("The token endpoint issued a non-Bearer token", kept),
            status=status,
            hint=retry,
        )
    refresh, id_token, scope = data.get("refresh_token"), data.get("id_token"), data.get("scope")
    assert isinstance(access, str)
    return TokenResponse(
        access_token=access,
        expires_in=expires_in,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        granted_scopes=_scopes(scope),
        id_token=id_token if isinstance(id_token, str) and id_token else None,
        account=id_token_email(id_token) if isinstance(id_token, str) else "",
    )


def error_from_answer(
    status: int | None,
    data: Mapping[str, Any],
    *,
    sign_in: str = LOGIN,
    kept: str = "",
) -> TokenEndpointError:
    """An OAuth error answer (RFC 6749 §5.2, with Google's ``error_subtype``) -> our typed error.

    ``status`` is None when unknown (google-auth keeps only the body).
    """
    error = _code(data.get("error")) or "unknown_error"
    subtype = _code(data.get("error_subtype")) or None
    raw = data.get("error_description")
    description = server_text(raw) if isinstance(raw, str) else ""
    transient = error in TRANSIENT_ERRORS or (status is not None and _transient_status(status))
    where = f" (HTTP {status})" if status is not None else ""
    said = f"{error}: {description}" if description else error
    verb = "failed to answer" if transient else "refused the request"
    message = _sentence(f"The token endpoint {verb}{where}: {said}", kept)
    common: dict[str, Any] = {
        "error": error,
        "description": description or None,
        "status": status,
        "subtype": subtype,
    }
    if error == "invalid_grant":
        hint = f"Run {sign_in} to sign in again."
        if subtype not in REAUTH_SUBTYPES:
            hint += " " + TESTING_NOTE
        return InvalidGrantError(message, hint=hint, **common)
    deleted = error == "invalid_client" and "deleted" in description.lower()
    if error == "deleted_client" or deleted:
        hint = (
            "The OAuth client was deleted: restore it within 30 days in Google Cloud console > "
            "Google Auth platform > Clients, or create a new Desktop client and download it as "
            f"client_secret.json; then run {sign_in}."
        )
    elif error in ("invalid_client", "unauthorized_client"):
        hint = (
            "The OAuth client was refused (deleted, or its secret changed): download it again as "
            "client_secret.json from Google Cloud console > Google Auth platform > Clients, then "
            f"run {sign_in}."
        )
    elif error == "invalid_scope":
        hint = f"The grant does not cover the scopes asked for: run {sign_in} for them."
    elif transient:
        hint = _TROUBLE
    else:
        hint = f"Try again in a minute; if it persists, run {sign_in}."
    return TokenEndpointError(message, hint=hint, transient=transient, **common)


def transport_error(uri: str, exc: BaseException, *, kept: str = "") -> TokenEndpointError:
    """The token endpoint could not be reached: the reason (its class and OS error), no request."""
    where = f" {uri}" if uri else ""
    return TokenEndpointError(
        _sentence(f"Could not reach the token endpoint{where} ({server_text(exc, 120)})", kept),
        transient=True,
        hint="Check your network connection and try again.",
    )


def id_token_email(id_token: str) -> str:
    """The email claim of an ID token straight from the token endpoint (OIDC Core §3.1.3.7).

    Only the payload is decoded: the token came over TLS from the token endpoint itself.
    """
    parts = id_token.split(".")
    if len(parts) != 3:
        return ""
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return ""
    email = payload.get("email") if isinstance(payload, dict) else None
    return email if isinstance(email, str) and email.isprintable() else ""


def _sentence(text: str, kept: str = "") -> str:
    text = text.rstrip(". ")
    return f"{text}; {kept}." if kept else f"{text}."


def _code(value: Any) -> str:
    """An OAuth error code fit to show (RFC 6749 §5.2 allows a narrow alphabet anyway)."""
    ok = isinstance(value, str) and 0 < len(value) <= 64 and set(value) <= _SAFE_CODE
    return value if ok else ""


def _transient_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def _json_object(body: bytes | str) -> Mapping[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, Mapping) else None


def _scopes(value: Any) -> tuple[str, ...]:
    """The granted scopes, each as RFC 6749 §3.3 allows (printable ASCII, no quote or backslash)."""
    if not isinstance(value, str):
        return ()
    return tuple(s for s in value.split() if s.isascii() and s.isprintable() and not set(s) & _QB)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(min(value, MAX_TOKEN_LIFETIME))
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 12:
        return int(value)
    return None


# ---------------------------------------------------------------- over HTTP


def refresh_grant(
    request: Request,
    token_uri: str,
    form: Mapping[str, str],
    *,
    retry: RetryPolicy | None = None,
    sign_in: str = LOGIN,
    kept: str = "",
) -> TokenResponse:
    """Send a refresh grant; answers that say "try again" (408, 429, 5xx) are retried per ``retry``.

    A refresh grant may be sent again safely: Google does not rotate refresh tokens. A transport
    error is not retried (the grant may have arrived; the caller decides).
    """
    attempts = (retry or RetryPolicy(max_attempts=1)).start()
    while True:
        attempts.begin()
        status, retry_after, body = _post(request, token_uri, form, kept=kept)
        decision = attempts.after_response(status, retry_after, body, refresh_on_401=False)
        if decision.action is not Action.RETRY:
            return parse_token_response(status, body, sign_in=sign_in, kept=kept)
        log.debug("The token endpoint answered HTTP %s; again in %.2f s.", status, decision.delay)
        attempts.wait(decision.delay)


def exchange_code(
    request: Request, token_uri: str, form: Mapping[str, str], *, sign_in: str = LOGIN
) -> TokenResponse:
    """Exchange an authorization code (RFC 6749 §4.1.3), once: a code is single use."""
    status, _, body = _post(request, token_uri, form)
    return parse_token_response(status, body, sign_in=sign_in)


def revoke(request: Request, uri: str, token: str, *, kept: str) -> None:
    """Revoke a token (RFC 7009 §2.1): done on 200, or on 400 ``invalid_token`` (already gone).

    Any other answer, or none, raises RevocationError with the server's reason; ``kept`` says
    what the caller keeps ("the ADC file was kept").
    """
    from google.auth import exceptions

    try:
        response = request(
            url=uri,
            method="POST",
            body=urlencode({"token": token}).encode(),
            headers=dict(_FORM_HEADERS),
        )
    except exceptions.TransportError as exc:
        said = f"Could not reach the revocation endpoint {uri} ({server_text(exc, 120)})"
        raise RevocationError(_sentence(said, kept)) from None
    status = response.status
    data = _json_object(response.data) or {}
    error = _code(data.get("error"))
    if status == 200 or (status == 400 and error == "invalid_token"):
        return
    raw = data.get("error_description")
    description = server_text(raw) if isinstance(raw, str) else ""
    reason = ": ".join(x for x in (error, description) if x)
    transient = _transient_status(status) or error in TRANSIENT_ERRORS
    said = f"The revocation endpoint answered HTTP {status}" + (f" ({reason})" if reason else "")
    raise RevocationError(
        _sentence(said, kept),
        error=error or None,
        description=description or None,
        status=status,
        hint=None if transient else _STILL_LIVE,
    )


def _post(
    request: Request, uri: str, form: Mapping[str, str], *, kept: str = ""
) -> tuple[int, str | None, bytes]:
    """POST a form; the status, Retry-After and body. A transport error becomes ours."""
    from google.auth import exceptions

    try:
        response = request(
            url=uri, method="POST", body=urlencode(form).encode(), headers=dict(_FORM_HEADERS)
        )
    except exceptions.TransportError as exc:
        raise transport_error(uri, exc, kept=kept) from None
    data = response.data
    return response.status, (response.headers or {}).get("retry-after"), data


# ---------------------------------------------------------------- google-auth's own refreshes


def from_google_auth(
    exc: Exception, credentials: object = None, *, sign_in: str = ANY_LOGIN
) -> GeminiOAuthError:
    """A failed google-auth refresh -> our error. google-auth's RefreshError carries the parsed
    answer in ``args[1]`` (when there was one) and a summary in ``args[0]``."""
    from google.auth import exceptions

    if isinstance(exc, GeminiOAuthError):
        return exc
    if isinstance(exc, exceptions.TransportError):
        return transport_error(str(getattr(credentials, "_token_uri", None) or ""), exc)
    summary = server_text(exc.args[0] if exc.args else type(exc).__name__)
    body = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], Mapping) else None
    from google.oauth2 import service_account

    if isinstance(credentials, service_account.Credentials):
        return AdcError(
            f"The token endpoint refused the key of service account "
            f"{credentials.service_account_email} ({summary}).",
            hint="Point GOOGLE_APPLICATION_CREDENTIALS at a current key file, or create a new key "
            "for this account (IAM > Service accounts > Keys).",
        )
    if body is not None and "error" in body:
        error = error_from_answer(None, body, sign_in=sign_in)
        error.transient = error.transient or bool(getattr(exc, "retryable", False))
        return error
    if summary.startswith("Reauthentication is needed"):  # google-auth drops the body here
        return InvalidGrantError(
            "The token endpoint asks for reauthentication (invalid_grant).",
            error="invalid_grant",
            subtype="rapt_required",
            hint=f"Run {sign_in} to sign in again.",
        )
    if "refresh_token" in summary or "necessary fields" in summary:
        return LoginRequiredError("These credentials cannot be refreshed (no refresh token).")
    return TokenEndpointError(
        f"Refreshing the access token failed ({summary}).",
        transient=bool(getattr(exc, "retryable", False)),
        hint=f"Try again in a minute; if it persists, run {sign_in}.",
    )


__all__ = [
    "ADC_LOGIN",
    "ANY_LOGIN",
    "LOGIN",
    "REAUTH_SUBTYPES",
    "TRANSIENT_ERRORS",
    "TokenResponse",
    "error_from_answer",
    "exchange_code",
    "from_google_auth",
    "id_token_email",
    "parse_token_response",
    "refresh_grant",
    "refresh_policy",
    "refresh_request",
    "revoke",
    "token_request",
    "transport_error",
]
