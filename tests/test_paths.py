"""Where files live: platformdirs' answer computed without platformdirs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gemini_oauth._paths import platform_config_dir


@pytest.mark.parametrize("xdg", [None, "/xdg/conf", "relative/ignored"])
@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_platform_dir_matches_platformdirs(
    platform: str, xdg: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from platformdirs.macos import MacOS
    from platformdirs.unix import Unix

    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    cls = MacOS if platform == "darwin" else Unix
    assert platform_config_dir(platform) == cls("gemini-oauth").user_config_dir


@pytest.mark.skipif(sys.platform == "win32", reason="checks the Windows rule from elsewhere")
def test_windows_dir_matches_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    from platformdirs.windows import Windows

    monkeypatch.setenv("WIN_PD_OVERRIDE_LOCAL_APPDATA", "C:\\Users\\u\\AppData\\Local")
    expected = Windows("gemini-oauth", roaming=False).user_config_dir
    assert platform_config_dir("win32") == expected
