"""docs/SECURITY.md names the test that holds each defence: every one it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
DOC = TESTS.parent / "docs" / "SECURITY.md"


def _defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_test_named_in_security_md_exists() -> None:
    named = re.findall(r"`([\w/]+\.py)(?:::(\w+))?", DOC.read_text(encoding="utf-8"))
    assert len(named) > 40
    for module, name in named:
        path = TESTS / module
        if not module.startswith(("test_", "cli/", "emulator/")):
            continue  # a source module named in passing (_peer.py, _urls.py, ...)
        assert path.is_file(), module
        if name:
            assert name in _defined(path), f"{module}::{name}"
