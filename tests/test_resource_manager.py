"""check_quota_project: allowed, refused (QuotaProjectError) or not known (a warning), by what
Cloud Resource Manager answers; the emulator serves it over real HTTP."""

from __future__ import annotations

import pytest

from gemini_oauth._resource_manager import check_quota_project, resource_manager_url
from gemini_oauth.emulator import Emulator
from gemini_oauth.errors import GeminiOAuthError, QuotaProjectError, TokenEndpointError

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
PATH = "/v1/projects/"


def env(emu: Emulator) -> dict[str, str]:
    return {"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER": emu.base_url}


def test_allowed_refused_and_unknown(emulator: Emulator) -> None:
    token = emulator.control.issue_grant([CLOUD_PLATFORM])["access_token"]
    e = env(emulator)
    assert check_quota_project(emulator.project_id, token, env=e) is None
    with pytest.raises(QuotaProjectError) as refused:
        check_quota_project("does-not-exist-123", token, account="a@example.com", env=e)
    assert "does not exist, or a@example.com may not use it" in refused.value.message
    assert refused.value.exit_code == 2 and "iam-admin/iam?project=does-not-exist-123" in (
        refused.value.hint
    )
    emulator.control.add_fault(PATH, 200, body={})  # a project seen, the permission not held
    with pytest.raises(QuotaProjectError, match=r"lacks the permission serviceusage\.services"):
        check_quota_project(emulator.project_id, token, env=e)
    disabled = {
        "error": {
            "code": 403,
            "status": "PERMISSION_DENIED",
            "message": "Cloud Resource Manager API has not been used in project 1 before",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED"}
            ],
        }
    }
    emulator.control.add_fault(PATH, 403, body=disabled)
    said = check_quota_project(emulator.project_id, token, env=e)
    assert said is not None and "API is off in the OAuth client's project" in said
    emulator.control.add_fault(PATH, 503)
    said = check_quota_project(emulator.project_id, token, env=e)
    assert said is not None and "answered 503" in said and "set anyway" in said
    narrow = emulator.control.issue_grant(
        ["https://www.googleapis.com/auth/generative-language.retriever"]
    )["access_token"]
    said = check_quota_project(emulator.project_id, narrow, env=e)
    assert said is not None and "scopes do not let it ask" in said
    assert emulator.control.counters()["projects.testIamPermissions"] == 3


def test_a_token_that_cannot_be_had_is_unknown_not_refused(emulator: Emulator) -> None:
    def no_token() -> str:
        raise TokenEndpointError("Could not reach the token endpoint.", transient=True)

    said = check_quota_project(emulator.project_id, no_token, env=env(emulator))
    assert said is not None and "Could not reach the token endpoint" in said
    assert emulator.control.counters().get("projects.testIamPermissions", 0) == 0


def test_the_endpoint_follows_the_url_rule() -> None:
    assert resource_manager_url({}) == "https://cloudresourcemanager.googleapis.com/"
    assert (
        resource_manager_url(
            {"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER": "http://127.0.0.1:8089"}
        )
        == "http://127.0.0.1:8089/"
    )
    with pytest.raises(GeminiOAuthError, match="cannot be used"):
        resource_manager_url(
            {"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER": "http://evil.example/"}
        )
