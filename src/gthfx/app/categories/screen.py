"""`gthfx categories screen`: every application screened against a typed run at date S (SPEC
§10), written to `<out>/<S>/screening/` — one library call, never prints.

The run gives the facts (tier, years in business, insured staff, district, industry) and the
quota base; the applications, evidence and records extracts are read like the typing extracts
(sources mapping, messy values, rejects with file and row, accounting); the criteria file in
force on S decides. The business name and the operator's masked name, phone and ID number come
from the run's annual extract (checked by SHA-256) or the application.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from gthfx.app.categories.core import (
    ELIGIBLE,
    INELIGIBLE,
    OVER_QUOTA,
    entries_from_applications,
    quota_table,
    records_rejected,
    screen_entries,
)
from gthfx.app.categories.folders import inputs_manifest, step_folder, write_manifest
from gthfx.app.categories.inputs import (
    annual_files,
    annual_names,
    load_category_extract,
    quota_base,
    run_facts,
    run_ref,
)
from gthfx.app.categories.labels import (
    HEADERS,
    common_text,
    criterion_words,
    reason_words,
    reject_text,
    words,
)
from gthfx.errors import ConfigError
from gthfx.ingest.validate import Accounting
from gthfx.progress import Reporter
from gthfx.report.regions import region_name
from gthfx.report.render import ClerkTables, as_text_table
from gthfx.rules.criteria import CompiledCriteria, compile_criteria, criteria_in_force
from gthfx.settings.sources import load_sources

SCREENING_FILE = "screening.parquet"
RESULTS = (ELIGIBLE, OVER_QUOTA, INELIGIBLE)
FIXED_COLUMNS = (
    "uscc", "category", "result", "reasons", "criteria_met", "criteria_count", "rank", "quota",
    "base", "name", "tier", "years_in_business", "insured_staff", "region_code", "industry_code",
    "in_run", "serious_dishonest", "records_rejected", "route", "recommender", "consent",
    "special_group", "applied_on", "operator_name_masked", "phone_masked", "operator_id_masked",
)  # fmt: skip
CLERK_COLUMNS = (
    "uscc", "name", "district", "category", "result", "reasons", "criteria_met", "criteria_count",
    "rank", "quota", "tier", "years_in_business", "insured_staff", "industry_code", "route",
    "recommender", "consent", "special_group", "applied_on", "operator_name_masked",
    "phone_masked",
)  # fmt: skip


@dataclass(frozen=True)
class ScreenOptions:
    run: Path
    on: date
    applications: tuple[Path, ...]
    evidence: tuple[Path, ...]
    records: tuple[Path, ...]
    criteria: Path
    out: Path
    annual: tuple[Path, ...] = ()
    sources: Path | None = None
    encoding: str | None = None
    force: bool = False
    excel: bool = True
    command: tuple[str, ...] = ()


@dataclass
class ScreenResult:
    """What a screening did. Owns the exit code."""

    folder: Path
    on: date
    criteria_id: str
    counts: dict[str, int]
    by_district: pl.DataFrame
    accounting: dict[str, Accounting]
    entries: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0


def screening_columns(compiled: CompiledCriteria) -> list[str]:
    """The column order of screening.parquet: the fixed columns, then every indicator."""
    return [*FIXED_COLUMNS, *(i.id for i in compiled.indicators)]


def screen(options: ScreenOptions, reporter: Reporter | None = None) -> ScreenResult:
    reporter = reporter or Reporter(quiet=True)
    on = options.on
    with reporter.stage("criteria", "读取认定条件 reading the criteria"):
        sources = load_sources(options.sources)
        source = criteria_in_force(options.criteria, on)
        compiled = compile_criteria(source, sources.category_extracts, on)
        crit = source.criteria
        run = run_ref(options.run)
    if on < run.run_date:
        raise ConfigError(
            f"--date {on} is before the run's date {run.run_date}",
            hint="screen against the latest run of the year (the 30 September recheck where "
            "there is one)",
        )
    with reporter.stage("load", "读取申报、佐证、负面记录 loading the extracts"):
        loaded = {
            extract: load_category_extract(extract, list(paths), sources, crit, options.encoding)
            for extract, paths in (
                ("applications", options.applications),
                ("evidence", options.evidence),
                ("records", options.records),
            )
        }
    apps, evidence, records = loaded["applications"], loaded["evidence"], loaded["records"]
    for items in loaded.values():
        acc = items.accounting
        reporter.info(
            f"extract={items.name} files={len(items.files)} read={acc.read} used={acc.used} "
            f"rejected={acc.rejected} collapsed={acc.collapsed}"
        )
    with reporter.stage("screen", "筛选 screening"):
        entries = entries_from_applications(apps.rows, str(crit.parameter("recommended_route")))
        codes = entries.get_column("uscc")
        facts = run_facts(run, codes, list(crit.parameter("serious_dishonest_reasons")))
        quotas = quota_table(
            quota_base(run, list(crit.parameter("quota_tiers"))),
            float(crit.parameter("quota_share")),
            int(crit.parameter("quota_minimum")),
        )
        screened = screen_entries(
            entries,
            evidence.rows,
            records.rows,
            records_rejected(records.rejects),
            facts,
            quotas,
            compiled,
        )
    with reporter.stage("names", "读取名称 reading business names"):
        if entries.height:
            names = annual_names(
                annual_files(run, list(options.annual)), codes, sources, options.encoding
            )
        else:
            names = pl.DataFrame(schema={"uscc": pl.String})
        screened = _with_names(screened, names)
    screened = screened.select(screening_columns(compiled))
    counts = {r: 0 for r in RESULTS} | dict(screened.group_by("result").len().iter_rows())
    by_district = _by_district(screened, quotas)
    rejects = pl.concat([i.rejects for i in loaded.values()]).sort("extract", "file", "row")
    cycle = options.out / on.isoformat()
    with (
        reporter.stage("write", "写出筛选结果 writing the screening folder"),
        step_folder(cycle, "screening", force=options.force) as staging,
    ):
        screened.write_parquet(staging / SCREENING_FILE)
        rejects.write_parquet(staging / "rejects.parquet")
        _clerk_files(staging, screened, rejects, by_district, compiled, options.excel)
        write_manifest(
            staging,
            {
                "kind": "categories-screening",
                "command": list(options.command or sys.argv),
                "screening_date": on.isoformat(),
                "run": {
                    "path": str(run.path),
                    "absolute_path": str(run.path.resolve()),
                    "run_date": run.run_date.isoformat(),
                    "ruleset_id": run.ruleset_id,
                },
                "criteria": criteria_manifest(compiled),
                "inputs": inputs_manifest(list(loaded.values())),
                "accounting": {i.name: i.accounting.as_dict() for i in loaded.values()},
                "entries": screened.height,
                "application_rows_used": apps.accounting.used,
                "results": counts,
                "by_district": by_district.to_dicts(),
                "rejects_by_reason": dict(sorted(rejects.group_by("reason").len().iter_rows())),
                "settings": {"sources": str(options.sources) if options.sources else None},
            },
        )
    return ScreenResult(
        folder=cycle / "screening",
        on=on,
        criteria_id=crit.id,
        counts=counts,
        by_district=by_district,
        accounting={i.name: i.accounting for i in loaded.values()},
        entries=screened.height,
        timings=dict(reporter.timings),
    )


def criteria_manifest(compiled: CompiledCriteria) -> dict[str, object]:
    src = compiled.source
    crit = src.criteria
    return {
        "id": crit.id,
        "title": crit.title,
        "path": str(src.path),
        "absolute_path": str(src.path.resolve()),
        "sha256": src.sha256,
        "effective_from": crit.effective_from.isoformat(),
        "effective_to": crit.effective_to.isoformat() if crit.effective_to else None,
        "parameters": {
            name: {"value": p.value, "unit": p.unit, "source": p.source}
            for name, p in crit.parameters.items()
        },
    }


def _with_names(screened: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    """The annual extract's name and operator details first (the department's data), else what
    the application gave; the application's phone first (the contact for this application)."""
    joined = screened.join(names, on="uscc", how="left", suffix="_annual")
    cols = set(joined.columns)

    def pick(first: str, second: str) -> pl.Expr:
        a = pl.col(first) if first in cols else pl.lit(None, pl.String)
        b = pl.col(second) if second in cols else pl.lit(None, pl.String)
        return pl.coalesce(a, b)

    return joined.with_columns(
        pick("name_annual", "name").alias("name"),
        pick("operator_name_masked_annual", "operator_name_masked").alias("operator_name_masked"),
        pick("phone_masked", "phone_masked_annual").alias("phone_masked"),
        pick("operator_id_masked_annual", "operator_id_masked").alias("operator_id_masked"),
    )


def _by_district(screened: pl.DataFrame, quotas: pl.DataFrame) -> pl.DataFrame:
    counts = screened.group_by("region_code").agg(
        [(pl.col("result") == r).sum().cast(pl.Int64).alias(r) for r in RESULTS]
    )
    return (
        counts.join(
            quotas.select("region_code", "base", "quota"),
            on="region_code",
            how="left",
            nulls_equal=True,
        )
        .with_columns(region_name(pl.col("region_code")).alias("district"))
        .sort("region_code", nulls_last=True)
        .select("region_code", "district", *RESULTS, "base", "quota")
    )


def _clerk_files(
    staging: Path,
    screened: pl.DataFrame,
    rejects: pl.DataFrame,
    by_district: pl.DataFrame,
    compiled: CompiledCriteria,
    excel: bool,
) -> None:
    """Per district: 筛选结果_<区>.csv (UTF-8 with BOM) and .xlsx; 拒收.csv; 筛选汇总.csv."""
    crit = compiled.criteria_file
    reasons, met = reason_words(crit), criterion_words(crit)
    headers = {c: HEADERS[c] for c in CLERK_COLUMNS}
    text = screened.with_columns(
        *common_text(screened), words("reasons", reasons), words("criteria_met", met)
    )
    for district, part in text.partition_by("district", as_dict=True, maintain_order=True).items():
        name = f"筛选结果_{district[0]}"
        tables = ClerkTables(staging, f"{name}.xlsx" if excel else None)
        tables.add(name[:31], part, lambda f: as_text_table(f, headers))
        tables.close()
    summary = by_district.select(
        pl.col("region_code").alias("行政区划代码"),
        pl.col("district").alias("区划名称"),
        pl.col(ELIGIBLE).alias("符合条件"),
        pl.col(OVER_QUOTA).alias("超出名额"),
        pl.col(INELIGIBLE).alias("不符合条件"),
        pl.col("base").alias("成长型与发展型户数"),
        pl.col("quota").alias("名额"),
    )
    summary.write_csv(staging / "筛选汇总.csv", include_bom=True)
    reject_text(rejects).write_csv(staging / "拒收.csv", include_bom=True)
