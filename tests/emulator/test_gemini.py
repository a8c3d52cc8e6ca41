"""The emulator's Gemini endpoints over real HTTP: paging, models, generate, stream, count, auth."""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

import httpx
import pytest

from gemini_oauth.emulator import Emulator
from gemini_oauth.emulator._gemini import CHUNK_PAUSE

AUTH = "https://www.googleapis.com/auth/"
CLOUD = AUTH + "cloud-platform"
RETRIEVER = AUTH + "generative-language.retriever"
SERVICE = "generativelanguage.googleapis.com"
PROMPT = "Write a haiku about loopback sockets, please."
#: One pooled client for the module: a new httpx client per call costs more than the call.
HTTP = httpx.Client(timeout=10, trust_env=False)


def bearer(emulator: Emulator, scopes: list[str] | None = None) -> dict[str, str]:
    grant = emulator.control.issue_grant(scopes=scopes or [CLOUD, RETRIEVER])
    return {"Authorization": f"Bearer {grant['access_token']}"}


def call(
    emulator: Emulator,
    path: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
    **params: Any,
) -> httpx.Response:
    method = "GET" if body is None else "POST"
    content = body if isinstance(body, (str, bytes)) else None
    return HTTP.request(
        method,
        emulator.base_url + path,
        headers=headers,
        params=params,
        content=content,
        json=None if content is not None else body,
    )


def generate(
    emulator: Emulator, headers: dict[str, str], body: Any, model: str = "gemini-2.5-flash"
):  # type: ignore[no-untyped-def]
    return call(emulator, f"/v1beta/models/{model}:generateContent", headers, body)


def rpc_error(
    response: httpx.Response, code: int, status: str, reason: str | None = None
) -> dict[str, Any]:
    """Assert Google's error shape; return the ErrorInfo metadata."""
    assert response.status_code == code, response.text
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    info, localized = error["details"][:2]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert info["domain"] == "googleapis.com"
    assert info["metadata"]["service"] == SERVICE
    assert localized == {
        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
        "locale": "en-US",
        "message": error["message"],
    }
    if reason is not None:
        assert info["reason"] == reason
    return dict(info["metadata"])


def contents(text: str) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}]}


# ------------------------------------------------------------------------------------ models


def walk(
    emulator: Emulator, version: str, headers: dict[str, str], **params: Any
) -> list[list[str]]:
    pages: list[list[str]] = []
    token = None
    for _ in range(100):
        extra = dict(params, pageToken=token) if token else params
        response = call(emulator, f"/{version}/models", headers, **extra)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([m["name"] for m in body["models"]])
        token = body.get("nextPageToken")
        if token is None:
            return pages
        assert token
    raise AssertionError("paging never ended")


def test_list_walks_all_pages_and_v1beta_is_a_superset(emulator: Emulator) -> None:
    headers = bearer(emulator)
    v1 = walk(emulator, "v1", headers)
    v1beta = walk(emulator, "v1beta", headers)
    assert len(v1) >= 2 and all(len(page) == 50 for page in v1[:-1]) and 0 < len(v1[-1]) <= 50
    names_v1 = [n for page in v1 for n in page]
    names_beta = [n for page in v1beta for n in page]
    assert len(set(names_v1)) == len(names_v1) > 50
    assert set(names_v1) < set(names_beta)
    for expected in (
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
        "gemma-3-27b-it",
    ):
        assert f"models/{expected}" in names_v1
    assert "models/aqa" in names_beta and "models/aqa" not in names_v1
    small = walk(emulator, "v1", headers, pageSize=7)
    assert [n for page in small for n in page] == names_v1
    assert all(len(page) == 7 for page in small[:-1])
    assert emulator.control.counters()["models.list"] == len(v1) + len(v1beta) + len(small)


def test_page_size_is_clamped_and_validated(emulator: Emulator) -> None:
    headers = bearer(emulator)
    everything = call(emulator, "/v1beta/models", headers, pageSize=5000).json()
    assert "nextPageToken" not in everything and len(everything["models"]) > 50
    assert len(call(emulator, "/v1/models", headers, pageSize=0).json()["models"]) == 50
    message = rpc_error(call(emulator, "/v1/models", headers, pageSize=-1), 400, "INVALID_ARGUMENT")
    assert message["service"] == SERVICE
    rpc_error(call(emulator, "/v1/models", headers, pageSize="ten"), 400, "INVALID_ARGUMENT")


def test_bad_page_tokens_are_rejected(emulator: Emulator) -> None:
    headers = bearer(emulator)
    token = call(emulator, "/v1/models", headers, pageSize=10).json()["nextPageToken"]
    assert call(emulator, "/v1/models", headers, pageSize=10, pageToken=token).status_code == 200
    for params in (
        {"pageToken": "not-a-token"},
        {"pageToken": token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), "pageSize": 10},
        {"pageToken": token, "pageSize": 11},  # other parameters must match
        {"pageToken": token},
    ):
        response = call(emulator, "/v1/models", headers, **params)
        rpc_error(response, 400, "INVALID_ARGUMENT")
        assert "page token" in response.json()["error"]["message"]
    response = call(emulator, "/v1beta/models", headers, pageSize=10, pageToken=token)
    rpc_error(response, 400, "INVALID_ARGUMENT")


def test_get_model_and_not_found(emulator: Emulator) -> None:
    headers = bearer(emulator, [AUTH + "generative-language.tuning.readonly"])
    model = call(emulator, "/v1/models/gemini-2.5-flash", headers).json()
    assert model["name"] == "models/gemini-2.5-flash"
    assert model["baseModelId"] == "gemini-2.5-flash"
    assert model["inputTokenLimit"] > model["outputTokenLimit"] > 0
    assert "generateContent" in model["supportedGenerationMethods"]
    assert model["thinking"] is True
    assert {
        "version",
        "displayName",
        "description",
        "temperature",
        "maxTemperature",
        "topP",
        "topK",
    } <= set(model)
    response = call(emulator, "/v1/models/aqa", headers)
    rpc_error(response, 404, "NOT_FOUND")
    assert response.json()["error"]["message"].startswith(
        "models/aqa is not found for API version v1, or is not supported for"
    )
    assert call(emulator, "/v1beta/models/aqa", headers).status_code == 200
    assert emulator.control.counters()["models.get"] == 3


# ---------------------------------------------------------------------------------- generate


def test_generate_is_deterministic_and_names_prompt_and_model(emulator: Emulator) -> None:
    headers = bearer(emulator)
    first = generate(emulator, headers, contents(PROMPT))
    assert first.status_code == 200, first.text
    assert first.json() == generate(emulator, headers, contents(PROMPT)).json()
    body = first.json()
    (candidate,) = body["candidates"]
    text = candidate["content"]["parts"][0]["text"]
    digest = hashlib.sha256(f"gemini-2.5-flash\0{PROMPT}".encode()).hexdigest()[:12]
    assert digest in text and "gemini-2.5-flash" in text
    assert candidate["content"]["role"] == "model"
    assert (candidate["finishReason"], candidate["index"]) == ("STOP", 0)
    assert {r["probability"] for r in candidate["safetyRatings"]} == {"NEGLIGIBLE"}
    usage = body["usageMetadata"]
    assert usage["promptTokenCount"] == 9  # 7 words, "," and "."
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert body["modelVersion"] == "gemini-2.5-flash"
    other = generate(emulator, headers, contents(PROMPT + "!")).json()
    assert other["candidates"][0]["content"]["parts"][0]["text"] != text
    pro = generate(emulator, headers, contents(PROMPT), model="gemini-2.5-pro").json()
    assert pro["candidates"][0]["content"]["parts"][0]["text"] != text
    assert emulator.control.counters()["models.generateContent"] == 4


def test_max_output_tokens_and_candidate_count(emulator: Emulator) -> None:
    headers = bearer(emulator)
    full = generate(emulator, headers, contents(PROMPT)).json()["candidates"][0]
    body = contents(PROMPT) | {"generationConfig": {"maxOutputTokens": 3, "candidateCount": 3}}
    reply = generate(emulator, headers, body).json()
    assert [c["index"] for c in reply["candidates"]] == [0, 1, 2]
    texts = [c["content"]["parts"][0]["text"] for c in reply["candidates"]]
    assert [len(t.split()) for t in texts] == [3, 3, 3]  # three one-token words
    assert full["content"]["parts"][0]["text"].startswith(texts[0] + " ")
    assert {c["finishReason"] for c in reply["candidates"]} == {"MAX_TOKENS"}
    assert reply["usageMetadata"]["candidatesTokenCount"] <= 9
    wide = generate(
        emulator, headers, contents(PROMPT) | {"generation_config": {"candidate_count": 2}}
    )
    texts = [c["content"]["parts"][0]["text"] for c in wide.json()["candidates"]]
    assert len(set(texts)) == 2


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("{not json", "Invalid JSON payload"),
        ("[1, 2]", "Invalid JSON payload"),
        ({}, "contents is not specified"),
        ({"contents": []}, "contents is not specified"),
        ({"contents": [{"parts": []}]}, "parts must not be empty"),
        ({"contents": [{"parts": [{"inline": "x"}]}]}, "contents[0].parts[0].text"),
        ({"contents": [{"role": "robot", "parts": [{"text": "hi"}]}]}, "valid role"),
        (contents("hi") | {"bogus": 1}, 'Unknown name "bogus"'),
        (contents("hi") | {"generationConfig": {"candidateCount": 9}}, "range [1, 8]"),
        (contents("hi") | {"generationConfig": {"maxOutputTokens": 0}}, "positive integer"),
    ],
)
def test_generate_rejects_bad_requests(emulator: Emulator, body: Any, needle: str) -> None:
    response = generate(emulator, bearer(emulator), body)
    rpc_error(response, 400, "INVALID_ARGUMENT")
    assert needle in response.json()["error"]["message"]


def test_generate_on_an_embedding_model_is_refused(emulator: Emulator) -> None:
    response = generate(emulator, bearer(emulator), contents("hi"), model="text-embedding-004")
    rpc_error(response, 404, "NOT_FOUND")
    assert "not supported for generateContent" in response.json()["error"]["message"]
    response = call(emulator, "/v1/models/nope-1:countTokens", bearer(emulator), contents("x"))
    rpc_error(response, 404, "NOT_FOUND")


def test_stream_sse_arrives_incrementally(emulator: Emulator) -> None:
    """The first chunk reaches the client while the emulator still holds back the rest."""
    pauses: list[float] = []
    release, held_too_long = threading.Event(), threading.Event()

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if not release.wait(10):  # only a stream buffered whole would keep the client waiting
            held_too_long.set()
            release.set()

    headers = bearer(emulator)
    whole = generate(emulator, headers, contents(PROMPT)).json()
    emulator.state.sleep = pause
    url = emulator.base_url + "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    chunks: list[dict[str, Any]] = []
    with HTTP.stream(
        "POST", url, params={"alt": "sse"}, headers=headers, json=contents(PROMPT), timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                chunks.append(json.loads(line[6:]))
                release.set()  # the first chunk came while the second was still held back
    assert not held_too_long.is_set()
    assert len(chunks) >= 3 and pauses == [CHUNK_PAUSE] * (len(chunks) - 1)
    text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    assert text == whole["candidates"][0]["content"]["parts"][0]["text"]
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    last = chunks[-1]
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"] == whole["usageMetadata"]
    assert emulator.control.counters()["models.streamGenerateContent"] == 1


def test_stream_without_sse_is_a_json_array(emulator: Emulator) -> None:
    headers = bearer(emulator)
    path = "/v1/models/gemini-2.0-flash:streamGenerateContent"
    response = call(emulator, path, headers, contents(PROMPT))
    assert response.headers["content-type"].startswith("application/json")
    array = response.json()
    assert isinstance(array, list) and len(array) >= 3
    sse = HTTP.post(
        emulator.base_url + path, params={"alt": "sse"}, headers=headers, json=contents(PROMPT)
    )
    events = [json.loads(x[6:]) for x in sse.text.split("\r\n\r\n") if x.startswith("data: ")]
    assert events == array


def test_count_tokens(emulator: Emulator) -> None:
    headers = bearer(emulator)
    path = "/v1beta/models/gemini-2.5-pro:countTokens"
    response = call(emulator, path, headers, contents("Hello, world! Two words."))
    assert response.json()["totalTokens"] == 7
    wrapped = {
        "generateContentRequest": {"model": "models/gemini-2.5-pro"} | contents("Hello, world!")
    }
    assert call(emulator, path, headers, wrapped).json()["totalTokens"] == 4
    rpc_error(call(emulator, path, headers, wrapped | contents("x")), 400, "INVALID_ARGUMENT")
    rpc_error(call(emulator, path, headers, {}), 400, "INVALID_ARGUMENT")
    assert emulator.control.counters()["models.countTokens"] == 4


# -------------------------------------------------------------------------------------- auth


def test_api_key_auth(emulator: Emulator) -> None:
    assert call(emulator, "/v1/models", {"x-goog-api-key": emulator.api_key}).status_code == 200
    assert call(emulator, "/v1/models", key=emulator.api_key).status_code == 200
    response = call(emulator, "/v1/models", {"x-goog-api-key": "wrong-key"})
    rpc_error(response, 400, "INVALID_ARGUMENT", "API_KEY_INVALID")
    assert response.json()["error"]["message"] == "API key not valid. Please pass a valid API key."
    both = bearer(emulator) | {"x-goog-api-key": emulator.api_key}
    response = call(emulator, "/v1/models", both)
    rpc_error(response, 400, "INVALID_ARGUMENT")
    assert "Multiple authentication credentials" in response.json()["error"]["message"]


def test_missing_unknown_revoked_and_expired_tokens(emulator: Emulator) -> None:
    def unauthenticated(headers: dict[str, str], reason: str) -> str:
        response = generate(emulator, headers, contents("hi"))
        rpc_error(response, 401, "UNAUTHENTICATED", reason)
        assert response.headers["www-authenticate"] == (
            'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        )
        return str(response.json()["error"]["message"])

    missing = generate(emulator, {}, contents("hi"))  # neither key nor token: Google's bare 403
    assert missing.status_code == 403 and missing.json() == {
        "error": {
            "code": 403,
            "message": "Method doesn't allow unregistered callers (callers without established "
            "identity). Please use API Key or other form of API consumer identity to call this "
            "API.",
            "status": "PERMISSION_DENIED",
        }
    }
    fake = "ya29." + "emu.unknown"
    assert unauthenticated(
        {"Authorization": f"Bearer {fake}"}, "ACCESS_TOKEN_TYPE_UNSUPPORTED"
    ).startswith("Request had invalid authentication credentials.")
    grant = emulator.control.issue_grant(scopes=[CLOUD])
    revoked = {"Authorization": f"Bearer {grant['access_token']}"}
    assert generate(emulator, revoked, contents("hi")).status_code == 200
    assert (
        HTTP.post(emulator.base_url + "/revoke", data={"token": grant["refresh_token"]}).status_code
        == 200
    )
    unauthenticated(revoked, "ACCESS_TOKEN_TYPE_UNSUPPORTED")
    expiring = bearer(emulator)
    emulator.control.advance_clock(3601)
    unauthenticated(expiring, "ACCESS_TOKEN_EXPIRED")


def test_scopes_per_method(emulator: Emulator) -> None:
    readonly = bearer(emulator, [AUTH + "generative-language.retriever.readonly"])
    assert call(emulator, "/v1beta/models", readonly).status_code == 200
    response = generate(emulator, readonly, contents("hi"))
    metadata = rpc_error(response, 403, "PERMISSION_DENIED", "ACCESS_TOKEN_SCOPE_INSUFFICIENT")
    assert (
        metadata["method"]
        == "google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent"
    )
    assert response.json()["error"]["message"] == "Request had insufficient authentication scopes."
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and AUTH + "generative-language" in challenge
    identity = bearer(emulator, ["openid", AUTH + "userinfo.email"])
    metadata = rpc_error(call(emulator, "/v1/models", identity), 403, "PERMISSION_DENIED")
    assert metadata["method"] == "google.ai.generativelanguage.v1.ModelService.ListModels"
    for scope in ("generative-language", "generative-language.tuning", "cloud-platform"):
        assert (
            generate(emulator, bearer(emulator, [AUTH + scope]), contents("hi")).status_code == 200
        )


def test_quota_project_header(emulator: Emulator) -> None:
    headers = bearer(emulator)
    ok = call(emulator, "/v1/models", headers | {"x-goog-user-project": emulator.project_id})
    assert ok.status_code == 200
    emulator.control.set_project("other-project", 2000000000002, members=["x@example.com"])
    for project in ("no-such-project", "other-project"):
        response = call(emulator, "/v1/models", headers | {"x-goog-user-project": project})
        metadata = rpc_error(response, 403, "PERMISSION_DENIED", "USER_PROJECT_DENIED")
        assert metadata["consumer"] == f"projects/{project}"
        assert response.json()["error"]["message"].startswith(
            f"Caller does not have required permission to use project {project}."
        )


def test_service_disabled(emulator: Emulator) -> None:
    headers = bearer(emulator)
    number = emulator.project_number
    emulator.control.set_project(emulator.project_id, number, api_enabled=False)
    for response in (
        call(emulator, "/v1/models", headers),
        generate(emulator, {"x-goog-api-key": emulator.api_key}, contents("hi")),
    ):
        metadata = rpc_error(response, 403, "PERMISSION_DENIED", "SERVICE_DISABLED")
        assert metadata["consumer"] == f"projects/{number}"
        assert metadata["activationUrl"].endswith(f"overview?project={number}")
        assert metadata["serviceTitle"] == "Generative Language API"
        assert response.json()["error"]["message"].startswith(
            f"Generative Language API has not been used in project {number} before"
        )


def test_unknown_routes_and_wrong_methods(emulator: Emulator) -> None:
    headers = bearer(emulator)
    rpc_error(call(emulator, "/v1/nothing/here", headers), 404, "NOT_FOUND")
    rpc_error(call(emulator, "/v1beta/models/gemini-2.5-flash:fly", headers, {}), 404, "NOT_FOUND")
    response = call(emulator, "/v1/models", headers, {})
    assert response.status_code == 405 and response.headers["allow"] == "GET"
    rpc_error(response, 405, "METHOD_NOT_ALLOWED")
    rpc_error(
        call(emulator, "/v1/models/gemini-2.5-flash:generateContent", headers),
        405,
        "METHOD_NOT_ALLOWED",
    )
    assert call(emulator, "/v1/models/gemini-2.5-flash:predict", headers, {}).status_code == 501
    # embedContent is emulated now: a generative model does not support it, as Google says.
    rpc_error(
        call(emulator, "/v1/models/gemini-2.5-flash:embedContent", headers, {}), 404, "NOT_FOUND"
    )


def test_google_genai_sdk_speaks_to_the_emulator(emulator: Emulator) -> None:
    """The official SDK, unchanged but for its base URL: pager, unary, stream, count, errors."""
    genai = pytest.importorskip("google.genai")
    options = genai.types.HttpOptions(base_url=emulator.base_url, api_version="v1beta")
    client = genai.Client(api_key=emulator.api_key, http_options=options)
    names = [m.name for m in client.models.list()]
    assert len(names) == len(set(names)) > 50
    assert emulator.control.counters()["models.list"] >= 2  # the pager followed nextPageToken
    reply = client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
    assert reply.text is not None and "gemini-2.5-flash" in reply.text
    assert reply.usage_metadata is not None and reply.usage_metadata.prompt_token_count == 9
    pieces = [
        c.text
        for c in client.models.generate_content_stream(model="gemini-2.5-flash", contents=PROMPT)
    ]
    assert len(pieces) >= 3 and "".join(p or "" for p in pieces) == reply.text
    assert client.models.count_tokens(model="gemini-2.5-flash", contents=PROMPT).total_tokens == 9
    with pytest.raises(genai.errors.ClientError) as caught:
        client.models.get(model="no-such-model")
    assert caught.value.code == 404
