"""Why a file of an earlier run folder cannot be read: one clear error naming the run.

A run folder is written atomically, but a disk, a copy or a hand can damage it later (a
truncated Parquet file). When reading one of its files fails, `unreadable` checks the file
against the SHA-256 its run's manifest recorded (`files`) and says which run is damaged and how,
instead of a Parquet reader's traceback. Never writes.
"""

from __future__ import annotations

import glob
import hashlib
import json
from pathlib import Path

from gthfx.errors import RunError


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def check_readable(paths: list[Path]) -> None:
    """Each Parquet file of a run can at least be opened (its footer read): a cheap check
    before a step that streams them (the out-of-core engine's change log)."""
    import polars as pl

    for path in paths:
        try:
            pl.read_parquet_schema(path)
        except Exception:
            raise unreadable(path) from None


def unreadable(path: Path) -> RunError:
    """The error for a run file that could not be read (see the module docstring)."""
    run = path.parent
    if glob.has_magic(str(path)):
        return RunError(
            f"{run}: gthfx cannot read a run folder whose path holds [ ], * or ?",
            hint="rename the folder (or its parent folders) without those characters",
        )
    if not path.exists():
        return RunError(f"{path}: missing; the run {run} is damaged or incomplete")
    recorded = None
    try:
        manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
        recorded = (manifest.get("files") or {}).get(path.name)
    except (OSError, ValueError, AttributeError):
        pass
    if recorded is None:
        how = "it cannot be read, and the run's manifest.json has no SHA-256 to check it against"
    elif recorded != _sha256(path):
        how = "its SHA-256 differs from the one in the run's manifest.json (damaged or changed)"
    else:
        how = "it cannot be read although it matches the run's manifest.json"
    return RunError(
        f"{path}: {how}; the run {run} is damaged",
        hint="restore the run folder from a backup, or run that date again with --force",
    )
