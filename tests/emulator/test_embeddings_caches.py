"""The emulator's embedContent, batchEmbedContents and cachedContents over real HTTP."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from tests.emulator.test_files import upload
from tests.emulator.test_gemini import bearer, rpc_error

from gemini_oauth.emulator import Emulator

HTTP = httpx.Client(timeout=10, trust_env=False)
LONG = "The quick brown fox jumps over the lazy dog. " * 120  # 1200 emulated tokens


def post(emu: Emulator, path: str, headers: dict[str, str], body: Any) -> httpx.Response:
    return HTTP.post(emu.base_url + path, headers=headers, json=body)


def embed(emu: Emulator, headers: dict[str, str], model: str, **fields: Any) -> httpx.Response:
    body = {"content": {"parts": [{"text": "hello embeddings"}]}, **fields}
    return post(emu, f"/v1beta/models/{model}:embedContent", headers, body)


@pytest.mark.parametrize(
    ("model", "dimension"),
    [("gemini-embedding-001", 3072), ("text-embedding-004", 768), ("embedding-001", 768)],
)
def test_embed_content_dimension_unit_length_and_determinism(
    emulator: Emulator, model: str, dimension: int
) -> None:
    headers = bearer(emulator)
    values = embed(emulator, headers, model).json()["embedding"]["values"]
    assert len(values) == dimension
    assert math.isclose(math.sqrt(sum(v * v for v in values)), 1.0, abs_tol=1e-5)
    assert embed(emulator, headers, model).json()["embedding"]["values"] == values
    other = embed(emulator, headers, model, taskType="RETRIEVAL_QUERY")
    assert other.json()["embedding"]["values"] != values


def test_embed_content_options_and_errors(emulator: Emulator) -> None:
    headers = bearer(emulator)
    short = embed(emulator, headers, "gemini-embedding-001", outputDimensionality=256)
    assert len(short.json()["embedding"]["values"]) == 256
    too_big = embed(emulator, headers, "text-embedding-004", outputDimensionality=769)
    rpc_error(too_big, 400, "INVALID_ARGUMENT")
    rpc_error(
        embed(emulator, headers, "text-embedding-004", taskType="GUESS"), 400, "INVALID_ARGUMENT"
    )
    titled = embed(emulator, headers, "text-embedding-004", title="t", taskType="RETRIEVAL_QUERY")
    rpc_error(titled, 400, "INVALID_ARGUMENT")
    rpc_error(embed(emulator, headers, "gemini-2.5-flash"), 404, "NOT_FOUND")
    empty = post(emulator, "/v1beta/models/text-embedding-004:embedContent", headers, {})
    rpc_error(empty, 400, "INVALID_ARGUMENT")
    keyed = embed(emulator, {"x-goog-api-key": emulator.api_key}, "text-embedding-004")
    assert keyed.status_code == 200  # embeddings take API keys, like generateContent
    v1 = post(
        emulator,
        "/v1/models/gemini-embedding-001:embedContent",
        headers,
        {"content": {"parts": [{"text": "x"}]}},
    )
    assert v1.status_code == 200


def test_batch_embed_contents(emulator: Emulator) -> None:
    headers = bearer(emulator)
    model = "gemini-embedding-001"
    requests = [
        {"model": f"models/{model}", "content": {"parts": [{"text": t}]}} for t in ("a", "b", "a")
    ]
    path = f"/v1beta/models/{model}:batchEmbedContents"
    out = post(emulator, path, headers, {"requests": requests}).json()["embeddings"]
    assert len(out) == 3 and out[0] == out[2] != out[1]
    single = embed(emulator, headers, model, content={"parts": [{"text": "a"}]}).json()
    assert single["embedding"] == out[0]
    wrong = [{"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}}]
    rpc_error(post(emulator, path, headers, {"requests": wrong}), 400, "INVALID_ARGUMENT")
    rpc_error(post(emulator, path, headers, {"requests": requests * 34}), 400, "INVALID_ARGUMENT")
    rpc_error(post(emulator, path, headers, {"requests": []}), 400, "INVALID_ARGUMENT")
    assert emulator.control.counters()["models.batchEmbedContents"] == 4


def create(emu: Emulator, headers: dict[str, str], **fields: Any) -> httpx.Response:
    body = {"model": "models/gemini-2.5-flash", "contents": [{"parts": [{"text": LONG}]}]}
    return post(emu, "/v1beta/cachedContents", headers, {**body, **fields})


def ask(emu: Emulator, headers: dict[str, str], cache: str | None, **fields: Any) -> httpx.Response:
    body: dict[str, Any] = {"contents": [{"parts": [{"text": "What is in it?"}]}], **fields}
    if cache:
        body["cachedContent"] = cache
    return post(emu, "/v1beta/models/gemini-2.5-flash:generateContent", headers, body)


def test_cache_lifecycle_and_generate_with_it(emulator: Emulator) -> None:
    headers = bearer(emulator)
    made = create(emulator, headers, ttl="300s", displayName="fox")
    assert made.status_code == 200, made.text
    cache = made.json()
    assert cache["name"].startswith("cachedContents/") and cache["displayName"] == "fox"
    assert cache["model"] == "models/gemini-2.5-flash"
    assert cache["usageMetadata"]["totalTokenCount"] == 1200
    got = HTTP.get(f"{emulator.base_url}/v1beta/{cache['name']}", headers=headers).json()
    assert got == cache
    answer = ask(emulator, headers, cache["name"]).json()
    assert answer["usageMetadata"]["cachedContentTokenCount"] == 1200
    assert answer["usageMetadata"]["promptTokenCount"] > 1200
    plain = ask(emulator, headers, None).json()
    assert plain["candidates"][0]["content"] != answer["candidates"][0]["content"]
    listed = HTTP.get(f"{emulator.base_url}/v1/cachedContents", headers=headers).json()
    assert [c["name"] for c in listed["cachedContents"]] == [cache["name"]]
    patched = HTTP.patch(
        f"{emulator.base_url}/v1beta/{cache['name']}",
        headers=headers,
        params={"updateMask": "ttl"},
        json={"ttl": "7200s"},
    )
    assert patched.status_code == 200 and patched.json()["expireTime"] > cache["expireTime"]
    emulator.control.advance_clock(3600)  # past the first ttl, within the new one
    headers = bearer(emulator)
    assert ask(emulator, headers, cache["name"]).status_code == 200
    emulator.control.advance_clock(3601)
    headers = bearer(emulator)
    expired = ask(emulator, headers, cache["name"])
    rpc_error(expired, 403, "PERMISSION_DENIED")
    assert "CachedContent not found" in expired.json()["error"]["message"]


def test_cache_errors(emulator: Emulator) -> None:
    headers = bearer(emulator)
    small = create(emulator, headers, contents=[{"parts": [{"text": "too short"}]}])
    rpc_error(small, 400, "INVALID_ARGUMENT")
    assert "min_total_token_count=1024" in small.json()["error"]["message"]
    rpc_error(create(emulator, headers, model="models/text-embedding-004"), 404, "NOT_FOUND")
    rpc_error(create(emulator, headers, ttl="soon"), 400, "INVALID_ARGUMENT")
    rpc_error(
        create(emulator, headers, ttl="60s", expireTime="2030-01-01T00:00:00Z"),
        400,
        "INVALID_ARGUMENT",
    )
    cache = create(emulator, headers).json()
    other_model = post(
        emulator,
        "/v1beta/models/gemini-2.5-pro:generateContent",
        headers,
        {"contents": [{"parts": [{"text": "q"}]}], "cachedContent": cache["name"]},
    )
    rpc_error(other_model, 400, "INVALID_ARGUMENT")
    assert "has to be the same" in other_model.json()["error"]["message"]
    system = {"parts": [{"text": "be brief"}]}
    rpc_error(
        ask(emulator, headers, cache["name"], systemInstruction=system), 400, "INVALID_ARGUMENT"
    )
    bad_patch = HTTP.patch(
        f"{emulator.base_url}/v1beta/{cache['name']}",
        headers=headers,
        params={"updateMask": "model"},
        json={"model": "models/gemini-2.5-pro"},
    )
    rpc_error(bad_patch, 400, "INVALID_ARGUMENT")
    emulator.control.set_project("other-project", 2000000000002)
    theirs = {**bearer(emulator), "x-goog-user-project": "other-project"}
    foreign = HTTP.get(f"{emulator.base_url}/v1beta/{cache['name']}", headers=theirs)
    rpc_error(foreign, 403, "PERMISSION_DENIED")
    deleted = HTTP.delete(f"{emulator.base_url}/v1beta/{cache['name']}", headers=headers)
    assert deleted.status_code == 200
    rpc_error(ask(emulator, headers, cache["name"]), 403, "PERMISSION_DENIED")


def test_cache_of_an_uploaded_file(emulator: Emulator) -> None:
    headers = bearer(emulator)
    file = upload(emulator, headers, b"0123456789" * 500)  # 5000 bytes: 1250 emulated tokens
    body = {
        "model": "models/gemini-2.5-flash",
        "contents": [{"parts": [{"fileData": {"fileUri": file["uri"]}}]}],
    }
    cache = post(emulator, "/v1beta/cachedContents", headers, body)
    assert cache.status_code == 200, cache.text
    assert cache.json()["usageMetadata"]["totalTokenCount"] == 1250
    assert ask(emulator, headers, cache.json()["name"]).status_code == 200
