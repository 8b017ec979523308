"""What every engine returns: a typed run (outcomes, rejects, accounting), before anything is
written. Never prints, never writes a run folder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from gthfx.ingest.load import FileInfo
from gthfx.ingest.validate import Accounting
from gthfx.rules.plan import RulePlan
from gthfx.settings.sources import ExtractSpec, SourcesMapping


@dataclass
class Typed:
    """The computed part of a run, before anything is written."""

    compiled: RulePlan
    sources: SourcesMapping
    outcomes: pl.DataFrame  # one row per business, BASE_COLUMNS + indicators, sorted by uscc
    rejects: pl.DataFrame
    accounting: dict[str, Accounting]
    files: list[FileInfo]
    per_file: dict[str, Accounting]


Correct = Callable[[str, ExtractSpec, pl.DataFrame], pl.DataFrame]


@dataclass
class Stored:
    """A run typed out of core: what `outputs.write_run` needs, as files in the work folder."""

    compiled: RulePlan
    sources: SourcesMapping
    outcomes: dict[str, Path]  # tier → Parquet file, sorted by uscc
    rejects: Path
    accounting: dict[str, Accounting]
    files: list[FileInfo]
    per_file: dict[str, Accounting]
    businesses: int


# a frame; a query over one (streamed, never whole in memory); or a Parquet file an engine wrote
Table = pl.DataFrame | pl.LazyFrame | Path
