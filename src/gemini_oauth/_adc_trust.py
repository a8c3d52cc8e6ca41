"""Which Application Default Credentials files are loaded: the types, endpoints and quota project
of a file are checked before google-auth sees it.

google-auth loads any type it knows; some make the program read local files, run commands or
fetch URLs named in the file (``external_account``). Only a user's login and service-account keys
are loaded unless $GEMINI_OAUTH_ALLOW_ADC_TYPES names more.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gemini_oauth._constants import ADC_TYPES_ENV
from gemini_oauth._project import check_project_id
from gemini_oauth._urls import is_secure_url
from gemini_oauth.errors import AdcError

#: Credential types loaded without asking: a user's login and service-account keys.
DEFAULT_ADC_TYPES = frozenset(
    {"authorized_user", "service_account", "impersonated_service_account"}
)
#: What each other type makes this program do, for the error that refuses it.
_TYPE_EFFECTS = {
    "external_account": "read a local file, run a command or fetch a URL named in the file, and "
    "send what it gets to a token service named in the file",
    "external_account_authorized_user": "send a refresh token to a token service named in the file",
    "gdch_service_account": "sign in to a Google Distributed Cloud token service named in the file",
}


def allowed_adc_types(env: Mapping[str, str]) -> frozenset[str]:
    """DEFAULT_ADC_TYPES plus the types named in $GEMINI_OAUTH_ALLOW_ADC_TYPES (comma-separated)."""
    extra = {t.strip() for t in env.get(ADC_TYPES_ENV, "").split(",") if t.strip()}
    return DEFAULT_ADC_TYPES | extra


def check_adc_info(
    info: Mapping[str, Any], path: Path, env: Mapping[str, str], *, quota_hint: str
) -> None:
    """Refuse credential types not allowed, endpoints that break the https-or-loopback rule, and
    a quota project that is not a project id (``quota_hint`` says how to set one)."""
    allowed = allowed_adc_types(env)
    kind = info.get("type")
    source = info.get("source_credentials")
    inner = source.get("type") if isinstance(source, dict) else None
    for found in (kind, inner if kind == "impersonated_service_account" else None):
        if found is None or found in allowed:
            continue
        shown = repr(found) if isinstance(found, str) else "an unknown"
        effect = _TYPE_EFFECTS.get(str(found), "do what that type of credentials does")
        raise AdcError(
            f"The credentials at {path} are of type {shown[:60]}, which would make gemini-oauth "
            f"{effect}. Only {', '.join(sorted(DEFAULT_ADC_TYPES))} are loaded by default.",
            hint=f"If you trust this file, allow its type with {ADC_TYPES_ENV}={found}; "
            "otherwise run 'gemini-oauth adc login'.",
        )
    for key in ("token_uri", "service_account_impersonation_url", "token_url"):
        value = info.get(key)
        if value is not None and not (isinstance(value, str) and is_secure_url(value)):
            raise AdcError(
                f"The credentials at {path} name a {key} that is not https:// (or http:// on "
                f"this machine): {str(value)[:100]!r}; secrets would cross the network in clear.",
                hint="Fix the file, or run 'gemini-oauth adc login' to write a fresh one.",
            )
    if info.get("quota_project_id") is not None:
        check_project_id(
            info["quota_project_id"],
            source=f"The quota project in {path}",
            error=AdcError,
            hint=quota_hint,
        )


__all__ = ["DEFAULT_ADC_TYPES", "allowed_adc_types", "check_adc_info"]
