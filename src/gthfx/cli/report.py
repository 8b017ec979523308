"""`gthfx report --run RUN --out DIR`: arguments → `app.report.write_report` → the two files
written. No data work here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gthfx.app.report import ReportOptions, write_report
from gthfx.cli import params
from gthfx.errors import ConfigError
from gthfx.settings.config import resolve_settings


def report_command(
    run: Annotated[
        Path,
        typer.Option(
            "--run", help="The run to report on: a run folder, or its date in the runs folder."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder for 监测报告_<date>.html and .xlsx (created if needed)."
        ),
    ],
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="Compare with this run (folder or date) instead of the run's previous run.",
        ),
    ] = None,
    register: Annotated[
        Path | None,
        typer.Option(
            "--register",
            help="The 名特优新 register folder (default: <categories>/register of gthfx.yaml, "
            "when it exists).",
        ),
    ] = None,
    config: params.Config = None,
    quiet: params.Quiet = False,
) -> None:
    """Write the monitoring report of a run (分型监测报告): one self-contained HTML page that
    opens offline, with Chinese charts and their data tables, and one Excel workbook with the
    same tables.

    Tiers overall, by district and by industry section (GB/T 4754 门类).

    Transitions since the previous run (or --against), with 新增 and 消失; moves per district.

    Employees and insured staff by tier and district; the trend over the runs folder.

    Exclusions and rejected rows per reason; 名特优新 figures from --register.

    Every figure has its definition; run date, ruleset and input SHA-256 are in the footnotes.

    The same run gives byte-identical files. RUN and --against: a run folder, or its date.

    Example: gthfx report --run runs/2024-07-01 --out reports

    Example: gthfx report --run 2024-09-30 --against 2023-07-01 --out reports

    Example: gthfx report --run runs/2024-07-01 --register categories/register --out reports
    """
    settings = resolve_settings(config)
    runs = settings.out
    if register is None:  # the register of gthfx.yaml's categories folder, when there is one
        configured = settings.categories / "register"
        register = configured if configured.is_dir() else None
    run = params.run_folder(run, runs)
    if against is not None:
        against = params.run_folder(against, runs)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: not a folder", hint="name a folder for the report files")
    if register is not None and not register.is_dir():
        raise ConfigError(
            f"--register {register}: no such folder",
            hint="the register folder is <categories>/register (gthfx categories certify)",
        )
    result = write_report(ReportOptions(run=run, out=out, against=against, register=register))
    if not quiet:
        console = Console(highlight=False)
        console.print(f"written: {result.html}", markup=False)
        console.print(f"written: {result.xlsx}", markup=False)
