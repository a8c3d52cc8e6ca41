"""genai_client(): the google-genai SDK's own calls, over OAuth, against the emulator."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from google.genai import errors as genai_errors
from google.oauth2.credentials import Credentials

from gemini_oauth import errors
from gemini_oauth._genai import API_KEY_PLACEHOLDER, genai_client
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import CLOUD_PLATFORM

if TYPE_CHECKING:
    from conftest import HeldWaits

MODEL = "gemini-2.5-flash"


def make_creds(emu: Emulator) -> Credentials:
    grant = emu.control.issue_grant([CLOUD_PLATFORM])
    return Credentials(
        grant["access_token"],
        refresh_token=grant["refresh_token"],
        token_uri=emu.base_url + "/token",
        client_id=emu.client_id,
        client_secret=emu.client_secret,
    )


def test_placeholder_would_be_refused(emulator: Emulator) -> None:
    """So every success below proves the SDK's placeholder key never reached the server."""
    response = httpx.get(
        emulator.base_url + "/v1beta/models", headers={"x-goog-api-key": API_KEY_PLACEHOLDER}
    )
    assert response.status_code == 400 and "API_KEY_INVALID" in response.text


def test_sdk_list_generate_stream(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "an-environment-key-that-must-be-ignored")
    client = genai_client(make_creds(emulator), base_url=emulator.base_url)
    names = [m.name for m in client.models.list(config={"page_size": 10})]
    assert len(names) > 10 and f"models/{MODEL}" in names  # more than one page walked
    reply = client.models.generate_content(model=MODEL, contents="Hello from the SDK")
    assert reply.text and "Hello from the SDK" in reply.text
    chunks = [
        c.text or ""
        for c in client.models.generate_content_stream(model=MODEL, contents="Hello from the SDK")
    ]
    assert len(chunks) > 1 and "".join(chunks) == reply.text
    counters = emulator.control.counters()
    assert counters["models.list"] >= 2
    assert counters["models.generateContent"] == 1
    assert counters["models.streamGenerateContent"] == 1
    assert counters["token.refresh_token"] == 0


def test_sdk_async(emulator: Emulator) -> None:
    client = genai_client(make_creds(emulator), base_url=emulator.base_url)

    async def main() -> tuple[str, list[str]]:
        reply = await client.aio.models.generate_content(model=MODEL, contents="async hi")
        stream = await client.aio.models.generate_content_stream(model=MODEL, contents="async hi")
        return reply.text or "", [c.text or "" async for c in stream]

    text, chunks = asyncio.run(main())
    assert "async hi" in text and "".join(chunks) == text
    counters = emulator.control.counters()
    assert counters["models.generateContent"] == 1
    assert counters["models.streamGenerateContent"] == 1


def test_token_expiry_mid_session_refreshes_once(emulator: Emulator) -> None:
    client = genai_client(make_creds(emulator), base_url=emulator.base_url)
    assert client.models.generate_content(model=MODEL, contents="before").text
    emulator.control.advance_clock(3601)
    assert client.models.generate_content(model=MODEL, contents="after").text
    assert [c.text for c in client.models.generate_content_stream(model=MODEL, contents="s")]

    async def later() -> str:
        reply = await client.aio.models.generate_content(model=MODEL, contents="async after")
        return reply.text or ""

    assert asyncio.run(later())
    counters = emulator.control.counters()
    assert counters["token.refresh_token"] == 1
    assert counters["models.generateContent"] == 4  # before, 401, after, async after


def test_async_expiry_refreshes_once(emulator: Emulator) -> None:
    client = genai_client(make_creds(emulator), base_url=emulator.base_url)
    emulator.control.advance_clock(3601)

    async def main() -> list[str]:
        calls = [client.aio.models.generate_content(model=MODEL, contents="x") for _ in range(3)]
        return [r.text or "" for r in await asyncio.gather(*calls)]

    assert all(asyncio.run(main()))
    assert emulator.control.counters()["token.refresh_token"] == 1


def test_async_refresh_never_blocks_the_event_loop(
    emulator: Emulator, held_waits: HeldWaits
) -> None:
    """A task that needs headers while another's refresh (in a thread) is held at the token
    endpoint waits off the loop: the loop itself is what lets the refresh finish."""
    client = genai_client(make_creds(emulator), base_url=emulator.base_url)
    models = client.aio.models

    async def main() -> None:
        assert (await models.generate_content(model=MODEL, contents="warm")).text
        emulator.control.advance_clock(3700)  # the server sees the token expired: a 401
        emulator.control.add_fault("/token", latency=0.8)  # a slow refresh, held
        first = asyncio.create_task(models.generate_content(model=MODEL, contents="a"))
        assert await asyncio.to_thread(held_waits.started)  # the refresh is held now
        second = asyncio.create_task(models.generate_content(model=MODEL, contents="b"))
        await asyncio.sleep(0)  # second runs up to its wait for headers, then the loop ...
        assert not first.done() and not second.done()  # ... comes back here
        held_waits.release()  # from the loop: a frozen loop never gets here
        assert all(reply.text for reply in await asyncio.gather(first, second))

    asyncio.run(main())
    assert held_waits.requested == [0.8] and not held_waits.overran
    assert emulator.control.counters()["token.refresh_token"] == 1


def test_quota_project_reaches_the_server(emulator: Emulator) -> None:
    emulator.control.set_project("quota-off", 99, api_enabled=False)
    client = genai_client(
        make_creds(emulator), base_url=emulator.base_url, quota_project="quota-off"
    )
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.generate_content(model=MODEL, contents="hi")
    assert info.value.code == 403 and "SERVICE_DISABLED" in str(info.value.details)

    async def stream() -> None:
        async for _ in await client.aio.models.generate_content_stream(model=MODEL, contents="x"):
            pass

    with pytest.raises(genai_errors.ClientError) as info:
        asyncio.run(stream())
    assert info.value.code == 403 and "SERVICE_DISABLED" in str(info.value.details)


def test_base_url_and_version_from_options(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    client = genai_client(make_creds(emulator), api_version="v1")
    assert client.models.get(model=MODEL).name == f"models/{MODEL}"
    v1 = len(list(client.models.list(config={"page_size": 100})))
    beta = genai_client(make_creds(emulator), api_version="v1beta")
    assert len(list(beta.models.list(config={"page_size": 100}))) > v1


def test_missing_sdk_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.genai", None)
    with pytest.raises(errors.GeminiOAuthError) as info:
        genai_client(Credentials("unused"))
    hint = info.value.hint  # commands that work today: no package index name the project lacks
    assert "pip install 'google-genai>=1.0'" in hint and "gemini-oauth[" not in hint
    assert "pip install -e '.[genai]'" in hint


# ---------------------------------------------------------------- Files, embeddings, caches

LONG = "The quick brown fox jumps over the lazy dog. " * 120


def test_sdk_files_register_embed_and_caches(emulator: Emulator, tmp_path: Path) -> None:
    """google-genai's own calls over OAuth, on the API version the SDK picks (v1)."""
    from gemini_oauth import oauth_credentials

    creds = make_creds(emulator)
    client = genai_client(creds, base_url=emulator.base_url, quota_project=emulator.project_id)
    path = tmp_path / "notes.txt"
    path.write_text("emulated notes " * 100)
    file = client.files.upload(file=path, config={"display_name": "notes"})
    assert file.name and file.display_name == "notes" and file.size_bytes == 1500
    assert client.files.get(name=file.name).state == "ACTIVE"
    assert [f.name for f in client.files.list()] == [file.name]
    reply = client.models.generate_content(model=MODEL, contents=[file, "Summarize"])
    assert reply.text and "[file text/plain" in reply.text

    uri = emulator.control.put_object("corpus", "doc.pdf", b"%PDF-1.4 x", "application/pdf")
    auth = oauth_credentials(creds, quota_project=emulator.project_id)
    assert auth.quota_project_id == emulator.project_id and auth.valid
    registered = client.files.register_files(auth=auth, uris=[uri])
    assert registered.files and registered.files[0].source == "REGISTERED"

    embedded = client.models.embed_content(model="gemini-embedding-001", contents=["a", "b"])
    assert embedded.embeddings and [len(e.values or []) for e in embedded.embeddings] == [3072] * 2

    cache = client.caches.create(model=MODEL, config={"contents": [LONG], "ttl": "300s"})
    assert cache.name and cache.usage_metadata and cache.usage_metadata.total_token_count == 1200
    assert client.caches.get(name=cache.name).name == cache.name
    assert [c.name for c in client.caches.list()] == [cache.name]
    client.caches.update(name=cache.name, config={"ttl": "600s"})
    cached = client.models.generate_content(
        model=MODEL, contents="q", config={"cached_content": cache.name}
    )
    assert cached.usage_metadata and cached.usage_metadata.cached_content_token_count == 1200
    client.caches.delete(name=cache.name)
    client.files.delete(name=file.name)
    counters = emulator.control.counters()
    assert counters["files.register"] == 1 and counters["upload.finalized"] == 1
    assert counters["cachedContents.create"] == 1 and counters["models.batchEmbedContents"] == 1


def test_sdk_files_async(emulator: Emulator, tmp_path: Path) -> None:
    from gemini_oauth import oauth_credentials

    creds = make_creds(emulator)
    client = genai_client(creds, base_url=emulator.base_url)
    path = tmp_path / "a.txt"
    path.write_text("async " * 500)
    uri = emulator.control.put_object("corpus", "b.txt", b"hello", "text/plain")

    async def main() -> None:
        file = await client.aio.files.upload(file=path)
        assert file.name and (await client.aio.files.get(name=file.name)).state == "ACTIVE"
        assert [f.name async for f in await client.aio.files.list()] == [file.name]
        registered = await client.aio.files.register_files(
            auth=oauth_credentials(creds), uris=[uri]
        )
        assert registered.files and registered.files[0].size_bytes == 5
        embedded = await client.aio.models.embed_content(model="text-embedding-004", contents="x")
        assert embedded.embeddings and len(embedded.embeddings[0].values or []) == 768
        cache = await client.aio.caches.create(model=MODEL, config={"contents": [LONG]})
        assert cache.name
        await client.aio.caches.delete(name=cache.name)
        await client.aio.files.delete(name=file.name)

    asyncio.run(main())
    assert emulator.control.counters()["files.delete"] == 1


def test_register_files_with_an_api_key_client_is_overloaded(emulator: Emulator) -> None:
    """Plain google-genai (an API key) + auth= sends two credentials: Google refuses it, and
    genai_client() is the way that works (python-genai#2674)."""
    from google import genai

    uri = emulator.control.put_object("corpus", "c.txt", b"x", "text/plain")
    keyed = genai.Client(
        api_key=emulator.api_key,
        http_options=genai.types.HttpOptions(base_url=emulator.base_url),
    )
    with pytest.raises(genai_errors.ClientError) as caught:
        keyed.files.register_files(auth=make_creds(emulator), uris=[uri])
    assert caught.value.code == 401 and "OVERLOADED_CREDENTIALS" in str(caught.value)
    with pytest.raises(genai_errors.ClientError) as caught:  # the key alone: OAuth is required
        keyed._api_client.request("post", "files:register", {"uris": [uri]})
    assert caught.value.code == 401 and "CREDENTIALS_MISSING" in str(caught.value)


def test_register_files_uses_the_credentials_it_is_given(emulator: Emulator) -> None:
    """The SDK's own Authorization (from auth=) is kept, not replaced by the client's."""
    from gemini_oauth.scopes import RETRIEVER

    uri = emulator.control.put_object("corpus", "d.txt", b"x", "text/plain")
    client = genai_client(make_creds(emulator), base_url=emulator.base_url)
    narrow = Credentials(emulator.control.issue_grant([RETRIEVER])["access_token"])
    with pytest.raises(genai_errors.ClientError) as caught:
        client.files.register_files(auth=narrow, uris=[uri])
    assert caught.value.code == 403 and "SCOPE_INSUFFICIENT" in str(caught.value)
