"""``gemini-oauth curl``: real curl on the emulator; the token reaches the checked URL only, and
never the disk, even when the command is killed."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from conftest import Trap
from gemini_oauth.emulator import Emulator

from .test_api import MODEL, Cli, counters, seed

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


@pytest.fixture
def cli(emulator: Emulator, capfd: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capfd, emulator.base_url)


# ---------------------------------------------------------------- what curl is for


def test_curl_runs_curl_with_the_headers(emulator: Emulator, cli: Cli) -> None:
    secrets = seed(emulator)
    code, out, err = cli("curl", "/v1/models")
    assert code == 0 and json.loads(out)["models"]
    assert "% Total" not in err  # no progress meter, though stdout is not a terminal
    body = json.dumps({"contents": [{"parts": [{"text": "curl says hi"}]}]})
    code, out, _ = cli(
        "curl",
        f"models/{MODEL}:generateContent",
        "-sS",
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
    )
    assert code == 0 and "curl says hi" in json.dumps(json.loads(out))
    c = counters(emulator)
    assert c["models.list"] == 1 and c["models.generateContent"] == 1
    cli.assert_no_secrets(secrets)


def test_an_http_error_exits_4_with_the_body_shown(emulator: Emulator, cli: Cli) -> None:
    """As gh api: the error body is the data, the exit code says it failed."""
    seed(emulator)
    code, out, err = cli("curl", "/v1/models/nope")
    assert code == 4 and json.loads(out)["error"]["code"] == 404
    assert "error: the API answered HTTP 404" in err
    code, out, _ = cli("curl", "/v1/models/nope", "--fail")  # curl's own 22 is an HTTP error too
    assert (code, out) == (4, "")
    code, out, _ = cli("curl", "-i", f"models/{MODEL}")
    assert code == 0 and out.startswith("HTTP/1.1 200") and f'"name": "models/{MODEL}"' in out


def test_curl_failing_to_reach_the_api_exits_4(emulator: Emulator, cli: Cli) -> None:
    seed(emulator)
    with socket_without_listener() as url:
        code, _, err = cli("curl", "--endpoint", url, "/v1/models", endpoint=False)
    assert code == 4 and "could not reach the API" in err


class socket_without_listener:
    """A loopback URL on a port that is bound but not listening: connections are refused."""

    def __enter__(self) -> str:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_curl_print_headers(emulator: Emulator, cli: Cli) -> None:
    seed(emulator)
    code, out, _ = cli("curl", "--print-headers")
    assert code == 0
    headers = dict(line.split(": ", 1) for line in out.splitlines())
    assert headers["Authorization"].startswith("Bearer ")
    assert headers["x-goog-user-project"] == emulator.project_id
    response = httpx.get(emulator.base_url + "/v1/models", headers=headers)
    assert response.status_code == 200
    code, out, _ = cli("curl", "--print-headers", "--json", "--quota-project", "")
    assert code == 0 and set(json.loads(out)) == {"Authorization"}


def test_curls_verbose_output_is_redacted(emulator: Emulator, cli: Cli) -> None:
    secrets = seed(emulator)
    code, _, err = cli("curl", "/v1/models", "-v", "-o", os.devnull)
    assert code == 0 and "> Authorization: Bearer [REDACTED]" in err
    cli.assert_no_secrets(secrets)


def test_curl_missing(
    emulator: Emulator, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(emulator)
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = cli("curl", "/v1/models")
    assert code == 1 and "curl was not found" in err and "--print-headers" in err


# ---------------------------------------------------------------- the token goes to PATH only


def test_curl_sends_the_token_only_to_the_api_endpoint(emulator: Emulator, cli: Cli) -> None:
    """A full URL on another origin is refused before anything is sent (the token would leak)."""
    secrets = seed(emulator)
    code, out, _ = cli("curl", emulator.base_url + "/v1/models", "-sS")  # same origin: fine
    assert code == 0 and json.loads(out)["models"]
    code, _, err = cli("curl", "https://example.com/v1/models", "-sS")
    assert code == 2 and "Refusing to send your access token" in err and "--endpoint" in err
    code, _, err = cli("curl", "http://127.0.0.2:9/v1/models", "-sS")
    assert code == 2 and "Refusing to send your access token" in err and "clear text" in err
    assert counters(emulator)["models.list"] == 1
    cli.assert_no_secrets(secrets)


def test_curl_refuses_its_options_before_path(emulator: Emulator, cli: Cli) -> None:
    """'-sS' in PATH's place would let curl take the next word, a URL anywhere, as its URL."""
    secrets = seed(emulator)
    foreign = "http://127.0.0.2:9/steal"
    code, out, err = cli("curl", "-sS", foreign, "models")
    assert (code, out) == (2, "") and "curl's options go after PATH" in err
    assert "gemini-oauth curl /v1/models -sS" in err
    cli.assert_no_secrets(secrets)


# Each way the review made curl send the token elsewhere, and a few more of the same kinds.
_BYPASSES = {
    "a second URL": ["models", "{trap}/x"],
    "--url": ["models", "--url", "{trap}/x"],
    "--URL (curl ignores case)": ["models", "--URL", "{trap}/x"],
    "a config file naming a URL": ["models", "-K", "{config}"],
    "-K bundled": ["models", "-sSK", "{config}"],
    "--conf (an abbreviation curl expands)": ["models", "--conf", "{config}"],
    "--next": ["models", "--next", "{trap}/x"],
    "-: (--next)": ["models", "-:", "{trap}/x"],
    "after --": ["models", "-sS", "--", "{trap}/x"],
    "a proxy": ["models", "-x", "{trap}"],
    "--connect-to": ["models", "--connect-to", "::{trap_host}"],
    "PATH with userinfo @": ["{emu}@{trap_host}/v1/models"],
    "PATH with %40": ["{emu}%40{trap_host}/v1/models"],
    "PATH with a backslash": ["{emu}\\@{trap_host}/v1/models"],
    "PATH with a tab": ["{emu}\t@{trap_host}/v1/models"],
    "PATH with a glob": ["http://127.0.0.1:{{{emu_port},{trap_port}}}/v1/models"],
    "relative PATH with a glob": ["models/{{a,b}}"],
}


@pytest.mark.parametrize("words", list(_BYPASSES.values()), ids=list(_BYPASSES))
def test_curl_sends_the_token_to_no_other_url(
    emulator: Emulator, cli: Cli, trap: Trap, tmp_path: Path, words: list[str]
) -> None:
    secrets = seed(emulator)
    config = tmp_path / "curl.cfg"
    config.write_text(f'url = "{trap.url}/from-config"\n')
    fill = {
        "trap": trap.url,
        "trap_host": trap.url.removeprefix("http://"),
        "trap_port": trap.url.rsplit(":", 1)[1],
        "emu": emulator.base_url,
        "emu_port": emulator.base_url.rsplit(":", 1)[1],
        "config": str(config),
    }
    code, out, err = cli("curl", *(word.format(**fill) for word in words))
    assert trap.seen == [], "the trap received a request"
    assert (code, out) == (2, ""), err
    assert "refusing" in err.lower()
    cli.assert_no_secrets(secrets)


def test_the_grammar_is_the_running_curls() -> None:
    from gemini_oauth._cli.curl import REFUSED, check_curl_args, load_grammar

    program = shutil.which("curl")
    assert program is not None
    grammar = load_grammar(program)
    assert grammar.letters["d"] == "data" and grammar.takes_value["data"]
    assert grammar.letters["s"] == "silent" and not grammar.takes_value["silent"]
    assert "progress-meter" in grammar.takes_value  # listed as --no-progress-meter
    check_curl_args(("-sSd@body.json", "-H", "X-A: b", "--compressed", "--no-buffer"), grammar)
    for refused in ("url", "config", "next", "proxy", "insecure", "trace-ascii", "dump-header"):
        assert refused in REFUSED and refused in grammar.takes_value, refused


def test_a_value_at_the_end_is_not_missing() -> None:
    import click

    from gemini_oauth._cli.curl import check_curl_args, read_grammar

    grammar = read_grammar(
        " -d, --data <data>   HTTP POST data\n -s, --silent   Silent mode\n"
        "     --url <url>   URL to work with\n",
        "curl 8.5.0 (x86_64-pc-linux-gnu)",
    )
    check_curl_args(("-s", "-d", "x"), grammar)
    check_curl_args(("-sdx",), grammar)
    for bad in (("-d",), ("-sd",), ("--data",), ("-s", "x"), ("--ur", "x")):
        with pytest.raises(click.UsageError):
            check_curl_args(bad, grammar)


# ---------------------------------------------------------------- nothing on disk


def _files_holding(root: Path, secret: bytes) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and secret in path.read_bytes():
                found.append(path)
        except OSError:
            continue
    return found


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_curl_leaves_no_token_on_disk(
    emulator: Emulator, tmp_path: Path, signum: int
) -> None:
    token = seed(emulator)[0].encode()
    temp = tmp_path / "tmp"
    temp.mkdir()
    (tmp_path / "probe").write_bytes(b"x" + token)  # the search would find it
    assert _files_holding(tmp_path, token) == [tmp_path / "probe"]
    (tmp_path / "probe").unlink()
    entered, release = threading.Event(), threading.Event()

    def hang(_: float) -> None:  # the emulator's only wait: holds the request open
        entered.set()
        release.wait(60)

    emulator.state.sleep = hang
    emulator.control.add_fault("/v1/models", latency=1.0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "TMPDIR": str(temp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gemini_oauth", "curl", "--endpoint", emulator.base_url, "models"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    curl_pids: list[int] = []
    try:
        assert entered.wait(60), "curl's request never reached the emulator"
        curl_pids = _children(proc.pid)
        assert curl_pids and all(
            token not in Path(f"/proc/{pid}/cmdline").read_bytes() for pid in curl_pids
        )
        assert _files_holding(tmp_path, token) == []  # not while it runs
        proc.send_signal(signum)
        code = proc.wait(30)
    finally:
        release.set()
        for pid in curl_pids:  # after SIGKILL, curl lives on: end it
            if signum == signal.SIGKILL:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert code == (128 + signal.SIGTERM if signum == signal.SIGTERM else -signal.SIGKILL)
    if signum == signal.SIGTERM:  # passed on to curl, which was waited for
        assert all(not Path(f"/proc/{pid}").exists() for pid in curl_pids)
    assert _files_holding(tmp_path, token) == []
    assert list(temp.iterdir()) == []


# ---------------------------------------------------------------- quota projects are ids


@pytest.mark.parametrize("source", ["flag", "environment"])
def test_a_quota_project_cannot_inject_a_header(
    emulator: Emulator,
    cli: Cli,
    trap: Trap,
    source: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finding 4: a CR LF in the quota project added a header to curl's request."""
    seed(emulator)
    evil = "my-project\r\nX-Injected: yes"
    flags = ["--quota-project", evil] if source == "flag" else []
    if source == "environment":
        monkeypatch.setenv("GOOGLE_CLOUD_QUOTA_PROJECT", evil)
    code, out, err = cli("curl", "--endpoint", trap.url, *flags, "/v1/models", endpoint=False)
    assert all("X-Injected" not in headers for _, headers in trap.seen), trap.seen
    assert (code, out) == (2, "") and "is not a Google Cloud project id" in err
    assert ("$GOOGLE_CLOUD_QUOTA_PROJECT" in err) is (source == "environment")
    assert "\r" not in err


def test_a_bad_quota_project_stored_in_a_profile_is_a_clear_error(
    emulator: Emulator, cli: Cli
) -> None:
    seed(emulator)
    from gemini_oauth import _store as store

    file = store.profile_file("default")
    data = file.read()
    assert data is not None
    file.write({**data, "quota_project_id": "p\r\nX-Injected: yes"})
    code, _, err = cli("curl", "/v1/models")
    assert code == 1 and f"The quota project of the cached login {file.path}" in err
    assert "is not a Google Cloud project id" in err and '"quota_project_id"' in err


def test_a_404_exits_non_zero_as_a_process(emulator: Emulator) -> None:
    """Issue 11's proof, as a real process: the body on stdout, no progress meter, exit 4."""
    seed(emulator)
    done = subprocess.run(
        [sys.executable, "-m", "gemini_oauth", "curl", "--endpoint", emulator.base_url,
         "/v1/models/nope"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert done.returncode == 4
    assert json.loads(done.stdout)["error"]["code"] == 404
    assert "error: the API answered HTTP 404" in done.stderr and "%" not in done.stderr
