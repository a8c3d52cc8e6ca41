"""Google's account and client rules in the emulator, over real HTTP: the unverified-app warning,
Workspace reauthentication, the 100-refresh-token limit, a deleted client, and the Date header."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest

from gemini_oauth.emulator import Emulator
from gemini_oauth.emulator._constants import REFRESH_TOKEN_LIMIT

from .test_oauth import (
    CLOUD,
    HTTP,
    RETRIEVER,
    approve,
    authorize,
    error_of,
    full_login,
    press_warning,
    refresh,
    tokeninfo,
)

# -- "Google hasn't verified this app" ------------------------------------------------------


def test_unverified_app_in_testing_warns_before_consent(emulator: Emulator) -> None:
    page = authorize(emulator, warned=False)
    assert page.status_code == 200
    assert "Google hasn't verified this app" in page.text
    assert 'id="continue"' in page.text and 'id="back"' in page.text
    assert 'name="scope"' not in page.text  # no consent yet
    consent = press_warning(emulator, page, "continue")
    assert '<form id="consent"' in consent.text
    query, _ = approve(emulator, consent)
    assert "code" in query


def test_back_to_safety_is_access_denied(emulator: Emulator) -> None:
    back = press_warning(emulator, authorize(emulator, warned=False), "back")
    assert back.status_code == 302
    assert "error=access_denied" in back.headers["location"]
    assert "state=state-123" in back.headers["location"]


def test_consent_cannot_skip_the_warning(emulator: Emulator) -> None:
    warning = authorize(emulator, warned=False)
    with pytest.raises(AssertionError, match="unverified-app warning"):
        approve(emulator, warning, scopes=[CLOUD])


@pytest.mark.parametrize(
    "setup", ["verified", "production", "identity-only"], ids=lambda s: s.replace("-", "_")
)
def test_no_warning_when_verified_in_production_or_for_sign_in_scopes(
    emulator: Emulator, setup: str
) -> None:
    params: dict[str, str] = {}
    if setup == "verified":
        emulator.control.set_verified(True)
    elif setup == "production":
        emulator.control.set_publishing_status("production")
    else:
        params["scope"] = "openid email"
    page = authorize(emulator, warned=False, **params)
    assert '<form id="consent"' in page.text and 'id="unverified"' not in page.text
    assert emulator.control.state()["verified"] is (setup == "verified")


# -- Workspace session control (reauthentication) ---------------------------------------------


def test_reauth_required_answers_invalid_rapt_until_a_new_sign_in(emulator: Emulator) -> None:
    emulator.control.require_reauth(after=3600)
    tokens = full_login(emulator)
    assert refresh(emulator, tokens["refresh_token"]).status_code == 200  # a fresh sign-in
    emulator.control.advance_clock(3601)
    refused = refresh(emulator, tokens["refresh_token"])
    assert error_of(refused) == (400, "invalid_grant", "reauth related error (invalid_rapt)")
    assert refused.json()["error_subtype"] == "invalid_rapt"
    assert refused.json()["error_uri"] == "https://support.google.com/a/answer/9368756"
    again = full_login(emulator)  # signing in again is the cure
    assert refresh(emulator, again["refresh_token"]).status_code == 200
    emulator.control.require_reauth(None)
    assert refresh(emulator, tokens["refresh_token"]).status_code == 200  # the grant lived on


def test_reauth_applies_to_cloud_platform_grants_only(emulator: Emulator) -> None:
    emulator.control.require_reauth(after=0)
    retriever_only = full_login(emulator, scope=RETRIEVER)
    assert refresh(emulator, retriever_only["refresh_token"]).status_code == 200
    cloud = full_login(emulator)
    assert refresh(emulator, cloud["refresh_token"]).json()["error_subtype"] == "invalid_rapt"


# -- 100 refresh tokens per client per user ---------------------------------------------------


def test_the_oldest_refresh_token_past_the_limit_is_silently_invalidated(
    emulator: Emulator,
) -> None:
    emulator.control.add_user("other@example.com")
    other = emulator.control.issue_grant([CLOUD], email="other@example.com")
    grants = [emulator.control.issue_grant([CLOUD]) for _ in range(REFRESH_TOKEN_LIMIT)]
    assert refresh(emulator, grants[0]["refresh_token"]).status_code == 200  # 100: all live
    newest = emulator.control.issue_grant([CLOUD])  # the 101st
    gone = refresh(emulator, grants[0]["refresh_token"])
    assert error_of(gone) == (400, "invalid_grant", "Token has been expired or revoked.")
    for alive in (grants[1], newest, other):
        assert refresh(emulator, alive["refresh_token"]).status_code == 200
    assert tokeninfo(emulator, grants[0]["access_token"]).status_code == 200  # lives till expiry


# -- a deleted client -------------------------------------------------------------------------


def test_deleted_client_answers_deleted_client_until_restored(emulator: Emulator) -> None:
    tokens = full_login(emulator)
    emulator.control.delete_client(emulator.client_id)
    assert error_of(refresh(emulator, tokens["refresh_token"])) == (
        401,
        "deleted_client",
        "The OAuth client was deleted.",
    )
    page = authorize(emulator)
    assert page.status_code == 401 and "Error 401: deleted_client" in page.text
    emulator.control.restore_client(emulator.client_id)
    assert refresh(emulator, tokens["refresh_token"]).status_code == 200


# -- the Date header --------------------------------------------------------------------------


def test_date_header_follows_the_emulator_clock(emulator: Emulator) -> None:
    before = parsedate_to_datetime(HTTP.get(emulator.base_url + "/v1/models").headers["date"])
    emulator.control.advance_clock(8 * 86400)
    after = parsedate_to_datetime(HTTP.get(emulator.base_url + "/v1/models").headers["date"])
    assert 8 * 86400 - 5 <= (after - before).total_seconds() <= 8 * 86400 + 60
