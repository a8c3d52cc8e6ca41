"""A REST client for the Gemini API over OAuth credentials (sync and async), and API error mapping.

Every request carries ``Authorization: Bearer`` (refreshed before expiry, and once more after a
401) and ``x-goog-user-project`` when a quota project is known. Retries: 408, 429, 5xx and
transport errors, with jittered exponential backoff that honours ``Retry-After``, at most
``max_attempts`` attempts and never past ``deadline`` seconds. POSTs are retried as well:
generateContent and countTokens change no server state, so a repeat costs quota at worst; the
one exception is a read timeout on a POST (the model may still be working, a repeat would only
double the wait). A stream is retried only before its first chunk.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from gemini_oauth import __version__
from gemini_oauth._constants import (
    BASE_URL_ENV,
    CREDENTIALS_ENV,
    GEMINI_BASE_URL,
    PROFILE_ENV,
    QUOTA_PROJECT_ENV,
    is_loopback_host,
)
from gemini_oauth._redact import server_text
from gemini_oauth.errors import (
    AdcError,
    ApiError,
    ApiKeyInvalidError,
    AuthenticationError,
    GeminiOAuthError,
    InvalidGrantError,
    LoginRequiredError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ScopeInsufficientError,
    ServerError,
    ServiceDisabledError,
    TokenEndpointError,
    UserProjectDeniedError,
)
from gemini_oauth.scopes import CLOUD_PLATFORM

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

USER_AGENT = f"gemini-oauth/{__version__}"
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# gcloud's own OAuth client project: a SERVICE_DISABLED naming it means no quota project was sent.
_GCLOUD_PROJECT_NUMBER = "764086051850"

Contents = str | list[Any] | dict[str, Any]


# ---------------------------------------------------------------- records and pure helpers


@dataclass(frozen=True)
class ModelPage:
    """One page of ``models.list``."""

    models: list[dict[str, Any]]
    next_page_token: str | None = None


@dataclass
class RetryPolicy:
    """When to try again: bounded by attempts and by a deadline (seconds from the first try)."""

    max_attempts: int = 4
    deadline: float = 30.0
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, elapsed: float, retry_after: float | None = None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up."""
        if attempt >= self.max_attempts:
            return None
        backoff = min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))
        wait = backoff * (0.5 + self.rng.random() / 2)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return None if elapsed + wait >= self.deadline else wait


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


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


def text(response: Mapping[str, Any]) -> str:
    """The answer text of a generateContent response (first candidate, thoughts left out)."""
    candidates = response.get("candidates") or [{}]
    parts = (candidates[0].get("content") or {}).get("parts") or []
    return "".join(p.get("text", "") for p in parts if not p.get("thought"))


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
        return json.loads(payload)


# ---------------------------------------------------------------- error mapping (pure)


def _error_info(details: list[dict[str, Any]]) -> tuple[str, dict[str, str]]:
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo"):
            return str(detail.get("reason", "")), dict(detail.get("metadata") or {})
    return "", {}


def retry_info_delay(body: bytes) -> float | None:
    """The ``google.rpc.RetryInfo`` delay of an error body ("37s" -> 37.0), if it has one."""
    try:
        details = json.loads(body)["error"]["details"]
        for detail in details:
            if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
                return float(str(detail["retryDelay"]).rstrip("s"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return None


def _project_of(metadata: Mapping[str, str], fallback: str | None) -> str | None:
    consumer = metadata.get("consumer") or metadata.get("containerInfo") or ""
    return consumer.removeprefix("projects/") or fallback


def _scope_hint(metadata: Mapping[str, str]) -> str:
    method = metadata.get("method", "")
    scopes = "cloud-platform,retriever" + (",tuning" if "Tuning" in method else "")
    return (
        f"Log in again with a scope this method accepts: gemini-oauth login --scopes {scopes}"
        + (f" (needed by {method})." if method else ".")
    )


def _service_disabled_hint(metadata: Mapping[str, str], quota_project: str | None) -> str:
    project = _project_of(metadata, quota_project)
    if project == _GCLOUD_PROJECT_NUMBER:
        return (
            "No quota project reached Google, so it billed gcloud's own project: pass "
            "--quota-project YOUR_PROJECT or set GOOGLE_CLOUD_QUOTA_PROJECT."
        )
    url = metadata.get("activationUrl") or (
        "https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/"
        f"overview?project={project or 'YOUR_PROJECT'}"
    )
    return (
        f"Enable the Generative Language API in project {project or '(your quota project)'} at "
        f"{url}, wait a minute, and retry."
    )


def _user_project_hint(metadata: Mapping[str, str], quota_project: str | None) -> str:
    project = _project_of(metadata, quota_project) or "the quota project"
    return (
        f"The account lacks serviceusage.services.use on {project}: grant it "
        "roles/serviceusage.serviceUsageConsumer there, or choose another --quota-project."
    )


_KEY_MESSAGES = (
    "api key not valid",
    "api keys are not supported",
    "multiple authentication credentials",
)
_API_KEY_HINT = (
    "An API key was sent where OAuth was meant: drop the key (x-goog-api-key, ?key=, "
    "GOOGLE_API_KEY/GEMINI_API_KEY) and let gemini-oauth send the bearer token."
)


def error_from_response(
    status_code: int,
    body: bytes | str,
    *,
    quota_project: str | None = None,
    secrets: Iterable[str] = (),
) -> ApiError:
    """Google's JSON error (``{"error": google.rpc.Status}``) -> the matching ApiError subclass.

    ``secrets`` (e.g. the bearer token sent) are blanked out of the message, whatever the body says.
    """
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = None
    if isinstance(parsed, list) and parsed:  # streamGenerateContent without alt=sse
        parsed = parsed[0]
    err = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(err, dict):
        err = {"message": " ".join(raw.split())[:200] or httpx.codes.get_reason_phrase(status_code)}
    details = [d for d in err.get("details") or [] if isinstance(d, dict)]
    reason, metadata = _error_info(details)
    status = str(err.get("status", ""))
    message = str(err.get("message", "")).strip()
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[redacted]")
    shown = f"({reason})" if reason and reason != status else ""
    label = " ".join(x for x in (str(status_code), status, shown) if x)
    kw: dict[str, Any] = {
        "code": status_code,
        "status": status,
        "reason": reason,
        "metadata": metadata,
        "details": details,
    }
    text_ = f"Gemini API error {label}: {message}"
    lowered = message.lower()
    if reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT" or "insufficient authentication scopes" in (
        lowered
    ):
        return ScopeInsufficientError(text_, hint=_scope_hint(metadata), **kw)
    if reason == "SERVICE_DISABLED":
        return ServiceDisabledError(
            text_, hint=_service_disabled_hint(metadata, quota_project), **kw
        )
    if reason == "USER_PROJECT_DENIED":
        return UserProjectDeniedError(text_, hint=_user_project_hint(metadata, quota_project), **kw)
    if reason in {"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"} or any(
        x in lowered for x in _KEY_MESSAGES
    ):
        return ApiKeyInvalidError(text_, hint=_API_KEY_HINT, **kw)
    if status_code == 401 or "unregistered callers" in lowered:  # 403: no key and no token sent
        return AuthenticationError(text_, **kw)
    if status_code == 404:
        return NotFoundError(text_, **kw)
    if status_code == 429:
        return RateLimitError(text_, **kw)
    if status_code >= 500:
        return ServerError(text_, **kw)
    if status_code == 400:
        return ApiError(text_, hint="Fix the request field that Google names above.", **kw)
    return ApiError(text_, hint="Google's message says why; --verbose shows the exchange.", **kw)


def refresh_error(exc: Exception, credentials: Any = None) -> GeminiOAuthError:
    """A google-auth refresh failure -> our error, keeping only the OAuth error and description."""
    import google.auth.exceptions as gexc

    if isinstance(exc, GeminiOAuthError):
        return exc
    if isinstance(exc, gexc.TransportError):
        return NetworkError("Could not reach the token endpoint to refresh the access token.")
    summary = server_text(exc.args[0] if exc.args else type(exc).__name__)
    from google.oauth2 import service_account

    if isinstance(credentials, service_account.Credentials):
        return AdcError(
            f"The token endpoint refused the key of service account "
            f"{credentials.service_account_email} ({summary}).",
            hint="Point GOOGLE_APPLICATION_CREDENTIALS at a current key file, or create a new key "
            "for this account (IAM > Service accounts > Keys).",
        )
    if "invalid_grant" in summary:  # profiles raise their own; these are ADC or the caller's
        return InvalidGrantError(
            f"The refresh token was refused ({summary}).",
            error="invalid_grant",
            hint="Sign in again: 'gemini-oauth adc login' (or gcloud's) for Application Default "
            "Credentials, 'gemini-oauth login' for a saved login.",
        )
    if "refresh_token" in summary or "necessary fields" in summary:
        return LoginRequiredError("These credentials cannot be refreshed (no refresh token).")
    again = "sign in again ('gemini-oauth login', or 'gemini-oauth adc login' for ADC)"
    if "invalid_client" in summary or "unauthorized_client" in summary:
        hint = "The OAuth client was refused (deleted, or its secret changed): download its "
        hint += f"client_secret.json again from Google Auth platform > Clients and {again}."
    else:
        hint = f"Try again shortly; if it keeps failing, {again}."
    return TokenEndpointError(f"Refreshing the access token failed ({summary}).", hint=hint)


# ---------------------------------------------------------------- credentials and settings


def resolve_credentials(
    credentials: Credentials | None = None, *, profile: str | None = None, adc: bool = False
) -> Credentials:
    """Explicit credentials, else a gemini-oauth profile (named or default), else ADC."""
    if credentials is not None:
        return credentials
    if not adc:
        from gemini_oauth import _credentials as creds_mod

        name = profile or os.environ.get(PROFILE_ENV) or None
        try:
            return creds_mod.load_profile(name or "default")
        except LoginRequiredError:  # no such profile: ADC, unless one was named
            if name is not None:
                raise
    return _adc()


def _adc() -> Credentials:
    """Application Default Credentials, found as gcloud and google-auth find them (see adc.py)."""
    from gemini_oauth._adc import adc_path, default_credentials

    try:
        return default_credentials([CLOUD_PLATFORM])[0]
    except AdcError:
        if os.environ.get(CREDENTIALS_ENV) or adc_path().exists():
            raise  # there is something to fix in what was found
        raise AdcError(
            "No gemini-oauth profile and no Application Default Credentials were found.",
            hint="Run 'gemini-oauth login' (or 'gemini-oauth adc login'), then try again.",
        ) from None


def resolve_quota_project(explicit: str | None, credentials: Credentials) -> str | None:
    """Explicit argument (``""`` means none), else $GOOGLE_CLOUD_QUOTA_PROJECT, else the creds'."""
    if explicit is not None:
        return explicit or None
    return os.environ.get(QUOTA_PROJECT_ENV) or (
        getattr(credentials, "quota_project_id", None) or None
    )


def resolve_base_url(explicit: str | None) -> str:
    """Explicit argument, else $GOOGLE_GEMINI_BASE_URL, else Google's endpoint."""
    url = (explicit or os.environ.get(BASE_URL_ENV) or GEMINI_BASE_URL).rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise GeminiOAuthError(
            f"The API base URL {url!r} does not start with https:// or http://.",
            hint=f"Pass --endpoint {GEMINI_BASE_URL} (or fix GOOGLE_GEMINI_BASE_URL).",
        )
    host = urlsplit(url).hostname or ""
    if url.startswith("http://") and not is_loopback_host(host):
        raise GeminiOAuthError(
            f"The API base URL {url!r} is plain http to another machine: the access token would "
            "cross the network in clear text.",
            hint="Use https://, or http:// only to 127.0.0.1, [::1] or localhost (an emulator).",
        )
    return url


# ---------------------------------------------------------------- the shared core


_OK, _RAISE, _REFRESH = "ok", "raise", "refresh"


class OAuthHeaders:
    """Bearer and quota-project headers from google-auth credentials, refreshed when needed.

    Thread-safe: one lock serialises refreshes, and a 401 refreshes only if nobody else has.
    """

    def __init__(self, credentials: Credentials, quota_project: str | None) -> None:
        self.credentials = credentials
        self.quota_project = quota_project
        self._lock = threading.Lock()

    def headers(self, request: Any, method: str = "GET", url: str = "") -> dict[str, str]:
        """Auth headers, refreshing first when the token is missing or about to expire."""
        headers: dict[str, str] = {}
        with self._lock:
            try:
                self.credentials.before_request(request, method, url, headers)  # type: ignore[no-untyped-call]
            except Exception as exc:
                raise refresh_error(exc, self.credentials) from None
        headers.pop("x-goog-user-project", None)
        if self.quota_project:
            headers["x-goog-user-project"] = self.quota_project
        return headers

    def refresh(self, request: Any, used_token: str | None) -> None:
        """Refresh after a 401, unless another caller already replaced the token."""
        with self._lock:
            if self.credentials.token != used_token:
                return
            try:
                self.credentials.refresh(request)  # type: ignore[no-untyped-call]
            except Exception as exc:
                raise refresh_error(exc, self.credentials) from None

    def needs_refresh(self) -> bool:
        """True when the next request would have to refresh first (blocking I/O)."""
        return not self.credentials.valid


def bearer_of(headers: Mapping[str, str]) -> str:
    """The token in an ``Authorization: Bearer`` header ('' if none)."""
    value = headers.get("authorization") or headers.get("Authorization") or ""
    return value[7:] if value.lower().startswith("bearer ") else ""


class _Core(OAuthHeaders):
    """Settings, headers and the retry decision shared by the sync and async clients."""

    def __init__(
        self,
        credentials: Credentials | None,
        profile: str | None,
        quota_project: str | None,
        base_url: str | None,
        api_version: str,
        timeout: float,
        max_attempts: int,
        deadline: float,
        initial_backoff: float,
        adc: bool,
    ) -> None:
        creds = resolve_credentials(credentials, profile=profile, adc=adc)
        super().__init__(creds, resolve_quota_project(quota_project, creds))
        self.base_url = resolve_base_url(base_url)
        self.api_version = api_version.strip("/")
        self.timeout = timeout
        self.policy = RetryPolicy(
            max_attempts=max(1, max_attempts), deadline=deadline, initial_backoff=initial_backoff
        )

    def url(self, path: str) -> str:
        return f"{self.base_url}/{self.api_version}/{path.lstrip('/')}"

    def attempt_timeout(self, attempt: int, started: float) -> float:
        if attempt == 1:
            return self.timeout
        return max(0.001, min(self.timeout, self.policy.deadline - (time.monotonic() - started)))

    def verdict(
        self, response: httpx.Response, attempt: int, started: float, refreshed: bool
    ) -> str | float:
        """_OK, _RAISE, _REFRESH, or seconds to wait before trying again."""
        if response.is_success:
            return _OK
        if response.status_code == 401 and not refreshed:
            return _REFRESH
        if response.status_code not in RETRYABLE_STATUS:
            return _RAISE
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is None:
            retry_after = retry_info_delay(response.content)
        delay = self.policy.delay(attempt, time.monotonic() - started, retry_after)
        return _RAISE if delay is None else delay

    def transport_delay(
        self, exc: httpx.TransportError, method: str, attempt: int, started: float
    ) -> float | None:
        if method == "POST" and isinstance(exc, httpx.ReadTimeout):
            return None
        return self.policy.delay(attempt, time.monotonic() - started)

    def error(self, response: httpx.Response) -> ApiError:
        return error_from_response(
            response.status_code,
            response.content,
            quota_project=self.quota_project,
            secrets=[self.credentials.token or ""],
        )

    def network_error(self, exc: httpx.TransportError, url: str) -> NetworkError:
        kind = type(exc).__name__
        return NetworkError(f"Could not reach {url.split('?')[0]} ({kind}) after retrying.")

    def check_event(self, event: Any) -> dict[str, Any]:
        if isinstance(event, dict) and isinstance(event.get("error"), dict):
            code = int(event["error"].get("code") or 500)
            raise error_from_response(code, json.dumps(event), quota_project=self.quota_project)
        return event if isinstance(event, dict) else {}


def _model_page(data: Mapping[str, Any]) -> ModelPage:
    return ModelPage(list(data.get("models") or []), data.get("nextPageToken") or None)


def _list_params(page_size: int | None, page_token: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if page_size:
        params["pageSize"] = page_size
    if page_token:
        params["pageToken"] = page_token
    return params


def _generate_body(contents: Contents, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"contents": normalize_contents(contents), **fields}


# ---------------------------------------------------------------- sync client


class _ClientBase:
    """What both clients expose of their shared core."""

    _core: _Core

    @property
    def credentials(self) -> Credentials:
        return self._core.credentials

    @property
    def quota_project(self) -> str | None:
        return self._core.quota_project

    @property
    def base_url(self) -> str:
        return self._core.base_url


class GeminiClient(_ClientBase):
    """A Gemini API client over OAuth credentials, with one pooled HTTP connection."""

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        profile: str | None = None,
        quota_project: str | None = None,
        base_url: str | None = None,
        api_version: str = "v1",
        timeout: float = 60.0,
        max_attempts: int = 4,
        deadline: float = 30.0,
        http: httpx.Client | None = None,
        initial_backoff: float = 0.5,
        adc: bool = False,
    ) -> None:
        self._core = _Core(
            credentials,
            profile,
            quota_project,
            base_url,
            api_version,
            timeout,
            max_attempts,
            deadline,
            initial_backoff,
            adc,
        )
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=timeout, headers={"user-agent": USER_AGENT})
        self._request: Any = None

    def _auth_request(self) -> Any:
        if self._request is None:
            from gemini_oauth._transport import HttpxRequest

            self._request = HttpxRequest(self._http)
        return self._request

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        stream: bool = False,
    ) -> httpx.Response:
        core, url = self._core, self._core.url(path)
        started, attempt, refreshed = time.monotonic(), 0, False
        while True:
            attempt += 1
            headers = core.headers(self._auth_request(), method, url)
            request = self._http.build_request(
                method,
                url,
                params=params,
                json=body,
                headers=headers,
                timeout=core.attempt_timeout(attempt, started),
            )
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = core.transport_delay(exc, method, attempt, started)
                if delay is None:
                    raise core.network_error(exc, url) from None
                time.sleep(delay)
                continue
            if not response.is_success:
                response.read()
                response.close()
            verdict = core.verdict(response, attempt, started, refreshed)
            if verdict == _OK:
                return response
            if verdict == _RAISE:
                raise core.error(response)
            if verdict == _REFRESH:
                refreshed, attempt = True, attempt - 1
                try:
                    core.refresh(self._auth_request(), bearer_of(headers))
                except LoginRequiredError:  # not refreshable: the 401 itself says more
                    raise core.error(response) from None
                continue
            time.sleep(float(verdict))

    def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._send(method, path, **kw).json()
        return result

    def list_models(self, page_size: int | None = None, page_token: str | None = None) -> ModelPage:
        """One page of the models this account can use."""
        return _model_page(self._json("GET", "models", params=_list_params(page_size, page_token)))

    def iter_models(self, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every model, walking all pages."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = self.list_models(page_size, token)
            yield from page.models
            if not page.next_page_token or page.next_page_token in seen:
                return  # the last page, or a server that cycles its page tokens
            token = page.next_page_token
            seen.add(token)

    def get_model(self, name: str) -> dict[str, Any]:
        """One model by name (``gemini-x`` or ``models/gemini-x``)."""
        return self._json("GET", model_path(name))

    def generate_content(
        self, model: str, contents: Contents, **request_fields: Any
    ) -> dict[str, Any]:
        """``models.generateContent``; extra keyword arguments are request fields (REST names)."""
        return self._json(
            "POST",
            f"{model_path(model)}:generateContent",
            body=_generate_body(contents, request_fields),
        )

    def stream_generate_content(
        self, model: str, contents: Contents, **request_fields: Any
    ) -> Iterator[dict[str, Any]]:
        """``models.streamGenerateContent`` over SSE: each chunk as soon as it arrives."""
        response = self._send(
            "POST",
            f"{model_path(model)}:streamGenerateContent",
            params={"alt": "sse"},
            body=_generate_body(contents, request_fields),
            stream=True,
        )
        decoder = SseDecoder()
        try:
            for line in response.iter_lines():
                event = decoder.feed(line)
                if event is not None:
                    yield self._core.check_event(event)
            event = decoder.flush()
            if event is not None:
                yield self._core.check_event(event)
        except httpx.TransportError as exc:
            raise self._core.network_error(exc, str(response.url)) from None
        finally:
            response.close()

    def count_tokens(self, model: str, contents: Contents) -> int:
        """``models.countTokens``: the prompt's total tokens."""
        data = self._json(
            "POST",
            f"{model_path(model)}:countTokens",
            body={"contents": normalize_contents(contents)},
        )
        return int(data.get("totalTokens", 0))

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> GeminiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- async client


class AsyncGeminiClient(_ClientBase):
    """The async twin of GeminiClient, over one pooled ``httpx.AsyncClient``."""

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        profile: str | None = None,
        quota_project: str | None = None,
        base_url: str | None = None,
        api_version: str = "v1",
        timeout: float = 60.0,
        max_attempts: int = 4,
        deadline: float = 30.0,
        http: httpx.AsyncClient | None = None,
        initial_backoff: float = 0.5,
        adc: bool = False,
    ) -> None:
        self._core = _Core(
            credentials,
            profile,
            quota_project,
            base_url,
            api_version,
            timeout,
            max_attempts,
            deadline,
            initial_backoff,
            adc,
        )
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout, headers={"user-agent": USER_AGENT})
        self._sync_http: httpx.Client | None = None
        self._request: Any = None
        self._refresh_lock = asyncio.Lock()

    def _auth_request(self) -> Any:
        # google-auth refreshes synchronously; it gets its own small sync client, run off-loop.
        if self._request is None:
            from gemini_oauth._transport import HttpxRequest

            self._sync_http = httpx.Client(timeout=self._core.timeout)
            self._request = HttpxRequest(self._sync_http)
        return self._request

    async def _headers(self, method: str, url: str) -> dict[str, str]:
        # Every thread that takes the core's lock runs under _refresh_lock: holding it, the
        # quick path below never waits on that lock with the event loop's thread.
        async with self._refresh_lock:
            if self._core.needs_refresh():
                request = self._auth_request()
                return await asyncio.to_thread(self._core.headers, request, method, url)
            return self._core.headers(self._auth_request(), method, url)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        stream: bool = False,
    ) -> httpx.Response:
        core, url = self._core, self._core.url(path)
        started, attempt, refreshed = time.monotonic(), 0, False
        while True:
            attempt += 1
            headers = await self._headers(method, url)
            request = self._http.build_request(
                method,
                url,
                params=params,
                json=body,
                headers=headers,
                timeout=core.attempt_timeout(attempt, started),
            )
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = core.transport_delay(exc, method, attempt, started)
                if delay is None:
                    raise core.network_error(exc, url) from None
                await asyncio.sleep(delay)
                continue
            if not response.is_success:
                await response.aread()
                await response.aclose()
            verdict = core.verdict(response, attempt, started, refreshed)
            if verdict == _OK:
                return response
            if verdict == _RAISE:
                raise core.error(response)
            if verdict == _REFRESH:
                refreshed, attempt = True, attempt - 1
                used = bearer_of(headers)
                async with self._refresh_lock:
                    try:
                        await asyncio.to_thread(core.refresh, self._auth_request(), used)
                    except LoginRequiredError:  # not refreshable: the 401 itself says more
                        raise core.error(response) from None
                continue
            await asyncio.sleep(float(verdict))

    async def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = (await self._send(method, path, **kw)).json()
        return result

    async def list_models(
        self, page_size: int | None = None, page_token: str | None = None
    ) -> ModelPage:
        """One page of the models this account can use."""
        params = _list_params(page_size, page_token)
        return _model_page(await self._json("GET", "models", params=params))

    async def iter_models(self, page_size: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every model, walking all pages."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = await self.list_models(page_size, token)
            for model in page.models:
                yield model
            if not page.next_page_token or page.next_page_token in seen:
                return  # the last page, or a server that cycles its page tokens
            token = page.next_page_token
            seen.add(token)

    async def get_model(self, name: str) -> dict[str, Any]:
        """One model by name (``gemini-x`` or ``models/gemini-x``)."""
        return await self._json("GET", model_path(name))

    async def generate_content(
        self, model: str, contents: Contents, **request_fields: Any
    ) -> dict[str, Any]:
        """``models.generateContent``; extra keyword arguments are request fields (REST names)."""
        return await self._json(
            "POST",
            f"{model_path(model)}:generateContent",
            body=_generate_body(contents, request_fields),
        )

    async def stream_generate_content(
        self, model: str, contents: Contents, **request_fields: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """``models.streamGenerateContent`` over SSE: each chunk as soon as it arrives."""
        response = await self._send(
            "POST",
            f"{model_path(model)}:streamGenerateContent",
            params={"alt": "sse"},
            body=_generate_body(contents, request_fields),
            stream=True,
        )
        decoder = SseDecoder()
        try:
            async for line in response.aiter_lines():
                event = decoder.feed(line)
                if event is not None:
                    yield self._core.check_event(event)
            event = decoder.flush()
            if event is not None:
                yield self._core.check_event(event)
        except httpx.TransportError as exc:
            raise self._core.network_error(exc, str(response.url)) from None
        finally:
            await response.aclose()

    async def count_tokens(self, model: str, contents: Contents) -> int:
        """``models.countTokens``: the prompt's total tokens."""
        data = await self._json(
            "POST",
            f"{model_path(model)}:countTokens",
            body={"contents": normalize_contents(contents)},
        )
        return int(data.get("totalTokens", 0))

    async def aclose(self) -> None:
        """Close the HTTP clients this object created."""
        if self._owns_http:
            await self._http.aclose()
        if self._sync_http is not None:
            self._sync_http.close()

    async def __aenter__(self) -> AsyncGeminiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = [
    "AsyncGeminiClient",
    "GeminiClient",
    "ModelPage",
    "OAuthHeaders",
    "RetryPolicy",
    "error_from_response",
    "text",
]
