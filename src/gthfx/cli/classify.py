"""`gthfx classify`: arguments → `RunOptions` → `app.classify.classify` → the summary tables.
No data work here."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gthfx.app.classify import RunResult, classify
from gthfx.cli import params
from gthfx.progress import Reporter
from gthfx.settings.config import RunOptions, resolve_settings
from gthfx.vocab import OUTCOME_ORDER, TIER_LABELS


def classify_command(
    run_date: Annotated[date, params.date_option("Run date D, YYYY-MM-DD (1 July).")],
    annual: params.Annual = None,
    tax: params.Tax = None,
    social: params.Social = None,
    out: params.Out = None,
    rules: params.Rules = None,
    sources: params.Sources = None,
    encoding: params.Encoding = None,
    against: Annotated[
        Path | None,
        typer.Option(
            "--against", help="Run folder to compare with (default: the latest earlier run)."
        ),
    ] = None,
    force: params.Force = False,
    excel: params.Excel = None,
    engine: params.Engine = params.DEFAULT_ENGINE,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            "--memory-limit",
            help="With --engine duckdb: DuckDB's memory cap, e.g. 2GB (default 2GB); it spills "
            "to disk in the output folder beyond it.",
        ),
    ] = None,
    config: params.Config = None,
    quiet: params.Quiet = False,
    strict: params.Strict = False,
) -> None:
    """Type every business at run date D and write the run folder <out>/<D>/.

    Example: gthfx classify --date 2024-07-01

    Example: gthfx classify --date 2024-07-01 --annual a1.csv --annual a2.csv --tax tax.xlsx
    --social social.csv --out /data/runs --quiet

    Example: gthfx classify --date 2024-07-01 --engine duckdb --memory-limit 2GB --no-excel
    """
    settings = resolve_settings(
        config,
        out=out,
        rules=rules,
        sources=sources,
        encoding=encoding,
        excel=excel,
        run_date=run_date,
        extracts={"annual": annual, "tax": tax, "social": social},
    )
    options = RunOptions(
        run_date=run_date,
        inputs=settings.inputs,
        out=settings.out,
        rules=settings.rules,
        sources=settings.sources,
        encoding=settings.encoding,
        force=force,
        against=against,
        excel=settings.excel,
        command=tuple(["gthfx", *sys.argv[1:]]),
        engine=engine,
        memory_limit=memory_limit,
        strict=strict,
    )
    result = classify(options, Reporter(quiet=quiet))
    if not quiet:
        render(result, Console(highlight=False))
    raise typer.Exit(result.exit_code)


def render(result: RunResult, console: Console) -> None:
    """The summary of a run: counts and shares per outcome, per district, rows, changes."""
    total = sum(result.counts.values()) or 1
    typed_total = sum(v for k, v in result.counts.items() if k != "excluded") or 1
    table = Table(title=f"分型结果 {result.run_date} · {result.ruleset_id}")
    table.add_column("outcome")
    table.add_column("分型")
    table.add_column("户数 count", justify="right")
    table.add_column("占全部 share", justify="right")
    table.add_column("占参与分型 of typed", justify="right")
    for name in OUTCOME_ORDER:
        n = result.counts.get(name, 0)
        of_typed = f"{100 * n / typed_total:.2f} %" if name != "excluded" else ""
        table.add_row(name, TIER_LABELS[name], f"{n:,}", f"{100 * n / total:.2f} %", of_typed)
    console.print(table)
    districts = Table(title="按区 by district")
    districts.add_column("区划")
    districts.add_column("名称")
    for name in OUTCOME_ORDER:
        districts.add_column(TIER_LABELS[name], justify="right")
    districts.add_column("合计", justify="right")
    for row in result.by_district.iter_rows(named=True):
        districts.add_row(
            row["region_code"] or "—",
            row["district"],
            *(f"{row[name]:,}" for name in OUTCOME_ORDER),
            f"{row['total']:,}",
        )
    console.print(districts)
    acc = ", ".join(
        f"{name} read {a.read:,} used {a.used:,} rejected {a.rejected:,} collapsed {a.collapsed:,}"
        for name, a in result.accounting.items()
    )
    console.print(f"rows: {acc}")
    since = f" since {result.previous}" if result.previous else " (no earlier run: all new)"
    changes = ", ".join(f"{k} {v:,}" for k, v in result.changes.items()) or "none"
    console.print(f"changes{since}: {changes}")
    console.print(f"written: {result.run_dir}")
