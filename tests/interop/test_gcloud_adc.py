"""gcloud and gemini-oauth share one ADC file: equal bytes, and each reads what the other wrote."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gemini_oauth import _adc as adc
from gemini_oauth import scopes

GCLOUD = shutil.which("gcloud")
pytestmark = pytest.mark.skipif(GCLOUD is None, reason="gcloud is not installed")

# Runs inside gcloud's own Python with gcloud's lib on sys.path: its real ADC writer.
_GCLOUD_WRITER = """
import json, sys
root = sys.argv[1]
sys.path[:0] = [root + "/lib", root + "/lib/third_party"]
from google.oauth2 import credentials
from googlecloudsdk.core.credentials import creds
spec = json.loads(sys.argv[2])
cred = credentials.Credentials(
    token="an-access-token", refresh_token=spec["refresh_token"], client_id=spec["client_id"],
    client_secret=spec["client_secret"], token_uri="http://127.0.0.1:9/token",
    scopes=["https://www.googleapis.com/auth/cloud-platform"], account=spec["account"])
adc = creds.ADC(cred)
if spec["quota"]:
    adc.DumpExtendedADCToFile(spec["path"], quota_project=spec["quota"])
else:
    adc.DumpADCToFile(spec["path"])
"""


@functools.cache
def _sdk() -> tuple[str, str]:
    """(sdk root, gcloud's python), from `gcloud info`."""
    out = subprocess.run(
        [str(GCLOUD), "info", "--format=json(installation.sdk_root,basic.python_location)"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    info = json.loads(out)
    return info["installation"]["sdk_root"], info["basic"]["python_location"] or sys.executable


def _gcloud_env(config: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDSDK_", "GOOGLE_"))}
    env.update(
        CLOUDSDK_CONFIG=str(config),
        CLOUDSDK_CORE_DISABLE_PROMPTS="1",
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true",
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true",
        CLOUDSDK_CORE_CHECK_GCE_METADATA="false",
        GCE_METADATA_HOST="127.0.0.1:9",
        GCE_METADATA_IP="127.0.0.1:9",
        NO_GCE_CHECK="true",
    )
    env.update(extra)
    return env


@dataclass
class _Result:
    refresh_token: str
    account: str = ""


@dataclass
class _Client:
    client_id: str
    client_secret: str


@pytest.mark.parametrize(
    ("account", "quota"), [("", None), ("ann@example.com", "emulator-project")]
)
def test_our_file_equals_gcloud_writer(tmp_path: Path, account: str, quota: str | None) -> None:
    root, python = _sdk()
    theirs = tmp_path / "gcloud.json"
    spec: dict[str, Any] = {
        "refresh_token": "refresh-é-1",
        "client_id": "1000000000001-emulator.apps.googleusercontent.com",
        "client_secret": "emulator-client-secret",
        "account": account,
        "quota": quota,
        "path": str(theirs),
    }
    subprocess.run(
        [python, "-c", _GCLOUD_WRITER, root, json.dumps(spec)],
        env=_gcloud_env(tmp_path / "cfg"),
        check=True,
        timeout=30,
    )
    ours = adc.write_adc(
        _Result(spec["refresh_token"], account),
        _Client(spec["client_id"], spec["client_secret"]),
        quota_project=quota,
        path=tmp_path / "ours" / adc.ADC_FILENAME,
    )
    assert ours.read_bytes() == theirs.read_bytes()
    assert (ours.stat().st_mode & 0o777) == (theirs.stat().st_mode & 0o777) == 0o600


def _models_ok(emulator: Any, token: str) -> None:
    response = httpx.get(
        f"{emulator.base_url}/v1/models", headers={"authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.json()["models"]


def test_gcloud_reads_our_file(emulator: Any, tmp_path: Path) -> None:
    grant = emulator.control.issue_grant(list(scopes.GCLOUD_QUICKSTART_SCOPES))
    config = tmp_path / "gcloud"
    adc.write_adc(
        _Result(grant["refresh_token"]),
        _Client(emulator.client_id, emulator.client_secret),
        quota_project=emulator.project_id,
        path=config / adc.ADC_FILENAME,
    )
    before = emulator.control.counters().get("token.refresh_token", 0)
    proc = subprocess.run(
        [str(GCLOUD), "auth", "application-default", "print-access-token"],
        env=_gcloud_env(config, CLOUDSDK_AUTH_TOKEN_HOST=f"{emulator.base_url}/token"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert emulator.control.counters()["token.refresh_token"] == before + 1
    _models_ok(emulator, token)


def test_we_read_a_file_gcloud_wrote(
    emulator: Any, client_secret_file: Path, tmp_path: Path
) -> None:
    config = tmp_path / "gcloud"
    browser = f"{sys.executable} -m gemini_oauth._useragent %s"
    proc = subprocess.run(
        [
            str(GCLOUD),
            "auth",
            "application-default",
            "login",
            f"--client-id-file={client_secret_file}",
            "--scopes=" + ",".join(scopes.GCLOUD_QUICKSTART_SCOPES),
        ],
        # oauthlib refuses the emulator's http:// token endpoint without this knob.
        env=_gcloud_env(config, BROWSER=browser, DISPLAY=":0", OAUTHLIB_INSECURE_TRANSPORT="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    written = json.loads((config / adc.ADC_FILENAME).read_text())
    assert written["client_id"] == emulator.client_id and written["type"] == "authorized_user"

    ours = {
        **_gcloud_env(config, CLOUDSDK_AUTH_TOKEN_HOST=f"{emulator.base_url}/token"),
        "GEMINI_OAUTH_HOME": str(tmp_path / "home"),
    }
    cli = [sys.executable, "-m", "gemini_oauth", "adc"]
    token = subprocess.run(
        [*cli, "print-access-token"], env=ours, capture_output=True, text=True, timeout=30
    )
    assert token.returncode == 0, token.stderr
    _models_ok(emulator, token.stdout.strip())
    status = subprocess.run(
        [*cli, "status", "--json"], env=ours, capture_output=True, text=True, timeout=30
    )
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["client_id"] == emulator.client_id and shown["quota_project_id"] is None
    assert "set-quota-project" in status.stderr
