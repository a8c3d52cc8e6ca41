"""Gemini API errors (``{"error": google.rpc.Status}``) -> the typed ApiError, with the fix.

Pure: a status code and a body in, an exception out. Server text is untrusted: the message,
status, reason and metadata pass through ``_redact.server_text`` (one line, no control
characters, secrets redacted), with any secret the caller names blanked out first. The fix
names the caller's own commands: its ``GrantContext`` says how its login is made again
(``--profile NAME``) and whether it is Application Default Credentials (the ``adc`` commands).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from gemini_oauth._redact import server_text
from gemini_oauth._retry import parse_retry_after, retry_info_delay
from gemini_oauth._token_endpoint import NO_CONTEXT, GrantContext
from gemini_oauth.errors import (
    ApiError,
    ApiKeyInvalidError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ScopeInsufficientError,
    ServerError,
    ServiceDisabledError,
    UserProjectDeniedError,
)

# gcloud's own OAuth client project: a SERVICE_DISABLED naming it means no quota project was sent.
_GCLOUD_PROJECT_NUMBER = "764086051850"


def _reason_phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return ""


def _error_info(details: list[dict[str, Any]]) -> tuple[str, dict[str, str]]:
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo"):
            metadata = detail.get("metadata")
            pairs = metadata.items() if isinstance(metadata, dict) else ()
            safe = {server_text(k, 100): server_text(v, 300) for k, v in pairs}
            return server_text(detail.get("reason", ""), 100), safe
    return "", {}


def _project_of(metadata: Mapping[str, str], fallback: str | None) -> str | None:
    consumer = metadata.get("consumer") or metadata.get("containerInfo") or ""
    return consumer.removeprefix("projects/") or fallback


def _scope_hint(metadata: Mapping[str, str], caller: GrantContext) -> str:
    method = metadata.get("method", "")
    scopes = "cloud-platform,retriever" + (",tuning" if "Tuning" in method else "")
    needed = f" (needed by {method})" if method else ""
    if caller.adc and not caller.login.startswith(("gemini-oauth adc", "gcloud")):
        return (
            f"These credentials lack a scope this method accepts{needed}: give the service "
            "account or instance the cloud-platform scope."
        )
    login = caller.login.replace(" --client-secret PATH/TO/client_secret.json", "")
    if login.startswith("gcloud"):
        login = "gemini-oauth adc login"
    elif not login.startswith("gemini-oauth "):  # credentials of unknown origin: either login
        return (
            f"Sign in again with a scope this method accepts{needed}: gemini-oauth login "
            f"--scopes {scopes} (or gemini-oauth adc login --scopes {scopes} for ADC)"
        )
    return f"Sign in again with a scope this method accepts{needed}: {login} --scopes {scopes}"


def _choose_project(caller: GrantContext) -> str:
    """How this caller names another quota project."""
    if caller.adc:
        return "gemini-oauth adc set-quota-project PROJECT_ID (or set GOOGLE_CLOUD_QUOTA_PROJECT)"
    return "pass --quota-project PROJECT_ID (or set GOOGLE_CLOUD_QUOTA_PROJECT)"


def _service_disabled_hint(
    metadata: Mapping[str, str], quota_project: str | None, caller: GrantContext
) -> str:
    project = _project_of(metadata, quota_project)
    if project == _GCLOUD_PROJECT_NUMBER:
        return (
            "No quota project reached Google, so it billed gcloud's own project: "
            + _choose_project(caller)
            + "."
        )
    url = metadata.get("activationUrl") or (
        "https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/"
        f"overview?project={project or 'YOUR_PROJECT'}"
    )
    return (
        f"Enable the Generative Language API in project {project or '(your quota project)'} at "
        f"{url}, wait a minute, and retry."
    )


def _user_project_hint(
    metadata: Mapping[str, str], quota_project: str | None, caller: GrantContext
) -> str:
    project = _project_of(metadata, quota_project) or "the quota project"
    return (
        f"The account lacks serviceusage.services.use on {project}: grant it "
        "roles/serviceusage.serviceUsageConsumer there, or bill another project: "
        + _choose_project(caller)
        + "."
    )


_KEY_MESSAGES = (
    "api key not valid",
    "api key for authentication is used with other",
    "api keys are not supported",
    "multiple authentication credentials",
)
_API_KEY_HINT = (
    "An API key was sent where OAuth was meant: drop the key (x-goog-api-key, ?key=, "
    "GOOGLE_API_KEY/GEMINI_API_KEY) and let gemini-oauth send the bearer token."
)


_FILE_GONE_HINT = (
    "The file is gone (files expire 48 hours after upload), was never there, or belongs to "
    "another project: see yours with 'gemini-oauth files list'."
)
_CACHE_GONE_HINT = (
    "The cached content expired or belongs to another project; create it again with a longer ttl."
)
_SERVICE_AGENT_HINT = (
    "Let the Gemini API read the bucket: gcloud storage buckets add-iam-policy-binding gs://BUCKET "
    "--member=serviceAccount:SERVICE_AGENT --role=roles/storage.objectViewer (the agent named "
    "above)."
)
_OBJECT_HINT = "Check the gs:// URI: 'gcloud storage ls gs://BUCKET' lists what the bucket holds."
_STORAGE_HINT = (
    "Delete files you no longer need ('gemini-oauth files list', then 'gemini-oauth files delete "
    "NAME'); uploaded files also expire 48 hours after upload."
)


def error_from_response(
    status_code: int,
    body: bytes | str,
    *,
    quota_project: str | None = None,
    secrets: Iterable[str] = (),
    caller: GrantContext = NO_CONTEXT,
    retry_after: str | None = None,
) -> ApiError:
    """Google's JSON error (``{"error": google.rpc.Status}``) -> the matching ApiError subclass.

    ``secrets`` (e.g. the bearer token sent) are blanked out of the message, whatever the body says.
    ``caller`` is the login behind the call: its commands are the ones the hints name.
    ``retry_after`` (the header) or the body's RetryInfo tells a 429's hint how long to wait.
    """
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        parsed: Any = json.loads(raw)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, list) and parsed:  # streamGenerateContent without alt=sse
        parsed = parsed[0]
    err = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(err, dict):
        err = {"message": " ".join(raw.split())[:200] or _reason_phrase(status_code)}
    details = [d for d in err.get("details") or [] if isinstance(d, dict)]
    reason, metadata = _error_info(details)
    status = server_text(err.get("status", ""), 100)
    message = str(err.get("message", "")).strip()
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[redacted]")
    message = server_text(message, 1000)
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
        return ScopeInsufficientError(text_, hint=_scope_hint(metadata, caller), **kw)
    if reason == "SERVICE_DISABLED":
        hint = _service_disabled_hint(metadata, quota_project, caller)
        return ServiceDisabledError(text_, hint=hint, **kw)
    if reason == "USER_PROJECT_DENIED":
        hint = _user_project_hint(metadata, quota_project, caller)
        return UserProjectDeniedError(text_, hint=hint, **kw)
    if reason in {"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"} or any(
        x in lowered for x in _KEY_MESSAGES
    ):
        return ApiKeyInvalidError(text_, hint=_API_KEY_HINT, **kw)
    if status_code == 401 or "unregistered callers" in lowered:  # 403: no key and no token sent
        return AuthenticationError(text_, hint=f"Run {caller.run} to sign in again.", **kw)
    if "permission to access the file" in lowered:  # Google's 403 for a missing file
        return NotFoundError(text_, hint=_FILE_GONE_HINT, **kw)
    if "cachedcontent not found" in lowered:
        return NotFoundError(text_, hint=_CACHE_GONE_HINT, **kw)
    if "service agent" in lowered:
        return ApiError(text_, hint=_SERVICE_AGENT_HINT, **kw)
    if status_code == 404 and "gs://" in message:
        return NotFoundError(text_, hint=_OBJECT_HINT, **kw)
    if status_code == 404:
        return NotFoundError(text_, **kw)
    if reason == "FILE_STORAGE_QUOTA_EXCEEDED":
        return RateLimitError(text_, hint=_STORAGE_HINT, **kw)
    if status_code == 429:
        return RateLimitError(text_, hint=_rate_limit_hint(retry_after, raw), **kw)
    if status_code >= 500:
        return ServerError(text_, **kw)
    if status_code == 400:
        return ApiError(text_, hint="Fix the request field that Google names above.", **kw)
    return ApiError(text_, hint="Google's message says why; --verbose shows the exchange.", **kw)


def _rate_limit_hint(retry_after: str | None, body: str) -> str | None:
    """Google's own wait when it gave one (Retry-After, else RetryInfo); else the default."""
    wait = parse_retry_after(retry_after)
    if wait is None:
        wait = retry_info_delay(body)
    if wait is None or wait < 1:
        return None
    return (
        f"Google asked to wait {wait:.0f} s before trying again; try then, or request more "
        "quota for the project."
    )


__all__ = ["error_from_response"]
