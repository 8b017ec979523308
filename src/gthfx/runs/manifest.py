"""What `manifest.json` holds, as one versioned model, and the one way to write it and read it
back.

One frozen model per part (the ruleset, each input file with its accounting, the settings, a
recheck's review) and `manifest_version` for the layout.

The promise: a run folder is a versioned contract. This gthfx writes `MANIFEST_VERSION` and reads
every version up to it: an older layout is upgraded, step by step, into the current one
(`UPGRADES`); a newer one is refused, never guessed at. Any change to what a manifest holds — a key
added, removed, renamed, or a value that means something else — raises `MANIFEST_VERSION` and adds
an upgrade from the version before. Version 0 is what gthfx 0.1.0 wrote before manifests carried
a version: the keys of version 1 without `manifest_version` and without the warnings (the run's,
and each input file's `sheet` and `warnings`).

Written deterministically: keys sorted, UTF-8, indented by 2, one final newline. I/O-free: the
run folder reader (`runs.reader`) does the reading.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from gthfx import __version__
from gthfx.errors import RunError

MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"
# keys only a recheck writes (a classify manifest leaves them out altogether)
RECHECK_KEYS = ("base_run", "base_run_absolute", "fresh_extracts", "review")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountingRecord(_Record):
    """Rows of one extract or one file: read = used + rejected + collapsed."""

    read: int
    used: int
    rejected: int
    collapsed: int


class ParameterRecord(_Record):
    """One ruleset parameter as the run used it."""

    value: int | float | str | bool | list[str] | list[int]  # as in the ruleset's YAML
    unit: str
    source: str


class RulesetRecord(_Record):
    """The ruleset in force: where it was read (as given, and absolute), and its SHA-256 (of the
    file, preceded by the file it `extends`, if any)."""

    id: str
    title: str
    path: str
    absolute_path: str
    sha256: str
    effective_from: date
    effective_to: date | None
    parameters: dict[str, ParameterRecord]


class InputRecord(_Record):
    """One input file: where it was read (as given, and absolute), its SHA-256, how it was read
    (format, encoding, the header used for each field, the headers ignored) and its rows."""

    extract: str
    path: str
    absolute_path: str
    sha256: str
    format: str
    encoding: str | None
    rows: int
    columns: dict[str, str]  # canonical field → header found in the file
    ignored_columns: tuple[str, ...]
    accounting: AccountingRecord
    sheet: str | None = None  # the workbook sheet read (XLSX)
    warnings: tuple[str, ...] = ()  # what the file could be read despite (merged cells, …)


class RunSettings(_Record):
    """The options that change a result beyond the input files and the ruleset."""

    sources: str | None  # the sources mapping's absolute path; None: the shipped one
    sources_sha256: str | None
    encoding: str | None  # a forced CSV encoding
    engine: str
    memory_limit: str | None  # DuckDB's cap (the out-of-core engine only)


class ReviewCounts(_Record):
    corrections: int
    decisions: int
    feedback: int


class ReviewRecord(_Record):
    """A recheck's review files (as given, with their SHA-256) and how many items it applied."""

    corrections: tuple[str, ...]
    decisions: tuple[str, ...]
    feedback: tuple[str, ...]
    corrections_sha256: tuple[str, ...]
    decisions_sha256: tuple[str, ...]
    feedback_sha256: tuple[str, ...]
    applied: ReviewCounts


class Manifest(_Record):
    """Everything `manifest.json` records of one run. Paths are as they were given (relative to
    where the run was started) beside their absolute form; `runs.reader` finds the files."""

    # the layout the file was written in: this gthfx writes MANIFEST_VERSION, reads any up to it
    manifest_version: int = Field(ge=0, le=MANIFEST_VERSION)
    gthfx_version: str
    kind: Literal["classify", "recheck"]
    command: tuple[str, ...]
    run_date: date
    report_year: int
    ruleset: RulesetRecord
    inputs: tuple[InputRecord, ...]
    accounting: dict[str, AccountingRecord]  # per extract
    outcomes: dict[str, int]  # businesses per outcome
    businesses: int
    rejects_by_reason: dict[str, int]  # "extract:reason" → rows
    previous_run: str | None  # the run the change log is against (a recheck: its base run)
    previous_run_absolute: str | None
    changes: dict[str, int]  # businesses per change kind
    files: dict[str, str]  # every other file of the folder → SHA-256
    timings_seconds: dict[str, float]
    settings: RunSettings
    warnings: tuple[
        str, ...
    ] = ()  # what the run could be done despite (every file's, and the run's)
    # a recheck's own (None, and left out of the file, for a classify run)
    base_run: str | None = None
    base_run_absolute: str | None = None
    fresh_extracts: tuple[str, ...] | None = None  # extracts read from fresh files
    review: ReviewRecord | None = None

    @model_validator(mode="after")
    def _recheck_keys_with_a_recheck(self) -> Manifest:
        present = [k for k in RECHECK_KEYS if getattr(self, k) is not None]
        if self.kind == "recheck" and len(present) < len(RECHECK_KEYS):
            missing = ", ".join(k for k in RECHECK_KEYS if k not in present)
            raise ValueError(f"a recheck's manifest records {missing}")
        if self.kind != "recheck" and present:
            raise ValueError(f"only a recheck's manifest records {', '.join(present)}")
        return self

    @model_serializer(mode="wrap")
    def _without_absent_recheck_keys(self, handler: Callable[[Manifest], Any]) -> Any:
        data = handler(self)
        if self.kind != "recheck" and isinstance(data, dict):
            for key in RECHECK_KEYS:
                data.pop(key, None)
        return data

    def to_json(self) -> str:
        """The file's text: keys sorted, non-ASCII as is, indented by 2, one final newline."""
        return (
            json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2, sort_keys=True)
            + "\n"
        )


def _from_version_0(data: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (gthfx 0.1.0 before versioning) holds version 1's keys with the same meaning,
    but for the warnings version 1 records: none were recorded, so none (`warnings`, and each
    input's `sheet` and `warnings`)."""
    out = {**data, "warnings": data.get("warnings", [])}
    if isinstance(data.get("inputs"), list):  # a missing or broken `inputs` stays as it is
        out["inputs"] = [
            {"sheet": None, "warnings": [], **item} if isinstance(item, dict) else item
            for item in data["inputs"]
        ]
    return out


# version N → a function turning a version-N mapping into a version-(N+1) one
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _from_version_0}


def manifest_version(data: dict[str, Any], run: Path) -> int:
    """The layout version the manifest mapping of the run folder `run` declares (0 when it
    declares none); a version newer than this gthfx knows is a `RunError` naming the gthfx that
    wrote it."""
    version = data.get("manifest_version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise RunError(
            f"{run / MANIFEST_NAME}: manifest_version is {version!r}, not a version number",
            hint="the manifest was edited or damaged; restore it from a backup",
        )
    if version > MANIFEST_VERSION:
        writer = data.get("gthfx_version") or "unknown"
        raise RunError(
            f"{run}: written by gthfx {writer} (manifest version {version}), which this version "
            f"(gthfx {__version__}) cannot read",
            hint=f"read it with gthfx {writer} or later (this one reads manifest versions 0 to "
            f"{MANIFEST_VERSION})",
        )
    return version


def upgrade(data: dict[str, Any], run: Path) -> dict[str, Any]:
    """A manifest mapping of any readable version in the current layout. `manifest_version`
    still says which version the file was written in (0 for an unversioned one)."""
    written = version = manifest_version(data, run)
    while version < MANIFEST_VERSION:
        data = UPGRADES[version](data)
        version += 1
    return {**data, "manifest_version": written}


__all__ = [
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "AccountingRecord",
    "InputRecord",
    "Manifest",
    "ParameterRecord",
    "ReviewCounts",
    "ReviewRecord",
    "RulesetRecord",
    "RunSettings",
    "manifest_version",
    "upgrade",
]
