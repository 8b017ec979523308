"""Writing a run folder: data files (Parquet), clerk renderings (CSV with BOM, Excel) and the
manifest — all into a staging folder that replaces the run folder only when complete."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import polars as pl

from gthfx import __version__
from gthfx.engines.base import FileTable, Table, TypedRun, merged
from gthfx.ingest.load import sha256_of
from gthfx.ingest.validate import Accounting
from gthfx.report.labels import FLAGS, REJECT_REASONS, column_headers, reason_labels
from gthfx.report.regions import region_name
from gthfx.report.render import ClerkTables, as_text_table
from gthfx.report.review_workbook import write_review_workbooks
from gthfx.runs.changes import change_counts
from gthfx.runs.layout import commit, staging_folder
from gthfx.runs.manifest import (
    MANIFEST_NAME,
    MANIFEST_VERSION,
    AccountingRecord,
    InputRecord,
    Manifest,
    ParameterRecord,
    RulesetRecord,
)
from gthfx.vocab import (
    CHANGE_LABELS,
    CHANGE_SCHEMA,
    EXCLUDED,
    OUTCOME_FILES,
    REJECT_SCHEMA,
    TIER_LABELS,
)


def _words(column: str, mapping: dict[str, str]) -> pl.Expr:
    """Translate a list-of-codes column into Chinese words (unknown codes stay as they are)."""
    return pl.col(column).list.eval(pl.element().replace(mapping))


def write_run(
    target: Path,
    *,
    run: TypedRun,
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
    A first run (`previous` None) has no clerk rendering of its change log: `changes.parquet`
    lists every business as `new`, which the outcome lists already show.
    The run's tables are saved wherever they live (`Table.save`: a frame streamed into its
    file, a file an engine wrote moved into place) and rendered for clerks a sheet-sized piece
    at a time; the writer never asks which engine typed the run."""
    staging = staging_folder(target.parent, run_date)
    data_files: dict[str, str] = {}
    headers = column_headers(run.compiled, run.sources)
    reasons = reason_labels(run.compiled, run.sources)
    order = [
        "uscc", "tier_label", "rule_id", "reasons", "flags", "region_code", "district",
        "industry_code", *run.compiled.indicators, "decided",
    ]  # fmt: skip
    outcome_headers = {c: headers.get(c, c) for c in order}
    outcome_headers["decided"] = "人工认定"
    # columns of gthfx's own text (normalised codes, its words), never a formula: not scanned
    own_words = [
        outcome_headers[c] for c in ("uscc", "tier_label", "rule_id", "reasons", "flags", "decided")
    ]

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
    saved: dict[str, Table] = {}  # a saved file table was moved: read it where it is now
    for tier, name in OUTCOME_FILES.items():
        # one tier's rows are streamed to its file, never copied out whole
        saved[tier] = run.outcomes[tier].save(staging / name)
        tables.add(TIER_LABELS[tier], saved[tier].lazy(), outcome_text, plain=own_words)
    if extra is not None:
        extra(staging, tables)
    saved_changes = changes.save(staging / "changes.parquet")
    if previous is not None:  # a first run's changes would list every business again as new
        tables.add("变动", saved_changes.lazy(), change_text)
    run.rejects.save(staging / "rejects.parquet")
    tables.add("拒收", staging / "rejects.parquet", reject_text)
    if excel:  # --no-excel leaves out every workbook: the result one and the review ones
        # the review workbooks select from every outcome, in memory
        write_review_workbooks(
            staging,
            outcomes=merged(list(saved.values())).collect(),
            changes=saved_changes.lazy().collect(),
            headers=headers,
            reasons=reasons,
            sources=run.sources,
            plan=run.compiled,
            run_date=run_date,
        )
    tables.close()

    # hashed a block at a time (never a whole file in memory), two files at once
    paths = sorted(staging.iterdir())
    with ThreadPoolExecutor(max_workers=2) as pool:
        data_files.update(zip((p.name for p in paths), pool.map(sha256_of, paths), strict=True))
    manifest = _manifest(
        run,
        staging / "rejects.parquet",
        staging / "changes.parquet",
        counts,
        previous,
        command,
        run_date,
        data_files,
        timings,
        settings or {},
        manifest_extra or {},
    )
    (staging / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
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
    run: TypedRun,
    rejects: Path,
    changes: Path,
    counts: dict[str, int],
    previous: Path | None,
    command: tuple[str, ...],
    run_date: date,
    data_files: dict[str, str],
    timings: dict[str, float],
    settings: dict[str, object],
    extra: dict[str, object],
) -> Manifest:
    """The run's manifest; `settings` and `extra` (a recheck's keys) are checked by the model."""
    rs_file = run.compiled.source
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
    ruleset = RulesetRecord(
        id=rs.id,
        title=rs.title,
        path=str(rs_file.path),
        absolute_path=str(rs_file.path.resolve()),
        sha256=rs_file.sha256,
        effective_from=rs.effective_from,
        effective_to=rs.effective_to,
        parameters={
            name: ParameterRecord(value=p.value, unit=p.unit, source=p.source)
            for name, p in rs.parameters.items()
        },
    )
    inputs = tuple(
        InputRecord(
            extract=info.extract,
            path=info.path,
            absolute_path=str(Path(info.path).resolve()),
            sha256=info.sha256,
            format=info.format,
            encoding=info.encoding,
            rows=info.rows,
            columns=info.columns,
            ignored_columns=tuple(info.ignored_columns),
            accounting=_accounting(run.per_file[info.key]),
            sheet=info.sheet,
            warnings=tuple(info.warnings),
        )
        for info in run.files
    )
    return Manifest.model_validate(
        {
            "manifest_version": MANIFEST_VERSION,
            "gthfx_version": __version__,
            "kind": "classify",
            "command": command,
            "run_date": run_date,
            "report_year": run_date.year - 1,
            "ruleset": ruleset,
            "inputs": inputs,
            "accounting": {name: _accounting(acc) for name, acc in run.accounting.items()},
            "outcomes": counts,
            "businesses": sum(counts.values()),
            "rejects_by_reason": rejects_by_reason,
            "previous_run": str(previous) if previous is not None else None,
            "previous_run_absolute": str(previous.resolve()) if previous is not None else None,
            "changes": change_counts(FileTable(changes)),
            "files": data_files,
            "timings_seconds": {k: round(v, 3) for k, v in sorted(timings.items())},
            "settings": settings,
            **extra,
        }
    )


def _accounting(acc: Accounting) -> AccountingRecord:
    return AccountingRecord(
        read=acc.read, used=acc.used, rejected=acc.rejected, collapsed=acc.collapsed
    )
