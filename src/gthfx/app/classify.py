"""The yearly typing run as one library call: `classify(options) -> RunResult`. Never prints."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from gthfx.engines.base import Stored, Typed
from gthfx.engines.memory import type_businesses
from gthfx.errors import ConfigError, RunError
from gthfx.ingest.load import sha256_of
from gthfx.ingest.sanity import file_warnings, input_warnings
from gthfx.ingest.validate import Accounting
from gthfx.progress import Reporter
from gthfx.report.labels import cause_words
from gthfx.report.regions import region_name
from gthfx.runs.changes import change_counts, change_log, diff_outcomes
from gthfx.runs.integrity import check_readable
from gthfx.runs.layout import check_target, previous_run, run_lock, writing
from gthfx.runs.reader import outcome_paths, read_outcomes
from gthfx.runs.writer import write_run
from gthfx.settings.config import RunOptions
from gthfx.vocab import OUTCOME_ORDER


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
    warnings: list[str] = field(default_factory=list)  # shown as they came; in the manifest too

    @property
    def exit_code(self) -> int:
        return 0


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
    with the Polars engine, or out of core with DuckDB (`options.engine`, see
    `gthfx.engines.outofcore`)."""
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
            from gthfx.engines import outofcore as duck

            with duck.workspace(options.out, options.run_date) as work:
                stored = duck.type_out_of_core(options, reporter, work)
                with reporter.stage("changes", "对比上次 comparing with the previous run"):
                    if against is not None:  # an incomplete or damaged run folder is an error
                        check_readable(outcome_paths(against))
                    changes: pl.DataFrame | Path = change_log(
                        against, stored, work, options.duckdb_memory_limit
                    )
                counts, by_district = summarise(pl.scan_parquet(list(stored.outcomes.values())))
                warnings = run_warnings(stored, options.run_date.year - 1, reporter)
                _write(options, target, stored, changes, counts, by_district, against, reporter)
            typed_result: Typed | Stored = stored
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
            warnings = run_warnings(typed, options.run_date.year - 1, reporter)
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
        warnings=warnings,
    )


def run_warnings(typed: Typed | Stored, report_year: int, reporter: Reporter) -> list[str]:
    """What the run went on despite (each input file's warnings, then whether the inputs look
    like the right files — `ingest.sanity`), shown now and kept for the manifest."""
    outcomes = typed.outcomes
    lazy = (
        pl.scan_parquet(list(outcomes.values())) if isinstance(outcomes, dict) else outcomes.lazy()
    )
    rejects = typed.rejects
    warnings = file_warnings(typed.files) + input_warnings(
        accounting=typed.accounting,
        rejects=pl.scan_parquet(rejects) if isinstance(rejects, Path) else rejects.lazy(),
        outcomes=lazy,
        checks=typed.sources.checks,
        report_year=report_year,
    )
    for warning in warnings:
        reporter.warn(warning)
    return warnings


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
    with (
        reporter.stage("write", "写出结果 writing the run folder"),
        writing(target, options.run_date),
    ):
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
            manifest_extra={"warnings": list(reporter.warnings)},
            settings={
                "sources": str(options.sources.resolve()) if options.sources else None,
                "sources_sha256": sha256_of(options.sources) if options.sources else None,
                "encoding": options.encoding,
                "engine": options.engine,
                "memory_limit": options.duckdb_memory_limit if options.engine == "duckdb" else None,
            },
        )
