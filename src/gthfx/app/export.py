"""`gthfx export directory`: the labels of a run for 个体工商户名录(湖北) and the national one,
as one library call: `export_directory(options) -> ExportResult`.

One row per business of the run (typed and excluded): `uscc, region_code, tier, tier_label,
run_date, ruleset_id`, and with a 名特优新 register the categories in force on the run date with
their validity — `categories` (known, distinctive, quality, emerging, in that order),
`valid_from` and `valid_to` (one date per category, in the same order); empty lists without a
category. Written as `labels.parquet`, `labels.csv` (UTF-8, lists joined by `;`, for any system)
and `labels.jsonl` (one JSON object a line), sorted by code.

With `since` (an earlier run), only the businesses whose tier, categories or validity differ from
that run's labels (the register read as of that run's date), new and gone businesses included —
one row each, with `change` = new / changed / gone (a gone business keeps its code and district;
its labels are empty). The folder is written atomically with a manifest (`app.folders`). Never
prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from gthfx.app.folders import (
    command_line,
    folder_sha256,
    manifest_base,
    run_record,
    staged,
    write_manifest,
)
from gthfx.app.register_entries import entries_in_force
from gthfx.ingest import uscc
from gthfx.runs.reader import Run, open_run
from gthfx.vocab import TIER_LABELS

LABEL_SCHEMA: dict[str, pl.DataType] = {
    "uscc": pl.String(),
    "region_code": pl.String(),
    "tier": pl.String(),
    "tier_label": pl.String(),
    "run_date": pl.Date(),
    "ruleset_id": pl.String(),
    "categories": pl.List(pl.String()),
    "valid_from": pl.List(pl.Date()),
    "valid_to": pl.List(pl.Date()),
}
COMPARED = ("tier", "categories", "valid_from", "valid_to")
CHANGES = ("new", "changed", "gone")


@dataclass(frozen=True)
class ExportOptions:
    run: Path
    out: Path
    since: Path | None = None
    register: Path | None = None
    force: bool = False
    command: tuple[str, ...] = field(default_factory=command_line)


@dataclass(frozen=True)
class ExportResult:
    out: Path
    run_date: date
    rows: int
    businesses: int
    changes: dict[str, int]  # with `since`: rows per change kind
    with_category: int


def labels(run: Run, entries: pl.DataFrame | None) -> pl.DataFrame:
    """The directory labels of every business of a run (LABEL_SCHEMA), sorted by code."""
    frame = run.outcomes().select("uscc", "region_code", "tier").collect()
    frame = frame[uscc.sort_order(frame.get_column("uscc"))].with_columns(
        pl.col("tier").replace_strict(TIER_LABELS, return_dtype=pl.String).alias("tier_label"),
        pl.lit(run.manifest.run_date, pl.Date).alias("run_date"),
        pl.lit(run.manifest.ruleset.id).alias("ruleset_id"),
    )
    empty = {
        name: pl.lit([], LABEL_SCHEMA[name]) for name in ("categories", "valid_from", "valid_to")
    }
    if entries is None or entries.height == 0:
        return frame.with_columns(v.alias(k) for k, v in empty.items()).select(list(LABEL_SCHEMA))
    held = entries.group_by("uscc", maintain_order=True).agg(
        pl.col("category").alias("categories"), pl.col("valid_from"), pl.col("valid_to")
    )
    return (
        frame.join(held, on="uscc", how="left", maintain_order="left")
        .with_columns(pl.col(k).fill_null(v) for k, v in empty.items())
        .select(pl.col(c).cast(t) for c, t in LABEL_SCHEMA.items())
    )


def changed_labels(now: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """The labels that differ from `before`: new and changed businesses with their labels, gone
    ones with their code and district only; `change` says which. Sorted by code."""
    keys = ["uscc", *COMPARED]
    both = now.join(
        before.select(keys).rename({c: f"_{c}" for c in COMPARED}), on="uscc", how="full",
        coalesce=True, maintain_order="left",
    )  # fmt: skip
    present_now = pl.col("tier").is_not_null()
    present_before = pl.col("_tier").is_not_null()
    differs = pl.any_horizontal((pl.col(c) != pl.col(f"_{c}")).fill_null(True) for c in COMPARED)
    change = (
        pl.when(present_now & ~present_before)
        .then(pl.lit("new"))
        .when(~present_now & present_before)
        .then(pl.lit("gone"))
        .when(differs)
        .then(pl.lit("changed"))
    )
    out = both.with_columns(change.alias("change")).filter(pl.col("change").is_not_null())
    gone_region = before.select("uscc", pl.col("region_code").alias("_region"))
    out = out.join(gone_region, on="uscc", how="left", maintain_order="left").with_columns(
        pl.coalesce("region_code", "_region").alias("region_code")
    )
    out = out.select(*LABEL_SCHEMA, "change")
    return out[uscc.sort_order(out.get_column("uscc"))]


def _csv(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col(c).cast(pl.List(pl.String)).list.join(";")
        for c, t in frame.schema.items()
        if isinstance(t, pl.List)
    )


def export_directory(options: ExportOptions) -> ExportResult:
    """Write the directory labels of a run (all, or the changes since an earlier run)."""
    run = open_run(options.run)
    on = run.manifest.run_date
    entries = entries_in_force(options.register, on) if options.register is not None else None
    table = labels(run, entries)
    businesses, with_category = (
        table.height,
        table.filter(pl.col("categories").list.len() > 0).height,
    )
    changes: dict[str, int] = {}
    earlier: Run | None = None
    if options.since is not None:
        earlier = open_run(options.since)
        previous_entries = (
            entries_in_force(options.register, earlier.manifest.run_date)
            if options.register is not None
            else None
        )
        table = changed_labels(table, labels(earlier, previous_entries))
        counted = dict(table.group_by("change").len().iter_rows())
        changes = {kind: int(counted.get(kind, 0)) for kind in CHANGES}
    with staged(options.out, force=options.force, label=on) as staging:
        table.write_parquet(staging / "labels.parquet")
        _csv(table).write_csv(staging / "labels.csv")
        table.write_ndjson(staging / "labels.jsonl")
        write_manifest(
            staging,
            {
                **manifest_base("export"),
                "command": list(options.command),
                "directory": "个体工商户名录(湖北) / 全国个体工商户名录",
                "mode": "since" if earlier is not None else "full",
                "run": run_record(run).model_dump(mode="json"),
                "since": None if earlier is None else run_record(earlier).model_dump(mode="json"),
                "register": None
                if options.register is None
                else {
                    "path": str(options.register),
                    "absolute_path": str(options.register.resolve()),
                    "sha256": folder_sha256(options.register),
                },
                "counts": {
                    "rows": table.height,
                    "businesses": businesses,
                    "with_category": with_category,
                    **changes,
                },
            },
        )
    return ExportResult(
        out=options.out,
        run_date=on,
        rows=table.height,
        businesses=businesses,
        changes=changes,
        with_category=with_category,
    )
