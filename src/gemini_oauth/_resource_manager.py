"""May this account bill that project? Cloud Resource Manager's ``testIamPermissions`` for
``serviceusage.services.use``, which gcloud asks before it sets a quota project
(googlecloudsdk/command_lib/auth/auth_util.py ``AdcHasGivenPermissionOnProject``).

Three outcomes: allowed (None); refused (QuotaProjectError: the project does not exist, or the
account may not use it); not known (a warning: offline, the token or its scopes cannot ask, the
API is off in the client's project), in which case the caller keeps the setting and says so.
No quota project is sent with the question: the project asked about may be the bad one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gemini_oauth._constants import RESOURCE_MANAGER_ENV
from gemini_oauth._project import check_project_id
from gemini_oauth._redact import server_text
from gemini_oauth._urls import checked_url
from gemini_oauth.errors import GeminiOAuthError, QuotaProjectError

if TYPE_CHECKING:
    import httpx

SERVICE_USAGE_USE = "serviceusage.services.use"
RESOURCE_MANAGER_URL = "https://cloudresourcemanager.googleapis.com/"
_TIMEOUT = 15.0


def resource_manager_url(env: Mapping[str, str] | None = None) -> str:
    """$CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER (gcloud's own override), else
    Google's; it receives a bearer token, so it follows the one URL rule."""
    env = os.environ if env is None else env
    value = env.get(RESOURCE_MANAGER_ENV)
    if not value:
        return RESOURCE_MANAGER_URL
    try:
        url = checked_url(value, query=False)
    except ValueError as exc:
        raise QuotaProjectError(
            f"${RESOURCE_MANAGER_ENV} ({value[:100]!r}) cannot be used: {exc}.",
            hint=f"Unset {RESOURCE_MANAGER_ENV}, or point it at an https:// endpoint.",
        ) from None
    return url if url.endswith("/") else url + "/"


def check_quota_project(
    project: str,
    token: str | Callable[[], str],
    *,
    account: str | None = None,
    http: httpx.Client | None = None,
    env: Mapping[str, str] | None = None,
) -> str | None:
    """None if ``account`` may use ``project`` as its quota project; a warning when that cannot
    be told; QuotaProjectError when Google says no. ``token`` (or a function giving one, whose
    failure means "cannot be told") must carry a Cloud Platform scope."""
    import httpx

    check_project_id(project)
    url = f"{resource_manager_url(env)}v1/projects/{project}:testIamPermissions"
    try:
        bearer = token() if callable(token) else token
    except GeminiOAuthError as exc:
        return _unchecked(project, exc.message.rstrip("."))
    who = account or "this account"
    client = http or httpx.Client(timeout=_TIMEOUT)
    try:
        answer = client.post(
            url,
            json={"permissions": [SERVICE_USAGE_USE]},
            headers={"Authorization": f"Bearer {bearer}"},
        )
    except httpx.HTTPError as exc:
        return _unchecked(project, f"Cloud Resource Manager did not answer ({type(exc).__name__})")
    finally:
        if http is None:
            client.close()
    try:
        parsed = answer.json()
    except ValueError:
        parsed = None
    body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    if answer.status_code == 200:
        if SERVICE_USAGE_USE in (body.get("permissions") or []):
            return None
        raise _refused(project, f"{who} lacks the permission {SERVICE_USAGE_USE} on it")
    error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
    reason = _reason(error)
    said = server_text(error.get("message") or f"HTTP {answer.status_code}")
    if answer.status_code in (400, 404) or (answer.status_code == 403 and not reason):
        raise _refused(project, f"it does not exist, or {who} may not use it ({said})")
    if reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT":
        said = "the login's scopes do not let it ask (cloud-platform does)"
    elif reason == "SERVICE_DISABLED":
        said = "the Cloud Resource Manager API is off in the OAuth client's project"
    return _unchecked(project, f"Cloud Resource Manager answered {answer.status_code}: {said}")


def _reason(error: Mapping[str, object]) -> str:
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("ErrorInfo"):
            return str(detail.get("reason") or "")
    return ""


def _refused(project: str, why: str) -> QuotaProjectError:
    return QuotaProjectError(
        f"Project {project!r} cannot be the quota project: {why}.",
        hint="Choose a project you may bill: one where you have the Service Usage Consumer role "
        f"(https://console.cloud.google.com/iam-admin/iam?project={project}).",
    )


def _unchecked(project: str, why: str) -> str:
    return (
        f"could not check that you may use project {project!r} as the quota project ({why}); "
        "it is set anyway. 'gemini-oauth doctor' tries a call with it."
    )


__all__ = [
    "RESOURCE_MANAGER_URL",
    "SERVICE_USAGE_USE",
    "check_quota_project",
    "resource_manager_url",
]
