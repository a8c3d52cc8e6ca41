"""The waits the tests never take for real, taken for real: each figure beside what it should be.

The tests inject the sleeps and hold the emulator's waits, so they prove the rules by events and
never depend on a machine's speed; this script measures the same rules with real clocks, against
the emulator, where a loaded machine shows as noise and not as a failed test:

  retry-after  a 429 with Retry-After: 1 -> seconds until the answer (the server's 1 s, at least)
  deadline     503 until the 0.8 s deadline -> seconds until the client gives up (about 0.8)
  slow retry   a retry held 3 s by the server, deadline 0.6 s -> seconds until the client gives up
  event loop   a refresh held 0.8 s at the token endpoint while another task needs headers ->
               the event loop's longest pause (ticks of 10 ms; a blocked loop would show 0.8 s)
  stream       chunks paced by the emulator -> seconds from the first chunk to the last, beside
               the emulator's pauses (a buffered stream would show about 0)

Run: .venv/bin/python benchmarks/bench_real_waits.py
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from google.oauth2.credentials import Credentials

from gemini_oauth import errors
from gemini_oauth._client import AsyncGeminiClient, GeminiClient
from gemini_oauth.emulator import Emulator
from gemini_oauth.emulator._gemini import CHUNK_PAUSE
from gemini_oauth.scopes import CLOUD_PLATFORM

MODEL = "gemini-2.5-flash"


def creds(emu: Emulator) -> Credentials:
    grant = emu.control.issue_grant([CLOUD_PLATFORM])
    return Credentials(
        grant["access_token"],
        refresh_token=grant["refresh_token"],
        token_uri=emu.base_url + "/token",
        client_id=emu.client_id,
        client_secret=emu.client_secret,
    )


def timed(call: Any, *expected: type[BaseException]) -> float:
    started = time.monotonic()
    with contextlib.suppress(*expected):
        call()
    return time.monotonic() - started


def row(name: str, measured: float, should: str) -> None:
    print(f"{name:12} {measured:7.3f} s   should be {should}")


def retry_after(emu: Emulator) -> None:
    emu.control.add_fault("/v1/models", 429, count=1, retry_after=1)
    with GeminiClient(creds(emu), base_url=emu.base_url, initial_backoff=0.02) as api:
        row("retry-after", timed(api.list_models), ">= 1.0")


def deadline(emu: Emulator) -> None:
    emu.control.add_fault("/v1/models", 503, count=None)
    kw: dict[str, Any] = {"max_attempts": 1000, "deadline": 0.8, "initial_backoff": 0.1}
    with GeminiClient(creds(emu), base_url=emu.base_url, **kw) as api:
        row("deadline", timed(api.list_models, errors.ServerError), "< 0.8 plus one request")
    emu.control.clear_faults()


def slow_retry(emu: Emulator) -> None:
    emu.control.add_fault("/v1/models", 503, count=1)
    emu.control.add_fault("/v1/models", None, count=1, latency=3.0)
    kw: dict[str, Any] = {"deadline": 0.6, "initial_backoff": 0.01}
    with GeminiClient(creds(emu), base_url=emu.base_url, **kw) as api:
        row("slow retry", timed(api.list_models, errors.NetworkError), "about 0.6, not 3")


def event_loop(emu: Emulator) -> None:
    lags: list[float] = []

    async def ticker() -> None:
        for _ in range(100):
            start = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - start - 0.01)

    async def main() -> None:
        async with AsyncGeminiClient(creds(emu), base_url=emu.base_url) as api:
            await api.get_model(MODEL)
            emu.control.advance_clock(3700)
            emu.control.add_fault("/token", latency=0.8)

            async def later() -> None:
                await asyncio.sleep(0.1)  # the first task is refreshing by now
                await api.get_model(MODEL)

            await asyncio.gather(api.list_models(), later(), ticker())

    asyncio.run(main())
    row("event loop", max(lags), "a few ms, far below the 0.8 s refresh")


def stream(emu: Emulator) -> None:
    prompt = " ".join(f"w{n}" for n in range(40))
    with GeminiClient(creds(emu), base_url=emu.base_url) as api:
        stamps = [time.monotonic() for _ in api.stream_generate_content(MODEL, prompt)]
    paced = CHUNK_PAUSE * (len(stamps) - 1)
    row("stream", stamps[-1] - stamps[0], f"about {paced:.3f} ({len(stamps)} chunks)")


def main() -> None:
    for bench in (retry_after, deadline, slow_retry, event_loop, stream):
        with Emulator() as emu:
            bench(emu)


if __name__ == "__main__":
    main()
