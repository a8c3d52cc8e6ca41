"""A subset of the Compute Engine metadata server, on the emulator's own host.

google-auth finds it through ``GCE_METADATA_IP`` (its ping of ``GET /``) and ``GCE_METADATA_HOST``
(``/computeMetadata/v1/...``), both ``127.0.0.1:PORT``. As Google's: every request needs
``Metadata-Flavor: Google`` and none may carry ``X-Forwarded-For`` (else 403), every answer
carries ``Metadata-Flavor: Google``, leaves are ``application/text`` (JSON with ``?alt=json``),
directories list their entries (JSON with ``?recursive=true``). As on Compute Engine, a token
carries the instance's scopes whatever ``?scopes=`` asks for, and the same token is handed out
until it has less than 5 minutes left.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from flask import Flask, Response, request

from gemini_oauth.emulator._records import ServiceAccount
from gemini_oauth.emulator._state import EmulatorState

PREFIX = "/computeMetadata/v1/"
ZONE = "us-central1-a"
INSTANCE_ID = "1000000000000000001"
_REUSE_MARGIN = 300  # a cached token with less left than this is replaced


def _answer(body: str, status: int = 200, content_type: str = "application/text") -> Response:
    response = Response(body, status, content_type=content_type)
    response.headers["Metadata-Flavor"] = "Google"
    return response


def _refused(status: int, why: str) -> Response:
    page = (
        f"<!DOCTYPE html>\n<html lang=en>\n<title>Error {status}</title>\n"
        f"<p><b>{status}.</b> That's an error.\n<p>Your client does not have permission to get "
        f"URL <code>{escape(request.path)}</code> from this server. {why} That's all we know.\n"
    )
    return _answer(page, status, "text/html; charset=UTF-8")


def _value(value: Any) -> Response:
    """A leaf (text, or JSON with ``?alt=json``) or a directory (JSON with ``?recursive``)."""
    if isinstance(value, dict):
        if request.args.get("recursive") == "true":
            return _answer(json.dumps(value), content_type="application/json")
        names = [f"{k}/" if isinstance(v, dict) else k for k, v in value.items()]
        return _answer("".join(f"{n}\n" for n in names))
    if request.args.get("alt") == "json":
        return _answer(json.dumps(value), content_type="application/json")
    if isinstance(value, list):
        return _answer("".join(f"{v}\n" for v in value))
    return _answer(str(value))


def register(app: Flask, state: EmulatorState) -> None:
    """Add the metadata routes to ``app``."""
    cache: dict[str, str] = {}  # account email -> its current token

    def account_entry(account: ServiceAccount) -> dict[str, Any]:
        return {"aliases": ["default"], "email": account.email, "scopes": state.metadata_scopes}

    def token(account: ServiceAccount) -> Response:
        state.count("metadata.token")
        scopes = frozenset(state.metadata_scopes)
        with state.lock:
            now = state.now()
            info = state.access_tokens.get(cache.get(account.email, ""))
            if (
                info is None
                or info.revoked
                or info.scopes != scopes  # the instance's scopes changed
                or info.expires_at - now < _REUSE_MARGIN
            ):
                cache[account.email] = state.mint_service_account_token(account, scopes)
                info = state.access_tokens[cache[account.email]]
                state.changed()
            body = {
                "access_token": cache[account.email],
                "expires_in": int(info.expires_at - now),
                "token_type": "Bearer",
            }
        return _answer(json.dumps(body), content_type="application/json")

    def tree() -> dict[str, Any]:
        with state.lock:
            account = state.service_accounts[state.metadata_account]
            project = state.projects[account.project_id]
            entry = account_entry(account)
            return {
                "instance": {
                    "id": INSTANCE_ID,
                    "zone": f"projects/{project.number}/zones/{ZONE}",
                    "hostname": f"emulator-vm.{ZONE}.c.{project.id}.internal",
                    "service-accounts": {"default": entry, account.email: entry},
                },
                "project": {"project-id": project.id, "numeric-project-id": project.number},
                "universe": {"universe-domain": "googleapis.com"},
            }

    def guard() -> Response | None:
        if request.headers.get("Metadata-Flavor") != "Google":
            return _refused(403, "Missing Metadata-Flavor:Google header.")
        if "X-Forwarded-For" in request.headers:
            return _refused(403, "Request had an X-Forwarded-For header and was rejected.")
        return None

    @app.get("/")
    def root() -> Response:
        return guard() or _answer("computeMetadata/\n")

    @app.get("/computeMetadata/")
    def versions() -> Response:
        return guard() or _answer("v1/\n")

    @app.get(PREFIX, defaults={"path": ""})
    @app.get(PREFIX + "<path:path>")
    def lookup(path: str) -> Response:
        if (refused := guard()) is not None:
            return refused
        node: Any = tree()
        parts = [p for p in path.split("/") if p]
        accounts = node["instance"]["service-accounts"]
        if parts[:2] == ["instance", "service-accounts"] and parts[2:] in (
            [a, "token"] for a in accounts
        ):
            return token(state.service_accounts[state.metadata_account])
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                return _refused(404, "The requested URL was not found on this server.")
            node = node[part]
        return _value(node)
