"""``gemini-oauth doctor`` as a process: a line per check with its fix, one JSON shape, exit 1 on
a failure, and nothing secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gemini_oauth.emulator import Emulator

from .weekone import gemini, profile_data, ua


@pytest.mark.slow
def test_doctor_of_a_profile(emulator: Emulator, client_secret_file: Path, tmp_path: Path) -> None:
    args = ["login", "--profile", "work", "--client-secret", str(client_secret_file)]
    assert gemini(*args, cwd=tmp_path, browser=ua()).returncode == 0
    env = {"GOOGLE_GEMINI_BASE_URL": emulator.base_url}
    done = gemini("doctor", "--profile", "work", cwd=tmp_path, **env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines][:2] == [["✓", "client"], ["✓", "clock"]]
    assert done.stderr.startswith("Checking profile 'work':") and "10 ok." in done.stderr
    shown = json.loads(gemini("doctor", "--profile", "work", "--json", cwd=tmp_path, **env).stdout)
    assert set(shown) == {"target", "ok", "counts", "checks"} and shown["ok"] is True
    assert all(set(c) == {"name", "status", "summary", "fix", "details"} for c in shown["checks"])
    data = profile_data("work")
    for secret in (data["token"], data["refresh_token"], data["client_secret"]):
        assert secret not in done.stdout + done.stderr + json.dumps(shown)

    emulator.control.advance_clock(8 * 86400)
    failed = gemini("doctor", "--profile", "work", cwd=tmp_path, **env)
    assert failed.returncode == 1
    assert "✗ login" in failed.stdout and "fix: Run 'gemini-oauth login --profile work'" in (
        failed.stdout
    )
    assert "failure" in failed.stderr
    assert "2 failures, 2 skipped." in failed.stderr  # the clock (8 days behind) and the login


def test_doctor_flags(tmp_path: Path) -> None:
    both = gemini("doctor", "--profile", "work", "--adc", cwd=tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr
    nothing = gemini("doctor", cwd=tmp_path)
    assert nothing.returncode == 1 and "Checking Application Default Credentials" in nothing.stderr
    assert "✗ login" in nothing.stdout and "adc login" in nothing.stdout
