"""The Gemini (Generative Language) REST routes under ``/v1`` and ``/v1beta``: models.list,
models.get, generateContent, streamGenerateContent, countTokens, embedContent,
batchEmbedContents. (Files, uploads and cached contents have modules of their own.)

Each route authorizes first (``_gemini_auth.py``), then hands the body to the pure functions of
``_gemini_content.py``; errors are ``google.rpc.Status`` JSON (``_responses.ApiFault``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import flask

from gemini_oauth.emulator._caches import resolve_cache
from gemini_oauth.emulator._catalogue import find_model, list_models
from gemini_oauth.emulator._embeddings import batch_embed_response, embed_content_response
from gemini_oauth.emulator._files import resolve_file_parts
from gemini_oauth.emulator._gemini_auth import authorize
from gemini_oauth.emulator._gemini_content import (
    count_tokens_response,
    generate_chunks,
    parse_generate_request,
    with_context,
)
from gemini_oauth.emulator._paging import decode_page_token, encode_page_token, page_size
from gemini_oauth.emulator._responses import ApiFault, api_json, fault_response, json_object_body
from gemini_oauth.emulator._state import EmulatorState

_UNEMULATED = {
    "asyncBatchEmbedContent",
    "batchGenerateContent",
    "countTextTokens",
    "generateAnswer",
    "predict",
    "predictLongRunning",
}
#: Seconds between streamed chunks, so that clients really receive them one by one.
CHUNK_PAUSE = 0.01


def _not_found(version: str, model_id: str, action: str) -> ApiFault:
    return ApiFault(
        404,
        "NOT_FOUND",
        f"models/{model_id} is not found for API version {version}, or is not supported for "
        f"{action}. Call ListModels to see the list of available models and their supported "
        "methods.",
    )


def _method_not_allowed(allowed: str) -> ApiFault:
    return ApiFault(
        405,
        "METHOD_NOT_ALLOWED",
        f"The {flask.request.method} method is not allowed here; use {allowed}.",
        headers={"Allow": allowed},
    )


def register(app: flask.Flask, state: EmulatorState) -> None:
    """Add the Gemini endpoints under /v1 and /v1beta to ``app``."""
    versions = "<any(v1, v1beta):version>"
    all_methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    def list_view(version: str) -> flask.Response:
        state.count("models.list")
        try:
            if flask.request.method != "GET":
                raise _method_not_allowed("GET")
            authorize(state, version, "ListModels", write=False)
            size = page_size(
                flask.request.args.get("pageSize", flask.request.args.get("page_size"))
            )
            token = flask.request.args.get("pageToken", flask.request.args.get("page_token"))
            offset = decode_page_token(token, version, size) if token else 0
            models = list_models(version)
            body: dict[str, Any] = {"models": [m.to_json() for m in models[offset : offset + size]]}
            if offset + size < len(models):
                body["nextPageToken"] = encode_page_token(version, size, offset + size)
            return api_json(body)
        except ApiFault as fault:
            return fault_response(fault)

    def model_view(version: str, target: str) -> flask.Response:
        model_id, _, action = target.partition(":")
        counter = {
            "": "models.get",
            "generateContent": "models.generateContent",
            "streamGenerateContent": "models.streamGenerateContent",
            "countTokens": "models.countTokens",
            "embedContent": "models.embedContent",
            "batchEmbedContents": "models.batchEmbedContents",
        }.get(action)
        if counter:
            state.count(counter)
        try:
            if counter is None:
                if action in _UNEMULATED:
                    raise ApiFault(
                        501, "UNIMPLEMENTED", f"The emulator does not implement models.{action}."
                    )
                raise ApiFault(404, "NOT_FOUND", f"Method not found: models.{action}.")
            if (flask.request.method == "GET") != (action == ""):
                raise _method_not_allowed("GET" if action == "" else "POST")
            if action == "":
                authorize(state, version, "GetModel", write=False)
                model = find_model(version, model_id)
                if model is None:
                    raise _not_found(version, model_id, "GetModel")
                return api_json(model.to_json())
            rpc = action[0].upper() + action[1:]
            project = authorize(state, version, rpc, write=True)
            model = find_model(version, model_id)
            needs = {
                "streamGenerateContent": "generateContent",
                "batchEmbedContents": "embedContent",
            }.get(action, action)
            if model is None or needs not in model.methods:
                raise _not_found(version, model_id, action)
            body = json_object_body()
            if action == "countTokens":
                return api_json(count_tokens_response(body))
            if action == "embedContent":
                return api_json(embed_content_response(model, body))
            if action == "batchEmbedContents":
                return api_json(batch_embed_response(model, body))
            req = parse_generate_request(body, f"{rpc}Request")
            files = resolve_file_parts(state, project, req.file_uris)
            req = with_context(req, files, resolve_cache(state, project, model.name, req))
            if action == "generateContent":
                return api_json(generate_chunks(model, req, stream=False)[0])
            return _stream(state, generate_chunks(model, req, stream=True))
        except ApiFault as fault:
            return fault_response(fault)

    def unknown_view(version: str, rest: str) -> flask.Response:
        path = flask.request.path
        return fault_response(
            ApiFault(404, "NOT_FOUND", f"The requested URL {path} was not found on this server.")
        )

    app.add_url_rule(f"/{versions}/models", "gemini_models", list_view, methods=all_methods)
    app.add_url_rule(
        f"/{versions}/models/<path:target>", "gemini_model", model_view, methods=all_methods
    )
    app.add_url_rule(
        f"/{versions}/<path:rest>", "gemini_unknown", unknown_view, methods=all_methods
    )


def _stream(state: EmulatorState, chunks: list[dict[str, Any]]) -> flask.Response:
    """Stream chunks as SSE (``alt=sse``) or as one JSON array written piece by piece."""
    sse = flask.request.args.get("alt") == "sse"

    def pieces() -> Iterator[str]:
        if not sse:
            yield "["
        for i, chunk in enumerate(chunks):
            if i:
                state.sleep(CHUNK_PAUSE)
            if sse:
                yield f"data: {json.dumps(chunk, separators=(',', ':'))}\r\n\r\n"
            else:
                yield ("" if i == 0 else ",\r\n") + json.dumps(chunk, indent=2)
        if not sse:
            yield "]"

    content_type = "text/event-stream" if sse else "application/json; charset=UTF-8"
    response = flask.Response(pieces(), 200, content_type=content_type)
    response.headers["Vary"] = "Origin, X-Origin, Referer"
    return response
