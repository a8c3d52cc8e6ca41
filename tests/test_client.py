"""GeminiClient / AsyncGeminiClient against the emulator over real HTTP: paging, generate and
stream, errors with their fix, refresh after a 401, retries, one pooled connection, async.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from google.oauth2.credentials import Credentials

from gemini_oauth import errors
from gemini_oauth._api_errors import error_from_response
from gemini_oauth._client import AsyncGeminiClient, GeminiClient
from gemini_oauth._retry import Retrying
from gemini_oauth._wire import text
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import CLOUD_PLATFORM, OPENID, USERINFO_EMAIL

if TYPE_CHECKING:
    from conftest import HeldWaits

MODEL = "gemini-2.5-flash"


def make_creds(emu: Emulator, scopes: list[str] | None = None, **kw: Any) -> Credentials:
    grant = emu.control.issue_grant(scopes or [CLOUD_PLATFORM])
    return Credentials(
        grant["access_token"],
        refresh_token=grant["refresh_token"],
        token_uri=emu.base_url + "/token",
        client_id=emu.client_id,
        client_secret=emu.client_secret,
        **kw,
    )


def no_wait(seconds: float) -> None:
    """A client's sleep that returns at once (the waits a test checks, it records itself)."""


async def no_wait_async(seconds: float) -> None:
    """The async client's sleep that returns at once."""


def client(emu: Emulator, creds: Credentials | None = None, **kw: Any) -> GeminiClient:
    kw.setdefault("initial_backoff", 0.02)
    kw.setdefault("sleep", no_wait)
    return GeminiClient(creds or make_creds(emu), base_url=emu.base_url, **kw)


def count(emu: Emulator, name: str) -> int:
    return emu.control.counters().get(name, 0)


def test_list_one_page_and_all_pages(emulator: Emulator) -> None:
    with client(emulator) as api:
        everything = api.list_models(page_size=1000)
        assert everything.next_page_token is None
        total = len(everything.models)
        assert total > 10
        page = api.list_models(page_size=4)
        assert len(page.models) == 4 and page.next_page_token
        before = count(emulator, "models.list")
        walked = list(api.iter_models(page_size=4))
    assert [m["name"] for m in walked] == [m["name"] for m in everything.models]
    assert count(emulator, "models.list") - before == -(-total // 4)


def test_get_model_both_name_forms_and_404(emulator: Emulator) -> None:
    with client(emulator) as api:
        assert api.get_model(MODEL)["name"] == f"models/{MODEL}"
        assert api.get_model(f"models/{MODEL}")["inputTokenLimit"] > 0
        with pytest.raises(errors.NotFoundError) as info:
            api.get_model("no-such-model")
    assert info.value.code == 404 and info.value.exit_code == 4
    assert "models list" in info.value.hint


def test_api_version_v1beta(emulator: Emulator) -> None:
    with client(emulator, api_version="v1beta") as beta, client(emulator) as v1:
        assert len(list(beta.iter_models())) > len(list(v1.iter_models()))


def test_generate_stream_and_count(emulator: Emulator) -> None:
    with client(emulator) as api:
        reply = api.generate_content(MODEL, "Explain OAuth in one line")
        assert "Explain OAuth in one line" in text(reply)
        chunks = list(api.stream_generate_content(MODEL, "Explain OAuth in one line"))
        assert len(chunks) > 1
        assert "".join(text(c) for c in chunks) == text(reply)
        assert chunks[-1]["usageMetadata"]["totalTokenCount"] > 0
        assert api.count_tokens(MODEL, "one two three") == 3
        short = api.generate_content(
            MODEL, [{"text": "hello"}], generationConfig={"maxOutputTokens": 2}
        )
        assert short["candidates"][0]["finishReason"] == "MAX_TOKENS"
    counters = emulator.control.counters()
    assert counters["models.generateContent"] == 2
    assert counters["models.streamGenerateContent"] == 1
    assert counters["models.countTokens"] == 1


def test_stream_arrives_incrementally(emulator: Emulator, held_waits: HeldWaits) -> None:
    """Each chunk is yielded while the emulator still holds back the next, not all at the end."""
    from gemini_oauth.emulator._gemini import CHUNK_PAUSE

    prompt = " ".join(f"w{n}" for n in range(40))
    chunks = []
    with client(emulator) as api:
        for chunk in api.stream_generate_content(MODEL, prompt):
            chunks.append(chunk)
            held_waits.release()  # only now may the emulator send the next chunk
    assert len(chunks) > 4 and held_waits.requested == [CHUNK_PAUSE] * (len(chunks) - 1)
    assert not held_waits.overran  # buffered, the first chunk would wait for the last


def test_scope_insufficient(emulator: Emulator) -> None:
    creds = make_creds(emulator, [OPENID, USERINFO_EMAIL])
    with client(emulator, creds) as api, pytest.raises(errors.ScopeInsufficientError) as info:
        api.list_models()
    exc = info.value
    assert exc.code == 403 and exc.reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    assert "ListModels" in exc.metadata["method"]
    assert "gemini-oauth login --scopes cloud-platform,retriever" in exc.hint
    assert creds.token not in str(exc)


def test_service_disabled_names_project_and_url(emulator: Emulator) -> None:
    emulator.control.set_project("off-project", 4242, api_enabled=False)
    api = client(emulator, quota_project="off-project")
    with api, pytest.raises(errors.ServiceDisabledError) as info:
        api.generate_content(MODEL, "hi")
    exc = info.value
    assert exc.reason == "SERVICE_DISABLED" and exc.metadata["consumer"] == "projects/4242"
    assert "project 4242" in exc.hint
    assert "generativelanguage.googleapis.com/overview?project=4242" in exc.hint


def test_user_project_denied(emulator: Emulator) -> None:
    emulator.control.set_project("their-project", 777, members=["someone@example.com"])
    api = client(emulator, quota_project="their-project")
    with api, pytest.raises(errors.UserProjectDeniedError) as info:
        api.list_models()
    exc = info.value
    assert exc.code == 403 and exc.reason == "USER_PROJECT_DENIED"
    assert "serviceusage.services.use" in exc.hint and "their-project" in exc.hint
    assert "roles/serviceusage.serviceUsageConsumer" in exc.hint and "--quota-project" in exc.hint


def test_api_key_answer_says_so(emulator: Emulator) -> None:
    response = httpx.get(
        emulator.base_url + "/v1/models", headers={"x-goog-api-key": "not-a-valid-key"}
    )
    exc = error_from_response(response.status_code, response.content)
    assert isinstance(exc, errors.ApiKeyInvalidError) and exc.reason == "API_KEY_INVALID"
    assert "API key" in exc.hint and "bearer" in exc.hint
    # A key sent beside the bearer token: the client's error names the key too.
    keyed = httpx.Client(headers={"x-goog-api-key": "not-a-valid-key"})
    with client(emulator, http=keyed) as api, pytest.raises(errors.ApiKeyInvalidError):
        api.list_models()
    keyed.close()


def test_iter_models_stops_when_page_tokens_cycle(emulator: Emulator) -> None:
    """A server whose page tokens go A, B, A, ... cannot make the walk loop forever."""
    for next_token in ("A", "B", "A", "B", "A"):
        page = {"models": [{"name": f"models/m-{next_token}"}], "nextPageToken": next_token}
        emulator.control.add_fault("/v1/models", 200, count=1, body=page)
    with client(emulator) as api:
        names = [m["name"] for m in api.iter_models()]
    assert names == ["models/m-A", "models/m-B", "models/m-A"]
    assert emulator.control.counters()["faults"] == 3  # three pages fetched, then it stopped


def test_refresh_and_retry_once_on_401(emulator: Emulator) -> None:
    with client(emulator) as api:
        api.list_models()
        old = api.credentials.token
        emulator.control.advance_clock(3601)  # the server now says ACCESS_TOKEN_EXPIRED
        assert api.list_models().models
        assert api.credentials.token != old
    counters = emulator.control.counters()
    assert counters["token.refresh_token"] == 1 and counters["models.list"] == 3


def test_persistent_401_refreshes_only_once(emulator: Emulator) -> None:
    emulator.control.add_fault("/v1/models", 401, count=None)
    with client(emulator) as api, pytest.raises(errors.AuthenticationError):
        api.list_models()
    counters = emulator.control.counters()
    assert counters["faults"] == 2 and counters["token.refresh_token"] == 1


def test_503_twice_then_ok_is_three_attempts(emulator: Emulator) -> None:
    emulator.control.add_fault("/v1/models", 503, count=2)
    slept: list[float] = []
    with client(emulator, sleep=slept.append) as api:
        assert api.list_models().models
    counters = emulator.control.counters()
    assert counters["faults"] == 2 and counters["models.list"] == 1
    assert len(slept) == 2 and 0.01 <= slept[0] <= 0.02 and 0.02 <= slept[1] <= 0.04  # doubling


def test_generate_post_is_retried(emulator: Emulator) -> None:
    emulator.control.add_fault(f"/v1/models/{MODEL}:generateContent", 500, count=1)
    with client(emulator) as api:
        assert text(api.generate_content(MODEL, "retry me"))
    assert count(emulator, "models.generateContent") == 1 and count(emulator, "faults") == 1


def test_429_retry_after_is_honoured(emulator: Emulator) -> None:
    emulator.control.add_fault("/v1/models", 429, count=1, retry_after=1)
    slept: list[float] = []
    with client(emulator, sleep=slept.append) as api:
        assert api.list_models().models
    assert slept == [1.0] and count(emulator, "faults") == 1  # not the 0.01-0.02 s backoff


def test_429_retry_info_in_the_body_is_honoured(emulator: Emulator) -> None:
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [retry_info]}}
    emulator.control.add_fault(f"/v1/models/{MODEL}:generateContent", 429, count=1, body=body)
    slept: list[float] = []
    with client(emulator, sleep=slept.append) as api:
        assert text(api.generate_content(MODEL, "quota"))
    assert slept == [1.0] and count(emulator, "faults") == 1  # not the 0.01-0.02 s backoff


def test_waits_go_through_the_injected_sleep(emulator: Emulator) -> None:
    """The server's Retry-After and RetryInfo are what the client asks to wait; nothing sleeps."""
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "9s"}
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [retry_info]}}
    emulator.control.add_fault("/v1/models", 429, count=1, retry_after=7)
    emulator.control.add_fault(f"/v1/models/{MODEL}:generateContent", 429, count=1, body=body)
    slept: list[float] = []
    with client(emulator, sleep=slept.append) as api:
        assert api.list_models().models
        assert text(api.generate_content(MODEL, "quota"))
    assert slept == [7.0, 9.0] and count(emulator, "faults") == 2

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> None:
        emulator.control.add_fault("/v1/models", 503, count=1, retry_after=5)
        async with AsyncGeminiClient(
            make_creds(emulator), base_url=emulator.base_url, sleep=fake_sleep
        ) as api:
            assert (await api.list_models()).models

    asyncio.run(main())
    assert slept == [7.0, 9.0, 5.0]


def test_on_retry_is_told_of_each_wait_with_its_cause(emulator: Emulator) -> None:
    """The seam a command line prints from: cause, delay, attempt k of n, before each wait."""
    emulator.control.add_fault("/v1/models", 429, count=1, retry_after=5)
    emulator.control.add_fault("/v1/models", 503, count=1, retry_after=2)
    told: list[Retrying] = []
    slept: list[float] = []
    with client(emulator, sleep=slept.append, on_retry=told.append) as api:
        assert api.list_models().models
    assert [str(n) for n in told] == [
        "rate-limited (429); retrying in 5 s, attempt 2 of 4",
        "unavailable (503); retrying in 2 s, attempt 3 of 4",
    ]
    assert slept == [n.delay for n in told]

    async def main() -> None:
        emulator.control.add_fault("/v1/models", 500, count=1, retry_after=1)

        async def no_wait(seconds: float) -> None:
            pass

        async with AsyncGeminiClient(
            make_creds(emulator), base_url=emulator.base_url, sleep=no_wait, on_retry=told.append
        ) as api:
            assert (await api.list_models()).models

    asyncio.run(main())
    assert str(told[-1]) == "server error (500); retrying in 1 s, attempt 2 of 4"


def test_the_deadline_counts_injected_waits(emulator: Emulator) -> None:
    """With a sleep that returns at once, the deadline still ends the retries."""
    emulator.control.add_fault("/v1/models", 503, count=None)
    slept: list[float] = []
    with (
        client(
            emulator, max_attempts=1000, deadline=8.0, initial_backoff=1.0, sleep=slept.append
        ) as api,
        pytest.raises(errors.ServerError),
    ):
        api.list_models()
    assert 2 <= len(slept) < 8 and sum(slept) < 8.0
    assert count(emulator, "faults") == len(slept) + 1


def test_never_more_than_max_attempts(emulator: Emulator) -> None:
    emulator.control.add_fault("/v1/models", 503, count=None)
    with client(emulator, max_attempts=3) as api, pytest.raises(errors.ServerError) as info:
        api.list_models()
    assert count(emulator, "faults") == 3 and info.value.code == 503


def test_never_past_the_deadline_async(emulator: Emulator) -> None:
    """The async client's waits count toward its deadline as the sync client's do (above)."""
    emulator.control.add_fault("/v1/models", 503, count=None)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> None:
        async with AsyncGeminiClient(
            make_creds(emulator),
            base_url=emulator.base_url,
            max_attempts=1000,
            deadline=8.0,
            initial_backoff=1.0,
            sleep=fake_sleep,
        ) as api:
            with pytest.raises(errors.ServerError):
                await api.list_models()

    asyncio.run(main())
    assert 2 <= len(slept) < 8 and sum(slept) < 8.0  # the deadline ended it, not max_attempts
    assert count(emulator, "faults") == len(slept) + 1


def test_slow_retry_is_cut_at_the_deadline(emulator: Emulator, held_waits: HeldWaits) -> None:
    """The retry's timeout is what is left of the deadline, not the client's 60 s: the emulator
    holds the retry's answer (10 s at most, then it would answer 200) and the client gives up."""
    emulator.control.add_fault("/v1/models", 503, count=1)
    emulator.control.add_fault("/v1/models", None, count=1, latency=3.0)
    slept: list[float] = []
    with (
        client(emulator, deadline=1.0, sleep=slept.append) as api,
        pytest.raises(errors.NetworkError, match="ReadTimeout"),
    ):
        api.list_models()
    assert len(slept) == 1 and held_waits.requested == [3.0]
    assert not held_waits.overran  # the client gave up while the answer was still held


def test_a_post_that_timed_out_reading_is_not_sent_again(
    emulator: Emulator, held_waits: HeldWaits
) -> None:
    """The model may still be working on a POST whose answer is late: a repeat would only double
    the work (and the bill). Only the first request is held; a repeat would be answered at once."""
    emulator.control.add_fault("/v1/models/gemini-2.5-flash:generateContent", None, latency=3.0)
    slept: list[float] = []
    with (
        client(emulator, timeout=0.5, sleep=slept.append) as api,
        pytest.raises(errors.NetworkError, match="ReadTimeout"),
    ):
        api.generate_content("gemini-2.5-flash", "hello")
    assert held_waits.started() and held_waits.requested == [3.0]
    assert slept == [] and count(emulator, "faults") == 1
    assert count(emulator, "models.generateContent") == 0


def test_retry_after_beyond_deadline_gives_up_at_once(emulator: Emulator) -> None:
    emulator.control.add_fault("/v1/models", 429, count=1, retry_after=3)
    slept: list[float] = []
    with client(emulator, deadline=5.0, sleep=slept.append) as api:
        assert api.list_models().models
        assert slept == [3.0]  # within the deadline, the server's wait is asked for
        emulator.control.add_fault("/v1/models", 429, count=1, retry_after=30)
        with pytest.raises(errors.RateLimitError) as info:
            api.list_models()
    assert slept == [3.0]  # beyond it, nothing more is waited for: the error comes at once
    assert "quota" in info.value.hint and count(emulator, "faults") == 2


def test_dropped_connection_is_retried(emulator: Emulator) -> None:
    emulator.control.add_fault("/v1/models", drop=True, count=1)
    with client(emulator) as api:
        assert api.list_models().models
    assert count(emulator, "faults") == 1 and count(emulator, "models.list") == 1


def test_unreachable_server_is_a_network_error() -> None:
    creds = Credentials("placeholder-token")
    with (
        socket_free_port() as port,
        GeminiClient(
            creds, base_url=f"http://127.0.0.1:{port}", max_attempts=2, sleep=no_wait
        ) as api,
        pytest.raises(errors.NetworkError) as info,
    ):
        api.list_models()
    assert "placeholder-token" not in str(info.value) and info.value.exit_code == 4


def test_stream_retried_before_first_chunk(emulator: Emulator) -> None:
    emulator.control.add_fault(f"/v1/models/{MODEL}:streamGenerateContent", 503, count=1)
    with client(emulator) as api:
        chunks = list(api.stream_generate_content(MODEL, "hello stream"))
    assert len(chunks) > 1 and count(emulator, "faults") == 1


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The client addresses of the TCP connections the emulator accepts (one entry each)."""
    from gemini_oauth.emulator import _server as server

    accepted: list[object] = []
    setup = server._QuietHandler.setup  # runs once per accepted connection

    def counting_setup(handler: Any) -> None:
        accepted.append(handler.client_address)
        setup(handler)

    monkeypatch.setattr(server._QuietHandler, "setup", counting_setup)
    return accepted


def test_200_calls_over_one_pooled_connection(
    emulator: Emulator, connections: list[object]
) -> None:
    """Listing, 200 generate calls, a stream, a 404 and a retried 503 share one TCP connection."""
    creds = make_creds(emulator)
    emulator.control.add_fault(f"/v1/models/{MODEL}:generateContent", 503, count=1)
    del connections[:]  # the control calls above
    with GeminiClient(creds, base_url=emulator.base_url, initial_backoff=0) as api:
        assert list(api.iter_models(page_size=5))
        for n in range(200):
            assert text(api.generate_content(MODEL, f"call {n}"))
        assert len(list(api.stream_generate_content(MODEL, "a b c d e f g h i"))) > 1
        with pytest.raises(errors.NotFoundError):
            api.get_model("no-such-model")
        assert api.count_tokens(MODEL, "one two") == 2
    assert len(connections) == 1, connections
    assert count(emulator, "models.generateContent") == 200 and count(emulator, "faults") == 1


def test_async_calls_in_turn_share_one_connection(
    emulator: Emulator, connections: list[object]
) -> None:
    creds = make_creds(emulator)
    del connections[:]

    async def main() -> None:
        async with AsyncGeminiClient(creds, base_url=emulator.base_url) as api:
            assert api.base_url == emulator.base_url and api.credentials is creds
            for n in range(20):
                assert text(await api.generate_content(MODEL, f"call {n}"))
            assert [c async for c in api.stream_generate_content(MODEL, "a b c d e f")]
            with pytest.raises(errors.NotFoundError):
                await api.get_model("no-such-model")
            assert await api.count_tokens(MODEL, "one") == 1

    asyncio.run(main())
    assert len(connections) == 1, connections


def test_async_client(emulator: Emulator) -> None:
    async def main() -> None:
        emulator.control.add_fault("/v1/models", 503, count=1)
        async with AsyncGeminiClient(
            make_creds(emulator), base_url=emulator.base_url, sleep=no_wait_async
        ) as api:
            names = [m["name"] async for m in api.iter_models(page_size=7)]
            page = await api.list_models(page_size=1000)
            assert names == [m["name"] for m in page.models]
            assert (await api.get_model(MODEL))["name"] == f"models/{MODEL}"
            emulator.control.advance_clock(3601)
            reply = await api.generate_content(MODEL, "async hello")
            chunks = [c async for c in api.stream_generate_content(MODEL, "async hello")]
            assert "".join(map(text, chunks)) == text(reply)
            assert await api.count_tokens(MODEL, "a b") == 2
            results = await asyncio.gather(*(api.generate_content(MODEL, "x") for _ in range(5)))
            assert len(results) == 5
            with pytest.raises(errors.NotFoundError):
                await api.get_model("nope")

    asyncio.run(main())
    counters = emulator.control.counters()
    assert counters["faults"] == 1 and counters["token.refresh_token"] == 1
    assert counters["models.generateContent"] == 7  # 1 answered 401, then 1 + 5


def test_async_refresh_after_401_never_blocks_the_event_loop(
    emulator: Emulator, held_waits: HeldWaits
) -> None:
    """While one task's refresh after a 401 is held at the token endpoint, another task that
    needs headers waits without freezing the loop (the refresh runs in a thread; its lock must
    not be taken on the loop's thread): the loop itself is what lets the refresh finish."""
    creds = make_creds(emulator)  # no expiry: valid as far as the client knows

    async def main() -> None:
        async with AsyncGeminiClient(creds, base_url=emulator.base_url) as api:
            await api.get_model(MODEL)  # the connection and the refresh client exist
            emulator.control.advance_clock(3700)  # the server sees the token expired: a 401
            emulator.control.add_fault("/token", latency=0.8)  # a slow refresh, held
            first = asyncio.create_task(api.list_models())
            assert await asyncio.to_thread(held_waits.started)  # the refresh is held now
            second = asyncio.create_task(api.get_model(MODEL))
            await asyncio.sleep(0)  # second runs up to its wait for headers, then the loop ...
            assert not first.done() and not second.done()  # ... comes back here
            held_waits.release()  # from the loop: a frozen loop never gets here
            await asyncio.gather(first, second)

    asyncio.run(main())
    assert held_waits.requested == [0.8] and not held_waits.overran
    assert count(emulator, "token.refresh_token") == 1


def test_without_a_sleep_the_clients_wait_for_real() -> None:
    """The tests above inject the clients' sleep; a user's client really waits."""
    from gemini_oauth._retry import RetryPolicy

    creds = Credentials("placeholder-token")
    with GeminiClient(creds, base_url="http://127.0.0.1:9") as sync_api:
        assert sync_api._policy.sleep is time.sleep
    async_api = AsyncGeminiClient(creds, base_url="http://127.0.0.1:9")
    assert async_api._policy.async_sleep is RetryPolicy().async_sleep
    asyncio.run(async_api.aclose())


class socket_free_port:
    """A port on 127.0.0.1 with nothing listening: bound (so no one else takes it), never listened
    on, so connecting is refused until the block ends."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


def test_a_request_that_cannot_be_sent_is_not_sent_again(emulator: Emulator) -> None:
    """Finding 4: a local protocol error (here a token with a newline) was retried with backoff."""
    slept: list[float] = []
    token = "secret-part\nrest"
    api = GeminiClient(Credentials(token), base_url=emulator.base_url, sleep=slept.append)
    with api, pytest.raises(errors.GeminiOAuthError, match="was not sent") as info:
        api.list_models()
    assert not isinstance(info.value, errors.NetworkError) and slept == []
    assert "secret-part" not in str(info.value)
    assert emulator.control.counters().get("models.list", 0) == 0


def test_a_server_answering_200_with_html_is_a_typed_error() -> None:
    """A base URL that is not the Gemini API (a captive portal, a proxy page) is told apart."""
    import http.server
    import threading

    from google.oauth2.credentials import Credentials

    from gemini_oauth._client import GeminiClient
    from gemini_oauth.errors import ApiError

    class Portal(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>Sign in to the hotel wifi</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        creds = Credentials("portal-test-token")
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with (
            GeminiClient(creds, base_url=url, quota_project="") as api,
            pytest.raises(ApiError, match="HTTP 200 with a body that is not a JSON object"),
        ):
            api.list_models()
    finally:
        server.shutdown()
        server.server_close()
