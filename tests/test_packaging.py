"""The package installs with its runtime dependencies only: every third-party module that
`src/gthfx` imports (at the top or inside a function) is a runtime dependency in
`pyproject.toml`, never a dev extra; and `requirements-runtime.lock` (what the wheel check
installs) is the runtime subset of `requirements.lock`, with the same pins and hashes.
`make wheel-check` proves the same end to end on a built wheel; these catch it in a second."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "gthfx"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement (PEP 503)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


RUNTIME = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
DEV = {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}


def _under_type_checking(tree: ast.Module) -> set[int]:
    """Line numbers of imports under `if TYPE_CHECKING:` (never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    if isinstance(sub, ast.Import | ast.ImportFrom):
                        lines.add(sub.lineno)
    return lines


def third_party_imports() -> dict[str, list[str]]:
    """Top-level module imported → `file:line` of every place that imports it at run time."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _under_type_checking(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            if node.lineno in skip:
                continue
            for top in tops:
                if top != "gthfx" and top not in sys.stdlib_module_names:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.setdefault(top, []).append(where)
    return found


def test_every_third_party_import_is_a_runtime_dependency() -> None:
    provided = packages_distributions()
    wrong = []
    for module, places in sorted(third_party_imports().items()):
        names = {_name(d) for d in provided.get(module, [])}
        if not names & RUNTIME:
            extra = " (a dev extra)" if names & DEV else ""
            wrong.append(f"{module} from {sorted(names) or '?'}{extra}: {', '.join(places)}")
    assert not wrong, "imported at run time but no runtime dependency:\n" + "\n".join(wrong)


def test_the_walk_sees_imports_inside_functions() -> None:
    # openpyxl is imported only inside `review_io._read_one`: the walk must still see it
    assert "openpyxl" in third_party_imports()


def _pins(lock: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """name and markers → (the pinned line, its hashes) of a uv-compiled lock."""
    pins = {}
    for block in re.split(r"\n(?=\S)", lock.read_text(encoding="utf-8")):
        if block.startswith("#"):
            continue
        first, *rest = block.splitlines()
        spec = first.rstrip(" \\")
        hashes = frozenset(h.strip().rstrip(" \\") for h in rest if "--hash=" in h)
        pins[f"{_name(spec)} {spec.partition(';')[2].strip()}"] = (spec, hashes)
    return pins


def test_runtime_lock_is_the_runtime_subset_of_the_main_lock() -> None:
    main = _pins(ROOT / "requirements.lock")
    runtime = _pins(ROOT / "requirements-runtime.lock")
    differ = {k: (v, main.get(k)) for k, v in runtime.items() if main.get(k) != v}
    assert not differ, f"requirements-runtime.lock disagrees with requirements.lock: {differ}"
    assert all(hashes for _, hashes in runtime.values()), "requirements-runtime.lock lacks hashes"
    locked = {key.split(" ")[0] for key in runtime}
    assert locked >= RUNTIME, f"not in requirements-runtime.lock: {RUNTIME - locked}"
    assert not locked & (DEV - RUNTIME), f"dev extras in the runtime lock: {locked & DEV}"
