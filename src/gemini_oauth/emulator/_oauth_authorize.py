"""The browser's side of Google's OAuth: the authorization endpoint, the consent page and its
approval, which redirects to the app's loopback listener with a code (RFC 6749 §4.1, RFC 8252).

As Google: a bad client, redirect URI or parameter gets an HTML error page (``_pages.py``), never a
redirect; a user who is not a test user of a Testing app is refused before consent; an unverified
app in Testing shows "Google hasn't verified this app" first, whose Continue leads to the consent
(Back to safety answers ``access_denied``).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Flask, Response, request

from gemini_oauth.emulator import _pages
from gemini_oauth.emulator._constants import APP_NAME, CODE_LIFETIME, CONSENT_LIFETIME
from gemini_oauth.emulator._oauth_rules import (
    CHALLENGE,
    duplicate_parameter,
    redirect_uri_allowed,
)
from gemini_oauth.emulator._records import AuthCode, ConsentRequest, random_token
from gemini_oauth.emulator._scopes import IDENTITY_SCOPES, KNOWN_SCOPES, normalize_scopes
from gemini_oauth.emulator._state import EmulatorState


def _redirect(uri: str, params: list[tuple[str, str | None]]) -> Response:
    parts = urlsplit(uri)
    extra = urlencode([(k, v) for k, v in params if v is not None])
    query = f"{parts.query}&{extra}" if parts.query else extra
    response = Response(status=302)
    response.headers.update(
        {
            "Location": urlunsplit(parts._replace(query=query)),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        }
    )
    return response


def register(app: Flask, state: EmulatorState) -> None:
    """Add the authorization and consent routes to ``app``."""

    @app.get("/o/oauth2/auth")
    @app.get("/o/oauth2/v2/auth")
    def authorize() -> Response:
        args = request.args
        if (dup := duplicate_parameter(args)) is not None:
            return _pages.error_page(400, "invalid_request", f"Duplicate parameter: {dup}")
        with state.lock:
            client = state.clients.get(args.get("client_id", ""))
            if client is None:
                return _pages.error_page(401, "invalid_client", "The OAuth client was not found.")
            if client.deleted:
                return _pages.error_page(401, "deleted_client", "The OAuth client was deleted.")
            redirect_uri = args.get("redirect_uri", "")
            if not redirect_uri:
                return _pages.error_page(
                    400, "invalid_request", "Missing required parameter: redirect_uri"
                )
            if not redirect_uri_allowed(redirect_uri, client.redirect_uris):
                return _pages.error_page(
                    400,
                    "redirect_uri_mismatch",
                    "You can't sign in to this app because it doesn't comply with Google's "
                    "OAuth 2.0 policy. Register the redirect URI in the OAuth client.",
                    f"redirect_uri={redirect_uri}",
                )
            for name in ("response_type", "scope"):
                if not args.get(name, "").strip():
                    return _pages.error_page(
                        400, "invalid_request", f"Missing required parameter: {name}"
                    )
            if args["response_type"] != "code":
                return _pages.error_page(
                    400,
                    "unsupported_response_type",
                    f"Invalid response_type: {args['response_type']}",
                )
            scopes = normalize_scopes(args["scope"].split())
            unknown = [s for s in scopes if s not in KNOWN_SCOPES]
            if unknown:
                return _pages.error_page(
                    400, "invalid_scope", "Some requested scopes were invalid.", " ".join(unknown)
                )
            challenge = args.get("code_challenge")
            method = args.get("code_challenge_method")
            if challenge is None and method is not None:
                return _pages.error_page(
                    400, "invalid_request", "code_challenge_method without code_challenge"
                )
            if challenge is not None:
                method = method or "plain"  # Google's default when no method is given
                if method not in ("S256", "plain") or not CHALLENGE.fullmatch(challenge):
                    return _pages.error_page(
                        400, "invalid_request", "Invalid code_challenge or code_challenge_method."
                    )
            email = args.get("login_hint") or next(iter(state.users))
            user = state.users.get(email)
            if user is None:
                return _pages.error_page(
                    400, "invalid_request", "No account for login_hint.", f"login_hint={email}"
                )
            if state.publishing_status == "testing" and not user.test_user:
                return _pages.error_page(
                    403,
                    "access_denied",
                    f"{APP_NAME} has not completed the Google verification process. The app is "
                    "currently being tested, and can only be accessed by developer-approved "
                    "testers.",
                    f"Signed in as {email}",
                )
            warn = (
                state.publishing_status == "testing"
                and not state.app_verified
                and not set(scopes) <= IDENTITY_SCOPES
            )
            consent_id = secrets.token_urlsafe(32)
            state.consents[consent_id] = ConsentRequest(
                client.client_id,
                email,
                scopes,
                redirect_uri,
                args.get("state"),
                challenge,
                method,
                state.now(),
                acknowledged=not warn,
            )
            state.count("auth")
        if warn:
            return _pages.unverified_page(APP_NAME, email, consent_id)
        return _pages.consent_page(APP_NAME, email, consent_id, scopes)

    @app.post("/o/oauth2/unverified")
    def unverified() -> Response:
        form = request.form
        if (dup := duplicate_parameter(form)) is not None:
            return _pages.error_page(400, "invalid_request", f"Duplicate parameter: {dup}")
        with state.lock:
            consent_id = form.get("consent", "")
            pending = state.consents.get(consent_id)
            if pending is None or state.now() - pending.created_at > CONSENT_LIFETIME:
                return _pages.error_page(
                    400, "invalid_request", "This consent request is unknown, expired or used."
                )
            if form.get("action") != "continue":  # Back to safety
                del state.consents[consent_id]
                return _redirect(
                    pending.redirect_uri, [("error", "access_denied"), ("state", pending.state)]
                )
            pending.acknowledged = True
        return _pages.consent_page(APP_NAME, pending.email, consent_id, pending.scopes)

    @app.post("/o/oauth2/approval")
    def approval() -> Response:
        form = request.form
        if (dup := duplicate_parameter(form, ignore="scope")) is not None:
            return _pages.error_page(400, "invalid_request", f"Duplicate parameter: {dup}")
        with state.lock:
            pending = state.consents.pop(form.get("consent", ""), None)
            if pending is None or state.now() - pending.created_at > CONSENT_LIFETIME:
                return _pages.error_page(
                    400, "invalid_request", "This consent request is unknown, expired or used."
                )
            if not pending.acknowledged:
                return _pages.error_page(
                    400, "invalid_request", "Consent before the unverified-app warning was seen."
                )
            ticked = set(normalize_scopes(form.getlist("scope")))
            granted = [s for s in pending.scopes if s in ticked]
            if form.get("action") != "allow" or not granted:
                return _redirect(
                    pending.redirect_uri, [("error", "access_denied"), ("state", pending.state)]
                )
            code = random_token("4/emu.")
            state.codes[code] = AuthCode(
                pending.client_id,
                pending.email,
                frozenset(granted),
                pending.redirect_uri,
                state.now() + CODE_LIFETIME,
                pending.challenge,
                pending.challenge_method,
            )
        params = [("state", pending.state), ("code", code), ("scope", " ".join(granted))]
        return _redirect(pending.redirect_uri, params)
