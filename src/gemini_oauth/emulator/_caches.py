"""The cachedContents routes under ``/v1`` and ``/v1beta``: create, get, list (paged),
patch (``ttl`` or ``expireTime``) and delete; and how generateContent's ``cachedContent`` finds
its cache. Caches expire on the emulator's clock; replies depend on what a cache holds.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import flask

from gemini_oauth.emulator._catalogue import find_model
from gemini_oauth.emulator._files import resolve_file_parts, rfc3339
from gemini_oauth.emulator._gemini_auth import authorize
from gemini_oauth.emulator._gemini_content import GenerateRequest, parse_cache_contents
from gemini_oauth.emulator._paging import decode_page_token, encode_page_token, page_size
from gemini_oauth.emulator._records import CachedContent, Project, random_token
from gemini_oauth.emulator._responses import (
    ApiFault,
    api_json,
    fault_response,
    invalid_argument,
    json_object_body,
)
from gemini_oauth.emulator._state import EmulatorState

DEFAULT_TTL = 3600.0
#: The fewest tokens a cache may hold (Gemini 2.5 Flash's minimum).
MIN_TOKENS = 1024
_CREATE_FIELDS = {
    "model",
    "contents",
    "systemInstruction",
    "system_instruction",
    "tools",
    "toolConfig",
    "tool_config",
    "ttl",
    "expireTime",
    "expire_time",
    "displayName",
    "display_name",
    "name",
}
_DURATION = re.compile(r"(\d+(\.\d{1,9})?)s")


def _not_found() -> ApiFault:
    return ApiFault(403, "PERMISSION_DENIED", "CachedContent not found (or permission denied)")


def _expiry(body: dict[str, Any], now: float, default: float | None) -> float:
    """The new expireTime from ``ttl`` ("300s") or ``expireTime`` (RFC 3339), not both."""
    ttl = body.get("ttl")
    expire = body.get("expireTime", body.get("expire_time"))
    if ttl is not None and expire is not None:
        raise invalid_argument("Only one of ttl and expire_time may be set.", "expiration")
    if ttl is not None:
        match = _DURATION.fullmatch(str(ttl))
        if match is None or float(match.group(1)) <= 0:
            raise invalid_argument(
                f'Invalid value "{ttl}": a positive duration like "3600s".', "ttl"
            )
        return now + float(match.group(1))
    if expire is not None:
        try:
            when = datetime.datetime.fromisoformat(str(expire).replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise invalid_argument(f'Invalid value "{expire}".', "expire_time") from None
        if when <= now:
            raise invalid_argument("expire_time must be in the future.", "expire_time")
        return when
    if default is None:
        raise invalid_argument("ttl or expire_time must be set.", "expiration")
    return now + default


def cache_json(cache: CachedContent) -> dict[str, Any]:
    """Google's ``CachedContent`` resource (without its contents, as get and list answer)."""
    body: dict[str, Any] = {"name": f"cachedContents/{cache.id}", "model": cache.model}
    if cache.display_name:
        body["displayName"] = cache.display_name
    body.update(
        createTime=rfc3339(cache.created_at),
        updateTime=rfc3339(cache.updated_at),
        expireTime=rfc3339(cache.expires_at),
        usageMetadata={"totalTokenCount": cache.token_count},
    )
    return body


def _find(state: EmulatorState, project: Project, ident: str) -> CachedContent:
    with state.lock:
        now = state.now()
        for expired in [c for c in state.cached_contents.values() if c.expires_at <= now]:
            del state.cached_contents[expired.id]
        cache = state.cached_contents.get(ident.removeprefix("cachedContents/"))
        if cache is None or cache.project_id != project.id:
            raise _not_found()
        return cache


def resolve_cache(
    state: EmulatorState, project: Project, model_name: str, req: GenerateRequest
) -> tuple[str, int] | None:
    """(prompt, tokens) of the request's ``cachedContent``, or Google's error for it."""
    if req.cached_content is None:
        return None
    cache = _find(state, project, req.cached_content)
    if cache.model != model_name:
        raise invalid_argument(
            f"Model used by GenerateContent request ({model_name}) and CachedContent "
            f"({cache.model}) has to be the same."
        )
    if req.sets_instructions:
        raise invalid_argument(
            "CachedContent can not be used with GenerateContent request setting "
            "system_instruction, tools or tool_config.\n\nProposed fix: move those values to "
            "CachedContent from GenerateContent request."
        )
    return cache.prompt, cache.token_count


def register(app: flask.Flask, state: EmulatorState) -> None:
    """Add cachedContents create/get/list/patch/delete under /v1 and /v1beta."""
    versions = "<any(v1, v1beta):version>"

    def collection_view(version: str) -> flask.Response:
        listing = flask.request.method == "GET"
        state.count("cachedContents.list" if listing else "cachedContents.create")
        try:
            if listing:
                return _list(version)
            return _create(version)
        except ApiFault as fault:
            return fault_response(fault)

    def _list(version: str) -> flask.Response:
        project = authorize(state, version, "ListCachedContents", write=False)
        size = page_size(flask.request.args.get("pageSize", flask.request.args.get("page_size")))
        token = flask.request.args.get("pageToken", flask.request.args.get("page_token"))
        offset = decode_page_token(token, f"caches:{version}", size) if token else 0
        with state.lock:
            now = state.now()
            live = sorted(
                (
                    c
                    for c in state.cached_contents.values()
                    if c.project_id == project.id and c.expires_at > now
                ),
                key=lambda c: (c.created_at, c.id),
            )
        body: dict[str, Any] = {}
        if live[offset : offset + size]:
            body["cachedContents"] = [cache_json(c) for c in live[offset : offset + size]]
        if offset + size < len(live):
            body["nextPageToken"] = encode_page_token(f"caches:{version}", size, offset + size)
        return api_json(body)

    def _create(version: str) -> flask.Response:
        project = authorize(state, version, "CreateCachedContent", write=True)
        body = json_object_body()
        if unknown := sorted(set(body) - _CREATE_FIELDS):
            raise invalid_argument(
                f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
            )
        model_name = str(body.get("model") or "")
        if not model_name:
            raise invalid_argument("model must be set", "cached_content.model")
        model_id = model_name.removeprefix("models/")
        model = find_model(version, model_id)
        if model is None or "createCachedContent" not in model.methods:
            raise ApiFault(
                404,
                "NOT_FOUND",
                f"models/{model_id} is not found for API version {version}, or is not supported "
                "for createCachedContent. Call ListModels to see the list of available models "
                "and their supported methods.",
            )
        text, uris, tokens = parse_cache_contents(body)
        files = resolve_file_parts(state, project, uris)
        total = tokens + sum(t for _, t in files)
        if total < MIN_TOKENS:
            raise invalid_argument(
                f"Cached content is too small. total_token_count={total}, "
                f"min_total_token_count={MIN_TOKENS}"
            )
        with state.lock:
            now = state.now()
            cache = CachedContent(
                random_token("", 12).lower().replace("-", "0").replace("_", "1"),
                project.id,
                model.name,
                str(body.get("displayName") or body.get("display_name") or ""),
                now,
                now,
                _expiry(body, now, DEFAULT_TTL),
                "\n".join([text, *(marker for marker, _ in files)]),
                total,
            )
            state.cached_contents[cache.id] = cache
        return api_json(cache_json(cache))

    def item_view(version: str, ident: str) -> flask.Response:
        method = flask.request.method
        rpc = {"GET": "GetCachedContent", "PATCH": "UpdateCachedContent"}.get(
            method, "DeleteCachedContent"
        )
        state.count(f"cachedContents.{method.lower()}")
        try:
            project = authorize(state, version, rpc, write=method != "GET")
            cache = _find(state, project, ident)
            if method == "GET":
                return api_json(cache_json(cache))
            if method == "DELETE":
                with state.lock:
                    state.cached_contents.pop(cache.id, None)
                return api_json({})
            body = json_object_body()
            mask = flask.request.args.get("updateMask", flask.request.args.get("update_mask"))
            fields = {f.strip() for f in mask.split(",")} if mask else set(body)
            allowed = {"ttl", "expireTime", "expire_time"}
            if not fields <= allowed or not set(body) <= allowed | {"name", "model"}:
                raise invalid_argument(
                    "Only ttl or expire_time of a CachedContent can be updated.", "update_mask"
                )
            with state.lock:
                now = state.now()
                cache.expires_at = _expiry({k: body.get(k) for k in fields if k in body}, now, None)
                cache.updated_at = now
            return api_json(cache_json(cache))
        except ApiFault as fault:
            return fault_response(fault)

    app.add_url_rule(
        f"/{versions}/cachedContents", "caches", collection_view, methods=["GET", "POST"]
    )
    app.add_url_rule(
        f"/{versions}/cachedContents/<ident>",
        "caches_one",
        item_view,
        methods=["GET", "PATCH", "DELETE"],
    )
