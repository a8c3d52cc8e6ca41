"""The README's environment-variable table names every variable the code reads by name."""

from __future__ import annotations

import re
from pathlib import Path

from gemini_oauth import _constants

README = Path(__file__).parents[1] / "README.md"
SRC = Path(__file__).parents[1] / "src" / "gemini_oauth"


def test_every_environment_variable_is_in_the_table() -> None:
    text = README.read_text()
    table = text[text.index("## Environment variables") :]
    table = table[: table.index("\n## ", 3)]
    listed = set(re.findall(r"`([A-Z_][A-Z0-9_]+)`", table))
    names = {v for k, v in vars(_constants).items() if k.endswith("_ENV") and isinstance(v, str)}
    names |= {*_constants.PROJECT_ENVS, *_constants.API_KEY_ENVS}
    assert names <= listed, sorted(names - listed)
    # and the names read where they are used: os.environ.get("X"), env["X"], os.getenv("X")...
    read = re.compile(
        r"""(?:environ|env)(?:\.get\(|\.pop\(|\[)\s*"([A-Z_][A-Z0-9_]+)"|getenv\("([A-Z_]\w+)"""
    )
    library = [p for p in SRC.rglob("*.py") if "emulator" not in p.parts]
    used = {a or b for p in library for a, b in read.findall(p.read_text(encoding="utf-8"))}
    assert "SSH_CONNECTION" in used  # the scan sees names read outside _constants
    assert used <= listed, sorted(used - listed)


def test_the_quick_start_is_two_commands() -> None:
    text = README.read_text()
    start = text.index("## Quick start")
    quick = text[start : text.index("\n## ", start + 3)]
    blocks = re.findall(r"```sh\n(.*?)```", quick, re.S)
    assert len(blocks) == 2 and all(len(b.strip().splitlines()) == 1 for b in blocks)
