"""Authorization-code steps without I/O: URL, callback, token response (RFC 6749 §4.1)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode

from gemini_oauth._constants import is_loopback_host
from gemini_oauth.errors import (
    CallbackError,
    ConsentDeniedError,
    InvalidGrantError,
    LoginError,
    TokenEndpointError,
)

if TYPE_CHECKING:
    from gemini_oauth._client_secrets import ClientSecret

_SAFE_ERROR = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def authorization_url(
    client: ClientSecret,
    redirect_uri: str,
    scopes: Iterable[str],
    state: str,
    challenge: str,
    login_hint: str | None = None,
    prompt: str | None = None,
) -> str:
    """The authorization request, PKCE S256, offline access (RFC 6749 §4.1.1, RFC 7636 §4.3)."""
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "access_type": "offline",
    }
    if login_hint:
        params["login_hint"] = login_hint
    if prompt:
        params["prompt"] = prompt
    sep = "&" if "?" in client.auth_uri else "?"
    return client.auth_uri + sep + urlencode(params)


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


def parse_callback(
    url_or_target: str,
    expected_state: str,
    expected_path: str,
    *,
    expected_port: int | None = None,
) -> str:
    """The code from a redirect to the listener, after strict checks (RFC 6749 §4.1.2, §10.12).

    Accepts a request target (``/path?query``) or a full ``http://`` loopback URL. The state is
    compared (in constant time) before ``error`` or ``code`` is looked at; an ``error`` with a wrong
    state is just a bad callback. Raises CallbackError, ConsentDeniedError (access_denied), or
    LoginError for another error the authorization server reported with the right state.
    """
    text = url_or_target
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in text):
        raise CallbackError("The callback address contains blanks or control characters.")
    if "#" in text:
        raise CallbackError("The callback address has an unexpected #fragment.")
    if not text.startswith("/"):
        text = _strip_origin(text, expected_port)
    path, sep, query = text.partition("?")
    if not sep:
        raise CallbackError("The callback address has no query (no ?code=... or ?error=...).")
    params = _strict_query(query)
    state = params.get("state")
    if state is None:
        raise CallbackError("The callback has no state parameter; it was not sent for this login.")
    if not hmac.compare_digest(state.encode("utf-8"), expected_state.encode("utf-8")):
        raise CallbackError("The callback's state does not match this login (possible CSRF).")
    if path != expected_path:
        raise CallbackError("The callback arrived on the wrong path; it is not for this login.")
    error, code = params.get("error"), params.get("code")
    if error is not None:
        if code is not None:
            raise CallbackError("The callback has both an error and a code.")
        if error == "access_denied":
            raise ConsentDeniedError("Access was denied on the consent page.")
        shown = error if set(error) <= _SAFE_ERROR and len(error) <= 64 else "(unprintable)"
        raise LoginError(f"The authorization server refused the request: {shown}.")
    if not code:
        raise CallbackError("The callback has no code parameter.")
    return code


def _strip_origin(url: str, expected_port: int | None) -> str:
    """Check ``http://<loopback>[:port]`` (no userinfo) and return the rest of the URL."""
    if not url.lower().startswith("http://"):
        raise CallbackError("The callback address must start with http://127.0.0.1 (loopback).")
    rest = url[len("http://") :]
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, target = rest[:end], rest[end:]
    if "@" in authority:
        raise CallbackError("The callback address contains userinfo (an '@'); refusing it.")
    host, port = authority, None
    if authority.startswith("["):
        close = authority.find("]")
        host, tail = authority[: close + 1], authority[close + 1 :]
        if close < 0 or (tail and not tail.startswith(":")):
            raise CallbackError("The callback address has a malformed host.")
        port = tail[1:] if tail else None
    elif ":" in authority:
        host, port = authority.split(":", 1)
    if not is_loopback_host(host):
        raise CallbackError("The callback address is not on this machine (127.0.0.1, [::1]).")
    if port is not None and (not port.isascii() or not port.isdigit() or len(port) > 5):
        raise CallbackError("The callback address has a malformed port.")
    if expected_port is not None and (port is None or int(port) != expected_port):
        raise CallbackError("The callback address has the wrong port; it is not for this login.")
    return target if target.startswith("/") else "/" + target


def _strict_query(query: str) -> dict[str, str]:
    """Parse a query with ``&`` only; each name once, percent-decoded UTF-8, no controls."""
    params: dict[str, str] = {}
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if not eq or not name:
            raise CallbackError("The callback query is malformed.")
        try:
            name = unquote(name.replace("+", " "), errors="strict")
            value = unquote(value.replace("+", " "), errors="strict")
        except UnicodeDecodeError:
            raise CallbackError("The callback query is not valid UTF-8.") from None
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name + value):
            raise CallbackError("The callback query contains control characters.")
        if name in params:
            raise CallbackError(f"The callback repeats the parameter {name[:20]!r}; refusing it.")
        params[name] = value
    return params


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


def parse_token_response(status: int, body: bytes | str | Mapping[str, Any]) -> TokenResponse:
    """Parse a token endpoint answer; unknown fields ignored, errors typed (RFC 6749 §5.1, §5.2)."""
    data: Any = body
    if isinstance(body, (bytes, str)):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            data = None
    if not isinstance(data, Mapping):
        raise TokenEndpointError(
            f"The token endpoint answered HTTP {status} with a body that is not a JSON object.",
            status=status,
            hint="Check the token_uri in the client file; try again later.",
        )
    if status >= 400 or "error" in data:
        raise _oauth_error(status, data)
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise TokenEndpointError(
            "The token endpoint's answer has no access_token.", status=status, hint=_RETRY
        )
    expires_in = _int(data.get("expires_in"))
    if expires_in is None:
        raise TokenEndpointError(
            "The token endpoint's answer has no valid expires_in.", status=status, hint=_RETRY
        )
    token_type = data.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenEndpointError(
            "The token endpoint issued a non-Bearer token.", status=status, hint=_RETRY
        )
    refresh, id_token, scope = data.get("refresh_token"), data.get("id_token"), data.get("scope")
    return TokenResponse(
        access_token=access,
        expires_in=expires_in,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        granted_scopes=tuple(scope.split()) if isinstance(scope, str) else (),
        id_token=id_token if isinstance(id_token, str) and id_token else None,
        account=id_token_email(id_token) if isinstance(id_token, str) else "",
    )


_RETRY = "Try 'gemini-oauth login' again; if it persists, the token endpoint is misbehaving."


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 12:
        return int(value)
    return None


def _oauth_error(status: int, data: Mapping[str, Any]) -> TokenEndpointError:
    error = data.get("error")
    error = error if isinstance(error, str) and set(error) <= _SAFE_ERROR else "unknown_error"
    raw = data.get("error_description")
    description = _printable(raw)[:200] if isinstance(raw, str) else ""
    message = f"The token endpoint refused the request (HTTP {status}): {error}"
    message += f": {description}" if description else "."
    if error == "invalid_grant":
        return InvalidGrantError(
            message, error=error, description=description or None, status=status
        )
    if error in ("invalid_client", "unauthorized_client"):
        hint = (
            "The client file's secret or id is not accepted: download it again from Google Cloud "
            "console > Google Auth platform > Clients, then run 'gemini-oauth login'."
        )
    elif status >= 500 or status == 429 or error == "temporarily_unavailable":
        hint = "The token endpoint is having trouble; try again in a minute."
    else:
        hint = _RETRY
    return TokenEndpointError(
        message, error=error, description=description or None, status=status, hint=hint
    )


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable())


def id_token_email(id_token: str) -> str:
    """The email claim of an ID token straight from the token endpoint (OIDC Core §3.1.3.7).

    Only the payload is decoded: the token came over TLS from the token endpoint itself.
    """
    parts = id_token.split(".")
    if len(parts) != 3:
        return ""
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return ""
    email = payload.get("email") if isinstance(payload, dict) else None
    return email if isinstance(email, str) and _printable(email) == email else ""
