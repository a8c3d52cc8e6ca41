"""The package's rooms, read from the source with ``ast``: no import cycle, the library never
imports the CLI or the emulator, the emulator imports nothing client-side, private by default, and
no module over 600 lines unless its docstring says why.

Imports count wherever they are (function-level ones too), except under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "gemini_oauth"
MAX_LINES = 600
_WHY_LONGER = re.compile(rf"longer than {MAX_LINES} lines because", re.IGNORECASE)
#: Modules without a leading underscore anywhere in their dotted name: the public ones.
PUBLIC_MODULES = {
    "gemini_oauth",
    "gemini_oauth.errors",
    "gemini_oauth.scopes",
    "gemini_oauth.emulator",
    "gemini_oauth.emulator.pytest_plugin",
}


def modules(src: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` under ``src``."""
    found = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every import (and literal ``import_module("...")``) in ``node``, skipping TYPE_CHECKING."""
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        for child in node.orelse:
            yield from _import_nodes(child)
        return
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    elif isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
            yield node
    for child in ast.iter_child_nodes(node):
        yield from _import_nodes(child)


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules that module ``name`` imports: ``from pkg import sub`` is ``pkg.sub``
    when that is a module, else ``pkg`` itself (its ``__init__``)."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Call):
            assert isinstance(node.args[0], ast.Constant)
            targets.add(str(node.args[0].value))
        else:
            assert isinstance(node, ast.ImportFrom)
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                targets.add(child if child in known else base)
    return {t for t in targets if t in known}


def import_graph(src: Path, package: str) -> dict[str, set[str]]:
    found = modules(src, package)
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with a cycle (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def too_long(path: Path) -> bool:
    """Over the limit without a docstring line saying why."""
    text = path.read_text(encoding="utf-8")
    if len(text.splitlines()) <= MAX_LINES:
        return False
    return not _WHY_LONGER.search(ast.get_docstring(ast.parse(text)) or "")


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


GRAPH = import_graph(SRC, PACKAGE)
CLI = f"{PACKAGE}._cli"
EMULATOR = f"{PACKAGE}.emulator"


def test_the_graph_sees_the_package() -> None:
    """The checks below look at real edges: these must be in the graph for them to mean anything."""
    assert f"{EMULATOR}._emulator" in GRAPH[EMULATOR]  # a module-level import in an __init__
    assert f"{EMULATOR}._server" in GRAPH[f"{EMULATOR}._emulator"]  # a function-level one
    assert f"{PACKAGE}._store" in GRAPH[f"{PACKAGE}._credentials"]
    assert any(_inside(t, CLI) for t in GRAPH[f"{PACKAGE}.__main__"])


def test_no_import_cycle() -> None:
    assert cycles(GRAPH) == []


def test_the_library_never_imports_the_cli_or_the_emulator() -> None:
    library = [m for m in GRAPH if not _inside(m, CLI) and not _inside(m, EMULATOR)]
    library.remove(f"{PACKAGE}.__main__")  # `python -m gemini_oauth` is the CLI
    wrong = {
        (module, target)
        for module in library
        for target in GRAPH[module]
        if _inside(target, CLI) or _inside(target, EMULATOR)
    }
    assert wrong == set()


def test_the_emulator_imports_nothing_client_side() -> None:
    wrong = {
        (module, target)
        for module in GRAPH
        if _inside(module, EMULATOR)
        for target in GRAPH[module]
        if not _inside(target, EMULATOR)
    }
    assert wrong == set()


def test_private_by_default() -> None:
    """A module is public only if no part of its name starts with ``_``; those are pinned."""
    public = {name for name in GRAPH if not any(part.startswith("_") for part in name.split("."))}
    assert public == PUBLIC_MODULES


def test_no_module_is_longer_than_600_lines_unless_it_says_why() -> None:
    long = [str(path.relative_to(SRC)) for path in sorted(SRC.rglob("*.py")) if too_long(path)]
    assert long == []


# -- the checks can fail ------------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_cycles_are_found_through_an_init_and_in_functions(tmp_path: Path) -> None:
    src = _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\n",
            "pkg/a.py": "def f():\n    from pkg.sub import b\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/b.py": "from pkg import A\n",  # a name of pkg/__init__: the cycle closes
            "pkg/c.py": "from . import d\n",
            "pkg/d.py": "from .c import X\n",
            "pkg/e.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.f import F\n"
                "else:\n    import pkg.g\n"
            ),
            "pkg/f.py": "import pkg.e\n",
            "pkg/g.py": "import importlib\nimportlib.import_module('pkg.e')\n",
        },
    )
    graph = import_graph(src, "pkg")
    assert graph["pkg.sub.b"] == {"pkg"} and graph["pkg.e"] == {"pkg.g"}
    found = sorted(cycles(graph))
    assert found == [["pkg", "pkg.a", "pkg.sub.b"], ["pkg.c", "pkg.d"], ["pkg.e", "pkg.g"]]


def test_a_long_module_needs_its_reason(tmp_path: Path) -> None:
    body = "x = 1\n" * MAX_LINES
    silent = _write(tmp_path, {"silent.py": '"""Short."""\n' + body})
    assert too_long(silent / "silent.py")
    told = _write(
        tmp_path, {"told.py": '"""Big.\n\nLonger than 600 lines because X.\n"""\n' + body}
    )
    assert not too_long(told / "told.py")
    assert not too_long(_write(tmp_path, {"short.py": body[6:]}) / "short.py")


@pytest.mark.parametrize("module", sorted(PUBLIC_MODULES))
def test_public_modules_exist(module: str) -> None:
    assert module in GRAPH


# ---------------------------------------------------------------- the map in docs/ARCHITECTURE.md

ARCHITECTURE = SRC.parent / "docs" / "ARCHITECTURE.md"
#: A room of the map: an indented ``name.py`` or ``name/`` at the start of a line in a code block.
_ROOM = re.compile(r"^  ([\w]+(?:\.py|/))(?:\s|$)", re.M)


def mapped_rooms(text: str) -> dict[str, set[str]]:
    """The rooms named in the map's code blocks, per block: ``{"src/gemini_oauth/": {...}}``."""
    rooms: dict[str, set[str]] = {}
    for block in re.findall(r"```\n(.*?)```", text, re.S):
        head, _, body = block.partition("\n")
        rooms[head.strip()] = set(_ROOM.findall(body))
    return rooms


@pytest.mark.parametrize(
    ("block", "folder"), [("src/gemini_oauth/", ""), ("emulator/", "emulator")]
)
def test_the_architecture_map_names_every_module_and_only_those(block: str, folder: str) -> None:
    """Every module of the room is on the map, and every room on the map exists."""
    where = SRC / PACKAGE / folder
    present = {p.name for p in where.glob("*.py")}
    present |= {f"{p.name}/" for p in where.iterdir() if (p / "__init__.py").exists()}
    mapped = mapped_rooms(ARCHITECTURE.read_text(encoding="utf-8"))[block]
    mapped.discard("tests/")
    mapped.discard("benchmarks/")
    assert present - mapped == set(), "modules missing from docs/ARCHITECTURE.md's map"
    assert mapped - present == set(), "rooms on docs/ARCHITECTURE.md's map that do not exist"
