"""`gthfx samples`: arguments → `tools.samples.generate_samples` → the files written.
No data work here."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gthfx.cli import params
from gthfx.errors import ConfigError
from gthfx.settings.config import resolve_settings

SamplesFormatOption = Annotated[
    params.SamplesFormat,
    params.choice_option(
        params.SamplesFormat,
        "format",
        "--format",
        "mixed (CSV UTF-8/GB18030 + XLSX), csv or parquet.",
    ),
]


def samples_command(
    rows: Annotated[int, typer.Option("--rows", min=1, help="Businesses in the latest year.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write <report_year>/<extract>/.")],
    run_date: Annotated[date, params.date_option("Run date of the latest year.")] = date(
        2024, 7, 1
    ),
    years: Annotated[int, typer.Option("--years", min=1, help="Yearly runs to write.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same bytes).")] = (
        20240701
    ),
    fmt: SamplesFormatOption = params.SamplesFormat.MIXED,
    categories: Annotated[
        bool,
        typer.Option(
            "--categories/--no-categories",
            help="Also write the 名特优新 applications, evidence, records and objections.",
        ),
    ] = True,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Project config, checked when given; samples takes none of its settings "
            "(accepted as by every command).",
        ),
    ] = None,
) -> None:
    """Write realistic synthetic extracts: Wuhan districts, GB/T 4754 industry codes, Chinese
    headers, messy values and a sprinkle of every data problem — and, for each year, the 名特优新
    applications, evidence, records and objections of its population (every boundary of SPEC
    §10) under <report_year>/categories/.

    Example: gthfx samples --rows 2000 --out samples --years 2

    Example: gthfx samples --rows 1000000 --out /tmp/bench --format csv
    """
    from gthfx.tools.samples import generate_samples  # numpy-heavy: only this command needs it

    if config is not None:
        resolve_settings(config)
    try:
        result = generate_samples(
            rows,
            out,
            run_date=run_date,
            years=years,
            seed=seed,
            fmt=fmt.value,
            categories=categories,
        )
    except ValueError as exc:  # the generator's own argument checks
        raise ConfigError(f"gthfx samples: {exc}") from None
    console = Console(highlight=False)
    for key, files in result.files.items():
        console.print(f"{key}: {result.rows[key]:,} rows in {len(files)} file(s)")
        for path in files:
            console.print(f"  {path}")
