"""`gthfx review import WORKBOOK… --out DIR`: arguments → `gthfx.app.review_io` → a summary.
No data work here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gthfx.app.review_io import read_workbooks, write_plain_files
from gthfx.cli import params
from gthfx.settings.config import resolve_settings
from gthfx.settings.sources import load_sources

review_app = typer.Typer(
    help="复核 review: read the review workbooks (复核_<区名>_<区划代码>.xlsx) that classify "
    "writes, once the district clerks have filled them in.\n\n"
    "Example: gthfx review import runs/2024-07-01/复核_*.xlsx --out review/2024-q3",
    no_args_is_help=True,
)


@review_app.command("import")
def import_command(
    workbooks: Annotated[
        list[Path],
        typer.Argument(
            help="Returned review workbooks (复核_<区名>_<区划代码>.xlsx).", exists=True
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for corrections.csv and decisions.csv.")
    ],
    sources: params.Sources = None,
    config: params.Config = None,
) -> None:
    """Read returned review workbooks and write the plain files of the recheck:
    corrections.csv (rows answered 更正) and decisions.csv (rows answered 人工认定), UTF-8 with
    BOM. Rows answered 确认 or left empty are counted only. Every row is checked first; with any
    problem all of them are listed (file, sheet, row) and nothing is written (exit 2).

    Example: gthfx review import runs/2024-07-01/复核_江岸区_420102.xlsx --out review/2024-q3

    Example: gthfx review import returned/*.xlsx --out review/2024-q3
    """
    settings = resolve_settings(config, sources=sources)
    result = read_workbooks(list(workbooks), load_sources(settings.sources))
    console = Console(highlight=False, soft_wrap=True)
    if result.problems:
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        err.print(f"{len(result.problems)} problem(s); nothing written:", markup=False)
        for problem in result.problems:
            err.print(f"  {problem}", markup=False)
        raise typer.Exit(2)
    written = write_plain_files(result, out)
    console.print(
        f"rows read {result.rows}, confirmed {result.confirmed}, left empty {result.empty}, "
        f"corrections {len(result.corrections)}, decisions {len(result.decisions)}",
        markup=False,
    )
    for path in written:
        console.print(f"written: {path}", markup=False)
