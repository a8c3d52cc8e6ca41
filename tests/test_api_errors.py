"""Gemini API errors -> typed ApiErrors with their fix (pure; bodies as Google and the emulator
send them)."""

from __future__ import annotations

import json

import httpx

from gemini_oauth import errors
from gemini_oauth._api_errors import error_from_response
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import CLOUD_PLATFORM


def test_error_body_that_is_not_json() -> None:
    exc = error_from_response(502, b"<html>Bad Gateway</html>")
    assert isinstance(exc, errors.ServerError)
    assert exc.code == 502 and "Bad Gateway" in exc.message
    assert "Bad Gateway" in error_from_response(502, b"").message  # the reason phrase


def test_secrets_are_blanked_from_messages() -> None:
    secret = "tok-" + "x" * 30
    body = json.dumps({"error": {"code": 400, "message": f"bad token {secret}"}})
    exc = error_from_response(400, body, secrets=[secret])
    assert secret not in str(exc) and "[redacted]" in str(exc)


def test_gcloud_project_means_no_quota_project_was_sent() -> None:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "SERVICE_DISABLED",
        "metadata": {"consumer": "projects/764086051850"},
    }
    body = {"error": {"code": 403, "status": "PERMISSION_DENIED", "details": [info]}}
    exc = error_from_response(403, json.dumps(body))
    assert isinstance(exc, errors.ServiceDisabledError)
    assert "--quota-project" in exc.hint and "GOOGLE_CLOUD_QUOTA_PROJECT" in exc.hint


def test_no_credentials_answer_is_an_authentication_error(emulator: Emulator) -> None:
    """Google's bare 403 "unregistered callers" means nothing identified the caller."""
    response = httpx.get(emulator.base_url + "/v1/models")
    exc = error_from_response(response.status_code, response.content)
    assert isinstance(exc, errors.AuthenticationError) and exc.code == 403
    assert "gemini-oauth login" in exc.hint


def test_other_errors_still_say_what_to_do(emulator: Emulator) -> None:
    grant = emulator.control.issue_grant(scopes=[CLOUD_PLATFORM])
    response = httpx.post(
        emulator.base_url + "/v1/models/gemini-2.5-flash:generateContent",
        headers={"Authorization": f"Bearer {grant['access_token']}"},
        json={"contents": []},
    )
    exc = error_from_response(response.status_code, response.content)
    assert type(exc) is errors.ApiError and exc.code == 400 and exc.hint


def _answer(reason: str, **metadata: str) -> str:
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
            "metadata": metadata}  # fmt: skip
    return json.dumps({"error": {"code": 403, "status": "PERMISSION_DENIED", "details": [info]}})


def test_hints_name_the_callers_own_commands() -> None:
    """A profile's fixes carry --profile; ADC's are the adc commands."""
    from gemini_oauth._setup import GrantContext, profile_context

    work = profile_context("work", {})
    adc = GrantContext(login="gemini-oauth adc login", adc=True)
    scope = _answer("ACCESS_TOKEN_SCOPE_INSUFFICIENT", method="x.GenerativeService.Generate")
    assert "gemini-oauth login --profile work --scopes cloud-platform,retriever" in (
        error_from_response(403, scope, caller=work).hint
    )
    assert "gemini-oauth adc login --scopes" in error_from_response(403, scope, caller=adc).hint
    denied = _answer("USER_PROJECT_DENIED", consumer="projects/p")
    assert "gemini-oauth adc set-quota-project" in error_from_response(403, denied, caller=adc).hint
    profile_hint = error_from_response(403, denied, caller=work).hint
    assert "--quota-project PROJECT_ID" in profile_hint and "adc" not in profile_hint
    gcloud = _answer("SERVICE_DISABLED", consumer="projects/764086051850")
    assert "adc set-quota-project" in error_from_response(403, gcloud, caller=adc).hint
    body = json.dumps({"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "x"}})
    assert "'gemini-oauth login --profile work'" in error_from_response(401, body, caller=work).hint
