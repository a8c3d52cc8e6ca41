"""A fleet on one expired grant: 4 "machines" x 8 processes of `gemini-oauth print-access-token`.

Ours: every process shares one Redis (GEMINI_OAUTH_CACHE_URL) and nothing else (a home of its
own per machine). The peer, from the same run and emulator: the same fleet with one copy of
token.json per machine (the file store's own cross-process lock within a machine, nothing
between machines), which is what people do today. Printed: refreshes at the emulator's token
endpoint (target: exactly 1 for ours), distinct tokens, failures and the wall time.
Needs redis-server. Run: .venv/bin/python benchmarks/bench_redis_fleet.py [MACHINES] [PROCESSES]
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gemini_oauth import _clock
from gemini_oauth import _store as store
from gemini_oauth._cache_backend import profile_record
from gemini_oauth._client_secrets import client_from_dict
from gemini_oauth._credentials import save_login
from gemini_oauth._flow import LoginResult
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


def expired_login(emu: Emulator) -> tuple[LoginResult, object]:
    body = emu.control.issue_grant(SCOPES)
    result = LoginResult(
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=_clock.now() - 10,
        granted_scopes=tuple(SCOPES),
        account=emu.user_email,
    )
    return result, client_from_dict(emu.client_secret_json())


def refreshes(emu: Emulator) -> int:
    return emu.control.counters().get("token.refresh_token", 0)


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            time.sleep(0.02)
    raise SystemExit("redis-server did not start")


def fleet(
    root: Path, machines: int, per: int, env: dict[str, str]
) -> tuple[set[str], list[str], float]:
    """Start every process of every machine together; the tokens printed, failures, wall time."""
    root.mkdir(parents=True, exist_ok=True)
    go = root / "go"
    go.unlink(missing_ok=True)
    procs = []
    for m in range(machines):
        machine_env = {**os.environ, **env, "GEMINI_OAUTH_HOME": str(root / f"m{m}")}
        for _ in range(per):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", LAUNCHER, str(go), str(SCRIPT), "print-access-token"],
                    env=machine_env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
    time.sleep(1.5)  # let every launcher reach its wait loop
    start = time.perf_counter()
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    elapsed = time.perf_counter() - start
    failed = [e.strip().splitlines()[-1][:120] for p, (_, e) in zip(procs, outs, strict=True)
              if p.returncode != 0]  # fmt: skip
    return {o.strip() for o, _ in outs if o.strip()}, failed, elapsed


def main() -> None:
    machines = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    with tempfile.TemporaryDirectory() as tmp, Emulator() as emu:
        root = Path(tmp)
        server, port = start_redis(root)
        try:
            url = f"redis://127.0.0.1:{port}/0"
            result, client = expired_login(emu)
            save_login(result, client, file=profile_record(cache=url))  # type: ignore[arg-type]
            before = refreshes(emu)
            ours = fleet(root / "redis", machines, per, {"GEMINI_OAUTH_CACHE_URL": url})
            our_refreshes = refreshes(emu) - before

            result, client = expired_login(emu)
            for m in range(machines):  # one token.json copy per machine
                home = root / "copies" / f"m{m}"
                save_login(result, client, file=store.profile_file("default", home))  # type: ignore[arg-type]
            before = refreshes(emu)
            peer = fleet(root / "copies", machines, per, {})
            peer_refreshes = refreshes(emu) - before
        finally:
            server.kill()
            server.wait()

    print(f"{machines} machines x {per} processes of print-access-token on one expired token:")
    print("                               one Redis     token.json per machine")
    print(f"  refreshes at token endpoint  {our_refreshes:>9}     {peer_refreshes:>9}")
    print(f"  distinct tokens printed      {len(ours[0]):>9}     {len(peer[0]):>9}")
    print(f"  processes failed             {len(ours[1]):>9}     {len(peer[1]):>9}")
    print(f"  wall time                    {ours[2]:>8.2f}s     {peer[2]:>8.2f}s")
    for reason in sorted(set(ours[1] + peer[1])):
        print(f"  failure: {reason}")
    ok = our_refreshes == 1 and len(ours[0]) == 1 and not ours[1]
    print(
        "target (exactly 1 refresh for the fleet, 1 token, no failure):", "met" if ok else "MISSED"
    )


if __name__ == "__main__":
    main()
