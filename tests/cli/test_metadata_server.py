"""`gemini-oauth metadata-server` as a process: the export lines, a google-auth client in
another process, -v logs, loopback unless --host, and a container's way in through a forwarded
Unix socket, proved in a network namespace made here."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gemini_oauth.emulator import Emulator

SCRIPT = str(Path(sys.executable).parent / "gemini-oauth")
Seed = Callable[..., dict[str, Any]]


class Server:
    """A running ``gemini-oauth metadata-server``; ``exports`` are the lines it printed."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [SCRIPT, "metadata-server", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.exports: dict[str, str] = {}
        for line in self.proc.stdout:  # the export lines come first, then stdout stays quiet
            name, _, value = line.strip().removeprefix("export ").partition("=")
            self.exports[name] = value
            if name == "GCE_METADATA_ROOT":
                break
        assert "GCE_METADATA_HOST" in self.exports, self.stop()

    @property
    def port(self) -> int:
        return int(self.exports["GCE_METADATA_HOST"].rsplit(":", 1)[1])

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str]:
        """Stop it as a user would; (exit code, all it said on stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err


@pytest.fixture
def servers() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(*args: str) -> Server:
        started.append(Server(*args))
        return started[-1]

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.communicate(timeout=30)


GOOGLE_AUTH_CLIENT = textwrap.dedent(
    """
    import google.auth
    from google.auth.transport.requests import Request
    creds, project = google.auth.default()
    creds.refresh(Request())
    print(type(creds).__module__, project, creds.token)
    """
)


def test_a_google_auth_process_gets_tokens_from_the_printed_exports(
    emulator: Emulator, seed_login: Seed, servers: Callable[..., Server], tmp_path: Path
) -> None:
    grant = seed_login(quota_project=emulator.project_id)
    server = servers("-v")
    assert server.exports["GCE_METADATA_IP"] == server.exports["GCE_METADATA_HOST"]
    assert server.exports["GCE_METADATA_HOST"].startswith("127.0.0.1:")
    empty = tmp_path / "empty"  # another shell's: no ADC file to prefer
    env = {**os.environ, **server.exports, "CLOUDSDK_CONFIG": str(empty)}
    env.pop("NO_GCE_CHECK")
    client = subprocess.run(
        [sys.executable, "-c", GOOGLE_AUTH_CLIENT], env=env, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    module, project, token = client.stdout.split()
    assert module == "google.auth.compute_engine.credentials"
    assert project == emulator.project_id and token == grant["access_token"]
    code, err = server.stop()
    assert code == 0 and "Stopped." in err
    assert f"Serving access tokens of profile 'default' ({emulator.user_email})" in err
    assert re.search(r"GET /computeMetadata/v1/instance/service-accounts/default/token\S* 200", err)
    assert grant["access_token"] not in err and grant["refresh_token"] not in err


def _listening(port: int) -> list[str]:
    """Local addresses of listening TCP sockets on ``port``, from /proc/net/tcp{,6}."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    found.append(local.rsplit(":", 1)[0])
    return found


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux's /proc/net/tcp")
def test_loopback_unless_host_says_otherwise(
    seed_login: Seed, servers: Callable[..., Server]
) -> None:
    seed_login()
    quiet = servers()
    assert _listening(quiet.port) == ["0100007F"]  # 127.0.0.1 only
    code, err = quiet.stop(signal.SIGTERM)
    assert code == 0 and "not loopback" not in err
    wide = servers("--host", "0.0.0.0")  # noqa: S104 - the point of the test
    assert _listening(wide.port) == ["00000000"]
    assert wide.exports["GCE_METADATA_HOST"] == f"127.0.0.1:{wide.port}"  # this machine's way
    code, err = wide.stop()
    assert code == 0
    assert "warning: listening on 0.0.0.0, not loopback: any process that can reach" in err
    assert "other users on this machine are still refused" in err


def test_usage_and_login_errors(
    seed_login: Seed, servers: Callable[..., Server], emulator: Emulator
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SCRIPT, "metadata-server", *args], capture_output=True, text=True, timeout=60
        )

    host = run("--host", "metadata.example.com")
    assert host.returncode == 2 and "an IP address of this machine" in host.stderr
    both = run("--profile", "x", "--adc")
    assert both.returncode == 2 and "pass one" in both.stderr
    missing = run("--profile", "nobody")
    assert missing.returncode == 3 and "gemini-oauth login --profile nobody" in missing.stderr
    seed_login()
    first = servers()
    taken = run("--port", str(first.port), "--profile", "default")
    assert taken.returncode == 1 and f"Port {first.port} on 127.0.0.1 is in use" in taken.stderr
    assert "leave it out for a free one: 'gemini-oauth metadata-server'." in taken.stderr


# ---------------------------------------------------------------- a container's way in

# Runs inside a new network namespace: its own loopback, where the server's port does not
# exist. A relay (what `socat TCP-LISTEN:PORT,bind=127.0.0.1,fork UNIX-CONNECT:SOCKET` does in
# a container) carries its loopback port to the Unix socket; google-auth then gets a token.
IN_NAMESPACE = textwrap.dedent(
    """
    import os, socket, subprocess, sys, threading
    socket_path, host_port = sys.argv[1], int(sys.argv[2])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    probe = socket.socket()
    try:
        probe.connect(("127.0.0.1", host_port))
        print("REACHED THE HOST'S PORT", flush=True)
    except ConnectionRefusedError:
        print("isolated", flush=True)
    finally:
        probe.close()

    def pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            dst.close()

    def relay(listener):
        while True:
            inside, _ = listener.accept()
            outside = socket.socket(socket.AF_UNIX)
            outside.connect(socket_path)
            threading.Thread(target=pipe, args=(inside, outside), daemon=True).start()
            threading.Thread(target=pipe, args=(outside, inside), daemon=True).start()

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    threading.Thread(target=relay, args=(listener,), daemon=True).start()
    address = "127.0.0.1:%d" % listener.getsockname()[1]
    os.environ.update(GCE_METADATA_HOST=address, GCE_METADATA_IP=address)
    os.environ.pop("NO_GCE_CHECK", None)
    import google.auth
    from google.auth.transport.requests import Request
    creds, project = google.auth.default()
    creds.refresh(Request())
    print(type(creds).__name__, creds.token, flush=True)
    """
)


def _namespace_command() -> list[str]:
    """How this machine lets us make a network namespace (root, or a user namespace)."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare and ip (util-linux, iproute2)")
    for command in (["unshare", "--net"], ["unshare", "--user", "--map-root-user", "--net"]):
        probe = subprocess.run([*command, "ip", "link", "set", "lo", "up"], capture_output=True)
        if probe.returncode == 0:
            return command
    pytest.skip(f"network namespaces are not permitted here: {probe.stderr.decode().strip()}")


def test_a_process_in_another_network_namespace_through_the_unix_socket(
    seed_login: Seed, servers: Callable[..., Server], tmp_path: Path
) -> None:
    namespace = _namespace_command()
    grant = seed_login()
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    sock = run_dir / "metadata.sock"
    server = servers("--unix-socket", str(sock))
    env = {**os.environ, "CLOUDSDK_CONFIG": str(tmp_path / "empty")}
    inside = subprocess.run(
        [*namespace, sys.executable, "-c", IN_NAMESPACE, str(sock), str(server.port)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.splitlines() == ["isolated", f"Credentials {grant['access_token']}"]
    code, err = server.stop()
    assert code == 0 and f"Also on the Unix socket {sock} (mode 0600)." in err
    assert not sock.exists()


def test_the_socket_is_refused_to_another_user(
    seed_login: Seed, servers: Callable[..., Server], tmp_path: Path, other_user: tuple[int, str]
) -> None:
    uid, python = other_user
    seed_login()
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    sock = run_dir / "metadata.sock"
    servers("--unix-socket", str(sock))
    tmp_path.chmod(0o755)  # so the other user can reach the folder, if not the socket
    connect = "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])"
    attacker = subprocess.run(
        [python, "-c", connect, str(sock)], user=uid, cwd="/", capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert attacker.returncode != 0 and "PermissionError" in attacker.stderr
    with socket.socket(socket.AF_UNIX) as mine:
        mine.connect(str(sock))  # the same connect, as us
