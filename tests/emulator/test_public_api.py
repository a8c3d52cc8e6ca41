"""The emulator's public names are pinned: users import them from ``gemini_oauth.emulator``."""

from __future__ import annotations

import subprocess
import sys

import gemini_oauth.emulator as emulator_package
from gemini_oauth.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PROJECT_ID,
    DEFAULT_PROJECT_NUMBER,
    DEFAULT_SERVICE_ACCOUNT,
    DEFAULT_USER,
    Emulator,
    EmulatorControl,
)

PUBLIC = {
    "DEFAULT_API_KEY",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_PROJECT_NUMBER",
    "DEFAULT_SERVICE_ACCOUNT",
    "DEFAULT_USER",
    "Emulator",
    "EmulatorControl",
    "EmulatorState",
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(emulator_package.__all__) == PUBLIC
    assert len(emulator_package.__all__) == len(PUBLIC)
    for name in PUBLIC:
        assert getattr(emulator_package, name) is not None, name


def test_the_stable_ids_are_the_emulators(emulator: Emulator) -> None:
    assert (emulator.client_id, emulator.client_secret) == (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
    )
    assert (emulator.project_id, emulator.project_number) == (
        DEFAULT_PROJECT_ID,
        DEFAULT_PROJECT_NUMBER,
    )
    assert (emulator.user_email, emulator.api_key) == (DEFAULT_USER, DEFAULT_API_KEY)
    assert emulator.control.state()["metadata_account"] == DEFAULT_SERVICE_ACCOUNT
    assert isinstance(emulator.control, EmulatorControl)


def test_control_needs_only_the_base_url(emulator: Emulator) -> None:
    """As for a ``gemini-oauth emulator`` running in another process."""
    control = EmulatorControl(emulator.base_url)
    try:
        control.add_user("outside@example.com")
        assert "outside@example.com" in emulator.control.state()["users"]
    finally:
        control.close()


def test_importing_the_package_imports_neither_flask_nor_httpx() -> None:
    """Flask comes at start() (so a missing extra is reported there), httpx with ``control``."""
    code = (
        "import sys, gemini_oauth.emulator as e\n"
        "print(sorted(m for m in ('flask', 'werkzeug', 'httpx') if m in sys.modules))\n"
        "e.EmulatorControl\n"
        "print('httpx' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True"]  # the check can see httpx arrive
