"""GeminiClient / AsyncGeminiClient: Files API, embeddings and cached contents on the emulator,
with resumable uploads that survive a dropped connection."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from tests.test_client import client, make_creds

from gemini_oauth import AsyncGeminiClient, errors
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import RETRIEVER

MIB = 1024 * 1024
LONG = "The quick brown fox jumps over the lazy dog. " * 120


def data_file(tmp_path: Path, size: int, name: str = "data.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upload_streams_in_chunks_and_reports_progress(emulator: Emulator, tmp_path: Path) -> None:
    path = data_file(tmp_path, 2 * MIB + 5)
    seen: list[tuple[int, int]] = []
    with client(emulator) as api:
        file = api.upload_file(
            path, chunk_size=MIB, display_name="data", progress=lambda *a: seen.append(a)
        )
        assert file["sizeBytes"] == str(path.stat().st_size) and file["displayName"] == "data"
        assert file["mimeType"] == "application/octet-stream" and file["state"] == "ACTIVE"
        assert api.get_file(file["name"]) == file
        assert api.get_file(file["uri"])["name"] == file["name"]
    assert seen == [
        (MIB, path.stat().st_size),
        (2 * MIB, path.stat().st_size),
        (path.stat().st_size,) * 2,
    ]
    counters = emulator.control.counters()
    assert counters["files.upload"] == 3 and counters["upload.bytes"] == path.stat().st_size


def test_dropped_connection_mid_chunk_resumes_without_resending(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = data_file(tmp_path, 3 * MIB + 17)
    waits: list[float] = []
    # The first chunk's connection is cut after 300 000 of its bytes reached the server.
    emulator.control.add_fault("/upload/v1/files?upload_id=", drop_after=300_000, count=1)
    with client(emulator, sleep=waits.append) as api:
        file = api.upload_file(path, chunk_size=MIB)
        assert api.get_file(file["name"])["sizeBytes"] == str(path.stat().st_size)
    counters = emulator.control.counters()
    assert counters["faults"] == 1 and len(waits) == 1
    # Every byte reached the server exactly once: the 300 000 it had were not sent again.
    assert counters["upload.bytes"] == path.stat().st_size
    assert counters["files.upload"] == 1 + 1 + 3  # the cut chunk, a query, 3 chunks of the rest
    assert base64.b64decode(file["sha256Hash"]).decode() == sha256_of(path)


def test_server_error_on_a_chunk_waits_queries_and_goes_on(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = data_file(tmp_path, MIB + 1)
    waits: list[float] = []
    emulator.control.add_fault("/upload/v1/files?upload_id=", 503, count=1, retry_after=2)
    with client(emulator, sleep=waits.append) as api:
        file = api.upload_file(path, chunk_size=MIB)
    assert file["sizeBytes"] == str(MIB + 1) and waits == [2.0]
    assert emulator.control.counters()["upload.bytes"] == MIB + 1


def test_a_lost_answer_to_finalize_is_found_by_query(emulator: Emulator, tmp_path: Path) -> None:
    path = data_file(tmp_path, 1000)
    emulator.control.add_fault("/upload/v1/files?upload_id=", drop_after=1000, count=1)
    with client(emulator, sleep=lambda s: None) as api:
        file = api.upload_file(path)
        assert file["sizeBytes"] == "1000"
    # The server had everything but could not answer; the query returned the file, no resend.
    assert emulator.control.counters()["upload.bytes"] == 1000


def test_upload_refreshes_once_after_401(emulator: Emulator, tmp_path: Path) -> None:
    path = data_file(tmp_path, 10)
    with client(emulator) as api:
        emulator.control.add_fault("/upload/v1/files", 401, count=1)
        assert api.upload_file(path)["sizeBytes"] == "10"
    assert emulator.control.counters()["token.refresh_token"] == 1


def test_upload_errors(emulator: Emulator, tmp_path: Path) -> None:
    emulator.control.set_file_limits(project_bytes=100)
    waits: list[float] = []
    with client(emulator, sleep=waits.append) as api:
        with pytest.raises(errors.RateLimitError) as caught:
            api.upload_file(data_file(tmp_path, 200))
        assert "gemini-oauth files list" in str(caught.value)
        assert waits == []  # a full store is not a rate limit: no retry
        with pytest.raises(FileNotFoundError):
            api.upload_file(tmp_path / "missing.bin")
        with pytest.raises(IsADirectoryError):
            api.upload_file(tmp_path)


def test_list_iter_delete_and_a_missing_file(emulator: Emulator, tmp_path: Path) -> None:
    with client(emulator) as api:
        names = [api.upload_file(data_file(tmp_path, 10, f"f{i}.txt"))["name"] for i in range(12)]
        page = api.list_files(page_size=5)
        assert len(page.files) == 5 and page.next_page_token
        assert sorted(f["name"] for f in api.iter_files(page_size=5)) == sorted(names)
        assert api.get_file(names[0])["mimeType"] == "text/plain"
        api.delete_file(names[0])
        with pytest.raises(errors.NotFoundError) as caught:
            api.get_file(names[0])
        assert "expire 48 hours" in str(caught.value) and caught.value.code == 403


def test_wait_active_polls_through_the_injected_sleep(emulator: Emulator, tmp_path: Path) -> None:
    path = data_file(tmp_path, 64, "clip.mp4")
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        emulator.control.advance_clock(seconds)

    with client(emulator, sleep=sleep) as api:
        file = api.upload_file(path)
        assert file["state"] == "PROCESSING" and file["mimeType"] == "video/mp4"
        assert api.wait_active(file, interval=3)["state"] == "ACTIVE"
        assert waits == [3, 3, 3, 3]  # 10 s of processing on the emulator's clock
        late = api.upload_file(path)
        with pytest.raises(errors.FileStateError) as caught:
            api.wait_active(late["name"], timeout=5, interval=2)
        assert "still PROCESSING after 5 s" in str(caught.value) and caught.value.exit_code == 4


def test_generate_with_an_uploaded_file(emulator: Emulator, tmp_path: Path) -> None:
    path = data_file(tmp_path, 100, "notes.txt")
    with client(emulator) as api:
        file = api.upload_file(path)
        part = {"fileData": {"fileUri": file["uri"], "mimeType": file["mimeType"]}}
        reply = api.generate_content("gemini-2.5-flash", [part, "Summarize"])
        assert sha256_of(path)[:16] in reply["candidates"][0]["content"]["parts"][0]["text"]


def test_register_files_over_oauth(emulator: Emulator) -> None:
    uri = emulator.control.put_object("bucket", "doc.pdf", b"%PDF-1.4 x", "application/pdf")
    with client(emulator) as api:  # cloud-platform: reads Cloud Storage
        [file] = api.register_files([uri])
        assert file["source"] == "REGISTERED" and file["sizeBytes"] == "10"
    narrow = client(emulator, make_creds(emulator, [RETRIEVER]))
    with narrow, pytest.raises(errors.ScopeInsufficientError):
        narrow.register_files([uri])
    emulator.control.set_bucket("bucket", service_agent_read=False)
    with client(emulator) as api, pytest.raises(errors.ApiError) as caught:
        api.register_files([uri])
    assert "roles/storage.objectViewer" in str(caught.value)


def test_embeddings(emulator: Emulator) -> None:
    with client(emulator) as api:
        vector = api.embed_content("text-embedding-004", "hello")
        assert len(vector) == 768 and all(isinstance(v, float) for v in vector)
        assert len(api.embed_content("gemini-embedding-001", "hi", output_dimensionality=8)) == 8
        texts = [f"text {i}" for i in range(150)]
        vectors = api.batch_embed_contents("gemini-embedding-001", texts, task_type="CLUSTERING")
        assert len(vectors) == 150 and vectors[3] != vectors[4]
        with pytest.raises(errors.NotFoundError):
            api.embed_content("gemini-2.5-flash", "not an embedding model")
    assert emulator.control.counters()["models.batchEmbedContents"] == 2  # 100 + 50


def test_cached_contents(emulator: Emulator) -> None:
    with client(emulator) as api:
        cache = api.create_cached_content("gemini-2.5-flash", LONG, ttl=300, display_name="fox")
        assert cache["usageMetadata"]["totalTokenCount"] == 1200
        assert api.get_cached_content(cache["name"].split("/")[1]) == cache
        assert [c["name"] for c in api.iter_cached_contents()] == [cache["name"]]
        assert api.list_cached_contents().cached_contents == [cache]
        longer = api.update_cached_content(cache["name"], ttl=7200)
        assert longer["expireTime"] > cache["expireTime"]
        answer = api.generate_content("gemini-2.5-flash", "q", cachedContent=cache["name"])
        assert answer["usageMetadata"]["cachedContentTokenCount"] == 1200
        api.delete_cached_content(cache["name"])
        with pytest.raises(errors.NotFoundError) as caught:
            api.get_cached_content(cache["name"])
        assert "ttl" in str(caught.value)
        with pytest.raises(ValueError):
            api.update_cached_content(cache["name"])


def test_async_client_files_embeddings_and_caches(emulator: Emulator, tmp_path: Path) -> None:
    path = data_file(tmp_path, 2 * MIB + 3)
    clip = data_file(tmp_path, 10, "clip.mp4")
    emulator.control.add_fault("/upload/v1/files?upload_id=", drop_after=100_000, count=1)
    uri = emulator.control.put_object("bucket", "a.txt", b"abc", "text/plain")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.to_thread(emulator.control.advance_clock, seconds)

    async def main() -> dict[str, Any]:
        creds = make_creds(emulator)
        async with AsyncGeminiClient(creds, base_url=emulator.base_url, sleep=sleep) as api:
            file = await api.upload_file(path, chunk_size=MIB)
            assert (await api.get_file(file["name"]))["name"] == file["name"]
            assert [f["name"] async for f in api.iter_files()] == [file["name"]]
            video = await api.upload_file(clip)
            assert (await api.wait_active(video, interval=5))["state"] == "ACTIVE"
            [registered] = await api.register_files([uri])
            assert registered["source"] == "REGISTERED"
            assert len(await api.embed_content("text-embedding-004", "x")) == 768
            assert len(await api.batch_embed_contents("text-embedding-004", ["a", "b"])) == 2
            cache = await api.create_cached_content("gemini-2.5-flash", LONG)
            assert (await api.get_cached_content(cache["name"]))["name"] == cache["name"]
            assert [c["name"] async for c in api.iter_cached_contents()] == [cache["name"]]
            await api.update_cached_content(cache["name"], ttl=60)
            await api.delete_cached_content(cache["name"])
            await api.delete_file(file["name"])
            return file

    file = asyncio.run(main())
    assert file["sizeBytes"] == str(path.stat().st_size)
    counters = emulator.control.counters()
    assert counters["upload.bytes"] == path.stat().st_size + 10  # nothing sent twice
    assert waits[0] < 5 and waits[1:] == [5, 5]  # one backoff after the drop, then polls


def test_upload_never_sends_the_token_to_another_origin(emulator: Emulator, tmp_path: Path) -> None:
    """The session URL comes from the server: only its path and query are used."""
    from gemini_oauth._resumable import session_url

    assert (
        session_url("https://evil.example/upload/v1/files?upload_id=x", emulator.base_url)
        == f"{emulator.base_url}/upload/v1/files?upload_id=x"
    )
    with client(emulator) as api:
        assert api.upload_file(data_file(tmp_path, 5))["sizeBytes"] == "5"
