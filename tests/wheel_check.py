"""The installed package, checked the way a new user meets it: build the wheel, install it into a
clean virtual environment with the runtime dependencies only, and run every command once against
copies of the samples. Promise: exit 0 only when every command exited as expected, printed no
traceback, and ran the gthfx of the wheel — never the one in `src/`.

Steps (each timed):

1. Build the wheel with `pip wheel --no-deps` from a copy of `pyproject.toml`, `README.md` and
   `src/` (setuptools leaves a `build/` folder behind, and a stale `build/lib` would put modules
   deleted since into the wheel).
2. A new virtual environment; `requirements-runtime.lock` (the runtime subset of
   `requirements.lock`, hashed) installed with `--require-hashes`, then the wheel with
   `--no-deps`, then `pip check`: a runtime dependency the wheel declares but the lock lacks fails
   here. No dev package (pyarrow, hypothesis, python-stdnum, pytest …) may be importable.
3. In a temporary folder holding copies of `gthfx.yaml`, `rules/` and `samples/`: `--version`,
   `samples`, `rules check/test/show`, `compile-sql`, `classify` on both engines (and `diff --check`
   between them: same outcomes), `explain` (from the run and fresh), `review import` of the review
   workbooks the run wrote, `recheck` with one decision (and `diff --check` against the base:
   something changed), `diff`, `simulate`, `report` of the recheck; with a copy of `policies/`
   too: `policies check`, `support`, `policies explain`, `sample commit`, `sample` on
   `samples/sampling/` with the committed seed, `sample verify`, `export directory --since`.

Usage: `python tests/wheel_check.py [--keep]` (`make wheel-check`; CI runs it after `make test`).
Needs only the Python running it and PyPI (for the locked wheels and the build backend).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "requirements-runtime.lock"
# packages that are no runtime dependency and must not be importable in the clean environment (if
# one were, a command that needs it would pass here and fail for a user)
NOT_RUNTIME = ("pyarrow", "hypothesis", "stdnum", "pytest", "pandas", "mypy", "ruff")


class CheckFailed(Exception):
    """A step of the check failed; the message says which and shows its output."""


def _bin(venv: Path, name: str) -> Path:
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return venv / folder / f"{name}{suffix}"


def _clean_env() -> dict[str, str]:
    """This process's environment without anything that could point Python at `src/`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    }
    env["PYTHONIOENCODING"] = "utf-8"
    env["NO_COLOR"] = "1"
    return env


def _run(
    label: str, command: Sequence[str | Path], cwd: Path, expect: int = 0
) -> subprocess.CompletedProcess[str]:
    started = time.perf_counter()
    proc = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        check=False,
    )
    seconds = time.perf_counter() - started
    output = proc.stdout + proc.stderr
    if proc.returncode != expect or "Traceback (most recent call last)" in output:
        shown = " ".join(str(c) for c in command)
        raise CheckFailed(
            f"{label}: exit {proc.returncode} (expected {expect})\n$ {shown}\n{output[-6000:]}"
        )
    print(f"  ok  {seconds:6.1f} s  {label}", flush=True)
    return proc


def build_wheel(tmp: Path) -> Path:
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    dist = tmp / "dist"
    _run(
        "build the wheel",
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source],
        cwd=tmp,
    )
    (wheel,) = dist.glob("gthfx-*.whl")
    return wheel


def install(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    # without pip of its own (ensurepip takes ~10 s): this Python's pip installs into it
    _run(
        "clean virtual environment", [sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp
    )
    python = _bin(venv, "python")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", python]
    _run(
        "runtime dependencies (requirements-runtime.lock, hashed)",
        [*pip, "install", "-q", "--require-hashes", "-r", RUNTIME_LOCK],
        cwd=tmp,
    )
    _run("the wheel, no dependencies", [*pip, "install", "-q", "--no-deps", wheel], cwd=tmp)
    _run("pip check", [*pip, "check"], cwd=tmp)
    probe = (
        "import importlib.util, sys; "
        f"print(','.join(m for m in {NOT_RUNTIME!r} if importlib.util.find_spec(m)))"
    )
    found = _run("no dev package importable", [python, "-c", probe], cwd=tmp).stdout.strip()
    if found:
        raise CheckFailed(f"dev packages importable in the clean environment: {found}")
    return venv


def run_commands(tmp: Path, venv: Path) -> None:
    work = tmp / "work"
    work.mkdir()
    shutil.copy2(ROOT / "gthfx.yaml", work / "gthfx.yaml")
    for folder in ("rules", "samples", "policies"):
        shutil.copytree(ROOT / folder, work / folder)
    python = _bin(venv, "python")
    where = _run(
        "gthfx imported from the clean environment",
        [python, "-c", "import gthfx; print(gthfx.__file__)"],
        cwd=work,
    ).stdout.strip()
    if not Path(where).resolve().is_relative_to(venv.resolve()):
        raise CheckFailed(f"gthfx was imported from {where}, not from {venv}")

    gthfx = _bin(venv, "gthfx")

    def run(label: str, *args: str | Path, expect: int = 0) -> None:
        _run(f"gthfx {label}", [gthfx, *args], cwd=work, expect=expect)

    run("--version", "--version")
    run("samples", "samples", "--rows", "300", "--out", "generated", "--years", "2")
    run("rules check", "rules", "check")
    run("rules test", "rules", "test")
    run("rules show", "rules", "show", "--date", "2024-07-01")
    run("compile-sql", "compile-sql", "--dialect", "duckdb", "--date", "2024-07-01",
        "--out", "typing.sql")  # fmt: skip
    run("classify (polars, baseline)", "classify", "--date", "2023-07-01", "--quiet")
    run("classify --engine polars", "classify", "--date", "2024-07-01", "--engine", "polars",
        "--quiet")  # fmt: skip
    run("classify --engine duckdb", "classify", "--date", "2024-07-01", "--engine", "duckdb",
        "--out", "runs-duckdb", "--quiet")  # fmt: skip
    run("diff --check (the two engines agree)", "diff", "runs/2024-07-01",
        "runs-duckdb/2024-07-01", "--check")  # fmt: skip
    run("diff (last year → this year)", "diff", "runs/2023-07-01", "runs/2024-07-01")

    survival = _first_code(work / "runs" / "2024-07-01" / "生存型.csv")
    run("explain --run", "explain", survival, "--run", "runs/2024-07-01")
    run("explain --date --json", "explain", survival, "--date", "2024-07-01", "--json")

    workbooks = sorted((work / "runs" / "2024-07-01").glob("复核_*.xlsx"))
    if not workbooks:
        raise CheckFailed("classify wrote no review workbook")
    run("review import", "review", "import", *workbooks, "--out", "review")
    decisions = work / "decisions.csv"
    decisions.write_text(
        "统一社会信用代码,认定分型,理由,审批人,日期\n"
        f"{survival},发展型,实地核查(wheel check),审批人,2024-08-16\n",
        encoding="utf-8-sig",
    )
    run("recheck", "recheck", "--date", "2024-09-30", "--base", "runs/2024-07-01",
        "--corrections", "review/corrections.csv", "--decisions", decisions, "--quiet")  # fmt: skip
    run("diff --check (the decision changed a business)", "diff", "runs/2024-07-01",
        "runs/2024-09-30", "--check", expect=1)  # fmt: skip
    run("simulate", "simulate", "--date", "2024-07-01", "--set",
        "development_min_sales_yuan=2000000", "--out", "what-if.xlsx", "--quiet")  # fmt: skip
    run("report (the recheck: transitions against its base, a trend of three runs)", "report",
        "--run", "2024-09-30", "--out", "reports", "--quiet")  # fmt: skip

    run("policies check", "policies", "check")
    run("support", "support", "--run", "runs/2024-07-01", "--out", "support/2024-07-01",
        "--quiet")  # fmt: skip
    run("policies explain", "policies", "explain", survival, "--run", "runs/2024-07-01")
    run("sample commit", "sample", "commit", "--out", "seed.json")
    sampling = Path("samples") / "sampling"
    run("sample", "sample", "--run", "runs/2024-07-01", "--plan", sampling / "plan-2024-H2.yaml",
        "--date", "2024-08-01", "--inspections", sampling / "inspections.csv", "--risk",
        sampling / "risk.xlsx", "--inspectors", sampling / "inspectors.csv", "--seed-file",
        "seed.json", "--out", "draws/2024-H2", "--quiet")  # fmt: skip
    run("sample verify", "sample", "verify", "draws/2024-H2")
    run("export directory --since", "export", "directory", "--run", "runs/2024-09-30",
        "--since", "runs/2024-07-01", "--out", "export/2024-09-30", "--quiet")  # fmt: skip


def _first_code(path: Path) -> str:
    """The first credit code of an outcome CSV (sorted by code, so the same one every time)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            return row["统一社会信用代码"]
    raise CheckFailed(f"{path} has no business")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="gthfx-wheel-check-"))
    print(f"wheel check in {tmp}", flush=True)
    try:
        wheel = build_wheel(tmp)
        venv = install(tmp, wheel)
        run_commands(tmp, venv)
    except CheckFailed as failure:
        print(f"FAILED  {failure}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"wheel check passed in {time.perf_counter() - started:.0f} s ({wheel.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
