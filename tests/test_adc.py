"""adc.py: gcloud's paths and file format, google-auth reading what we write, refresh, revoke."""

from __future__ import annotations

import io
import json
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gemini_oauth import _adc as adc
from gemini_oauth._adc_status import adc_status
from gemini_oauth.errors import AdcError, InvalidGrantError, RevocationError
from gemini_oauth.scopes import GCLOUD_QUICKSTART_SCOPES

CLIENT_ID = "1000000000001-emulator.apps.googleusercontent.com"


@dataclass
class _Result:
    refresh_token: str | None
    account: str | None = None


@dataclass
class _Client:
    client_id: str = CLIENT_ID
    client_secret: str = "emulator-client-secret"


@pytest.fixture
def gcloud_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CLOUDSDK_CONFIG=tmp, no GOOGLE_APPLICATION_CREDENTIALS: the ADC file lives here."""
    folder = tmp_path / "gcloud"
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(folder))
    monkeypatch.setenv("GEMINI_OAUTH_HOME", str(tmp_path / "home"))
    for name in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_QUOTA_PROJECT",
        adc.TOKEN_HOST_ENV,
    ):
        monkeypatch.delenv(name, raising=False)
    return folder


# --- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "env", "expected"),
    [
        ("linux", {"HOME": "/home/ann"}, "/home/ann/.config/gcloud"),
        ("darwin", {"HOME": "/Users/ann"}, "/Users/ann/.config/gcloud"),
        ("linux", {"HOME": "/home/ann", "CLOUDSDK_CONFIG": "/cfg"}, "/cfg"),
        (
            "win32",
            {"APPDATA": r"C:\Users\ann\AppData\Roaming"},
            r"C:\Users\ann\AppData\Roaming\gcloud",
        ),
        ("win32", {"SystemDrive": "D:"}, r"D:\gcloud"),
        ("win32", {}, r"C:\gcloud"),
        ("win32", {"CLOUDSDK_CONFIG": r"E:\cfg", "APPDATA": r"C:\x"}, r"E:\cfg"),
    ],
)
def test_adc_path_per_platform(
    platform: str, env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ntpath
    import posixpath
    from types import SimpleNamespace

    from google.auth import _cloud_sdk

    sep = "\\" if platform == "win32" else "/"
    assert str(adc.config_dir(platform, env)) == expected
    assert str(adc.adc_path(platform, env)) == expected + sep + adc.ADC_FILENAME
    # google-auth's own reader, run as on that platform, looks in the same place.
    windows = platform == "win32"
    fake_os = SimpleNamespace(
        name="nt" if windows else "posix", path=ntpath if windows else posixpath, environ=env
    )
    monkeypatch.setattr(_cloud_sdk, "os", fake_os)
    if "HOME" in env:
        monkeypatch.setenv("HOME", env["HOME"])  # posixpath.expanduser reads the real environ
    assert _cloud_sdk.get_application_default_credentials_path() == str(adc.adc_path(platform, env))


def test_adc_path_matches_google_auth(gcloud_dir: Path) -> None:
    from google.auth import _cloud_sdk

    assert str(adc.adc_path()) == _cloud_sdk.get_application_default_credentials_path()


def test_token_and_revoke_uri() -> None:
    assert adc.token_uri({}) == "https://oauth2.googleapis.com/token"
    assert adc.revoke_uri({}) == "https://oauth2.googleapis.com/revoke"
    env = {adc.TOKEN_HOST_ENV: "http://127.0.0.1:9/token"}
    assert adc.revoke_uri(env) == "http://127.0.0.1:9/revoke"


# --- format ---------------------------------------------------------------------------------


def test_write_adc_exact_bytes_and_mode(gcloud_dir: Path) -> None:
    path = adc.write_adc(_Result("r-1", "ann@example.com"), _Client(), quota_project="my-proj-1")
    assert path == gcloud_dir / adc.ADC_FILENAME
    expected = (
        "{\n"
        '  "account": "ann@example.com",\n'
        f'  "client_id": "{CLIENT_ID}",\n'
        '  "client_secret": "emulator-client-secret",\n'
        '  "quota_project_id": "my-proj-1",\n'
        '  "refresh_token": "r-1",\n'
        '  "type": "authorized_user",\n'
        '  "universe_domain": "googleapis.com"\n'
        "}"
    )
    assert path.read_text() == expected
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in gcloud_dir.iterdir()] == [adc.ADC_FILENAME]  # no temp left behind


def test_write_without_quota_or_account(gcloud_dir: Path) -> None:
    info = json.loads(adc.write_adc(_Result("r-1"), _Client()).read_text())
    assert info["account"] == ""
    assert "quota_project_id" not in info and "token" not in info and "scopes" not in info


def test_write_needs_refresh_token(gcloud_dir: Path) -> None:
    with pytest.raises(AdcError, match="no refresh token"):
        adc.write_adc(_Result(None), _Client())
    assert not (gcloud_dir / adc.ADC_FILENAME).exists()


def test_bad_quota_project_keeps_file(gcloud_dir: Path) -> None:
    path = adc.write_adc(_Result("r-1"), _Client())
    before = path.read_bytes()
    with pytest.raises(AdcError, match="not a Google Cloud project id"):
        adc.set_quota_project("Bad Project!")
    assert path.read_bytes() == before


def test_set_quota_project_keeps_everything_else(gcloud_dir: Path) -> None:
    path = adc.write_adc(_Result("r-1", "ann@example.com"), _Client())
    adc.set_quota_project("emulator-project")
    info = json.loads(path.read_text())
    assert info.pop("quota_project_id") == "emulator-project"
    assert adc.dumps_adc(info) == adc.dumps_adc(json.loads(adc.dumps_adc(info)))
    assert path.read_text() == adc.dumps_adc({**info, "quota_project_id": "emulator-project"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_set_quota_project_without_adc(gcloud_dir: Path) -> None:
    with pytest.raises(AdcError, match="No Application Default Credentials") as caught:
        adc.set_quota_project("emulator-project")
    assert "adc login" in caught.value.hint


def test_set_quota_project_refuses_service_account(gcloud_dir: Path) -> None:
    gcloud_dir.mkdir()
    (gcloud_dir / adc.ADC_FILENAME).write_text('{"type": "service_account"}')
    with pytest.raises(AdcError, match="not a user") as caught:
        adc.set_quota_project("emulator-project")
    assert "quota project" in caught.value.hint
    with pytest.raises(AdcError, match="not a user") as caught:
        adc.revoke()
    assert "service-account keys" in caught.value.hint
    assert (gcloud_dir / adc.ADC_FILENAME).exists()


def test_overwrite_warnings(gcloud_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notes: list[str] = []
    adc.write_adc(_Result("r-1", "ann@example.com"), _Client(), warn=notes.append)
    assert notes == []
    adc.write_adc(_Result("r-2", "ann@example.com"), _Client(), warn=notes.append)
    assert notes == []  # same account, same client: a plain refresh of the file
    adc.write_adc(_Result("r-3", "bob@example.com"), _Client(), warn=notes.append)
    assert len(notes) == 1 and "another account (ann@example.com)" in notes[0]
    adc.write_adc(_Result("r-4"), _Client(client_id="other.apps"), warn=notes.append)
    assert "another OAuth client" in notes[1]
    other = gcloud_dir / "elsewhere.json"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(other))
    adc.write_adc(_Result("r-5"), _Client(client_id="other.apps"), warn=notes.append)
    assert len(notes) == 3 and "GOOGLE_APPLICATION_CREDENTIALS" in notes[2]
    for note in notes:
        assert "r-" not in note and "emulator-client-secret" not in note


def test_status(gcloud_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = adc_status()
    assert not missing.exists and missing.path == str(gcloud_dir / adc.ADC_FILENAME)
    adc.write_adc(_Result("r-1", "ann@example.com"), _Client())
    status = adc_status()
    assert (status.type, status.account, status.client_id) == (
        "authorized_user",
        "ann@example.com",
        CLIENT_ID,
    )
    assert status.quota_project_id is None
    assert any("set-quota-project" in w for w in status.warnings)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/elsewhere.json")
    adc.set_quota_project("emulator-project")
    status = adc_status()
    assert status.quota_project_id == "emulator-project"
    assert status.overridden_by == "/elsewhere.json"
    assert "r-1" not in json.dumps(status.to_dict())


# --- google-auth reads what we write ----------------------------------------------------------


def _no_gcloud_project(monkeypatch: pytest.MonkeyPatch) -> None:
    """google.auth.default() spawns `gcloud config get project` (seconds); the project is moot."""
    monkeypatch.setattr("google.auth._cloud_sdk.get_project_id", lambda: None)


def test_google_auth_default_loads_our_file(
    gcloud_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import google.auth
    from google.oauth2.credentials import Credentials

    adc.write_adc(_Result("r-1", "ann@example.com"), _Client(), quota_project="emulator-project")
    _no_gcloud_project(monkeypatch)
    creds, _ = google.auth.default()
    assert isinstance(creds, Credentials)
    assert (creds.client_id, creds.refresh_token, creds.quota_project_id) == (
        CLIENT_ID,
        "r-1",
        "emulator-project",
    )
    assert creds.account == "ann@example.com"


def test_default_credentials_errors(gcloud_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(gcloud_dir / "nope.json"))
    with pytest.raises(AdcError, match="does not exist"):
        adc.default_credentials()
    gcloud_dir.mkdir()
    bad = gcloud_dir / "bad.json"
    bad.write_text('{"type": "authorized_user"}')
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(bad))
    with pytest.raises(AdcError, match="No usable Application Default Credentials") as caught:
        adc.default_credentials()
    assert "adc login" in caught.value.hint


def test_default_credentials_quota_precedence(
    gcloud_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    adc.write_adc(_Result("r-1"), _Client())
    creds, _ = adc.default_credentials()
    assert creds.quota_project_id is None
    assert "set-quota-project" in caplog.text
    adc.default_credentials()  # said once per process, not once per call
    told = [r for r in caplog.records if "set-quota-project" in r.getMessage()]
    assert len(told) == 1
    monkeypatch.setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "env-project")
    assert adc.default_credentials()[0].quota_project_id == "env-project"
    assert adc.default_credentials(quota_project="arg-project")[0].quota_project_id == "arg-project"


# --- against the emulator ---------------------------------------------------------------------


def _emulator_adc(emulator: Any, monkeypatch: pytest.MonkeyPatch, quota: str | None) -> Path:
    grant = emulator.control.issue_grant(list(GCLOUD_QUICKSTART_SCOPES))
    monkeypatch.setenv(adc.TOKEN_HOST_ENV, f"{emulator.base_url}/token")
    client = _Client(emulator.client_id, emulator.client_secret)
    return adc.write_adc(_Result(grant["refresh_token"]), client, quota_project=quota)


def _models_status(emulator: Any, token: str) -> int:
    url = f"{emulator.base_url}/v1/models"
    return httpx.get(url, headers={"authorization": f"Bearer {token}"}, timeout=10).status_code


def test_google_auth_refreshes_our_file_at_the_emulator(
    gcloud_dir: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import google.auth
    from google.oauth2.credentials import Credentials

    from gemini_oauth._transport import HttpxRequest

    _emulator_adc(emulator, monkeypatch, emulator.project_id)
    _no_gcloud_project(monkeypatch)
    creds, _ = google.auth.default()
    assert isinstance(creds, Credentials) and creds.quota_project_id == emulator.project_id
    creds = creds.with_token_uri(f"{emulator.base_url}/token")
    request = HttpxRequest()
    try:
        creds.refresh(request)
    finally:
        request.close()
    assert _models_status(emulator, creds.token) == 200


def test_access_token_is_cached_until_near_expiry(
    gcloud_dir: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _emulator_adc(emulator, monkeypatch, None)
    first = adc.access_token()
    assert _models_status(emulator, first) == 200
    assert adc.access_token() == first
    assert emulator.control.counters()["token.refresh_token"] == 1
    cached = sorted((gcloud_dir.parent / "home" / "adc-tokens").iterdir())
    assert [p.name for p in cached] == [f".{cached[1].name}.lock", cached[1].name]  # + its lock
    assert {stat.S_IMODE(p.stat().st_mode) for p in cached} == {0o600}
    assert adc.access_token(use_cache=False) != first
    clock = time.time() + 3600 - 200  # inside the 300 s margin: refresh again
    monkeypatch.setattr("gemini_oauth._clock.now", lambda: clock)
    adc.access_token()
    assert emulator.control.counters()["token.refresh_token"] == 3


def test_access_token_closes_the_http_client_it_made(
    gcloud_dir: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc
    import warnings

    _emulator_adc(emulator, monkeypatch, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert adc.access_token(use_cache=False)
        gc.collect()
    assert not [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_access_token_invalid_grant(
    gcloud_dir: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _emulator_adc(emulator, monkeypatch, None)
    info = json.loads(path.read_text())
    httpx.post(f"{emulator.base_url}/revoke", data={"token": info["refresh_token"]}, timeout=10)
    with pytest.raises(InvalidGrantError) as caught:
        adc.access_token()
    assert info["refresh_token"] not in str(caught.value)
    assert "adc login" in caught.value.hint


def test_revoke_then_delete(
    gcloud_dir: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _emulator_adc(emulator, monkeypatch, None)
    token = adc.access_token()
    adc.revoke()
    assert not path.exists()
    assert emulator.control.counters()["revoke"] == 1
    assert _models_status(emulator, token) == 401  # revoking the refresh token kills its tokens
    assert not list((gcloud_dir.parent / "home" / "adc-tokens").iterdir())


def test_revoke_of_an_already_dead_token_still_deletes(
    gcloud_dir: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _emulator_adc(emulator, monkeypatch, None)
    token = json.loads(path.read_text())["refresh_token"]
    assert httpx.post(f"{emulator.base_url}/revoke", data={"token": token}).is_success
    adc.revoke()  # the server answers 400 invalid_token: nothing left to keep
    assert not path.exists()
    assert emulator.control.counters()["revoke"] == 2


def test_revoke_server_error_keeps_file(
    gcloud_dir: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _emulator_adc(emulator, monkeypatch, None)
    before = path.read_bytes()
    emulator.control.add_fault("/revoke", 503)
    with pytest.raises(RevocationError, match="503"):
        adc.revoke()
    assert path.read_bytes() == before


def _revoke_as_a_process() -> subprocess.CompletedProcess[str]:
    """`gemini-oauth adc revoke --yes` as a user runs it (CLOUDSDK_* from the environment)."""
    script = str(Path(sys.executable).parent / "gemini-oauth")
    return subprocess.run(
        [script, "adc", "revoke", "--yes"], capture_output=True, text=True, timeout=60
    )


def test_revoke_refused_keeps_the_file_and_says_why(
    gcloud_dir: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 7009: only 200, or 400 invalid_token (already gone), means revoked. Another 400
    leaves the grant alive at the server, so the file stays and the server's reason is shown."""
    path = _emulator_adc(emulator, monkeypatch, None)
    before = path.read_bytes()
    token = json.loads(before)["refresh_token"]
    reason = {"error": "invalid_request", "error_description": "Unsupported token type"}
    emulator.control.add_fault("/revoke", 400, count=1, body=reason)
    done = _revoke_as_a_process()
    assert done.returncode != 0 and path.read_bytes() == before
    assert "invalid_request: Unsupported token type" in done.stderr
    assert "kept" in done.stderr and "Revoked" not in done.stdout + done.stderr
    assert emulator.state.live_grant(token) is not None  # the grant is indeed still alive
    gone = {"error": "invalid_token", "error_description": "Token expired or revoked"}
    emulator.control.add_fault("/revoke", 400, count=1, body=gone)
    done = _revoke_as_a_process()
    assert done.returncode == 0 and not path.exists(), done.stderr
    assert emulator.control.counters()["revoke"] == 0  # both answers were the injected ones


def test_service_account_key_via_environment(
    gcloud_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
    from cryptography.hazmat.primitives import serialization
    from google.oauth2 import service_account

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key = tmp_path / "sa.json"
    email = "robot@emulator-project.iam.gserviceaccount.com"
    key.write_text(json.dumps({
        "type": "service_account", "project_id": "emulator-project", "private_key_id": "k1",
        "private_key": pem.decode(), "client_email": email, "client_id": "42",
        "token_uri": "http://127.0.0.1:9/token",
    }))  # fmt: skip
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    creds, project = adc.default_credentials(["https://www.googleapis.com/auth/cloud-platform"])
    assert isinstance(creds, service_account.Credentials)
    assert creds.service_account_email == email and project == "emulator-project"
    assert creds.scopes == ["https://www.googleapis.com/auth/cloud-platform"]
    assert "quota project" not in caplog.text  # only user credentials need one
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    status = adc_status(path=key)
    assert (status.type, status.account, status.client_id) == ("service_account", email, "42")
    assert status.overridden_by is None and status.warnings == []


# --- login ----------------------------------------------------------------------------------


def test_login_writes_the_file_and_reports_it(
    gcloud_dir: Path, emulator: Any, client_secret_file: Path
) -> None:
    from gemini_oauth._useragent import HeadlessUserAgent

    path = adc.adc_path()
    path.parent.mkdir(parents=True)
    old = adc.adc_info(client_id="other", client_secret="s", refresh_token="old-refresh")
    path.write_text(adc.dumps_adc(old))
    out = io.StringIO()
    agent = HeadlessUserAgent()
    done = adc.login(
        client_secret_file, quota_project="quota-project-1", out=out, open_browser=agent
    )
    agent.join(timeout=10)
    assert (done.path, done.client_id, done.quota_project_id) == (
        str(path),
        CLIENT_ID,
        "quota-project-1",
    )
    assert set(GCLOUD_QUICKSTART_SCOPES) <= set(done.scopes)
    written = json.loads(path.read_text())
    assert written["quota_project_id"] == "quota-project-1" and written["client_id"] == CLIENT_ID
    said = out.getvalue()
    assert f"Using OAuth client {CLIENT_ID} from {client_secret_file}." in said
    assert "warning: Replacing ADC of another OAuth client (other)" in said
    assert written["refresh_token"] != "old-refresh" and written["refresh_token"] not in said


def test_login_errors_name_adc_login(
    gcloud_dir: Path, emulator: Any, client_secret_file: Path
) -> None:
    from gemini_oauth._useragent import HeadlessUserAgent
    from gemini_oauth.errors import ConsentDeniedError, ScopeNotGrantedError

    for agent, error in (
        (HeadlessUserAgent(action="deny"), ConsentDeniedError),
        (HeadlessUserAgent(untick=["cloud-platform"]), ScopeNotGrantedError),
    ):
        with pytest.raises(error) as info:
            adc.login(client_secret_file, out=io.StringIO(), open_browser=agent, timeout=20)
        agent.join(timeout=10)
        assert "'gemini-oauth adc login' again" in info.value.hint
    assert not adc.adc_path().exists()


def test_login_checks_the_quota_project_before_the_browser(
    gcloud_dir: Path, emulator: Any, client_secret_file: Path
) -> None:
    def no_browser_expected(url: str) -> bool:
        raise AssertionError("the browser opened")

    with pytest.raises(AdcError, match="not a Google Cloud project id"):
        adc.login(
            client_secret_file, quota_project="Not A Project!", open_browser=no_browser_expected
        )
    assert emulator.control.counters().get("auth", 0) == 0


# --- what a file may make us do (finding 9, 10) ----------------------------------------------

_EXTERNAL = {
    "type": "external_account",
    "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/"
    "providers/q",
    "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
    "token_url": "https://sts.googleapis.com/v1/token",
    "credential_source": {"url": "http://127.0.0.1:9/subject"},
}


def _adc_file(gcloud_dir: Path, content: Any) -> Path:
    path = adc.adc_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_other_types_load_only_when_allowed_by_name(
    gcloud_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _adc_file(gcloud_dir, _EXTERNAL)
    with pytest.raises(AdcError, match="of type 'external_account'") as info:
        adc.default_credentials()
    assert "GEMINI_OAUTH_ALLOW_ADC_TYPES=external_account" in info.value.hint
    monkeypatch.setenv("GEMINI_OAUTH_ALLOW_ADC_TYPES", "external_account")
    creds, _ = adc.default_credentials()  # loaded, not refreshed: nothing is fetched here
    assert type(creds).__module__ == "google.auth.identity_pool"


def test_an_impersonation_of_an_external_account_is_refused(gcloud_dir: Path) -> None:
    _adc_file(gcloud_dir, {
        "type": "impersonated_service_account",
        "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/x",
        "source_credentials": _EXTERNAL,
    })  # fmt: skip
    with pytest.raises(AdcError, match="of type 'external_account'"):
        adc.default_credentials()


def test_an_endpoint_in_clear_in_the_file_is_refused(gcloud_dir: Path) -> None:
    info = {"type": "authorized_user", "client_id": "c", "client_secret": "s",
            "refresh_token": "r", "token_uri": "http://example.com/token"}  # fmt: skip
    _adc_file(gcloud_dir, info)
    with pytest.raises(AdcError, match="token_uri that is not https://"):
        adc.default_credentials()


@pytest.mark.parametrize(
    ("content", "words"),
    [('"just a string"', "is not a JSON object"), ("[" * 100_000, "Cannot read")],
    ids=["string", "deep"],
)
def test_files_that_are_no_credentials_are_adc_errors(
    gcloud_dir: Path, content: str, words: str
) -> None:
    """Finding 10: a JSON string gave AttributeError, deep nesting RecursionError."""
    _adc_file(gcloud_dir, content)
    for call in (adc.default_credentials, adc_status, adc.access_token):
        with pytest.raises(AdcError, match=words):
            call()


def test_a_bad_quota_project_in_the_file_is_an_adc_error(gcloud_dir: Path) -> None:
    path = adc.write_adc(_Result("r-1", "ann@example.com"), _Client())
    info = json.loads(path.read_text())
    path.write_text(json.dumps({**info, "quota_project_id": "p\r\nX-Injected: yes"}))
    with pytest.raises(AdcError, match="is not a Google Cloud project id") as err:
        adc.default_credentials()
    assert str(path) in err.value.message and "adc set-quota-project" in err.value.hint
