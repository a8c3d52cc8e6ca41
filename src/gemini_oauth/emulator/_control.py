"""The control surface's routes under ``/__emulator__/`` (JSON in, JSON out).

Tests steer the emulator through it: the clock, faults, counters, app status, users, projects,
clients, and ``grants`` (a token response for a consented grant, without clicking through consent).
Its Python client, ``EmulatorControl``, is in ``_control_client.py``.

A web page open in the user's browser can POST to 127.0.0.1 too (a cross-site "simple" request
needs no preflight), so every control request but GET must carry a JSON content type or the
``X-Emulator-Control`` header, which such a request cannot.
"""

from __future__ import annotations

import base64
import math
import secrets
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, jsonify, request

from gemini_oauth.emulator._buckets import MAX_OBJECT_BYTES
from gemini_oauth.emulator._constants import (
    CONTROL_HEADER,
    CONTROL_PREFIX,
    DEFAULT_CLIENT_ID,
    DEFAULT_PROJECT_ID,
    DEFAULT_USER,
)
from gemini_oauth.emulator._jwt_grant import new_key
from gemini_oauth.emulator._oauth_token import issuer, token_response
from gemini_oauth.emulator._records import Client, Fault, Project, User, user_sub
from gemini_oauth.emulator._responses import json_error
from gemini_oauth.emulator._scopes import KNOWN_SCOPES, normalize_scopes
from gemini_oauth.emulator._state import EmulatorState


class ControlError(ValueError):
    """A control request with a bad body (answered 400)."""


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ControlError("expected a JSON object body")
    return data


def _field(
    data: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = ...
) -> Any:
    if name not in data:
        if default is ...:
            raise ControlError(f"missing field: {name}")
        return default
    value = data[name]
    if not isinstance(value, kind) or (
        isinstance(value, bool) and kind in (int, float, (int, float))
    ):
        raise ControlError(f"bad type for field: {name}")
    return value


def _finite(data: dict[str, Any], name: str, default: Any = ...) -> Any:
    """A number field that must be finite and not negative (a clock step, a delay), or None."""
    value = _field(data, name, (int, float, type(None)), default)
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise ControlError(f"{name} must be a finite number of seconds, not negative")
    return value


def register(app: Flask, state: EmulatorState) -> None:
    """Add the control routes to ``app``."""

    def ok(**extra: Any) -> Response:
        return jsonify({"ok": True, **extra})

    @app.before_request
    def refuse_cross_site() -> Response | None:
        if not request.path.startswith(CONTROL_PREFIX) or request.method in ("GET", "HEAD"):
            return None
        if request.mimetype == "application/json" or request.headers.get(CONTROL_HEADER):
            return None
        return json_error(
            403,
            "invalid_request",
            f"Control requests need Content-Type: application/json or an {CONTROL_HEADER} "
            "header (a cross-site form or simple request can send neither).",
        )

    @app.errorhandler(ControlError)
    def bad(exc: ControlError) -> Response:
        return json_error(400, "invalid_request", str(exc))

    @app.post(f"{CONTROL_PREFIX}/clock/advance")
    def advance() -> Response:
        seconds = float(_field(_body(), "seconds", (int, float)))
        if not math.isfinite(seconds):
            raise ControlError("seconds must be a finite number")
        with state.lock:
            state.clock_offset += seconds
            state.changed()
            return ok(offset=state.clock_offset, now=state.now())

    @app.post(f"{CONTROL_PREFIX}/reset")
    def reset() -> Response:
        state.reset()
        return ok()

    @app.post(f"{CONTROL_PREFIX}/faults")
    def add_fault() -> tuple[Response, int]:
        data = _body()
        path = _field(data, "path", str)
        if not path.startswith("/"):
            raise ControlError("path must start with /")
        status = _field(data, "status", (int, type(None)), None)
        if status is not None and not 100 <= status <= 599:
            raise ControlError("status must be an HTTP status")
        fault = Fault(
            path=path,
            status=status,
            count=_field(data, "count", (int, type(None)), 1),
            retry_after=_finite(data, "retry_after", None),
            latency=float(_finite(data, "latency", 0.0)),
            drop=bool(_field(data, "drop", bool, False)),
            body=_field(data, "body", (dict, type(None)), None),
            drop_after=_field(data, "drop_after", (int, type(None)), None),
        )
        with state.lock:
            state.faults.append(fault)
            return ok(faults=len(state.faults)), 201

    @app.delete(f"{CONTROL_PREFIX}/faults")
    def clear_faults() -> Response:
        with state.lock:
            state.faults.clear()
        return ok()

    @app.get(f"{CONTROL_PREFIX}/counters")
    def counters() -> Response:
        with state.lock:
            return jsonify(dict(state.counters))

    @app.get(f"{CONTROL_PREFIX}/state")
    def summary() -> Response:
        return jsonify(state.summary())

    @app.post(f"{CONTROL_PREFIX}/app")
    def set_app() -> Response:
        data = _body()
        status = _field(data, "publishing_status", str, None)
        verified = _field(data, "verified", bool, None)
        if status is None and verified is None:
            raise ControlError("give publishing_status and/or verified")
        if status is not None and status not in ("testing", "production"):
            raise ControlError("publishing_status must be 'testing' or 'production'")
        with state.lock:
            if status is not None:
                state.publishing_status = status
            if verified is not None:
                state.app_verified = verified
            state.changed()
            return ok(publishing_status=state.publishing_status, verified=state.app_verified)

    @app.post(f"{CONTROL_PREFIX}/users")
    def add_user() -> Response:
        data = _body()
        email = _field(data, "email", str)
        if "@" not in email:
            raise ControlError("email must be an email address")
        with state.lock:
            state.users[email] = User(
                email, bool(_field(data, "test_user", bool, True)), user_sub(email)
            )
            if _field(data, "project_member", bool, True):
                state.client_project(DEFAULT_CLIENT_ID).members.add(email)
            state.changed()
        return ok(email=email)

    @app.delete(f"{CONTROL_PREFIX}/users/<email>")
    def remove_user(email: str) -> Response:
        with state.lock:
            removed = state.users.pop(email, None) is not None
            for project in state.projects.values():
                project.members.discard(email)
            state.changed()
        return ok(removed=removed)

    @app.post(f"{CONTROL_PREFIX}/users/<email>/reauth")
    def require_reauth(email: str) -> Response:
        """Workspace session control for a user: Cloud Platform grants need a sign-in at most
        ``after`` seconds old (0: every refresh fails with invalid_rapt); null lifts it."""
        after = _field(_body(), "after", (int, float, type(None)))
        with state.lock:
            user = state.users.get(email)
            if user is None:
                raise ControlError("unknown email")
            user.reauth_after = None if after is None else float(after)
            state.changed()
        return ok(email=email, after=after)

    @app.post(f"{CONTROL_PREFIX}/projects")
    def set_project() -> Response:
        data = _body()
        project = Project(
            _field(data, "id", str),
            int(_field(data, "number", int)),
            bool(_field(data, "api_enabled", bool, True)),
            set(_field(data, "members", list, [])),
        )
        with state.lock:
            state.projects[project.id] = project
            if isinstance(key := data.get("api_key"), str):
                state.api_keys[key] = project.id
            state.changed()
        return ok(id=project.id)

    @app.post(f"{CONTROL_PREFIX}/clients")
    def add_client() -> Response:
        data = _body()
        client = Client(
            _field(data, "client_id", str),
            _field(data, "client_secret", str),
            _field(data, "project_id", str, state.clients[DEFAULT_CLIENT_ID].project_id),
            list(_field(data, "redirect_uris", list, ["http://localhost"])),
        )
        with state.lock:
            if client.project_id not in state.projects:
                raise ControlError("unknown project_id")
            state.clients[client.client_id] = client
            state.changed()
        return ok(client_id=client.client_id)

    @app.delete(f"{CONTROL_PREFIX}/clients/<client_id>")
    def delete_client(client_id: str) -> Response:
        """Delete a client as the console does: Google answers ``deleted_client`` until restored."""
        return _mark_deleted(client_id, True)

    @app.post(f"{CONTROL_PREFIX}/clients/<client_id>/restore")
    def restore_client(client_id: str) -> Response:
        return _mark_deleted(client_id, False)

    def _mark_deleted(client_id: str, deleted: bool) -> Response:
        with state.lock:
            client = state.clients.get(client_id)
            if client is None:
                raise ControlError("unknown client_id")
            client.deleted = deleted
            state.changed()
        return ok(client_id=client_id, deleted=deleted)

    @app.post(f"{CONTROL_PREFIX}/grants")
    def issue_grant() -> Response:
        data = _body()
        scopes = _field(data, "scopes", list)
        if not scopes or not all(isinstance(s, str) for s in scopes):
            raise ControlError("scopes must be a non-empty list of strings")
        scopes = list(normalize_scopes(scopes))
        if unknown := [s for s in scopes if s not in KNOWN_SCOPES]:
            raise ControlError(f"unknown scopes: {' '.join(unknown)}")
        email = _field(data, "email", str, DEFAULT_USER)
        client_id = _field(data, "client_id", str, DEFAULT_CLIENT_ID)
        with state.lock:
            if email not in state.users or client_id not in state.clients:
                raise ControlError("unknown email or client_id")
            grant = state.create_grant(client_id, email, frozenset(scopes))
            body = token_response(state, grant, with_refresh=True)
            state.changed()
        response = jsonify(body)
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.post(f"{CONTROL_PREFIX}/service-accounts")
    def create_service_account() -> tuple[Response, int]:
        """A new key (and the account, if new): the key file JSON, as the console downloads it."""
        data = _body()
        project_id = _field(data, "project", str, DEFAULT_PROJECT_ID)
        email = _field(data, "email", str, "")
        if project_id not in state.projects:
            raise ControlError("unknown project")
        if not email:
            email = f"sa-{secrets.token_hex(3)}@{project_id}.iam.gserviceaccount.com"
        if "@" not in email:
            raise ControlError("email must be an email address")
        key_id, private_pem, public_pem = new_key()
        with state.lock:
            account = state.add_service_account(email, project_id)
            account.keys[key_id] = public_pem
            state.changed()
        base = issuer()
        key = {
            "type": "service_account",
            "project_id": account.project_id,
            "private_key_id": key_id,
            "private_key": private_pem,
            "client_email": account.email,
            "client_id": account.client_id,
            "auth_uri": f"{base}/o/oauth2/auth",
            "token_uri": f"{base}/token",
            "auth_provider_x509_cert_url": f"{base}/oauth2/v1/certs",
            "client_x509_cert_url": f"{base}/robot/v1/metadata/x509/{quote(account.email)}",
            "universe_domain": "googleapis.com",
        }
        response = jsonify(key)
        response.headers["Cache-Control"] = "no-store"
        return response, 201

    @app.post(f"{CONTROL_PREFIX}/buckets")
    def set_bucket() -> Response:
        """A bucket in a project; ``service_agent_read`` false: the Gemini API cannot read it."""
        data = _body()
        name = _field(data, "name", str)
        project_id = _field(data, "project", str, DEFAULT_PROJECT_ID)
        if not name or "/" in name or project_id not in state.projects:
            raise ControlError("name must be a bucket name and project a known project")
        with state.lock:
            state.buckets.set_bucket(
                name, project_id, _field(data, "service_agent_read", bool, True)
            )
        return ok(name=name)

    @app.post(f"{CONTROL_PREFIX}/objects")
    def put_object() -> Response:
        """Put an object (``data`` base64) into a bucket, made in the default project if new."""
        data = _body()
        bucket, name = _field(data, "bucket", str), _field(data, "name", str)
        try:
            content = base64.b64decode(_field(data, "data", str), validate=True)
        except ValueError:
            raise ControlError("data must be base64") from None
        if not bucket or not name or len(content) > MAX_OBJECT_BYTES:
            raise ControlError(f"bucket and name are required; data at most {MAX_OBJECT_BYTES}")
        with state.lock:
            if bucket not in state.buckets.buckets:
                state.buckets.set_bucket(bucket, DEFAULT_PROJECT_ID, True)
            state.buckets.put(
                bucket, name, content, _field(data, "content_type", str, "application/octet-stream")
            )
        return ok(uri=f"gs://{bucket}/{name}", size=len(content))

    @app.post(f"{CONTROL_PREFIX}/files")
    def set_file_limits() -> Response:
        """The Files API's limits: one file's bytes, a project's bytes, PROCESSING seconds."""
        data = _body()
        with state.lock:
            store = state.files
            store.max_file_bytes = _field(data, "max_file_bytes", int, store.max_file_bytes)
            store.project_bytes = _field(data, "project_bytes", int, store.project_bytes)
            if "processing_seconds" in data:
                seconds = _field(data, "processing_seconds", (int, float, type(None)))
                store.processing_seconds = None if seconds is None else float(seconds)
            return ok(
                max_file_bytes=store.max_file_bytes,
                project_bytes=store.project_bytes,
                processing_seconds=store.processing_seconds,
            )

    @app.post(f"{CONTROL_PREFIX}/metadata")
    def set_metadata() -> Response:
        """The metadata server's default account (an existing service account) and scopes."""
        data = _body()
        with state.lock:
            email = _field(data, "service_account", str, state.metadata_account)
            scopes = _field(data, "scopes", list, state.metadata_scopes)
            if email not in state.service_accounts:
                raise ControlError("unknown service_account")
            if not all(isinstance(s, str) for s in scopes):
                raise ControlError("scopes must be a list of strings")
            state.metadata_account, state.metadata_scopes = email, list(scopes)
            state.changed()
        return ok(service_account=email, scopes=scopes)
