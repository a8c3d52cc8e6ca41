"""The emulator's Cloud Resource Manager: projects.testIamPermissions, as Google answers it."""

from __future__ import annotations

import httpx

from gemini_oauth.emulator import Emulator

USE = "serviceusage.services.use"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


def ask(
    emu: Emulator, project: str, token: str | None, permissions: object = (USE,)
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"permissions": list(permissions) if isinstance(permissions, tuple) else permissions}
    return httpx.post(
        f"{emu.base_url}/v1/projects/{project}:testIamPermissions",
        json=body,
        headers=headers,
        timeout=10,
    )


def test_members_hold_the_permission_others_get_a_bare_403(emulator: Emulator) -> None:
    token = emulator.control.issue_grant([CLOUD_PLATFORM])["access_token"]
    mine = ask(emulator, emulator.project_id, token, (USE, "storage.buckets.delete", USE))
    assert mine.status_code == 200 and mine.json() == {"permissions": [USE]}
    assert ask(emulator, str(emulator.project_number), token).json() == {"permissions": [USE]}
    assert ask(emulator, emulator.project_id, token, ("storage.buckets.delete",)).json() == {}
    for project in ("does-not-exist-123", "not-mine-456"):
        if project == "not-mine-456":
            emulator.control.set_project(project, 2000000000002, members=[])
        refused = ask(emulator, project, token)
        assert refused.status_code == 403
        assert refused.json() == {
            "error": {
                "code": 403,
                "message": "The caller does not have permission",
                "status": "PERMISSION_DENIED",
            }
        }
    assert emulator.control.counters()["projects.testIamPermissions"] == 5


def test_credentials_and_scopes_are_checked(emulator: Emulator) -> None:
    assert ask(emulator, emulator.project_id, None).status_code == 403
    assert ask(emulator, emulator.project_id, "ya29.emu.nope").status_code == 401
    narrow = emulator.control.issue_grant(
        ["https://www.googleapis.com/auth/generative-language.retriever"]
    )["access_token"]
    insufficient = ask(emulator, emulator.project_id, narrow)
    assert insufficient.status_code == 403
    info = insufficient.json()["error"]["details"][0]
    assert info["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    assert info["metadata"]["service"] == "cloudresourcemanager.googleapis.com"
    keyed = httpx.post(
        f"{emulator.base_url}/v1/projects/{emulator.project_id}:testIamPermissions",
        json={"permissions": [USE]},
        headers={"x-goog-api-key": emulator.api_key},
        timeout=10,
    )
    assert keyed.status_code == 401
    token = emulator.control.issue_grant([CLOUD_PLATFORM])["access_token"]
    assert ask(emulator, emulator.project_id, token, "not a list").status_code == 400
    other = httpx.post(
        f"{emulator.base_url}/v1/projects/{emulator.project_id}:getIamPolicy",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert other.status_code == 404
