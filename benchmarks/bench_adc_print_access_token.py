"""Whole-process cost of `gemini-oauth adc print-access-token` from its access-token cache, beside
`python -c pass`, the same command without the fast path (the full CLI reading the same cache),
and `gcloud auth application-default print-access-token` (which refreshes on every call), all
against the emulator's token endpoint in one run.

Run: .venv/bin/python benchmarks/bench_adc_print_access_token.py [N]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gemini_oauth.emulator import Emulator

BIN = Path(sys.executable).parent
SCRIPT = BIN / "gemini-oauth"
GCLOUD = shutil.which("gcloud")
FULL_CLI = (
    "import sys\n"
    "from gemini_oauth._cli._root import run\n"
    "sys.exit(run(['adc', 'print-access-token'] + sys.argv[1:]))"
)


def setup(root: Path, emu: Emulator) -> dict[str, str]:
    """A user's ADC file for the emulator's client, and an environment that uses it."""
    grant = emu.control.issue_grant(["https://www.googleapis.com/auth/cloud-platform"])
    config = root / "gcloud"
    config.mkdir(mode=0o700)
    adc = {
        "account": "",
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "refresh_token": grant["refresh_token"],
        "type": "authorized_user",
        "universe_domain": "googleapis.com",
    }
    (config / "application_default_credentials.json").write_text(json.dumps(adc, indent=2))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDSDK_", "GOOGLE_"))}
    env.update(
        GEMINI_OAUTH_HOME=str(root / "home"),
        CLOUDSDK_CONFIG=str(config),
        CLOUDSDK_AUTH_TOKEN_HOST=f"{emu.base_url}/token",
        CLOUDSDK_CORE_DISABLE_PROMPTS="1",
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true",
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true",
        CLOUDSDK_CORE_CHECK_GCE_METADATA="false",
        NO_GCE_CHECK="true",
    )
    return env


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - start
    printed = cmd[-1] == "pass" or "ya29." in result.stdout
    if result.returncode != 0 or not printed:
        raise SystemExit(f"{cmd} failed: {result.returncode} {result.stderr[-500:]}")
    return elapsed


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    import compileall

    import gemini_oauth

    compileall.compile_dir(Path(gemini_oauth.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory() as tmp, Emulator() as emu:
        env = setup(Path(tmp), emu)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "gemini-oauth adc print-access-token": [str(SCRIPT), "adc", "print-access-token"],
            "  the same, --json": [str(SCRIPT), "adc", "print-access-token", "--json"],
            "  the same, full CLI (no fast path)": [sys.executable, "-c", FULL_CLI],
        }
        if GCLOUD:
            gcloud = [GCLOUD, "auth", "application-default", "print-access-token"]
            commands["gcloud auth application-default print-access-token"] = gcloud
        timed(commands["gemini-oauth adc print-access-token"], env)  # fills the cache
        for cmd in commands.values():  # warms the page cache
            timed(cmd, env)
        refreshes = emu.control.counters().get("token.refresh_token", 0)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, cmd in commands.items():
                samples[name].append(timed(cmd, env))
        refreshed = emu.control.counters().get("token.refresh_token", 0) - refreshes
    base = statistics.median(samples["python -c pass"])
    print(f"adc print-access-token, {runs} interleaved runs each (median), one machine, one run:")
    for name, values in samples.items():
        med = statistics.median(values)
        print(f"  {name:52s} {med * 1000:7.1f} ms   {med / base:5.2f}x python -c pass")
    ours = statistics.median(samples["gemini-oauth adc print-access-token"])
    print(f"  target: within 1.5x of python -c pass -> {'met' if ours / base <= 1.5 else 'MISSED'}")
    if GCLOUD:
        peer = statistics.median(samples["gcloud auth application-default print-access-token"])
        print(f"  gcloud / gemini-oauth: {peer / ours:.0f}x slower")
    print(f"  refreshes at the token endpoint during the timed runs: {refreshed} (gcloud's)")


if __name__ == "__main__":
    main()
