"""A local Google: OAuth and Gemini endpoints over real HTTP on 127.0.0.1 (the [emulator] extra).

with Emulator() as emu:
    emu.write_client_secret("client_secret.json")
    tokens = emu.control.issue_grant(["https://www.googleapis.com/auth/cloud-platform"])

The public API is what ``__all__`` lists (pinned by tests/emulator/test_public_api.py), and the
``gemini_oauth.emulator.pytest_plugin`` module; modules whose names start with ``_`` are private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gemini_oauth.emulator._constants import (
    DEFAULT_API_KEY,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PROJECT_ID,
    DEFAULT_PROJECT_NUMBER,
    DEFAULT_SERVICE_ACCOUNT,
    DEFAULT_USER,
)
from gemini_oauth.emulator._emulator import Emulator
from gemini_oauth.emulator._state import EmulatorState

if TYPE_CHECKING:
    from gemini_oauth.emulator._control_client import EmulatorControl


def __getattr__(name: str) -> object:
    """``EmulatorControl`` on first use: it needs httpx, which importing the package does not."""
    if name == "EmulatorControl":
        from gemini_oauth.emulator._control_client import EmulatorControl

        return EmulatorControl
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "EmulatorControl"})


__all__ = [
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
]
