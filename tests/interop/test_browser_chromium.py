"""A real browser (the system Chromium, driven by Playwright) on the emulator's consent page.

The redirect lands on gemini-oauth's own LoopbackListener, so this is the login a user does,
minus the human: consent page, Allow or Deny, redirect to 127.0.0.1, code exchange with PKCE.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from gemini_oauth.emulator import Emulator
from gemini_oauth.errors import ConsentDeniedError
from gemini_oauth.loopback import LoopbackListener

pytestmark = pytest.mark.slow
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
SCOPES = ["https://www.googleapis.com/auth/cloud-platform", "openid"]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no system Chromium (install the chromium package)")
    home = tmp_path / "home"  # Chromium's crash reporter writes under $XDG_CONFIG_HOME
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS, env=env
        )
        try:
            page = context.new_page()
            page.set_default_timeout(20_000)
            yield page
        finally:
            context.close()


class Waiter:
    """LoopbackListener.wait() in a thread; keeps its result or error."""

    def __init__(self, listener: LoopbackListener, state: str) -> None:
        self.result: str | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(listener, state), daemon=True)
        self.thread.start()

    def _run(self, listener: LoopbackListener, state: str) -> None:
        try:
            self.result = listener.wait(state)
        except BaseException as exc:
            self.error = exc

    def join(self) -> None:
        self.thread.join(timeout=20)
        assert not self.thread.is_alive(), "the listener never got the redirect"


def authorization_url(emulator: Emulator, redirect_uri: str, state: str, verifier: str) -> str:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    query = {
        "client_id": emulator.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(SCOPES),
        "state": state,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
        "access_type": "offline",
    }
    return f"{emulator.base_url}/o/oauth2/auth?{urlencode(query)}"


def test_allow_in_chromium_then_exchange_code(
    emulator: Emulator, browser_page: Any, tmp_path: Path
) -> None:
    state, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
    with LoopbackListener(timeout=30) as listener:
        waiter = Waiter(listener, state)
        page = browser_page
        page.goto(authorization_url(emulator, listener.redirect_uri, state, verifier))
        text = page.inner_text("body")
        assert "Gemini OAuth Emulator" in text
        assert emulator.user_email in text
        for scope in SCOPES:
            assert page.locator(f'input[name="scope"][value="{scope}"]').is_checked()
        page.screenshot(path=str(tmp_path / "consent.png"), full_page=True)
        page.click("#allow")
        page.wait_for_url(f"http://127.0.0.1:{listener.port}{listener.path}?*")
        waiter.join()
    assert waiter.error is None, repr(waiter.error)
    assert waiter.result  # the code; the listener checked the state
    final_text = page.inner_text("body")
    assert "close" in final_text.lower() or "success" in final_text.lower()

    token = httpx.post(
        f"{emulator.base_url}/token",
        data={
            "grant_type": "authorization_code",
            "code": waiter.result,
            "redirect_uri": listener.redirect_uri,
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["refresh_token"] and body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == set(SCOPES)
    models = httpx.get(
        f"{emulator.base_url}/v1/models",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=10,
    )
    assert models.status_code == 200


def test_deny_in_chromium(emulator: Emulator, browser_page: Any) -> None:
    state = secrets.token_urlsafe(16)
    with LoopbackListener(timeout=30) as listener:
        waiter = Waiter(listener, state)
        browser_page.goto(
            authorization_url(emulator, listener.redirect_uri, state, secrets.token_urlsafe(48))
        )
        browser_page.click("#deny")
        browser_page.wait_for_url(f"http://127.0.0.1:{listener.port}{listener.path}?*")
        waiter.join()
    assert isinstance(waiter.error, ConsentDeniedError)
    assert waiter.result is None
    assert emulator.control.counters()["token.authorization_code"] == 0
