"""The quickstart's other path: ``gcloud auth application-default login --client-id-file``.

gcloud takes ``auth_uri``/``token_uri`` from the client file, so it logs in against the
emulator unchanged. What it needs to run headless (read from googlecloudsdk, SDK 528):

- check_browser.ShouldLaunchBrowser: on Linux a browser is launched only if one of DISPLAY,
  WAYLAND_DISPLAY or MIR_SOCKET is set (only presence is checked), and webbrowser.get() is not
  ``www-browser``. So DISPLAY=:0 plus BROWSER=<our user agent> gives the normal browser flow
  (FullWebFlow: a wsgiref server on localhost:8085 or the next free port).
- OAUTHLIB_INSECURE_TRANSPORT=1, because the emulator's token endpoint is plain http on loopback.
- With --client-id-file the ADC file is dumped without the quota-project check, which would
  otherwise call Cloud Resource Manager.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gemini_oauth.emulator import Emulator

pytestmark = pytest.mark.slow
GCLOUD = shutil.which("gcloud")
SCOPES = (
    "https://www.googleapis.com/auth/cloud-platform,"
    "https://www.googleapis.com/auth/generative-language.retriever"
)


@pytest.mark.skipif(GCLOUD is None, reason="gcloud (Google Cloud SDK) is not installed")
def test_gcloud_adc_login_against_the_emulator(emulator: Emulator, tmp_path: Path) -> None:
    assert GCLOUD is not None
    client_file = emulator.write_client_secret(tmp_path / "client_secret.json")
    config = tmp_path / "gcloud"
    env = dict(os.environ)
    env.update(
        CLOUDSDK_CONFIG=str(config),
        DISPLAY=":0",
        BROWSER=f"{sys.executable} -m gemini_oauth._useragent %s",
        OAUTHLIB_INSECURE_TRANSPORT="1",
        CLOUDSDK_CORE_DISABLE_PROMPTS="1",
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true",
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true",
    )
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    result = subprocess.run(
        [
            GCLOUD,
            "auth",
            "application-default",
            "login",
            f"--client-id-file={client_file}",
            f"--scopes={SCOPES}",
            "--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=45,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert emulator.base_url + "/o/oauth2/auth?" in result.stderr  # our consent page, not Google's

    adc_file = config / "application_default_credentials.json"
    adc = json.loads(adc_file.read_text())
    assert adc["type"] == "authorized_user"
    assert adc["client_id"] == emulator.client_id
    assert "quota_project_id" not in adc
    assert stat.S_IMODE(adc_file.stat().st_mode) == 0o600
    counters = emulator.control.counters()
    assert (counters["auth"], counters["token.authorization_code"]) == (1, 1)

    refreshed = httpx.post(
        f"{emulator.base_url}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": adc["refresh_token"],
            "client_id": adc["client_id"],
            "client_secret": adc["client_secret"],
        },
        timeout=10,
    )
    assert refreshed.status_code == 200, refreshed.text  # the emulator knows this refresh token
    scopes = set(refreshed.json()["scope"].split())
    assert scopes == set(SCOPES.split(","))
