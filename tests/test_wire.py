"""The Gemini REST shapes: contents, model names, answers, server-sent events (pure)."""

from __future__ import annotations

import pytest

from gemini_oauth._wire import (
    SseDecoder,
    event_error,
    generate_body,
    json_object,
    list_params,
    model_page,
    model_path,
    normalize_contents,
    text,
)


def test_normalize_contents_forms() -> None:
    user = {"role": "user", "parts": [{"text": "hi"}]}
    assert normalize_contents("hi") == [user]
    assert normalize_contents(user) == [user]
    assert normalize_contents({"text": "hi"}) == [user]
    model = {"role": "model", "parts": [{"text": "yo"}]}
    assert normalize_contents(["a", {"text": "b"}, model, "c"]) == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        model,
        {"role": "user", "parts": [{"text": "c"}]},
    ]


def test_model_path() -> None:
    assert model_path("gemini-x") == "models/gemini-x"
    assert model_path(" /models/gemini-x/ ") == "models/gemini-x"
    assert model_path("tunedModels/mine") == "tunedModels/mine"
    with pytest.raises(ValueError, match="empty"):
        model_path(" / ")


def test_request_shapes() -> None:
    assert list_params(None, None) == {}
    assert list_params(5, "t") == {"pageSize": 5, "pageToken": "t"}
    body = generate_body("hi", {"generationConfig": {"maxOutputTokens": 2}})
    assert body == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"maxOutputTokens": 2},
    }
    page = model_page({"models": [{"name": "models/a"}], "nextPageToken": ""})
    assert page.models == [{"name": "models/a"}] and page.next_page_token is None


def test_sse_decoder_multiline_and_comments() -> None:
    decoder = SseDecoder()
    lines = [": keep-alive", 'data: {"a":', "data: 1}", "", 'data: {"b": 2}']
    events = [e for e in map(decoder.feed, lines) if e is not None]
    assert events == [{"a": 1}]
    assert decoder.flush() == {"b": 2}
    assert decoder.flush() is None


def test_text_skips_thoughts() -> None:
    response = {
        "candidates": [{"content": {"parts": [{"text": "x", "thought": True}, {"text": "y"}]}}]
    }
    assert text(response) == "y"
    assert text({}) == ""


def test_event_error() -> None:
    assert event_error({"candidates": []}) is None
    assert event_error([1]) is None
    code, body = event_error({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}) or (0, "")
    assert code == 429 and '"RESOURCE_EXHAUSTED"' in body
    assert (event_error({"error": {}}) or (0, ""))[0] == 500


@pytest.mark.parametrize("body", [b"<html>hi</html>", b"[1, 2]", b'"text"', b"[" * 100_000, b""])
def test_an_answer_that_is_not_a_json_object_is_an_api_error(body: bytes) -> None:
    from gemini_oauth.errors import ApiError

    with pytest.raises(ApiError, match="not a JSON object") as info:
        json_object(body, 200)
    assert "--endpoint" in info.value.hint


def test_a_server_sent_event_that_is_not_json_is_an_api_error() -> None:
    from gemini_oauth.errors import ApiError

    decoder = SseDecoder()
    decoder.feed("data: {oops")
    with pytest.raises(ApiError, match="not a JSON object"):
        decoder.feed("")
