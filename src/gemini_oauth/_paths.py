"""Where gemini-oauth keeps its files, which profile names are safe, and which folders and files
it may trust. Standard library only.

``platform_config_dir`` is platformdirs' ``user_config_dir("gemini-oauth")`` computed without
importing platformdirs (the print-access-token fast path imports this module).

Trust is decided by ownership: a folder or file of the cache is used only if it belongs to this
user (``st_uid == geteuid()``), whoever may read it. The store repairs the modes of what it made
(the profile folders, the files, the default home) and refuses the rest; the fast path serves a
token only where the store would neither refuse nor repair anything.
"""

from __future__ import annotations

import os
import stat
import sys

from gemini_oauth._constants import HOME_ENV, PROFILE_ENV

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


def home_given() -> bool:
    """Whether the home was named by the user ($GEMINI_OAUTH_HOME): then it is never chmod-ed."""
    return bool(os.environ.get(HOME_ENV))


_POSIX = os.name != "nt"


def owned_by_me(st: os.stat_result) -> bool:
    """The file or folder belongs to this (effective) user; always true where uids do not exist."""
    return not _POSIX or st.st_uid == os.geteuid()


def private(st: os.stat_result) -> bool:
    """No permission for group or others (POSIX)."""
    return not _POSIX or not st.st_mode & 0o077


def others_may_replace_entries(st: os.stat_result) -> bool:
    """A folder that others may write to without the sticky bit: they may rename what is in it."""
    return _POSIX and bool(st.st_mode & 0o022) and not st.st_mode & stat.S_ISVTX


#: In the profiles folder: the profile ``gemini-oauth profiles use NAME`` chose (one line).
CHOSEN_PROFILE_FILE = "default-profile"


def chosen_profile(profiles_folder: str) -> str | None:
    """The profile used when none is named: $GEMINI_OAUTH_PROFILE, else the one saved in the
    profiles folder by ``profiles use``; None when neither names one.

    ValueError when the saved choice cannot be trusted (not this user's regular file) or is no
    valid profile name. The folder's own trust is the caller's to check.
    """
    named = os.environ.get(PROFILE_ENV)
    if named:
        return named
    path = os.path.join(profiles_folder, CHOSEN_PROFILE_FILE)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except (FileNotFoundError, NotADirectoryError):  # no choice (a bad home is the store's to say)
        return None
    except OSError as exc:
        raise ValueError(f"it cannot be opened ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not owned_by_me(st):
            raise ValueError("it is not a file of yours")
        raw = os.read(fd, 256)
    finally:
        os.close(fd)
    try:
        name = raw.decode().strip()
    except UnicodeDecodeError:
        name = ""
    if not valid_profile_name(name):
        raise ValueError("it holds no profile name")
    return name
