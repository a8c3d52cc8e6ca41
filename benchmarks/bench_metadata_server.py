"""The metadata server under load and warm, in one run against the emulator.

1. `gemini-oauth metadata-server` as a process on an expired grant; 32 processes ask it for a
   token at the same moment: refreshes at the emulator's token endpoint (target: exactly 1) and
   distinct tokens handed out (target: 1).
2. Warm: a token fetch (GET .../token over a kept-alive connection, as a client library's
   session does) beside google-auth's own `compute_engine.Credentials.refresh()` end to end
   (service-account info, then the token), p50 and p99 of each.

Run: .venv/bin/python benchmarks/bench_metadata_server.py [PROCESSES] [FETCHES]
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gemini_oauth import _clock
from gemini_oauth import _store as store
from gemini_oauth._client_secrets import client_from_dict
from gemini_oauth._constants import REFRESH_MARGIN
from gemini_oauth._credentials import save_login
from gemini_oauth._flow import LoginResult
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import DEFAULT_SCOPES

SCRIPT = Path(sys.executable).parent / "gemini-oauth"
TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"

# Imports first, then waits for the start signal: every request leaves within a millisecond.
ASKER = """
import os, sys, time, urllib.request
request = urllib.request.Request(sys.argv[2], headers={"Metadata-Flavor": "Google"})
while not os.path.exists(sys.argv[1]):
    time.sleep(0.001)
with urllib.request.urlopen(request, timeout=60) as answer:
    print(__import__("json").load(answer)["access_token"])
"""


def seed(emu: Emulator, lifetime: float) -> None:
    body = emu.control.issue_grant(list(DEFAULT_SCOPES))
    result = LoginResult(
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=_clock.now() + lifetime,
        granted_scopes=DEFAULT_SCOPES,
        account=emu.user_email,
    )
    client = client_from_dict(emu.client_secret_json())
    save_login(result, client, file=store.profile_file("default"))


def refreshes(emu: Emulator) -> int:
    return emu.control.counters().get("token.refresh_token", 0)


def start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [str(SCRIPT), "metadata-server"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    host = proc.stdout.readline().strip().split("=", 1)[1]  # export GCE_METADATA_HOST=...
    return proc, host


def stampede(host: str, n: int, root: Path) -> tuple[list[str], int, float]:
    go = root / "go"
    url = f"http://{host}{TOKEN_PATH}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ASKER, str(go), url], stdout=subprocess.PIPE, text=True
        )
        for _ in range(n)
    ]
    time.sleep(1.0)  # let every asker reach its wait loop
    start = time.perf_counter()
    go.touch()
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    elapsed = time.perf_counter() - start
    return outs, sum(p.returncode != 0 for p in procs), elapsed


def raw_fetches(host: str, count: int) -> list[float]:
    name, port = host.rsplit(":", 1)
    conn = http.client.HTTPConnection(name, int(port), timeout=30)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        conn.request("GET", TOKEN_PATH, headers={"Metadata-Flavor": "Google"})
        answer = conn.getresponse()
        json.loads(answer.read())["access_token"]
        times.append(time.perf_counter() - start)
    conn.close()
    return times


def google_auth_refreshes(host: str, count: int) -> list[float]:
    os.environ["GCE_METADATA_HOST"] = os.environ["GCE_METADATA_IP"] = host
    from google.auth import compute_engine
    from google.auth.compute_engine import _metadata
    from google.auth.transport.requests import Request

    _metadata._GCE_METADATA_HOST = host  # read once at import; set for this process
    request = Request()
    times = []
    for _ in range(count):
        creds = compute_engine.Credentials()
        start = time.perf_counter()
        creds.refresh(request)
        times.append(time.perf_counter() - start)
        assert creds.token
    return times


def quantiles(times: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    fetches = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    with tempfile.TemporaryDirectory() as tmp, Emulator() as emu:
        root = Path(tmp)
        os.environ["GEMINI_OAUTH_HOME"] = str(root / "home")
        # The server checks the login as it starts, so the token lasts just past the refresh
        # margin then, and is within it (as good as expired) when the askers come.
        seed(emu, REFRESH_MARGIN + 2)
        proc, host = start_server()
        try:
            start_refreshes = refreshes(emu)
            time.sleep(3)
            emu.control.add_fault("/token", latency=0.2)  # a refresh long enough to pile onto
            before = refreshes(emu)
            tokens, failed, secs = stampede(host, n, root)
            stampede_refreshes = refreshes(emu) - before
            raw = raw_fetches(host, fetches)
            library = google_auth_refreshes(host, fetches // 2)
            warm_refreshes = refreshes(emu) - before - stampede_refreshes
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
    print(f"{n} processes asked `gemini-oauth metadata-server` for a token at once, grant expired:")
    print(f"  refreshes at the token endpoint  {stampede_refreshes} (start-up: {start_refreshes})")
    print(f"  distinct tokens handed out       {len(set(tokens))}")
    print(f"  processes failed                 {failed}")
    print(f"  wall time                        {secs:.2f} s (token endpoint latency 0.2 s)")
    r50, r99 = quantiles(raw)
    g50, g99 = quantiles(library)
    print("warm server (no refresh needed):                    p50        p99")
    print(f"  token fetch, kept-alive connection ({len(raw)})   {r50:6.2f} ms  {r99:6.2f} ms")
    print(f"  google-auth compute_engine refresh() ({len(library)}) {g50:6.2f} ms  {g99:6.2f} ms")
    print(f"  refreshes during the warm runs   {warm_refreshes}")
    ok = (
        stampede_refreshes == 1
        and len(set(tokens)) == 1
        and not failed
        and not warm_refreshes
        and not start_refreshes
    )
    print("targets (1 refresh, 1 token, no failures, none while warm):", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
