"""The yearly typing run as one library call: `classify(options) -> RunResult`. Never prints.

The engine comes from the registry (`gthfx.engines`) by name; the ruleset is compiled once and
handed to it; whatever engine typed the run, the same finishing step (`finish_run`: counts,
run folder, result) writes it — recheck finishes its runs with it too."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from gthfx import engines
from gthfx.engines.base import FileTable, Table, TypedRun
from gthfx.errors import ConfigError, RunError
from gthfx.ingest.load import sha256_of
from gthfx.ingest.sanity import file_warnings, input_warnings
from gthfx.ingest.validate import Accounting
from gthfx.progress import Reporter
from gthfx.report.regions import region_name
from gthfx.report.render import ClerkTables
from gthfx.rules.plan import compile_for
from gthfx.runs.changes import change_counts, change_log
from gthfx.runs.layout import check_target, previous_run, run_lock, workspace, writing
from gthfx.runs.reader import open_run
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
    A lazy frame (the outcome tables of a typed run) is read as a stream."""
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
    """The 1 July run: type every business of the annual extract with the engine named by
    `options.engine` and write the run folder, its change log against the previous run."""
    reporter = reporter or Reporter(quiet=True)
    engine = engines.get(options.engine)
    if options.memory_limit is not None and not engine.memory_capped:
        capped = engines.capable("memory_capped")
        raise ConfigError(
            f"--memory-limit applies to the {' / '.join(e.label for e in capped)} engine only",
            hint=f"add --engine {' or '.join(e.name for e in capped)}",
        )
    with run_lock(options.out):
        target = check_target(options.out, options.run_date, options.force)
        against = options.against or previous_run(options.out, options.run_date)
        if against is not None:
            if against.resolve() == target.resolve():
                raise RunError(f"{against}: a run cannot be compared with itself")
            open_run(against)  # an incomplete or damaged run folder is an error, before any work
        with reporter.stage("rules", "读取规则 reading rules"):
            sources, compiled = compile_for(options)
        with workspace(options.out, options.run_date) as work:
            run = engine.type_run(options, compiled, sources, reporter, work)
            with reporter.stage("changes", "对比上次 comparing with the previous run"):
                changes = change_log(against, run, work)
            return finish_run(
                run,
                changes,
                target=target,
                previous=against,
                run_date=options.run_date,
                command=options.command or tuple(sys.argv),
                excel=options.excel,
                settings={
                    "sources": str(options.sources.resolve()) if options.sources else None,
                    "sources_sha256": sha256_of(options.sources) if options.sources else None,
                    "encoding": options.encoding,
                    "engine": engine.name,
                    "memory_limit": options.duckdb_memory_limit if engine.memory_capped else None,
                },
                reporter=reporter,
            )


def finish_run(
    run: TypedRun,
    changes: Table,
    *,
    target: Path,
    previous: Path | None,
    run_date: date,
    command: tuple[str, ...],
    excel: bool,
    settings: dict[str, object],
    reporter: Reporter,
    extra: Callable[[Path, ClerkTables], None] | None = None,
    manifest_extra: dict[str, object] | None = None,
) -> RunResult:
    """The end of every run (classify, recheck): counts per outcome and district, the run
    folder written atomically in place of `target`, and the result. `extra` and
    `manifest_extra` add a use case's own files and manifest entries (see `runs.writer`)."""
    counts, by_district = summarise(run.any_order())
    warnings = run_warnings(run, run_date.year - 1, reporter)
    with reporter.stage("write", "写出结果 writing the run folder"), writing(target, run_date):
        write_run(
            target,
            run=run,
            changes=changes,
            counts=counts,
            by_district=by_district,
            previous=previous,
            command=command,
            run_date=run_date,
            excel=excel,
            timings=reporter.timings,
            settings=settings,
            extra=extra,
            manifest_extra={**(manifest_extra or {}), "warnings": list(reporter.warnings)},
        )
    return RunResult(
        run_dir=target,
        run_date=run_date,
        ruleset_id=run.compiled.source.ruleset.id,
        counts=counts,
        by_district=by_district,
        accounting=dict(run.accounting),
        changes=change_counts(FileTable(target / "changes.parquet")),
        previous=previous,
        timings=dict(reporter.timings),
        warnings=warnings,
    )


def run_warnings(run: TypedRun, report_year: int, reporter: Reporter) -> list[str]:
    """What the run went on despite (each input file's warnings, then whether the inputs look
    like the right files — `ingest.sanity`), shown now and kept for the manifest."""
    warnings = file_warnings(list(run.files)) + input_warnings(
        accounting=dict(run.accounting),
        rejects=run.rejects.lazy(),
        outcomes=run.any_order(),
        checks=run.sources.checks,
        report_year=report_year,
    )
    for warning in warnings:
        reporter.warn(warning)
    return warnings
