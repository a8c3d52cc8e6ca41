"""The emulator's Gemini (Generative Language) REST endpoints: models, generate, stream, count.

Auth follows Google's front end: API key or Bearer token (never both), token scopes per method,
then the quota project (``x-goog-user-project`` or the OAuth client's project) must exist, let
the caller in, and have the API enabled. Errors are ``google.rpc.Status`` JSON as Google sends.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import flask

from gemini_oauth.emulator.catalogue import ModelInfo, find_model, list_models

if TYPE_CHECKING:
    from gemini_oauth.emulator.state import EmulatorState, Project

SERVICE = "generativelanguage.googleapis.com"
_AUTH = "https://www.googleapis.com/auth/"
_GL = _AUTH + "generative-language"
#: Scopes that may call each kind of method (models.list reference page; GenerateContent's).
READ_SCOPES = (
    _AUTH + "cloud-platform",
    _GL,
    _GL + ".retriever",
    _GL + ".retriever.readonly",
    _GL + ".tuning",
    _GL + ".tuning.readonly",
)
WRITE_SCOPES = (_AUTH + "cloud-platform", _GL, _GL + ".retriever", _GL + ".tuning")
_REALM = 'Bearer realm="https://accounts.google.com/"'
_INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
    "or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
# What the Gemini API answers a request with neither a key nor a token: a bare 403, no details.
_UNREGISTERED_CALLER = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
_UNEMULATED = {
    "embedContent",
    "batchEmbedContents",
    "asyncBatchEmbedContent",
    "batchGenerateContent",
    "countTextTokens",
    "generateAnswer",
    "predict",
    "predictLongRunning",
}
#: Seconds between streamed chunks, so that clients really receive them one by one.
CHUNK_PAUSE = 0.01
_WORDS_PER_CHUNK = 4
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_PAGE_SALT = b"gemini-oauth-emulator-page-token"


@dataclass
class ApiFault(Exception):
    """A ``google.rpc.Status`` error response; raised inside handlers, rendered by ``_respond``."""

    code: int
    status: str
    message: str
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    violations: list[tuple[str, str]] = field(default_factory=list)
    bare: bool = False  # Google sends some errors without any details

    def body(self) -> dict[str, Any]:
        """Google's error JSON: ErrorInfo, LocalizedMessage (+ BadRequest for field errors)."""
        if self.bare:
            return {"error": {"code": self.code, "message": self.message, "status": self.status}}
        details: list[dict[str, Any]] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": self.reason or self.status,
                "domain": "googleapis.com",
                "metadata": {"service": SERVICE, **self.metadata},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": self.message,
            },
        ]
        if self.violations:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": f, "description": d} for f, d in self.violations],
                }
            )
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "status": self.status,
                "details": details,
            }
        }


def _invalid(message: str, field_path: str = "") -> ApiFault:
    violations = [(field_path, message)] if field_path else []
    text = f"* {field_path}: {message}" if field_path else message
    return ApiFault(400, "INVALID_ARGUMENT", text, violations=violations)


# ---------------------------------------------------------------- pure: tokens and content


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
    """A validated GenerateContentRequest, reduced to what the emulator uses."""

    prompt: str
    prompt_tokens: int
    candidate_count: int
    max_output_tokens: int | None


def _check_contents(contents: Any, where: str) -> list[dict[str, Any]]:
    if contents is None or contents == []:
        raise _invalid("contents is not specified", where)
    if not isinstance(contents, list):
        raise _invalid("must be a list of Content objects", where)
    for i, content in enumerate(contents):
        _check_content(content, f"{where}[{i}]")
    return contents


def _check_content(content: Any, where: str) -> None:
    if not isinstance(content, dict):
        raise _invalid("must be a Content object", where)
    role = content.get("role")
    if role not in (None, "", "user", "model", "function"):
        raise _invalid("Please use a valid role: user, model.", f"{where}.role")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise _invalid("contents.parts must not be empty.", f"{where}.parts")
    for j, part in enumerate(parts):
        if not isinstance(part, dict) or not isinstance(part.get("text"), str):
            raise _invalid("a text part is required", f"{where}.parts[{j}].text")


def parse_generate_request(body: dict[str, Any], where: str) -> GenerateRequest:
    """Validate a GenerateContentRequest (camelCase or snake_case keys), as Google does."""
    request: dict[str, Any] = {}
    for key, value in body.items():
        if key not in _REQUEST_FIELDS:
            raise _invalid(
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
        raise _invalid("must be a GenerationConfig object", f"{where}.generation_config")
    count = config.get("candidateCount", config.get("candidate_count", 1))
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 8:
        raise _invalid("must be in the range [1, 8]", f"{where}.generation_config.candidate_count")
    limit = config.get("maxOutputTokens", config.get("max_output_tokens"))
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise _invalid("must be a positive integer", f"{where}.generation_config.max_output_tokens")
    return GenerateRequest(prompt, tokens, count, limit)


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
        chunk.update(modelVersion=model.id, responseId=response_id)
        chunks.append(chunk)
    return chunks


# ---------------------------------------------------------------- pure: paging


def _page_mac(payload: bytes) -> str:
    return hashlib.sha256(_PAGE_SALT + payload).hexdigest()[:16]


def encode_page_token(version: str, page_size: int, offset: int) -> str:
    """An opaque, tamper-evident token binding the next offset to the call's other parameters."""
    payload = json.dumps([version, page_size, offset], separators=(",", ":")).encode()
    raw = payload + b"." + _page_mac(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, version: str, page_size: int) -> int:
    """The offset a token stands for; ApiFault 400 if it is forged or from another call."""
    bad = _invalid(
        "Invalid page token. The page token must come from a previous ListModels call with the "
        "same parameters.",
        "page_token",
    )
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload, _, mac = raw.rpartition(b".")
        if mac.decode() != _page_mac(payload):
            raise bad
        token_version, token_size, offset = json.loads(payload)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise bad from exc
    if (token_version, token_size) != (version, page_size) or not isinstance(offset, int):
        raise bad
    return offset


def _page_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return 50
    try:
        size = int(raw)
    except ValueError:
        raise _invalid(f'Invalid value "{raw}": must be an integer.', "page_size") from None
    if size < 0:
        raise _invalid("page_size must not be negative.", "page_size")
    return 50 if size == 0 else min(size, 1000)


# ---------------------------------------------------------------- auth


def _method(version: str, name: str) -> str:
    service = "ModelService" if name in ("ListModels", "GetModel") else "GenerativeService"
    return f"google.ai.generativelanguage.{version}.{service}.{name}"


def _unauthenticated(reason: str, message: str, method: str) -> ApiFault:
    return ApiFault(
        401,
        "UNAUTHENTICATED",
        message,
        reason,
        {"method": method},
        {"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
    )


def _project_denied(project_id: str) -> ApiFault:
    message = (
        f"Caller does not have required permission to use project {project_id}. Grant the caller "
        "the roles/serviceusage.serviceUsageConsumer role, or a custom role with the "
        "serviceusage.services.use permission, by visiting "
        f"https://console.developers.google.com/iam-admin/iam/admin?project={project_id} and then "
        "retry. Propagation of new permission may take a few minutes."
    )
    return ApiFault(
        403,
        "PERMISSION_DENIED",
        message,
        "USER_PROJECT_DENIED",
        {"consumer": f"projects/{project_id}"},
    )


def _service_disabled(number: int) -> ApiFault:
    url = f"https://console.developers.google.com/apis/api/{SERVICE}/overview?project={number}"
    message = (
        f"Generative Language API has not been used in project {number} before or it is "
        f"disabled. Enable it by visiting {url} then retry. If you enabled this API recently, "
        "wait a few minutes for the action to propagate to our systems and retry."
    )
    metadata = {
        "consumer": f"projects/{number}",
        "activationUrl": url,
        "serviceTitle": "Generative Language API",
        "containerInfo": str(number),
    }
    return ApiFault(403, "PERMISSION_DENIED", message, "SERVICE_DISABLED", metadata)


def authorize(state: EmulatorState, version: str, name: str, *, write: bool) -> Project:
    """The consumer project of this request, or ApiFault in Google's order of checks."""
    method = _method(version, name)
    request = flask.request
    keys = [k for k in (request.headers.get("x-goog-api-key"), request.args.get("key")) if k]
    authorization = request.headers.get("Authorization")
    if len(keys) + (authorization is not None) > 1:
        raise _invalid("Multiple authentication credentials received. Please pass only one.")
    with state.lock:
        if keys:
            project = state.api_key_project(keys[0])
            if project is None:
                raise ApiFault(
                    400,
                    "INVALID_ARGUMENT",
                    "API key not valid. Please pass a valid API key.",
                    "API_KEY_INVALID",
                )
        else:
            project = _token_project(state, authorization, method, write)
        if not project.api_enabled:
            raise _service_disabled(project.number)
        return project


def _token_project(
    state: EmulatorState, authorization: str | None, method: str, write: bool
) -> Project:
    if authorization is None:
        raise ApiFault(403, "PERMISSION_DENIED", _UNREGISTERED_CALLER, bare=True)
    scheme, _, token = authorization.partition(" ")
    info = state.access_token_info(token.strip()) if scheme.lower() == "bearer" else None
    if info is None or info.revoked:
        raise _unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED", _INVALID_CREDENTIALS, method)
    if info.expires_at <= state.now():
        raise _unauthenticated("ACCESS_TOKEN_EXPIRED", _INVALID_CREDENTIALS, method)
    accepted = WRITE_SCOPES if write else READ_SCOPES
    if not info.scopes & set(accepted):
        raise ApiFault(
            403,
            "PERMISSION_DENIED",
            "Request had insufficient authentication scopes.",
            "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            {"method": method},
            {
                "WWW-Authenticate": f'{_REALM}, error="insufficient_scope", '
                f'scope="{" ".join(accepted)}"'
            },
        )
    user_project = flask.request.headers.get("x-goog-user-project")
    if user_project:
        project = state.project(user_project)
        if project is None or info.email not in project.members:
            raise _project_denied(user_project)
        return project
    return state.client_project(info.client_id)


# ---------------------------------------------------------------- flask glue


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> flask.Response:
    response = flask.Response(
        json.dumps(body, indent=2) + "\n", status, content_type="application/json; charset=UTF-8"
    )
    response.headers["Vary"] = "Origin, X-Origin, Referer"
    response.headers.update(headers or {})
    return response


def _fault_response(fault: ApiFault) -> flask.Response:
    return _json(fault.body(), fault.code, fault.headers)


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


def _body() -> dict[str, Any]:
    raw = flask.request.get_data(cache=False)
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise _invalid(
            "Invalid JSON payload received. Unexpected token; the body must be a JSON object."
        ) from None
    if not isinstance(body, dict):
        raise _invalid("Invalid JSON payload received. Expected a JSON object.")
    return body


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
            size = _page_size(
                flask.request.args.get("pageSize", flask.request.args.get("page_size"))
            )
            token = flask.request.args.get("pageToken", flask.request.args.get("page_token"))
            offset = decode_page_token(token, version, size) if token else 0
            models = list_models(version)
            body: dict[str, Any] = {"models": [m.to_json() for m in models[offset : offset + size]]}
            if offset + size < len(models):
                body["nextPageToken"] = encode_page_token(version, size, offset + size)
            return _json(body)
        except ApiFault as fault:
            return _fault_response(fault)

    def model_view(version: str, target: str) -> flask.Response:
        model_id, _, action = target.partition(":")
        counter = {
            "": "models.get",
            "generateContent": "models.generateContent",
            "streamGenerateContent": "models.streamGenerateContent",
            "countTokens": "models.countTokens",
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
                return _json(model.to_json())
            rpc = action[0].upper() + action[1:]
            authorize(state, version, rpc, write=True)
            model = find_model(version, model_id)
            needs = "generateContent" if action == "streamGenerateContent" else action
            if model is None or needs not in model.methods:
                raise _not_found(version, model_id, action)
            body = _body()
            if action == "countTokens":
                return _json(_count(body))
            req = parse_generate_request(body, f"{rpc}Request")
            if action == "generateContent":
                return _json(generate_chunks(model, req, stream=False)[0])
            return _stream(generate_chunks(model, req, stream=True))
        except ApiFault as fault:
            return _fault_response(fault)

    def unknown_view(version: str, rest: str) -> flask.Response:
        path = flask.request.path
        return _fault_response(
            ApiFault(404, "NOT_FOUND", f"The requested URL {path} was not found on this server.")
        )

    app.add_url_rule(f"/{versions}/models", "gemini_models", list_view, methods=all_methods)
    app.add_url_rule(
        f"/{versions}/models/<path:target>", "gemini_model", model_view, methods=all_methods
    )
    app.add_url_rule(
        f"/{versions}/<path:rest>", "gemini_unknown", unknown_view, methods=all_methods
    )


def _count(body: dict[str, Any]) -> dict[str, Any]:
    """CountTokensResponse for ``{contents}`` or ``{generateContentRequest}`` (not both)."""
    wrapped = body.get("generateContentRequest", body.get("generate_content_request"))
    if wrapped is not None and "contents" in body:
        raise _invalid("contents and generate_content_request must not both be set.")
    if wrapped is not None:
        if not isinstance(wrapped, dict):
            raise _invalid("must be a GenerateContentRequest object", "generate_content_request")
        total = parse_generate_request(wrapped, "generate_content_request").prompt_tokens
    else:
        extra = set(body) - {"contents"}
        if extra:
            name = sorted(extra)[0]
            raise _invalid(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
            )
        total = count_tokens(_text_of(_check_contents(body.get("contents"), "contents")))
    return {
        "totalTokens": total,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}],
    }


def _stream(chunks: list[dict[str, Any]]) -> flask.Response:
    """Stream chunks as SSE (``alt=sse``) or as one JSON array written piece by piece."""
    sse = flask.request.args.get("alt") == "sse"

    def pieces() -> Iterator[str]:
        if not sse:
            yield "["
        for i, chunk in enumerate(chunks):
            if i:
                time.sleep(CHUNK_PAUSE)
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
