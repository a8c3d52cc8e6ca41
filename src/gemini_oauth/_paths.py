"""Where gemini-oauth keeps its files, and which profile names are safe. Standard library only.

``platform_config_dir`` is platformdirs' ``user_config_dir("gemini-oauth")`` computed without
importing platformdirs (the print-access-token fast path imports this module).
"""

from __future__ import annotations

import os
import sys

from gemini_oauth._constants import HOME_ENV

APP = "gemini-oauth"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def valid_profile_name(name: str) -> bool:
    """[A-Za-z0-9._-], 1-64 characters, not starting with a dot (no traversal, no hidden files)."""
    return 0 < len(name) <= 64 and not name.startswith(".") and set(name) <= _NAME_CHARS


def platform_config_dir(
    platform: str | None = None, environ: os._Environ[str] | dict[str, str] | None = None
) -> str:
    """platformdirs' ``user_config_dir("gemini-oauth")`` without importing platformdirs."""
    platform = sys.platform if platform is None else platform
    env = os.environ if environ is None else environ
    if platform == "win32":
        base = env.get("WIN_PD_OVERRIDE_LOCAL_APPDATA", "").strip() or env.get("LOCALAPPDATA", "")
        return os.path.join(os.path.normpath(base), APP, APP)
    xdg = env.get("XDG_CONFIG_HOME", "")
    if xdg.startswith("/"):
        return xdg.rstrip("/") + "/" + APP if xdg != "/" else "/" + APP
    home = env.get("HOME", "")
    if not home.startswith("/"):
        home = os.path.expanduser("~")
    sub = "Library/Application Support" if platform == "darwin" else ".config"
    return f"{home.rstrip('/')}/{sub}/{APP}"


def config_home() -> str:
    """$GEMINI_OAUTH_HOME, else the platform's per-user config directory of gemini-oauth."""
    return os.environ.get(HOME_ENV) or platform_config_dir()
