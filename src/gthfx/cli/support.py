"""`gthfx support`: arguments → `SupportOptions` → `app.support.deliver.support` → a summary.
No data work here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gthfx.app.support.deliver import SupportOptions, support
from gthfx.cli import params
from gthfx.settings.config import resolve_settings


def support_command(
    run: Annotated[
        Path,
        typer.Option("--run", help="The run folder to match (or its date in out: of gthfx.yaml)."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write (replaced with --force).")],
    policies: params.Policies = None,
    register: params.Register = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --out folder.")
    ] = False,
    excel: Annotated[
        bool | None,
        typer.Option("--excel/--no-excel", help="Write the push lists as workbooks too."),
    ] = None,
    config: params.Config = None,
    quiet: params.Quiet = False,
) -> None:
    """精准帮扶: match every business of a run against the policy library and write, atomically,
    measures.parquet (uscc, measure_id), counts per measure and district (counts.parquet,
    统计.csv), the measures in force (措施说明.csv), a notice per business (notices.parquet,
    政策告知) and per-district push lists (推送清单_<区名>_<区划代码>.csv, UTF-8 with BOM, and
    .xlsx).

    A business gets a measure in force on the run date when its tier is one of the measure's
    tiers or it holds one of its 名特优新 categories (--register: the entries in force on the run
    date), and the measure's `when` holds. A bad library stops before any data is read (exit 2).

    Example: gthfx support --run runs/2024-07-01 --out support/2024-07-01

    Example: gthfx support --run 2024-07-01 --register register --out support/2024 --no-excel
    """
    settings = resolve_settings(config, policies=policies, excel=excel)
    result = support(
        SupportOptions(
            run=params.run_folder(run, settings.out),
            policies=settings.policies,
            register=register,
            out=out,
            force=force,
            excel=settings.excel,
        )
    )
    if quiet:
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(
        f"{result.out}: {result.businesses} businesses, {result.reached} get at least one "
        f"measure, {result.rows} rows in measures.parquet (run date {result.run_date})",
        markup=False,
    )
    table = Table(title="措施 measures in force", title_justify="left")
    table.add_column("措施编号")
    table.add_column("措施名称")
    table.add_column("户数", justify="right")
    for measure_id, title, n in result.per_measure.iter_rows():
        table.add_row(measure_id, title, f"{n:,}")
    console.print(table)
    if result.not_in_force:
        console.print(
            f"not in force on {result.run_date}: {', '.join(result.not_in_force)}", markup=False
        )
