"""Reading a run folder that gthfx wrote: its outcome files. Never writes."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from gthfx.errors import RunError
from gthfx.runs.integrity import unreadable
from gthfx.vocab import OUTCOME_FILES


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
