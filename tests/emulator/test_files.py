"""The emulator's Files API over real HTTP: the resumable upload protocol, get/list/delete,
states and expiry on its clock, limits, files:register with its bucket store, and fileData."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.emulator.test_gemini import CLOUD, RETRIEVER, bearer, rpc_error

from gemini_oauth.emulator import Emulator

HTTP = httpx.Client(timeout=10, trust_env=False)
STORAGE_READ = "https://www.googleapis.com/auth/devstorage.read_only"


def start(
    emu: Emulator,
    headers: dict[str, str],
    size: int,
    *,
    version: str = "v1beta",
    mime: str = "text/plain",
    spec: dict[str, Any] | None = None,
) -> httpx.Response:
    upload = {
        "X-Goog-Upload-Protocol": "resumable",
        "X-Goog-Upload-Command": "start",
        "X-Goog-Upload-Header-Content-Length": str(size),
        "X-Goog-Upload-Header-Content-Type": mime,
    }
    body = {"file": spec if spec is not None else {"displayName": "notes"}}
    return HTTP.post(
        f"{emu.base_url}/upload/{version}/files", headers={**headers, **upload}, json=body
    )


def send(url: str, command: str, data: bytes = b"", offset: int | None = None) -> httpx.Response:
    headers = {"X-Goog-Upload-Command": command}
    if offset is not None:
        headers["X-Goog-Upload-Offset"] = str(offset)
    return HTTP.post(url, headers=headers, content=data)


def upload(emu: Emulator, headers: dict[str, str], data: bytes, **kw: Any) -> dict[str, Any]:
    started = start(emu, headers, len(data), **kw)
    assert started.status_code == 200, started.text
    done = send(started.headers["x-goog-upload-url"], "upload, finalize", data, 0)
    assert done.status_code == 200 and done.headers["x-goog-upload-status"] == "final", done.text
    file: dict[str, Any] = done.json()["file"]
    return file


def get(emu: Emulator, path: str, headers: dict[str, str], **params: Any) -> httpx.Response:
    return HTTP.get(emu.base_url + path, headers=headers, params=params)


def generate_with(emu: Emulator, headers: dict[str, str], uri: str) -> httpx.Response:
    body = {"contents": [{"parts": [{"text": "Describe it"}, {"fileData": {"fileUri": uri}}]}]}
    return HTTP.post(
        f"{emu.base_url}/v1beta/models/gemini-2.5-flash:generateContent", headers=headers, json=body
    )


def reply(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["candidates"][0]["content"]["parts"][0]["text"])


def test_resumable_upload_in_chunks_with_query_and_the_file_shape(emulator: Emulator) -> None:
    headers = bearer(emulator)
    data = os.urandom(600 * 1024)
    started = start(emulator, headers, len(data))
    assert started.status_code == 200 and started.headers["x-goog-upload-status"] == "active"
    url = started.headers["x-goog-upload-url"]
    assert url.startswith(emulator.base_url + "/upload/v1beta/files?upload_id=")
    assert started.headers["x-goog-upload-chunk-granularity"] == str(256 * 1024)
    first = send(url, "upload", data[:262144], 0)
    assert first.headers["x-goog-upload-status"] == "active"
    assert send(url, "query").headers["x-goog-upload-size-received"] == "262144"
    wrong = send(url, "upload", data[262144:], 0)  # an offset the server does not have
    assert wrong.status_code == 400 and wrong.headers["x-goog-upload-size-received"] == "262144"
    early = send(url, "finalize")
    assert early.status_code == 400 and "declared" in early.json()["error"]["message"]
    done = send(url, "upload, finalize", data[262144:], 262144)
    assert done.headers["x-goog-upload-status"] == "final"
    file = done.json()["file"]
    assert file["name"].startswith("files/") and len(file["name"]) == len("files/") + 12
    assert file["displayName"] == "notes" and file["mimeType"] == "text/plain"
    assert file["sizeBytes"] == str(len(data)) and file["state"] == "ACTIVE"
    assert file["source"] == "UPLOADED"
    digest = hashlib.sha256(data).hexdigest()
    assert base64.b64decode(file["sha256Hash"]).decode() == digest
    assert file["uri"] == f"{emulator.base_url}/v1beta/files/{file['name'][6:]}"
    # a query after the answer to finalize was lost still finds the file
    again = send(url, "query")
    assert again.headers["x-goog-upload-status"] == "final"
    assert again.json()["file"]["name"] == file["name"]
    counters = emulator.control.counters()
    assert counters["upload.bytes"] == len(data) and counters["upload.finalized"] == 1


def test_upload_start_rules(emulator: Emulator) -> None:
    headers = bearer(emulator)
    plain = HTTP.post(f"{emulator.base_url}/upload/v1beta/files", headers=headers, json={})
    rpc_error(plain, 400, "INVALID_ARGUMENT")
    no_mime = start(emulator, headers, 3, mime="")
    rpc_error(no_mime, 400, "INVALID_ARGUMENT")
    bad_name = start(emulator, headers, 3, spec={"name": "files/Not_Valid"})
    rpc_error(bad_name, 400, "INVALID_ARGUMENT")
    named = upload(emulator, headers, b"abc", spec={"name": "files/my-notes"})
    assert named["name"] == "files/my-notes"
    rpc_error(start(emulator, headers, 3, spec={"name": "my-notes"}), 409, "ALREADY_EXISTS")
    unknown = send(f"{emulator.base_url}/upload/v1beta/files?upload_id=nope", "query")
    assert unknown.status_code == 404
    anonymous = start(emulator, {}, 3)  # no credentials at all: Google's bare 403
    assert anonymous.status_code == 403 and "unregistered callers" in anonymous.text
    cancelled = start(emulator, headers, 3)
    url = cancelled.headers["x-goog-upload-url"]
    assert send(url, "cancel").headers["x-goog-upload-status"] == "cancelled"
    assert send(url, "query").status_code == 404


def test_size_limit_and_project_storage_quota(emulator: Emulator) -> None:
    headers = bearer(emulator)
    emulator.control.set_file_limits(max_file_bytes=1000, project_bytes=1500)
    rpc_error(start(emulator, headers, 1001), 400, "INVALID_ARGUMENT")
    upload(emulator, headers, b"x" * 1000)
    over = start(emulator, headers, 600)
    metadata = rpc_error(over, 429, "RESOURCE_EXHAUSTED", "FILE_STORAGE_QUOTA_EXCEEDED")
    assert metadata["consumer"] == f"projects/{emulator.project_number}"
    assert "storage limit" in over.json()["error"]["message"]
    # an open upload reserves its declared size too
    emulator.control.reset()
    emulator.control.set_file_limits(project_bytes=1500)
    headers = bearer(emulator)
    assert start(emulator, headers, 1000).status_code == 200
    rpc_error(start(emulator, headers, 600), 429, "RESOURCE_EXHAUSTED")


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_get_list_paged_and_delete(emulator: Emulator, version: str) -> None:
    headers = bearer(emulator)
    made = [upload(emulator, headers, f"file {i}".encode(), version=version) for i in range(13)]
    first = get(emulator, f"/{version}/files", headers).json()
    assert len(first["files"]) == 10 and "nextPageToken" in first  # Google's default page: 10
    rest = get(emulator, f"/{version}/files", headers, pageToken=first["nextPageToken"]).json()
    assert len(rest["files"]) == 3 and "nextPageToken" not in rest
    names = [f["name"] for f in first["files"] + rest["files"]]
    assert sorted(names) == sorted(f["name"] for f in made)
    assert names[0] == made[-1]["name"]  # newest first
    one = get(emulator, f"/{version}/{made[0]['name']}", headers)
    assert one.status_code == 200 and one.json()["sizeBytes"] == "6"
    deleted = HTTP.delete(f"{emulator.base_url}/{version}/{made[0]['name']}", headers=headers)
    assert deleted.status_code == 200 and deleted.json() == {}
    gone = get(emulator, f"/{version}/{made[0]['name']}", headers)
    rpc_error(gone, 403, "PERMISSION_DENIED")
    assert "do not have permission to access the File" in gone.json()["error"]["message"]
    forged = get(emulator, f"/{version}/files", headers, pageToken="forged")
    rpc_error(forged, 400, "INVALID_ARGUMENT")
    empty = get(emulator, f"/{version}/files", bearer(emulator))
    assert empty.status_code == 200


def test_processing_then_active_and_expiry_on_the_clock(emulator: Emulator) -> None:
    headers = bearer(emulator)
    video = upload(emulator, headers, b"\x00" * 64, mime="video/mp4")
    assert video["state"] == "PROCESSING"
    used = generate_with(emulator, headers, video["uri"])
    rpc_error(used, 400, "FAILED_PRECONDITION")
    assert "not in an ACTIVE state" in used.json()["error"]["message"]
    emulator.control.advance_clock(11)
    assert get(emulator, f"/v1beta/{video['name']}", headers).json()["state"] == "ACTIVE"
    assert reply(generate_with(emulator, headers, video["uri"]))
    emulator.control.advance_clock(48 * 3600)
    headers = bearer(emulator)  # the old token expired with the clock
    rpc_error(get(emulator, f"/v1beta/{video['name']}", headers), 403, "PERMISSION_DENIED")
    rpc_error(generate_with(emulator, headers, video["uri"]), 403, "PERMISSION_DENIED")
    assert emulator.control.state()["files"] == 0


def test_another_projects_file_is_not_there(emulator: Emulator) -> None:
    mine = upload(emulator, bearer(emulator), b"private")
    emulator.control.set_project("other-project", 2000000000002)
    theirs = {**bearer(emulator), "x-goog-user-project": "other-project"}
    rpc_error(get(emulator, f"/v1beta/{mine['name']}", theirs), 403, "PERMISSION_DENIED")
    rpc_error(generate_with(emulator, theirs, mine["uri"]), 403, "PERMISSION_DENIED")
    assert "files" not in get(emulator, "/v1beta/files", theirs).json()


def test_replies_depend_on_the_files_content_hash(emulator: Emulator) -> None:
    headers = bearer(emulator)
    a1 = upload(emulator, headers, b"same bytes")
    a2 = upload(emulator, headers, b"same bytes")
    b = upload(emulator, headers, b"other bytes")
    assert a1["name"] != a2["name"]
    assert reply(generate_with(emulator, headers, a1["uri"])) == reply(
        generate_with(emulator, headers, a2["name"])  # a name works as well as the uri
    )
    assert reply(generate_with(emulator, headers, a1["uri"])) != reply(
        generate_with(emulator, headers, b["uri"])
    )
    missing = generate_with(emulator, headers, f"{emulator.base_url}/v1beta/files/nosuchfile12")
    rpc_error(missing, 403, "PERMISSION_DENIED")
    raw_gcs = generate_with(emulator, headers, "gs://bucket/object.pdf")
    rpc_error(raw_gcs, 400, "INVALID_ARGUMENT")


def register(emu: Emulator, headers: dict[str, str], *uris: str) -> httpx.Response:
    return HTTP.post(
        f"{emu.base_url}/v1beta/files:register", headers=headers, json={"uris": list(uris)}
    )


def test_register_needs_oauth_with_a_storage_scope(emulator: Emulator) -> None:
    uri = emulator.control.put_object("corpus", "doc.pdf", b"%PDF-1.4 a", "application/pdf")
    keyed = register(emulator, {"x-goog-api-key": emulator.api_key}, uri)
    rpc_error(keyed, 401, "UNAUTHENTICATED", "CREDENTIALS_MISSING")
    assert "API keys are not supported" in keyed.json()["error"]["message"]
    both = register(emulator, {**bearer(emulator), "x-goog-api-key": emulator.api_key}, uri)
    metadata = rpc_error(both, 401, "UNAUTHENTICATED", "OVERLOADED_CREDENTIALS")
    assert metadata["method"].endswith("FileService.RegisterFiles")
    no_storage = register(emulator, bearer(emulator, [RETRIEVER]), uri)
    rpc_error(no_storage, 403, "PERMISSION_DENIED", "ACCESS_TOKEN_SCOPE_INSUFFICIENT")
    ok = register(emulator, bearer(emulator, [RETRIEVER, STORAGE_READ]), uri)
    assert ok.status_code == 200, ok.text
    [file] = ok.json()["files"]
    assert file["source"] == "REGISTERED" and file["mimeType"] == "application/pdf"
    assert file["sizeBytes"] == "10" and file["state"] == "ACTIVE"
    headers = bearer(emulator, [CLOUD])
    assert register(emulator, headers, uri).status_code == 200  # cloud-platform reads storage
    assert reply(generate_with(emulator, headers, file["uri"]))
    assert emulator.control.counters()["files.register"] == 5


def test_register_errors_of_the_bucket(emulator: Emulator) -> None:
    headers = bearer(emulator, [CLOUD])
    uri = emulator.control.put_object("locked", "a.txt", b"secret", "text/plain")
    emulator.control.set_bucket("locked", service_agent_read=False)
    denied = register(emulator, headers, uri)
    rpc_error(denied, 403, "PERMISSION_DENIED")
    message = denied.json()["error"]["message"]
    assert f"service-{emulator.project_number}@gcp-sa-generativelanguage" in message
    assert "roles/storage.objectViewer" in message
    rpc_error(register(emulator, headers, "gs://locked/missing.txt"), 404, "NOT_FOUND")
    rpc_error(register(emulator, headers, "https://example.com/a"), 400, "INVALID_ARGUMENT")
    rpc_error(register(emulator, headers), 400, "INVALID_ARGUMENT")
    # registered, then the bucket stops letting the agent read: the next use fails
    open_uri = emulator.control.put_object("shared", "b.txt", b"hello", "text/plain")
    file = register(emulator, headers, open_uri).json()["files"][0]
    assert reply(generate_with(emulator, headers, file["uri"]))
    emulator.control.set_bucket("shared", service_agent_read=False)
    rpc_error(generate_with(emulator, headers, file["uri"]), 403, "PERMISSION_DENIED")


def test_state_file_holds_no_file_contents(emulator: Emulator, tmp_path: Path) -> None:
    state_path = tmp_path / "state.json"
    with Emulator(state_path=state_path) as emu:
        headers = bearer(emu)
        marker = b"UNIQUE-CONTENT-" + os.urandom(8).hex().encode()
        file = upload(emu, headers, marker * 1000)
        folder = Path(emu.state.files.directory)
        assert (folder.stat().st_mode & 0o777) == 0o700
        assert marker not in state_path.read_bytes()
        assert len(state_path.read_bytes()) < 64 * 1024
        assert json.loads(state_path.read_text())["version"] == 1
        assert file["sizeBytes"] == str(len(marker) * 1000)
    assert not folder.exists()  # the bytes go with the server
