"""The scopes the emulator knows: which exist, which are identity-only, which may call Gemini."""

from __future__ import annotations

from collections.abc import Iterable

AUTH = "https://www.googleapis.com/auth/"
CLOUD_PLATFORM = AUTH + "cloud-platform"
USERINFO_EMAIL = AUTH + "userinfo.email"
USERINFO_PROFILE = AUTH + "userinfo.profile"
_GL = AUTH + "generative-language"

KNOWN_SCOPES = frozenset(
    {
        "openid",
        USERINFO_EMAIL,
        USERINFO_PROFILE,
        CLOUD_PLATFORM,
        AUTH + "cloud-platform.read-only",
        _GL,
        _GL + ".retriever",
        _GL + ".retriever.readonly",
        _GL + ".tuning",
        _GL + ".tuning.readonly",
        AUTH + "sqlservice.login",  # in gcloud's default ADC scopes
        AUTH + "devstorage.read_only",
        AUTH + "devstorage.read_write",
        AUTH + "devstorage.full_control",
    }
)
#: Scopes that only identify the user; a Testing app's grant of these alone never expires.
IDENTITY_SCOPES = frozenset({"openid", "email", "profile", USERINFO_EMAIL, USERINFO_PROFILE})
#: Scopes that may call each kind of Gemini method (models.list reference page; GenerateContent's).
GEMINI_READ_SCOPES = (
    CLOUD_PLATFORM,
    _GL,
    _GL + ".retriever",
    _GL + ".retriever.readonly",
    _GL + ".tuning",
    _GL + ".tuning.readonly",
)
GEMINI_WRITE_SCOPES = (CLOUD_PLATFORM, _GL, _GL + ".retriever", _GL + ".tuning")

#: Scopes that let ``files:register`` read the caller's Cloud Storage objects.
STORAGE_READ_SCOPES = (
    CLOUD_PLATFORM,
    AUTH + "cloud-platform.read-only",
    AUTH + "devstorage.read_only",
    AUTH + "devstorage.read_write",
    AUTH + "devstorage.full_control",
)

#: What Google's consent screen says for a scope (the descriptions of Google's API discovery
#: documents); scopes without one here are shown by name alone.
DESCRIPTIONS = {
    "openid": "Associate you with your personal info on Google",
    USERINFO_EMAIL: "See your primary Google Account email address",
    USERINFO_PROFILE: "See your personal info, including any personal info you've made publicly "
    "available",
    CLOUD_PLATFORM: "See, edit, configure, and delete your Google Cloud data and see the email "
    "address for your Google Account.",
    AUTH + "cloud-platform.read-only": "View your data across Google Cloud services and see the "
    "email address of your Google Account",
    AUTH + "devstorage.read_only": "View your data in Google Cloud Storage",
    AUTH + "devstorage.read_write": "Manage your data in Cloud Storage and see the email address "
    "of your Google Account",
    AUTH + "devstorage.full_control": "Manage your data and permissions in Cloud Storage and see "
    "the email address for your Google Account",
}

_ALIASES = {"email": USERINFO_EMAIL, "profile": USERINFO_PROFILE}


def normalize_scopes(value: Iterable[str]) -> tuple[str, ...]:
    """Google's short forms (``email``, ``profile``) become their full URLs; order kept."""
    return tuple(dict.fromkeys(_ALIASES.get(s, s) for s in value))
