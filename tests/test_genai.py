"""genai_client(): the google-genai SDK's own calls, over OAuth, against the emulator."""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import pytest
from google.genai import errors as genai_errors
from google.oauth2.credentials import Credentials

from gemini_oauth import errors
from gemini_oauth._genai import API_KEY_PLACEHOLDER, genai_client
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import CLOUD_PLATFORM

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


def test_async_refresh_never_blocks_the_event_loop(emulator: Emulator) -> None:
    """A task that needs headers while another refreshes (in a thread) waits off the loop."""
    client = genai_client(make_creds(emulator), base_url=emulator.base_url)
    lags: list[float] = []

    async def ticker() -> None:
        for _ in range(40):
            start = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - start)

    async def later() -> str:
        await asyncio.sleep(0.1)  # the first call is refreshing by now
        return (await client.aio.models.generate_content(model=MODEL, contents="b")).text or ""

    async def main() -> None:
        assert (await client.aio.models.generate_content(model=MODEL, contents="warm")).text
        emulator.control.advance_clock(3700)  # the server sees the token expired: a 401
        emulator.control.add_fault("/token", latency=0.8)  # a slow refresh
        first = client.aio.models.generate_content(model=MODEL, contents="a")
        await asyncio.gather(first, later(), ticker())

    asyncio.run(main())
    assert emulator.control.counters()["token.refresh_token"] == 1
    assert max(lags) < 0.4, f"the event loop froze for {max(lags):.2f} s"


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
    assert "gemini-oauth[genai]" in info.value.hint
