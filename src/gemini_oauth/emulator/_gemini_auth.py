"""Who may call a Gemini method, in the order Google's front end checks: an API key or a Bearer
token (never both), the token's scopes for the method, then the quota project
(``x-goog-user-project`` or the OAuth client's project) must exist, let the caller in, and have the
API enabled. Every Gemini route calls :func:`authorize` first.
"""

from __future__ import annotations

import flask

from gemini_oauth.emulator._constants import GEMINI_SERVICE
from gemini_oauth.emulator._records import AccessTokenInfo, Project
from gemini_oauth.emulator._responses import ApiFault, invalid_argument
from gemini_oauth.emulator._scopes import GEMINI_READ_SCOPES, GEMINI_WRITE_SCOPES
from gemini_oauth.emulator._state import EmulatorState

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


_SERVICES = {
    "ListModels": "ModelService",
    "GetModel": "ModelService",
    **dict.fromkeys(
        ("CreateFile", "GetFile", "ListFiles", "DeleteFile", "RegisterFiles"), "FileService"
    ),
    **dict.fromkeys(
        (
            "CreateCachedContent",
            "GetCachedContent",
            "ListCachedContents",
            "UpdateCachedContent",
            "DeleteCachedContent",
        ),
        "CacheService",
    ),
}
_KEYS_NOT_SUPPORTED = (
    "API keys are not supported by this API. Expected OAuth2 access token or other "
    "authentication credentials that assert a principal. "
    "See https://cloud.google.com/docs/authentication"
)
_OVERLOADED = (
    "API key for authentication is used with other authentication credentials. Expected only "
    "one form of authentication."
)


def _method(version: str, name: str) -> str:
    service = _SERVICES.get(name, "GenerativeService")
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
    url = (
        f"https://console.developers.google.com/apis/api/{GEMINI_SERVICE}/overview?project={number}"
    )
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
        raise invalid_argument(
            "Multiple authentication credentials received. Please pass only one."
        )
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
            accepted = GEMINI_WRITE_SCOPES if write else GEMINI_READ_SCOPES
            project = _quota_project(state, bearer_token(state, authorization, method, accepted))
        if not project.api_enabled:
            raise _service_disabled(project.number)
        return project


def authorize_oauth(
    state: EmulatorState, version: str, name: str, also: tuple[str, ...] = ()
) -> tuple[Project, AccessTokenInfo]:
    """As :func:`authorize`, for a method that takes OAuth only (``files:register``): an API key,
    alone or beside a token, is refused as Google refuses it; the token must also hold one of
    ``also`` (e.g. a Cloud Storage read scope), if given."""
    method = _method(version, name)
    request = flask.request
    keys = [k for k in (request.headers.get("x-goog-api-key"), request.args.get("key")) if k]
    authorization = request.headers.get("Authorization")
    if keys and authorization is not None:
        raise ApiFault(
            401, "UNAUTHENTICATED", _OVERLOADED, "OVERLOADED_CREDENTIALS", {"method": method}
        )
    if keys:
        raise _unauthenticated("CREDENTIALS_MISSING", _KEYS_NOT_SUPPORTED, method)
    with state.lock:
        info = bearer_token(state, authorization, method, GEMINI_WRITE_SCOPES)
        if also and not info.scopes & set(also):
            raise _insufficient_scope(method, also)
        project = _quota_project(state, info)
        if not project.api_enabled:
            raise _service_disabled(project.number)
        return project, info


def _insufficient_scope(method: str, accepted: tuple[str, ...]) -> ApiFault:
    return ApiFault(
        403,
        "PERMISSION_DENIED",
        "Request had insufficient authentication scopes.",
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        {"method": method},
        {"WWW-Authenticate": f'{_REALM}, error="insufficient_scope", scope="{" ".join(accepted)}"'},
    )


def bearer_token(
    state: EmulatorState, authorization: str | None, method: str, accepted: tuple[str, ...]
) -> AccessTokenInfo:
    """The live access token of an ``Authorization`` header holding one of ``accepted`` scopes."""
    if authorization is None:
        raise ApiFault(403, "PERMISSION_DENIED", _UNREGISTERED_CALLER, bare=True)
    scheme, _, token = authorization.partition(" ")
    info = state.access_token_info(token.strip()) if scheme.lower() == "bearer" else None
    if info is None or info.revoked:
        raise _unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED", _INVALID_CREDENTIALS, method)
    if info.expires_at <= state.now():
        raise _unauthenticated("ACCESS_TOKEN_EXPIRED", _INVALID_CREDENTIALS, method)
    if not info.scopes & set(accepted):
        raise _insufficient_scope(method, accepted)
    return info


def _quota_project(state: EmulatorState, info: AccessTokenInfo) -> Project:
    """``x-goog-user-project`` if the caller may use it, else the OAuth client's project."""
    user_project = flask.request.headers.get("x-goog-user-project")
    if user_project:
        project = state.project(user_project)
        if project is None or info.email not in project.members:
            raise _project_denied(user_project)
        return project
    return state.client_project(info.client_id)
