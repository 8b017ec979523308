"""`gthfx sample verify DRAW`: redraw from the recorded inputs and compare, file by file.

In order, and the first difference is the one named:

1. every file of the draw folder against the SHA-256 its manifest recorded (a file changed,
   missing, or added since the draw);
2. a committed seed against its commitment (SHA-256 of `"{salt}|{seed}"`);
3. the inputs — the plan file, the run (its manifest's SHA-256, then each of its data files
   against that manifest) and every extract file — found where they were recorded (the path as
   given, relative to the working directory or to the folder holding the draw folder, or the
   absolute path) and checked against their SHA-256; the plan as read against the plan the
   manifest records;
4. the draw done again from those inputs with the recorded seed, date and settings, into a
   temporary folder beside the draw folder, and every data file compared byte for byte; for a
   table that differs, the first row and column that differ.

An input that cannot be found at all is an `InputError` (exit 2: nothing can be verified); every
other finding is a difference (exit 1). Never prints.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.app.folders import read_manifest
from gthfx.app.sample.deliver import load_inputs, write_draw_files
from gthfx.app.sample.draw import draw
from gthfx.app.sample.plan import load_plan
from gthfx.app.sample.seed import commitment_of
from gthfx.errors import InputError
from gthfx.ingest.load import sha256_of
from gthfx.runs.layout import workspace
from gthfx.runs.manifest import MANIFEST_NAME
from gthfx.runs.reader import open_run
from gthfx.settings.sources import load_sources


@dataclass
class VerifyResult:
    """The differences found (empty: the draw is what its inputs and seed give) and what was
    checked."""

    folder: Path
    differences: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.differences


def _places(recorded: str, absolute: str | None, folder: Path) -> list[Path]:
    given = Path(recorded)
    places = [given]
    if not given.is_absolute():
        places.append(folder.resolve().parent / given)
    if absolute:
        places.append(Path(absolute))
    unique: dict[Path, Path] = {}
    for place in places:
        unique.setdefault(place.resolve(), place)
    return list(unique.values())


def _find(what: str, record: dict[str, Any], folder: Path, kind: str = "file") -> tuple[Path, bool]:
    """The recorded input: (where it is, whether its SHA-256 is the recorded one). The first
    place holding the recorded content wins; else the first place holding anything."""
    places = _places(record["path"], record.get("absolute_path"), folder)
    existing = [p for p in places if (p.is_dir() if kind == "folder" else p.is_file())]
    if not existing:
        looked = ", ".join(str(p) for p in places)
        raise InputError(
            f"{record['path']}: {what} of the draw {folder} not found (looked at {looked})",
            hint="run the verification where the draw was made, or restore the file",
        )
    digest = record.get("manifest_sha256") if kind == "folder" else record["sha256"]
    for place in existing:
        target = place / MANIFEST_NAME if kind == "folder" else place
        if target.is_file() and sha256_of(target) == digest:
            return place, True
    return existing[0], False


def _first_row_difference(recorded: Path, redrawn: Path) -> str:
    """Where two tables differ: their heights, their columns, or the first row and column."""
    a, b = pl.read_parquet(recorded), pl.read_parquet(redrawn)
    if a.columns != b.columns or a.schema != b.schema:
        return f"columns {a.schema} recorded, {b.schema} redrawn"
    for index in range(min(a.height, b.height)):
        left, right = a.row(index, named=True), b.row(index, named=True)
        if left != right:
            columns = [c for c in a.columns if left[c] != right[c]]
            key = f" (uscc {left['uscc']})" if "uscc" in left else ""
            shown = "; ".join(f"{c}: {left[c]!r} recorded, {right[c]!r} redrawn" for c in columns)
            return f"row {index + 1}{key}: {shown}"
    return f"{a.height} rows recorded, {b.height} redrawn"


def _first_line_difference(recorded: Path, redrawn: Path) -> str:
    a = recorded.read_bytes().splitlines()
    b = redrawn.read_bytes().splitlines()
    for index, (left, right) in enumerate(zip(a, b, strict=False)):
        if left != right:
            return f"line {index + 1} differs"
    return f"{len(a)} lines recorded, {len(b)} redrawn"


def _check_files(folder: Path, manifest: dict[str, Any], result: VerifyResult) -> None:
    recorded: dict[str, str] = manifest.get("files") or {}
    for name, digest in sorted(recorded.items()):
        path = folder / name
        if not path.is_file():
            result.differences.append(f"{path}: missing (written by the draw)")
        elif sha256_of(path) != digest:
            result.differences.append(f"{path}: changed since the draw (SHA-256 differs)")
    for path in sorted(folder.iterdir()):
        if path.name != MANIFEST_NAME and path.name not in recorded:
            result.differences.append(f"{path}: not written by the draw")
    result.checked.append(f"{len(recorded)} files against the manifest")


def _check_inputs(folder: Path, manifest: dict[str, Any], result: VerifyResult) -> dict[str, Any]:
    """Find every input and check its SHA-256; returns where they are."""
    found: dict[str, Any] = {}
    plan_path, same = _find("the plan", manifest["plan"]["file"], folder)
    if not same:
        result.differences.append(f"{plan_path}: the plan changed since the draw (SHA-256 differs)")
    found["plan"] = plan_path
    run_path, same = _find("the run", manifest["run"], folder, kind="folder")
    if not same:
        result.differences.append(
            f"{run_path}: the run's manifest changed since the draw (SHA-256 differs)"
        )
    else:
        run_manifest = json.loads((run_path / MANIFEST_NAME).read_text(encoding="utf-8"))
        for name, digest in sorted((run_manifest.get("files") or {}).items()):
            if name.endswith(".parquet") and sha256_of(run_path / name) != digest:
                result.differences.append(
                    f"{run_path / name}: changed since the run (SHA-256 differs from its manifest)"
                )
    found["run"] = run_path
    files: dict[str, list[Path]] = {}
    for record in manifest["inputs"]:
        path, same = _find(f"the {record['role']} file", record, folder)
        if not same:
            result.differences.append(
                f"{path}: {record['role']} input changed since the draw (SHA-256 differs)"
            )
        files.setdefault(record["role"], []).append(path)
    found["files"] = files
    result.checked.append(
        f"inputs: plan, run, {sum(len(v) for v in files.values())} extract file(s)"
    )
    return found


def _redraw(
    folder: Path, manifest: dict[str, Any], found: dict[str, Any], result: VerifyResult
) -> None:
    plan = load_plan(found["plan"])
    recorded_plan = {k: v for k, v in manifest["plan"].items() if k != "file"}
    if plan.plan.as_record() != recorded_plan:
        result.differences.append(f"{found['plan']}: the plan reads differently than recorded")
        return
    settings = manifest["settings"]
    sources = load_sources(Path(settings["sources"]) if settings["sources"] else None)
    on = date.fromisoformat(manifest["draw_date"])
    inputs = load_inputs(
        open_run(found["run"]), plan, found["files"], sources, settings["encoding"]
    )
    parent = folder.resolve().parent
    with tempfile.TemporaryDirectory(prefix=".verify-", dir=parent) as tmp:
        redrawn = Path(tmp)
        with workspace(redrawn, on) as work:
            again = draw(inputs.draw_inputs, plan.plan, manifest["seed"], on, work)
        write_draw_files(redrawn, again, inputs, on, bool(settings["excel"]))
        names = sorted({p.name for p in redrawn.iterdir() if p.is_file()} | set(manifest["files"]))
        for name in names:
            mine, theirs = folder / name, redrawn / name
            if not theirs.is_file():
                result.differences.append(f"{mine}: the redraw writes no such file")
            elif not mine.is_file():
                result.differences.append(f"{mine}: missing; the redraw writes it")
            elif sha256_of(mine) != sha256_of(theirs):
                if name.endswith(".parquet"):
                    detail = _first_row_difference(mine, theirs)
                elif name.endswith(".csv"):
                    detail = _first_line_difference(mine, theirs)
                else:
                    detail = "content differs"
                result.differences.append(f"{mine}: differs from the redraw: {detail}")
        result.checked.append(f"redrawn with seed {manifest['seed']!r}: {len(names)} files")


def verify_draw(folder: Path) -> VerifyResult:
    """Check a draw folder against its manifest, its inputs and a redraw."""
    manifest = read_manifest(folder, "sample")
    result = VerifyResult(folder=folder)
    _check_files(folder, manifest, result)
    commitment = manifest.get("commitment")
    if commitment:
        if commitment_of(manifest["seed"], commitment["salt"]) != commitment["sha256"]:
            result.differences.append(
                f"{folder / MANIFEST_NAME}: the seed is not the one committed "
                "(SHA-256 of salt|seed differs from the commitment)"
            )
        result.checked.append(f"seed against its commitment {commitment['sha256']}")
    found = _check_inputs(folder, manifest, result)
    if result.differences:
        return result
    _redraw(folder, manifest, found, result)
    return result
