"""Pytest fixtures serving the emulator in-process on an ephemeral 127.0.0.1 port.

Use them from any project's tests with ``pytest -p gemini_oauth.emulator.pytest_plugin``, or
``pytest_plugins = ["gemini_oauth.emulator.pytest_plugin"]`` in its root conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gemini_oauth.emulator import Emulator

__all__ = ["emulator", "emulator_session"]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator on an ephemeral 127.0.0.1 port, stopped after the test."""
    with Emulator() as emu:
        yield emu


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[Emulator]:
    """One emulator for the session; a test that changes it must call ``control.reset()``."""
    with Emulator() as emu:
        yield emu
