"""``gemini-oauth emulator`` as a real subprocess: URL line, client file, state file, SIGTERM."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

HTTP = httpx.Client(timeout=10)
CLOUD = "https://www.googleapis.com/auth/cloud-platform"


@contextmanager
def running(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start the command, read its URL from the first export line, stop it with SIGTERM."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gemini_oauth", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "the emulator printed no export line within 30 s"
        first = proc.stdout.readline().strip()
        assert first.startswith("export GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:"), first
        yield proc, first.split("=", 1)[1]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def test_cli_serves_and_writes_the_client_file(tmp_path: Path) -> None:
    client_file = tmp_path / "client_secret.json"
    with running("--port", "0", "--write-client-secret", str(client_file)) as (proc, url):
        assert url.startswith("http://127.0.0.1:")
        config = HTTP.get(f"{url}/.well-known/openid-configuration").json()
        assert config["issuer"] == url
        installed = json.loads(client_file.read_text())["installed"]
        assert installed["token_uri"] == f"{url}/token"
        assert stat.S_IMODE(client_file.stat().st_mode) == 0o600
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    assert proc.stderr is not None and "Emulator stopped." in proc.stderr.read()


def test_cli_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with running("--state", str(state)) as (_, url):
        grant = HTTP.post(f"{url}/__emulator__/grants", json={"scopes": [CLOUD]}).json()
    with running("--state", str(state)) as (_, url):
        info = HTTP.get(f"{url}/tokeninfo", params={"access_token": grant["access_token"]})
        assert info.status_code == 200 and info.json()["scope"] == CLOUD


def test_cli_corrupt_state_is_a_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("[]")
    result = subprocess.run(
        [sys.executable, "-m", "gemini_oauth", "emulator", "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert "not a readable emulator state file" in result.stderr and "--state" in result.stderr
    assert state.read_text() == "[]"  # left as it was


def test_cli_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "gemini_oauth", "emulator", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1 and f"127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr and "Traceback" not in result.stderr


def test_cli_without_the_extra_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['flask'] = None\n"
        "from gemini_oauth._cli import main; main(['emulator'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode != 0
    assert "pip install 'authlib>=1.7.1' 'flask>=3.0'" in result.stderr  # not an index name
    assert "gemini-oauth[" not in result.stderr and "pip install -e '.[emulator]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_unwritable_paths_are_clear_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for flag in ("--state", "--write-client-secret"):
        result = subprocess.run(
            [sys.executable, "-m", "gemini_oauth", "emulator", flag, str(blocker / "x.json")],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 1 and result.stdout == "", result.stderr
        assert result.stderr.startswith("error: Cannot write") and flag in result.stderr
        assert "Traceback" not in result.stderr and "bug" not in result.stderr


@pytest.mark.slow
def test_cli_prints_the_exports_and_offers_them_to_eval(tmp_path: Path) -> None:
    """stdout is export lines only; another shell evals --print-env's and the CLI, gcloud's
    token host, the quota-project check and the client file all reach the emulator, in a home
    of the emulator's own, removed when it stops."""
    home = Path(os.environ["GEMINI_OAUTH_HOME"])
    with running("--port", "0") as (proc, url):
        assert proc.stdout is not None
        port = url.rsplit(":", 1)[1]
        folder = home / "emulators" / port
        env_file = folder / "env"
        lines = env_file.read_text().splitlines()
        assert all(line.startswith("export ") for line in lines)
        names = [line.split("=", 1)[0].removeprefix("export ") for line in lines]
        assert names == [
            "GOOGLE_GEMINI_BASE_URL",
            "CLOUDSDK_AUTH_TOKEN_HOST",
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER",
            "GEMINI_OAUTH_CLIENT_SECRET",
            "GEMINI_OAUTH_HOME",
            "CLOUDSDK_CONFIG",
            "BROWSER",
        ]
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        script = (
            f'eval "$(gemini-oauth emulator --print-env --port {port})" && '
            "gemini-oauth login >/dev/null 2>&1 && "
            "gemini-oauth models list --limit 1 && "
            "gemini-oauth adc login >/dev/null 2>&1 && "
            "gemini-oauth adc set-quota-project emulator-project && "
            'eval "$(gemini-oauth emulator --print-env --port ' + port + ')" && '
            'echo "home=$GEMINI_OAUTH_HOME"'
        )
        shell = subprocess.run(
            ["bash", "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        )
        assert shell.returncode == 0, shell.stderr
        assert shell.stdout.startswith("gemini-2.5-pro\t")
        assert f"home={folder / 'home'}" in shell.stdout  # found again from the emulator's home
        assert "Quota project 'emulator-project' written" in shell.stderr
        assert (folder / "home" / "profiles" / "default.json").exists()
        assert not (home / "profiles" / "default.json").exists()  # the user's own: untouched
    assert proc.stderr is not None
    said = proc.stderr.read()
    assert f'eval "$(gemini-oauth emulator --print-env --port {port})"' in said
    assert "/__emulator__/" in said
    assert not folder.exists()


def test_cli_print_env_without_an_emulator_is_a_clear_error() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = str(closed.getsockname()[1])
    result = subprocess.run(
        [sys.executable, "-m", "gemini_oauth", "emulator", "--print-env", "--port", port],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert f"No emulator of yours is running on port {port}" in result.stderr
    assert f"gemini-oauth emulator --port {port}" in result.stderr
    unnamed = subprocess.run(
        [sys.executable, "-m", "gemini_oauth", "emulator", "--print-env"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert unnamed.returncode == 2 and "--port" in unnamed.stderr


def test_print_env_never_points_a_shell_at_another_users_server(
    other_user: tuple[int, str],
) -> None:
    """An emulator killed with SIGKILL leaves its export lines; another uid that then listens on
    its port would receive the logins, prompts and quota-project checks of every shell that
    evals them. --print-env names only a port this user's program listens on."""
    uid, python = other_user
    home = Path(os.environ["GEMINI_OAUTH_HOME"])
    with running("--port", "0") as (proc, url):
        port = url.rsplit(":", 1)[1]
        proc.kill()
        proc.wait(timeout=15)
    assert (home / "emulators" / port / "env").is_file()  # left behind
    listen = (
        "import socket, sys\n"
        "s = socket.socket()\n"
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
        "s.listen(8)\n"
        "print('listening', flush=True)\n"
        "while True:\n"
        "    s.accept()[0].close()\n"
    )
    impostor = subprocess.Popen([python, "-c", listen, port], user=uid, cwd="/",
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert impostor.stdout is not None and impostor.stdout.readline() == "listening\n"
        result = subprocess.run(
            [sys.executable, "-m", "gemini_oauth", "emulator", "--print-env", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        impostor.kill()
        impostor.wait(timeout=15)
    assert (result.returncode, result.stdout) == (1, ""), result.stdout
    assert f"port {port} belongs to another user (uid {uid})" in result.stderr
    assert result.stderr.rstrip().endswith("gemini-oauth emulator --port 0")
