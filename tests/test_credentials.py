"""Cached credentials against the emulator: refresh, single flight, invalid_grant, load_creds."""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import random
import re
import subprocess
import sys
import threading
import time
import types
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

from gemini_oauth import _clock
from gemini_oauth import _credentials as credentials
from gemini_oauth import _store as store
from gemini_oauth._client_secrets import client_from_dict
from gemini_oauth._credentials import CachedCredentials, load_creds, load_profile, save_login
from gemini_oauth._flow import LoginResult
from gemini_oauth._retry import RetryPolicy
from gemini_oauth._transport import HttpxRequest
from gemini_oauth._useragent import approve
from gemini_oauth.emulator import Emulator
from gemini_oauth.errors import (
    InvalidGrantError,
    LoginRequiredError,
    TokenEndpointError,
)
from gemini_oauth.scopes import CLOUD_PLATFORM, OPENID, RETRIEVER, USERINFO_EMAIL

SCOPES = [OPENID, USERINFO_EMAIL, CLOUD_PLATFORM, RETRIEVER]
DAY = 86400.0


def seed_cache(
    emulator: Emulator,
    file: store.TokenFile,
    *,
    lifetime: float = 3600.0,
    scopes: list[str] = SCOPES,
) -> dict[str, Any]:
    """Cache a grant issued by the emulator, as a finished login would; return the token body."""
    body = emulator.control.issue_grant(scopes)
    result = LoginResult(
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=_clock.now() + lifetime,
        granted_scopes=tuple(body.get("scope", " ".join(scopes)).split()),
        account=emulator.user_email,
    )
    save_login(result, client_from_dict(emulator.client_secret_json()), file=file)
    return body


def refreshes(emulator: Emulator) -> int:
    return emulator.control.counters().get("token.refresh_token", 0)


def browser_that_approves(url: str) -> bool:
    threading.Thread(target=approve, args=(url,), daemon=True).start()
    return True


def test_saved_login_is_an_authorized_user_file(emulator: Emulator) -> None:
    file = store.profile_file("default")
    body = seed_cache(emulator, file)
    data = json.loads(file.path.read_text())
    assert data["type"] == "authorized_user"
    assert data["refresh_token"] == body["refresh_token"]
    assert data["token_uri"] == emulator.base_url + "/token"
    assert data["account"] == emulator.user_email
    assert data["expiry"].endswith("Z") and "quota_project_id" not in data
    assert set(data["scopes"]) == set(SCOPES)


def test_valid_token_is_used_without_refresh(emulator: Emulator) -> None:
    body = seed_cache(emulator, store.profile_file("default"))
    creds = load_profile()
    assert creds.valid and creds.token == body["access_token"]
    assert creds.token_uri == emulator.base_url + "/token"
    assert refreshes(emulator) == 0


@pytest.mark.parametrize("expiry", ["soon", None])
def test_token_without_a_readable_expiry_is_refreshed(
    emulator: Emulator, expiry: str | None
) -> None:
    file = store.profile_file("default")
    body = seed_cache(emulator, file)
    data = file.read()
    assert data is not None
    data["expiry"] = expiry
    file.write(data)
    creds = load_profile()
    assert not creds.valid
    creds.refresh(HttpxRequest())
    assert creds.valid and creds.token != body["access_token"] and refreshes(emulator) == 1


def test_expired_token_refreshes_once_and_is_saved(emulator: Emulator) -> None:
    file = store.profile_file("default")
    body = seed_cache(emulator, file, lifetime=200.0)  # inside the 300 s margin
    creds = load_profile()
    assert not creds.valid
    creds.refresh(HttpxRequest())
    assert creds.valid and creds.token != body["access_token"]
    assert refreshes(emulator) == 1
    saved = file.read()
    assert saved is not None and saved["token"] == creds.token
    assert saved["refresh_token"] == body["refresh_token"]
    assert load_profile().valid
    # the new token works at Google's (the emulator's) API
    answer = httpx.get(
        emulator.base_url + "/tokeninfo", params={"access_token": creds.token}, timeout=10
    )
    assert answer.status_code == 200


def test_64_threads_refresh_once(emulator: Emulator) -> None:
    seed_cache(emulator, store.profile_file("default"), lifetime=-10.0)
    shared = load_profile()
    barrier = threading.Barrier(64)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            creds = shared if i % 2 else load_profile()
            barrier.wait(timeout=30)
            creds.refresh(HttpxRequest())
            tokens.append(creds.token)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(tokens) == 64 and len(set(tokens)) == 1
    assert refreshes(emulator) == 1


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_16_processes_refresh_once(emulator: Emulator) -> None:
    seed_cache(emulator, store.profile_file("default"), lifetime=-10.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gemini_oauth", "print-access-token"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(16)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 16, [e for _, e in outs]
    tokens = {out for out, _ in outs}
    assert len(tokens) == 1 and next(iter(tokens)).count("\n") == 1
    assert refreshes(emulator) == 1
    assert load_profile().token == next(iter(tokens)).strip()


def assert_setup_kept(file: store.TokenFile, before: dict[str, Any], why: str) -> None:
    """A dead grant leaves the record without its tokens, its set-up kept and the reason said."""
    after = file.read()
    assert after is not None and not store.has_grant(after)
    assert not set(store.TOKEN_FIELDS) & set(after)
    for key in ("client_id", "client_secret", "scopes", "account", "quota_project_id"):
        assert after.get(key) == before.get(key), key
    assert why in after["login_needed"] and after["login_needed_since"].endswith("Z")


def test_revoked_refresh_token_raises_and_keeps_the_setup(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    file = store.profile_file("default")
    body = seed_cache(emulator, file, lifetime=0.0)
    before = file.read() or {}
    httpx.post(emulator.base_url + "/revoke", data={"token": body["refresh_token"]}, timeout=10)
    creds = load_profile()
    with caplog.at_level(logging.DEBUG), pytest.raises(InvalidGrantError) as info:
        creds.refresh(HttpxRequest())
    assert "revoked" in info.value.message and emulator.user_email in info.value.message
    assert "not the 7-day Testing limit" in info.value.message  # 0 days old: not that
    assert "set-up" in info.value.message and "'gemini-oauth login'" in info.value.hint
    assert info.value.exit_code == 3
    assert_setup_kept(file, before, "revoked")
    with pytest.raises(LoginRequiredError, match="needs a new sign-in") as again:
        load_profile()
    assert "gemini-oauth login" in again.value.hint
    assert_no_secrets(body, str(info.value), repr(info.value), caplog.text)


def test_testing_app_refresh_token_expires_after_7_days(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = store.profile_file("default")
    body = seed_cache(emulator, file)
    before = file.read() or {}
    emulator.control.advance_clock(8 * DAY)
    monkeypatch.setattr(_clock, "now", lambda: time.time() + 8 * DAY)
    creds = load_profile()
    assert not creds.valid
    with pytest.raises(InvalidGrantError) as info:
        creds.refresh(HttpxRequest())
    assert "expired" in info.value.message and "7 days" in info.value.message
    assert "Testing" in info.value.message and "8.0 days old" in info.value.message
    assert info.value.error == "invalid_grant" and "Publish app" in info.value.hint
    assert_setup_kept(file, before, "7 days")
    assert_no_secrets(body, str(info.value))


def test_the_grant_age_is_read_on_the_servers_clock(emulator: Emulator) -> None:
    """Only Google's clock moved 8 days (its Date header says so): still the Testing expiry."""
    file = store.profile_file("default")
    seed_cache(emulator, file)
    emulator.control.advance_clock(8 * DAY)
    with pytest.raises(InvalidGrantError, match=r"8\.0 days old.*Testing status"):
        load_profile().refresh(HttpxRequest())


def fake_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The refresh grant's retries ask this for their delays instead of sleeping."""
    slept: list[float] = []
    policy = CachedCredentials.refresh_retry
    retry = RetryPolicy(**{**vars(policy), "rng": random.Random(5), "sleep": slept.append})
    monkeypatch.setattr(CachedCredentials, "refresh_retry", retry)
    return slept


def test_reauthentication_is_an_invalid_grant_that_keeps_the_cache(emulator: Emulator) -> None:
    """Workspace session control: invalid_grant with error_subtype rapt_required. The grant is
    not revoked, so the cache stays; the subtype stays on the error for its wording."""
    file = store.profile_file("default")
    seed_cache(emulator, file, lifetime=0.0)
    before = file.path.read_bytes()
    answer = {"error": "invalid_grant", "error_subtype": "rapt_required",
              "error_description": "reauth related error (rapt_required)"}  # fmt: skip
    emulator.control.add_fault("/token", 400, count=1, body=answer)
    with pytest.raises(InvalidGrantError) as info:
        load_profile().refresh(HttpxRequest())
    assert info.value.subtype == "rapt_required" and info.value.status == 400
    assert "gemini-oauth login" in info.value.hint and "7 days" not in info.value.hint
    assert file.path.read_bytes() == before


def test_503_on_refresh_keeps_the_cache(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept = fake_sleep(monkeypatch)
    file = store.profile_file("default")
    body = seed_cache(emulator, file, lifetime=0.0)
    before = file.path.read_bytes()
    emulator.control.add_fault("/token", 503, count=10)
    with pytest.raises(TokenEndpointError) as info:
        load_profile().refresh(HttpxRequest())
    assert not isinstance(info.value, InvalidGrantError)
    assert "kept" in info.value.message and info.value.transient
    assert file.path.read_bytes() == before
    # three attempts, with a jittered doubling wait between them, none slept for real
    assert emulator.control.counters()["faults"] == 3
    assert len(slept) == 2 and 0.25 <= slept[0] <= 0.5 and 0.5 <= slept[1] <= 1.0
    emulator.control.clear_faults()
    creds = load_profile()
    creds.refresh(HttpxRequest())
    assert creds.valid
    assert_no_secrets(body, str(info.value))


@pytest.mark.parametrize(
    "answer",
    [{"access_token": {"a": 1}, "expires_in": 3600}, {"access_token": "", "expires_in": 3600}],
)
def test_nonsense_refresh_answer_keeps_the_cache(
    emulator: Emulator, answer: dict[str, object]
) -> None:
    """A 200 without a usable access token is an error, and never reaches the cache."""
    file = store.profile_file("default")
    seed_cache(emulator, file, lifetime=0.0)
    before = file.path.read_bytes()
    emulator.control.add_fault("/token", 200, count=1, body=answer)
    creds = load_profile()
    held = creds.token
    with pytest.raises(TokenEndpointError, match="without a usable access token"):
        creds.refresh(HttpxRequest())
    assert file.path.read_bytes() == before
    assert creds.token == held
    creds.refresh(HttpxRequest())  # the fault is spent: the next refresh works
    assert creds.valid and isinstance(creds.token, str)


@pytest.mark.parametrize("expires_in", ["soon", [3600]])
def test_malformed_expires_in_on_refresh_keeps_the_cache(
    emulator: Emulator, expires_in: object
) -> None:
    """google-auth raises ValueError/TypeError on such an answer: still a TokenEndpointError."""
    file = store.profile_file("default")
    seed_cache(emulator, file, lifetime=0.0)
    before = file.path.read_bytes()
    answer = {"access_token": "fresh-token-value", "expires_in": expires_in}
    emulator.control.add_fault("/token", 200, count=1, body=answer)
    creds = load_profile()
    held = creds.token
    with pytest.raises(TokenEndpointError, match="kept"):
        creds.refresh(HttpxRequest())
    assert file.path.read_bytes() == before
    assert creds.token == held


def test_refresh_sends_the_reauth_proof_and_the_granted_scopes(emulator: Emulator) -> None:
    """A cache with a rapt_token (Workspace reauthentication) passes it on, as google-auth does."""
    file = store.profile_file("default")
    seed_cache(emulator, file, lifetime=0.0)
    data = file.read()
    assert data is not None
    file.write({**data, "rapt_token": "unit-rapt-proof"})
    sent: list[httpx.Request] = []
    with httpx.Client(event_hooks={"request": [sent.append]}) as http:
        creds = load_profile()
        creds.refresh(HttpxRequest(http))
    assert creds.valid and creds.rapt_token == "unit-rapt-proof"
    form = httpx.QueryParams(sent[0].read().decode())
    assert form["grant_type"] == "refresh_token" and form["rapt"] == "unit-rapt-proof"
    assert set(form["scope"].split()) == set(SCOPES)
    assert [str(r.url) for r in sent] == [emulator.base_url + "/token"]


def test_unreachable_token_endpoint_keeps_the_cache(emulator: Emulator) -> None:
    file = store.profile_file("default")
    seed_cache(emulator, file, lifetime=0.0)
    data = file.read()
    assert data is not None
    data["token_uri"] = "http://127.0.0.1:9/token"  # discard port: connection refused
    file.write(data)
    before = file.path.read_bytes()
    with pytest.raises(TokenEndpointError, match="Could not reach"):
        load_profile().refresh(HttpxRequest())
    assert file.path.read_bytes() == before


def test_rotated_refresh_token_is_adopted(emulator: Emulator) -> None:
    """Another process logged in again meanwhile: the refresher adopts the file's new login."""
    file = store.profile_file("default")
    seed_cache(emulator, file, lifetime=0.0)
    stale = load_profile()
    second = seed_cache(emulator, file)
    stale.refresh(HttpxRequest())
    assert stale.token == second["access_token"] and stale.refresh_token == second["refresh_token"]
    assert refreshes(emulator) == 0


def _token_scopes(emulator: Emulator, token: str | None) -> set[str]:
    info = httpx.get(f"{emulator.base_url}/tokeninfo", params={"access_token": token}, timeout=10)
    return set(info.json()["scope"].split())


def test_an_adopted_login_brings_its_scopes(emulator: Emulator) -> None:
    """Another process signed in again with more scopes: the refresher adopts them too, so its
    next refresh asks for what was granted and the record's scopes stay the token's."""
    file = store.profile_file("default")
    seed_cache(emulator, file, lifetime=0.0, scopes=[CLOUD_PLATFORM])
    stale = load_profile()
    assert isinstance(stale, CachedCredentials)
    seed_cache(emulator, file, lifetime=0.0, scopes=SCOPES)  # wider, and due for a refresh
    stale.refresh(HttpxRequest())
    assert set(stale.granted_scopes or ()) == set(SCOPES) and refreshes(emulator) == 1
    saved = file.read()
    assert saved is not None and saved["token"] == stale.token
    assert _token_scopes(emulator, stale.token) == set(saved["scopes"]) == set(SCOPES)


def test_copies_keep_the_cache_binding(emulator: Emulator) -> None:
    seed_cache(emulator, store.profile_file("default"), lifetime=0.0)
    creds = load_profile().with_quota_project("billing-project")
    assert isinstance(creds, CachedCredentials) and creds.file is not None
    creds.refresh(HttpxRequest())
    headers: dict[str, str] = {}
    creds.apply(headers)
    assert headers["x-goog-user-project"] == "billing-project"
    assert refreshes(emulator) == 1


# -- load_creds ----------------------------------------------------------------------------------


def test_load_creds_uses_a_valid_token_json_without_client_file(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    body = seed_cache(emulator, store.TokenFile("token.json"), scopes=[RETRIEVER])
    creds = load_creds(interactive=False)
    assert creds.token == body["access_token"] and creds.valid
    assert refreshes(emulator) == 0


def test_load_creds_knows_profile_is_granted_as_userinfo_profile(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Google grants 'profile' as .../userinfo.profile: asking again needs no new login."""
    token = tmp_path / "token.json"
    seed_cache(emulator, store.TokenFile(token), scopes=[RETRIEVER, "profile"])
    creds = load_creds(tmp_path / "absent.json", token, [RETRIEVER, "profile"], interactive=False)
    assert creds.valid


def test_load_creds_refreshes_an_expired_token(emulator: Emulator, tmp_path: Path) -> None:
    token = tmp_path / "token.json"
    seed_cache(emulator, store.TokenFile(token), lifetime=0.0)
    creds = load_creds(token=token, scopes=[CLOUD_PLATFORM], interactive=False)
    assert creds.valid and refreshes(emulator) == 1


def test_load_creds_closes_the_http_client_it_made(emulator: Emulator, tmp_path: Path) -> None:
    """The refresh's own httpx client is closed: no socket left for the garbage collector."""
    token = tmp_path / "token.json"
    seed_cache(emulator, store.TokenFile(token), lifetime=0.0)
    gc.collect()  # what earlier tests left behind is not this test's business
    port = emulator.base_url.rsplit(":", 1)[1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert load_creds(tmp_path / "absent.json", token, interactive=False).valid
        gc.collect()
    ours = [
        w
        for w in caught
        if issubclass(w.category, ResourceWarning) and f"127.0.0.1', {port})" in str(w.message)
    ]
    assert not ours, [str(w.message) for w in ours]
    assert refreshes(emulator) == 1


def test_load_creds_without_token_non_interactive_raises(tmp_path: Path) -> None:
    with pytest.raises(LoginRequiredError, match="no cached login") as info:
        load_creds(token=tmp_path / "token.json", interactive=False)
    assert "load_creds(token=" in info.value.hint and "in a terminal" in info.value.hint
    assert not (tmp_path / "token.json").exists()


def test_load_creds_logs_in_when_there_is_no_token(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    token = tmp_path / "token.json"
    creds = load_creds(
        client_secret_file,
        token,
        interactive=True,
        open_browser=browser_that_approves,
        quota_project="quota-1",
    )
    assert creds.valid and creds.refresh_token
    assert emulator.control.counters().get("token.authorization_code") == 1
    data = json.loads(token.read_text())
    assert data["quota_project_id"] == "quota-1" and data["scopes"] == [RETRIEVER]
    assert (token.stat().st_mode & 0o777) == 0o600


def test_load_creds_defaults_are_the_quickstarts_files_in_the_cwd(
    emulator: Emulator, client_secret_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(client_secret_file.parent)
    creds = load_creds(interactive=True, open_browser=browser_that_approves)
    saved = json.loads((client_secret_file.parent / "token.json").read_text())
    assert saved["refresh_token"] == creds.refresh_token and saved["scopes"] == [RETRIEVER]
    assert load_creds(interactive=False).token == creds.token


def test_load_creds_after_revocation_logs_in_again_when_interactive(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    token = tmp_path / "token.json"
    body = seed_cache(emulator, store.TokenFile(token), lifetime=0.0, scopes=[RETRIEVER])
    httpx.post(emulator.base_url + "/revoke", data={"token": body["refresh_token"]}, timeout=10)
    with pytest.raises(InvalidGrantError):
        load_creds(client_secret_file, token, interactive=False)
    assert not store.has_grant(json.loads(token.read_text()))  # its set-up stays
    seed = seed_cache(emulator, store.TokenFile(token), lifetime=0.0, scopes=[RETRIEVER])
    httpx.post(emulator.base_url + "/revoke", data={"token": seed["refresh_token"]}, timeout=10)
    creds = load_creds(
        client_secret_file, token, interactive=True, open_browser=browser_that_approves
    )
    assert creds.valid and creds.refresh_token != seed["refresh_token"]
    assert json.loads(token.read_text())["refresh_token"] == creds.refresh_token


def test_load_creds_asks_for_the_union_when_scopes_are_missing(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    token = tmp_path / "token.json"
    seed_cache(emulator, store.TokenFile(token), scopes=[RETRIEVER])
    with pytest.raises(LoginRequiredError, match="lacks"):
        load_creds(client_secret_file, token, scopes=["cloud-platform"], interactive=False)
    creds = load_creds(
        client_secret_file,
        token,
        scopes=["cloud-platform"],
        interactive=True,
        open_browser=browser_that_approves,
    )
    assert set(creds.scopes or []) == {RETRIEVER, CLOUD_PLATFORM}
    assert set(json.loads(token.read_text())["scopes"]) == {RETRIEVER, CLOUD_PLATFORM}


def test_load_creds_sets_aside_a_corrupt_token(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    token = tmp_path / "token.json"
    token.write_text('{"token": "half')
    with pytest.raises(LoginRequiredError):
        load_creds(client_secret_file, token, interactive=False)
    assert len(list(tmp_path.glob("token.json.corrupt-*"))) == 1
    creds = load_creds(
        client_secret_file, token, interactive=True, open_browser=browser_that_approves
    )
    assert creds.valid


def test_load_creds_in_a_notebook_logs_in_by_pasting(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook kernel has no TTY, but input() works: the default is to log in by pasting."""
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # not a TTY, as in a kernel
    monkeypatch.delenv("BROWSER", raising=False)
    out = io.StringIO()

    def notebook_input(prompt: str = "") -> str:
        url = re.findall(r"^    (http://\S+)$", out.getvalue(), re.M)[-1]
        return approve(url, follow_redirect=False)

    monkeypatch.setattr("builtins.input", notebook_input)
    creds = load_creds(client_secret_file, tmp_path / "token.json", out=out)
    assert creds.valid and "Open this address in a browser on any machine" in out.getvalue()
    assert emulator.control.counters().get("token.authorization_code") == 1


def test_load_creds_works_with_google_auth_authorized_session(
    emulator: Emulator, tmp_path: Path
) -> None:
    from google.auth.transport.requests import AuthorizedSession

    token = tmp_path / "token.json"
    seed_cache(emulator, store.TokenFile(token), lifetime=0.0, scopes=[RETRIEVER])
    with AuthorizedSession(load_creds(token=token, interactive=False)) as session:
        answer = session.get(emulator.base_url + "/v1beta/models", timeout=10)
    assert answer.status_code == 200 and answer.json()["models"]
    assert refreshes(emulator) == 1


def test_public_exports() -> None:
    import gemini_oauth

    assert gemini_oauth.load_creds is load_creds
    assert gemini_oauth.load_profile is load_profile
    assert gemini_oauth.CachedCredentials is CachedCredentials
    assert gemini_oauth.login is credentials.login


def assert_no_secrets(body: dict[str, Any], *texts: str) -> None:
    secrets = [body["access_token"], body["refresh_token"], "emulator-client-secret"]
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_no_secret_in_logs_or_errors(
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every failure path of this module, captured and scanned for token, refresh token, secret."""
    slept = fake_sleep(monkeypatch)
    file = store.profile_file("default")
    body = seed_cache(emulator, file, lifetime=0.0)
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        emulator.control.add_fault("/token", 500, count=10)
        try:
            load_profile().refresh(HttpxRequest())
        except TokenEndpointError as exc:
            texts += [str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)]
        emulator.control.clear_faults()
        file.path.chmod(0o644)
        creds = load_profile()
        texts.append(repr(creds))
        httpx.post(emulator.base_url + "/revoke", data={"token": body["refresh_token"]}, timeout=9)
        try:
            creds.refresh(HttpxRequest())
        except InvalidGrantError as exc:
            texts += [str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)]
    out, err = capfd.readouterr()
    assert len(texts) == 9 and len(slept) == 2
    assert_no_secrets(
        body, *texts, caplog.text, out, err, *(r.getMessage() for r in caplog.records)
    )
    assert os.environ.get("GEMINI_OAUTH_HOME")


def test_login_says_where_it_stands_and_returns_what_a_caller_shows(
    emulator: Emulator, client_secret_file: Path
) -> None:
    """login(): the client file and scopes go to ``out``; the credentials carry the summary."""
    from gemini_oauth._useragent import HeadlessUserAgent

    out = io.StringIO()
    agent = HeadlessUserAgent()
    creds = credentials.login(
        client_secret_file, SCOPES, profile="work", quota_project="qp-project-1", out=out,
        open_browser=agent, timeout=20,
    )  # fmt: skip
    agent.join(timeout=10)
    said = out.getvalue()
    assert f"Using OAuth client {emulator.client_id} from {client_secret_file}." in said
    asked = "openid, userinfo.email, cloud-platform, generative-language.retriever"
    assert f"Asking for: {asked}.\n" in said
    assert creds.file is not None and creds.file.path == store.profile_file("work").path
    assert creds.account == emulator.user_email and creds.quota_project_id == "qp-project-1"
    assert set(creds.granted_scopes or ()) == set(SCOPES)
    again = credentials.login(
        client_secret_file, SCOPES, profile="work", out=io.StringIO(), open_browser=agent
    )
    assert again.quota_project_id == "qp-project-1"  # kept from the profile when not given


@pytest.mark.parametrize(
    ("profile", "command"),
    [("default", "gemini-oauth login"), ("work", "gemini-oauth login --profile work")],
)
def test_login_errors_name_the_profiles_login(
    client_secret_file: Path, profile: str, command: str
) -> None:
    from gemini_oauth._useragent import HeadlessUserAgent
    from gemini_oauth.errors import ConsentDeniedError

    agent = HeadlessUserAgent(action="deny")
    with pytest.raises(ConsentDeniedError) as info:
        credentials.login(
            client_secret_file, SCOPES, profile=profile, out=io.StringIO(), open_browser=agent,
            timeout=20,
        )  # fmt: skip
    agent.join(timeout=10)
    assert f"Run '{command}' again and press Allow" in info.value.hint
    assert not store.profile_file(profile).path.exists()


# ---------------------------------------------------------------- whose account a profile holds


def _profile_of(emulator: Emulator, email: str, profile: str = "work") -> None:
    body = emulator.control.issue_grant(SCOPES, email=email)
    result = LoginResult(body["access_token"], body["refresh_token"], _clock.now() + 3600,
                         tuple(SCOPES), account=email)  # fmt: skip
    client = client_from_dict(emulator.client_secret_json())
    credentials.save_login(result, client, file=store.profile_file(profile))


def test_a_profile_is_not_taken_over_by_another_account_without_asking(
    emulator: Emulator, client_secret_file: Path
) -> None:
    """Finding 1: the profile holds alice; the sign-in came back as tester (the CSRF case, or a
    mistake). Without a terminal to ask on: refused, the new grant revoked, alice kept."""
    from gemini_oauth._useragent import HeadlessUserAgent
    from gemini_oauth.errors import AccountMismatchError

    emulator.control.add_user("alice@example.com")
    _profile_of(emulator, "alice@example.com")
    before = store.profile_file("work").path.read_bytes()
    with pytest.raises(AccountMismatchError) as info:
        credentials.login(client_secret_file, SCOPES, profile="work", out=io.StringIO(),
                          open_browser=HeadlessUserAgent(), timeout=20)  # fmt: skip
    error = info.value
    assert "You signed in as tester@example.com, but profile work belongs to alice" in error.message
    assert "its grant was revoked" in error.message
    assert "'gemini-oauth login --profile work --login-hint tester@example.com'" in error.hint
    assert "'gemini-oauth logout --profile work'" in error.hint
    assert store.profile_file("work").path.read_bytes() == before
    assert emulator.control.counters()["revoke"] == 1
    assert emulator.control.state()["live_grants"] == 1  # alice's own grant lives on


def test_a_token_files_refused_sign_in_names_commands_that_run(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    """load_creds's token file: its login command is a python one-liner that takes no flags, so
    the hint says to delete the file and run it, never '<one-liner> --login-hint ...'."""
    from gemini_oauth._useragent import HeadlessUserAgent
    from gemini_oauth.errors import AccountMismatchError

    emulator.control.add_user("alice@example.com")
    _profile_of(emulator, "alice@example.com")
    token = store.TokenFile(tmp_path / "token.json")
    token.write(store.profile_file("work").read() or {})
    with pytest.raises(AccountMismatchError) as info:
        credentials.login(client_secret_file, SCOPES, file=token, out=io.StringIO(),
                          open_browser=HeadlessUserAgent(), timeout=20)  # fmt: skip
    hint = info.value.hint
    assert hint.startswith(f"To replace alice@example.com, delete {token.path}, then run ")
    assert "--login-hint" not in hint and "logout" not in hint
    assert f"load_creds(token=r'{token.path}')" in hint


@pytest.mark.parametrize("answer", ["y", "n"])
def test_a_terminal_is_asked_before_another_account_replaces_the_profiles(
    emulator: Emulator, client_secret_file: Path, answer: str
) -> None:
    from gemini_oauth._useragent import HeadlessUserAgent
    from gemini_oauth.errors import AccountMismatchError

    emulator.control.add_user("alice@example.com")
    _profile_of(emulator, "alice@example.com")
    out, asked = io.StringIO(), []

    def terminal(prompt: str) -> str:
        asked.append(out.getvalue().rsplit("\n", 1)[-1])
        return answer

    def sign_in() -> credentials.CachedCredentials:
        return credentials.login(client_secret_file, SCOPES, profile="work", out=out,
                                 open_browser=HeadlessUserAgent(), prompt_input=terminal,
                                 timeout=20)  # fmt: skip

    question = (
        "You signed in as tester@example.com, but profile work belongs to alice@example.com; "
        "replace alice@example.com with tester@example.com? [y/N] "
    )
    if answer == "y":
        assert sign_in().account == emulator.user_email
        assert asked == [question]
        return
    with pytest.raises(AccountMismatchError, match=r"Kept alice@example\.com in profile work"):
        sign_in()
    assert asked == [question] and emulator.control.counters()["revoke"] == 1
    data = json.loads(store.profile_file("work").path.read_text())
    assert data["account"] == "alice@example.com"


def test_a_login_hint_for_another_account_replaces_without_asking(
    emulator: Emulator, client_secret_file: Path
) -> None:
    """Asked for by name (the fix the refusal suggests): no question, no refusal."""
    from gemini_oauth._useragent import HeadlessUserAgent

    emulator.control.add_user("alice@example.com")
    _profile_of(emulator, "alice@example.com")
    creds = credentials.login(client_secret_file, SCOPES, profile="work", out=io.StringIO(),
                              login_hint=emulator.user_email, open_browser=HeadlessUserAgent(),
                              timeout=20)  # fmt: skip
    assert creds.account == emulator.user_email


def test_sign_in_warns_about_endpoints_that_are_not_googles(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Finding 12: a client file from elsewhere may send the sign-in anywhere; the user is told."""
    from gemini_oauth._useragent import HeadlessUserAgent

    data = emulator.client_secret_json()
    data["installed"]["revoke_uri"] = "https://revoke.example.net/revoke"
    (tmp_path / "client_secret.json").write_text(json.dumps(data))
    out = io.StringIO()
    credentials.login(tmp_path / "client_secret.json", SCOPES, out=out,
                      open_browser=HeadlessUserAgent(), timeout=20)  # fmt: skip
    assert (
        "warning: the client file's revoke_uri is https://revoke.example.net/revoke, which is "
        "not Google's" in out.getvalue()
    )


def test_load_creds_without_a_terminal_opens_the_browser(
    emulator: Emulator, client_secret_file: Path
) -> None:
    """As the quickstart's function: an IDE's run console or a GUI app has a browser, not a
    TTY; with neither, the clear error (no login is attempted)."""
    code = "from gemini_oauth import load_creds; print(bool(load_creds().token))"
    ua = f"{sys.executable} -m gemini_oauth._useragent %s"
    env = {k: v for k, v in os.environ.items() if k not in ("BROWSER", "DISPLAY")}
    folder = client_secret_file.parent

    def run(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code], cwd=folder, env={**env, **extra},
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=60)  # fmt: skip

    done = run(BROWSER=ua, DISPLAY=":0")
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr
    assert "Opening the sign-in page in your browser" in done.stderr
    (folder / "token.json").unlink()
    refused = run()
    assert refused.returncode == 1 and "LoginRequiredError" in refused.stderr
    assert "no terminal or browser here to sign in with" in refused.stderr
    assert emulator.control.counters()["token.authorization_code"] == 1
