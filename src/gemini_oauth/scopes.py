"""OAuth scope names: short forms, defaults, and what each Gemini method accepts."""

from __future__ import annotations

from collections.abc import Iterable

from gemini_oauth.errors import ScopeError

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

#: The scopes GenerateContent accepts: a login needs one of them to use Gemini at all.
GENERATE_SCOPES: tuple[str, ...] = (CLOUD_PLATFORM, GENERATIVE_LANGUAGE, RETRIEVER, TUNING)

_BARE = {"openid", "email", "profile"}
_ALIASES = {
    "retriever": RETRIEVER,
    "retriever.readonly": RETRIEVER_READONLY,
    "tuning": TUNING,
    "tuning.readonly": TUNING_READONLY,
    "email": USERINFO_EMAIL,
}
#: Short names (after AUTH_PREFIX) that Google knows and that matter here; any other scope
#: must be given as its full URL.
KNOWN_SHORT_NAMES: tuple[str, ...] = (
    "openid",
    "email",
    "profile",
    "cloud-platform",
    "cloud-platform.read-only",
    "generative-language",
    "retriever",
    "retriever.readonly",
    "tuning",
    "tuning.readonly",
    "generative-language.retriever",
    "generative-language.retriever.readonly",
    "generative-language.tuning",
    "generative-language.tuning.readonly",
    "userinfo.email",
    "userinfo.profile",
)


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
    """Parse a comma- or space-separated list (as gcloud's ``--scopes``); expand, de-duplicate.

    Full URLs pass as they are; a short name must be one of KNOWN_SHORT_NAMES, else ScopeError
    (Google would show its own ``invalid_scope`` page and never come back to the login).
    """
    seen: dict[str, None] = {}
    for item in [value] if isinstance(value, str) else value:
        for part in item.replace(",", " ").split():
            check_scope_name(part)
            seen[expand_scope(part)] = None
    return tuple(seen)


def check_scope_name(name: str) -> None:
    """Refuse a short scope name Google would not know, naming the known ones."""
    if "//" in name or name in KNOWN_SHORT_NAMES:
        return
    import difflib

    close = difflib.get_close_matches(name.replace("_", "-"), KNOWN_SHORT_NAMES, n=1)
    guess = f" Did you mean {close[0]!r}?" if close else ""
    raise ScopeError(
        f"Unknown scope {name!r}.{guess}",
        hint=f"Known short names: {', '.join(KNOWN_SHORT_NAMES)}; any other scope as its full "
        f"URL ({AUTH_PREFIX}...).",
    )


def short_name(scope: str) -> str:
    """The short form of a scope, for display."""
    return scope[len(AUTH_PREFIX) :] if scope.startswith(AUTH_PREFIX) else scope


def calls_gemini(scopes: Iterable[str]) -> bool:
    """Whether a grant of ``scopes`` can call GenerateContent (what every Gemini use needs)."""
    return any(granted_form(s) in GENERATE_SCOPES for s in scopes)


def gemini_scope_warning(scopes: Iterable[str], command: str) -> str:
    """The warning for a login whose scopes cannot call Gemini, with the command that can."""
    named = ",".join(short_name(s) for s in scopes)
    return (
        f"warning: none of these scopes lets you call the Gemini API ({named}); it needs "
        "cloud-platform or generative-language.retriever. To sign in for it: "
        f"{command} --scopes {named},cloud-platform,retriever"
    )
