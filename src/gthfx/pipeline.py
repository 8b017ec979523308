"""The yearly typing run as one library call: `classify(options) -> RunResult`. Never prints."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from gthfx import uscc
from gthfx.config import RunOptions
from gthfx.diff import diff_outcomes
from gthfx.errors import ConfigError, RunError
from gthfx.join import data_problem_checks, join_extracts
from gthfx.labels import cause_words
from gthfx.load import FileInfo, RawExtract, check_files, load_extract, sha256_of
from gthfx.outputs import OUTCOME_FILES, change_counts, outcome_paths, read_outcomes, write_run
from gthfx.progress import Reporter
from gthfx.regions import region_name
from gthfx.rules.engine import (
    EXCLUDED,
    OUTCOME_ORDER,
    CompiledRuleset,
    apply_ruleset,
    compile_ruleset,
    reason_names,
    with_reasons,
)
from gthfx.rules.model import ruleset_in_force
from gthfx.runfolder import check_target, previous_run, run_lock
from gthfx.sources import EXTRACTS, ExtractSpec, SourcesMapping, load_sources
from gthfx.validate import Accounting, ValidatedExtract, type_rows, validate_extract

if TYPE_CHECKING:
    from gthfx.duck import Stored

BASE_COLUMNS = (
    "uscc",
    "tier",
    "tier_label",
    "rule_id",
    "reasons",
    "flags",
    "region_code",
    "industry_code",
)


@dataclass
class Typed:
    """The computed part of a run, before anything is written."""

    compiled: CompiledRuleset
    sources: SourcesMapping
    outcomes: pl.DataFrame  # one row per business, BASE_COLUMNS + indicators, sorted by uscc
    rejects: pl.DataFrame
    accounting: dict[str, Accounting]
    files: list[FileInfo]
    per_file: dict[str, Accounting]


@dataclass
class RunResult:
    """What a run did: where it wrote, the counts, and the timings. Owns the exit code."""

    run_dir: Path
    run_date: date
    ruleset_id: str
    counts: dict[str, int]
    by_district: pl.DataFrame
    accounting: dict[str, Accounting]
    changes: dict[str, int]
    previous: Path | None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0


def compile_for(options: RunOptions) -> tuple[SourcesMapping, CompiledRuleset]:
    """The sources mapping and the ruleset in force on the run date, compiled: checked before
    any data is read."""
    sources = load_sources(options.sources)
    ruleset = ruleset_in_force(options.rules, options.run_date)
    compiled = compile_ruleset(ruleset, sources.field_types(), options.run_date)
    return sources.for_typing(set(compiled.reads)), compiled


@dataclass
class Prepared:
    """Extracts validated and joined, not yet typed: everything a ruleset needs."""

    joined: pl.DataFrame  # one row per business (see `join.join_extracts`)
    rejects: pl.DataFrame
    accounting: dict[str, Accounting]
    files: list[FileInfo]
    per_file: dict[str, Accounting]


Correct = Callable[[str, ExtractSpec, pl.DataFrame], pl.DataFrame]


def _typed_batch(
    frame: pl.DataFrame, *, extract: str, spec: ExtractSpec, correct: Correct | None
) -> pl.DataFrame:
    rows = type_rows(frame, spec)
    return correct(extract, spec, rows) if correct is not None else rows


def load_prepared(
    options: RunOptions, reporter: Reporter, correct: Correct | None = None
) -> tuple[Prepared, CompiledRuleset, SourcesMapping]:
    """The ruleset in force on the run date, compiled, then the extracts loaded, validated and
    joined for it. `correct` (recheck) may change each batch of typed rows of an extract before
    validation (duplicates, join)."""
    with reporter.stage("rules", "读取规则 reading rules"):
        sources, compiled = compile_for(options)
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
                    transform=partial(_typed_batch, extract=extract, spec=spec, correct=correct),
                )

        return read

    readers = {e: reader(e) for e in EXTRACTS}
    return prepare_extracts(readers, compiled, sources, reporter), compiled, sources


def type_businesses(options: RunOptions, reporter: Reporter) -> Typed:
    """Load, validate, join and type: everything but writing."""
    prepared, compiled, sources = load_prepared(options, reporter)
    return _typed(prepared, compiled, sources, reporter)


def load_joined(
    options: RunOptions, reporter: Reporter
) -> tuple[pl.DataFrame, CompiledRuleset, SourcesMapping]:
    """Load, validate and join the extracts exactly as `type_businesses` does, without typing:
    the joined frame, the ruleset in force on the run date compiled, and the sources mapping
    the frame was loaded with. `type_joined` types it, under that ruleset or any other (what-if),
    as often as needed."""
    prepared, compiled, sources = load_prepared(options, reporter)
    return prepared.joined, compiled, sources


def type_extracts(
    readers: dict[str, Callable[[], RawExtract]],
    compiled: CompiledRuleset,
    sources: SourcesMapping,
    reporter: Reporter | None = None,
) -> Typed:
    """Validate, join and type extracts (read from files, or built by rule cases)."""
    reporter = reporter or Reporter(quiet=True)
    return _typed(
        prepare_extracts(readers, compiled, sources, reporter), compiled, sources, reporter
    )


def _typed(
    prepared: Prepared, compiled: CompiledRuleset, sources: SourcesMapping, reporter: Reporter
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
    compiled: CompiledRuleset,
    sources: SourcesMapping,
    reporter: Reporter | None = None,
) -> Prepared:
    """Validate and join extracts. Each extract is read only when its turn comes and its raw text
    is dropped once typed, so at most one raw extract is in memory at a time."""
    reporter = reporter or Reporter(quiet=True)
    year = compiled.run_date.year - 1
    validated: dict[str, ValidatedExtract] = {}
    files: list[FileInfo] = []
    known: pl.Series | None = None
    for extract in EXTRACTS:
        spec = sources.extracts[extract]
        raw = readers[extract]()
        # a handle of our own, which validation empties as it goes (the reader's is left as it
        # is): the typed rows are then freed column by column unless the reader keeps them
        own = RawExtract(name=raw.name, frame=raw.frame, files=raw.files, typed=raw.typed)
        files.extend(raw.files)
        del raw
        with reporter.stage(f"validate_{extract}", f"校验 {spec.label} validating {extract}"):
            checked = validate_extract(own, spec, report_year=year, known_codes=known, consume=True)
        del own
        validated[extract] = checked
        acc = checked.accounting
        reporter.info(
            f"extract={extract} files={len(checked.per_file)} read={acc.read} "
            f"used={acc.used} rejected={acc.rejected} collapsed={acc.collapsed}"
        )
        if extract == "annual":
            known = pl.concat(
                [checked.rows.get_column("uscc"), checked.conflicts.get_column("uscc")]
            )
    with reporter.stage("join", "归集 joining"):
        rejects = pl.concat([v.rejects for v in validated.values()]).sort("extract", "file", "row")
        accounting = {name: v.accounting for name, v in validated.items()}
        per_file = {path: acc for v in validated.values() for path, acc in v.per_file.items()}
        del known  # annual's codes for the orphan check: not to be held through the join
        joined = join_extracts(
            validated.pop("annual"), validated.pop("tax"), validated.pop("social"), consume=True
        )
    return Prepared(
        joined=joined, rejects=rejects, accounting=accounting, files=files, per_file=per_file
    )


def type_joined(
    joined: pl.DataFrame,
    compiled: CompiledRuleset,
    sources: SourcesMapping,
    *,
    consume: bool = False,
) -> pl.DataFrame:
    """The outcome of every business of a joined frame (see `join.join_extracts`) under one
    compiled ruleset: BASE_COLUMNS and the indicators, sorted by `uscc`. The joined frame is left
    as it is, so several rulesets can be applied to one (what-if) — unless `consume`, which
    empties it as soon as it is no longer needed, to free its memory during the sort."""
    problems = data_problem_checks(sources)
    typed = apply_ruleset(joined, compiled, problems)
    if consume:
        for name in joined.columns:
            joined.drop_in_place(name)
    masks = [c for c in typed.columns if c.startswith("_rmask_")]
    columns = [*BASE_COLUMNS, *(c for c in compiled.indicators if c not in BASE_COLUMNS)]
    narrow = typed.select([c for c in columns if c != "reasons"] + masks)
    del typed
    # gathered in `uscc` order column by column, each unsorted column freed once gathered
    order = uscc.sort_order(narrow.get_column("uscc"))
    narrow = pl.DataFrame([narrow.drop_in_place(name).gather(order) for name in narrow.columns])
    return with_reasons(narrow, reason_names(compiled, problems)).select(columns)


def summarise(
    outcomes: pl.DataFrame | pl.LazyFrame,
) -> tuple[dict[str, int], pl.DataFrame]:
    """Counts per outcome, and per district (one row per region code, one column per outcome).
    A lazy frame (the outcome files of an out-of-core run) is read as a stream."""
    lazy = outcomes.lazy()
    counts = {name: 0 for name in OUTCOME_ORDER}
    for tier, n in lazy.group_by("tier").len().collect().iter_rows():
        counts[tier] = n
    by_district = (
        lazy.group_by("region_code")
        .agg([(pl.col("tier") == name).sum().alias(name) for name in OUTCOME_ORDER])
        .with_columns(
            region_name(pl.col("region_code")).alias("district"),
            pl.sum_horizontal(OUTCOME_ORDER).alias("total"),
        )
        .sort("region_code", nulls_last=True)
        .select("region_code", "district", *OUTCOME_ORDER, "total")
        .collect()
    )
    return counts, by_district


def classify(options: RunOptions, reporter: Reporter | None = None) -> RunResult:
    """The 1 July run: type every business of the annual extract and write the run folder —
    with the Polars engine, or out of core with DuckDB (`options.engine`, see `gthfx.duck`)."""
    reporter = reporter or Reporter(quiet=True)
    if options.memory_limit is not None and options.engine != "duckdb":
        raise ConfigError(
            "--memory-limit applies to the DuckDB engine only", hint="add --engine duckdb"
        )
    with run_lock(options.out):
        target = check_target(options.out, options.run_date, options.force)
        against = options.against or previous_run(options.out, options.run_date)
        if against is not None and against.resolve() == target.resolve():
            raise RunError(f"{against}: a run cannot be compared with itself")
        if options.engine == "duckdb":
            from gthfx import duck

            with duck.workspace(options.out, options.run_date) as work:
                stored = duck.type_out_of_core(options, reporter, work)
                with reporter.stage("changes", "对比上次 comparing with the previous run"):
                    if against is not None:
                        outcome_paths(against)  # an incomplete run folder is an error
                    changes: pl.DataFrame | Path = duck.change_log(
                        against, stored, work, options.duckdb_memory_limit
                    )
                counts, by_district = summarise(pl.scan_parquet(list(stored.outcomes.values())))
                _write(options, target, stored, changes, counts, by_district, against, reporter)
            typed_result: Typed | duck.Stored = stored
        else:
            typed = type_businesses(options, reporter)
            with reporter.stage("changes", "对比上次 comparing with the previous run"):
                before = read_outcomes(against) if against is not None else None
                changes = diff_outcomes(
                    before,
                    typed.outcomes,
                    typed.compiled.indicators,
                    cause_words(typed.compiled, typed.sources),
                )
            counts, by_district = summarise(typed.outcomes)
            _write(options, target, typed, changes, counts, by_district, against, reporter)
            typed_result = typed
    return RunResult(
        run_dir=target,
        run_date=options.run_date,
        ruleset_id=typed_result.compiled.source.ruleset.id,
        counts=counts,
        by_district=by_district,
        accounting=typed_result.accounting,
        changes=change_counts(target / "changes.parquet"),
        previous=against,
        timings=dict(reporter.timings),
    )


def _write(
    options: RunOptions,
    target: Path,
    typed: Typed | Stored,
    changes: pl.DataFrame | Path,
    counts: dict[str, int],
    by_district: pl.DataFrame,
    against: Path | None,
    reporter: Reporter,
) -> None:
    with reporter.stage("write", "写出结果 writing the run folder"):
        write_run(
            target,
            typed=typed,
            changes=changes,
            counts=counts,
            by_district=by_district,
            previous=against,
            command=options.command or tuple(sys.argv),
            run_date=options.run_date,
            excel=options.excel,
            timings=reporter.timings,
            settings={
                "sources": str(options.sources.resolve()) if options.sources else None,
                "sources_sha256": sha256_of(options.sources) if options.sources else None,
                "encoding": options.encoding,
                "engine": options.engine,
                "memory_limit": options.duckdb_memory_limit if options.engine == "duckdb" else None,
            },
        )


__all__ = ["EXCLUDED", "OUTCOME_FILES", "RunResult", "classify", "type_businesses"]
