"""The token endpoint (RFC 6749 §3.2, §5) and revocation (RFC 7009): the one place where their
answers become our errors, as ``google/oauth2/_client.py`` is for google-auth.

Every grant goes through here: the refresh grant of a saved login or a user's ADC
(``refresh_grant``, retried on "try again" answers under a RetryPolicy whose sleep is a seam),
the code exchange (``exchange_code``, sent once: a code is single use), google-auth's own
refresh failures (``from_google_auth``) and revocation (``revoke``, one rule for every caller).
A transport error is never resent and its message never holds the request. Server text is
untrusted: codes must fit a small alphabet, descriptions pass through ``_redact.server_text``.

Messages name the likely cause first and end with a command that works when pasted. What an
answer cannot tell (whose login, the command that makes it again, when its refresh token was
issued, what the caller keeps) comes in a ``GrantContext``; the grant's age is read on the
server's clock (its ``Date``), which tells a 7-day Testing expiry from a revocation.

Longer than 600 lines because it is the one place for every answer of a token endpoint (and of
a metadata server asked for a token): split, the rule would again live in several rooms.
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

from gemini_oauth import _clock
from gemini_oauth._cache_format import usable_token
from gemini_oauth._constants import MAX_TOKEN_LIFETIME, TESTING_REFRESH_LIFETIME
from gemini_oauth._redact import server_text
from gemini_oauth._retry import RETRYABLE_STATUS, Action, RetryPolicy
from gemini_oauth._setup import NO_CONTEXT, GrantContext
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
#: Where a user removes an app's access by hand.
PERMISSIONS_URL = "https://myaccount.google.com/permissions"

_SAFE_CODE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_QB = frozenset('"\\')
_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
_TROUBLE = "The token endpoint is having trouble; try again in a minute."
_STILL_LIVE = (
    "Nothing was deleted, and the grant may still be live: remove this app's access at "
    f"{PERMISSIONS_URL}, or try again later."
)
#: An age this close to the 7-day limit counts as the Testing expiry (clocks and rounding).
_TESTING_SLACK = 3600.0


def refresh_policy() -> RetryPolicy:
    """The refresh grant's retries: two quick ones; a Retry-After past 10 s gives up at once."""
    return RetryPolicy(max_attempts=3, deadline=10.0, initial_backoff=0.5, max_backoff=2.0)


#: Credentials of unknown origin (a caller's own google-auth user credentials).
ANY_CONTEXT = GrantContext(login=ANY_LOGIN)
#: google-auth refreshes only ADC's service accounts and the metadata server for us.
GOOGLE_AUTH_CONTEXT = GrantContext(
    login="gemini-oauth adc login", source="Application Default Credentials", adc=True
)


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
    #: The server's time of the answer (its Date header), for issue times on Google's clock.
    server_time: float | None = None


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


@dataclass(frozen=True)
class Answer:
    """How the token endpoint answered one request, and what it took to get it."""

    status: int
    body: bytes | str | Mapping[str, Any]
    uri: str = ""
    server_time: float | None = None  # its Date header, epoch seconds
    attempts: int = 1
    grant_type: str = "refresh_token"


def parse_token_response(
    status: int,
    body: bytes | str | Mapping[str, Any],
    *,
    context: GrantContext = NO_CONTEXT,
    answer: Answer | None = None,
) -> TokenResponse:
    """Parse a token endpoint answer; unknown fields ignored, errors typed (RFC 6749 §5.1, §5.2).

    ``answer`` says more about the exchange (the URI, the server's time, the attempts made).
    """
    answer = answer or Answer(status, body)
    data = body if isinstance(body, Mapping) else _json_object(body)
    kept = context.kept
    if data is None:
        transient = _transient_status(status)
        said = f"The token endpoint answered HTTP {status} with a body that is not a JSON object"
        raise TokenEndpointError(
            _sentence(said + _tried(answer), kept),
            status=status,
            transient=transient,
            hint=_TROUBLE if transient else "Check the token_uri in the client file; try again.",
        )
    if status >= 400 or "error" in data:
        raise error_from_answer(status, data, context=context, answer=answer)
    retry = f"Try again in a minute; if it persists, run {context.run}."
    access = data.get("access_token")
    if not usable_token(access):
        said = "The token endpoint answered without a usable access token (no access_token string)"
        raise TokenEndpointError(_sentence(said, kept), status=status, hint=retry)
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
        server_time=answer.server_time,
    )


def error_from_answer(
    status: int | None,
    data: Mapping[str, Any],
    *,
    context: GrantContext = NO_CONTEXT,
    answer: Answer | None = None,
) -> TokenEndpointError:
    """An OAuth error answer (RFC 6749 §5.2, with Google's ``error_subtype``) -> our typed error,
    its message naming the likely cause and its hint the command that fixes it.

    ``status`` is None when unknown (google-auth keeps only the body).
    """
    answer = answer or Answer(status or 0, data)
    error = _code(data.get("error")) or "unknown_error"
    subtype = _code(data.get("error_subtype")) or None
    raw = data.get("error_description")
    description = server_text(raw) if isinstance(raw, str) else ""
    transient = error in TRANSIENT_ERRORS or (status is not None and _transient_status(status))
    where = f" (HTTP {status})" if status is not None else ""
    said = f"{error}: {description}" if description else error
    common: dict[str, Any] = {
        "error": error,
        "description": description or None,
        "status": status,
        "subtype": subtype,
    }
    if error == "invalid_grant":
        message, hint = _invalid_grant(said, subtype, context, answer)
        return InvalidGrantError(message, hint=hint, **common)
    verb = "failed to answer" if transient else "refused the request"
    whose = f" for {context.source}" if context.source else ""
    message = _sentence(f"The token endpoint {verb}{where}{whose}: {said}" + _tried(answer))
    deleted = error == "invalid_client" and "deleted" in description.lower()
    exit_code = None
    if error == "deleted_client" or deleted:
        message = _sentence(
            f"The OAuth client of {context.source or 'this login'} was deleted in Google Cloud "
            f"console (the token endpoint answered{where}: {said})",
            context.kept,
        )
        hint = (
            "Either restore it within 30 days (Google Cloud console > Google Auth platform > "
            "Clients) and try again, or create a new Desktop client, download it as "
            f"client_secret.json and run {context.with_new_client()}."
        )
        exit_code = 2
    elif error in ("invalid_client", "unauthorized_client"):
        message = _sentence(message, context.kept)
        hint = (
            "The OAuth client was refused (deleted, or its secret changed): download it again "
            "as client_secret.json from Google Cloud console > Google Auth platform > Clients, "
            f"then run {context.with_new_client()}."
        )
        exit_code = 2
    elif error == "invalid_scope":
        message = _sentence(message, context.kept)
        hint = f"The grant does not cover the scopes asked for: run {context.run} for them."
    elif transient:
        message = _sentence(message, context.kept)
        hint = "This is on the server's side and nothing was lost: try again in a minute."
    else:
        message = _sentence(message, context.kept)
        hint = f"Try again in a minute; if it persists, run {context.run}."
    return TokenEndpointError(
        message, hint=hint, transient=transient, exit_code=exit_code, **common
    )


def _invalid_grant(
    said: str, subtype: str | None, context: GrantContext, answer: Answer
) -> tuple[str, str]:
    """The message and hint of an ``invalid_grant``: reauthentication, a code that did not work,
    a refresh token past the 7-day Testing limit, or one revoked."""
    whose = f" of {context.account}" if context.account else ""
    google = f" (Google said: {said})"
    if subtype in REAUTH_SUBTYPES:
        message = (
            f"Your organisation requires signing in again every few hours for apps that use "
            f"Cloud Platform scopes (Google Workspace session control), so the sign-in{whose} "
            f"can no longer be refreshed{google}; trying again will not help"
        )
        hint = (
            f"Run {context.run} to sign in again. A Workspace administrator can exempt this app "
            "by marking it trusted (Admin console > Security > Google Cloud session control)."
        )
        return _sentence(message, context.kept), hint
    if answer.grant_type == "authorization_code":
        message = (
            f"Google refused the authorization code{google}: the address it came in was cut off, "
            "already used, or more than 10 minutes old"
        )
        return _sentence(message), f"Run {context.run} again and use the new address."
    age = _age(context.issued_at, answer.server_time)
    days = f"{age / 86400:.1f} days old" if age is not None else ""
    if age is not None and age >= TESTING_REFRESH_LIFETIME - _TESTING_SLACK:
        message = (
            f"The sign-in{whose} expired: its refresh token is {days}, and Google ends the "
            f"refresh tokens of apps in Testing status after 7 days{google}."
        )
        hint = (
            f"Run {context.run} to sign in again. To stop the weekly expiry, publish the app: "
            "Google Cloud console > Google Auth platform > Audience > Publish app."
        )
    else:
        young = f"; at {days} it is not the 7-day Testing limit" if days else ""
        message = (
            f"The refresh token{whose} was revoked or has expired{google}{young}. Likely causes: "
            f"access was removed at {PERMISSIONS_URL}, the password was changed, it was revoked "
            "(gemini-oauth logout, or by another tool), or more than 100 newer sign-ins to this "
            "client made Google drop it."
        )
        hint = f"Run {context.run} to sign in again."
        if age is None:
            hint += " " + TESTING_NOTE
    return f"{message} {context.on_dead}".strip(), hint


def _age(issued_at: float | None, server_time: float | None) -> float | None:
    if issued_at is None:
        return None
    return max(0.0, (server_time if server_time is not None else _clock.now()) - issued_at)


def _tried(answer: Answer) -> str:
    """What was tried, for a message: the host, and how many attempts."""
    parts = [answer.uri] if answer.uri else []
    if answer.attempts > 1:
        parts.append(f"{answer.attempts} attempts")
    return f" (tried {', '.join(parts)})" if parts else ""


def transport_error(
    uri: str, exc: BaseException, *, context: GrantContext = NO_CONTEXT
) -> TokenEndpointError:
    """The token endpoint could not be reached: the reason (its class and OS error), no request."""
    where = f" {uri}" if uri else ""
    whose = f" to refresh {context.source}" if context.source else ""
    said = f"Could not reach the token endpoint{where} ({server_text(exc, 120)}){whose}"
    return TokenEndpointError(
        _sentence(said, context.kept),
        transient=True,
        hint="Check the network connection (and HTTPS_PROXY if you need a proxy), then try "
        "again; nothing was lost.",
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
    context: GrantContext = NO_CONTEXT,
) -> TokenResponse:
    """Send a refresh grant; answers that say "try again" (408, 429, 5xx) are retried per ``retry``.

    A refresh grant may be sent again safely: Google does not rotate refresh tokens. A transport
    error is not retried (the grant may have arrived; the caller decides). An ``invalid_grant``
    (reauthentication included) is never retried: it cannot succeed.
    """
    attempts = (retry or RetryPolicy(max_attempts=1)).start()
    while True:
        attempts.begin()
        status, headers, body = _post(request, token_uri, form, context=context)
        retry_after = headers.get("retry-after")
        decision = attempts.after_response(status, retry_after, body, refresh_on_401=False)
        if decision.action is not Action.RETRY:
            answer = Answer(
                status,
                body,
                token_uri,
                _clock.http_date_to_epoch(headers.get("date")),
                attempts.count,
            )
            return parse_token_response(status, body, context=context, answer=answer)
        log.debug("The token endpoint answered HTTP %s; again in %.2f s.", status, decision.delay)
        attempts.wait(decision.delay)


def exchange_code(
    request: Request, token_uri: str, form: Mapping[str, str], *, context: GrantContext = NO_CONTEXT
) -> TokenResponse:
    """Exchange an authorization code (RFC 6749 §4.1.3), once: a code is single use."""
    status, headers, body = _post(request, token_uri, form, context=context)
    answer = Answer(
        status,
        body,
        token_uri,
        _clock.http_date_to_epoch(headers.get("date")),
        grant_type="authorization_code",
    )
    return parse_token_response(status, body, context=context, answer=answer)


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
    request: Request, uri: str, form: Mapping[str, str], *, context: GrantContext = NO_CONTEXT
) -> tuple[int, Mapping[str, str], bytes]:
    """POST a form; the status, headers and body. A transport error becomes ours."""
    from google.auth import exceptions

    try:
        response = request(
            url=uri, method="POST", body=urlencode(form).encode(), headers=dict(_FORM_HEADERS)
        )
    except exceptions.TransportError as exc:
        raise transport_error(uri, exc, context=context) from None
    headers = {k.lower(): v for k, v in (response.headers or {}).items()}
    return response.status, headers, response.data


# ---------------------------------------------------------------- google-auth's own refreshes


def _metadata_refusal(exc: Exception, credentials: object) -> GeminiOAuthError | None:
    """A metadata server's 4xx for a token (google-auth wraps its TransportError, whose second
    argument is the response, in a RefreshError): the server's own words, which say why and
    what to run (gemini-oauth's metadata server does), never 'try again'."""
    from google.auth import compute_engine, exceptions

    if not isinstance(credentials, compute_engine.Credentials):
        return None
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
    if not isinstance(cause, exceptions.TransportError) or len(cause.args) < 2:
        return None
    response = cause.args[1]
    status = getattr(response, "status", None)
    if not isinstance(status, int) or not 400 <= status < 500:
        return None
    data = getattr(response, "data", b"")
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    said = server_text(text, limit=1000)  # ours says why and what to run, at some length
    return AdcError(
        f"The metadata server refused a token (HTTP {status}): {said or '(no reason given)'}",
        hint="" if "gemini-oauth" in said else "Check the server GCE_METADATA_HOST names.",
    )


def from_google_auth(
    exc: Exception, credentials: object = None, *, context: GrantContext | None = None
) -> GeminiOAuthError:
    """A failed google-auth refresh -> our error. google-auth's RefreshError carries the parsed
    answer in ``args[1]`` (when there was one) and a summary in ``args[0]``."""
    from google.auth import exceptions

    if isinstance(exc, GeminiOAuthError):
        return exc
    from google.oauth2.credentials import Credentials as UserCredentials

    if context is None:  # ours carry their own; a caller's user credentials could be either
        user = isinstance(credentials, UserCredentials)
        context = ANY_CONTEXT if user else GOOGLE_AUTH_CONTEXT
    if isinstance(exc, exceptions.TransportError):
        uri = getattr(credentials, "_token_uri", None) or ""
        return transport_error(str(uri), exc, context=context)
    refused = _metadata_refusal(exc, credentials)
    if refused is not None:
        return refused
    summary = server_text(exc.args[0] if exc.args else type(exc).__name__)
    body = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], Mapping) else None
    from google.oauth2 import service_account

    if isinstance(credentials, service_account.Credentials):
        clock = "short-lived" in summary or "iat" in summary  # Google checks the JWT's times
        return AdcError(
            f"The token endpoint refused the key of service account "
            f"{credentials.service_account_email} ({summary}).",
            hint="This machine's clock is probably wrong (the key's JWT carries its times): set "
            "it, then try again."
            if clock
            else "Point GOOGLE_APPLICATION_CREDENTIALS at a current key file, or create a new key "
            "for this account (IAM > Service accounts > Keys).",
        )
    if body is not None and "error" in body:
        error = error_from_answer(None, body, context=context)
        if getattr(exc, "retryable", False) and not error.transient:
            error.transient = True
            error.exit_code = 1
        return error
    if summary.startswith("Reauthentication is needed"):  # google-auth drops the body here
        message, hint = _invalid_grant(
            "invalid_grant: reauthentication is needed", "rapt_required", context, Answer(0, {})
        )
        return InvalidGrantError(message, error="invalid_grant", subtype="rapt_required", hint=hint)
    if "refresh_token" in summary or "necessary fields" in summary:
        return LoginRequiredError("These credentials cannot be refreshed (no refresh token).")
    transient = bool(getattr(exc, "retryable", False))
    return TokenEndpointError(
        f"Refreshing the access token failed ({summary}).",
        transient=transient,
        hint=f"Try again in a minute; if it persists, run {context.run}.",
    )


__all__ = [
    "ADC_LOGIN",
    "ANY_CONTEXT",
    "ANY_LOGIN",
    "LOGIN",
    "NO_CONTEXT",
    "PERMISSIONS_URL",
    "REAUTH_SUBTYPES",
    "TRANSIENT_ERRORS",
    "Answer",
    "GrantContext",
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
