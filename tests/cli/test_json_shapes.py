"""docs/JSON.md is the contract of every --json: each command's output is parsed and its keys
compared with the documented example (our shapes to the last level; Google's objects, printed
as they came, at the top level). Every documented block is run, and every block is documented."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gemini_oauth._cli._root import run
from gemini_oauth.emulator import Emulator

from .weekone import ua

DOC = Path(__file__).parents[2] / "docs" / "JSON.md"
#: Headings whose output is Google's own objects: their top-level keys are compared.
GOOGLES = {"models list --json", "models get NAME --json", "generate --json"}
GOOGLES |= {"files upload --json, files get NAME --json"}


def documented() -> dict[str, Any]:
    """Each ``### `command` (outcome)`` heading of docs/JSON.md and its JSON example."""
    text = DOC.read_text()
    found = re.findall(r"^### (.+?)\n(?:.*?\n)*?```json\n(.*?)```", text, re.M | re.S)
    return {heading.replace("`", ""): json.loads(body) for heading, body in found}


def keys_match(example: Any, actual: Any, *, deep: bool, where: str = "") -> None:
    if isinstance(example, list):
        assert isinstance(actual, list) and actual, where
        keys_match(example[0], actual[0], deep=deep, where=f"{where}[0]")
        return
    if not isinstance(example, dict) or not example:  # {}: contents of the check's own
        return
    assert isinstance(actual, dict), where
    assert set(actual) == set(example), (where, sorted(set(actual) ^ set(example)))
    if deep:
        for key, value in example.items():
            if isinstance(value, (dict, list)) and actual[key]:
                keys_match(value, actual[key], deep=deep, where=f"{where}.{key}")


@pytest.fixture
def outputs(
    emulator: Emulator,
    client_secret_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> dict[str, Callable[[], tuple[int, Any]]]:
    """Each documented heading -> how to get that output (exit code, parsed JSON)."""
    monkeypatch.setenv("BROWSER", ua())
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    monkeypatch.setenv("CLOUDSDK_AUTH_TOKEN_HOST", f"{emulator.base_url}/token")
    monkeypatch.setenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER", emulator.base_url)
    secret = ["--client-secret", str(client_secret_file)]
    note = tmp_path / "note.txt"
    note.write_text("a note")

    def cli(*args: str) -> tuple[int, Any]:
        capsys.readouterr()
        code = run(list(args))
        out = capsys.readouterr().out
        return code, json.loads(out)

    def revoked_work() -> tuple[int, Any]:
        emulator.control.add_user("other@example.com")
        cli("login", *secret, "--profile", "work", "--login-hint", "other@example.com",
            "--json")  # fmt: skip
        from gemini_oauth import _store

        data = _store.profile_file("work").read() or {}
        httpx.post(f"{emulator.base_url}/revoke", data={"token": data["refresh_token"]})
        data["expiry"] = "2000-01-01T00:00:00Z"
        _store.profile_file("work").write(data)
        assert run(["print-access-token", "--profile", "work"]) == 3
        return cli("status", "--profile", "work", "--json")

    def uploaded(*args: str) -> tuple[int, Any]:
        code, file = cli("files", "upload", str(note), "--json")
        assert code == 0
        return cli(*[a.replace("NAME", file["name"]) for a in args])

    quota = ("--quota-project", emulator.project_id)
    runs: dict[str, tuple[str, ...] | Callable[[], tuple[int, Any]]] = {
        "login --json": ("login", *secret, *quota, "--json"),
        "status --json (logged in)": ("status", "--json"),
        "status --json (login needed; exit 3)": revoked_work,
        "status --json (not logged in; exit 3)": ("status", "--profile", "none", "--json"),
        "profiles --json": ("profiles", "--json"),
        "print-access-token --json, adc print-access-token --json": (
            "print-access-token",
            "--json",
        ),
        "models list --json": ("models", "list", "--json"),
        "models get NAME --json": ("models", "get", "gemini-2.5-flash", "--json"),
        "generate --json": ("generate", "--json", "hello"),
        "embed --json": ("embed", "--json", "a note"),
        "files upload --json, files get NAME --json": lambda: uploaded("files", "get", "NAME",
                                                                       "--json"),
        "files delete NAME... --json": lambda: uploaded("files", "delete", "NAME", "--yes",
                                                        "--json"),
        "curl --print-headers --json": ("curl", *quota, "--print-headers", "--json"),
        "adc login --json": ("adc", "login", *secret, *quota, "--json"),
        "adc status --json": ("adc", "status", "--json"),
        "doctor --json": ("doctor", "--json"),
    }  # fmt: skip
    return {
        heading: (how if callable(how) else (lambda args=how: cli(*args)))
        for heading, how in runs.items()
    }


def test_every_json_output_has_its_documented_shape(
    outputs: dict[str, Callable[[], tuple[int, Any]]],
) -> None:
    shapes = documented()
    assert set(shapes) == set(outputs), sorted(set(shapes) ^ set(outputs))
    for heading, produce in outputs.items():  # in order: login first, ADC after
        code, data = produce()
        expected = 3 if "exit 3" in heading else 0
        assert code == expected, (heading, code)
        keys_match(shapes[heading], data, deep=heading not in GOOGLES, where=heading)
    assert run(["adc", "print-access-token", "--json"]) == 0  # the shape it shares is checked
