"""`gthfx diff`: two run folders → `compare.compare_runs` → rich tables, CSV, JSON or a
workbook; `--check` turns "something changed" into exit 1. No data work here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from gthfx.app.compare import (
    CHANGE_KINDS,
    COLUMN_STATES,
    ROW_STATES,
    STATE_LABELS,
    Comparison,
    change_table,
    compare_runs,
    district_table,
    matrix,
)
from gthfx.cli import params
from gthfx.errors import ConfigError
from gthfx.report.privacy import neutralise_formulas
from gthfx.report.render import SHEET_NAME_LIMIT, chunks
from gthfx.report.xlsx import write_xlsx
from gthfx.settings.config import resolve_settings
from gthfx.vocab import CHANGE_LABELS

FormatOption = Annotated[
    params.DiffFormat,
    params.choice_option(
        params.DiffFormat, "format", "--format", "table (default), csv, json or xlsx."
    ),
]


def diff_command(
    run_a: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_A", help="The earlier run (before): a run folder, or its date in out:."
        ),
    ],
    run_b: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_B", help="The later run (after): a run folder, or its date in out:."
        ),
    ],
    fmt: FormatOption = params.DiffFormat.TABLE,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="File to write (csv/json: default stdout; xlsx: default diff-<A>-<B>.xlsx).",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Changes to list in the table format.")
    ] = 50,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when anything changed, 0 when nothing did.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Project config (default: ./gthfx.yaml): its runs folder (out:) is where a run "
            "given by its date is found.",
        ),
    ] = None,
) -> None:
    """Compare two run folders: the transition matrix (rows RUN_A, columns RUN_B, with 新增 and
    消失), the same by district, the counts per change kind (新增 消失 升型 降型 纳入分型
    退出分型), and every changed business with its cause.

    RUN_A and RUN_B are run folders, or run dates found in the runs folder of gthfx.yaml
    (out:, else runs/).

    Causes: RUN_B's own changes.parquet when RUN_B was compared with RUN_A, else computed.

    RUN_B's audit.parquet (a recheck), when present, is added to each business as 复核记录.

    --format table: rich tables, the first --limit changes. csv: the change list.

    --format json: counts, matrices, districts and the change list. xlsx: 迁移, 分区, 变动.

    Exit: 0 done (with --check: nothing changed); 1 only with --check: something changed.

    Exit 2: a problem to fix — a missing or incomplete run folder, a bad option.

    Example: gthfx diff runs/2023-07-01 runs/2024-07-01

    Example: gthfx diff 2023-07-01 2024-07-01 --config /data/gthfx.yaml

    Example: gthfx diff runs/2024-07-01 runs/2024-09-30 --format xlsx --out 复核变动.xlsx

    Example: gthfx diff runs/2024-07-01 runs/2024-09-30 --check --format csv --out c.csv
    """
    if config is not None or not (run_a.is_dir() and run_b.is_dir()):
        runs = resolve_settings(config).out
        run_a, run_b = params.run_folder(run_a, runs), params.run_folder(run_b, runs)
    if fmt == "table" and out is not None:
        raise ConfigError(
            "--out is not used with --format table", hint="add --format csv|json|xlsx"
        )
    if fmt == "xlsx":
        out = out or Path(f"diff-{run_a.resolve().name}-{run_b.resolve().name}.xlsx")
        if out.suffix.lower() != ".xlsx":
            raise ConfigError(f"--out {out}: the workbook's name must end in .xlsx")
    if out is not None and not out.resolve().parent.is_dir():
        raise ConfigError(f"--out {out}: the folder {out.parent} does not exist")
    result = compare_runs(run_a, run_b)
    if fmt == "table":
        _render(result, limit)
    elif fmt == "csv":
        _write_csv(result, out)
    elif fmt == "json":
        _write_json(result, out)
    else:
        assert out is not None
        _write_xlsx(result, out)
        Console(stderr=True, highlight=False).print(f"written: {out}", markup=False)
    if check and result.changed:
        raise typer.Exit(1)


def _write_csv(result: Comparison, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(result.changes.write_csv())
        sys.stdout.flush()
    else:  # a file with a BOM is for Excel: no text cell may read as a formula there
        neutralise_formulas(result.changes).write_csv(out, include_bom=True)


def _records(frame: pl.DataFrame) -> list[dict[str, object]]:
    return frame.to_dicts()


def _write_json(result: Comparison, out: Path | None) -> None:
    doc = {
        "run_a": str(result.run_a),
        "run_b": str(result.run_b),
        "changed": result.changed,
        "counts": result.counts,
        "cause_notes": result.notes,
        "transitions": _records(result.transitions),
        "matrix": {
            "rows": list(ROW_STATES),
            "columns": list(COLUMN_STATES),
            "cells": [
                [_cell(result.transitions, before, after) for after in COLUMN_STATES]
                for before in ROW_STATES
            ],
        },
        "districts": _records(result.districts),
        "district_transitions": _records(result.district_transitions),
        "changes": _records(result.changes),
    }
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        out.write_text(text, encoding="utf-8")


def _cell(transitions: pl.DataFrame, before: str, after: str) -> int:
    hit = transitions.filter(
        (pl.col("tier_before") == before) & (pl.col("tier_after") == after)
    ).get_column("count")
    return int(hit[0]) if hit.len() else 0


def _write_xlsx(result: Comparison, out: Path) -> None:
    sheets = [("迁移", matrix(result.transitions)), ("分区", district_table(result.districts))]
    for index, piece in enumerate(chunks(change_table(result.changes)), start=1):
        name = "变动" if index == 1 else f"变动({index})"
        sheets.append((name[:SHEET_NAME_LIMIT], piece))
    write_xlsx(out, sheets, title=f"变动 {result.run_a.name} → {result.run_b.name}")


def _render(result: Comparison, limit: int) -> None:
    console = Console(highlight=False)
    console.print(
        f"对比 {result.run_a} → {result.run_b} · 变动 {result.changed:,} 户 changed", markup=False
    )
    for note in result.notes:
        console.print(f"  {note}", markup=False)
    grid = matrix(result.transitions)
    table = Table(title="迁移 transitions (行 上次 → 列 本次)")
    for i, name in enumerate(grid.columns):
        table.add_column(name, justify="left" if i == 0 else "right")
    for label, *cells in grid.iter_rows():
        table.add_row(label, *(f"{n:,}" for n in cells))
    console.print(table)

    kinds = Table(title="变动类型 changes by kind")
    kinds.add_column("变动")
    kinds.add_column("change")
    kinds.add_column("户数", justify="right")
    for kind in CHANGE_KINDS:
        kinds.add_row(CHANGE_LABELS[kind], kind, f"{result.counts[kind]:,}")
    console.print(kinds)

    districts = Table(title="按区 by district")
    for name, justify in (
        ("区划", "left"),
        ("名称", "left"),
        ("上次户数", "right"),
        ("本次户数", "right"),
        ("未变", "right"),
        ("变动户数", "right"),
        *((CHANGE_LABELS[k], "right") for k in CHANGE_KINDS),
    ):
        districts.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in result.districts.iter_rows(named=True):
        districts.add_row(
            row["region_code"] or "—",
            row["district"],
            *(
                f"{row[c]:,}"
                for c in ("total_before", "total_after", "unchanged", "changed", *CHANGE_KINDS)
            ),
        )
    console.print(districts)

    if result.changed == 0 or limit == 0:
        return
    shown = result.changes.head(limit)
    listing = Table(title=f"变动名单 changes (前 {shown.height:,} / {result.changed:,})")
    for name in ("统一社会信用代码", "区", "上次", "本次", "变动", "原因"):
        listing.add_column(name)
    for row in shown.iter_rows(named=True):
        cause = row["cause"] or ""
        if row["review"]:
            cause = f"{cause}; 复核: {row['review']}"
        listing.add_row(
            row["uscc"],
            row["district"],
            STATE_LABELS.get(row["tier_before"] or "", "—"),
            STATE_LABELS.get(row["tier_after"] or "", "—"),
            CHANGE_LABELS.get(row["change"], row["change"]),
            cause,
        )
    console.print(listing)
    if result.changed > shown.height:
        console.print(
            f"… {result.changed - shown.height:,} more: --limit N, or --format csv|json|xlsx",
            markup=False,
        )
