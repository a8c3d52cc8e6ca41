"""GenerateContent and CountTokens as pure functions: request validation as Google does it, and
deterministic replies (every reply carries ``sha256(model + "\\0" + prompt)[:12]``).

Nothing here touches the request: the routes (``_gemini.py``) pass bodies in and send what
comes out.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import Any

from gemini_oauth.emulator._catalogue import ModelInfo
from gemini_oauth.emulator._responses import invalid_argument

_WORDS_PER_CHUNK = 4
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """Emulated tokenizer: one token per word and per punctuation mark."""
    return len(_TOKEN_RE.findall(text))


def prompt_digest(model_id: str, prompt: str) -> str:
    """The 12-hex-digit digest every reply to ``prompt`` on ``model_id`` carries."""
    return hashlib.sha256(f"{model_id}\0{prompt}".encode()).hexdigest()[:12]


def reply_words(model_id: str, prompt: str, index: int = 0) -> list[str]:
    """The full deterministic reply (as words) of candidate ``index`` to ``prompt``."""
    head = f"Emulated reply {prompt_digest(model_id, prompt)} from {model_id}"
    if index:
        head += f" candidate {index}"
    echo = " ".join(prompt.split()[:8]) or "nothing"
    text = f"{head}: your prompt had {count_tokens(prompt)} tokens and began with {echo}"
    return text.split()


def truncate(words: list[str], max_tokens: int | None) -> tuple[list[str], bool]:
    """The longest prefix of ``words`` within ``max_tokens``; and whether it was cut."""
    if max_tokens is None:
        return words, False
    kept: list[str] = []
    used = 0
    for word in words:
        used += count_tokens(word)
        if used > max_tokens:
            return kept, True
        kept.append(word)
    return kept, False


def _text_of(contents: list[dict[str, Any]]) -> str:
    return "\n".join(p["text"] for c in contents for p in c.get("parts", []) if "text" in p)


_REQUEST_FIELDS = {
    "contents": "contents",
    "generationConfig": "generationConfig",
    "generation_config": "generationConfig",
    "safetySettings": "safetySettings",
    "safety_settings": "safetySettings",
    "systemInstruction": "systemInstruction",
    "system_instruction": "systemInstruction",
    "tools": "tools",
    "toolConfig": "toolConfig",
    "tool_config": "toolConfig",
    "cachedContent": "cachedContent",
    "cached_content": "cachedContent",
    "model": "model",
    "labels": "labels",
}


@dataclass(frozen=True)
class GenerateRequest:
    """A validated GenerateContentRequest, reduced to what the emulator uses.

    ``file_uris`` are the ``fileData`` parts, in order: the route resolves them and folds their
    content hashes into ``prompt`` (:func:`with_context`), so replies depend on the bytes.
    """

    prompt: str
    prompt_tokens: int
    candidate_count: int
    max_output_tokens: int | None
    file_uris: tuple[str, ...] = ()
    cached_content: str | None = None
    sets_instructions: bool = False  # systemInstruction, tools or toolConfig (not with a cache)
    cached_tokens: int = 0


def file_tokens(mime_type: str, size: int) -> int:
    """Emulated token count of a file: 258 an image (as Gemini counts one), else 4 bytes a token."""
    return 258 if mime_type.startswith("image/") else max(1, size // 4)


def file_marker(mime_type: str, sha256: str) -> str:
    """How a file stands in the prompt a reply is derived from."""
    return f"[file {mime_type} sha256:{sha256[:16]}]"


def with_context(
    req: GenerateRequest, files: list[tuple[str, int]], cached: tuple[str, int] | None = None
) -> GenerateRequest:
    """``req`` with its resolved files (marker, tokens) and cached content (prompt, tokens)."""
    pieces = [cached[0]] if cached else []
    pieces += [req.prompt] if req.prompt else []
    pieces += [marker for marker, _ in files]
    cached_tokens = cached[1] if cached else 0
    return replace(
        req,
        prompt="\n".join(pieces),
        prompt_tokens=req.prompt_tokens + sum(t for _, t in files) + cached_tokens,
        cached_tokens=cached_tokens,
    )


def file_uris_of(contents: list[dict[str, Any]]) -> tuple[str, ...]:
    """The ``fileData.fileUri`` of every part, in order."""
    uris = []
    for content in contents:
        for part in content.get("parts", []):
            data = part.get("fileData", part.get("file_data"))
            if isinstance(data, dict):
                uris.append(str(data.get("fileUri", data.get("file_uri", ""))))
    return tuple(uris)


def _check_contents(contents: Any, where: str) -> list[dict[str, Any]]:
    if contents is None or contents == []:
        raise invalid_argument("contents is not specified", where)
    if not isinstance(contents, list):
        raise invalid_argument("must be a list of Content objects", where)
    for i, content in enumerate(contents):
        _check_content(content, f"{where}[{i}]")
    return contents


def _check_content(content: Any, where: str) -> None:
    if not isinstance(content, dict):
        raise invalid_argument("must be a Content object", where)
    role = content.get("role")
    if role not in (None, "", "user", "model", "function"):
        raise invalid_argument("Please use a valid role: user, model.", f"{where}.role")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise invalid_argument("contents.parts must not be empty.", f"{where}.parts")
    for j, part in enumerate(parts):
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            continue
        data = part.get("fileData", part.get("file_data")) if isinstance(part, dict) else None
        if data is None:
            raise invalid_argument("a text part is required", f"{where}.parts[{j}].text")
        uri = data.get("fileUri", data.get("file_uri")) if isinstance(data, dict) else None
        if not isinstance(uri, str) or not uri:
            raise invalid_argument(
                "file_uri must not be empty", f"{where}.parts[{j}].file_data.file_uri"
            )


def parse_generate_request(body: dict[str, Any], where: str) -> GenerateRequest:
    """Validate a GenerateContentRequest (camelCase or snake_case keys), as Google does."""
    request: dict[str, Any] = {}
    for key, value in body.items():
        if key not in _REQUEST_FIELDS:
            raise invalid_argument(
                f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
            )
        request[_REQUEST_FIELDS[key]] = value
    contents = _check_contents(request.get("contents"), f"{where}.contents")
    system = request.get("systemInstruction")
    prompt = _text_of(contents)
    tokens = count_tokens(prompt)
    if system is not None:
        _check_content(system, f"{where}.system_instruction")
        tokens += count_tokens(_text_of([system]))
    config = request.get("generationConfig") or {}
    if not isinstance(config, dict):
        raise invalid_argument("must be a GenerationConfig object", f"{where}.generation_config")
    count = config.get("candidateCount", config.get("candidate_count", 1))
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 8:
        raise invalid_argument(
            "must be in the range [1, 8]", f"{where}.generation_config.candidate_count"
        )
    limit = config.get("maxOutputTokens", config.get("max_output_tokens"))
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise invalid_argument(
            "must be a positive integer", f"{where}.generation_config.max_output_tokens"
        )
    cached = request.get("cachedContent")
    if cached is not None and not isinstance(cached, str):
        raise invalid_argument("must be a string", f"{where}.cached_content")
    uris = file_uris_of(contents)
    sets_instructions = any(
        request.get(k) is not None for k in ("systemInstruction", "tools", "toolConfig")
    )
    return GenerateRequest(prompt, tokens, count, limit, uris, cached or None, sets_instructions)


def _safety() -> list[dict[str, str]]:
    categories = ("HARASSMENT", "HATE_SPEECH", "SEXUALLY_EXPLICIT", "DANGEROUS_CONTENT")
    return [{"category": f"HARM_CATEGORY_{c}", "probability": "NEGLIGIBLE"} for c in categories]


def _candidate(index: int, text: str, finish: str | None) -> dict[str, Any]:
    content: dict[str, Any] = {"role": "model"}
    if text:
        content["parts"] = [{"text": text}]
    candidate: dict[str, Any] = {"content": content, "index": index}
    if finish is not None:
        candidate.update(finishReason=finish, safetyRatings=_safety())
    return candidate


def generate_chunks(
    model: ModelInfo, req: GenerateRequest, *, stream: bool
) -> list[dict[str, Any]]:
    """GenerateContentResponse objects: one (unary) or several pieces of the same text (stream)."""
    replies = []
    for index in range(req.candidate_count):
        words, cut = truncate(reply_words(model.id, req.prompt, index), req.max_output_tokens)
        replies.append((words, "MAX_TOKENS" if cut else "STOP"))
    output_tokens = sum(count_tokens(" ".join(words)) for words, _ in replies)
    size = _WORDS_PER_CHUNK if stream else 1 << 30
    n_chunks = max(1, *(-(-len(words) // size) for words, _ in replies))
    response_id = prompt_digest(model.id + "#response", req.prompt)
    chunks = []
    for k in range(n_chunks):
        last = k == n_chunks - 1
        candidates = []
        for index, (words, finish) in enumerate(replies):
            piece = " ".join(words[k * size : (k + 1) * size])
            if piece and not last and (k + 1) * size < len(words):
                piece += " "
            if piece or last:
                candidates.append(_candidate(index, piece, finish if last else None))
        chunk: dict[str, Any] = {"candidates": candidates}
        if last:
            chunk["usageMetadata"] = {
                "promptTokenCount": req.prompt_tokens,
                "candidatesTokenCount": output_tokens,
                "totalTokenCount": req.prompt_tokens + output_tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": req.prompt_tokens}],
            }
            if req.cached_tokens:
                chunk["usageMetadata"]["cachedContentTokenCount"] = req.cached_tokens
        chunk.update(modelVersion=model.id, responseId=response_id)
        chunks.append(chunk)
    return chunks


def count_tokens_response(body: dict[str, Any]) -> dict[str, Any]:
    """CountTokensResponse for ``{contents}`` or ``{generateContentRequest}`` (not both)."""
    wrapped = body.get("generateContentRequest", body.get("generate_content_request"))
    if wrapped is not None and "contents" in body:
        raise invalid_argument("contents and generate_content_request must not both be set.")
    if wrapped is not None:
        if not isinstance(wrapped, dict):
            raise invalid_argument(
                "must be a GenerateContentRequest object", "generate_content_request"
            )
        total = parse_generate_request(wrapped, "generate_content_request").prompt_tokens
    else:
        extra = set(body) - {"contents"}
        if extra:
            name = sorted(extra)[0]
            raise invalid_argument(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
            )
        total = count_tokens(_text_of(_check_contents(body.get("contents"), "contents")))
    return {
        "totalTokens": total,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}],
    }


def parse_cache_contents(body: dict[str, Any]) -> tuple[str, tuple[str, ...], int]:
    """A CachedContent's ``contents`` and ``systemInstruction``: (text, file URIs, text tokens)."""
    contents = body.get("contents") or []
    if contents:
        _check_contents(contents, "cached_content.contents")
    pieces = [_text_of(contents)] if contents else []
    system = body.get("systemInstruction", body.get("system_instruction"))
    if system is not None:
        _check_content(system, "cached_content.system_instruction")
        pieces.insert(0, _text_of([system]))
    if not contents and system is None:
        raise invalid_argument("contents or system_instruction must be set", "cached_content")
    text = "\n".join(pieces)
    return text, file_uris_of(contents), count_tokens(text)
