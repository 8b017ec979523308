"""The engine interface: what an engine is asked to do (type a run's extracts under a compiled
ruleset) and the one result every engine returns (`TypedRun`), before anything is written.

In the spirit of dbt's adapters and Polars' `Engine`: an engine is one class with a `name`, the
capabilities it declares (asked for, never assumed from the name) and `type_run`. Callers pick
an engine from the registry (`gthfx.engines`) and never ask which one they got; the run-folder
writer reads `TypedRun` tables through `lazy()` and `save()` wherever they live — a frame in
memory or a Parquet file in the run's work folder. Never prints, never writes a run folder.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

import polars as pl

from gthfx.ingest.load import FileInfo
from gthfx.ingest.validate import Accounting
from gthfx.progress import Reporter
from gthfx.rules.plan import RulePlan
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import ExtractSpec, SourcesMapping

# a correction step (recheck): (extract, its spec, a batch of typed rows) → corrected rows,
# applied before validation (duplicates, orphans, the join)
Correct = Callable[[str, ExtractSpec, pl.DataFrame], pl.DataFrame]

PARQUET = {"compression": "zstd", "compression_level": 1, "statistics": True}


class Table(Protocol):
    """A table of a typed run, wherever it lives."""

    @property
    def in_memory(self) -> bool:
        """True when reading it whole costs no more memory than it already takes."""
        ...

    def lazy(self) -> pl.LazyFrame:
        """A query over the table (streamed where the engine's storage allows)."""
        ...

    def save(self, path: Path) -> Table:
        """Write (or move) the table to the Parquet file `path`; the table to read afterwards
        (a table that lived in a file was moved: the old handle reads nothing)."""
        ...


@dataclass(frozen=True)
class FrameTable:
    """A table held in memory: a frame, or a query over frames (streamed into its file)."""

    frame: pl.DataFrame | pl.LazyFrame

    @property
    def in_memory(self) -> bool:
        return True

    def lazy(self) -> pl.LazyFrame:
        return self.frame.lazy()

    def save(self, path: Path) -> Table:
        if isinstance(self.frame, pl.LazyFrame):
            self.frame.sink_parquet(path, **PARQUET)  # type: ignore[call-overload]
        else:
            self.frame.write_parquet(path, **PARQUET)  # type: ignore[arg-type]
        return self


@dataclass(frozen=True)
class FileTable:
    """A Parquet file an engine wrote into its work folder; saving moves it."""

    path: Path

    @property
    def in_memory(self) -> bool:
        return False

    def lazy(self) -> pl.LazyFrame:
        return pl.scan_parquet(self.path)

    def save(self, path: Path) -> Table:
        self.path.replace(path)
        return FileTable(path)


def merged(tables: Sequence[Table]) -> pl.LazyFrame:
    """One query over tables that are each sorted by `uscc`, still sorted by `uscc` (a merge,
    not a sort: nothing is copied or sorted again)."""
    queries = [t.lazy() for t in tables]
    return functools.reduce(lambda a, b: a.merge_sorted(b, key="uscc"), queries)


@dataclass(frozen=True)
class TypedRun:
    """What every engine returns: a run typed, before anything is written.

    `outcomes` has one table per outcome (`vocab.OUTCOME_ORDER`), each sorted by `uscc`, with
    the columns of the plan's outcome schema (BASE_COLUMNS, the indicators, `decided`).
    `everything`, where the engine holds one, is every outcome in one table sorted by `uscc`
    (the outcome tables are then queries over it): read whole, it costs no copy and no merge."""

    compiled: RulePlan
    sources: SourcesMapping
    outcomes: Mapping[str, Table]
    rejects: Table
    accounting: Mapping[str, Accounting]
    files: Sequence[FileInfo]
    per_file: Mapping[str, Accounting]
    businesses: int
    everything: Table | None = None

    def all_outcomes(self) -> pl.LazyFrame:
        """Every business's outcome, one query sorted by `uscc`."""
        if self.everything is not None:
            return self.everything.lazy()
        return merged(list(self.outcomes.values()))

    def any_order(self) -> pl.LazyFrame:
        """Every business's outcome, one query in no particular order (for counts)."""
        if self.everything is not None:
            return self.everything.lazy()
        return pl.concat([t.lazy() for t in self.outcomes.values()])

    def in_memory(self) -> bool:
        """True when every outcome table lives in memory (see `Table.in_memory`)."""
        return all(t.in_memory for t in self.outcomes.values())


class Engine(Protocol):
    """Types the extracts of a run under a compiled ruleset.

    Capabilities are declared, and callers ask for them:
    - `supports_corrections`: `type_run` applies a `correct` step to the typed rows (recheck);
    - `memory_capped`: the engine keeps to `options.memory_limit` (out of core).
    """

    name: ClassVar[str]  # as on the command line (`--engine NAME`) and in the manifest
    label: ClassVar[str]  # as in messages
    supports_corrections: ClassVar[bool]
    memory_capped: ClassVar[bool]

    def type_run(
        self,
        options: RunOptions,
        compiled: RulePlan,
        sources: SourcesMapping,
        reporter: Reporter,
        work: Path,
        correct: Correct | None = None,
    ) -> TypedRun:
        """Load, validate, join and type the extracts of `options.inputs`. `sources` is the
        mapping for typing (`rules.plan.compile_for`); `work` is an empty folder of the run's
        own (inside the locked output folder, removed afterwards) for files the engine writes."""
        ...
