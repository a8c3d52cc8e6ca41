"""Cloud Resource Manager v1, the one method gcloud asks before it sets a quota project:
``POST /v1/projects/{project}:testIamPermissions {"permissions": [...]}``.

As Google answers: a Bearer token with a Cloud Platform scope is needed (an API key is refused);
a project that does not exist, or that the caller may not see, is the same bare 403 "The caller
does not have permission" (existence is not revealed); otherwise 200 with the subset of the
permissions asked that the caller holds (``{}`` for none). Project members hold every permission
in ``MEMBER_PERMISSIONS``. Counter ``projects.testIamPermissions``.
"""

from __future__ import annotations

import flask

from gemini_oauth.emulator._gemini_auth import bearer_token
from gemini_oauth.emulator._responses import (
    ApiFault,
    api_json,
    fault_response,
    invalid_argument,
    json_object_body,
)
from gemini_oauth.emulator._scopes import AUTH, CLOUD_PLATFORM
from gemini_oauth.emulator._state import EmulatorState

SERVICE = "cloudresourcemanager.googleapis.com"
METHOD = "google.cloudresourcemanager.v1.Projects.TestIamPermissions"
#: Scopes Google accepts for projects.testIamPermissions.
ACCEPTED_SCOPES = (
    CLOUD_PLATFORM,
    AUTH + "cloud-platform.read-only",
    AUTH + "cloudplatformprojects",
    AUTH + "cloudplatformprojects.readonly",
)
#: What a member of a project may do, of what callers ask about.
MEMBER_PERMISSIONS = frozenset(
    {"serviceusage.services.use", "resourcemanager.projects.get", "serviceusage.services.get"}
)
_NO_PERMISSION = "The caller does not have permission"


def permissions_held(state: EmulatorState, project_id: str) -> dict[str, list[str]]:
    """The answer for the current request, or ApiFault as Google's."""
    request = flask.request
    if request.headers.get("x-goog-api-key") or request.args.get("key"):
        raise ApiFault(
            401,
            "UNAUTHENTICATED",
            "API keys are not supported by this API. Expected OAuth2 access token or other "
            "authentication credentials that assert a principal.",
            "CREDENTIALS_MISSING",
            {"method": METHOD},
            service=SERVICE,
        )
    body = json_object_body()
    asked = body.get("permissions", [])
    if not isinstance(asked, list) or not all(isinstance(p, str) for p in asked):
        raise invalid_argument("permissions must be a list of strings", "permissions")
    authorization = request.headers.get("Authorization")
    with state.lock:
        try:
            info = bearer_token(state, authorization, METHOD, ACCEPTED_SCOPES)
        except ApiFault as fault:
            fault.service = SERVICE
            raise
        project = state.project(project_id)
        if project is None or info.email not in project.members:
            raise ApiFault(403, "PERMISSION_DENIED", _NO_PERMISSION, bare=True, service=SERVICE)
    held = [p for p in dict.fromkeys(asked) if p in MEMBER_PERMISSIONS]
    return {"permissions": held} if held else {}


def register(app: flask.Flask, state: EmulatorState) -> None:
    """Add ``/v1/projects/{project}:testIamPermissions`` to ``app``."""

    def view(target: str) -> flask.Response:
        project_id, _, action = target.partition(":")
        if action != "testIamPermissions":
            return fault_response(
                ApiFault(404, "NOT_FOUND", f"The emulator does not implement {target!r}.")
            )
        state.count("projects.testIamPermissions")
        try:
            return api_json(permissions_held(state, project_id))
        except ApiFault as fault:
            return fault_response(fault)

    app.add_url_rule(
        "/v1/projects/<target>", "resource_manager", view, methods=["POST"], strict_slashes=False
    )


__all__ = ["MEMBER_PERMISSIONS", "permissions_held", "register"]
