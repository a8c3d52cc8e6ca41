"""`gemini-oauth adc ...` end to end: real files, the emulator over HTTP, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gemini_oauth import _adc as adc
from gemini_oauth._cli._root import run
from gemini_oauth.scopes import GCLOUD_QUICKSTART_SCOPES


@dataclass
class _Result:
    refresh_token: str
    account: str = ""


@pytest.fixture
def adc_file(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ADC file for a fresh emulator grant, with the token host pointed at the emulator."""
    grant = emulator.control.issue_grant(list(GCLOUD_QUICKSTART_SCOPES))
    monkeypatch.setenv(adc.TOKEN_HOST_ENV, f"{emulator.base_url}/token")

    @dataclass
    class Client:
        client_id: str = emulator.client_id
        client_secret: str = emulator.client_secret

    return adc.write_adc(_Result(grant["refresh_token"]), Client())


def _login(emulator: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BROWSER": f"{sys.executable} -m gemini_oauth._useragent %s",
        adc.TOKEN_HOST_ENV: f"{emulator.base_url}/token",
    }
    return subprocess.run(
        [sys.executable, "-m", "gemini_oauth", "adc", "login", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_login_writes_gcloud_format(emulator: Any, client_secret_file: Path) -> None:
    proc = _login(
        emulator, "--client-secret", str(client_secret_file), "--quota-project",
        emulator.project_id, "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    path = adc.adc_path()
    assert f"Credentials saved to file: [{path}]" in proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["path"] == str(path) and summary["quota_project_id"] == emulator.project_id
    assert set(GCLOUD_QUICKSTART_SCOPES) <= set(summary["scopes"])
    info = json.loads(path.read_text())
    assert sorted(info) == [
        "account", "client_id", "client_secret", "quota_project_id", "refresh_token", "type",
        "universe_domain",
    ]  # fmt: skip
    assert info["client_id"] == emulator.client_id
    assert path.read_text() == adc.dumps_adc(info)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert info["refresh_token"] not in proc.stderr + proc.stdout
    assert emulator.control.counters()["token.authorization_code"] == 1


def test_login_warns_before_replacing_another_clients_adc(
    emulator: Any, client_secret_file: Path
) -> None:
    path = adc.adc_path()
    path.parent.mkdir(parents=True)
    other = adc.adc_info(
        client_id="other.apps.googleusercontent.com",
        client_secret="x",
        refresh_token="other-refresh",
    )
    path.write_text(adc.dumps_adc(other))
    proc = _login(emulator, "--client-secret", str(client_secret_file))
    assert proc.returncode == 0, proc.stderr
    assert "warning: Replacing ADC of another OAuth client (other.apps" in proc.stderr
    assert "other-refresh" not in proc.stderr
    assert json.loads(path.read_text())["client_id"] == emulator.client_id


def _headless_login(
    emulator: Any, client_secret_file: Path, stdin: int | None
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BROWSER", "DISPLAY")}
    return subprocess.Popen(
        [sys.executable, "-m", "gemini_oauth", "adc", "login", "--no-browser",
         "--client-secret", str(client_secret_file)],
        env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_login_no_browser_paste_after_an_empty_line(
    emulator: Any, client_secret_file: Path
) -> None:
    from gemini_oauth._useragent import approve

    proc = _headless_login(emulator, client_secret_file, subprocess.PIPE)
    try:
        assert proc.stderr is not None
        url = ""
        for _ in range(30):
            line = proc.stderr.readline()
            if line.startswith("    http://"):
                url = line.strip()
                break
        assert url.startswith(emulator.base_url)
        _, err = proc.communicate("\n" + approve(url, follow_redirect=False) + "\n", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "(2 left)" in err  # the empty line used one of the bounded attempts
    assert json.loads(adc.adc_path().read_text())["client_id"] == emulator.client_id


def test_login_no_browser_end_of_input_keeps_the_old_file(
    emulator: Any, client_secret_file: Path
) -> None:
    path = adc.adc_path()
    path.parent.mkdir(parents=True)
    path.write_text(
        adc.dumps_adc(adc.adc_info(client_id="c", client_secret="s", refresh_token="r"))
    )
    before = path.read_bytes()
    proc = _headless_login(emulator, client_secret_file, subprocess.DEVNULL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert "error: No address was pasted (end of input)." in err
    assert "gemini-oauth adc login" in err and "Aborted" not in err
    assert path.read_bytes() == before


def test_login_requires_cloud_platform(
    emulator: Any, client_secret_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        [
            "adc",
            "login",
            "--client-secret",
            str(client_secret_file),
            "--scopes",
            "generative-language.retriever",
        ]
    )
    assert code == 2
    assert "cloud-platform is required" in capsys.readouterr().err
    assert not adc.adc_path().exists()
    assert emulator.control.counters().get("token.authorization_code", 0) == 0


def test_print_access_token(
    emulator: Any, adc_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["adc", "print-access-token"]) == 0
    token = capsys.readouterr().out.strip()
    response = httpx.get(
        f"{emulator.base_url}/v1/models", headers={"authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200
    assert run(["adc", "print-access-token"]) == 0
    assert capsys.readouterr().out.strip() == token  # served from our cache
    assert run(["adc", "print-access-token", "--no-cache"]) == 0
    assert capsys.readouterr().out.strip() != token
    assert emulator.control.counters()["token.refresh_token"] == 2


def test_print_access_token_without_adc(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["adc", "print-access-token"]) == 3
    err = capsys.readouterr().err
    assert "error: No usable Application Default Credentials" in err
    assert "adc login" in err


def test_set_quota_project(adc_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = json.loads(adc_file.read_text())
    assert run(["adc", "set-quota-project", "emulator-project"]) == 0
    after = json.loads(adc_file.read_text())
    assert after == {**before, "quota_project_id": "emulator-project"}
    assert "emulator-project" in capsys.readouterr().err


def test_set_quota_project_bad_id(adc_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = adc_file.read_bytes()
    assert run(["adc", "set-quota-project", "Not A Project!"]) == 2
    assert "not a project id" in capsys.readouterr().err
    assert adc_file.read_bytes() == before


def test_set_quota_project_without_adc(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["adc", "set-quota-project", "emulator-project"]) == 3
    err = capsys.readouterr().err
    assert "error: No Application Default Credentials at" in err
    assert "gemini-oauth adc login" in err
    assert not adc.adc_path().exists()


@pytest.mark.parametrize("client_file_found", [True, False])
def test_without_adc_the_hint_is_a_command_that_runs_from_here(
    client_file_found: bool,
    client_secret_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The hint names the client file only when `adc login` would not find one, and never a
    made-up 'client_secret.json' that pasting would then look for in vain; `--adc` asked for
    ADC, so the message is about ADC alone."""
    elsewhere = tmp_path / "elsewhere"  # no client_secret*.json here
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    if client_file_found:
        monkeypatch.setenv("GEMINI_OAUTH_CLIENT_SECRET", str(client_secret_file))
    else:
        monkeypatch.delenv("GEMINI_OAUTH_CLIENT_SECRET", raising=False)
    expected = (
        "Run 'gemini-oauth adc login'"
        if client_file_found
        else "Run 'gemini-oauth adc login --client-secret PATH/TO/client_secret.json'"
    )
    for command in (["adc", "set-quota-project", "emulator-project"], ["models", "list", "--adc"]):
        assert run(command) == 3
        message, hint = capsys.readouterr().err.splitlines()
        assert message.startswith("error: No "), message
        assert "Application Default Credentials" in message and "profile" not in message
        assert hint.strip().startswith(expected), hint


def test_revoke_server_error_keeps_file(
    emulator: Any, adc_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = adc_file.read_bytes()
    emulator.control.add_fault("/revoke", 503)
    assert run(["adc", "revoke", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "503" in err and "kept" in err
    assert adc_file.read_bytes() == before
    assert run(["adc", "revoke", "--yes"]) == 0
    assert not adc_file.exists()
    assert run(["adc", "revoke", "--yes"]) == 3  # nothing left to revoke


def test_revoke_asks_unless_yes(adc_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["adc", "revoke"]) == 2  # stdin is not a terminal under pytest
    assert "--yes" in capsys.readouterr().err
    assert adc_file.exists()


def test_status(
    adc_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["adc", "status"]) == 0
    out, err = capsys.readouterr()
    assert str(adc_file) in out and "authorized_user" in out
    assert out.count(str(adc_file)) == 1  # the source is the file: said once
    assert "set-quota-project" in err
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/somewhere/else.json")
    assert run(["adc", "status", "--json"]) == 1  # libraries fail on the missing file: fix it
    shown = json.loads(capsys.readouterr().out)
    assert shown["overridden_by"] == "/somewhere/else.json" and shown["source"] is None
    assert shown["path"] == str(adc_file) and shown["exists"] is True
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    adc_file.unlink()
    assert run(["adc", "status", "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["exists"] is False


# ---------------------------------------------------------------- what ADC may make us do


def _adc_process(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gemini_oauth", "adc", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_external_account_file_is_not_loaded_unless_allowed(tmp_path: Path, trap: Any) -> None:
    """Finding 9: an external_account file POSTed a local file's content to its token_url."""
    local = tmp_path / "local-secret.txt"
    local.write_text("local-file-content-that-must-stay-here")
    external = {
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/"
        "providers/q",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": f"{trap.url}/token",
        "credential_source": {"file": str(local)},
    }
    path = tmp_path / "external.json"
    path.write_text(json.dumps(external))
    done = _adc_process("print-access-token", GOOGLE_APPLICATION_CREDENTIALS=str(path))
    assert trap.seen == []
    assert (done.returncode, done.stdout) == (3, ""), done.stderr
    assert f"The credentials at {path} are of type 'external_account'" in done.stderr
    assert "read a local file, run a command or fetch a URL" in done.stderr
    assert "GEMINI_OAUTH_ALLOW_ADC_TYPES=external_account" in done.stderr


def test_a_token_host_in_clear_on_another_machine_is_refused(emulator: Any, adc_file: Path) -> None:
    """Finding 9: CLOUDSDK_AUTH_TOKEN_HOST on plain http sent the refresh token in clear."""
    from conftest import Trap

    elsewhere = Trap("127.0.0.2")  # not this machine's 127.0.0.1: stands for another host
    try:
        done = _adc_process(
            "print-access-token", "--no-cache", CLOUDSDK_AUTH_TOKEN_HOST=elsewhere.url + "/token"
        )
    finally:
        elsewhere.server.shutdown()
        elsewhere.server.server_close()
    assert elsewhere.seen == []
    assert (done.returncode, done.stdout) == (3, ""), done.stderr
    assert "$CLOUDSDK_AUTH_TOKEN_HOST" in done.stderr and "clear text" in done.stderr


def test_a_dead_adc_grant_names_the_login_that_keeps_its_quota_project(
    emulator: Any, client_secret_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command in the message, pasted into a shell, writes ADC with the same quota project
    (a plain 'adc login' would drop it)."""
    monkeypatch.setenv("GEMINI_OAUTH_CLIENT_SECRET", str(client_secret_file))
    assert _login(emulator, "--quota-project", emulator.project_id).returncode == 0
    refresh_token = json.loads(adc.adc_path().read_text())["refresh_token"]
    httpx.post(f"{emulator.base_url}/revoke", data={"token": refresh_token}, timeout=10)
    env = {
        **os.environ,
        "BROWSER": f"{sys.executable} -m gemini_oauth._useragent %s",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        adc.TOKEN_HOST_ENV: f"{emulator.base_url}/token",
    }
    dead = subprocess.run(
        [sys.executable, "-m", "gemini_oauth", "adc", "print-access-token", "--no-cache"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert dead.returncode == 3, dead.stderr
    command = dead.stderr.split("Run '")[1].split("'")[0]
    assert command == f"gemini-oauth adc login --quota-project {emulator.project_id}"
    pasted = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert pasted.returncode == 0, pasted.stderr
    assert json.loads(adc.adc_path().read_text())["quota_project_id"] == emulator.project_id


def test_no_quota_project_is_one_warning_in_our_voice(emulator: Any, adc_file: Path) -> None:
    """Library warnings that no handler takes are said as the CLI says its own, once."""
    done = subprocess.run(
        [sys.executable, "-m", "gemini_oauth", "models", "list", "--adc", "--limit", "1"],
        env={**os.environ, "GOOGLE_GEMINI_BASE_URL": emulator.base_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "quota project" in line]
    assert said == [
        "warning: No quota project in the ADC file (Google bills the project that owns the OAuth "
        "client). Run 'gemini-oauth adc set-quota-project PROJECT_ID'."
    ], done.stderr


def test_processes_without_a_cached_token_refresh_once(
    emulator: Any, adc_file: Path, held_waits: Any, tmp_path: Path
) -> None:
    """The ADC access-token cache is the token store's rule: the first process refreshes under
    its lock, one that comes meanwhile waits and takes its token (one refresh, not one each)."""
    emulator.control.add_fault("/token", count=None, latency=1.0)  # each refresh held here

    def start(name: str) -> tuple[subprocess.Popen[str], Path]:
        log = tmp_path / f"{name}.err"
        with log.open("w") as err:
            command = [sys.executable, "-m", "gemini_oauth", "-v", "adc", "print-access-token"]
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
        return proc, log

    first, _ = start("first")
    assert held_waits.started(1)  # the first is refreshing, held
    second, second_log = start("second")
    for _ in range(1200):  # until the second queues for the lock, or (unlocked) refreshes too
        if len(held_waits.requested) > 1 or "token cache lock" in second_log.read_text():
            break
        assert second.poll() is None, second_log.read_text()
        time.sleep(0.025)
    else:
        pytest.fail("the second process neither refreshed nor waited for the lock")
    held_waits.release(2)
    outputs = [proc.communicate(timeout=60)[0].strip() for proc in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], second_log.read_text()
    assert outputs[0] == outputs[1] and outputs[0].startswith("ya29.")
    assert emulator.control.counters()["token.refresh_token"] == 1
    assert len(held_waits.requested) == 1
