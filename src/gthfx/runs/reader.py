"""Reading a run folder that gthfx wrote: the one way every command reads a run. Never writes.

`open_run(path)` checks that `path` is a complete run folder and reads its manifest, of any
version this gthfx knows (see `runs.manifest`); the `Run` it returns reads the run's tables on
demand and finds, and checks, the files the run read.

Finding a file the manifest recorded (one rule, for the input files and the ruleset): the path was
recorded as given — relative to where the run was started — beside its absolute form. It is
looked for (1) at the recorded absolute path; (2) at the path as given, relative to the working
directory; (3) relative to the folder holding the runs folder (for `runs/2024-07-01`, `.`: where a
run is usually started, so a project folder moved or copied whole keeps its runs readable); (4)
relative to the runs folder. The first place whose content has the recorded SHA-256 is the file;
a file found nowhere, or found only with other content, is named in one error together with every
other such file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from pydantic import ValidationError

from gthfx.errors import GthfxError, InputError, RulesError, RunError
from gthfx.ingest.load import sha256_of
from gthfx.rules.model import RulesetFile, load_ruleset
from gthfx.runs.integrity import check_readable, unreadable
from gthfx.runs.manifest import MANIFEST_NAME, Manifest, upgrade
from gthfx.settings.yamlio import pydantic_location
from gthfx.vocab import OUTCOME_FILES

CHANGES_FILE = "changes.parquet"
REJECTS_FILE = "rejects.parquet"
# the data files every run folder holds besides its manifest
DATA_FILES: tuple[str, ...] = (*OUTCOME_FILES.values(), REJECTS_FILE, CHANGES_FILE)
MAX_LISTED = 5  # problems of a damaged manifest shown (the rest are counted)


@dataclass(frozen=True)
class Run:
    """A complete run folder, opened: its parsed manifest, and its tables read on demand."""

    path: Path
    manifest: Manifest

    def outcome_paths(self) -> list[Path]:
        """The outcome files: one per tier, then the excluded businesses."""
        return [self.path / name for name in OUTCOME_FILES.values()]

    def outcomes(self) -> pl.LazyFrame:
        """Every business's outcome, one query over the outcome files (each sorted by uscc)."""
        return pl.concat([pl.scan_parquet(p) for p in self.outcome_paths()], how="diagonal_relaxed")

    def changes(self) -> pl.LazyFrame:
        """The change log against the previous run (a recheck: against its base run)."""
        return pl.scan_parquet(self.path / CHANGES_FILE)

    def rejects(self) -> pl.LazyFrame:
        """The input rows that could not belong to a business."""
        return pl.scan_parquet(self.path / REJECTS_FILE)

    def inputs(
        self, *, skip: Collection[str] = (), hint: str | None = None
    ) -> dict[str, tuple[Path, ...]]:
        """The files the run read, per extract (in the manifest's order), each found by the rule
        in this module's docstring and checked against its SHA-256. Extracts in `skip` are left
        out unread (a recheck given fresh files for them). Every file missing or changed is
        named in one `InputError` (with `hint`, what the caller can do instead)."""
        found: dict[str, list[Path]] = {}
        problems: list[str] = []
        for record in self.manifest.inputs:
            if record.extract in skip:
                continue
            path, problem = self._find(
                f"{record.extract} input", record.path, record.absolute_path, _holds(record.sha256)
            )
            if path is None:
                problems.append(problem)
            else:
                found.setdefault(record.extract, []).append(path)
        if len(problems) == 1:
            raise InputError(problems[0], hint=hint)
        if problems:
            listed = "\n  ".join(problems)
            raise InputError(
                f"{len(problems)} input files of the run {self.path} are missing or changed:"
                f"\n  {listed}",
                hint=hint,
            )
        return {extract: tuple(paths) for extract, paths in found.items()}

    def ruleset(self, *, hint: str | None = None) -> RulesetFile:
        """The ruleset the run applied, found by the rule in this module's docstring, loaded and
        checked against its SHA-256; else a `RulesError` (with `hint`)."""
        record = self.manifest.ruleset
        loaded: dict[Path, RulesetFile] = {}

        def same(path: Path) -> bool:
            try:
                loaded[path] = load_ruleset(path)
            except GthfxError:  # unreadable now: not the file the run read
                return False
            return loaded[path].sha256 == record.sha256

        path, problem = self._find(f"ruleset {record.id}", record.path, record.absolute_path, same)
        if path is None:
            raise RulesError(problem, hint=hint)
        return loaded[path]

    def compared_with(self, other: Path) -> bool:
        """Whether this run's change log is against the run folder `other`: the previous run (a
        recheck: the base run) it recorded is `other` — as recorded (relative to where this run
        was started) or by its absolute path — or has `other`'s name and `other` is a sibling of
        this run (the runs folder was moved)."""
        m = self.manifest
        for named in (m.previous_run, m.previous_run_absolute, m.base_run, m.base_run_absolute):
            if not named:
                continue
            path = Path(named)
            if path.resolve() == other.resolve():
                return True
            if path.name == other.name and other.resolve().parent == self.path.resolve().parent:
                return True
        return False

    def _places(self, recorded: str, absolute: str | None) -> list[Path]:
        given = Path(recorded)
        places = [Path(absolute)] if absolute else []
        places.append(given)
        if not given.is_absolute():
            runs = self.path.resolve().parent
            places += [runs.parent / given, runs / given]
        unique: dict[Path, Path] = {}
        for place in places:
            unique.setdefault(place.resolve(), place)
        return list(unique.values())

    def _find(
        self, what: str, recorded: str, absolute: str | None, same: Callable[[Path], bool]
    ) -> tuple[Path | None, str]:
        """The first place holding the recorded file (see the module docstring), or a problem."""
        places = self._places(recorded, absolute)
        existing = [p for p in places if p.is_file()]
        for place in existing:
            if same(place):
                return place, ""
        if existing:
            return None, (
                f"{existing[0]}: {what} changed since the run {self.path} "
                "(SHA-256 differs from the manifest)"
            )
        looked = ", ".join(str(p) for p in places)
        return None, f"{recorded}: {what} of the run {self.path} not found (looked at {looked})"


def open_run(path: Path) -> Run:
    """The run folder at `path`, opened: a `RunError` names a folder that does not exist, has no
    readable manifest, was written by a newer gthfx than this one, or lacks or has a damaged
    data file."""
    if not path.is_dir():
        raise RunError(
            f"{path}: no such run folder",
            hint="name a folder written by gthfx classify or recheck, e.g. runs/2024-07-01",
        )
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file():
        raise RunError(
            f"{path}: not a complete gthfx run folder (no {MANIFEST_NAME})",
            hint="a run folder is what gthfx classify or recheck wrote, e.g. runs/2024-07-01",
        )
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise RunError(
            f"{manifest_path}: cannot be read as a manifest ({exc})",
            hint="the manifest was edited or damaged; restore it from a backup",
        ) from None
    if not isinstance(data, dict):
        raise RunError(f"{manifest_path}: not a gthfx manifest (a JSON object was expected)")
    data = upgrade(data, path)
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        found = [f"{pydantic_location(e['loc'])}: {e['msg']}" for e in exc.errors()]
        more = f" (and {len(found) - MAX_LISTED} more)" if len(found) > MAX_LISTED else ""
        raise RunError(
            f"{manifest_path}: not a valid gthfx manifest (manifest version "
            f"{data['manifest_version']}): {'; '.join(found[:MAX_LISTED])}{more}",
            hint="the manifest was edited or damaged; restore it from a backup",
        ) from None
    for name in DATA_FILES:
        if not (path / name).is_file():
            raise RunError(f"{path / name}: missing; {path} is not a complete gthfx run folder")
    # every data file's footer read now (cheap): a damaged file is named with its run, here,
    # rather than surfacing later from a lazy read as a Parquet reader's error
    check_readable([path / name for name in DATA_FILES])
    return Run(path=path, manifest=manifest)


def _holds(digest: str) -> Callable[[Path], bool]:
    return lambda path: sha256_of(path) == digest


def read_outcomes(run_dir: Path) -> pl.DataFrame:
    """All outcomes of an earlier run, one frame (the tier files and excluded, stacked)."""
    return read_outcomes_files(outcome_paths(run_dir))


def outcome_paths(run_dir: Path) -> list[Path]:
    """The outcome files of a complete run folder (an error names the first one missing)."""
    paths = [run_dir / name for name in OUTCOME_FILES.values()]
    for path in paths:
        if not path.exists():
            raise RunError(f"{path}: missing; {run_dir} is not a complete gthfx run folder")
    return paths


def read_outcomes_files(paths: list[Path]) -> pl.DataFrame:
    return pl.concat([_read(p) for p in paths], how="diagonal_relaxed")


def _read(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path, glob=False)
    except Exception:  # a damaged file: which run, and how (checked against its manifest)
        raise unreadable(path) from None


__all__ = ["DATA_FILES", "Run", "open_run", "outcome_paths", "read_outcomes", "read_outcomes_files"]
