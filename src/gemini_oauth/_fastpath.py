"""print-access-token and adc print-access-token (and ``--json``) from a valid cached token,
with only the standard library.

Imports nothing but os and sys (not even json). Returns False whenever anything needs more
than reading a file (missing, expiring, unsafe, corrupt, unknown flags), and the full CLI
takes over. The rules are the store's own: the trust of folders and files (``_paths``), the
shape of a cache file and of a usable token (``_cache_format``), the refresh margin
(``_constants``); for ADC, ``_adc``'s: which file, the cache file named by a hash of the token
URI and refresh token. It serves a token only where the full CLI would serve the same one
without repairing, refusing or setting aside anything (tests/test_fastpath.py feeds both the same
files).
"""

from __future__ import annotations

import os
import sys

from gemini_oauth._cache_format import is_cache_data, usable_token
from gemini_oauth._clock import rfc3339_to_epoch
from gemini_oauth._constants import (
    CACHE_URL_ENV,
    CLOUDSDK_CONFIG_ENV,
    CREDENTIALS_ENV,
    GOOGLE_TOKEN_URI,
    MAX_JSON_FILE,
    REFRESH_MARGIN,
    TOKEN_HOST_ENV,
)
from gemini_oauth._paths import (
    chosen_profile,
    config_home,
    home_given,
    others_may_replace_entries,
    owned_by_me,
    private,
    valid_profile_name,
)

#: gcloud's ADC file name (``_gcloud_paths.ADC_FILENAME``: that module imports pathlib).
ADC_FILE = "application_default_credentials.json"
_WS = " \t\n\r"
_DIGITS = "0123456789"
_LITERALS = {"null": None, "true": True, "false": False}
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _skip(text: str, i: int) -> int:
    while text[i] in _WS:
        i += 1
    return i


def _number(text: str) -> int | float:
    """A JSON number (RFC 8259 §6), or NaN/Infinity as Python's json reads them; else ValueError.

    ``float()`` alone would take ``1_0``, ``+1``, ``.5``, ``nan`` and blanks, which json refuses.
    """
    if text in _NON_FINITE:
        return _NON_FINITE[text]
    i = 1 if text[:1] == "-" else 0
    start = i
    while i < len(text) and text[i] in _DIGITS:
        i += 1
    whole = text[start:i]
    if not whole or (len(whole) > 1 and whole[0] == "0"):
        raise ValueError("not a JSON number")
    simple = i == len(text)
    if i < len(text) and text[i] == ".":
        i += 1
        j = i
        while i < len(text) and text[i] in _DIGITS:
            i += 1
        if i == j:
            raise ValueError("not a JSON number")
    if i < len(text) and text[i] in "eE":
        i += 1 + (i + 1 < len(text) and text[i + 1] in "+-")
        j = i
        while i < len(text) and text[i] in _DIGITS:
            i += 1
        if i == j:
            raise ValueError("not a JSON number")
    if i != len(text):
        raise ValueError("not a JSON number")
    return int(text) if simple else float(text)


def flat_json(text: str) -> dict[str, object]:
    """A flat JSON object (the cache's shape) as ``json.loads`` gives it, without importing json.

    Values may be strings, lists of strings, numbers or literals; anything else raises
    ValueError, as does malformed input (IndexError is raised for truncated input). ``json`` (it
    imports ``re``) would add 5-9 ms to a 12-20 ms process and miss the 1.5x goal in a clean venv
    (figures in docs/ARCHITECTURE.md); ``_json.scanstring`` is its C string decoder.
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

    out: dict[str, object] = {}
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
            items: list[str] = []
            i = _skip(text, i + 1)
            while text[i] != "]":
                if text[i] != '"':
                    raise ValueError("expected a string")
                item, i = string_at(i + 1)
                items.append(item)
                i = _skip(text, i)
                if text[i] == ",":
                    i = _skip(text, i + 1)
                    if text[i] == "]":
                        raise ValueError("trailing ','")
                elif text[i] != "]":
                    raise ValueError("expected ',' or ']'")
            i += 1
            out[key] = items
        else:
            j = i
            while text[j] not in ",}" + _WS:
                j += 1
            word = text[i:j]
            out[key], i = (_LITERALS[word] if word in _LITERALS else _number(word)), j
        i = _skip(text, i)
        if text[i] not in ",}":
            raise ValueError("expected ',' or '}'")
        if text[i] == ",":
            i = _skip(text, i + 1)
            if text[i] == "}":
                raise ValueError("trailing ','")
        else:
            i += 1
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


def _parse(args: list[str]) -> tuple[str | None, bool] | None:
    """(profile, --json) from ``[--profile NAME | --profile=NAME] [--json]`` in any order, as
    click reads them (profile None when not named); None for anything else."""
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
    return profile, as_json


def _trusted_folders(home: str, folder: str) -> bool:
    """The home and profiles folders pass the store's checks with nothing to repair."""
    try:
        home_stat, dir_stat = os.lstat(home), os.lstat(folder)
    except OSError:
        return False
    for st in (home_stat, dir_stat):
        if st.st_mode & 0o170000 != 0o040000 or not owned_by_me(st):  # a real folder, ours
            return False
    if home_given():  # never repaired, only refused when others may rename what is in it
        return private(dir_stat) and not others_may_replace_entries(home_stat)
    return private(dir_stat) and private(home_stat)


def _read_private(folder: str, name: str) -> bytes | None:
    """A cache file the store would read as is: this user's private regular file, whole."""
    try:
        fd = os.open(os.path.join(folder, name), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_mode & 0o170000 != 0o100000 or not owned_by_me(st) or not private(st):
            return None
        raw = os.read(fd, MAX_JSON_FILE + 1)
        return None if len(raw) > MAX_JSON_FILE or len(raw) < st.st_size else raw
    except OSError:
        return None
    finally:
        os.close(fd)


def _print(text: str | None) -> bool:
    if text is None:
        return False
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left: exit 0 quietly, nothing left to flush at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return True


def try_print_access_token(args: list[str]) -> bool:
    """Print the cached token of the profile (as JSON with ``--json``) and return True if it is
    valid beyond the margin."""
    from gemini_oauth._clock import now

    if os.environ.get(CACHE_URL_ENV, "").strip():  # a cache server: the full CLI reads it
        return False
    parsed = _parse(args)
    if parsed is None:
        return False
    named, as_json = parsed
    home = config_home()
    folder = os.path.join(home, "profiles")
    if not _trusted_folders(home, folder):
        return False
    try:
        name = named if named is not None else chosen_profile(folder) or "default"
    except ValueError:
        return False
    if not valid_profile_name(name):
        return False
    raw = _read_private(folder, name + ".json")
    if raw is None:
        return False
    try:
        data = flat_json(raw.decode())
        if not is_cache_data(data):
            return False
        token, expiry = data.get("token"), data.get("expiry")
        if not usable_token(token) or not isinstance(expiry, str):
            return False
        assert isinstance(token, str)
        expires_at, at = rfc3339_to_epoch(expiry), now()
        if expires_at - at <= REFRESH_MARGIN:
            return False
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        return False
    return _print(access_token_json(token, expires_at, at) if as_json else token)


# ---------------------------------------------------------------- adc print-access-token

_TOKEN_URI_HOST = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
_TOKEN_URI_PATH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/")


def plain_token_uri(value: str | None) -> str | None:
    """The token URI for $CLOUDSDK_AUTH_TOKEN_HOST ``value`` (None: Google's), when it is plain
    enough that ``_urls.checked_url`` would give it back unchanged: https to a lower-case host
    name (or http to 127.0.0.1/localhost), an optional port, a path of unreserved characters.
    Anything else (that module imports ``re``) raises ValueError: the full CLI decides."""
    if not value:
        return GOOGLE_TOKEN_URI
    scheme, sep, rest = value.partition("://")
    if not sep or scheme not in ("https", "http"):
        raise ValueError("not plain")
    authority, slash, path = rest.partition("/")
    host, colon, port = authority.partition(":")
    if (
        not host
        or not set(host) <= _TOKEN_URI_HOST
        or host[0] in "-."
        or host[-1] in "-."
        or ".." in host
        or (scheme == "http" and host not in ("127.0.0.1", "localhost"))
        or (colon and not (port[:1] in "123456789" and port.isdigit() and int(port) < 65536))
        or not slash
        or not set(path) <= _TOKEN_URI_PATH
        or "//" in path
        or any(part in (".", "..") for part in path.split("/"))
    ):
        raise ValueError("not plain")
    return value


def _sha256_hex(text: str) -> str:
    try:  # the builtin module: hashlib would load OpenSSL (5+ ms)
        from _sha256 import sha256  # type: ignore[import-not-found]  # Python 3.11
    except ImportError:  # pragma: no cover - other versions
        try:
            from _sha2 import sha256  # type: ignore[import-not-found]  # 3.12+
        except ImportError:
            from hashlib import sha256
    return str(sha256(text.encode()).hexdigest())


def try_adc_access_token(args: list[str]) -> bool:
    """``adc print-access-token [--json]`` from its access-token cache, as ``_adc`` reads it:
    the ADC file ($GOOGLE_APPLICATION_CREDENTIALS, else gcloud's) of a user, the cache file
    named by the token URI and refresh token, a token good beyond the margin. Else False."""
    from gemini_oauth._clock import now

    if args not in ([], ["--json"]) or os.name == "nt":
        return False
    env = os.environ
    config = env.get(CLOUDSDK_CONFIG_ENV) or (
        os.path.join(env["HOME"], ".config", "gcloud") if env.get("HOME") else ""
    )
    adc_file = env.get(CREDENTIALS_ENV) or (os.path.join(config, ADC_FILE) if config else "")
    if not adc_file:
        return False
    try:
        with open(adc_file, "rb") as stream:
            raw = stream.read(MAX_JSON_FILE + 1)
        if len(raw) > MAX_JSON_FILE:
            return False
        info = flat_json(raw.decode())
        refresh_token = info.get("refresh_token")
        if info.get("type") != "authorized_user" or not isinstance(refresh_token, str):
            return False
        uri = plain_token_uri(env.get(TOKEN_HOST_ENV))
        key = _sha256_hex(f"{uri}\n{refresh_token}")[:32]
    except (OSError, ValueError, TypeError, KeyError, IndexError, OverflowError):
        return False
    home = config_home()
    folder = os.path.join(home, "adc-tokens")
    if not _trusted_folders(home, folder):
        return False
    cached = _read_private(folder, key + ".json")
    if cached is None:
        return False
    try:
        data = flat_json(cached.decode())
        token, expires_at = data.get("token"), data.get("expires_at")
        if isinstance(expires_at, bool) or not isinstance(expires_at, (int, float)):
            return False
        at = now()
        if not expires_at - at > REFRESH_MARGIN or not usable_token(token):
            return False
        assert isinstance(token, str)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        return False
    json_asked = args == ["--json"]
    return _print(access_token_json(token, float(expires_at), at) if json_asked else token)
