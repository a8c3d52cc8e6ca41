from __future__ import annotations

import pytest

from gemini_oauth.scopes import (
    CLOUD_PLATFORM,
    RETRIEVER,
    USERINFO_EMAIL,
    expand_scope,
    parse_scopes,
    short_name,
)


@pytest.mark.parametrize(
    ("short", "full"),
    [
        ("retriever", RETRIEVER),
        ("cloud-platform", CLOUD_PLATFORM),
        ("email", USERINFO_EMAIL),
        ("openid", "openid"),
        (RETRIEVER, RETRIEVER),
    ],
)
def test_expand_scope(short: str, full: str) -> None:
    assert expand_scope(short) == full


def test_parse_scopes_comma_and_space_separated_deduplicated() -> None:
    assert parse_scopes("cloud-platform, retriever,cloud-platform") == (CLOUD_PLATFORM, RETRIEVER)
    assert parse_scopes(["retriever", f"{CLOUD_PLATFORM} openid"]) == (
        RETRIEVER,
        CLOUD_PLATFORM,
        "openid",
    )


def test_empty_scope_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        expand_scope("  ")


def test_short_name_round_trip() -> None:
    assert short_name(RETRIEVER) == "generative-language.retriever"
    assert expand_scope(short_name(RETRIEVER)) == RETRIEVER


def test_granted_form_is_how_google_names_a_granted_scope() -> None:
    from gemini_oauth.scopes import granted_form

    assert granted_form("profile") == "https://www.googleapis.com/auth/userinfo.profile"
    assert granted_form("email") == USERINFO_EMAIL
    assert [granted_form(s) for s in ("openid", "retriever")] == ["openid", RETRIEVER]
