"""load_creds() credentials in the legacy google-generativeai SDK (deprecated, still in use):
``genai.configure(credentials=..., transport="rest")`` against the emulator over plain http.

The SDK's REST transport keeps an explicit scheme in ``client_options["api_endpoint"]``
(``http://127.0.0.1:PORT``), so no patching is needed. google-api-python-client is not tested:
it ships no static discovery document for generativelanguage and the emulator serves none.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from gemini_oauth import load_creds
from gemini_oauth._useragent import approve
from gemini_oauth.emulator import Emulator

with warnings.catch_warnings():  # it warns that it is deprecated, and about Python versions
    warnings.simplefilter("ignore")
    genai: ModuleType = pytest.importorskip(
        "google.generativeai", reason="google-generativeai is not installed (the [test] extra)"
    )

MODEL = "gemini-2.5-flash"


def browser_that_approves(url: str) -> bool:
    threading.Thread(target=approve, args=(url,), daemon=True).start()
    return True


def emulator_models(emulator: Emulator, token: str) -> list[str]:
    """Every v1beta model name (the legacy SDK speaks v1beta), all pages."""
    names: list[str] = []
    params: dict[str, str] = {"pageSize": "1000"}
    for _ in range(20):
        page = httpx.get(
            f"{emulator.base_url}/v1beta/models",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        names += [m["name"] for m in page["models"]]
        if not page.get("nextPageToken"):
            return names
        params["pageToken"] = page["nextPageToken"]
    raise AssertionError("too many pages")


@pytest.fixture
def configured(emulator: Emulator, client_secret_file: Path, tmp_path: Path) -> Iterator[object]:
    """Log in through the emulator's consent page, then configure the SDK with the creds."""
    creds = load_creds(
        client_secret_file, tmp_path / "token.json", interactive=True,
        open_browser=browser_that_approves,
    )  # fmt: skip
    assert emulator.control.counters()["token.authorization_code"] == 1
    genai.configure(
        credentials=creds, transport="rest", client_options={"api_endpoint": emulator.base_url}
    )
    yield creds
    genai.configure(credentials=None, client_options=None)  # drop the global client


def test_list_models_returns_the_emulators_models(emulator: Emulator, configured: object) -> None:
    token = str(getattr(configured, "token", ""))
    names = [m.name for m in genai.list_models()]
    assert names == emulator_models(emulator, token) and f"models/{MODEL}" in names
    assert emulator.control.counters()["models.list"] >= 2


def test_generate_content_and_refresh_on_401(emulator: Emulator, configured: object) -> None:
    model = genai.GenerativeModel(MODEL)
    prompt = "Hello from the legacy SDK"
    digest = hashlib.sha256(f"{MODEL}\0{prompt}".encode()).hexdigest()[:12]
    assert digest in model.generate_content(prompt).text
    emulator.control.advance_clock(3601)  # the emulator expires the token; the SDK gets a 401
    assert digest in model.generate_content(prompt).text
    counters = emulator.control.counters()
    assert counters["token.refresh_token"] == 1 and counters["models.generateContent"] == 3
