"""The in-memory engine (`--engine polars`, the default): the extracts loaded a batch at a time,
validated, joined and typed as Polars frames — the whole population in memory, vectorised end
to end. Also the typing steps that what-if, explain and rule cases reuse on frames of their own
(`prepare_extracts`, `type_joined`, `type_extracts`). Never prints, never writes a run folder."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

import polars as pl

from gthfx.engines.base import Correct, FrameTable, TypedRun
from gthfx.ingest import uscc
from gthfx.ingest.join import join_extracts
from gthfx.ingest.load import FileInfo, RawExtract, check_files, load_extract
from gthfx.ingest.validate import (
    Accounting,
    ValidatedExtract,
    own_copy,
    type_rows,
    validate_in_order,
)
from gthfx.progress import Reporter
from gthfx.rules.plan import RulePlan, compile_for
from gthfx.rules.to_polars import apply_branches, label_branches, with_reasons
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import EXTRACTS, SourcesMapping
from gthfx.vocab import BASE_COLUMNS, OUTCOME_ORDER


@dataclass
class Typed:
    """A run typed in memory: every outcome in one frame, sorted by `uscc`."""

    compiled: RulePlan
    sources: SourcesMapping
    outcomes: pl.DataFrame  # one row per business, BASE_COLUMNS + indicators, sorted by uscc
    rejects: pl.DataFrame
    accounting: dict[str, Accounting]
    files: list[FileInfo]
    per_file: dict[str, Accounting]

    def as_typed_run(self) -> TypedRun:
        """The engine-neutral result: one table per outcome (each a query over the one frame,
        so nothing is copied), each row marked not `decided` by hand."""
        frame = self.outcomes
        if "decided" not in frame.columns:
            frame = frame.with_columns(pl.lit(False).alias("decided"))
        lazy = frame.lazy()
        return TypedRun(
            compiled=self.compiled,
            sources=self.sources,
            outcomes={t: FrameTable(lazy.filter(pl.col("tier") == t)) for t in OUTCOME_ORDER},
            rejects=FrameTable(self.rejects),
            accounting=self.accounting,
            files=self.files,
            per_file=self.per_file,
            businesses=frame.height,
            everything=FrameTable(frame),
        )


class MemoryEngine:
    """The Polars engine: fast while the population fits in memory (a province: ~4 GB at 10 M)."""

    name: ClassVar[str] = "polars"
    label: ClassVar[str] = "Polars"
    supports_corrections: ClassVar[bool] = True
    memory_capped: ClassVar[bool] = False

    def type_run(
        self,
        options: RunOptions,
        compiled: RulePlan,
        sources: SourcesMapping,
        reporter: Reporter,
        work: Path,
        correct: Correct | None = None,
    ) -> TypedRun:
        prepared = read_prepared(options, compiled, sources, reporter, correct)
        return type_prepared(prepared, compiled, sources, reporter).as_typed_run()


@dataclass
class Prepared:
    """Extracts validated and joined, not yet typed: everything a ruleset needs."""

    joined: pl.DataFrame  # one row per business (see `join.join_extracts`)
    rejects: pl.DataFrame
    accounting: dict[str, Accounting]
    files: list[FileInfo]
    per_file: dict[str, Accounting]


def load_prepared(
    options: RunOptions,
    reporter: Reporter,
    correct: Correct | None = None,
    plan: RulePlan | None = None,
) -> tuple[Prepared, RulePlan, SourcesMapping]:
    """The plan of the ruleset in force on the run date (or `plan`, already built), then the
    extracts loaded, validated and joined for it (see `read_prepared`)."""
    with reporter.stage("rules", "读取规则 reading rules"):
        sources, compiled = compile_for(options) if plan is None else (plan.sources, plan)
    return read_prepared(options, compiled, sources, reporter, correct), compiled, sources


def read_prepared(
    options: RunOptions,
    compiled: RulePlan,
    sources: SourcesMapping,
    reporter: Reporter,
    correct: Correct | None = None,
) -> Prepared:
    """The extracts of `options.inputs` loaded, validated and joined for a plan. `correct`
    (recheck) may change each batch of typed rows of an extract before validation (duplicates,
    join)."""
    reporter.info(f"ruleset={compiled.source.ruleset.id} file={compiled.source.path}")
    # every file's existence and header row first: a bad social file should not wait for the
    # annual extract to be typed
    for extract in EXTRACTS:
        check_files(extract, list(options.inputs[extract]), sources.extracts[extract])

    def reader(extract: str) -> Callable[[], RawExtract]:
        def read() -> RawExtract:
            spec = sources.extracts[extract]
            with reporter.stage(f"load_{extract}", f"读取 {spec.label} loading {extract}"):
                return load_extract(
                    extract,
                    list(options.inputs[extract]),
                    spec,
                    options.encoding,
                    transform=partial(type_rows, spec=spec),
                    # corrections remember the first old value of a code: in file order
                    in_order=partial(correct, extract, spec) if correct is not None else None,
                )

        return read

    readers = {e: reader(e) for e in EXTRACTS}
    return prepare_extracts(readers, compiled, sources, reporter)


def load_joined(
    options: RunOptions, reporter: Reporter, plan: RulePlan | None = None
) -> tuple[pl.DataFrame, RulePlan, SourcesMapping]:
    """Load, validate and join the extracts exactly as the engine does, without typing:
    the joined frame, the plan of the ruleset in force on the run date (or `plan`, already
    built), and the sources mapping the frame was loaded with. `type_joined` types it, under that
    plan or any other for the same mapping (what-if), as often as needed."""
    prepared, compiled, sources = load_prepared(options, reporter, plan=plan)
    return prepared.joined, compiled, sources


def type_extracts(
    readers: dict[str, Callable[[], RawExtract]],
    compiled: RulePlan,
    sources: SourcesMapping,
    reporter: Reporter | None = None,
) -> Typed:
    """Validate, join and type extracts (read from files, or built by rule cases)."""
    reporter = reporter or Reporter(quiet=True)
    return type_prepared(
        prepare_extracts(readers, compiled, sources, reporter), compiled, sources, reporter
    )


def type_prepared(
    prepared: Prepared, compiled: RulePlan, sources: SourcesMapping, reporter: Reporter
) -> Typed:
    with reporter.stage("type", "分型 typing"):
        outcomes = type_joined(prepared.joined, compiled, sources, consume=True)
    return Typed(
        compiled=compiled,
        sources=sources,
        outcomes=outcomes,
        rejects=prepared.rejects,
        accounting=prepared.accounting,
        files=prepared.files,
        per_file=prepared.per_file,
    )


def prepare_extracts(
    readers: dict[str, Callable[[], RawExtract]],
    compiled: RulePlan,
    sources: SourcesMapping,
    reporter: Reporter | None = None,
) -> Prepared:
    """Validate and join extracts. Each extract is read only when its turn comes and its raw text
    is dropped once typed, so at most one raw extract is in memory at a time."""
    reporter = reporter or Reporter(quiet=True)
    files: list[FileInfo] = []

    def read(extract: str) -> RawExtract:
        raw = readers[extract]()
        files.extend(raw.files)
        # a handle of our own, which validation empties as it goes (the reader's is left as it
        # is): the typed rows are then freed column by column unless the reader keeps them
        return RawExtract(name=raw.name, frame=raw.frame, files=raw.files, typed=raw.typed)

    def stage(extract: str) -> AbstractContextManager[object]:
        label = sources.extracts[extract].label
        return reporter.stage(f"validate_{extract}", f"校验 {label} validating {extract}")

    validated: dict[str, ValidatedExtract] = {}
    in_order = validate_in_order(
        read, sources.extracts, report_year=compiled.run_date.year - 1, consume=True, stage=stage
    )
    for extract, checked in in_order:
        validated[extract] = checked
        acc = checked.accounting
        reporter.info(
            f"extract={extract} files={len(checked.per_file)} read={acc.read} "
            f"used={acc.used} rejected={acc.rejected} collapsed={acc.collapsed}"
        )
    del in_order  # annual's codes for the orphan check: not to be held through the join
    with reporter.stage("join", "归集 joining"):
        rejects = pl.concat([v.rejects for v in validated.values()]).sort("extract", "file", "row")
        accounting = {name: v.accounting for name, v in validated.items()}
        # keyed by FileInfo.key (extract:path): one file may serve two extracts
        per_file = {
            f"{v.name}:{p}": acc for v in validated.values() for p, acc in v.per_file.items()
        }
        joined = join_extracts(
            validated.pop("annual"), validated.pop("tax"), validated.pop("social"), consume=True
        )
    return Prepared(
        joined=joined, rejects=rejects, accounting=accounting, files=files, per_file=per_file
    )


GATHER_COLUMNS = 4  # columns put in code order at once: in parallel, and only those held twice


def type_joined(
    joined: pl.DataFrame,
    compiled: RulePlan,
    sources: SourcesMapping,
    *,
    consume: bool = False,
) -> pl.DataFrame:
    """The outcome of every business of a joined frame (see `join.join_extracts`) under one
    plan (built for the mapping the frame was loaded with: its reasons follow that mapping's
    fields): BASE_COLUMNS and the indicators, sorted by `uscc`. The joined frame is left
    as it is, so several plans can be applied to one (what-if) — unless `consume`, which
    empties it as soon as it is no longer needed, to free its memory during the sort."""
    # tier, rule id and tier label are read off the branch once sorted (see `apply_branches`)
    typed = apply_branches(joined, compiled)
    if consume:
        for name in joined.columns:
            joined.drop_in_place(name)
    masks = [c for c in typed.columns if c.startswith("_rmask_")]
    columns = [*BASE_COLUMNS, *(c for c in compiled.indicators if c not in BASE_COLUMNS)]
    labels = ("tier", "rule_id", "tier_label", "reasons")
    narrow = typed.select([c for c in columns if c not in labels] + ["_branch", *masks])
    del typed
    # gathered in `uscc` order a few columns at a time (in parallel), each group of unsorted
    # columns freed once gathered
    order = uscc.sort_order(narrow.get_column("uscc"))
    names = narrow.columns
    gathered: list[pl.Series] = []
    # the codes, gathered, would point into their unsorted buffers at random: they are copied in
    # order (beside the gathering of other columns), so that every later pass (the outcome
    # files, the clerk CSVs, the change log) reads them in order (10 M: write stage 12 → 10 s)
    sort = [
        own_copy(pl.col(n).gather(order)) if n == "uscc" else pl.col(n).gather(order) for n in names
    ]
    for start in range(0, len(names), GATHER_COLUMNS):
        group = pl.DataFrame(
            [narrow.drop_in_place(n) for n in names[start : start + GATHER_COLUMNS]]
        )
        gathered.extend(group.select(sort[start : start + GATHER_COLUMNS]).get_columns())
        del group
    narrow = pl.DataFrame(gathered)
    return with_reasons(label_branches(narrow, compiled), compiled.reasons).select(columns)
