"""The house's layers point one way (ARCHITECTURE.md): a module imports its own layer or lower
ones, never a higher one; no two modules import each other, directly or round a circle; and no
module imports another module's private (`_underscore`) names. Every import counts — at the top,
inside a function (deferred), or under `TYPE_CHECKING`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "gthfx"

# lowest first; a module may import modules of its own rank or lower
LAYERS: dict[str, int] = {
    "gthfx": 0,
    "gthfx.errors": 0,
    "gthfx.progress": 0,
    "gthfx.settings": 1,
    "gthfx.vocab": 2,
    "gthfx.ingest": 3,
    "gthfx.rules": 4,
    "gthfx.engines": 5,
    "gthfx.report": 6,
    "gthfx.runs": 7,
    "gthfx.app": 8,
    "gthfx.tools": 8,
    "gthfx.cli": 9,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    """The rank of the longest layer prefix of `module`."""
    best = None
    for prefix in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best)
        ):
            best = prefix
    if best is None or (best == "gthfx" and module not in ("gthfx", "gthfx.__main__")):
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS or move it")
    return LAYERS[best]


def imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported gthfx module, names taken from it, line) for every import in `module`."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "gthfx":
                    found.append((alias.name, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            if base.split(".")[0] != "gthfx":
                continue
            names = []
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:  # `from gthfx.ingest import uscc`
                    found.append((f"{base}.{alias.name}", [], node.lineno))
                else:
                    names.append(alias.name)
            if names:
                found.append((base, names, node.lineno))
    return found


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    mine = layer(module)
    for target, _, line in imports(module):
        assert target in MODULES, f"{module}:{line} imports {target}, which does not exist"
        assert layer(target) <= mine, (
            f"{module}:{line} imports {target}: an upward import "
            f"(layer {mine} → layer {layer(target)}); move the shared piece down"
        )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_names_of_other_modules(module: str) -> None:
    for target, names, line in imports(module):
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not private, f"{module}:{line} imports private {private} from {target}"


def test_no_cycles() -> None:
    graph = {m: {t for t, _, _ in imports(m) if t in MODULES and t != m} for m in MODULES}
    # a package's __init__ importing its own children is not a cycle of ideas; none do here
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"modules that import each other: {cycles}"


def test_the_checks_catch_what_they_should(tmp_path: Path) -> None:
    """The walker itself: a deferred upward import and a private name are seen."""
    source = (
        "def f():\n    from gthfx.cli.main import app\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from gthfx.runs.writer import _put\n"
    )
    fake = PACKAGE / "ingest" / "_layers_probe.py"
    fake.write_text(source, encoding="utf-8")
    try:
        MODULES["gthfx.ingest._layers_probe"] = fake
        found = imports("gthfx.ingest._layers_probe")
        assert ("gthfx.cli.main", ["app"], 2) in found
        assert ("gthfx.runs.writer", ["_put"], 5) in found
        with pytest.raises(AssertionError, match="upward"):
            test_imports_point_down("gthfx.ingest._layers_probe")
        with pytest.raises(AssertionError, match="private"):
            test_no_private_names_of_other_modules("gthfx.ingest._layers_probe")
    finally:
        fake.unlink()
        del MODULES["gthfx.ingest._layers_probe"]
