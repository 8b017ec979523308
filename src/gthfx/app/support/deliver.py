"""`gthfx support`: a run matched against the policy library, as one library call:
`support(options) -> SupportResult`.

Reads the run (through `runs.reader`), the library (`rules.policies`, compiled for the run's
columns and date: a bad condition stops before any data is read) and, when given, the 名特优新
register's entries in force on the run date. Writes one folder, atomically (`app.folders`):

- `measures.parquet` — one row per business and measure it gets: `uscc, measure_id`, sorted;
- `counts.parquet` — businesses per measure and district (zeros included); `统计.csv` the same
  as a table for clerks (measures × districts, with totals);
- `措施说明.csv` — every measure in force: department, delivery, benefit, how to apply, contact,
  source, dates, file;
- `notices.parquet` — one row per business that gets a measure: `uscc, region_code, tier,
  measures, notice` (the 政策告知, plain Chinese, no personal data);
- `推送清单_<区名>_<区划代码>.csv` (UTF-8 with BOM) and `.xlsx` (with `excel`) — per district,
  the businesses to reach with their measures and notice, sorted by code;
- `manifest.json` — the run, the library files and register with their SHA-256, the measures in
  force and not, the counts, and every file's SHA-256.

Never prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from gthfx.app.folders import (
    command_line,
    file_record,
    folder_sha256,
    manifest_base,
    run_record,
    staged,
    write_manifest,
)
from gthfx.app.register_entries import entries_in_force
from gthfx.app.support.match import (
    MASK_BITS,
    Matched,
    attach_categories,
    counts,
    long_table,
    mask_column,
    match,
    population,
)
from gthfx.report.regions import region_name
from gthfx.report.render import ClerkTables, as_text_table
from gthfx.report.support import (
    MEASURE_HEADERS,
    PUSH_HEADERS,
    NoticeMeasure,
    category_text,
    district_file,
    notice,
)
from gthfx.rules.policies import (
    CompiledMeasure,
    PolicyPlan,
    compile_library,
    described,
    load_library,
    scope_columns,
)
from gthfx.runs.reader import Run, open_run
from gthfx.vocab import CATEGORY_LABELS, TIER_LABELS


@dataclass(frozen=True)
class SupportOptions:
    run: Path
    policies: Path
    out: Path
    register: Path | None = None
    force: bool = False
    excel: bool = True
    command: tuple[str, ...] = field(default_factory=command_line)


@dataclass(frozen=True)
class SupportResult:
    """What was written, and the figures a summary shows."""

    out: Path
    run_date: date
    businesses: int  # in the run
    reached: int  # getting at least one measure
    rows: int  # of measures.parquet
    per_measure: pl.DataFrame  # measure_id, title, delivery, businesses (measures in force)
    per_district: pl.DataFrame  # region_code, district, businesses, reached
    not_in_force: tuple[str, ...]
    files: tuple[str, ...]


def compile_for_run(run: Run, policies: Path) -> PolicyPlan:
    """The library compiled for the run's columns and date."""
    library = load_library(policies)
    schema = run.outcomes().collect_schema()
    return compile_library(library, scope_columns(dict(schema)), run.manifest.run_date)


def catalogue(measures: tuple[CompiledMeasure, ...], per_measure: pl.DataFrame) -> pl.DataFrame:
    """The measures table: every measure in force with its details and its businesses."""
    rows = [described(m) for m in measures]
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        **dict.fromkeys(MEASURE_HEADERS, pl.String),
        "tiers": pl.List(pl.String),
        "categories": pl.List(pl.String),
        "effective_from": pl.Date,
        "effective_to": pl.Date,
        "businesses": pl.UInt32,
    }
    frame = pl.DataFrame(
        rows, schema={k: v for k, v in schema.items() if k != "businesses"}, orient="row"
    )
    frame = frame.join(
        per_measure.select("measure_id", "businesses"), on="measure_id", how="left"
    ).sort("measure_id")
    return frame.with_columns(
        pl.col("tiers").list.eval(pl.element().replace(TIER_LABELS)),
        pl.col("categories").list.eval(pl.element().replace(CATEGORY_LABELS)),
    )


def _library_order(measure: CompiledMeasure) -> tuple[int, str, int]:
    """Measures for one tier (or for categories only) first, then the broader ones; within each,
    by file and position in the file."""
    return (max(1, len(measure.measure.tiers)), str(measure.document.path), measure.index)


def notices(matched: Matched, entries: pl.DataFrame | None, run_date: date) -> pl.DataFrame:
    """One row per business that gets a measure: `uscc, region_code, industry_code, tier,
    category_text, measures, measure_ids, notice`, sorted by code. A notice depends only on the
    tier, the categories and the measures: it is written once per distinct combination (a few
    hundred) and joined back, as an Enum."""
    frame = matched.frame.filter(matched.reached())
    if entries is not None and entries.height:
        frame = frame.join(category_text(entries), on="uscc", how="left", maintain_order="left")
    else:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("category_text"))
    keys = ["tier", "category_text", *matched.masks]
    combos = frame.select(keys).unique().sort(keys, nulls_last=True)
    # a notice names the measures of the business's own tier and categories first, then those
    # for every business, each group in library order
    position = {m.id: i for i, m in enumerate(sorted(matched.measures, key=_library_order))}
    texts: list[str] = []
    ids: list[str] = []
    for row in combos.iter_rows(named=True):  # per combination, not per business
        got = [
            m
            for k, m in enumerate(matched.measures)
            if row[mask_column(k // MASK_BITS)] >> (k % MASK_BITS) & 1
        ]
        ids.append("、".join(m.id for m in got))
        got.sort(key=lambda m: position[m.id])
        texts.append(
            notice(
                run_date,
                row["tier"],
                row["category_text"],
                [NoticeMeasure(m.measure.title, m.measure.delivery) for m in got],
            )
        )
    words = pl.Enum(sorted(set(texts)))
    combos = combos.with_columns(
        pl.Series("notice", texts, dtype=words),
        pl.Series("measure_ids", ids, dtype=pl.Enum(sorted(set(ids)))),
    )
    return frame.join(combos, on=keys, how="left", nulls_equal=True, maintain_order="left").select(
        "uscc",
        "region_code",
        "industry_code",
        "tier",
        "category_text",
        matched.count().alias("measures"),
        "measure_ids",
        "notice",
    )


def _push_text(piece: pl.DataFrame) -> pl.DataFrame:
    return as_text_table(
        piece.with_columns(
            region_name(pl.col("region_code")).alias("district"),
            pl.col("tier").replace_strict(TIER_LABELS, return_dtype=pl.String).alias("tier_label"),
            pl.col("measure_ids").cast(pl.String),
            pl.col("notice").cast(pl.String),
        ),
        PUSH_HEADERS,
    )


def _statistics(per: pl.DataFrame, titles: dict[str, str]) -> pl.DataFrame:
    """Measures × districts with totals, for clerks."""
    if per.height == 0:
        return pl.DataFrame({"措施编号": [], "措施名称": []})
    named = per.with_columns(region_name(pl.col("region_code")).alias("district"))
    wide = named.pivot(on="district", index="measure_id", values="businesses", sort_columns=False)
    districts = [c for c in wide.columns if c != "measure_id"]
    return wide.select(
        pl.col("measure_id").alias("措施编号"),
        pl.col("measure_id").replace_strict(titles, return_dtype=pl.String).alias("措施名称"),
        pl.sum_horizontal(districts).alias("合计"),
        *districts,
    ).sort("措施编号")


def support(options: SupportOptions) -> SupportResult:
    """Match the run's businesses against the library and write the support folder."""
    run = open_run(options.run)
    run_date = run.manifest.run_date
    plan = compile_for_run(run, options.policies)
    in_force = plan.in_force()
    entries = entries_in_force(options.register, run_date) if options.register is not None else None
    frame = attach_categories(population(run, plan.reads()), entries)
    matched = match(frame, in_force)
    table = long_table(matched)
    per = counts(matched)
    titles = {m.id: m.measure.title for m in matched.measures}
    per_measure = (
        per.group_by("measure_id")
        .agg(pl.col("businesses").sum())
        .with_columns(
            pl.col("measure_id").replace_strict(titles, return_dtype=pl.String).alias("title")
        )
        .sort("measure_id")
        .select("measure_id", "title", "businesses")
    )
    told = notices(matched, entries, run_date)
    reached_by = told.group_by("region_code").len("reached")
    per_district = (
        matched.frame.group_by("region_code")
        .len("businesses")
        .join(reached_by, on="region_code", how="left", nulls_equal=True)
        .with_columns(
            pl.col("reached").fill_null(0).cast(pl.UInt32),
            region_name(pl.col("region_code")).alias("district"),
        )
        .sort("region_code", nulls_last=True)
        .select("region_code", "district", "businesses", "reached")
    )
    measures = catalogue(in_force, per_measure)
    written: list[str] = []
    with staged(options.out, force=options.force, label=run_date) as staging:
        table.write_parquet(staging / "measures.parquet")
        per.write_parquet(staging / "counts.parquet")
        _statistics(per, titles).write_csv(staging / "统计.csv", include_bom=True)
        measure_text = as_text_table(measures, MEASURE_HEADERS)
        measure_text.write_csv(staging / "措施说明.csv", include_bom=True)
        told.write_parquet(staging / "notices.parquet")
        for (code,), part in sorted(
            told.partition_by("region_code", as_dict=True, maintain_order=True).items(),
            key=lambda item: (item[0][0] is None, item[0][0] or ""),
        ):
            name = district_file("推送清单", code)
            book = ClerkTables(staging, f"{name}.xlsx" if options.excel else None)
            book.add(name, part, _push_text)
            if options.excel:
                book.add("措施说明", measure_text, lambda f: f, csv=False)
            book.close()
        files = write_manifest(
            staging,
            {
                **manifest_base("support"),
                "command": list(options.command),
                "run": run_record(run).model_dump(mode="json"),
                "run_date": run_date.isoformat(),
                "policies": [
                    {**file_record("policies", d.path, d.sha256).model_dump(), "id": d.policy.id}
                    for d in plan.library.documents
                ],
                "register": None
                if options.register is None
                else {
                    "path": str(options.register),
                    "absolute_path": str(options.register.resolve()),
                    "sha256": folder_sha256(options.register),
                    "entries_in_force": 0 if entries is None else entries.height,
                },
                "measures_in_force": [m.id for m in matched.measures],
                "measures_not_in_force": sorted(
                    m.id for m in plan.measures if not m.in_force(run_date)
                ),
                "counts": {
                    "businesses": matched.frame.height,
                    "reached": told.height,
                    "rows": table.height,
                },
                "per_measure": dict(per_measure.select("measure_id", "businesses").iter_rows()),
            },
        )
        written = sorted(files)
    return SupportResult(
        out=options.out,
        run_date=run_date,
        businesses=matched.frame.height,
        reached=told.height,
        rows=table.height,
        per_measure=per_measure,
        per_district=per_district,
        not_in_force=tuple(sorted(m.id for m in plan.measures if not m.in_force(run_date))),
        files=tuple(written),
    )
