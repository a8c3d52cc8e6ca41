"""End to end: no token, code, verifier or client secret ever reaches the terminal, even verbose.

Every command runs as a real process with --verbose against the emulator; afterwards every secret
the emulator ever issued or holds is looked for in everything printed. The one exception is the
stdout of print-access-token, which is the token by design (as is `curl --print-headers`, which
is not run here).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from base64 import urlsafe_b64encode
from collections.abc import Collection
from pathlib import Path

import pytest

from gemini_oauth import _clock
from gemini_oauth import _store as store
from gemini_oauth._client_secrets import client_from_dict
from gemini_oauth._credentials import save_login
from gemini_oauth._flow import LoginResult
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import DEFAULT_SCOPES

SCRIPT = str(Path(sys.executable).parent / "gemini-oauth")
BROWSER = f"{sys.executable} -m gemini_oauth._useragent %s"
MASK = "[REDACTED]"
# Shapes of what the emulator issues, built at runtime (committed text never looks like a secret).
SHAPES = [re.escape(p) + r"(?!\[REDACTED\])" for p in ("ya" + "29.", "1" + "//emu.", "4" + "/emu.")]
SHAPES += [
    r"\beyJ[\w-]+\.eyJ",  # an id_token (JWT)
    r"(?<![\w-])code=(?!\[REDACTED\])",  # an authorization code in a URL or form
    r"code_verifier=(?!\[REDACTED\])",
    "emulator-client-secret",
    "emulator-api-key",
]


class Session:
    """Runs gemini-oauth as a process in one isolated home and keeps all it printed."""

    def __init__(self, home: Path, base_url: str | None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_OAUTH_", "SSH_"))}
        env.update(GEMINI_OAUTH_HOME=str(home), BROWSER=BROWSER)
        if base_url:
            env["GOOGLE_GEMINI_BASE_URL"] = base_url
        self.env, self.home = env, home
        self.printed: list[str] = []

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [SCRIPT, *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        assert (done.returncode == 0) is ok, done.stderr
        self.printed += [done.stdout, done.stderr]
        return done

    def profile(self) -> dict[str, str]:
        return dict(json.loads((self.home / "profiles" / "default.json").read_text()))


def _s256(verifier: str) -> str:
    return urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def emulator_secrets(emu: Emulator) -> set[str]:
    """Every secret the emulator knows: codes, access and refresh tokens, client secrets, keys."""
    state = emu.state
    with state.lock:
        found = set(state.codes) | set(state.access_tokens) | set(state.refresh_tokens)
        found |= {c.client_secret for c in state.clients.values()} | set(state.api_keys)
    return found


def challenges(emu: Emulator) -> set[str]:
    with emu.state.lock:
        return {c.challenge for c in emu.state.codes.values() if c.challenge}


def assert_no_secret(texts: list[str], secrets: set[str], pkce: Collection[str] = ()) -> None:
    """None of ``secrets``, no secret shape, and no PKCE verifier of ``pkce`` challenges."""
    text = "\n".join(texts)
    assert secrets and all(len(s) >= 8 for s in secrets)
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"leaked: {[s[:12] + '...' for s in leaked]}"
    for shape in SHAPES:
        match = re.search(shape, text)
        assert match is None, f"{shape!r} at ...{text[max(0, match.start() - 80) : match.end()]}"
    # A verifier is 43-128 unreserved characters whose S256 is a challenge the emulator holds.
    for run in re.findall(r"[A-Za-z0-9._~-]{43,}", text):
        for size in range(43, min(len(run), 128) + 1):
            for start in range(len(run) - size + 1):
                assert _s256(run[start : start + size]) not in pkce, "a PKCE verifier leaked"


@pytest.mark.slow
def test_cli_session_verbose_prints_no_secret(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    run = Session(tmp_path / "home", emulator.base_url)
    login = run("--verbose", "login", "--client-secret", str(client_secret_file))
    assert "HTTP Request: POST " + emulator.base_url + "/token" in login.stderr  # it did log
    first = run.profile()
    secrets = emulator_secrets(emulator) | {first["token"], first["refresh_token"]}
    pkce = challenges(emulator)
    assert len(pkce) == 1 and first["client_secret"] == emulator.client_secret

    run("--verbose", "status")
    run("status", "--json")
    for args in (["--verbose", "print-access-token"], ["print-access-token"]):  # full, fast path
        done = run(*args)
        assert done.stdout == first["token"] + "\n" and first["token"] not in done.stderr
        run.printed.remove(done.stdout)
    models = run("--verbose", "models", "list", "--json")
    assert json.loads(models.stdout)
    assert "Emulated reply" in run("--verbose", "generate", "hi").stdout

    emulator.control.advance_clock(3700)  # the server now refuses the token: 401, then a refresh
    assert "Emulated reply" in run("--verbose", "generate", "--no-stream", "again").stdout
    second = run.profile()
    assert second["token"] != first["token"]
    assert emulator.control.counters()["token.refresh_token"] == 1
    secrets |= emulator_secrets(emulator) | {second["token"]}

    run("--verbose", "logout", "--yes")
    assert not (run.home / "profiles" / "default.json").exists()
    secrets |= emulator_secrets(emulator)
    assert_no_secret(run.printed, secrets, pkce)


def test_adc_verbose_prints_no_secret(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    run = Session(tmp_path / "home", emulator.base_url)
    run.env.update(
        CLOUDSDK_CONFIG=str(tmp_path / "gcloud"),
        CLOUDSDK_AUTH_TOKEN_HOST=emulator.base_url + "/token",
    )
    run("--verbose", "adc", "login", "--client-secret", str(client_secret_file))
    pkce = challenges(emulator)
    done = run("--verbose", "adc", "print-access-token")
    assert done.stdout.strip() in emulator.state.access_tokens
    assert done.stdout.strip() not in done.stderr
    run.printed.remove(done.stdout)
    assert "gemini-2.5-pro" in run("--verbose", "models", "list", "--adc").stdout
    run("--verbose", "adc", "revoke", "--yes")
    assert emulator.control.counters()["revoke"] == 1
    assert_no_secret(run.printed, emulator_secrets(emulator), pkce)


def test_headless_paste_prints_no_code(
    emulator: Emulator, client_secret_file: Path, tmp_path: Path
) -> None:
    """A pasted redirect that fails a check, then a good one: neither code is ever echoed."""
    from gemini_oauth._useragent import approve

    run = Session(tmp_path / "home", emulator.base_url)
    env = {k: v for k, v in run.env.items() if k not in ("BROWSER", "DISPLAY")}
    args = ["--verbose", "login", "--client-secret", str(client_secret_file), "--no-browser"]
    proc = subprocess.Popen(
        [SCRIPT, *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        head = [proc.stderr.readline()]
        while len(head) < 30 and not head[-1].startswith("    http://"):
            head.append(proc.stderr.readline())
        url = head[-1].strip()
        good = approve(url, follow_redirect=False)
        forged = good.replace("state=", "state=x")
        out, err = proc.communicate(f"{forged}\n{good}\n", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "does not fit this login" in err, err
    assert_no_secret(["".join(head), out, err], emulator_secrets(emulator), challenges(emulator))


def test_demo_verbose_prints_no_secret(tmp_path: Path) -> None:
    run = Session(tmp_path / "home", None)
    done = run("demo", "--verbose")  # after the command name works too
    assert "Done in" in done.stdout and "HTTP Request: POST http://127.0.0.1:" in done.stderr
    assert f"state={MASK}" in done.stderr  # the user agent's request, logged and redacted
    assert_no_secret(run.printed, {"emulator-client-secret"})


def _seed_shaped_client(emulator: Emulator) -> tuple[dict[str, str], str]:
    """A login through a client whose secret has Google's shape; its token response and secret."""
    client_id, secret = "2000000000002-shaped.apps.googleusercontent.com", "GOC" + "SPX-" + "x" * 28
    emulator.control.add_client(client_id, secret)
    body = emulator.control.issue_grant(list(DEFAULT_SCOPES), client_id=client_id)
    result = LoginResult(
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=_clock.now() + 3600,
        granted_scopes=tuple(DEFAULT_SCOPES),
        account=emulator.user_email,
    )
    installed = {**emulator.client_secret_json()["installed"], "client_id": client_id}
    client = client_from_dict({"installed": {**installed, "client_secret": secret}})
    save_login(result, client, file=store.profile_file("default"))
    return dict(body), secret


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        # a token endpoint that echoes the secrets it was sent in its error description
        (400, {"error": "invalid_request", "error_description": "bad refresh_token={rt} {cs}"}),
        (503, {"error": "unavailable", "error_description": "try later, holder of {rt}"}),
        # a malformed success: an access token that is not a string
        (200, {"access_token": {"echo": "{rt}", "secret": "{cs}"}, "expires_in": 3600}),
        # refused outright: the cached login is removed
        (400, {"error": "invalid_grant", "error_description": "Token {rt} has been revoked."}),
    ],
)
def test_failed_refresh_prints_no_secret(
    emulator: Emulator, tmp_path: Path, status: int, answer: dict[str, object]
) -> None:
    """The token endpoint misbehaves during a refresh, even echoing what it was sent; whatever
    fails, nothing secret is shown. (The client secret has Google's GOCSPX- shape here: a secret
    of no known shape, echoed in free text by the server, could not be recognised.)"""
    body, cs = _seed_shaped_client(emulator)
    run = Session(Path(os.environ["GEMINI_OAUTH_HOME"]), emulator.base_url)
    rt = body["refresh_token"]
    echoed = json.loads(json.dumps(answer).replace("{rt}", rt).replace("{cs}", cs))
    emulator.control.advance_clock(3700)
    # A 503 comes with a Retry-After past the refresh's deadline: reported at once, no waiting
    # (the retries themselves are tested in-process, with the sleep injected).
    wait = 60 if status >= 500 else None
    emulator.control.add_fault("/token", status, count=None, body=echoed, retry_after=wait)
    for args in (["--verbose", "generate", "hi"], ["models", "list"]):
        done = run(*args, ok=False)
        assert done.returncode in (3, 4) and "error: " in done.stderr
        assert "Traceback" not in done.stderr
        if not (run.home / "profiles" / "default.json").exists():
            break
    assert emulator.control.counters()["faults"] >= 1  # the refresh did reach the endpoint
    assert_no_secret(run.printed, emulator_secrets(emulator) | {body["access_token"], cs})
