"""`gthfx compile-sql`: arguments → `app.compile_sql.compile_sql` → the SQL, printed or written
to --out. No SQL work here."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from gthfx.app.compile_sql import compile_sql
from gthfx.cli import params
from gthfx.settings.config import resolve_settings

SqlInputOption = Annotated[
    params.SqlInput,
    params.choice_option(
        params.SqlInput,
        "input",
        "--from",
        "extracts: read the tables annual, tax and social (default); joined: read one table "
        "`joined` as gthfx's join produces it.",
    ),
]


def compile_sql_command(
    dialect: params.Dialect,
    run_date: Annotated[date, params.date_option("Run date D, YYYY-MM-DD.")],
    rules: params.Rules = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the SQL to this file (default: print).")
    ] = None,
    tables: SqlInputOption = params.SqlInput.EXTRACTS,
    sources: params.Sources = None,
    config: params.Config = None,
) -> None:
    """Print the SQL of the ruleset in force on a date (derived fields, reasons, tier, rule id).

    By default the query reads the tables `annual`, `tax` and `social` — the extracts as a data
    platform holds them, typed, with the canonical field names — and does what classify does:
    code checks, other tax years, orphans, exact and conflicting duplicates, the join, then the
    ruleset. With --from joined it reads one table `joined` (every field, the problem masks
    `_pm_annual`, `_pm_tax`, `_pm_social`, `_conflict_*` and `_has_annual`).

    Example: gthfx compile-sql --dialect duckdb --date 2024-07-01

    Example: gthfx compile-sql --dialect spark --date 2024-07-01 --out typing.sql
    """
    settings = resolve_settings(config, rules=rules, sources=sources)
    text = compile_sql(
        rules=settings.rules,
        run_date=run_date,
        dialect=dialect,
        sources=settings.sources,
        tables=tables.value,
    )
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
