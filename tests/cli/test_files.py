"""files upload|list|get|delete|register, embed, and generate --file, on the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.test_api import Cli, seed

from gemini_oauth.emulator import Emulator


class FilesCli(Cli):
    """The endpoint comes from $GOOGLE_GEMINI_BASE_URL (the commands nest a level deeper)."""

    def __call__(self, *args: str, endpoint: bool = False) -> tuple[int, str, str]:
        return super().__call__(*args, endpoint=endpoint)


@pytest.fixture
def cli(
    capfd: pytest.CaptureFixture[str], emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    return FilesCli(capfd, emulator.base_url)


def test_upload_list_get_delete(cli: Cli, emulator: Emulator, tmp_path: Path) -> None:
    secrets = seed(emulator)
    path = tmp_path / "notes.txt"
    path.write_text("some notes\n")
    code, out, err = cli("files", "upload", str(path), "--display-name", "notes")
    assert code == 0 and out.startswith("files/") and "ACTIVE text/plain, 11 bytes" in err
    name = out.strip()
    code, out, _ = cli("files", "upload", str(path), "--json")
    assert code == 0 and json.loads(out)["sizeBytes"] == "11"
    code, out, _ = cli("files", "list")
    rows = [line.split("\t") for line in out.splitlines()]
    assert (
        code == 0
        and len(rows) == 2
        and rows[1][:5] == [name, "notes", "text/plain", "11", "ACTIVE"]
    )
    code, out, _ = cli("files", "list", "--page-size", "1")  # every page, one file a request
    assert code == 0 and len(out.splitlines()) == 2
    code, out, _ = cli("files", "list", "--limit", "1")
    assert code == 0 and len(out.splitlines()) == 1
    code, out, _ = cli("files", "list", "--json")
    assert code == 0 and len(json.loads(out)) == 2
    code, out, _ = cli("files", "get", name, "--json")
    assert code == 0 and json.loads(out)["displayName"] == "notes"
    code, _, err = cli("files", "delete", name)
    assert code == 2 and "--yes" in err  # no terminal to ask on
    code, out, _ = cli("files", "delete", name, "--yes", "--json")
    assert code == 0 and json.loads(out) == {"deleted": [name]}
    code, _, err = cli("files", "get", name)
    assert code == 4 and "gemini-oauth files list" in err
    cli.assert_no_secrets(secrets)


def test_server_text_is_printed_without_terminal_escapes(
    cli: Cli, emulator: Emulator, tmp_path: Path
) -> None:
    seed(emulator)
    path = tmp_path / "x.txt"
    path.write_text("x")
    code, _, _ = cli("files", "upload", str(path), "--display-name", "evil\x1b]0;pwned\x07name")
    code, out, _ = cli("files", "list")
    assert code == 0 and "\x1b" not in out and "\x07" not in out


def test_register_and_its_errors(cli: Cli, emulator: Emulator) -> None:
    seed(emulator)
    uri = emulator.control.put_object("corpus", "doc.pdf", b"%PDF-1.4", "application/pdf")
    code, out, _ = cli("files", "register", uri)
    assert code == 0 and out.startswith("files/")
    code, _, err = cli("files", "register", "doc.pdf")
    assert code == 2 and "gs://BUCKET/OBJECT" in err
    code, _, err = cli("files", "register", "gs://corpus/missing.pdf")
    assert code == 4 and "gcloud storage ls" in err
    emulator.control.set_bucket("corpus", service_agent_read=False)
    code, _, err = cli("files", "register", uri)
    assert code == 4 and "roles/storage.objectViewer" in err


def test_embed(cli: Cli, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(emulator)
    code, out, _ = cli("embed", "hello", "world", "--dimensions", "4")
    vectors = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(vectors) == 2 and all(len(v) == 4 for v in vectors)
    code, out, _ = cli("embed", "hello", "-m", "text-embedding-004", "--json")
    data = json.loads(out)
    assert code == 0 and data["model"] == "text-embedding-004"
    assert len(data["embeddings"][0]) == 768
    code, _, err = cli("embed", "x", "-m", "gemini-2.5-flash")
    assert code == 4 and "not supported for batchEmbedContents" in err


def test_generate_with_a_file_as_a_real_process(emulator: Emulator, tmp_path: Path) -> None:
    secrets = seed(emulator)
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(2048))
    env = {**os.environ, "GOOGLE_GEMINI_BASE_URL": emulator.base_url}
    emulator.control.set_file_limits(processing_seconds=0)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gemini_oauth",
            "generate",
            "--no-stream",
            "--file",
            str(path),
            "Describe",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "[file video/mp4 sha256:" in done.stdout and "Describe" in done.stdout
    assert emulator.control.counters()["upload.finalized"] == 1
    for secret in secrets:
        assert secret not in done.stdout + done.stderr
