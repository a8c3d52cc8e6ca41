"""The Gemini REST shapes, without I/O: model names, request bodies, answers, server-sent events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gemini_oauth import __version__
from gemini_oauth.errors import ApiError

USER_AGENT = f"gemini-oauth/{__version__}"

#: A prompt, a Content dict, or a list of Contents, parts and strings.
Contents = str | list[Any] | dict[str, Any]


@dataclass(frozen=True)
class ModelPage:
    """One page of ``models.list``."""

    models: list[dict[str, Any]]
    next_page_token: str | None = None


def model_page(data: Mapping[str, Any]) -> ModelPage:
    """A ``models.list`` answer as a ModelPage."""
    return ModelPage(list(data.get("models") or []), data.get("nextPageToken") or None)


@dataclass(frozen=True)
class FilePage:
    """One page of ``files.list``."""

    files: list[dict[str, Any]]
    next_page_token: str | None = None


@dataclass(frozen=True)
class CachedContentPage:
    """One page of ``cachedContents.list``."""

    cached_contents: list[dict[str, Any]]
    next_page_token: str | None = None


def file_page(data: Mapping[str, Any]) -> FilePage:
    return FilePage(list(data.get("files") or []), data.get("nextPageToken") or None)


def cached_content_page(data: Mapping[str, Any]) -> CachedContentPage:
    return CachedContentPage(
        list(data.get("cachedContents") or []), data.get("nextPageToken") or None
    )


def resource_path(collection: str, name: str) -> str:
    """``abc``, ``files/abc`` or a file's ``uri`` -> ``files/abc`` (for ``collection`` files)."""
    name = name.strip().strip("/")
    marker = f"/{collection}/"
    if marker in name:
        name = name.rsplit(marker, 1)[1]
    name = name.removeprefix(f"{collection}/")
    if not name or "/" in name:
        raise ValueError(f"not a {collection} name: {name!r}")
    return f"{collection}/{name}"


def embed_request(
    model: str,
    content: str | dict[str, Any],
    *,
    task_type: str | None = None,
    title: str | None = None,
    output_dimensionality: int | None = None,
) -> dict[str, Any]:
    """One EmbedContentRequest (REST names)."""
    body: dict[str, Any] = {
        "model": model_path(model),
        "content": {"parts": [{"text": content}]} if isinstance(content, str) else content,
    }
    if task_type:
        body["taskType"] = task_type
    if title:
        body["title"] = title
    if output_dimensionality:
        body["outputDimensionality"] = output_dimensionality
    return body


def duration(seconds: float) -> str:
    """A protobuf Duration in JSON (``"300s"``)."""
    return f"{seconds:.9g}s"


def list_params(page_size: int | None, page_token: str | None) -> dict[str, Any]:
    """The query of ``models.list``."""
    params: dict[str, Any] = {}
    if page_size:
        params["pageSize"] = page_size
    if page_token:
        params["pageToken"] = page_token
    return params


def model_path(name: str) -> str:
    """``gemini-x`` -> ``models/gemini-x``; names with a collection (``tunedModels/x``) stay."""
    name = name.strip().strip("/")
    if not name:
        raise ValueError("empty model name")
    return name if "/" in name else f"models/{name}"


def normalize_contents(contents: Contents) -> list[dict[str, Any]]:
    """A prompt, a Content dict, or a list of Contents/parts/strings -> a list of Contents."""
    if isinstance(contents, str):
        return [{"role": "user", "parts": [{"text": contents}]}]
    if isinstance(contents, dict):
        return [contents] if "parts" in contents else [{"role": "user", "parts": [contents]}]
    result: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for item in contents:
        if isinstance(item, dict) and "parts" in item:
            if pending:
                result.append({"role": "user", "parts": pending})
                pending = []
            result.append(item)
        else:
            pending.append({"text": item} if isinstance(item, str) else item)
    if pending:
        result.append({"role": "user", "parts": pending})
    return result


def generate_body(contents: Contents, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``generateContent`` / ``streamGenerateContent``; ``fields`` in REST names."""
    return {"contents": normalize_contents(contents), **fields}


def count_body(contents: Contents) -> dict[str, Any]:
    """The body of ``countTokens``."""
    return {"contents": normalize_contents(contents)}


def text(response: Mapping[str, Any]) -> str:
    """The answer text of a generateContent response (first candidate, thoughts left out)."""
    candidates = response.get("candidates") or [{}]
    parts = (candidates[0].get("content") or {}).get("parts") or []
    return "".join(p.get("text", "") for p in parts if not p.get("thought"))


def event_error(event: Any) -> tuple[int, str] | None:
    """A stream event that is an error (``{"error": google.rpc.Status}``): its code and JSON."""
    if isinstance(event, dict) and isinstance(event.get("error"), dict):
        return int(event["error"].get("code") or 500), json.dumps(event)
    return None


class SseDecoder:
    """Server-sent events (WHATWG HTML §9.2) -> JSON objects, one line at a time."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> Any | None:
        """Take one line (without its newline); return a decoded event when one completes."""
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None

    def flush(self) -> Any | None:
        """The pending event, if any (also at end of stream)."""
        if not self._data:
            return None
        payload, self._data = "\n".join(self._data), []
        return json_object(payload, 200)


def json_object(body: bytes | str, status: int) -> dict[str, Any]:
    """A successful answer's JSON object; anything else is an ApiError (not the Gemini API)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise ApiError(
            f"The API answered HTTP {status} with a body that is not a JSON object.",
            code=status,
            hint="Check that --endpoint (or GOOGLE_GEMINI_BASE_URL) is the Gemini API, then try "
            "again.",
        )
    return data


__all__ = [
    "USER_AGENT",
    "CachedContentPage",
    "Contents",
    "FilePage",
    "ModelPage",
    "SseDecoder",
    "cached_content_page",
    "count_body",
    "duration",
    "embed_request",
    "event_error",
    "file_page",
    "generate_body",
    "json_object",
    "list_params",
    "model_page",
    "model_path",
    "normalize_contents",
    "resource_path",
    "text",
]
