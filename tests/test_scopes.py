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


@pytest.mark.parametrize(
    ("name", "said"),
    [("foo", "Unknown scope 'foo'."), ("cloud_platform", "Did you mean 'cloud-platform'?")],
)
def test_unknown_short_names_are_refused_naming_the_known_ones(name: str, said: str) -> None:
    from gemini_oauth.errors import ScopeError

    with pytest.raises(ScopeError, match=said) as info:
        parse_scopes(f"openid,{name}")
    assert info.value.exit_code == 2
    assert "cloud-platform" in info.value.hint and "retriever" in info.value.hint
    assert "full URL" in info.value.hint


def test_full_urls_and_known_short_names_pass() -> None:
    from gemini_oauth.scopes import KNOWN_SHORT_NAMES

    drive = "https://www.googleapis.com/auth/drive.file"
    assert parse_scopes(f"openid,{drive}") == ("openid", drive)
    for name in KNOWN_SHORT_NAMES:
        assert parse_scopes(name) == (expand_scope(name),)


def test_which_scopes_can_call_gemini() -> None:
    from gemini_oauth.scopes import calls_gemini, gemini_scope_warning

    assert calls_gemini(["openid", "retriever"]) and calls_gemini([CLOUD_PLATFORM])
    assert not calls_gemini(["openid", "email", "generative-language.retriever.readonly"])
    warning = gemini_scope_warning(parse_scopes("openid,email"), "gemini-oauth login --profile x")
    assert warning.startswith("warning: none of these scopes lets you call the Gemini API")
    assert warning.endswith(
        "gemini-oauth login --profile x --scopes openid,userinfo.email,cloud-platform,retriever"
    )
