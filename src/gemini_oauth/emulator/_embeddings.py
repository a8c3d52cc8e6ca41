"""EmbedContent and BatchEmbedContents as pure functions: validation as Google does it, and
deterministic unit vectors of the model's dimension (from a hash of model, task and text).
"""

from __future__ import annotations

import hashlib
import math
import struct
from typing import Any

from gemini_oauth.emulator._catalogue import ModelInfo
from gemini_oauth.emulator._gemini_content import count_tokens
from gemini_oauth.emulator._responses import invalid_argument

#: Output dimensions by model (the default when outputDimensionality is not set).
DIMENSIONS = {
    "gemini-embedding-001": 3072,
    "gemini-embedding-exp": 3072,
    "gemini-embedding-exp-03-07": 3072,
    "text-embedding-004": 768,
    "embedding-001": 768,
}
TASK_TYPES = frozenset(
    {
        "TASK_TYPE_UNSPECIFIED",
        "RETRIEVAL_QUERY",
        "RETRIEVAL_DOCUMENT",
        "SEMANTIC_SIMILARITY",
        "CLASSIFICATION",
        "CLUSTERING",
        "QUESTION_ANSWERING",
        "FACT_VERIFICATION",
        "CODE_RETRIEVAL_QUERY",
    }
)
MAX_BATCH = 100
_FIELDS = {
    "model": "model",
    "content": "content",
    "taskType": "taskType",
    "task_type": "taskType",
    "title": "title",
    "outputDimensionality": "outputDimensionality",
    "output_dimensionality": "outputDimensionality",
    "autoTruncate": "autoTruncate",
    "auto_truncate": "autoTruncate",
    "embedContentConfig": "embedContentConfig",
    "embed_content_config": "embedContentConfig",
}


def vector(model_id: str, task: str, text: str, dimension: int) -> list[float]:
    """A deterministic unit vector: SHA-256 in counter mode, the first ``dimension`` values."""
    seed = hashlib.sha256(f"{model_id}\0{task}\0{text}".encode()).digest()
    raw: list[float] = []
    counter = 0
    while len(raw) < dimension:
        block = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        raw += [v / 2**31 for v in struct.unpack(">8i", block)]
        counter += 1
    values = raw[:dimension]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 7) for v in values]


def _request(body: dict[str, Any], where: str) -> dict[str, Any]:
    request: dict[str, Any] = {}
    for key, value in body.items():
        if key not in _FIELDS:
            raise invalid_argument(
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': "
                "Cannot find field."
            )
        request[_FIELDS[key]] = value
    config = request.pop("embedContentConfig", None)
    if isinstance(config, dict):  # the newer nested form of the same fields
        request.update({_FIELDS[k]: v for k, v in config.items() if k in _FIELDS})
    return request


def embed_one(model: ModelInfo, body: dict[str, Any], where: str) -> dict[str, Any]:
    """One ContentEmbedding (``{"values": [...]}``) for an EmbedContentRequest body."""
    request = _request(body, where)
    content = request.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts:
        raise invalid_argument("content.parts must not be empty.", f"{where}.content.parts")
    texts = []
    for j, part in enumerate(parts):
        if not isinstance(part, dict) or not isinstance(part.get("text"), str):
            raise invalid_argument("a text part is required", f"{where}.content.parts[{j}].text")
        texts.append(part["text"])
    text = "\n".join(texts)
    task = request.get("taskType") or "TASK_TYPE_UNSPECIFIED"
    if task not in TASK_TYPES:
        raise invalid_argument(f'Invalid value "{task}".', f"{where}.task_type")
    title = request.get("title")
    if title and task != "RETRIEVAL_DOCUMENT":
        raise invalid_argument(
            "Title is only applicable for the RETRIEVAL_DOCUMENT task type.", f"{where}.title"
        )
    full = DIMENSIONS.get(model.id, 768)
    wanted = request.get("outputDimensionality")
    if wanted is not None and (
        not isinstance(wanted, int) or isinstance(wanted, bool) or not 1 <= wanted <= full
    ):
        raise invalid_argument(
            f"must be between 1 and {full} for {model.name}", f"{where}.output_dimensionality"
        )
    tokens = count_tokens(text)
    if tokens > model.input_limit and request.get("autoTruncate") is False:
        raise invalid_argument(
            f"The input token count is {tokens} but the model supports up to "
            f"{model.input_limit}. Reduce the input token count and try again."
        )
    values = vector(model.id, f"{task}\0{title or ''}", text, full)
    return {"values": values[: wanted or full]}


def embed_content_response(model: ModelInfo, body: dict[str, Any]) -> dict[str, Any]:
    """EmbedContentResponse."""
    body = {k: v for k, v in body.items() if k not in ("model",)}
    return {"embedding": embed_one(model, body, "embed_content_request")}


def batch_embed_response(model: ModelInfo, body: dict[str, Any]) -> dict[str, Any]:
    """BatchEmbedContentsResponse; each request's model must be the URL's."""
    extra = set(body) - {"requests"}
    if extra:
        name = sorted(extra)[0]
        raise invalid_argument(
            f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
        )
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise invalid_argument("requests must not be empty.", "requests")
    if len(requests) > MAX_BATCH:
        raise invalid_argument(f"at most {MAX_BATCH} requests can be in one batch", "requests")
    embeddings = []
    for i, request in enumerate(requests):
        where = f"requests[{i}]"
        if not isinstance(request, dict):
            raise invalid_argument("must be an EmbedContentRequest object", where)
        named = str(request.get("model") or model.name)
        if named.removeprefix("models/") != model.id:
            raise invalid_argument(
                f"Model {named} in {where} does not match the model of the URL, {model.name}.",
                f"{where}.model",
            )
        embeddings.append(embed_one(model, {k: v for k, v in request.items()}, where))
    return {"embeddings": embeddings}
