"""Command-line options that several commands share, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Annual = Annotated[
    list[Path] | None, typer.Option("--annual", help="Annual extract file(s); repeat per file.")
]
Tax = Annotated[list[Path] | None, typer.Option("--tax", help="Tax extract file(s).")]
Social = Annotated[
    list[Path] | None, typer.Option("--social", help="Social-insurance extract file(s).")
]
Sources = Annotated[
    Path | None, typer.Option("--sources", help="Sources mapping overriding the shipped one.")
]
Encoding = Annotated[
    str | None, typer.Option("--encoding", help="Force the CSV encoding: utf-8 or gb18030.")
]
Config = Annotated[
    Path | None, typer.Option("--config", help="Project config (default: ./gthfx.yaml).")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors (for cron).")]
Out = Annotated[
    Path | None,
    typer.Option("--out", help="Runs folder (default: out: in gthfx.yaml, else runs/)."),
]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing run folder.")]
Strict = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="A field the ruleset reads that a file lacks is an error, not a warning.",
    ),
]
Excel = Annotated[
    bool | None,
    typer.Option("--excel/--no-excel", help="Write the Excel workbooks (result and review)."),
]
