"""List all models, then make N small generateContent calls against the emulator, three ways, in
one run:

  ours      GeminiClient: one process, one pooled httpx client, token refreshed in-process
  seed      the quickstart's shell way with our CLI: per call a fresh `gemini-oauth
            print-access-token` process and a fresh `curl` process
  gcloud    the quickstart's exact way: per call `gcloud auth application-default
            print-access-token` (CLOUDSDK_AUTH_TOKEN_HOST pointed at the emulator) and `curl`

The emulator keeps HTTP/1.1 connections alive, so ours makes the listing and all N calls over one
pooled connection (tests/test_client.py checks this); against Google, where each new connection
also costs a TLS handshake, that saves more than it does here.
The slow peers make fewer calls (--seed-calls, --gcloud-calls); their totals are extrapolated to
N calls, and the output says so.

Run: .venv/bin/python benchmarks/bench_generate.py [--calls 200] [--seed-calls 30]
     [--gcloud-calls 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gemini_oauth import _store as store
from gemini_oauth._client import GeminiClient
from gemini_oauth._client_secrets import client_from_dict
from gemini_oauth._credentials import save_login
from gemini_oauth._flow import LoginResult
from gemini_oauth._wire import text
from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import CLOUD_PLATFORM, RETRIEVER

MODEL = "gemini-2.5-flash"
SCRIPT = str(Path(sys.executable).parent / "gemini-oauth")
BODY = json.dumps({"contents": [{"role": "user", "parts": [{"text": "Say hi"}]}]})


def login(emu: Emulator, root: Path) -> dict[str, str]:
    """A cached profile for our CLI and an ADC file for gcloud; returns the environment to use."""
    grant = emu.control.issue_grant([CLOUD_PLATFORM, RETRIEVER])
    os.environ["GEMINI_OAUTH_HOME"] = str(root / "home")
    result = LoginResult(
        access_token=grant["access_token"],
        refresh_token=grant["refresh_token"],
        expires_at=time.time() + 3600,
        granted_scopes=(CLOUD_PLATFORM, RETRIEVER),
        account=emu.user_email,
    )
    client = client_from_dict(emu.client_secret_json())
    save_login(result, client, file=store.profile_file(), quota_project=emu.project_id)
    gcloud = root / "gcloud"
    gcloud.mkdir(mode=0o700)
    adc = {
        "type": "authorized_user",
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "refresh_token": grant["refresh_token"],
        "quota_project_id": emu.project_id,
    }
    (gcloud / "application_default_credentials.json").write_text(json.dumps(adc))
    return {
        **os.environ,
        "CLOUDSDK_CONFIG": str(gcloud),
        "CLOUDSDK_AUTH_TOKEN_HOST": emu.base_url + "/token",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "1",
        "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "1",
        "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",  # stay on loopback
        "NO_GCE_CHECK": "True",
    }


def ours(emu: Emulator, calls: int) -> float:
    started = time.perf_counter()
    with GeminiClient(base_url=emu.base_url) as api:
        models = list(api.iter_models(page_size=1000))
        assert models, "no models"
        for _ in range(calls):
            assert text(api.generate_content(MODEL, "Say hi"))
    return time.perf_counter() - started


def shell_way(
    emu: Emulator, env: dict[str, str], calls: int, token_cmd: list[str]
) -> tuple[float, float]:
    """The seed's pattern: a token process, then a curl process, for the listing and each call."""
    url = f"{emu.base_url}/v1/models"

    def curl(target: str, *extra: str) -> str:
        token = subprocess.run(
            token_cmd, capture_output=True, text=True, env=env, check=True, timeout=120
        ).stdout.strip()
        headers = ["-H", f"Authorization: Bearer {token}"]
        headers += ["-H", f"x-goog-user-project: {emu.project_id}"]
        out = subprocess.run(
            ["curl", "-sS", "--fail", *headers, target, *extra],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return out.stdout

    started = time.perf_counter()
    assert json.loads(curl(url + "?pageSize=1000"))["models"]
    listed = time.perf_counter()
    for _ in range(calls):
        reply = curl(
            f"{url}/{MODEL}:generateContent", "-H", "Content-Type: application/json", "-d", BODY
        )
        assert json.loads(reply)["candidates"]
    return listed - started, time.perf_counter() - listed


def report(
    name: str, listing: float, calls: float, made: int, target: int, base: float | None
) -> float:
    """Print one line; a peer that made fewer calls is extrapolated to ``target`` calls."""
    total = listing + calls / max(made, 1) * target
    note = "" if made == target else f"  (measured {made} calls, extrapolated to {target})"
    ratio = "" if base is None else f"  {total / base:6.1f}x ours"
    print(f"{name:7} {total:9.2f} s  {target / total:8.1f} calls/s{ratio}{note}")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seed-calls", type=int, default=30)
    parser.add_argument("--gcloud-calls", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Emulator() as emu:
        env = login(emu, Path(tmp))
        print(f"{args.calls} generateContent calls after listing all models, against the emulator")
        base = report("ours", 0.0, ours(emu, args.calls), args.calls, args.calls, None)
        peers = [("seed", args.seed_calls, [SCRIPT, "print-access-token"])]
        if shutil.which("gcloud") and args.gcloud_calls > 0:
            cmd = ["gcloud", "auth", "application-default", "print-access-token"]
            peers.append(("gcloud", args.gcloud_calls, cmd))
        else:
            print("gcloud  skipped (not installed or --gcloud-calls 0)")
        for name, calls, cmd in peers:
            if calls > 0:
                report(name, *shell_way(emu, env, calls, cmd), calls, args.calls, base)
        counters = emu.control.counters()
        print(
            f"emulator: {counters.get('models.generateContent', 0)} generateContent, "
            f"{counters.get('token.refresh_token', 0)} token refreshes"
        )


if __name__ == "__main__":
    main()
