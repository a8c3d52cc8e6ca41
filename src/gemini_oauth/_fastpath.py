"""print-access-token (and ``--json``) from a valid cached token, with only the standard library.

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


def access_token_json(token: str, expires_at: float, now: float) -> str | None:
    """``print-access-token --json``: ``{access_token, expiry (RFC 3339), expires_in,
    token_type}``, byte for byte as ``json.dumps(indent=2)`` writes it, for credential helpers.

    None for a token that would need JSON escapes (access tokens never do); the caller then
    uses ``json``.
    """
    from gemini_oauth._clock import to_rfc3339

    if not (token.isascii() and token.isprintable()) or '"' in token or "\\" in token:
        return None
    return (
        f'{{\n  "access_token": "{token}",\n  "expiry": "{to_rfc3339(expires_at)}",\n'
        f'  "expires_in": {max(0, int(expires_at - now))},\n  "token_type": "Bearer"\n}}'
    )


def _parse(args: list[str]) -> tuple[str, bool] | None:
    """(profile, --json) from ``[--profile NAME | --profile=NAME] [--json]`` in any order, as
    click reads them; None for anything else."""
    profile: str | None = None
    as_json = False
    rest = iter(args)
    for arg in rest:
        if arg == "--json" and not as_json:
            as_json = True
        elif arg == "--profile" and profile is None:
            profile = next(rest, None)
            if profile is None:
                return None
        elif arg.startswith("--profile=") and profile is None:
            profile = arg[len("--profile=") :]
        else:
            return None
    if profile is None:
        profile = os.environ.get(PROFILE_ENV) or "default"
    return profile, as_json


def try_print_access_token(args: list[str]) -> bool:
    """Print the cached token of the profile (as JSON with ``--json``) and return True if it is
    valid beyond the margin."""
    from gemini_oauth._clock import now

    parsed = _parse(args)
    if parsed is None or not valid_profile_name(parsed[0]):
        return False
    name, as_json = parsed
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
        expires_at, at = rfc3339_to_epoch(expiry), now()
        if expires_at - at <= REFRESH_MARGIN:
            return False
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        return False
    finally:
        os.close(fd)
    text = access_token_json(token, expires_at, at) if as_json else token
    if text is None:
        return False
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return True
