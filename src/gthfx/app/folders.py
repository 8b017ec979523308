"""The folders the support, sample and export commands write: atomic, locked, with a manifest.

Each is written the way a run folder is (`runs.layout`): into a hidden staging folder beside the
target, under the lock of the folder holding it, and renamed into place only when every file is
complete — a killed command leaves the previous folder as it was; replacing an existing one needs
`force`. The manifest (`manifest.json`, keys sorted, one final newline) records what the folder
was made from: the run (its folder, date, ruleset and the SHA-256 of its manifest), every other
input file with its SHA-256, and the SHA-256 of every file written. No clock and no timings, so
that the same inputs give the same data files byte for byte. Never prints.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from gthfx import __version__
from gthfx.errors import RunError
from gthfx.ingest.load import sha256_of
from gthfx.runs.layout import commit, run_lock, staging_folder
from gthfx.runs.manifest import MANIFEST_NAME
from gthfx.runs.reader import Run

FOLDER_VERSION = 1  # the layout of these folders' manifests; raised when a key changes meaning


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunRecord(_Record):
    """The run a folder was made from."""

    path: str
    absolute_path: str
    run_date: date
    kind: str  # classify or recheck
    ruleset_id: str
    manifest_sha256: str  # of the run's manifest.json, which holds every data file's SHA-256


class FileRecord(_Record):
    """One input file besides the run: its role, where it was read and its SHA-256."""

    role: str  # policies, inspections, risk, inspectors, plan, register, …
    path: str
    absolute_path: str
    sha256: str


def run_record(run: Run) -> RunRecord:
    return RunRecord(
        path=str(run.path),
        absolute_path=str(run.path.resolve()),
        run_date=run.manifest.run_date,
        kind=run.manifest.kind,
        ruleset_id=run.manifest.ruleset.id,
        manifest_sha256=sha256_of(run.path / MANIFEST_NAME),
    )


def file_record(role: str, path: Path, sha256: str | None = None) -> FileRecord:
    return FileRecord(
        role=role,
        path=str(path),
        absolute_path=str(path.resolve()),
        sha256=sha256 if sha256 is not None else sha256_of(path),
    )


def folder_sha256(folder: Path) -> str:
    """One SHA-256 over a folder's files (a register): each file's relative path and SHA-256,
    in path order, hidden files left out."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        digest.update(f"{relative.as_posix()}\t{sha256_of(path)}\n".encode())
    return digest.hexdigest()


def command_line() -> tuple[str, ...]:
    return ("gthfx", *sys.argv[1:])


def manifest_text(data: dict[str, Any]) -> str:
    """A manifest's text: keys sorted, non-ASCII as is, indented by 2, one final newline."""
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def manifest_base(kind: str) -> dict[str, Any]:
    return {"folder_version": FOLDER_VERSION, "gthfx_version": __version__, "kind": kind}


@contextmanager
def staged(target: Path, *, force: bool, label: date) -> Iterator[Path]:
    """A staging folder for `target` under the lock of its parent; on a clean exit it replaces
    `target` (which may exist only with `force`). `label` names the staging folder."""
    parent = target.parent
    with run_lock(parent):
        if target.exists() and not force:
            raise RunError(
                f"{target}: already exists",
                hint="pass --force to replace it, or choose another --out",
            )
        staging = staging_folder(parent, label)
        yield staging
        commit(staging, target)


def write_manifest(staging: Path, data: dict[str, Any]) -> dict[str, str]:
    """Hash every file of the staging folder into `files`, then write `manifest.json`."""
    files = {p.name: sha256_of(p) for p in sorted(staging.iterdir()) if p.is_file()}
    (staging / MANIFEST_NAME).write_text(manifest_text({**data, "files": files}), encoding="utf-8")
    return files


def read_manifest(folder: Path, kind: str) -> dict[str, Any]:
    """The manifest of a folder of `kind`; a missing, damaged or foreign one is a `RunError`."""
    path = folder / MANIFEST_NAME
    if not folder.is_dir():
        raise RunError(f"{folder}: no such folder")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{folder}: not a gthfx {kind} folder (no {MANIFEST_NAME})") from None
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: cannot be read as a manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        found = data.get("kind") if isinstance(data, dict) else None
        raise RunError(f"{folder}: not a gthfx {kind} folder (its manifest says {found!r})")
    version = data.get("folder_version")
    if not isinstance(version, int) or version > FOLDER_VERSION:
        raise RunError(
            f"{folder}: written by gthfx {data.get('gthfx_version')} (folder version "
            f"{version!r}), which this version (gthfx {__version__}) cannot read"
        )
    return data
