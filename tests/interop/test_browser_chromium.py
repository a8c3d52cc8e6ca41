"""A real browser (the system Chromium, driven by Playwright) on the emulator's consent page.

The login is gemini-oauth's own run_login (authorization URL with PKCE, LoopbackListener, code
exchange), with Chromium as its browser: the login a user does, minus the human pressing a button.
"""

from __future__ import annotations

import io
import os
import queue
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gemini_oauth._client_secrets import ClientSecret, client_from_dict
from gemini_oauth._flow import LoginResult, run_login
from gemini_oauth.emulator import Emulator
from gemini_oauth.errors import ConsentDeniedError

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


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium for the module (a launch costs seconds); each test has a context of its own."""
    if CHROMIUM is None:
        pytest.skip("no system Chromium (install the chromium package)")
    home = tmp_path_factory.mktemp("chromium-home")  # its crash reporter writes under here
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=ARGS, env=env
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    """A page in a fresh browser context: no cookie or cache of another test."""
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
    finally:
        context.close()


class ChromiumLogin:
    """run_login in a thread; its "browser" hands the URL to this thread, which drives Chromium.

    (Playwright's sync API must stay on the thread that started it.)
    """

    def __init__(self, emulator: Emulator) -> None:
        self.urls: queue.Queue[str] = queue.Queue()
        self.result: LoginResult | None = None
        self.error: BaseException | None = None
        client = client_from_dict(emulator.client_secret_json())
        self.thread = threading.Thread(target=self._run, args=(client,), daemon=True)
        self.thread.start()

    def _open(self, url: str) -> bool:
        self.urls.put(url)
        return True

    def _run(self, client: ClientSecret) -> None:
        try:
            self.result = run_login(
                client, SCOPES, open_browser=self._open, out=io.StringIO(), timeout=30
            )
        except BaseException as exc:
            self.error = exc

    def join(self) -> None:
        self.thread.join(timeout=20)
        assert not self.thread.is_alive(), "the login never finished"


def test_allow_in_chromium_then_exchange_code(
    emulator: Emulator, browser_page: Any, tmp_path: Path
) -> None:
    login = ChromiumLogin(emulator)
    page = browser_page
    page.goto(login.urls.get(timeout=10))
    assert "Google hasn't verified this app" in page.inner_text("body")  # a new app in Testing
    page.screenshot(path=str(tmp_path / "unverified.png"), full_page=True)
    page.click("#continue")  # as the quickstart says: "This is normal, choose continue"
    text = page.inner_text("body")
    assert "Gemini OAuth Emulator" in text
    assert emulator.user_email in text
    for scope in SCOPES:
        assert page.locator(f'input[name="scope"][value="{scope}"]').is_checked()
    page.screenshot(path=str(tmp_path / "consent.png"), full_page=True)
    page.click("#allow")
    page.wait_for_url("http://127.0.0.1:*/oauth2callback/*?*")
    login.join()
    assert login.error is None, repr(login.error)
    assert login.result is not None and login.result.refresh_token
    assert set(login.result.granted_scopes) == set(SCOPES)
    final_text = page.inner_text("body")
    assert "Signed in" in final_text and "close this tab" in final_text
    models = httpx.get(
        f"{emulator.base_url}/v1/models",
        headers={"Authorization": f"Bearer {login.result.access_token}"},
        timeout=10,
    )
    assert models.status_code == 200
    assert emulator.control.counters()["token.authorization_code"] == 1


def test_deny_in_chromium(emulator: Emulator, browser_page: Any) -> None:
    login = ChromiumLogin(emulator)
    browser_page.goto(login.urls.get(timeout=10))
    browser_page.click("#continue")
    browser_page.click("#deny")
    browser_page.wait_for_url("http://127.0.0.1:*/oauth2callback/*?*")
    login.join()
    assert isinstance(login.error, ConsentDeniedError)
    assert "denied" in browser_page.inner_text("body")
    assert emulator.control.counters().get("token.authorization_code", 0) == 0
