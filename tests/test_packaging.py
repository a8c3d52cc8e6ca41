"""What the sdist and the wheel hold: the project's source and docs, never a secret left in the
checkout (a client file that login found in the working directory, a token cache, a key)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Files a developer may leave in a checkout; none may ship.
LEFT_BEHIND = (
    "client_secret.json",
    "client_secret_123-abc.apps.googleusercontent.com.json",
    "token.json",
    ".env",
    ".coverage",
    "key.pem",
    "tests/client_secret.json",
    "docs/client_secret.json",
    "benchmarks/service-account.json",
    "src/gemini_oauth/token.json",
    "src/gemini_oauth/emulator/key.pem",
    "src/gemini_oauth/credentials",
)
SECRET = "fake-client-secret-left-in-the-checkout"


def _build(tree: Path, out: Path) -> tuple[list[str], list[str]]:
    """The files of the sdist and of the wheel that hatchling builds from ``tree``."""
    script = "import sys; from hatchling.build import build_sdist as s, build_wheel as w; "
    script += "print(s(sys.argv[1])); print(w(sys.argv[1]))"
    built = subprocess.run([sys.executable, "-c", script, str(out)], cwd=tree,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert built.returncode == 0, built.stderr
    sdist_name, wheel_name = built.stdout.split()
    with tarfile.open(out / sdist_name) as sdist:
        in_sdist = [m.name.split("/", 1)[1] for m in sdist.getmembers() if m.isfile()]
    with zipfile.ZipFile(out / wheel_name) as wheel:
        in_wheel = wheel.namelist()
    return in_sdist, in_wheel


def test_nothing_left_in_the_checkout_ships(tmp_path: Path) -> None:
    pytest.importorskip("hatchling", reason="the build backend is missing: pip install hatchling")
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not run from a source tree")
    tree = tmp_path / "checkout"
    shutil.copytree(
        ROOT, tree,
        ignore=shutil.ignore_patterns(".git", ".venv", "*_cache", ".hypothesis", "__pycache__",
                                      "dist", "build", "*.egg-info"),
    )  # fmt: skip
    clean_sdist, clean_wheel = _build(tree, tmp_path / "clean")
    for name in LEFT_BEHIND:
        (tree / name).write_text(f'{{"client_secret": "{SECRET}"}}\n')
    sdist, wheel = _build(tree, tmp_path / "dirty")
    assert sorted(sdist) == sorted(clean_sdist) and sorted(wheel) == sorted(clean_wheel)
    # and what ships is the project: its source, tests, benchmarks and docs
    assert {"src/gemini_oauth/_store.py", "tests/conftest.py", "docs/SECURITY.md", "README.md",
            "pyproject.toml", "PKG-INFO"} <= set(sdist)  # fmt: skip
    assert "gemini_oauth/_store.py" in wheel and "gemini_oauth/emulator/_server.py" in wheel
    shipped = {p.removeprefix("src/") for p in sdist if p.startswith("src/")}
    assert {p for p in wheel if p.startswith("gemini_oauth/")} == shipped
