"""Whole-process cost of printing a valid cached access token, beside `python -c pass` and the
quickstart's load_creds pattern (google-auth + google_auth_oauthlib reading token.json).

Run: .venv/bin/python benchmarks/bench_print_access_token.py [N]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SCRIPT = BIN / "gemini-oauth"

QUICKSTART = """
import os.path

from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import InstalledAppFlow

SCOPES = ["https://www.googleapis.com/auth/generative-language.retriever"]


def load_creds():
    creds = None
    if os.path.exists("token.json"):
        creds = Credentials.from_authorized_user_file("token.json", SCOPES)
    if not creds or not creds.valid:
        if creds and creds.expired and creds.refresh_token:
            creds.refresh(Request())
        else:
            flow = InstalledAppFlow.from_client_secrets_file("client_secret.json", SCOPES)
            creds = flow.run_local_server(port=0)
        with open("token.json", "w") as token:
            token.write(creds.to_json())
    return creds


print(load_creds().token)
"""


def wrapper_floor() -> str:
    """What the installed bin/gemini-oauth does besides calling us: the floor of any console script.

    pip >= 24 writes a wrapper that imports only sys; older pips also import re (about 8 ms), which
    is why the README's commands upgrade pip first.
    """
    lines = SCRIPT.read_text().splitlines()[1:]
    kept = [line for line in lines if "gemini_oauth" not in line and "main()" not in line]
    return "\n".join(kept) or "pass"


def fake(kind: str) -> str:
    """Obviously fake values, built at runtime."""
    return f"bench-{kind}-" + "0" * 24


def setup(root: Path) -> dict[str, str]:
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3000))
    data = {
        "type": "authorized_user",
        "client_id": "1000000000001-bench.apps.googleusercontent.com",
        "client_secret": fake("secret"),
        "refresh_token": fake("refresh"),
        "account": "tester@example.com",
        "universe_domain": "googleapis.com",
        "token": fake("access"),
        "expiry": expiry,
        "scopes": ["https://www.googleapis.com/auth/generative-language.retriever"],
        "token_uri": "http://127.0.0.1:9/token",
    }
    profiles = root / "home" / "profiles"
    profiles.mkdir(parents=True, mode=0o700)
    (root / "home").chmod(0o700)
    for path in (profiles / "default.json", root / "token.json"):
        path.write_text(json.dumps(data))
        path.chmod(0o600)
    (root / "load_creds.py").write_text(QUICKSTART)
    return {**os.environ, "GEMINI_OAUTH_HOME": str(root / "home")}


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    printed = result.stdout if "--json" not in cmd else json.loads(result.stdout)["access_token"]
    failed = result.returncode != 0 or printed.strip() != fake("access")
    if failed and cmd[1] != "-c":
        raise SystemExit(f"{cmd} failed: {result.returncode} {result.stderr[-500:]}")
    return elapsed


def import_profile(env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    """Modules the hot path imports beyond a bare interpreter (python -X importtime)."""

    def modules(cmd: list[str]) -> set[str]:
        err = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True).stderr
        return {
            ln.split("|")[-1].strip() for ln in err.splitlines() if ln.startswith("import time:")
        }

    py = sys.executable
    base = modules([py, "-X", "importtime", "-c", "pass"])
    ours = modules([py, "-X", "importtime", str(SCRIPT), "print-access-token"])
    extra = sorted(m for m in ours - base if m != "module")
    return len(ours - base), extra


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = setup(root)
        # An installed wheel has bytecode; a source tree under PYTHONDONTWRITEBYTECODE has none.
        import compileall

        import gemini_oauth

        compileall.compile_dir(Path(gemini_oauth.__file__).parent, quiet=1)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "pip's console-script wrapper alone": [sys.executable, "-c", wrapper_floor()],
            "gemini-oauth print-access-token": [str(SCRIPT), "print-access-token"],
            "gemini-oauth print-access-token --json": [
                str(SCRIPT),
                "print-access-token",
                "--json",
            ],
            "quickstart load_creds pattern": [sys.executable, "load_creds.py"],
        }
        for cmd in commands.values():  # warm the page cache
            timed(cmd, env, root)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, cmd in commands.items():
                samples[name].append(timed(cmd, env, root))
        count, extra = import_profile(env, root)
    base = statistics.median(samples["python -c pass"])
    print(f"print-access-token on a valid cached token, {runs} interleaved runs each (median):")
    for name, values in samples.items():
        med = statistics.median(values)
        print(f"  {name:43s} {med * 1000:7.1f} ms   {med / base:5.2f}x python -c pass")
    ours = statistics.median(samples["gemini-oauth print-access-token"])
    peer = statistics.median(samples["quickstart load_creds pattern"])
    print(f"  quickstart / gemini-oauth: {peer / ours:.1f}x slower")
    print(f"  target: within 1.5x of python -c pass -> {'met' if ours / base <= 1.5 else 'MISSED'}")
    as_json = statistics.median(samples["gemini-oauth print-access-token --json"])
    verdict = "met" if as_json / base <= 1.5 else "MISSED"
    print(f"  --json: {as_json / base:.2f}x python -c pass -> {verdict}")
    print(f"hot-path modules beyond `python -c pass` ({count}): {', '.join(extra)}")


if __name__ == "__main__":
    main()
