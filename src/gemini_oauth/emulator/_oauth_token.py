"""The client's side of Google's OAuth: the token endpoint (authorization code, refresh token,
JWT bearer), revocation, tokeninfo, userinfo and OpenID discovery (RFC 6749, RFC 7009, RFC 7523).

The rules themselves (PKCE, redirect URIs, ID tokens) are in ``_oauth_rules.py``; Google's answers
differ from the RFCs' defaults in the ways listed there.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.datastructures import MultiDict

from gemini_oauth.emulator import _jwt_grant
from gemini_oauth.emulator._constants import ACCESS_TOKEN_LIFETIME
from gemini_oauth.emulator._jwt_grant import JWT_BEARER
from gemini_oauth.emulator._oauth_rules import duplicate_parameter, id_token, pkce_problem
from gemini_oauth.emulator._records import AccessTokenInfo, Grant, user_sub
from gemini_oauth.emulator._responses import json_error
from gemini_oauth.emulator._scopes import (
    IDENTITY_SCOPES,
    KNOWN_SCOPES,
    USERINFO_EMAIL,
    normalize_scopes,
)
from gemini_oauth.emulator._state import EmulatorState

INVALID_GRANT_REFRESH = "Token has been expired or revoked."
#: Google's answer to a refresh that Workspace session control stops (reauthentication needed).
REAUTH_REQUIRED = {
    "error": "invalid_grant",
    "error_description": "reauth related error (invalid_rapt)",
    "error_uri": "https://support.google.com/a/answer/9368756",
    "error_subtype": "invalid_rapt",
}


def issuer() -> str:
    """This emulator's base URL (its OAuth issuer)."""
    return f"http://127.0.0.1:{current_app.config['EMULATOR_PORT']}"


def token_response(
    state: EmulatorState,
    grant: Grant,
    *,
    with_refresh: bool,
    scopes: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Mint an access token for ``grant`` and shape the token endpoint's JSON answer."""
    with state.lock:
        scopes = scopes or grant.scopes
        body: dict[str, Any] = {
            "access_token": state.mint_access_token(grant, scopes),
            "expires_in": ACCESS_TOKEN_LIFETIME - 1,
            "scope": " ".join(sorted(scopes)),
            "token_type": "Bearer",
        }
        if with_refresh:
            body["refresh_token"] = grant.refresh_token
        if "openid" in scopes or USERINFO_EMAIL in scopes:
            now = int(state.now())
            claims = {
                "iss": issuer(),
                "azp": grant.client_id,
                "aud": grant.client_id,
                "sub": user_sub(grant.email),
                "email": grant.email,
                "email_verified": True,
                "iat": now,
                "exp": now + ACCESS_TOKEN_LIFETIME,
            }
            body["id_token"] = id_token(claims, state.clients[grant.client_id].client_secret)
        return body


def _token_json(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.headers.update({"Cache-Control": "no-store", "Pragma": "no-cache"})
    return response


def _live_access(state: EmulatorState, token: str | None) -> AccessTokenInfo | None:
    """An issued, live access token (a self-signed JWT is none: only APIs accept those)."""
    with state.lock:
        info = state.access_tokens.get(token) if token else None
    if info is None or info.revoked or info.expires_at <= state.now():
        return None
    return info


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def register(app: Flask, state: EmulatorState) -> None:
    """Add the token, revocation, tokeninfo, userinfo and discovery routes to ``app``."""

    @app.post("/token")
    @app.post("/o/oauth2/token")
    def token() -> Response:
        form = request.form
        if (dup := duplicate_parameter(form)) is not None:
            return json_error(400, "invalid_request", f"Duplicate parameter: {dup}")
        if form.get("grant_type") == JWT_BEARER:  # RFC 7523: the assertion authenticates
            state.count("token.jwt_bearer")
            return _jwt_bearer(state, form)
        auth = request.authorization
        secret: str | None
        if auth is not None and auth.type == "basic":  # RFC 6749 §2.3.1: form-encoded parts
            client_id, secret = unquote(auth.username or ""), unquote(auth.password or "")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret")
        if not client_id:
            return json_error(400, "invalid_request", "Could not determine client ID from request.")
        client = state.clients.get(client_id)
        if client is None:
            return json_error(401, "invalid_client", "The OAuth client was not found.")
        if client.deleted:
            return json_error(401, "deleted_client", "The OAuth client was deleted.")
        if secret is None:
            return json_error(400, "invalid_request", "client_secret is missing.")
        if not hmac.compare_digest(secret.encode(), client.client_secret.encode()):
            return json_error(401, "invalid_client", "Unauthorized")
        grant_type = form.get("grant_type")
        if not grant_type:
            return json_error(400, "invalid_request", "Missing required parameter: grant_type")
        if grant_type == "authorization_code":
            state.count("token.authorization_code")
            return _exchange_code(state, client.client_id, form)
        if grant_type == "refresh_token":
            state.count("token.refresh_token")
            return _refresh(state, client.client_id, form)
        return json_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    @app.route("/revoke", methods=["GET", "POST"])
    @app.route("/o/oauth2/revoke", methods=["GET", "POST"])
    def revoke() -> Response:
        state.count("revoke")
        token = request.form.get("token") or request.args.get("token")
        if not token:
            return json_error(400, "invalid_request", "Missing required parameter: token")
        with state.lock:
            info = _live_access(state, token)
            grant = state.live_grant(token)
            grant_id = info.grant_id if info is not None else grant.id if grant else None
            if grant_id is None:
                return json_error(400, "invalid_token", "Token expired or revoked")
            state.revoke_access(grant_id)
            state.changed()
        return _token_json({})

    @app.route("/tokeninfo", methods=["GET", "POST"])
    @app.route("/oauth2/v3/tokeninfo", methods=["GET", "POST"])
    def tokeninfo() -> Response:
        state.count("tokeninfo")
        info = _live_access(state, request.values.get("access_token") or _bearer())
        if info is None:
            return json_error(400, "invalid_token", "Invalid Value")
        now = state.now()
        robot = info.email in state.service_accounts
        body = {
            "azp": info.client_id,
            "aud": info.client_id,
            "sub": info.client_id if robot else user_sub(info.email),
            "scope": " ".join(sorted(info.scopes)),
            "exp": str(int(info.expires_at)),
            "expires_in": str(max(0, int(info.expires_at - now))),
        }
        if USERINFO_EMAIL in info.scopes:
            body.update(email=info.email, email_verified="true")
        body["access_type"] = "online" if robot else "offline"
        return _token_json(body)

    @app.get("/v1/userinfo")
    @app.get("/oauth2/v3/userinfo")
    def userinfo() -> Response:
        state.count("userinfo")
        info = _live_access(state, _bearer())
        if info is None or not info.scopes & IDENTITY_SCOPES:
            response = json_error(401, "invalid_request", "Invalid Credentials")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        body: dict[str, Any] = {"sub": user_sub(info.email)}
        if USERINFO_EMAIL in info.scopes:
            body.update(email=info.email, email_verified=True)
        return _token_json(body)

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        base = issuer()
        return jsonify(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/o/oauth2/v2/auth",
                "token_endpoint": f"{base}/token",
                "userinfo_endpoint": f"{base}/v1/userinfo",
                "revocation_endpoint": f"{base}/revoke",
                "tokeninfo_endpoint": f"{base}/tokeninfo",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token", JWT_BEARER],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["HS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "sub"],
                "code_challenge_methods_supported": ["plain", "S256"],
            }
        )


def _exchange_code(state: EmulatorState, client_id: str, form: MultiDict[str, str]) -> Response:
    for name in ("code", "redirect_uri"):
        if not form.get(name):
            return json_error(400, "invalid_request", f"Missing required parameter: {name}")
    with state.lock:
        record = state.codes.get(form["code"])
        if record is None or record.client_id != client_id:
            return json_error(400, "invalid_grant", "Malformed auth code.")
        if record.used:  # RFC 6749 §4.1.2: deny, and revoke what the code first gave
            if record.grant_id is not None:
                state.revoke_grant(record.grant_id)
                state.changed()
            return json_error(400, "invalid_grant", "Bad Request")
        record.used = True
        if state.now() >= record.expires_at:
            return json_error(400, "invalid_grant", "Bad Request")
        if form["redirect_uri"] != record.redirect_uri:
            return json_error(400, "redirect_uri_mismatch", "Bad Request")
        problem = pkce_problem(record, form.get("code_verifier"))
        if problem is not None:
            return json_error(400, "invalid_grant", problem)
        grant = state.create_grant(client_id, record.email, record.scopes)
        record.grant_id = grant.id
        body = token_response(state, grant, with_refresh=True)
        state.changed()
    return _token_json(body)


def _refresh(state: EmulatorState, client_id: str, form: MultiDict[str, str]) -> Response:
    refresh_token = form.get("refresh_token")
    if not refresh_token:
        return json_error(400, "invalid_request", "Missing required parameter: refresh_token")
    with state.lock:
        grant = state.live_grant(refresh_token)
        if grant is None:
            return json_error(400, "invalid_grant", INVALID_GRANT_REFRESH)
        if grant.client_id != client_id:
            return json_error(400, "unauthorized_client", "Unauthorized")
        if state.needs_reauth(grant):
            response = jsonify(REAUTH_REQUIRED)
            response.status_code = 400
            response.headers["Cache-Control"] = "no-store"
            return response
        scopes = None
        if form.get("scope"):
            scopes = frozenset(normalize_scopes(form["scope"].split()))
            if not scopes <= grant.scopes:
                return json_error(
                    400, "invalid_scope", "Invalid OAuth scope or ID token audience provided."
                )
        body = token_response(state, grant, with_refresh=False, scopes=scopes)
        state.changed()
    return _token_json(body)


def _jwt_bearer(state: EmulatorState, form: MultiDict[str, str]) -> Response:
    """RFC 7523 §2.1 as Google answers it: an access token for the asserting service account."""
    assertion = form.get("assertion")
    if not assertion:
        return json_error(400, "invalid_request", "Missing required parameter: assertion")
    base = issuer()
    with state.lock:
        try:
            jwt = _jwt_grant.parse(assertion)
            account = state.service_accounts.get(str(jwt.claims.get("iss")))
            own = (f"{base}/token", f"{base}/o/oauth2/token")
            _jwt_grant.verify_assertion(jwt, account.keys if account else None, state.now(), own)
        except _jwt_grant.JwtRefused as refused:
            return json_error(400, refused.error, refused.description)
        assert account is not None  # verify_assertion refuses an unknown account
        if jwt.claims.get("sub", account.email) != account.email:
            return json_error(400, "unauthorized_client", "Client is unauthorized to retrieve "
                              "access tokens using this method, or client not authorized for "
                              "any of the scopes requested.")  # fmt: skip
        scope = jwt.claims.get("scope")
        scopes = normalize_scopes(scope.split()) if isinstance(scope, str) else ()
        if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
            return json_error(400, "invalid_scope", _jwt_grant.BAD_SCOPE)
        token = state.mint_service_account_token(account, frozenset(scopes))
        state.changed()
    # Google answers a service account with no refresh token and no scope field.
    return _token_json(
        {"access_token": token, "expires_in": ACCESS_TOKEN_LIFETIME - 1, "token_type": "Bearer"}
    )
