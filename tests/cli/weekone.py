"""Running ``gemini-oauth`` as a user would, for the week-one tests: a real process, its own
home, a browser that is the headless user agent (or none), the emulator as Google."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = str(Path(sys.executable).parent / "gemini-oauth")
DAY = 86400


def ua(*flags: str) -> str:
    """BROWSER for the headless user agent (it presses Continue, then Allow unless told)."""
    return " ".join([sys.executable, "-m", "gemini_oauth._useragent", *flags, "%s"])


def environment(**extra: str) -> dict[str, str]:
    """The test's isolated environment (conftest's home), without a browser unless given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY") and not k.startswith("SSH_")
    }
    env.update(extra)
    return env


def gemini(
    *args: str, cwd: Path, browser: str | None = None, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """``gemini-oauth ARGS`` as a process; stdin is not a terminal."""
    extra = {"BROWSER": browser} if browser else {}
    return subprocess.run(
        [SCRIPT, *args],
        cwd=cwd,
        env=environment(**extra, **env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
    )


def profile_data(name: str = "default") -> dict[str, Any]:
    home = Path(os.environ["GEMINI_OAUTH_HOME"])
    data: dict[str, Any] = json.loads((home / "profiles" / f"{name}.json").read_text())
    return data


def write_profile(name: str, data: dict[str, Any]) -> None:
    home = Path(os.environ["GEMINI_OAUTH_HOME"])
    (home / "profiles" / f"{name}.json").write_text(json.dumps(data))


def expire_access_token(name: str = "default") -> None:
    """Make the cached access token look expired to the client (its own clock did not move)."""
    data = profile_data(name)
    data["expiry"] = "2000-01-01T00:00:00Z"
    write_profile(name, data)
