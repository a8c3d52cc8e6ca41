"""The headless user agent against the emulator's consent page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest

from gemini_oauth._authorize import authorization_url
from gemini_oauth._client_secrets import ClientSecret, client_from_dict
from gemini_oauth._pkce import make_verifier, s256_challenge
from gemini_oauth._useragent import HeadlessUserAgent, approve
from gemini_oauth.emulator import Emulator
from gemini_oauth.errors import LoginError
from gemini_oauth.scopes import CLOUD_PLATFORM, OPENID, RETRIEVER

REDIRECT = "http://127.0.0.1:9/oauth2callback/unit"


def _url(emulator: Emulator, state: str = "st") -> tuple[ClientSecret, str]:
    client = client_from_dict(emulator.client_secret_json())
    challenge = s256_challenge(make_verifier())
    scopes = [OPENID, CLOUD_PLATFORM, RETRIEVER]
    return client, authorization_url(client, REDIRECT, scopes, state, challenge)


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_allow_without_following(emulator: Emulator) -> None:
    _, url = _url(emulator)
    location = approve(url, follow_redirect=False)
    assert location.startswith(REDIRECT + "?")
    q = _query(location)
    assert q["state"] == ["st"] and q["code"][0] and len(q["scope"][0].split()) == 3


def test_deny(emulator: Emulator) -> None:
    _, url = _url(emulator)
    q = _query(approve(url, action="deny", follow_redirect=False))
    assert q == {"error": ["access_denied"], "state": ["st"]}


def test_untick_by_short_name_and_url(emulator: Emulator) -> None:
    _, url = _url(emulator)
    q = _query(approve(url, untick=["retriever"], follow_redirect=False))
    assert q["scope"][0].split() == [OPENID, CLOUD_PLATFORM]
    _, url = _url(emulator)
    q = _query(approve(url, untick=[CLOUD_PLATFORM], follow_redirect=False))
    assert CLOUD_PLATFORM not in q["scope"][0].split()


def test_refuses_non_http_and_reports_bad_pages(emulator: Emulator) -> None:
    for bad in ("file:///etc/passwd", "javascript:alert(1)", "ftp://x/"):
        with pytest.raises(ValueError):
            approve(bad)
        with pytest.raises(ValueError):
            HeadlessUserAgent()(bad)
    with pytest.raises(LoginError, match="HTTP 4"):
        approve(emulator.base_url + "/o/oauth2/auth?client_id=nobody")


def test_headless_user_agent_thread(emulator: Emulator) -> None:
    _, url = _url(emulator)
    agent = HeadlessUserAgent(action="deny")
    assert agent(url) is True
    agent.join(10)
    # nothing listens on port 9: following the redirect fails, and that is reported, not raised
    assert agent.result is None and agent.error is not None


def test_module_cli_refuses_non_http() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gemini_oauth._useragent", "file:///etc/passwd"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "refusing" in done.stderr


def test_module_cli_foreground(emulator: Emulator) -> None:
    _, url = _url(emulator)
    done = subprocess.run(
        [sys.executable, "-m", "gemini_oauth._useragent", "--foreground", "--no-follow", url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert _query(done.stdout.strip())["state"] == ["st"]


_OAUTHLIB_SCRIPT = """
import json, sys
from google_auth_oauthlib.flow import InstalledAppFlow
config = json.loads(sys.argv[1])
flow = InstalledAppFlow.from_client_config(config, ["openid", sys.argv[2]])
creds = flow.run_local_server(port=0, timeout_seconds=30)
print(creds.token[:9])
"""


def test_works_as_browser_for_google_auth_oauthlib(emulator: Emulator) -> None:
    """webbrowser runs BROWSER without a shell and waits; the agent detaches so the server runs."""
    browser = f"{sys.executable} -m gemini_oauth._useragent %s"
    env = dict(os.environ, BROWSER=browser, OAUTHLIB_INSECURE_TRANSPORT="1")  # http emulator
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _OAUTHLIB_SCRIPT,
            json.dumps(emulator.client_secret_json()),
            RETRIEVER,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "ya29.emu."
