"""print-access-token from a valid cached token, with only the standard library.

Imports nothing but os and sys (not even json). Returns False whenever anything needs more
than reading a file (missing, expiring, unsafe, corrupt, unknown flags), and the full CLI
takes over. The path rules here are the store's own:
``store.config_home`` is this module's ``config_home``.
"""

from __future__ import annotations

import os
import sys

#: Refresh when fewer than this many seconds remain.
REFRESH_MARGIN = 300.0
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
APP = "gemini-oauth"


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
    return os.environ.get("GEMINI_OAUTH_HOME") or platform_config_dir()


def rfc3339_to_epoch(value: str) -> float:
    """Parse ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (google-auth's expiry format) to epoch seconds."""
    if len(value) < 20 or value[-1] != "Z" or value[4] != "-" or value[10] != "T":
        raise ValueError("not an RFC 3339 UTC time")
    y, m, d = int(value[0:4]), int(value[5:7]), int(value[8:10])
    hh, mm, ss = int(value[11:13]), int(value[14:16]), int(value[17:19])
    frac = value[19:-1]
    if not (1 <= m <= 12 and 1 <= d <= 31 and hh < 24 and mm < 60 and ss < 61):
        raise ValueError("not an RFC 3339 UTC time")
    # days from civil (Howard Hinnant), avoiding calendar/datetime imports on the hot path
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return days * 86400 + hh * 3600 + mm * 60 + ss + (float("0" + frac) if frac else 0.0)


_WS = " \t\n\r"


def _skip(text: str, i: int) -> int:
    while text[i] in _WS:
        i += 1
    return i


def flat_json_strings(text: str) -> dict[str, str | None]:
    """The string members of a flat JSON object (the cache's shape), without importing json.

    Values may be strings, lists of strings or literals; anything else raises ValueError, as does
    malformed input (IndexError is raised for truncated input). ``json`` would cost the hot path
    ~2.5 ms of import; ``_json.scanstring`` is its C string decoder.
    """
    try:
        from _json import scanstring
    except ImportError:  # pragma: no cover - other interpreters
        from json.decoder import scanstring  # type: ignore[attr-defined,no-redef]

    def string_at(at: int) -> tuple[str, int]:
        try:
            return scanstring(text, at, True)
        except SystemError:  # _json reports bad strings through json.decoder, not imported here
            raise ValueError("malformed string") from None

    out: dict[str, str | None] = {}
    i = _skip(text, 0)
    if text[i] != "{":
        raise ValueError("not an object")
    i = _skip(text, i + 1)
    if text[i] == "}":
        i += 1
    while text[i - 1] != "}":
        if text[i] != '"':
            raise ValueError("expected a key")
        key, i = string_at(i + 1)
        i = _skip(text, i)
        if text[i] != ":":
            raise ValueError("expected ':'")
        i = _skip(text, i + 1)
        if text[i] == '"':
            out[key], i = string_at(i + 1)
        elif text[i] == "[":
            i = _skip(text, i + 1)
            while text[i] != "]":
                if text[i] != '"':
                    raise ValueError("expected a string")
                i = _skip(text, string_at(i + 1)[1])
                if text[i] == ",":
                    i = _skip(text, i + 1)
                elif text[i] != "]":
                    raise ValueError("expected ',' or ']'")
            i += 1
            out[key] = None
        else:
            j = i
            while text[j] not in ",}" + _WS:
                j += 1
            if text[i:j] not in ("null", "true", "false"):
                float(text[i:j])
            out[key], i = None, j
        i = _skip(text, i)
        if text[i] not in ",}":
            raise ValueError("expected ',' or '}'")
        i = _skip(text, i + 1) if text[i] == "," else i + 1
    if text[i:].strip(_WS):
        raise ValueError("trailing data")
    return out


def _profile_from(args: list[str]) -> str | None:
    if not args:
        return os.environ.get("GEMINI_OAUTH_PROFILE") or "default"
    if len(args) == 2 and args[0] == "--profile":
        return args[1]
    if len(args) == 1 and args[0].startswith("--profile="):
        return args[0][len("--profile=") :]
    return None


def try_print_access_token(args: list[str]) -> bool:
    """Print the cached token of the profile and return True if it is valid beyond the margin."""
    from gemini_oauth._clock import now

    name = _profile_from(args)
    if name is None or not valid_profile_name(name):
        return False
    folder = os.path.join(config_home(), "profiles")
    try:
        dir_stat = os.lstat(folder)
        fd = os.open(
            os.path.join(folder, name + ".json"), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        )
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if os.name != "nt" and (
            (st.st_mode | dir_stat.st_mode) & 0o077 or st.st_mode & 0o170000 != 0o100000
        ):
            return False
        data = flat_json_strings(os.read(fd, 1 << 20).decode())
        token, expiry = data["token"], data["expiry"]
        if not isinstance(token, str) or not token or not isinstance(expiry, str):
            return False
        if rfc3339_to_epoch(expiry) - now() <= REFRESH_MARGIN:
            return False
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        return False
    finally:
        os.close(fd)
    try:
        sys.stdout.write(token + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return True
