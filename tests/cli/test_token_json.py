"""`print-access-token --json` and `adc print-access-token --json`: one shape for credential
helpers, from a refresh (the full CLI) and from a valid cache (the fast path), as processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gemini_oauth import _adc as adc
from gemini_oauth import _store as store
from gemini_oauth._clock import rfc3339_to_epoch
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import GCLOUD_QUICKSTART_SCOPES

SCRIPT = str(Path(sys.executable).parent / "gemini-oauth")
KEYS = ["access_token", "expiry", "expires_in", "token_type"]


def run(*args: str) -> tuple[str, dict[str, Any]]:
    done = subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, timeout=60, env=os.environ.copy()
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data) == KEYS and data["token_type"] == "Bearer"
    assert done.stdout == json.dumps(data, indent=2) + "\n"
    assert abs(rfc3339_to_epoch(data["expiry"]) - data["expires_in"] - _now()) < 30
    return done.stdout, data


def _now() -> float:
    from gemini_oauth._clock import now

    return now()


def test_profile_json_from_a_refresh_then_from_the_cache(
    emulator: Emulator, seed_login: Callable[..., dict[str, Any]]
) -> None:
    seed_login("work", lifetime=-10)
    _, refreshed = run("print-access-token", "--profile", "work", "--json")
    assert emulator.control.counters()["token.refresh_token"] == 1
    assert refreshed["expires_in"] > 3500
    cached = store.profile_file("work").read()
    assert cached is not None and cached["token"] == refreshed["access_token"]
    assert cached["expiry"] == refreshed["expiry"]
    _, fast = run("print-access-token", "--json", "--profile=work")  # the stdlib fast path
    assert emulator.control.counters()["token.refresh_token"] == 1
    assert fast["access_token"] == refreshed["access_token"]
    assert fast["expiry"] == refreshed["expiry"]


def test_adc_json(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass
    class Result:
        refresh_token: str
        account: str = ""

    @dataclass
    class Client:
        client_id: str = emulator.client_id
        client_secret: str = emulator.client_secret

    grant = emulator.control.issue_grant(list(GCLOUD_QUICKSTART_SCOPES))
    monkeypatch.setenv(adc.TOKEN_HOST_ENV, f"{emulator.base_url}/token")
    adc.write_adc(Result(grant["refresh_token"]), Client())
    first_text, first = run("adc", "print-access-token", "--json")
    assert first["expires_in"] > 3500
    again_text, again = run("adc", "print-access-token", "--json")  # from its token cache
    assert again["access_token"] == first["access_token"]
    assert again["expiry"] == first["expiry"]
    assert emulator.control.counters()["token.refresh_token"] == 1
    assert grant["refresh_token"] not in first_text + again_text
