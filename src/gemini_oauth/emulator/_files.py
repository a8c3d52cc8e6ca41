"""The Files API routes under ``/v1`` and ``/v1beta``: files.get, files.list (paged),
files.delete and ``files:register`` (gs:// objects, OAuth only); and how generateContent's
``fileData`` parts find their files. Uploads are in ``_uploads.py``, storage in ``_file_store.py``.
"""

from __future__ import annotations

import datetime
from typing import Any

import flask

from gemini_oauth.emulator._buckets import parse_gcs_uri, service_agent
from gemini_oauth.emulator._file_store import sha256_field
from gemini_oauth.emulator._gemini_auth import authorize, authorize_oauth
from gemini_oauth.emulator._gemini_content import file_marker, file_tokens
from gemini_oauth.emulator._paging import decode_page_token, encode_page_token, page_size
from gemini_oauth.emulator._records import Project, StoredFile
from gemini_oauth.emulator._responses import ApiFault, api_json, fault_response, invalid_argument
from gemini_oauth.emulator._scopes import STORAGE_READ_SCOPES
from gemini_oauth.emulator._state import EmulatorState

#: Files per page: the default and the most ``pageSize`` may ask for (as Google's ListFiles).
DEFAULT_PAGE, MAX_PAGE = 10, 100
MAX_REGISTER = 100


def rfc3339(epoch: float) -> str:
    """Google's timestamp form: UTC, microseconds, ``Z``."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def file_json(stored: StoredFile, version: str, now: float) -> dict[str, Any]:
    """Google's ``File`` resource."""
    active = now >= stored.active_at
    body: dict[str, Any] = {"name": f"files/{stored.id}"}
    if stored.display_name:
        body["displayName"] = stored.display_name
    body.update(
        mimeType=stored.mime_type,
        sizeBytes=str(stored.size),
        createTime=rfc3339(stored.created_at),
        updateTime=rfc3339(stored.active_at if active else stored.created_at),
        expirationTime=rfc3339(stored.expires_at),
        sha256Hash=sha256_field(stored.sha256),
        uri=f"{flask.request.host_url.rstrip('/')}/{version}/files/{stored.id}",
        state="ACTIVE" if active else "PROCESSING",
        source=stored.source,
    )
    return body


def no_such_file(ident: str) -> ApiFault:
    """What Google answers for a file that is missing, expired or another project's."""
    name = ident.rsplit("/files/", 1)[-1].removeprefix("files/")
    return ApiFault(
        403,
        "PERMISSION_DENIED",
        f"You do not have permission to access the File {name} or it may not exist.",
    )


def resolve_file_parts(
    state: EmulatorState, project: Project, uris: tuple[str, ...]
) -> list[tuple[str, int]]:
    """(marker, tokens) of each ``fileData`` URI; Google's errors for a file that cannot be used."""
    resolved = []
    with state.lock:
        now = state.now()
        for uri in uris:
            stored = (
                state.files.find(project.id, uri, now)
                if "/files/" in uri or uri.startswith("files/")
                else None
            )
            if stored is None:
                if parse_gcs_uri(uri):
                    raise invalid_argument(
                        f"Cannot fetch content from {uri}: register Cloud Storage objects with "
                        "files:register first, then use the uri of the File it returns."
                    )
                raise no_such_file(uri)
            if now < stored.active_at:
                raise ApiFault(
                    400,
                    "FAILED_PRECONDITION",
                    f"The File {stored.id} is not in an ACTIVE state and usage is not allowed.",
                )
            sha = stored.sha256
            if stored.gcs_uri:  # registered: fetched at each use, so the bucket must still allow it
                sha = _read_object(state, project, stored.gcs_uri)[2]
            resolved.append(
                (file_marker(stored.mime_type, sha), file_tokens(stored.mime_type, stored.size))
            )
    return resolved


def _read_object(state: EmulatorState, project: Project, uri: str) -> tuple[str, int, str]:
    """(content type, size, sha256) of a gs:// object the service agent may read."""
    parsed = parse_gcs_uri(uri)
    if parsed is None:
        raise invalid_argument(f"{uri} is not a Cloud Storage URI (gs://bucket/object).", "uris")
    bucket_name, name = parsed
    bucket = state.buckets.buckets.get(bucket_name)
    obj = state.buckets.get(bucket_name, name)
    if bucket is None or obj is None:
        raise ApiFault(404, "NOT_FOUND", f"The object {uri} does not exist.")
    if not bucket.service_agent_read:
        agent = service_agent(project.number)
        raise ApiFault(
            403,
            "PERMISSION_DENIED",
            f"The Gemini API service agent {agent} does not have storage.objects.get access to "
            f"{uri}. Grant it roles/storage.objectViewer on the bucket gs://{bucket_name}.",
        )
    return obj.content_type, len(obj.data), state.buckets.digest(obj)


def register(app: flask.Flask, state: EmulatorState) -> None:
    """Add files.get, files.list, files.delete and files:register under /v1 and /v1beta."""
    versions = "<any(v1, v1beta):version>"

    def list_view(version: str) -> flask.Response:
        state.count("files.list")
        try:
            project = authorize(state, version, "ListFiles", write=False)
            raw = flask.request.args.get("pageSize", flask.request.args.get("page_size"))
            size = DEFAULT_PAGE if raw in (None, "", "0") else min(page_size(raw), MAX_PAGE)
            token = flask.request.args.get("pageToken", flask.request.args.get("page_token"))
            offset = decode_page_token(token, f"files:{version}", size) if token else 0
            with state.lock:
                now = state.now()
                found = state.files.of_project(project.id, now)
                body: dict[str, Any] = {
                    "files": [file_json(f, version, now) for f in found[offset : offset + size]]
                }
            if not body["files"]:
                body = {}
            if offset + size < len(found):
                body["nextPageToken"] = encode_page_token(f"files:{version}", size, offset + size)
            return api_json(body)
        except ApiFault as fault:
            return fault_response(fault)

    def file_view(version: str, ident: str) -> flask.Response:
        method = flask.request.method
        state.count("files.get" if method == "GET" else "files.delete")
        try:
            rpc = "GetFile" if method == "GET" else "DeleteFile"
            project = authorize(state, version, rpc, write=method == "DELETE")
            with state.lock:
                now = state.now()
                stored = state.files.find(project.id, ident, now)
                if stored is None:
                    raise no_such_file(ident)
                if method == "DELETE":
                    state.files.delete(stored.id)
                    return api_json({})
                return api_json(file_json(stored, version, now))
        except ApiFault as fault:
            return fault_response(fault)

    def register_view(version: str) -> flask.Response:
        state.count("files.register")
        try:
            project, _ = authorize_oauth(state, version, "RegisterFiles", STORAGE_READ_SCOPES)
            from gemini_oauth.emulator._responses import json_object_body

            body = json_object_body()
            uris = body.get("uris")
            if set(body) - {"uris"}:
                name = sorted(set(body) - {"uris"})[0]
                raise invalid_argument(
                    f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
                )
            if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
                raise invalid_argument("uris must be a non-empty list of gs:// URIs.", "uris")
            if len(uris) > MAX_REGISTER:
                raise invalid_argument(f"at most {MAX_REGISTER} uris in one request", "uris")
            with state.lock:
                now = state.now()
                objects = [(uri, _read_object(state, project, uri)) for uri in uris]
                files = [
                    state.files.register(project.id, uri, mime, size, sha, now)
                    for uri, (mime, size, sha) in objects
                ]
                return api_json({"files": [file_json(f, version, now) for f in files]})
        except ApiFault as fault:
            return fault_response(fault)

    app.add_url_rule(f"/{versions}/files", "files_list", list_view, methods=["GET"])
    app.add_url_rule(
        f"/{versions}/files:register", "files_register", register_view, methods=["POST"]
    )
    app.add_url_rule(
        f"/{versions}/files/<ident>", "files_one", file_view, methods=["GET", "DELETE"]
    )
