"""Request authentication against the emulator: credential sources (explicit, profile, ADC),
quota project and base URL resolution, and what a failed refresh of the caller's credentials says.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.oauth2.credentials import Credentials

from gemini_oauth import errors
from gemini_oauth._client import GeminiClient
from gemini_oauth._request_auth import resolve_credentials
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import CLOUD_PLATFORM

MODEL = "gemini-2.5-flash"


def make_creds(emu: Emulator, scopes: list[str] | None = None, **kw: Any) -> Credentials:
    grant = emu.control.issue_grant(scopes or [CLOUD_PLATFORM])
    return Credentials(
        grant["access_token"],
        refresh_token=grant["refresh_token"],
        token_uri=emu.base_url + "/token",
        client_id=emu.client_id,
        client_secret=emu.client_secret,
        **kw,
    )


def client(emu: Emulator, creds: Credentials | None = None, **kw: Any) -> GeminiClient:
    kw.setdefault("initial_backoff", 0.02)
    kw.setdefault("sleep", lambda seconds: None)  # retries never wait for real
    return GeminiClient(creds or make_creds(emu), base_url=emu.base_url, **kw)


def count(emu: Emulator, name: str) -> int:
    return emu.control.counters().get(name, 0)


def test_revoked_token_asks_for_login(emulator: Emulator) -> None:
    creds = make_creds(emulator)
    assert httpx.post(emulator.base_url + "/revoke", data={"token": creds.refresh_token}).is_success
    with client(emulator, creds) as api, pytest.raises(errors.InvalidGrantError) as info:
        api.list_models()
    assert "gemini-oauth login" in info.value.hint and "gemini-oauth adc login" in info.value.hint
    assert creds.refresh_token not in str(info.value) and creds.token not in str(info.value)


def test_expired_token_without_refresh_token(emulator: Emulator) -> None:
    creds = Credentials(make_creds(emulator).token)
    emulator.control.advance_clock(3700)
    with client(emulator, creds) as api, pytest.raises(errors.AuthenticationError) as info:
        api.list_models()
    assert info.value.reason == "ACCESS_TOKEN_EXPIRED" and "gemini-oauth login" in info.value.hint
    assert creds.token not in str(info.value)


def test_refused_client_says_what_to_do(emulator: Emulator) -> None:
    """A deleted client or changed secret (invalid_client) is named, with the way out."""
    creds = make_creds(emulator)
    creds = Credentials(None, refresh_token=creds.refresh_token, token_uri=creds.token_uri,
                        client_id=emulator.client_id, client_secret="rotated-secret")  # fmt: skip
    with client(emulator, creds) as api, pytest.raises(errors.TokenEndpointError) as info:
        api.list_models()
    assert "invalid_client" in str(info.value) and "client_secret.json" in info.value.hint
    assert "gemini-oauth login" in info.value.hint and "rotated-secret" not in str(info.value)


def test_failing_token_endpoint_says_what_to_do(
    emulator: Emulator, google_auth_backoff: list[float]
) -> None:
    creds = make_creds(emulator)
    creds.token = None
    emulator.control.add_fault("/token", 503, count=None)
    with client(emulator, creds) as api, pytest.raises(errors.TokenEndpointError) as info:
        api.list_models()
    assert "temporarily_unavailable" in str(info.value) and "try again" in info.value.hint.lower()
    # google-auth retried (its own backoff): each wait between its attempts asked, none slept
    attempts = count(emulator, "faults")
    assert attempts > 1 and len(google_auth_backoff) == attempts - 1


def _disabled_project(emu: Emulator) -> None:
    emu.control.set_project("quota-off", 99, api_enabled=False)


def test_quota_project_explicit_env_credentials_none(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _disabled_project(emulator)
    # explicit
    with (
        client(emulator, quota_project="quota-off") as api,
        pytest.raises(errors.ServiceDisabledError),
    ):
        api.list_models()
    # from the credentials
    creds = make_creds(emulator, quota_project_id="quota-off")
    with client(emulator, creds) as api, pytest.raises(errors.ServiceDisabledError):
        api.list_models()
    # explicit "" means none, even over the credentials' project: the call works
    with client(emulator, creds, quota_project="") as api:
        assert api.quota_project is None and api.list_models().models
    # environment beats the credentials; explicit beats the environment
    monkeypatch.setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "quota-off")
    with client(emulator) as api, pytest.raises(errors.ServiceDisabledError) as info:
        api.list_models()
    assert info.value.metadata["consumer"] == "projects/99"
    with client(emulator, quota_project=emulator.project_id) as api:
        assert api.list_models().models
    # none anywhere: no header, so the OAuth client's project pays and the call works
    monkeypatch.delenv("GOOGLE_CLOUD_QUOTA_PROJECT")
    with client(emulator) as api:
        assert api.quota_project is None and api.list_models().models


def test_base_url_from_environment(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url + "/")
    with GeminiClient(make_creds(emulator)) as api:
        assert api.base_url == emulator.base_url
        assert api.get_model(MODEL)


def test_base_url_without_scheme_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "generativelanguage.googleapis.com")
    with pytest.raises(errors.GeminiOAuthError) as info:
        GeminiClient(Credentials("placeholder"))
    assert "https://" in info.value.message and "--endpoint" in info.value.hint


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.1:8080/"])
def test_plain_http_to_another_machine_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """The bearer token never crosses the network in clear text; loopback http is the emulator."""
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", url)
    with pytest.raises(errors.GeminiOAuthError, match="clear text") as info:
        GeminiClient(Credentials("placeholder"))
    assert "https://" in info.value.hint


def test_default_profile_is_used(emulator: Emulator) -> None:
    from gemini_oauth._client_secrets import client_from_dict
    from gemini_oauth._credentials import save_login
    from gemini_oauth._flow import LoginResult
    from gemini_oauth._store import profile_file

    grant = emulator.control.issue_grant([CLOUD_PLATFORM])
    save_login(
        LoginResult(
            access_token=grant["access_token"],
            refresh_token=grant["refresh_token"],
            expires_at=time.time() + 3600,
            granted_scopes=(CLOUD_PLATFORM,),
            account=emulator.user_email,
        ),
        client_from_dict(emulator.client_secret_json()),
        file=profile_file("default"),
        quota_project="quota-off",
    )
    _disabled_project(emulator)
    with GeminiClient(base_url=emulator.base_url) as api:  # the profile's quota project is sent
        assert api.quota_project == "quota-off"
        with pytest.raises(errors.ServiceDisabledError) as info:
            api.list_models()
    assert info.value.metadata["consumer"] == "projects/99"
    with GeminiClient(base_url=emulator.base_url, quota_project=emulator.project_id) as api:
        assert api.list_models().models
    with pytest.raises(errors.LoginRequiredError):
        GeminiClient(profile="missing", base_url=emulator.base_url)


def test_profile_credentials_refresh_after_401(emulator: Emulator) -> None:
    from gemini_oauth._client_secrets import client_from_dict
    from gemini_oauth._credentials import save_login
    from gemini_oauth._flow import LoginResult
    from gemini_oauth._store import profile_file

    grant = emulator.control.issue_grant([CLOUD_PLATFORM])
    login = LoginResult(
        access_token=grant["access_token"],
        refresh_token=grant["refresh_token"],
        expires_at=time.time() + 3600,
        granted_scopes=(CLOUD_PLATFORM,),
        account=emulator.user_email,
    )
    save_login(login, client_from_dict(emulator.client_secret_json()), file=profile_file())
    with GeminiClient(base_url=emulator.base_url) as api:
        emulator.control.advance_clock(3601)  # the server refuses a token the cache calls fresh
        assert api.list_models().models
    assert count(emulator, "token.refresh_token") == 1


def test_adc_file_is_used(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant = emulator.control.issue_grant([CLOUD_PLATFORM])
    adc = tmp_path / "adc.json"
    adc.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": emulator.client_id,
                "client_secret": emulator.client_secret,
                "refresh_token": grant["refresh_token"],
                "token_uri": emulator.base_url + "/token",
                "quota_project_id": emulator.project_id,
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    monkeypatch.setenv("CLOUDSDK_AUTH_TOKEN_HOST", emulator.base_url + "/token")  # as gcloud
    assert resolve_credentials(adc=True).quota_project_id == emulator.project_id
    with GeminiClient(base_url=emulator.base_url, adc=True) as api:
        assert api.quota_project == emulator.project_id
        assert api.list_models().models
    assert count(emulator, "token.refresh_token") == 1


def test_no_credentials_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    with pytest.raises(errors.AdcError) as info:
        GeminiClient(base_url="http://127.0.0.1:9")
    assert "gemini-oauth login" in info.value.hint


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://user:pw@generativelanguage.googleapis.com", "userinfo"),
        ("https://generativelanguage.googleapis.com?key=x", "?query"),
        ("https://generativelanguage.googleapis.com#x", "#fragment"),
        ("https://generativelanguage.googleapis.com\\@evil.example", "no place in a URL"),
        ("https://evil.example%40generativelanguage.googleapis.com", "not a valid host name"),
    ],
)
def test_a_base_url_hiding_another_host_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str, words: str
) -> None:
    """Finding 12."""
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", url)
    with pytest.raises(errors.GeminiOAuthError, match="cannot be used") as info:
        GeminiClient(Credentials("placeholder"))
    assert words in info.value.message


def test_a_base_url_neither_googles_nor_local_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="gemini_oauth"):
        api = GeminiClient(Credentials("placeholder"), base_url="https://gemini.example.net/api/")
        GeminiClient(
            Credentials("placeholder"), base_url="https://eu-generativelanguage.googleapis.com"
        )
    assert api.base_url == "https://gemini.example.net/api"
    warned = [r.getMessage() for r in caplog.records]
    assert warned == [
        "The API base URL https://gemini.example.net/api is neither Google's (*.googleapis.com) "
        "nor this machine; your access token is sent there."
    ]


def test_a_quota_project_is_a_project_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 4: argument, environment and the credentials' own are checked alike."""
    with pytest.raises(errors.QuotaProjectError, match="is not a Google Cloud project id"):
        GeminiClient(Credentials("placeholder"), quota_project="p\r\nX: y")
    monkeypatch.setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "p\nX: y")
    with pytest.raises(errors.QuotaProjectError, match=r"\$GOOGLE_CLOUD_QUOTA_PROJECT"):
        GeminiClient(Credentials("placeholder"))
    monkeypatch.delenv("GOOGLE_CLOUD_QUOTA_PROJECT")
    with pytest.raises(errors.QuotaProjectError, match="these credentials"):
        GeminiClient(Credentials("placeholder", quota_project_id="valid-project\n"))
    assert GeminiClient(Credentials("placeholder"), quota_project="my-project-1").quota_project
