"""Google's OAuth 2.0 endpoints for installed apps: authorization, consent, token, revoke,
tokeninfo, userinfo and OpenID discovery (RFC 6749, RFC 7636, RFC 7009, RFC 8252).

The grant logic is written by hand rather than on Authlib's ``AuthorizationServer`` because
Google's semantics differ from Authlib's at almost every turn: invalid clients and redirect URIs
get an HTML error page rather than an error redirect; a challenge without a method means
``plain``; a replayed code revokes the tokens first issued from it; refresh tokens are not rotated
and are absent from refresh responses; Testing-status apps get 7-day refresh tokens; revoking an
unknown token answers 400 (Authlib answers 200); tokeninfo and userinfo have Google's shapes.
Authlib still supplies the RFC 7636 S256 transform (``create_s256_code_challenge``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask, Response, current_app, jsonify, request
from werkzeug.datastructures import MultiDict

from gemini_oauth.emulator import jwt_grant, pages
from gemini_oauth.emulator.jwt_grant import JWT_BEARER
from gemini_oauth.emulator.server import json_error
from gemini_oauth.emulator.state import (
    ACCESS_TOKEN_LIFETIME,
    APP_NAME,
    CODE_LIFETIME,
    IDENTITY_SCOPES,
    AccessTokenInfo,
    AuthCode,
    ConsentRequest,
    EmulatorState,
    Grant,
    random_token,
    user_sub,
)

AUTH = "https://www.googleapis.com/auth/"
USERINFO_EMAIL = AUTH + "userinfo.email"
USERINFO_PROFILE = AUTH + "userinfo.profile"
KNOWN_SCOPES = frozenset(
    {
        "openid",
        USERINFO_EMAIL,
        USERINFO_PROFILE,
        AUTH + "cloud-platform",
        AUTH + "cloud-platform.read-only",
        AUTH + "generative-language",
        AUTH + "generative-language.retriever",
        AUTH + "generative-language.retriever.readonly",
        AUTH + "generative-language.tuning",
        AUTH + "generative-language.tuning.readonly",
        AUTH + "sqlservice.login",  # in gcloud's default ADC scopes
    }
)
_ALIASES = {"email": USERINFO_EMAIL, "profile": USERINFO_PROFILE}
_CHALLENGE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 §4.1 / §4.2
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
CONSENT_LIFETIME = 3600
INVALID_GRANT_REFRESH = "Token has been expired or revoked."


def normalize_scopes(value: Iterable[str]) -> tuple[str, ...]:
    """Google's short forms (``email``, ``profile``) become their full URLs; order kept."""
    return tuple(dict.fromkeys(_ALIASES.get(s, s) for s in value))


def redirect_uri_allowed(uri: str, registered: Iterable[str]) -> bool:
    """RFC 8252 §7.3 / RFC 9700 §4.1.3: loopback http on any port and path, else an exact match."""
    if any(ch in uri for ch in "\x00\t\r\n \\#"):
        return False
    parts = urlsplit(uri)
    if "@" in parts.netloc or not parts.netloc:  # CVE-2024-8883: http://127.0.0.1:80@evil
        return False
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    if parts.hostname in _LOOPBACK:
        return parts.scheme == "http"
    return uri in registered


def _duplicate(params: MultiDict[str, str], ignore: str = "") -> str | None:
    """The first parameter given twice (``ignore`` may repeat, as the consent form's scopes do)."""
    return next((k for k in params if k != ignore and len(params.getlist(k)) > 1), None)


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


def issuer() -> str:
    """This emulator's base URL (its OAuth issuer)."""
    return f"http://127.0.0.1:{current_app.config['EMULATOR_PORT']}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def id_token(claims: dict[str, Any], key: str) -> str:
    """A compact JWS (HS256, keyed with the client secret) over ``claims``."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(key.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


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
    """Add the OAuth endpoints to ``app``."""

    @app.get("/o/oauth2/auth")
    @app.get("/o/oauth2/v2/auth")
    def authorize() -> Response:
        args = request.args
        if (dup := _duplicate(args)) is not None:
            return pages.error_page(400, "invalid_request", f"Duplicate parameter: {dup}")
        with state.lock:
            client = state.clients.get(args.get("client_id", ""))
            if client is None:
                return pages.error_page(401, "invalid_client", "The OAuth client was not found.")
            redirect_uri = args.get("redirect_uri", "")
            if not redirect_uri:
                return pages.error_page(
                    400, "invalid_request", "Missing required parameter: redirect_uri"
                )
            if not redirect_uri_allowed(redirect_uri, client.redirect_uris):
                return pages.error_page(
                    400,
                    "redirect_uri_mismatch",
                    "You can't sign in to this app because it doesn't comply with Google's "
                    "OAuth 2.0 policy. Register the redirect URI in the OAuth client.",
                    f"redirect_uri={redirect_uri}",
                )
            for name in ("response_type", "scope"):
                if not args.get(name, "").strip():
                    return pages.error_page(
                        400, "invalid_request", f"Missing required parameter: {name}"
                    )
            if args["response_type"] != "code":
                return pages.error_page(
                    400,
                    "unsupported_response_type",
                    f"Invalid response_type: {args['response_type']}",
                )
            scopes = normalize_scopes(args["scope"].split())
            unknown = [s for s in scopes if s not in KNOWN_SCOPES]
            if unknown:
                return pages.error_page(
                    400, "invalid_scope", "Some requested scopes were invalid.", " ".join(unknown)
                )
            challenge = args.get("code_challenge")
            method = args.get("code_challenge_method")
            if challenge is None and method is not None:
                return pages.error_page(
                    400, "invalid_request", "code_challenge_method without code_challenge"
                )
            if challenge is not None:
                method = method or "plain"  # Google's default when no method is given
                if method not in ("S256", "plain") or not _CHALLENGE.fullmatch(challenge):
                    return pages.error_page(
                        400, "invalid_request", "Invalid code_challenge or code_challenge_method."
                    )
            email = args.get("login_hint") or next(iter(state.users))
            user = state.users.get(email)
            if user is None:
                return pages.error_page(
                    400, "invalid_request", "No account for login_hint.", f"login_hint={email}"
                )
            if state.publishing_status == "testing" and not user.test_user:
                return pages.error_page(
                    403,
                    "access_denied",
                    f"{APP_NAME} has not completed the Google verification process. The app is "
                    "currently being tested, and can only be accessed by developer-approved "
                    "testers.",
                    f"Signed in as {email}",
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
            )
            state.count("auth")
        return pages.consent_page(APP_NAME, email, consent_id, scopes)

    @app.post("/o/oauth2/approval")
    def approval() -> Response:
        form = request.form
        if (dup := _duplicate(form, ignore="scope")) is not None:
            return pages.error_page(400, "invalid_request", f"Duplicate parameter: {dup}")
        with state.lock:
            pending = state.consents.pop(form.get("consent", ""), None)
            if pending is None or state.now() - pending.created_at > CONSENT_LIFETIME:
                return pages.error_page(
                    400, "invalid_request", "This consent request is unknown, expired or used."
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

    @app.post("/token")
    @app.post("/o/oauth2/token")
    def token() -> Response:
        form = request.form
        if (dup := _duplicate(form)) is not None:
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
            state.revoke_grant(grant_id)
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
        problem = _pkce_problem(record, form.get("code_verifier"))
        if problem is not None:
            return json_error(400, "invalid_grant", problem)
        grant = state.create_grant(client_id, record.email, record.scopes)
        record.grant_id = grant.id
        body = token_response(state, grant, with_refresh=True)
        state.changed()
    return _token_json(body)


def _pkce_problem(record: AuthCode, verifier: str | None) -> str | None:
    """RFC 7636 §4.6 with Google's messages; a verifier without a challenge fails (RFC 9700)."""
    if record.challenge is None:
        return None if verifier is None else "Invalid code verifier."
    if verifier is None:
        return "Missing code verifier."
    if not _CHALLENGE.fullmatch(verifier):
        return "Invalid code verifier."
    expected = (
        create_s256_code_challenge(verifier) if record.challenge_method == "S256" else verifier
    )
    if not hmac.compare_digest(expected.encode(), record.challenge.encode()):
        return "Invalid code verifier."
    return None


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
            jwt = jwt_grant.parse(assertion)
            account = state.service_accounts.get(str(jwt.claims.get("iss")))
            own = (f"{base}/token", f"{base}/o/oauth2/token")
            jwt_grant.verify_assertion(jwt, account.keys if account else None, state.now(), own)
        except jwt_grant.JwtRefused as refused:
            return json_error(400, refused.error, refused.description)
        assert account is not None  # verify_assertion refuses an unknown account
        if jwt.claims.get("sub", account.email) != account.email:
            return json_error(400, "unauthorized_client", "Client is unauthorized to retrieve "
                              "access tokens using this method, or client not authorized for "
                              "any of the scopes requested.")  # fmt: skip
        scope = jwt.claims.get("scope")
        scopes = normalize_scopes(scope.split()) if isinstance(scope, str) else ()
        if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
            return json_error(400, "invalid_scope", jwt_grant.BAD_SCOPE)
        token = state.mint_service_account_token(account, frozenset(scopes))
        state.changed()
    # Google answers a service account with no refresh token and no scope field.
    return _token_json(
        {"access_token": token, "expires_in": ACCESS_TOKEN_LIFETIME - 1, "token_type": "Bearer"}
    )
