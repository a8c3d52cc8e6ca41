"""OAuth scope names: short forms, defaults, and what each Gemini method accepts."""

from __future__ import annotations

from collections.abc import Iterable

AUTH_PREFIX = "https://www.googleapis.com/auth/"

CLOUD_PLATFORM = AUTH_PREFIX + "cloud-platform"
GENERATIVE_LANGUAGE = AUTH_PREFIX + "generative-language"
RETRIEVER = AUTH_PREFIX + "generative-language.retriever"
RETRIEVER_READONLY = AUTH_PREFIX + "generative-language.retriever.readonly"
TUNING = AUTH_PREFIX + "generative-language.tuning"
TUNING_READONLY = AUTH_PREFIX + "generative-language.tuning.readonly"
USERINFO_EMAIL = AUTH_PREFIX + "userinfo.email"
OPENID = "openid"

#: What the quickstart's load_creds.py asks for.
QUICKSTART_SCOPES: tuple[str, ...] = (RETRIEVER,)
#: What the quickstart's gcloud command asks for.
GCLOUD_QUICKSTART_SCOPES: tuple[str, ...] = (CLOUD_PLATFORM, RETRIEVER)
#: Defaults of `gemini-oauth login`: the quickstart's gcloud scopes plus identity, so that
#: `status` can name the account.
DEFAULT_SCOPES: tuple[str, ...] = (OPENID, USERINFO_EMAIL, CLOUD_PLATFORM, RETRIEVER)

_BARE = {"openid", "email", "profile"}
_ALIASES = {
    "retriever": RETRIEVER,
    "retriever.readonly": RETRIEVER_READONLY,
    "tuning": TUNING,
    "tuning.readonly": TUNING_READONLY,
    "email": USERINFO_EMAIL,
}


def expand_scope(name: str) -> str:
    """Turn a short scope name (``retriever``, ``cloud-platform``) into its full URL."""
    name = name.strip()
    if not name:
        raise ValueError("empty scope name")
    if name in _ALIASES:
        return _ALIASES[name]
    if "//" in name or name in _BARE:
        return name
    return AUTH_PREFIX + name


def granted_form(name: str) -> str:
    """The name Google grants a scope under: ``profile`` comes back as its userinfo URL."""
    full = expand_scope(name)  # ``email`` already maps to USERINFO_EMAIL
    return AUTH_PREFIX + "userinfo.profile" if full == "profile" else full


def parse_scopes(value: str | Iterable[str]) -> tuple[str, ...]:
    """Parse a comma- or space-separated list (as gcloud's ``--scopes``); expand, de-duplicate."""
    seen: dict[str, None] = {}
    for item in [value] if isinstance(value, str) else value:
        for part in item.replace(",", " ").split():
            seen[expand_scope(part)] = None
    return tuple(seen)


def short_name(scope: str) -> str:
    """The short form of a scope, for display."""
    return scope[len(AUTH_PREFIX) :] if scope.startswith(AUTH_PREFIX) else scope
