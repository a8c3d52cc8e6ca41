"""print-access-token from a valid cached token, with only the standard library.

Imports nothing but os and sys (not even json). Returns False whenever anything needs more
than reading a file (missing, expiring, unsafe, corrupt, unknown flags), and the full CLI
takes over. The path rules are the store's own
(``_paths``), as is the refresh margin (``_constants``).
"""

from __future__ import annotations

import os
import sys

from gemini_oauth._clock import rfc3339_to_epoch
from gemini_oauth._constants import PROFILE_ENV, REFRESH_MARGIN
from gemini_oauth._paths import config_home, valid_profile_name

_WS = " \t\n\r"


def _skip(text: str, i: int) -> int:
    while text[i] in _WS:
        i += 1
    return i


def flat_json_strings(text: str) -> dict[str, str | None]:
    """The string members of a flat JSON object (the cache's shape), without importing json.

    Values may be strings, lists of strings or literals; anything else raises ValueError, as does
    malformed input (IndexError is raised for truncated input). ``json`` (it imports ``re``)
    would add 5-9 ms to a 12-20 ms process and miss the 1.5x goal in a clean venv (figures in
    docs/ARCHITECTURE.md); ``_json.scanstring`` is its C string decoder.
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
        return os.environ.get(PROFILE_ENV) or "default"
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
