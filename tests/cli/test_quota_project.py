"""Settings checked when set: a quota project Google says the account may not use is refused by
``adc set-quota-project``, ``adc login --quota-project`` and ``login --quota-project`` (real
processes; the emulator serves Cloud Resource Manager); offline, it is set with a warning."""

from __future__ import annotations

import json
from pathlib import Path

from gemini_oauth.emulator import Emulator

from .weekone import gemini, profile_data, ua


def _env(emulator: Emulator, resource_manager: str | None = None) -> dict[str, str]:
    return {
        "CLOUDSDK_AUTH_TOKEN_HOST": f"{emulator.base_url}/token",
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER": resource_manager
        or f"{emulator.base_url}/",
    }


def _adc_file() -> dict[str, object]:
    import os

    path = Path(os.environ["CLOUDSDK_CONFIG"]) / "application_default_credentials.json"
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_adc_set_quota_project_is_checked(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    env = _env(emulator)
    signed = gemini("adc", "login", "--client-secret", str(client_secret_file), cwd=tmp_path,
                    browser=ua(), **env)  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    bad = gemini("adc", "set-quota-project", "does-not-exist-123", cwd=tmp_path, **env)
    assert bad.returncode == 2
    assert "'does-not-exist-123' cannot be the quota project: it does not exist" in bad.stderr
    assert "left as it was" in bad.stderr and "adc set-quota-project PROJECT_ID" in bad.stderr
    assert "quota_project_id" not in _adc_file()
    emulator.control.set_project("not-mine-456", 2000000000002, members=[])
    denied = gemini("adc", "set-quota-project", "not-mine-456", cwd=tmp_path, **env)
    assert denied.returncode == 2 and "quota_project_id" not in _adc_file()
    good = gemini("adc", "set-quota-project", emulator.project_id, cwd=tmp_path, **env)
    assert good.returncode == 0 and good.stderr.startswith("Quota project")
    assert "warning" not in good.stderr
    assert _adc_file()["quota_project_id"] == emulator.project_id
    assert emulator.control.counters()["projects.testIamPermissions"] == 3
    offline = gemini("adc", "set-quota-project", "offline-project-789", cwd=tmp_path,
                     **_env(emulator, "http://127.0.0.1:9/"))  # fmt: skip
    assert offline.returncode == 0
    assert "warning: could not check that you may use project 'offline-project-789'" in (
        offline.stderr
    )
    assert "set anyway" in offline.stderr and "ConnectError" in offline.stderr
    assert _adc_file()["quota_project_id"] == "offline-project-789"


def test_adc_login_quota_project_is_checked(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    env = _env(emulator)
    bad = gemini("adc", "login", "--client-secret", str(client_secret_file), "--quota-project",
                 "does-not-exist-123", cwd=tmp_path, browser=ua(), **env)  # fmt: skip
    assert bad.returncode == 2 and "cannot be the quota project" in bad.stderr
    assert "saved without a quota project" in bad.stderr
    assert "quota_project_id" not in _adc_file()  # signed in all the same
    good = gemini("adc", "login", "--client-secret", str(client_secret_file), "--quota-project",
                  emulator.project_id, "--json", cwd=tmp_path, browser=ua(), **env)  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["quota_project_id"] == emulator.project_id
    assert _adc_file()["quota_project_id"] == emulator.project_id


def test_login_quota_project_is_checked(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    env = _env(emulator)
    args = ("login", "--client-secret", str(client_secret_file), "--profile", "work", "--force")
    good = gemini(*args, "--quota-project", emulator.project_id, "--json", cwd=tmp_path,
                  browser=ua(), **env)  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["quota_project"] == emulator.project_id
    assert profile_data("work")["quota_project_id"] == emulator.project_id
    bad = gemini(*args, "--quota-project", "does-not-exist-123", cwd=tmp_path, browser=ua(),
                 **env)  # fmt: skip
    assert bad.returncode == 2
    assert "'does-not-exist-123' cannot be the quota project" in bad.stderr
    assert f"quota project is unchanged ({emulator.project_id})" in bad.stderr
    assert "gemini-oauth login --profile work --force --quota-project PROJECT_ID" in bad.stderr
    data = profile_data("work")
    assert data["quota_project_id"] == emulator.project_id and data["refresh_token"]
    malformed = gemini(*args, "--quota-project", "Not A Project", cwd=tmp_path, browser=ua(),
                       **env)  # fmt: skip
    assert malformed.returncode == 2 and "Using OAuth client" not in malformed.stderr  # no browser
    offline = gemini(*args, "--quota-project", "offline-project-789", cwd=tmp_path, browser=ua(),
                     **_env(emulator, "http://127.0.0.1:9/"))  # fmt: skip
    assert offline.returncode == 0 and "could not check" in offline.stderr
    assert profile_data("work")["quota_project_id"] == "offline-project-789"
