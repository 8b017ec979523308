"""Writing a run folder: data files (Parquet), clerk renderings (CSV with BOM, Excel) and the
manifest — all into a staging folder that replaces the run folder only when complete."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from gthfx import __version__
from gthfx.engines.base import Table
from gthfx.ingest.load import sha256_of
from gthfx.report.labels import FLAGS, REJECT_REASONS, column_headers, reason_labels
from gthfx.report.regions import region_name
from gthfx.report.render import ClerkTables, as_text_table
from gthfx.report.review_workbook import write_review_workbooks
from gthfx.runs.changes import change_counts
from gthfx.runs.layout import commit, staging_folder
from gthfx.runs.reader import read_outcomes_files
from gthfx.vocab import (
    CHANGE_LABELS,
    CHANGE_SCHEMA,
    EXCLUDED,
    OUTCOME_FILES,
    REJECT_SCHEMA,
    TIER_LABELS,
)

if TYPE_CHECKING:
    from gthfx.engines.base import Stored
    from gthfx.engines.memory import Typed


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    frame.write_parquet(path, compression="zstd", compression_level=1, statistics=True)


def _put(table: Table, path: Path) -> None:
    """Write a frame or stream a query to `path`, or move a file an engine wrote there."""
    if isinstance(table, Path):
        table.replace(path)
    elif isinstance(table, pl.LazyFrame):
        table.sink_parquet(path, compression="zstd", compression_level=1, statistics=True)
    else:
        _write_parquet(table, path)


def _words(column: str, mapping: dict[str, str]) -> pl.Expr:
    """Translate a list-of-codes column into Chinese words (unknown codes stay as they are)."""
    return pl.col(column).list.eval(pl.element().replace(mapping))


def write_run(
    target: Path,
    *,
    typed: Typed | Stored,
    changes: Table,
    counts: dict[str, int],
    by_district: pl.DataFrame,
    previous: Path | None,
    command: tuple[str, ...],
    run_date: date,
    excel: bool,
    timings: dict[str, float],
    settings: dict[str, object] | None = None,
    extra: Callable[[Path, ClerkTables], None] | None = None,
    manifest_extra: dict[str, object] | None = None,
) -> None:
    """Write every file of a run into a staging folder, then put it in place of `target`.
    `settings` (recorded in the manifest) are the options that change the result beyond the
    input files and the ruleset: the sources mapping and a forced encoding. `extra` (recheck)
    writes further files into the staging folder; `manifest_extra` adds to the manifest.
    Every outcome file carries `decided` (a tier set by hand; false unless a recheck says so).
    Tables may be frames (the Polars engine) or Parquet files (`duck.Stored`, the out-of-core
    engine): files are moved into place and rendered a sheet-sized piece at a time."""
    staging = staging_folder(target.parent, run_date)
    outcomes: pl.DataFrame | dict[str, Path] = typed.outcomes
    if isinstance(outcomes, pl.DataFrame) and "decided" not in outcomes.columns:
        outcomes = outcomes.with_columns(pl.lit(False).alias("decided"))
    data_files: dict[str, str] = {}
    headers = column_headers(typed.compiled, typed.sources)
    reasons = reason_labels(typed.compiled, typed.sources)
    order = [
        "uscc", "tier_label", "rule_id", "reasons", "flags", "region_code", "district",
        "industry_code", *typed.compiled.indicators, "decided",
    ]  # fmt: skip
    outcome_headers = {c: headers.get(c, c) for c in order}
    outcome_headers["decided"] = "人工认定"

    def outcome_text(piece: pl.DataFrame) -> pl.DataFrame:
        return as_text_table(
            piece.with_columns(
                _words("reasons", reasons),
                _words("flags", {**reasons, **FLAGS}),  # unparseable:… of fields no rule reads
                region_name(pl.col("region_code")).alias("district"),
                pl.col("decided").replace_strict({True: "是", False: "否"}, return_dtype=pl.String),
            ),
            outcome_headers,
        )

    def change_text(piece: pl.DataFrame) -> pl.DataFrame:
        return as_text_table(
            piece.with_columns(
                pl.col("tier_before").replace(TIER_LABELS),
                pl.col("tier_after").replace(TIER_LABELS),
                pl.col("change").replace(CHANGE_LABELS),
                region_name(pl.col("region_code")).alias("district"),
            ),
            {
                c: headers[c]
                for c in ("uscc", "region_code", "district", *CHANGE_SCHEMA)
                if c in headers
            },
        )

    def reject_text(piece: pl.DataFrame) -> pl.DataFrame:
        return as_text_table(
            piece.with_columns(pl.col("reason").replace(REJECT_REASONS)),
            {c: headers[c] for c in REJECT_SCHEMA},
        )

    tables = ClerkTables(staging, "分型结果.xlsx" if excel else None)
    tables.add("汇总", _summary_sheet(counts, by_district), lambda f: f, csv=False)
    for tier, name in OUTCOME_FILES.items():
        # one tier's rows are streamed to its files, never copied out whole
        part: Table = (
            outcomes[tier]
            if isinstance(outcomes, dict)
            else outcomes.lazy().filter(pl.col("tier") == tier)
        )
        _put(part, staging / name)
        tables.add(
            TIER_LABELS[tier], staging / name if isinstance(part, Path) else part, outcome_text
        )
        del part
    if extra is not None:
        extra(staging, tables)
    _put(changes, staging / "changes.parquet")
    tables.add(
        "变动", staging / "changes.parquet" if isinstance(changes, Path) else changes, change_text
    )
    _put(typed.rejects, staging / "rejects.parquet")
    tables.add("拒收", staging / "rejects.parquet", reject_text)
    if excel:  # --no-excel leaves out every workbook: the result one and the review ones
        # (the review workbooks select from every outcome: in memory, even for a stored run)
        write_review_workbooks(
            staging,
            outcomes=outcomes
            if isinstance(outcomes, pl.DataFrame)
            else read_outcomes_files([staging / name for name in OUTCOME_FILES.values()]),
            changes=pl.read_parquet(staging / "changes.parquet"),
            headers=headers,
            reasons=reasons,
            sources=typed.sources,
            parameters={n: p.value for n, p in typed.compiled.source.ruleset.parameters.items()},
            ruleset_id=typed.compiled.source.ruleset.id,
            run_date=run_date,
        )
    tables.close()

    # hashed a block at a time (never a whole file in memory), two files at once
    paths = sorted(staging.iterdir())
    with ThreadPoolExecutor(max_workers=2) as pool:
        data_files.update(zip((p.name for p in paths), pool.map(sha256_of, paths), strict=True))
    manifest = _manifest(
        typed,
        staging / "rejects.parquet",
        staging / "changes.parquet",
        counts,
        previous,
        command,
        run_date,
        data_files,
        timings,
    )
    manifest["settings"] = settings or {}
    manifest.update(manifest_extra or {})
    (staging / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    commit(staging, target)


def _summary_sheet(counts: dict[str, int], by_district: pl.DataFrame) -> pl.DataFrame:
    total = sum(counts.values()) or 1
    typed_total = sum(v for k, v in counts.items() if k != EXCLUDED) or 1
    overall = pl.DataFrame(
        {
            "分型": [TIER_LABELS[k] for k in counts],
            "户数": list(counts.values()),
            "占全部(%)": [round(100 * v / total, 2) for v in counts.values()],
            "占参与分型(%)": [
                round(100 * v / typed_total, 2) if k != EXCLUDED else None
                for k, v in counts.items()
            ],
        }
    )
    districts = by_district.select(
        pl.col("district").alias("分型"),
        pl.col("total").alias("户数"),
        *(pl.col(k).alias(f"{TIER_LABELS[k]}") for k in counts),
    )
    return pl.concat([overall, districts], how="diagonal_relaxed")


def _manifest(
    typed: Typed | Stored,
    rejects: Path,
    changes: Path,
    counts: dict[str, int],
    previous: Path | None,
    command: tuple[str, ...],
    run_date: date,
    data_files: dict[str, str],
    timings: dict[str, float],
) -> dict[str, object]:
    rs_file = typed.compiled.source
    rs = rs_file.ruleset
    rejects_by_reason = {
        f"{extract}:{reason}": n
        for extract, reason, n in pl.scan_parquet(rejects)
        .group_by("extract", "reason")
        .len()
        .sort("extract", "reason")
        .collect()
        .iter_rows()
    }
    return {
        "gthfx_version": __version__,
        "kind": "classify",
        "command": list(command),
        "run_date": run_date.isoformat(),
        "report_year": run_date.year - 1,
        "ruleset": {
            "id": rs.id,
            "title": rs.title,
            "path": str(rs_file.path),
            "absolute_path": str(rs_file.path.resolve()),
            "sha256": rs_file.sha256,
            "effective_from": rs.effective_from.isoformat(),
            "effective_to": rs.effective_to.isoformat() if rs.effective_to else None,
            "parameters": {
                name: {"value": p.value, "unit": p.unit, "source": p.source}
                for name, p in rs.parameters.items()
            },
        },
        "inputs": [
            {
                **asdict(info),
                "absolute_path": str(Path(info.path).resolve()),
                "ignored_columns": list(info.ignored_columns),
                "accounting": typed.per_file[info.key].as_dict(),
            }
            for info in typed.files
        ],
        "accounting": {name: acc.as_dict() for name, acc in typed.accounting.items()},
        "outcomes": counts,
        "businesses": sum(counts.values()),
        "rejects_by_reason": rejects_by_reason,
        "previous_run": str(previous) if previous is not None else None,
        "previous_run_absolute": str(previous.resolve()) if previous is not None else None,
        "changes": change_counts(changes),
        "files": data_files,
        "timings_seconds": {k: round(v, 3) for k, v in sorted(timings.items())},
    }
