"""The command line with a cache server: --cache everywhere a profile is read (and
$GEMINI_OAUTH_CACHE_URL), status and doctor showing the backend, cache push/publish, failures
that name the URL without its password, and the fast path stepping aside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gemini_oauth._cli._root import run
from gemini_oauth._exec import child_environment
from gemini_oauth.emulator import Emulator

from conftest import RedisServer  # isort: skip
from test_redis_cache import seed  # isort: skip

SCRIPT = str(Path(sys.executable).parent / "gemini-oauth")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "command", ["status", "print-access-token", "login", "logout", "doctor", "models list",
                "generate", "curl", "files list", "embed", "exec", "metadata-server"],
)  # fmt: skip
def test_every_command_that_reads_a_profile_takes_cache(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, *command.split(), "--help")
    assert code == 0 and "--cache URL" in out
    flat = " ".join(out.split())
    assert "GEMINI_OAUTH_CACHE_URL" in flat and "?mode=tokens" in flat  # which mode a URL uses


def test_cache_is_one_option_wherever_a_profile_is_read() -> None:
    """--cache URL: the same option beside every --profile but where the login is this
    machine's file by definition (cache publish, cache push)."""
    from .test_root import _every_command

    shapes = {}
    for name, command in _every_command():
        names = {p.name for p in command.params}
        if "profile" in names and not name.startswith("cache "):
            (cache,) = [p for p in command.params if p.name == "cache"]
            shapes[name] = (tuple(cache.opts), cache.metavar, cache.envvar, cache.help)
    assert len(shapes) == 17 and len(set(shapes.values())) == 1
    assert next(iter(shapes.values()))[:3] == (("--cache",), "URL", "GEMINI_OAUTH_CACHE_URL")


def test_cache_help_says_which_mode_a_url_uses(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "cache", "--help")
    assert code == 0 and "publish" in out and "push" in out
    assert "redis://HOST:PORT/DB?mode=tokens\n        access tokens only" in out


def test_status_and_doctor_show_the_backend(
    emulator: Emulator,
    redis_server: RedisServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = redis_server.url(user="default", password="pw-of-the-fleet")
    redis_server.client().config_set("requirepass", "pw-of-the-fleet")
    body = seed(emulator, url)
    monkeypatch.setenv("GEMINI_OAUTH_CACHE_URL", url)  # a password: never on a command line
    code, out, err = cli(capsys, "status")
    assert code == 0, err
    flat = " ".join(out.split())  # rich wraps long rows
    assert "Cache backend: Redis, reachable; the whole login, shared" in flat
    assert f"redis://default:***@127.0.0.1:{redis_server.port}/0 key gemini-oauth:profile" in flat
    code, out, _ = cli(capsys, "status", "--json")
    shown = json.loads(out)
    assert shown["cache_backend"] == {
        "backend": "redis",
        "location": f"redis://default:***@127.0.0.1:{redis_server.port}/0 key "
        "gemini-oauth:profile:default",
        "mode": "grant",
        "reachable": True,
    }
    code, out, err = cli(capsys, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["cache backend"]["status"] == "ok", checks["cache backend"]
    assert "answers in" in checks["cache backend"]["summary"]
    assert checks["cache"]["status"] == "skipped" and checks["login"]["status"] == "ok"
    assert "GEMINI_OAUTH_CACHE_URL=redis://default:***@" in checks["environment"]["summary"]
    for text in (out, err):
        for secret in ("pw-of-the-fleet", body["refresh_token"], body["access_token"]):
            assert secret not in text


def test_redis_down_is_a_clear_error_everywhere(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = redis_server.url(user="app", password="never-shown")
    monkeypatch.setenv("GEMINI_OAUTH_CACHE_URL", url)
    redis_server.kill()
    for args in (["status"], ["print-access-token"], ["models", "list"]):
        code, out, err = cli(capsys, *args)
        assert code == 1 and out == "", args
        assert f"Cannot reach Redis at redis://app:***@127.0.0.1:{redis_server.port}/0" in err
        assert f"redis-cli -h 127.0.0.1 -p {redis_server.port} ping" in err
        assert "never-shown" not in err
    code, out, _ = cli(capsys, "doctor")
    assert code == 1
    assert "✗ cache backend" in out and "never-shown" not in out


def test_a_bad_url_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_OAUTH_CACHE_URL", "redis://u:hush@10.9.8.7:6379/0")
    code, _, err = cli(capsys, "status")
    assert code == 2 and "in clear text" in err and "hush" not in err


def test_print_access_token_reads_redis_when_the_url_is_set(
    emulator: Emulator,
    redis_server: RedisServer,
    seed_login: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_login()  # a file on this machine with another token: the fast path must step aside
    body = seed(emulator, redis_server.url())
    monkeypatch.setenv("GEMINI_OAUTH_CACHE_URL", redis_server.url())
    result = subprocess.run([SCRIPT, "print-access-token"], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (0, body["access_token"] + "\n", "")


def test_push_then_every_machine_uses_the_login(
    emulator: Emulator,
    redis_server: RedisServer,
    seed_login: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    grant = seed_login(profile="team")
    code, _, err = cli(capsys, "cache", "push", "--profile", "team", "--to", redis_server.url())
    assert code == 0, err
    assert "Pushed profile 'team' (tester@example.com)" in err
    monkeypatch.setenv("GEMINI_OAUTH_HOME", str(tmp_path / "another-machine"))
    code, out, err = cli(capsys, "print-access-token", "--profile", "team", "--cache",
                         redis_server.url())  # fmt: skip
    assert (code, out) == (0, grant["access_token"] + "\n"), err
    code, _, err = cli(capsys, "cache", "push", "--to", redis_server.url("mode=tokens"))
    assert code == 1 and "cache publish" in err


def test_login_into_redis_and_logout_from_it(
    emulator: Emulator,
    redis_server: RedisServer,
    client_secret_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BROWSER", f"{sys.executable} -m gemini_oauth._useragent %s")
    url = redis_server.url()
    code, _, err = cli(capsys, "login", "--client-secret", str(client_secret_file),
                       "--cache", url)  # fmt: skip
    assert code == 0, err
    assert f"Credentials saved to redis://127.0.0.1:{redis_server.port}/0 key" in err
    assert redis_server.client().get("gemini-oauth:profile:default") is not None
    code, _, err = cli(capsys, "logout", "--yes", "--cache", url)
    assert code == 0 and "token revoked" in err, err
    assert redis_server.client().get("gemini-oauth:profile:default") is None


def test_tokens_mode_status_and_refusals(
    emulator: Emulator,
    redis_server: RedisServer,
    seed_login: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = redis_server.url("mode=tokens")
    code, _, err = cli(capsys, "status", "--profile", "team", "--cache", url)
    assert code == 3 and "No access token is published" in err
    assert "'gemini-oauth cache publish --profile team' where the login lives, with" in err
    assert "--to URL" not in err  # a URL with a password never goes on a command line
    code, _, err = cli(capsys, "models", "list", "--cache", url)
    assert code == 1 and "No access token is published" in err  # not ADC behind its back
    seed_login()
    code, _, err = cli(capsys, "cache", "publish", "--once", "--to", redis_server.url())
    assert code == 0 and "Published an access token valid until" in err, err
    assert "The refresh token stays on this machine." in err
    code, out, _ = cli(capsys, "status", "--cache", url)
    flat = " ".join(out.split())
    assert code == 0
    assert "Refresh token: not here (access tokens only, from the publisher)" in flat
    assert "Cache backend: Redis, reachable; access tokens only" in flat
    code, _, err = cli(capsys, "logout", "--yes", "--cache", url)
    assert code == 1 and "holds access tokens only" in err


def test_exec_children_do_not_inherit_the_cache_url(tmp_path: Path) -> None:
    parent = {"GEMINI_OAUTH_CACHE_URL": "redis://u:pw@127.0.0.1/0", "PATH": "/usr/bin"}
    env = child_environment(parent, {}, scratch=tmp_path)
    assert "GEMINI_OAUTH_CACHE_URL" not in env


def test_a_redis_password_is_never_on_a_command_line(
    emulator: Emulator,
    redis_server: RedisServer,
    seed_login: Any,
    other_user: tuple[int, str],
    tmp_path: Path,
) -> None:
    """Another user reads every command line (/proc/PID/cmdline) but not our environment: a
    URL with a password is refused from --cache and --to (before anything is published), and
    taken from $GEMINI_OAUTH_CACHE_URL, where a publisher running for days keeps it hidden."""
    uid, python = other_user
    password = "publisher-pw-d1e7"
    redis_server.client().config_set("requirepass", password)
    url = redis_server.url(user="default", password=password)
    seed_login()
    for args in (
        ["cache", "publish", "--once", "--to", url],
        ["cache", "push", "--to", url],
        ["status", "--cache", url],
        ["print-access-token", "--cache=" + url],
    ):
        refused = subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2, (args, refused.stderr)
        assert "password on the command line" in refused.stderr and password not in refused.stderr
        assert refused.stderr.rstrip().endswith(
            "read -rs GEMINI_OAUTH_CACHE_URL && export GEMINI_OAUTH_CACHE_URL"
        )
    import redis

    admin = redis.Redis(port=redis_server.port, password=password, socket_timeout=10)
    assert admin.keys("*") == []  # nothing was published or pushed
    said = tmp_path / "publisher.txt"
    publisher = subprocess.Popen(
        [SCRIPT, "cache", "publish", "--interval", "1"],
        env={**os.environ, "GEMINI_OAUTH_CACHE_URL": url},
        stdout=subprocess.DEVNULL, stderr=said.open("w"),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while admin.get("gemini-oauth:access-token:default") is None:
            assert publisher.poll() is None and time.monotonic() < deadline, said.read_text()
            time.sleep(0.05)
        spy = (
            "import sys\n"
            "pid = sys.argv[1]\n"
            "print(open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode())\n"
            "try:\n"
            "    print(open(f'/proc/{pid}/environ', 'rb').read())\n"
            "except OSError as exc:\n"
            "    print('environ:', type(exc).__name__)\n"
        )
        seen = subprocess.run([python, "-c", spy, str(publisher.pid)], user=uid, cwd="/",
                              capture_output=True, text=True, timeout=30)  # fmt: skip
        assert "cache publish --interval 1" in seen.stdout, seen  # the spy reads command lines
        assert "environ: PermissionError" in seen.stdout
        assert password not in seen.stdout
    finally:
        publisher.terminate()
        publisher.wait(timeout=30)


def test_hints_carry_the_cache_the_flag_named(
    redis_server: RedisServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A login hint pasted without the --cache it came from would sign in to this machine's
    files: it carries the URL, every option kept, as the shell gives it back."""
    import shlex

    url = redis_server.url(query="prefix=team-a&lock_ttl=30")
    code, _, err = cli(capsys, "models", "list", "--profile", "team", "--cache", url)
    assert code == 3, err
    command = err.split("  Run ", 1)[1].splitlines()[0].removesuffix(".").strip("'")
    assert shlex.split(command) == ["gemini-oauth", "login", "--profile", "team", "--cache", url]
    monkeypatch.setenv("GEMINI_OAUTH_CACHE_URL", url)  # the environment carries it already
    code, _, err = cli(capsys, "models", "list", "--profile", "team")
    assert code == 3 and "Run 'gemini-oauth login --profile team'." in err, err
