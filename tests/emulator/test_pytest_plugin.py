"""The emulator fixtures work in another project's tests, loaded as a pytest plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import gemini_oauth.emulator.pytest_plugin as plugin

THEIR_TEST = """
import httpx

def test_theirs(emulator, emulator_session):
    assert emulator.base_url != emulator_session.base_url
    info = httpx.get(emulator.base_url + "/.well-known/openid-configuration", timeout=10)
    assert info.json()["issuer"] == emulator.base_url
    grant = emulator.control.issue_grant(["https://www.googleapis.com/auth/cloud-platform"])
    assert grant["access_token"].startswith("ya29.emu.")
"""


def test_fixtures_serve_another_projects_tests(tmp_path: Path) -> None:
    (tmp_path / "test_theirs.py").write_text(THEIR_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", plugin.__name__, "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
