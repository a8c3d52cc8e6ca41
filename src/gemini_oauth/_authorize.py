"""Authorization-code steps without I/O: the authorization URL and the callback (RFC 6749 §4.1).

The code exchange and its answer are ``_token_endpoint``'s.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlencode

from gemini_oauth._client_secrets import check_endpoint
from gemini_oauth._constants import is_loopback_host
from gemini_oauth.errors import CallbackError, ConsentDeniedError, LoginError

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
    """The authorization request, PKCE S256, offline access (RFC 6749 §4.1.1, RFC 7636 §4.3).

    Rebuilt from parsed parts and percent-encoded throughout: nothing in it means anything to a
    shell or an HTTP header. A malformed ``auth_uri`` raises ClientSecretError.
    """
    base = check_endpoint("auth_uri", client.auth_uri)
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
    sep = "&" if "?" in base else "?"
    return base + sep + urlencode(params)


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
