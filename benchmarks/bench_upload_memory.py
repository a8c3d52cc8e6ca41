"""Peak memory (RSS) of uploading a 200 MB file, each uploader in a fresh process of its own:

  baseline  the process after importing what an upload needs, before uploading
  ours      GeminiClient.upload_file: resumable, streamed from disk 256 KiB at a time
  ours+drop the same, with the connection cut in the middle of a chunk (resumed with query)
  sdk       google-genai's client.files.upload through genai_client() (8 MiB chunks in memory)

The emulator runs in this process; each uploader is a child, whose peak RSS
(``ru_maxrss``) is what is printed. The goal: ours under 60 MB.

Run: .venv/bin/python benchmarks/bench_upload_memory.py [--megabytes 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from gemini_oauth.emulator import Emulator
from gemini_oauth.scopes import CLOUD_PLATFORM

CHILD = r"""
import json, resource, sys
from google.oauth2.credentials import Credentials
args = json.loads(sys.argv[1])
creds = Credentials(args["token"], refresh_token=args["refresh"], token_uri=args["base"] + "/token",
                    client_id=args["client_id"], client_secret=args["client_secret"])
if args["kind"] == "sdk":
    from gemini_oauth import genai_client
    client = genai_client(creds, base_url=args["base"])
else:
    from gemini_oauth import GeminiClient
    client = GeminiClient(creds, base_url=args["base"], sleep=lambda s: None)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if args["kind"] == "sdk":
    size = client.files.upload(file=args["path"]).size_bytes
elif args["kind"] != "baseline":
    size = int(client.upload_file(args["path"])["sizeBytes"])
else:
    size = 0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kb": before, "peak_kb": peak, "size": size}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200, help="file size in MiB")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, Emulator() as emu:
        path = Path(folder) / "big.bin"
        block = bytes(range(256)) * 4096  # 1 MiB, written block by block: never whole in memory
        with open(path, "wb") as out:
            for _ in range(options.megabytes):
                out.write(block)
        size = path.stat().st_size
        print(f"file: {options.megabytes} MiB; peak RSS of each uploader process (ours: < 60 MB)")
        for kind in ("baseline", "ours", "ours+drop", "sdk"):
            if kind == "ours+drop":
                emu.control.add_fault("/upload/v1/files?upload_id=", drop_after=5_000_000, count=1)
            grant = emu.control.issue_grant([CLOUD_PLATFORM])
            args = {
                "kind": kind,
                "path": str(path),
                "base": emu.base_url,
                "token": grant["access_token"],
                "refresh": grant["refresh_token"],
                "client_id": emu.client_id,
                "client_secret": emu.client_secret,
            }
            done = subprocess.run(
                [sys.executable, "-c", CHILD, json.dumps(args)],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
            result = json.loads(done.stdout)
            if kind != "baseline" and result["size"] != size:
                raise SystemExit(f"{kind}: uploaded {result['size']} of {size} bytes")
            print(f"  {kind:<10} peak {result['peak_kb'] / 1024:6.1f} MB")
        counters = emu.control.counters()
        sent = counters["upload.bytes"]
        print(
            f"bytes the server received: {sent / 1e6:.1f} MB for 3 uploads of {size / 1e6:.0f} MB"
        )


if __name__ == "__main__":
    main()
