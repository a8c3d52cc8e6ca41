"""models and generate: in-process through run() and as real processes, on the emulator."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from gemini_oauth import _clock
from gemini_oauth import _store as store
from gemini_oauth._cli._root import run
from gemini_oauth._client_secrets import client_from_dict
from gemini_oauth._credentials import save_login
from gemini_oauth._flow import LoginResult
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import CLOUD_PLATFORM, OPENID, RETRIEVER, USERINFO_EMAIL

if TYPE_CHECKING:
    from conftest import HeldWaits

SCOPES = [OPENID, USERINFO_EMAIL, CLOUD_PLATFORM, RETRIEVER]
MODEL = "gemini-2.5-flash"


def seed(emulator: Emulator, profile: str = "default") -> list[str]:
    """A cached login for ``profile``; returns the secrets that must never be printed."""
    body = emulator.control.issue_grant(SCOPES)
    result = LoginResult(
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=_clock.now() + 3600,
        granted_scopes=tuple(SCOPES),
        account=emulator.user_email,
    )
    client = client_from_dict(emulator.client_secret_json())
    file = store.profile_file(profile)
    save_login(result, client, file=file, quota_project=emulator.project_id)
    return [body["access_token"], body["refresh_token"], emulator.client_secret]


class Cli:
    """Runs the CLI in-process; keeps every output to scan for secrets."""

    def __init__(self, capfd: pytest.CaptureFixture[str], endpoint: str) -> None:
        self.capfd = capfd
        self.endpoint = endpoint
        self.outputs: list[str] = []

    def __call__(self, *args: str, endpoint: bool = True) -> tuple[int, str, str]:
        code = run(_with_endpoint(list(args), self.endpoint) if endpoint else list(args))
        out, err = self.capfd.readouterr()
        self.outputs += [out, err]
        return code, out, err

    def assert_no_secrets(self, secrets: list[str]) -> None:
        for text in self.outputs:
            for secret in secrets:
                assert secret not in text


def _with_endpoint(argv: list[str], endpoint: str) -> list[str]:
    # `models list` / `models get NAME` / `generate P` / `curl PATH ...`: flags go before
    # curl's PATH, so insert right after the command words.
    words = 2 if argv[0] == "models" else 1
    return [*argv[:words], "--endpoint", endpoint, *argv[words:]]


@pytest.fixture
def cli(emulator: Emulator, capfd: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capfd, emulator.base_url)


def counters(emu: Emulator) -> dict[str, int]:
    return emu.control.counters()


# ---------------------------------------------------------------- models


def test_models_list_is_complete_unless_limited(emulator: Emulator, cli: Cli) -> None:
    secrets = seed(emulator)
    code, out, err = cli("models", "list", "--page-size", "7")
    assert code == 0 and err == ""
    rows = [line.split("\t") for line in out.splitlines()]
    assert all(len(r) == 5 for r in rows)
    names = [r[0] for r in rows]
    assert MODEL in names and len(names) == len(set(names)) > 50  # past the server's first page
    assert counters(emulator)["models.list"] == -(-len(names) // 7)
    code, out, _ = cli("models", "list", "--json")
    assert code == 0
    assert [o["name"].removeprefix("models/") for o in json.loads(out)] == names
    code, out, err = cli("models", "list", "--limit", "5")
    assert code == 0 and [line.split("\t")[0] for line in out.splitlines()] == names[:5]
    assert err == ""  # "there are more" is said on a terminal only
    code, out, _ = cli("models", "list", "--limit", "5", "--json")
    assert len(json.loads(out)) == 5
    code, out, _ = cli("models", "list", "--all")  # the old flag still works: it is the default
    assert code == 0 and len(out.splitlines()) == len(names)
    cli.assert_no_secrets(secrets)


def test_models_list_v1beta_has_more(emulator: Emulator, cli: Cli) -> None:
    seed(emulator)
    _, v1, _ = cli("models", "list", "--all")
    _, beta, _ = cli("models", "list", "--all", "--api-version", "v1beta")
    assert len(beta.splitlines()) > len(v1.splitlines())


def test_models_get(emulator: Emulator, cli: Cli) -> None:
    seed(emulator)
    code, out, _ = cli("models", "get", MODEL, "--json")
    assert code == 0 and json.loads(out)["name"] == f"models/{MODEL}"
    code, out, _ = cli("models", "get", f"models/{MODEL}")
    assert code == 0 and f"name: models/{MODEL}" in out and "inputTokenLimit:" in out
    code, out, err = cli("models", "get", "no-such-model")
    assert code == 4 and out == ""
    assert err.startswith("error: Gemini API error 404") and "models list" in err


# ---------------------------------------------------------------- generate


def test_generate_streams_and_unary(emulator: Emulator, cli: Cli) -> None:
    secrets = seed(emulator)
    code, out, _ = cli("generate", "Say hello to the emulator")
    assert code == 0 and "Say hello to the emulator" in out and out.endswith("\n")
    code, unary, _ = cli("generate", "--no-stream", "Say hello to the emulator")
    assert code == 0 and unary == out
    code, out, _ = cli("generate", "--no-stream", "--json", "--max-output-tokens", "2", "Hi")
    assert json.loads(out)["candidates"][0]["finishReason"] == "MAX_TOKENS"
    code, out, _ = cli("generate", "--json", "the whole response as one object")
    whole = json.loads(out)
    assert whole["candidates"][0]["finishReason"] == "STOP" and "usageMetadata" in whole
    c = counters(emulator)
    assert c["models.streamGenerateContent"] == 1 and c["models.generateContent"] == 3
    cli.assert_no_secrets(secrets)


def test_generate_says_why_an_answer_stopped(emulator: Emulator, cli: Cli) -> None:
    """MAX_TOKENS (streamed and not), SAFETY and RECITATION on stderr; a blocked prompt exits 4;
    the JSON is the whole response either way."""
    seed(emulator)
    code, out, err = cli("generate", "--max-output-tokens", "2", "tell me a long story")
    assert code == 0 and out.strip()
    assert "incomplete: it reached the output token limit (MAX_TOKENS)" in err
    assert "raise --max-output-tokens (now 2)" in err
    code, out, err = cli("generate", "--no-stream", "--max-output-tokens", "2", "a long story")
    assert code == 0 and "(MAX_TOKENS)" in err
    code, out, err = cli("generate", "a short one")
    assert code == 0 and err == ""
    path = f"/v1/models/{MODEL}:generateContent"
    for reason, why in (
        ("SAFETY", "Google's safety filters stopped it"),
        ("RECITATION", "it recited its training data too closely"),
        ("LANGUAGE", "it stopped early"),
    ):
        cut = {"candidates": [{"content": {"parts": [{"text": "Once"}]}, "finishReason": reason}]}
        emulator.control.add_fault(path, 200, body=cut)
        code, out, err = cli("generate", "--no-stream", "hi")
        assert code == 0 and out == "Once\n" and f"{why} ({reason})" in err
        emulator.control.add_fault(path, 200, body=cut)
        code, out, err = cli("generate", "--json", "hi")
        assert code == 0 and json.loads(out) == cut and f"({reason})" in err
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}}
    emulator.control.add_fault(path, 200, body=blocked)
    code, out, err = cli("generate", "--no-stream", "hi")
    assert code == 4 and "the prompt was blocked (SAFETY)" in err


def test_generate_reads_stdin(
    emulator: Emulator, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(emulator)
    monkeypatch.setattr(sys, "stdin", io.StringIO("prompt from stdin\n"))
    code, out, _ = cli("generate", "--model", "gemini-2.5-pro", "-")
    assert code == 0 and "from gemini-2.5-pro" in out and "prompt from stdin" in out
    monkeypatch.setattr(sys, "stdin", io.StringIO("  "))
    code, _, err = cli("generate")
    assert code == 2 and "prompt" in err


def test_quota_project_flag_and_its_error(emulator: Emulator, cli: Cli) -> None:
    seed(emulator)
    emulator.control.set_project("quota-off", 31337, api_enabled=False)
    code, out, err = cli("generate", "--quota-project", "quota-off", "hi")
    assert code == 4 and out.strip() == ""
    assert (
        "SERVICE_DISABLED" in err and "Enable the Generative Language API in project 31337" in err
    )
    code, _, err = cli("models", "list", "--quota-project", "not-mine")
    assert code == 4 and "roles/serviceusage.serviceUsageConsumer" in err


def test_not_logged_in(emulator: Emulator, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    code, _, err = cli("models", "list")
    assert code == 3 and "gemini-oauth login" in err
    seed(emulator)
    code, _, err = cli("models", "list", "--profile", "work")
    assert code == 3 and "--profile work" in err


def test_models_list_with_adc(
    emulator: Emulator, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No profile: the ADC file (here gcloud's format, token host at the emulator) is used."""
    from gemini_oauth import _adc as adc

    grant = emulator.control.issue_grant([CLOUD_PLATFORM, RETRIEVER])
    client = client_from_dict(emulator.client_secret_json())
    result = LoginResult(grant["access_token"], grant["refresh_token"], 0.0, (CLOUD_PLATFORM,))
    adc.write_adc(result, client)
    monkeypatch.setenv(adc.TOKEN_HOST_ENV, emulator.base_url + "/token")
    code, out, _ = cli("models", "list", "--adc")
    assert code == 0 and out.splitlines()
    proc = subprocess.run(  # as a process: the library's warning reaches the terminal
        [sys.executable, "-m", "gemini_oauth", "models", "get", MODEL, "--adc", "--endpoint",
         emulator.base_url],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "No quota project" in proc.stderr and "adc set-quota-project" in proc.stderr
    code, out, _ = cli("models", "get", MODEL, "--json")  # no profile at all: ADC too
    assert code == 0 and json.loads(out)["name"] == f"models/{MODEL}"
    adc.set_quota_project("quota-off")
    emulator.control.set_project("quota-off", 4040, api_enabled=False)
    code, _, err = cli("generate", "--adc", "hi")  # the file's quota project is sent
    assert code == 4 and "project 4040" in err
    assert counters(emulator)["token.refresh_token"] >= 1
    cli.assert_no_secrets([grant["access_token"], grant["refresh_token"], emulator.client_secret])


# ---------------------------------------------------------------- real processes


def test_commands_as_processes(emulator: Emulator) -> None:
    secrets = seed(emulator)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def gemini_oauth(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gemini_oauth", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    listed = gemini_oauth("models", "list", "--all", "--endpoint", emulator.base_url)
    assert listed.returncode == 0, listed.stderr
    assert any(line.startswith(MODEL + "\t") for line in listed.stdout.splitlines())
    said = gemini_oauth("generate", "--endpoint", emulator.base_url, "hello process")
    assert said.returncode == 0 and "hello process" in said.stdout
    missing = gemini_oauth("models", "get", "nope", "--endpoint", emulator.base_url)
    assert missing.returncode == 4 and "error:" in missing.stderr
    for proc in (listed, said, missing):
        for secret in secrets:
            assert secret not in proc.stdout + proc.stderr


def test_generate_writes_each_chunk_as_it_arrives(
    emulator: Emulator, held_waits: HeldWaits
) -> None:
    """Through a pipe, each chunk's text is readable while the emulator still holds back the next
    chunk: output buffered until exit would leave the emulator waiting."""
    import threading

    from gemini_oauth.emulator._gemini import CHUNK_PAUSE

    seed(emulator)
    prompt = " ".join(f"w{n}" for n in range(40))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gemini_oauth", "generate", "--endpoint", emulator.base_url, prompt],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    reads: list[bytes] = []
    try:
        assert proc.stdout is not None
        while data := os.read(proc.stdout.fileno(), 65536):
            reads.append(data)
            held_waits.release()  # only now may the emulator send the next chunk
    finally:
        watchdog.cancel()
        proc.wait(10)
    assert proc.returncode == 0
    assert b"w0 w1 w2" in b"".join(reads)
    assert len(held_waits.requested) >= 3 and set(held_waits.requested) == {CHUNK_PAUSE}
    assert not held_waits.overran  # buffered, the first chunk would wait for the last


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_models_list_table_on_a_terminal(emulator: Emulator) -> None:
    seed(emulator)
    leader, follower = os.openpty()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "160"}
    args = ["models", "list", "--limit", "3", "--endpoint", emulator.base_url]  # fits the pty
    with os.fdopen(leader, "rb", buffering=0) as screen:
        proc = subprocess.run(
            [sys.executable, "-m", "gemini_oauth", *args],
            stdout=follower,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
        )
        os.close(follower)
        shown = screen.read(65536).decode()
    assert proc.returncode == 0
    assert "Display name" in shown and "Methods" in shown and "\t" not in shown


# ---------------------------------------------------------------- terminal escapes

_ESCAPES = "\x1b]52;c;cGF3bmVk\x07\x1b[2J\x9b31m\r"  # clipboard write, clear, 8-bit CSI, CR


def _on_a_terminal(args: list[str]) -> tuple[int, str]:
    """Run the CLI as a process with stdout on a pseudo-terminal; what the screen received."""
    leader, follower = os.openpty()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "200"}
    with os.fdopen(leader, "rb", buffering=0) as screen:
        proc = subprocess.Popen([sys.executable, "-m", "gemini_oauth", *args], stdout=follower,
                                stderr=subprocess.DEVNULL, env=env)  # fmt: skip
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = screen.read(65536)
            except OSError:  # EIO: the process closed its end
                break
            if not chunk:
                break
            shown += chunk
        code = proc.wait(60)
    return code, shown.decode("utf-8", "replace")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_model_output_on_a_terminal_carries_no_escapes(emulator: Emulator) -> None:
    """Finding 7: an OSC 52 clipboard write in the answer reached the terminal. (The emulator's
    answers quote the prompt.) Through a pipe, the text is the data, unchanged."""
    seed(emulator)
    prompt = f"say {_ESCAPES} please"
    for stream in ([], ["--no-stream"]):
        code, shown = _on_a_terminal(["generate", *stream, "--endpoint", emulator.base_url, prompt])
        assert code == 0 and "say ]52;c;cGF3bmVk" in shown
        assert not {"\x1b", "\x9b", "\x07"} & set(shown)
    piped = subprocess.run(
        [sys.executable, "-m", "gemini_oauth", "generate", "--endpoint", emulator.base_url, prompt],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert piped.returncode == 0 and "say \x1b]52;c;cGF3bmVk\x07" in piped.stdout


def test_server_text_in_errors_and_listings_carries_no_escapes(
    emulator: Emulator, cli: Cli
) -> None:
    """Finding 7 and 12: an API error message and the names of models, from a hostile server."""
    seed(emulator)
    error = {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                       "message": f"bad {_ESCAPES} request ya29.leaked-token-value"}}  # fmt: skip
    emulator.control.add_fault("/v1/models", 400, body=error)
    code, out, err = cli("models", "list")
    assert code == 4 and "bad ]52;c;cGF3bmVk[2J31m request" in err
    assert not {"\x1b", "\x9b", "\x07", "\r"} & set(err) and "leaked-token" not in err
    listing = {"models": [{"name": f"models/evil{_ESCAPES}", "displayName": "a\tb\nc"}]}
    emulator.control.add_fault("/v1/models", 200, body=listing)
    code, out, _ = cli("models", "list")
    assert code == 0 and not {"\x1b", "\x9b", "\x07", "\r"} & set(out)
    assert out.split("\t")[:2] == ["evil]52;c;cGF3bmVk[2J31m", "a b c"]
    emulator.control.add_fault("/v1/models", 200, body=listing)
    code, out, _ = cli("models", "list", "--json")
    assert code == 0 and json.loads(out)[0]["name"] == f"models/evil{_ESCAPES}"  # data intact
    assert "\x9b" not in out and "\\u009b" in out


def test_library_errors_carry_the_servers_text_made_safe(emulator: Emulator) -> None:
    """Finding 12: not only the CLI's printout, the exception itself."""
    from gemini_oauth import GeminiClient
    from gemini_oauth.errors import ApiError

    seed(emulator)
    error = {
        "error": {
            "code": 400,
            "message": f"bad {_ESCAPES} ya29.leaked-token-value",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "X\x1bY",
                    "metadata": {"k": "v\x1b]0;t\x07"},
                }
            ],
        }
    }
    emulator.control.add_fault("/v1/models", 400, body=error)  # fmt: skip
    with GeminiClient(base_url=emulator.base_url) as api, pytest.raises(ApiError) as info:
        api.list_models()
    shown = f"{info.value} {info.value.reason} {info.value.metadata}"
    assert "\x1b" not in shown and "\x07" not in shown and "leaked-token" not in shown
    assert "ya29.[REDACTED]" in info.value.message


def test_models_list_json_as_a_process_holds_every_v1_model(emulator: Emulator) -> None:
    """Issue 11's proof: piped and with --json, all 57 v1 models (the first page holds 50)."""
    from gemini_oauth.emulator._catalogue import list_models

    seed(emulator)
    done = subprocess.run(
        [sys.executable, "-m", "gemini_oauth", "models", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
             "GOOGLE_GEMINI_BASE_URL": emulator.base_url},
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""
    names = [m["name"] for m in json.loads(done.stdout)]
    assert len(names) == len(set(names)) == len(list_models("v1")) == 57
    assert counters(emulator)["models.list"] == 2  # two pages
