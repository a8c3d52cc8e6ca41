"""A user's first week, as real processes against the emulator: every failure names its cause and
a command that works when pasted, exits with the code the README promises, and keeps the set-up.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from gemini_oauth._clock import rfc3339_to_epoch
from gemini_oauth.emulator import Emulator

from .weekone import DAY, SCRIPT, environment, expire_access_token, gemini, profile_data, ua

QUOTA = "emulator-project"


@pytest.fixture
def downloaded(emulator: Emulator, tmp_path: Path) -> Path:
    """The client file where a browser saves it: not where the file search looks."""
    return emulator.write_client_secret(tmp_path / "Downloads" / "client_secret_1000-abc.json")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The user's working folder: no client_secret.json in it."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def login_work(downloaded: Path, project: Path, *more: str) -> None:
    args = ["login", "--profile", "work", "--client-secret", str(downloaded), *more]
    done = gemini(*args, "--force", cwd=project, browser=ua())
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------- the week-one story


@pytest.mark.slow
def test_week_one_story(emulator: Emulator, downloaded: Path, project: Path) -> None:
    """login --profile work --quota-project P; 8 days pass; generate fails naming Testing and
    --profile work (exit 3); login --profile work with no other flag; the quota project is P."""
    login_work(downloaded, project, "--quota-project", QUOTA)
    before = profile_data("work")
    emulator.control.advance_clock(8 * DAY)

    failed = gemini("generate", "--profile", "work", "--endpoint", emulator.base_url, "hi",
                    cwd=project)  # fmt: skip
    assert failed.returncode == 3, failed.stderr
    assert "Testing status" in failed.stderr and "8.0 days old" in failed.stderr
    assert "'gemini-oauth login --profile work'" in failed.stderr
    assert "was revoked" not in failed.stderr and "Publish app" in failed.stderr

    status = gemini("status", "--profile", "work", cwd=project)
    assert status.returncode == 3
    assert "Login needed (profile work)" in status.stderr and QUOTA in status.stderr
    assert "gemini-oauth login --profile work" in status.stderr
    shown = json.loads(gemini("status", "--profile", "work", "--json", cwd=project).stdout)
    assert shown["logged_in"] is False and shown["quota_project"] == QUOTA
    assert shown["login_command"] == "gemini-oauth login --profile work"
    assert "7 days" in shown["login_needed"]

    again = gemini("login", "--profile", "work", cwd=project, browser=ua())
    assert again.returncode == 0, again.stderr
    assert "saved set-up of profile 'work'" in again.stderr and str(downloaded) in again.stderr
    status = gemini("status", "--profile", "work", "--json", cwd=project)
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["logged_in"] is True and shown["quota_project"] == QUOTA
    assert shown["scopes"] == before["scopes"] and shown["account"] == before["account"]
    issued = rfc3339_to_epoch(profile_data("work")["refresh_token_issued"])
    assert abs(issued - emulator.state.now()) < 120  # on Google's clock: 0 days old, not 8
    works = gemini("generate", "--profile", "work", "--endpoint", emulator.base_url, "hi",
                   cwd=project)  # fmt: skip
    assert works.returncode == 0 and "Emulated reply" in works.stdout, works.stderr


# ---------------------------------------------------------------- causes, commands, exit codes


def test_revocation_is_told_from_the_testing_expiry(
    emulator: Emulator, downloaded: Path, project: Path
) -> None:
    login_work(downloaded, project)
    gemini("logout", "--profile", "work", "--yes", cwd=project)  # revoked at Google...
    login_work(downloaded, project)
    data = profile_data("work")
    emulator.state.revoke_grant(emulator.state.grants[  # ...and now by "another tool"
        emulator.state.refresh_tokens[data["refresh_token"]]
    ].id)  # fmt: skip
    expire_access_token("work")
    done = gemini("print-access-token", "--profile", "work", cwd=project)
    assert done.returncode == 3 and done.stdout == ""
    assert "was revoked or has expired" in done.stderr
    assert "not the 7-day Testing limit" in done.stderr
    assert "https://myaccount.google.com/permissions" in done.stderr
    assert "'gemini-oauth login --profile work'" in done.stderr
    assert data["refresh_token"] not in done.stderr


def test_workspace_reauthentication_is_said_and_never_retried(
    emulator: Emulator, downloaded: Path, project: Path
) -> None:
    emulator.control.require_reauth(after=3600)
    login_work(downloaded, project)
    emulator.control.advance_clock(2 * 3600)  # the cached token expired at Google, and the session
    refreshes = emulator.control.counters()["token.refresh_token"]
    done = gemini("generate", "--profile", "work", "--endpoint", emulator.base_url, "hi",
                  cwd=project)  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "requires signing in again every few hours" in done.stderr
    assert "Cloud Platform scopes" in done.stderr and "trying again will not help" in done.stderr
    assert "administrator can exempt this app" in done.stderr
    assert "'gemini-oauth login --profile work'" in done.stderr and "7 days" not in done.stderr
    assert emulator.control.counters()["token.refresh_token"] == refreshes + 1  # not retried
    assert profile_data("work")["refresh_token"]  # the grant lives: nothing was removed


def test_deleted_client_points_to_the_console_and_a_new_client_file(
    emulator: Emulator, downloaded: Path, project: Path
) -> None:
    login_work(downloaded, project)
    emulator.control.delete_client(emulator.client_id)
    expire_access_token("work")
    done = gemini("print-access-token", "--profile", "work", cwd=project)
    assert done.returncode == 2, done.stderr  # the client file, not a login, is what is missing
    assert "was deleted" in done.stderr and "restore it within 30 days" in done.stderr
    assert "gemini-oauth login --profile work --client-secret" in done.stderr
    assert profile_data("work")["refresh_token"]  # kept: restoring the client revives it
    emulator.control.restore_client(emulator.client_id)
    assert gemini("print-access-token", "--profile", "work", cwd=project).returncode == 0


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ({"status": 503, "retry_after": 60}, "temporarily_unavailable"),  # Retry-After: no wait
        ({"drop": True}, "Could not reach the token endpoint"),
    ],
    ids=["503", "unreachable"],
)
def test_token_endpoint_outages_say_try_again_and_keep_everything(
    emulator: Emulator, downloaded: Path, project: Path, fault: dict[str, object], said: str
) -> None:
    login_work(downloaded, project)
    adc = gemini("adc", "login", "--client-secret", str(downloaded), cwd=project, browser=ua())
    assert adc.returncode == 0, adc.stderr
    expire_access_token("work")
    before = profile_data("work")
    emulator.control.add_fault("/token", count=None, **fault)  # type: ignore[arg-type]

    token = gemini("print-access-token", "--profile", "work", cwd=project)
    assert token.returncode == 1, token.stderr  # not "login needed"
    assert said in token.stderr and "try again" in token.stderr.lower()
    assert f"{emulator.base_url}/token" in token.stderr  # what was tried
    assert "sign in again" not in token.stderr.lower()
    api = gemini("generate", "--profile", "work", "--endpoint", emulator.base_url, "hi",
                 cwd=project)  # fmt: skip
    assert api.returncode == 4, api.stderr  # during an API call: as an unreachable API
    assert profile_data("work") == before  # nothing was lost
    for command in (["adc", "print-access-token", "--no-cache"],
                    ["models", "list", "--adc", "--endpoint", emulator.base_url]):  # fmt: skip
        done = gemini(*command, cwd=project, CLOUDSDK_AUTH_TOKEN_HOST=f"{emulator.base_url}/token")
        assert done.returncode == (1 if command[0] == "adc" else 4), done.stderr
        assert "Application Default Credentials" in done.stderr and said in done.stderr
        assert "adc login" not in done.stderr and "sign in again" not in done.stderr.lower()


@pytest.mark.parametrize(
    ("scopes", "browser", "said"),
    [
        ("openid,email", ua(), "Sign in again with a scope this method accepts"),
        ("openid,email,cloud-platform", ua("--deny"), "Access was denied"),
        ("openid,email,cloud-platform", ua("--untick", "cloud-platform"), "did not grant"),
    ],
    ids=["scope-insufficient", "denied", "unticked"],
)
def test_hints_carry_the_profile(
    emulator: Emulator,
    downloaded: Path,
    project: Path,
    scopes: str,
    browser: str,
    said: str,
) -> None:
    args = ["login", "--profile", "work", "--client-secret", str(downloaded), "--scopes", scopes]
    done = gemini(*args, cwd=project, browser=browser)
    if done.returncode == 0:  # logged in, but for a call it cannot make
        done = gemini("generate", "--profile", "work", "--endpoint", emulator.base_url, "hi",
                      cwd=project)  # fmt: skip
    assert done.returncode in (3, 4) and said in done.stderr, done.stderr
    hint = done.stderr.split("\n  ")[-1]
    assert "gemini-oauth login --profile work" in hint, done.stderr


def test_service_account_key_given_as_the_client_file_is_recognised(
    emulator: Emulator, project: Path
) -> None:
    key = project / "sa-key.json"
    key.write_text(json.dumps(emulator.control.create_service_account()))
    done = gemini("login", "--client-secret", str(key), cwd=project, browser=ua())
    assert done.returncode == 2
    assert "is a service-account key" in done.stderr and "needs no sign-in" in done.stderr
    command = f"GOOGLE_APPLICATION_CREDENTIALS={key} gemini-oauth models list --adc"
    assert command in done.stderr
    pasted = gemini("models", "list", "--adc", "--endpoint", emulator.base_url, cwd=project,
                    GOOGLE_APPLICATION_CREDENTIALS=str(key))  # fmt: skip
    assert pasted.returncode == 0 and "gemini-2.5-flash" in pasted.stdout, pasted.stderr


# ---------------------------------------------------------------- scopes, before the browser


def test_unknown_scopes_are_a_usage_error_before_any_browser(
    emulator: Emulator, downloaded: Path, project: Path, tmp_path: Path
) -> None:
    opened = tmp_path / "browser-was-opened"
    browser = f"touch {opened} %s"
    for scopes, said in (("foo", "Unknown scope 'foo'."), ("cloud_platform", "'cloud-platform'?")):
        done = gemini("login", "--client-secret", str(downloaded), "--scopes", scopes,
                      cwd=project, browser=browser)  # fmt: skip
        assert done.returncode == 2 and said in done.stderr, done.stderr
        assert "cloud-platform" in done.stderr and "retriever" in done.stderr  # the known names
    assert not opened.exists() and emulator.control.counters()["auth"] == 0
    full = "https://www.googleapis.com/auth/cloud-platform,openid"
    done = gemini("login", "--client-secret", str(downloaded), "--scopes", full, cwd=project,
                  browser=ua())  # fmt: skip
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr


def test_scopes_that_cannot_call_gemini_get_a_warning_naming_what_they_need(
    downloaded: Path, project: Path
) -> None:
    done = gemini("login", "--profile", "id", "--client-secret", str(downloaded),
                  "--scopes", "openid,email", cwd=project, browser=ua())  # fmt: skip
    assert done.returncode == 0, done.stderr
    warning = next(line for line in done.stderr.splitlines() if line.startswith("warning:"))
    assert "none of these scopes lets you call the Gemini API" in warning
    assert "cloud-platform or generative-language.retriever" in warning
    assert (
        "gemini-oauth login --profile id --scopes openid,userinfo.email,cloud-platform" in warning
    )


# ---------------------------------------------------------------- logging in again


def _on_a_terminal(args: list[str], project: Path, answer: str) -> tuple[int, str]:
    """Run with stdin on a pseudo-terminal (so it may ask) and answer the question."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [SCRIPT, *args],
            cwd=project,
            env=environment(BROWSER=ua()),
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(follower)
        os.write(leader, answer.encode() + b"\n")
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(leader)
    return proc.returncode, err


@pytest.mark.slow
def test_logging_in_again_asks_on_a_terminal_and_keeps_the_new_sign_in_alive(
    emulator: Emulator, downloaded: Path, project: Path
) -> None:
    """The same account to the same client: the replaced refresh token is not revoked, since
    Google (and the emulator) would end the new one with it."""
    login_work(downloaded, project, "--quota-project", QUOTA)
    first = profile_data("work")["refresh_token"]
    code, err = _on_a_terminal(["login", "--profile", "work"], project, "n")
    assert code == 0 and "is logged in as tester@example.com; sign in again?" in err, err
    assert "Nothing changed" in err and "--force" in err
    assert profile_data("work")["refresh_token"] == first
    assert emulator.control.counters()["token.authorization_code"] == 1

    code, err = _on_a_terminal(["login", "--profile", "work"], project, "y")
    assert code == 0, err
    second = profile_data("work")["refresh_token"]
    assert second != first and profile_data("work")["quota_project_id"] == QUOTA
    assert "Revoked" not in err and emulator.control.counters().get("revoke", 0) == 0
    assert emulator.state.live_grant(second) is not None

    done = gemini("login", "--profile", "work", "--force", cwd=project, browser=ua())
    assert done.returncode == 0 and "sign in again?" not in done.stderr
    third = profile_data("work")["refresh_token"]
    assert emulator.state.live_grant(third) is not None
    expire_access_token("work")
    refreshed = gemini("print-access-token", "--profile", "work", cwd=project)
    assert refreshed.returncode == 0 and refreshed.stdout.startswith("ya29.emu."), refreshed.stderr
    plain = gemini("login", "--profile", "work", cwd=project, browser=ua())  # no terminal
    assert plain.returncode == 0 and "signing in again replaces that login" in plain.stderr


@pytest.fixture
def other_client(emulator: Emulator, tmp_path: Path) -> Path:
    """A second Desktop client of the same project, as a second downloaded file."""
    client_id = "1000000000001-second.apps.googleusercontent.com"
    emulator.control.add_client(client_id, "second-client-secret")
    info = emulator.client_secret_json()
    info["installed"].update(client_id=client_id, client_secret="second-client-secret")
    path = tmp_path / "Downloads" / "client_secret_second.json"
    path.write_text(json.dumps(info))
    path.chmod(0o600)
    return path


def test_a_login_that_replaces_another_clients_grant_revokes_it(
    emulator: Emulator, downloaded: Path, project: Path, other_client: Path
) -> None:
    login_work(downloaded, project)
    first = profile_data("work")["refresh_token"]
    done = gemini("login", "--profile", "work", "--client-secret", str(other_client), "--force",
                  cwd=project, browser=ua())  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Revoked the sign-in this one replaced." in done.stderr
    second = profile_data("work")["refresh_token"]
    assert emulator.state.live_grant(first) is None
    assert emulator.state.live_grant(second) is not None


def test_a_replaced_grant_that_cannot_be_revoked_is_a_warning(
    emulator: Emulator, downloaded: Path, project: Path, other_client: Path
) -> None:
    login_work(downloaded, project)
    first = profile_data("work")["refresh_token"]
    emulator.control.add_fault("/revoke", 503, count=None)
    done = gemini("login", "--profile", "work", "--client-secret", str(other_client), "--force",
                  cwd=project, browser=ua())  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "warning: the sign-in this one replaced could not be revoked" in done.stderr
    assert "https://myaccount.google.com/permissions" in done.stderr
    assert emulator.state.live_grant(first) is not None and first not in done.stderr


def test_logout_names_the_other_logins_google_ends_with_it(
    emulator: Emulator, downloaded: Path, project: Path
) -> None:
    login_work(downloaded, project)
    for name in ("home", "default"):
        done = gemini("login", "--profile", name, "--client-secret", str(downloaded), "--force",
                      cwd=project, browser=ua())  # fmt: skip
        assert done.returncode == 0, done.stderr
    done = gemini("logout", "--profile", "work", "--yes", cwd=project)
    assert done.returncode == 0, done.stderr
    note = next(line for line in done.stderr.splitlines() if line.startswith("note:"))
    assert "tester@example.com" in note
    assert "profile default and profile home will need a new login" in note
    expire_access_token("home")
    dead = gemini("print-access-token", "--profile", "home", cwd=project)
    assert dead.returncode == 3 and "gemini-oauth login --profile home" in dead.stderr


def test_no_refresh_token_asks_once_more_with_the_consent_screen(
    emulator: Emulator, downloaded: Path, project: Path
) -> None:
    """Google omits the refresh token when it skipped its consent screen: the login asks again
    with prompt=consent before sending the user to remove the app's access by hand."""
    auth = "https://www.googleapis.com/auth/"
    scope = f"openid {auth}userinfo.email {auth}cloud-platform {auth}generative-language.retriever"
    without = {"access_token": "ya29.emu.none", "expires_in": 3599, "token_type": "Bearer",
               "scope": scope}  # fmt: skip
    emulator.control.add_fault("/token", 200, count=1, body=without)
    args = ["login", "--profile", "work", "--client-secret", str(downloaded)]
    done = gemini(*args, cwd=project, browser=ua())
    assert done.returncode == 0, done.stderr
    assert "Google sent no refresh token" in done.stderr
    urls = [line for line in done.stderr.splitlines() if line.startswith("    http")]
    assert len(urls) == 2 and "prompt=consent" not in urls[0] and "prompt=consent" in urls[1]
    assert profile_data("work")["refresh_token"].startswith("1//emu.")

    emulator.control.add_fault("/token", 200, count=2, body=without)
    other = gemini(*args[:2], "again", *args[3:], cwd=project, browser=ua())
    assert other.returncode == 3
    assert "even with its consent screen shown" in other.stderr
    assert "https://myaccount.google.com/permissions" in other.stderr
    assert "gemini-oauth login --profile again" in other.stderr


def test_logout_of_a_profile_whose_sign_in_ended(
    emulator: Emulator, downloaded: Path, project: Path
) -> None:
    login_work(downloaded, project)
    emulator.control.advance_clock(8 * DAY)
    expire_access_token("work")
    assert gemini("print-access-token", "--profile", "work", cwd=project).returncode == 3
    done = gemini("logout", "--profile", "work", "--yes", cwd=project)
    assert done.returncode == 0 and "no live sign-in" in done.stderr, done.stderr
    assert gemini("status", "--profile", "work", cwd=project).stderr.startswith("X Not logged in")
