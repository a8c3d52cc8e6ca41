"""Google's resumable upload protocol for files.create, as google-genai speaks it.

``POST /upload/{v1,v1beta}/files`` with ``X-Goog-Upload-Protocol: resumable`` and
``X-Goog-Upload-Command: start`` opens a session and answers its URL (``X-Goog-Upload-URL``, the
same path with ``?upload_id=``). To that URL: ``upload`` (bytes at ``X-Goog-Upload-Offset``),
``upload, finalize`` or ``finalize`` (the File), ``query`` (``X-Goog-Upload-Size-Received``: what
a client resumes from) and ``cancel``. The upload URL is the credential, as Google's is. Bodies are
streamed to disk as they arrive, so a connection cut mid-chunk keeps what was received.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import flask

from gemini_oauth.emulator._file_store import READ_BUFFER
from gemini_oauth.emulator._files import file_json
from gemini_oauth.emulator._gemini_auth import authorize
from gemini_oauth.emulator._records import Upload
from gemini_oauth.emulator._responses import (
    ApiFault,
    api_json,
    drop_connection,
    fault_response,
    invalid_argument,
)
from gemini_oauth.emulator._state import EmulatorState

#: Chunks other than the last must be multiples of this (Google's granularity).
CHUNK_GRANULARITY = 256 * 1024
_FILE_ID = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")
_FILE_FIELDS = {
    "name",
    "displayName",
    "display_name",
    "mimeType",
    "mime_type",
    "sizeBytes",
    "size_bytes",
}


def _status(status: str, **extra: str) -> dict[str, str]:
    return {"X-Goog-Upload-Status": status, **extra}


def _upload_fault(code: int, message: str, status: str, upload: Upload | None) -> ApiFault:
    headers = _status(status)
    if upload is not None:
        headers["X-Goog-Upload-Size-Received"] = str(upload.received)
    return ApiFault(
        code, "INVALID_ARGUMENT" if code == 400 else "NOT_FOUND", message, headers=headers
    )


def _start(state: EmulatorState, version: str) -> flask.Response:
    request = flask.request
    project = authorize(state, version, "CreateFile", write=True)
    if request.headers.get("X-Goog-Upload-Protocol", "").lower() != "resumable":
        raise invalid_argument(
            "The emulator takes resumable uploads only: send X-Goog-Upload-Protocol: resumable."
        )
    if request.headers.get("X-Goog-Upload-Command", "").lower() != "start":
        raise invalid_argument("A new upload starts with X-Goog-Upload-Command: start.")
    from gemini_oauth.emulator._responses import json_object_body

    body = json_object_body()
    spec = body.get("file") or {}
    if set(body) - {"file"} or not isinstance(spec, dict) or set(spec) - _FILE_FIELDS:
        raise invalid_argument('Invalid JSON payload received. Expected {"file": File}.')
    raw_size = request.headers.get("X-Goog-Upload-Header-Content-Length", "")
    if not raw_size.isdigit():
        raise invalid_argument(
            "X-Goog-Upload-Header-Content-Length must give the file's size in bytes."
        )
    size = int(raw_size)
    mime = str(
        spec.get("mimeType")
        or spec.get("mime_type")
        or request.headers.get("X-Goog-Upload-Header-Content-Type")
        or ""
    )
    if "/" not in mime:
        raise invalid_argument("The file's MIME type is missing.", "file.mime_type")
    wanted = str(spec.get("name") or "").removeprefix("files/")
    if wanted and not _FILE_ID.fullmatch(wanted):
        raise invalid_argument(
            "must contain only lowercase letters, digits and dashes (at most 40), and neither "
            "start nor end with a dash",
            "file.name",
        )
    with state.lock:
        now = state.now()
        state.files.sweep(now)
        store = state.files
        if wanted and (
            wanted in store.files or any(u.file_id == wanted for u in store.uploads.values())
        ):
            raise ApiFault(409, "ALREADY_EXISTS", f"File files/{wanted} already exists.")
        if size > store.max_file_bytes:
            raise invalid_argument(
                f"The file is {size} bytes; a file may be at most {store.max_file_bytes} bytes.",
                "file.size_bytes",
            )
        used = store.used_bytes(project.id)
        if used + size > store.project_bytes:
            raise ApiFault(
                429,
                "RESOURCE_EXHAUSTED",
                f"Project {project.number} stores {used} bytes of files; this one ({size} bytes) "
                f"would pass its {store.project_bytes}-byte storage limit. Delete files, or wait "
                "for them to expire (48 hours after upload).",
                "FILE_STORAGE_QUOTA_EXCEEDED",
                {"consumer": f"projects/{project.number}"},
            )
        display = str(spec.get("displayName") or spec.get("display_name") or "")
        upload = store.start_upload(project.id, wanted, display, mime, size, now)
    query = f"upload_id={upload.id}&upload_protocol=resumable"
    url = f"{request.host_url.rstrip('/')}{request.path}?{query}"
    headers = _status(
        "active",
        **{
            "X-Goog-Upload-URL": url,
            "X-Goog-Upload-Control-URL": url,
            "X-Goog-Upload-Chunk-Granularity": str(CHUNK_GRANULARITY),
            "X-GUploader-UploadID": upload.id,
        },
    )
    return api_json({}, headers=headers)


def _body_pieces() -> Iterator[bytes]:
    """The request body in pieces; an injected ``drop_after`` fault cuts it (and the connection)."""
    stream = flask.request.stream
    left = flask.g.get("drop_after")
    while True:
        size = READ_BUFFER if left is None else min(READ_BUFFER, left)
        piece = stream.read(size) if size else b""
        if not piece:
            return
        if left is not None:
            left -= len(piece)
        yield piece


def _finished(upload: Upload, state: EmulatorState, version: str) -> flask.Response:
    with state.lock:
        now = state.now()
        stored = state.files.files.get(upload.file_id)
        if stored is None:  # deleted or expired since
            raise _upload_fault(404, "The uploaded file no longer exists.", "final", None)
        body = {"file": file_json(stored, version, now)}
    headers = _status("final", **{"X-Goog-Upload-Size-Received": str(upload.received)})
    return api_json(body, headers=headers)


def _transfer(state: EmulatorState, version: str, upload_id: str) -> flask.Response:
    request = flask.request
    with state.lock:
        upload = state.files.uploads.get(upload_id)
    if upload is None:
        raise _upload_fault(404, "No upload session has this upload_id.", "final", None)
    command = {
        c.strip() for c in request.headers.get("X-Goog-Upload-Command", "").lower().split(",")
    }
    if command == {"query"}:
        if upload.done:
            return _finished(upload, state, version)
        headers = _status("active", **{"X-Goog-Upload-Size-Received": str(upload.received)})
        return api_json({}, headers=headers)
    if command == {"cancel"}:
        with state.lock:
            state.files.cancel(upload)
        return api_json({}, headers=_status("cancelled"))
    if not command or not command <= {"upload", "finalize"}:
        raise _upload_fault(
            400,
            "X-Goog-Upload-Command must be upload, finalize, query or cancel.",
            "active",
            upload,
        )
    if upload.done:
        return _finished(upload, state, version)
    if "upload" in command:
        offset = request.headers.get("X-Goog-Upload-Offset", "")
        if not offset.isdigit() or int(offset) != upload.received:
            raise _upload_fault(
                400,
                f"X-Goog-Upload-Offset is {offset or 'missing'}, but the server has "
                f"{upload.received} bytes: query the upload, then send from there.",
                "active",
                upload,
            )
        length = request.content_length
        if length is not None and upload.received + length > upload.size:
            raise _upload_fault(
                400,
                f"The chunk would take the file past its declared size of {upload.size} bytes.",
                "active",
                upload,
            )
        request.max_content_length = upload.size - upload.received
        try:
            state.files.append(upload, _body_pieces())  # the session's own file: no lock needed
        finally:
            with state.lock:
                state.counters["upload.bytes"] += upload.received - int(offset)
        if flask.g.get("drop_after") is not None:
            return drop_connection()
    if "finalize" not in command:
        return api_json(
            {}, headers=_status("active", **{"X-Goog-Upload-Size-Received": str(upload.received)})
        )
    if upload.received != upload.size:
        raise _upload_fault(
            400,
            f"The upload has {upload.received} bytes, but X-Goog-Upload-Header-Content-Length "
            f"declared {upload.size}.",
            "active",
            upload,
        )
    with state.lock:
        state.files.finish(upload, state.now())
    state.count("upload.finalized")
    return _finished(upload, state, version)


def register(app: flask.Flask, state: EmulatorState) -> None:
    """Add ``/upload/{v1,v1beta}/files`` (start) and its session URLs (``?upload_id=``)."""

    def upload_view(version: str) -> flask.Response:
        upload_id = flask.request.args.get("upload_id")
        state.count("files.upload" if upload_id else "files.create")
        try:
            if upload_id:
                return _transfer(state, version, upload_id)
            return _start(state, version)
        except ApiFault as fault:
            return fault_response(fault)

    app.add_url_rule(
        "/upload/<any(v1, v1beta):version>/files", "files_upload", upload_view, methods=["POST"]
    )
