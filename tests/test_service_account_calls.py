"""Calling Gemini as a service account, end to end against the emulator: explicit credentials,
a key file through $GOOGLE_APPLICATION_CREDENTIALS, and the metadata server, from the library
and from `gemini-oauth` as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.auth import compute_engine
from google.auth.compute_engine import _metadata
from google.oauth2 import service_account

from gemini_oauth import GeminiClient
from gemini_oauth import _adc as adc
from gemini_oauth.emulator import DEFAULT_SERVICE_ACCOUNT, Emulator

CLOUD = "https://www.googleapis.com/auth/cloud-platform"
MODEL = "gemini-2.5-flash"


def text(reply: dict[str, Any]) -> str:
    return str(reply["candidates"][0]["content"]["parts"][0]["text"])


def key_file(emulator: Emulator, tmp_path: Path, **changes: str) -> Path:
    key = {**emulator.control.create_service_account(), **changes}
    path = tmp_path / "sa-key.json"
    path.write_text(json.dumps(key))
    path.chmod(0o600)
    return path


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`gemini-oauth` as the installed console script (else ``python -m``), in a clean env."""
    script = Path(sys.executable).with_name("gemini-oauth")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "gemini_oauth"]
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GCE_", "NO_GCE", "GOOGLE_", "CLOUDSDK_AUTH"))
    }
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=60, env={**clean, **env}
    )


@pytest.fixture
def gce_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The metadata server at the emulator, for google-auth in this process and in children."""
    host = emulator.base_url.removeprefix("http://")
    env = {"GCE_METADATA_HOST": host, "GCE_METADATA_IP": host}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", host)  # google-auth reads it at import
    monkeypatch.setattr(_metadata, "_NO_GCE_CHECK", False)
    yield env


def test_explicit_service_account_credentials_list_and_generate(emulator: Emulator) -> None:
    key = emulator.control.create_service_account()
    creds = service_account.Credentials.from_service_account_info(key, scopes=[CLOUD])  # type: ignore[no-untyped-call]
    with GeminiClient(credentials=creds, base_url=emulator.base_url) as gemini:
        names = [m["name"] for m in gemini.iter_models()]
        assert f"models/{MODEL}" in names
        reply = gemini.generate_content(MODEL, "Hello from a robot")
        assert MODEL in text(reply)
        assert gemini.count_tokens(MODEL, "a b c") == 3
    counters = emulator.control.counters()
    assert counters["token.jwt_bearer"] == 1 and counters["models.generateContent"] == 1
    assert counters["token.refresh_token"] == 0


def test_a_refused_token_is_replaced_by_a_new_assertion(emulator: Emulator) -> None:
    key = emulator.control.create_service_account()
    creds = service_account.Credentials.from_service_account_info(key, scopes=[CLOUD])  # type: ignore[no-untyped-call]
    with GeminiClient(credentials=creds, base_url=emulator.base_url) as gemini:
        gemini.list_models()
        revoked = httpx.post(emulator.base_url + "/revoke", data={"token": creds.token})
        assert revoked.status_code == 200
        gemini.list_models()  # the 401 makes google-auth sign a new assertion
    assert emulator.control.counters()["token.jwt_bearer"] == 2


def test_self_signed_jwt_credentials(emulator: Emulator) -> None:
    key = emulator.control.create_service_account()
    creds = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        key, scopes=[CLOUD], always_use_jwt_access=True
    )
    with GeminiClient(credentials=creds, base_url=emulator.base_url) as gemini:
        assert MODEL in text(gemini.generate_content(MODEL, "jwt"))
    assert emulator.control.counters()["token.jwt_bearer"] == 0


def test_quota_project_is_sent_for_a_service_account(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.control.set_project("not-its-project", 99, members=[])
    key = emulator.control.create_service_account()
    creds = service_account.Credentials.from_service_account_info(key, scopes=[CLOUD])  # type: ignore[no-untyped-call]
    with GeminiClient(credentials=creds, base_url=emulator.base_url) as gemini:
        assert gemini.list_models().models  # no quota project: the key's project is billed
    from gemini_oauth import errors

    monkeypatch.setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "not-its-project")
    with (
        GeminiClient(credentials=creds, base_url=emulator.base_url) as gemini,
        pytest.raises(errors.UserProjectDeniedError),
    ):
        gemini.list_models()


def test_adc_key_file_through_the_library(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(adc.CREDENTIALS_ENV, str(key_file(emulator, tmp_path)))
    creds, project = adc.default_credentials([CLOUD])
    assert isinstance(creds, service_account.Credentials) and project == emulator.project_id
    with GeminiClient(base_url=emulator.base_url, adc=True) as gemini:
        assert gemini.list_models().models
    with GeminiClient(base_url=emulator.base_url) as gemini:  # no profile: ADC
        assert gemini.list_models().models


def test_models_list_with_a_key_file_as_a_process(emulator: Emulator, tmp_path: Path) -> None:
    env = {adc.CREDENTIALS_ENV: str(key_file(emulator, tmp_path))}
    proc = cli("models", "list", "--adc", "--endpoint", emulator.base_url, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"models/{MODEL}" in [m["name"] for m in json.loads(proc.stdout)]
    proc = cli("generate", "--adc", "--endpoint", emulator.base_url, "hi", env=env)
    assert proc.returncode == 0 and MODEL in proc.stdout, proc.stderr
    assert emulator.control.counters()["token.jwt_bearer"] == 2  # one per process


@pytest.mark.parametrize("broken", ["unknown account", "wrong key"])
def test_a_refused_key_fails_clearly(emulator: Emulator, tmp_path: Path, broken: str) -> None:
    if broken == "unknown account":
        path = key_file(
            emulator, tmp_path, client_email="ghost@emulator-project.iam.gserviceaccount.com"
        )
        said = "account not found"
    else:
        other = emulator.control.create_service_account()
        path = key_file(emulator, tmp_path, private_key=other["private_key"])
        said = "Invalid JWT Signature."
    proc = cli("models", "list", "--adc", "--endpoint", emulator.base_url,
               env={adc.CREDENTIALS_ENV: str(path)})  # fmt: skip
    assert proc.returncode != 0 and proc.stdout == ""
    assert said in proc.stderr and "PRIVATE KEY" not in proc.stderr
    assert "service account" in proc.stderr and adc.CREDENTIALS_ENV in proc.stderr  # the fix
    assert "Traceback" not in proc.stderr


def test_metadata_server_through_the_library(emulator: Emulator, gce_env: dict[str, str]) -> None:
    creds, project = adc.default_credentials([CLOUD])
    assert isinstance(creds, compute_engine.Credentials) and project == emulator.project_id
    with GeminiClient(base_url=emulator.base_url) as gemini:  # no profile, no ADC file
        assert MODEL in text(gemini.generate_content(MODEL, "from a VM"))
    assert creds.service_account_email in ("default", DEFAULT_SERVICE_ACCOUNT)
    assert emulator.control.counters()["metadata.token"] == 1


def test_models_list_falls_back_to_the_metadata_server_as_a_process(
    emulator: Emulator, gce_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**gce_env, "GEMINI_OAUTH_HOME": str(tmp_path / "home"),
           "CLOUDSDK_CONFIG": str(tmp_path / "gcloud")}  # fmt: skip
    proc = cli("models", "list", "--endpoint", emulator.base_url, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"models/{MODEL}" in [m["name"] for m in json.loads(proc.stdout)]
    assert emulator.control.counters()["metadata.token"] == 1
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*.json"))
    emulator.control.set_metadata(scopes=["https://www.googleapis.com/auth/userinfo.email"])
    emulator.control.advance_clock(3600)  # the cached token expires; the new one lacks scopes
    proc = cli("models", "list", "--endpoint", emulator.base_url, env=env)
    assert proc.returncode == 4 and "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in proc.stderr


def test_without_any_credentials_the_metadata_miss_is_reported(tmp_path: Path) -> None:
    env = {"GEMINI_OAUTH_HOME": str(tmp_path / "home"), "CLOUDSDK_CONFIG": str(tmp_path / "g"),
           "NO_GCE_CHECK": "true"}  # fmt: skip
    proc = cli("models", "list", "--endpoint", "http://127.0.0.1:9", env=env)
    assert proc.returncode == 3 and "gemini-oauth login" in proc.stderr
