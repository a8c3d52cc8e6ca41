"""The doctor's checks against the emulator: each finding, its status and fix, and no secret."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from gemini_oauth import _clock, _doctor
from gemini_oauth._client_secrets import client_from_dict
from gemini_oauth._credentials import save_login
from gemini_oauth._flow import LoginResult
from gemini_oauth._store import profile_file
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import CLOUD_PLATFORM, OPENID, RETRIEVER, USERINFO_EMAIL

ORDER = ["client", "clock", "reachability", "reachability", "cache", "login", "scopes",
         "tokeninfo", "api", "environment"]  # fmt: skip


@pytest.fixture(autouse=True)
def _at_the_emulator(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)


def seed(
    emulator: Emulator,
    profile: str = "work",
    scopes: tuple[str, ...] = (OPENID, USERINFO_EMAIL, CLOUD_PLATFORM, RETRIEVER),
    quota: str | None = None,
) -> dict[str, Any]:
    body = emulator.control.issue_grant(list(scopes))
    result = LoginResult(body["access_token"], body["refresh_token"], _clock.now() + 3000,
                         tuple(body["scope"].split()), account=emulator.user_email)  # fmt: skip
    client = client_from_dict(emulator.client_secret_json())
    save_login(result, client, file=profile_file(profile), quota_project=quota)
    return body


def by_name(report: _doctor.Report) -> dict[str, _doctor.Check]:
    return {check.name: check for check in report.checks}


def test_a_healthy_profile(emulator: Emulator) -> None:
    body = seed(emulator, quota=emulator.project_id)
    report = _doctor.run("work")
    assert [c.name for c in report.checks] == ORDER
    assert report.ok and all(c.status == "ok" for c in report.checks), report.to_dict()
    checks = by_name(report)
    assert "billed to emulator-project" in checks["api"].summary
    assert "for tester@example.com, issued to this client" in checks["tokeninfo"].summary
    shown = json.dumps(report.to_dict())
    for secret in (body["access_token"], body["refresh_token"], emulator.client_secret):
        assert secret not in shown
    assert report.to_dict()["counts"] == {"ok": 10, "warning": 0, "failure": 0, "skipped": 0}


def test_a_login_that_ended_fails_with_its_command(emulator: Emulator) -> None:
    seed(emulator)
    emulator.control.advance_clock(8 * 86400)
    report = _doctor.run("work")
    checks = by_name(report)
    assert not report.ok and checks["clock"].status == "failure"  # 8 days apart, as set up
    assert checks["login"].status == "failure" and "Testing status" in checks["login"].summary
    assert "gemini-oauth login --profile work" in checks["login"].fix
    again = by_name(_doctor.run("work"))["login"]
    assert again.summary.startswith("Profile 'work' needs a new sign-in (since ")
    assert again.fix.startswith("Run 'gemini-oauth login --profile work'")
    assert {checks["tokeninfo"].status, checks["api"].status} == {"skipped"}


def test_clock_skew_is_a_warning_then_a_failure(emulator: Emulator) -> None:
    seed(emulator)
    emulator.control.advance_clock(120)
    clock = by_name(_doctor.run("work"))["clock"]
    assert clock.status == "warning" and "behind the token endpoint's" in clock.summary
    assert "timedatectl set-ntp true" in clock.fix and -130 < clock.details["skew_seconds"] < -110


def test_loose_modes_are_found_before_they_are_repaired(emulator: Emulator) -> None:
    seed(emulator)
    path = profile_file("work").path
    path.chmod(0o644)
    cache = by_name(_doctor.run("work"))["cache"]
    assert cache.status == "failure" and f"{path} is open to others (mode 0644)" in cache.summary
    assert "chmod" in cache.fix


def test_scopes_that_cannot_call_gemini(emulator: Emulator) -> None:
    seed(emulator, scopes=(OPENID, USERINFO_EMAIL))
    checks = by_name(_doctor.run("work"))
    assert checks["scopes"].status == "failure"
    assert "gemini-oauth login --profile work --scopes" in checks["scopes"].fix
    assert checks["api"].status == "failure" and "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in (
        checks["api"].summary
    )


def test_the_api_call_names_a_disabled_api_with_its_link(emulator: Emulator) -> None:
    emulator.control.set_project("api-off", 77, api_enabled=False)
    seed(emulator, quota="api-off")
    api = by_name(_doctor.run("work"))["api"]
    assert api.status == "failure" and "SERVICE_DISABLED" in api.summary
    assert "Enable the Generative Language API in project" in api.fix and "https://" in api.fix


def test_an_unreachable_gemini_host(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(emulator)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9")
    checks = _doctor.run("work").checks
    gemini = [c for c in checks if c.name == "reachability"][1]
    assert gemini.status == "failure" and "http://127.0.0.1:9 cannot be reached" in gemini.summary
    assert "HTTPS_PROXY" in gemini.fix


def test_environment_variables_and_api_keys(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(emulator)
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-not-shown")
    monkeypatch.setenv("GOOGLE_CLOUD_QUOTA_PROJECT", emulator.project_id)
    found = [c for c in _doctor.run("work").checks if c.name == "environment"]
    assert "GOOGLE_CLOUD_QUOTA_PROJECT=emulator-project" in found[0].summary
    assert found[1].status == "warning" and "use that API key instead of OAuth" in found[1].summary
    assert "AIza-not-shown" not in json.dumps([c.details for c in found] + [found[0].summary])


def test_adc_with_a_service_account_key(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "key.json"
    key.write_text(json.dumps(emulator.control.create_service_account()))
    key.chmod(0o600)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    report = _doctor.run(adc=True)
    checks = by_name(report)
    assert report.target == "Application Default Credentials" and report.ok, report.to_dict()
    assert checks["client"].status == "skipped" and "service-account key" in checks["login"].summary
    assert checks["api"].status == "ok" and "private_key" not in json.dumps(report.to_dict())


def test_no_profile_means_adc_as_the_commands_choose(emulator: Emulator) -> None:
    report = _doctor.run(None)
    login = by_name(report)["login"]
    assert report.target == "Application Default Credentials"
    assert login.status == "failure" and "adc login" in login.fix


def test_a_check_is_one_function_in_the_list(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(emulator)

    def check_backend(visit: _doctor.Visit) -> _doctor.Check:
        return _doctor.Check("cache backend", "ok", f"files under {os.path.dirname(visit.login)}")

    at = _doctor.CHECKS.index(_doctor.check_cache) + 1
    monkeypatch.setattr(_doctor, "CHECKS", [*_doctor.CHECKS[:at], check_backend,
                                            *_doctor.CHECKS[at:]])  # fmt: skip
    names = [c.name for c in _doctor.run("work").checks]
    assert names[names.index("cache") + 1] == "cache backend"
