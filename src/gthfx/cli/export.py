"""`gthfx export directory`: arguments → `app.export.export_directory` → a summary. No data work
here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gthfx.app.export import ExportOptions, export_directory
from gthfx.cli import params
from gthfx.settings.config import resolve_settings

export_app = typer.Typer(
    help="导出 exports for other systems: the directory labels of a run.\n\n"
    "Example: gthfx export directory --run runs/2024-07-01 --out export/2024-07-01",
    no_args_is_help=True,
)


@export_app.command("directory")
def directory_command(
    run: Annotated[
        Path, typer.Option("--run", help="The run to export (a run folder, or its date in out:).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write (replaced with --force).")],
    since: Annotated[
        Path | None,
        typer.Option(
            "--since", help="An earlier run: write only the labels that differ from its labels."
        ),
    ] = None,
    register: params.Register = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --out folder.")
    ] = False,
    config: params.Config = None,
    quiet: params.Quiet = False,
) -> None:
    """The labels of a run for 个体工商户名录(湖北) and the national directory: one row per
    business — code, district, tier, run date, ruleset id, and with --register the 名特优新
    categories in force on the run date with their validity — as labels.parquet, labels.csv
    (UTF-8, lists joined by ;) and labels.jsonl, with a manifest.

    With --since RUN only the businesses whose tier, categories or validity differ from that
    run's labels (new and gone businesses included), one row each with `change`.

    Example: gthfx export directory --run runs/2024-07-01 --out export/2024-07-01

    Example: gthfx export directory --run 2024-09-30 --since 2024-07-01 --register register
    --out export/2024-09-30
    """
    runs = resolve_settings(config).out
    result = export_directory(
        ExportOptions(
            run=params.run_folder(run, runs),
            since=params.run_folder(since, runs) if since is not None else None,
            register=register,
            out=out,
            force=force,
        )
    )
    if quiet:
        return
    text = (
        f"{result.out}: {result.rows} rows ({result.businesses} businesses in the run of "
        f"{result.run_date}, {result.with_category} with a 名特优新 category)"
    )
    if result.changes:
        text += "; " + ", ".join(f"{k} {v}" for k, v in result.changes.items())
    Console(highlight=False, soft_wrap=True).print(text, markup=False)
