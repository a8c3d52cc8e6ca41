"""Many refreshers, one expired token: refreshes at the token endpoint, tokens printed, torn files.

32 processes of `gemini-oauth print-access-token` released together on one expired cache, then
64 threads in one process; beside the peer: the same 32 processes running the quickstart's
load_creds pattern (google-auth Credentials.refresh, each writing token.json), against the same
emulator. Run: .venv/bin/python benchmarks/bench_concurrent_refresh.py [PROCESSES]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gemini_oauth import _clock
from gemini_oauth import _store as store
from gemini_oauth._client_secrets import client_from_dict
from gemini_oauth._credentials import load_profile, save_login
from gemini_oauth._flow import LoginResult
from gemini_oauth._transport import HttpxRequest
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import CLOUD_PLATFORM, RETRIEVER

SCRIPT = Path(sys.executable).parent / "gemini-oauth"
SCOPES = [CLOUD_PLATFORM, RETRIEVER]

# Waits for the start signal, then becomes the real command: all start within a millisecond.
LAUNCHER = """
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.001)
os.execv(sys.argv[2], sys.argv[2:])
"""

# The quickstart's load_creds() pattern; token_uri pointed at the emulator, because
# from_authorized_user_file always replaces it with Google's.
QUICKSTART = """
import os.path, sys
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials

creds = Credentials.from_authorized_user_file("token.json", sys.argv[1].split())
creds._token_uri = sys.argv[2]
if not creds.valid:
    creds.refresh(Request())
    with open("token.json", "w") as token:
        token.write(creds.to_json())
print(creds.token)
"""


def seed(emu: Emulator, file: store.TokenFile) -> None:
    body = emu.control.issue_grant(SCOPES)
    result = LoginResult(
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=_clock.now() - 10,
        granted_scopes=tuple(SCOPES),
        account=emu.user_email,
    )
    save_login(result, client_from_dict(emu.client_secret_json()), file=file)


def refreshes(emu: Emulator) -> int:
    return emu.control.counters().get("token.refresh_token", 0)


class TearWatch(threading.Thread):
    """Reads the file in a loop while the refreshers run; counts reads that are not valid JSON."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.reads, self.torn, self.stop = path, 0, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                json.loads(self.path.read_bytes())
            except FileNotFoundError:
                pass
            except ValueError:
                self.torn += 1
            self.reads += 1
            time.sleep(0.0005)  # leave the GIL to the emulator thread


def race(cmds: list[list[str]], cwd: Path, watch: Path) -> tuple[list[str], list[str], int, float]:
    go = cwd / "go"
    go.unlink(missing_ok=True)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(go), *cmd],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cmd in cmds
    ]
    time.sleep(1.0)  # let every launcher reach its wait loop
    watcher = TearWatch(watch)
    watcher.start()
    start = time.perf_counter()
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    elapsed = time.perf_counter() - start
    watcher.stop.set()
    watcher.join()
    failures = [_last_line(e) for p, (_, e) in zip(procs, outs, strict=True) if p.returncode != 0]
    return [o for o, _ in outs if o], failures, watcher.torn, elapsed


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:120] if lines else "(no output)"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    with tempfile.TemporaryDirectory() as tmp, Emulator() as emu:
        root = Path(tmp)
        os.environ["GEMINI_OAUTH_HOME"] = str(root / "home")
        file = store.profile_file("default")

        seed(emu, file)
        before = refreshes(emu)
        outs, failed, torn, secs = race([[str(SCRIPT), "print-access-token"]] * n, root, file.path)
        ours = (refreshes(emu) - before, len(set(outs)), failed, torn, secs)
        final_ok = store.is_cache_data(json.loads(file.path.read_text()))

        seed(emu, file)
        before = refreshes(emu)
        shared = load_profile()
        barrier = threading.Barrier(64)
        tokens: list[str] = []

        def work(i: int) -> None:
            creds = shared if i % 2 else load_profile()
            barrier.wait(timeout=60)
            creds.refresh(HttpxRequest())
            tokens.append(creds.token)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        threaded = (refreshes(emu) - before, len(set(tokens)), len(tokens))

        seed(emu, file)
        data = file.read()
        assert data is not None
        (root / "token.json").write_text(json.dumps(data))
        (root / "quickstart.py").write_text(QUICKSTART)
        before = refreshes(emu)
        cmd = [sys.executable, "quickstart.py", " ".join(SCOPES), emu.base_url + "/token"]
        p_outs, p_failed, p_torn, p_secs = race([cmd] * n, root, root / "token.json")
        peer_refreshes = refreshes(emu) - before
        try:
            json.loads((root / "token.json").read_text())
            peer_final = "valid JSON"
        except ValueError:
            peer_final = "CORRUPT"

    print(f"{n} processes started together on one expired token:")
    print("                               gemini-oauth    quickstart load_creds")
    print(f"  refreshes at token endpoint  {ours[0]:>12}    {peer_refreshes:>12}")
    print(f"  distinct tokens printed      {ours[1]:>12}    {len(set(p_outs)):>12}")
    print(f"  processes failed             {len(ours[2]):>12}    {len(p_failed):>12}")
    print(f"  torn reads of the cache      {ours[3]:>12}    {p_torn:>12}")
    print(
        f"  cache file at the end        {'valid' if final_ok else 'BAD':>12}    {peer_final:>12}"
    )
    print(f"  wall time                    {ours[4]:>11.2f}s    {p_secs:>11.2f}s")
    print(f"64 threads in one process: {threaded[0]} refresh(es), {threaded[1]} distinct token(s)")
    for reason in sorted(set(ours[2])):
        print(f"  gemini-oauth failure: {reason}")
    for reason in sorted(set(p_failed)):
        print(f"  quickstart failure: {reason}")
    ok = ours[0] == ours[1] == 1 and not ours[2] and ours[3] == 0 and threaded[:2] == (1, 1)
    print("targets (1 refresh, 1 token, never torn):", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
