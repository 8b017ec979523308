"""`gthfx compile-sql`: the ruleset in force on a date as one SQL query, over tables named after
the extracts (validation, duplicates, the join and the rules) or over the joined table."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from gthfx.errors import ConfigError
from gthfx.rules.engine import compile_ruleset
from gthfx.rules.model import ruleset_in_force
from gthfx.rules.to_sql import DIALECTS, TABLE, outcomes_sql, ruleset_sql
from gthfx.settings.config import load_config
from gthfx.settings.sources import load_sources


def compile_sql_command(
    dialect: Annotated[
        str, typer.Option("--dialect", help="SQL dialect: duckdb, postgres or spark.")
    ],
    run_date: Annotated[str, typer.Option("--date", help="Run date D, YYYY-MM-DD.")],
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules", help="Ruleset file or folder (default: `rules:` of gthfx.yaml, else rules/)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the SQL to this file (default: print).")
    ] = None,
    tables: Annotated[
        str,
        typer.Option(
            "--from",
            help="extracts: read the tables annual, tax and social (default); joined: read one "
            "table `joined` as gthfx's join produces it.",
        ),
    ] = "extracts",
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
    if tables not in ("extracts", "joined"):
        raise ConfigError(f"--from {tables!r}", hint="extracts or joined")
    if dialect not in DIALECTS:
        raise ConfigError(f"unknown SQL dialect {dialect!r}", hint=f"one of {', '.join(DIALECTS)}")
    try:
        on = date.fromisoformat(run_date)
    except ValueError:
        raise ConfigError(
            f"--date {run_date!r} is not a date", hint="write it as YYYY-MM-DD"
        ) from None
    cfg = load_config(None)
    if rules is None:
        rules = cfg.base / cfg.rules
    ruleset = ruleset_in_force(rules, on)
    sources = load_sources(cfg.base / cfg.sources if cfg.sources else None)
    compiled = compile_ruleset(ruleset, sources.field_types(), on)
    typing_sources = sources.for_typing(set(compiled.reads), run_date=on)
    header = (
        f"-- gthfx compile-sql: ruleset {ruleset.ruleset.id} (sha256 {ruleset.sha256})\n"
        f"-- run date {on.isoformat()}, dialect {dialect}\n"
    )
    if tables == "joined":
        body = ruleset_sql(ruleset, sources.field_types(), on, typing_sources, dialect)
        header += (
            f"-- input table `{TABLE}`: one row per business, every loaded field, the problem\n"
            "-- masks _pm_annual, _pm_tax, _pm_social (BIGINT), _conflict_annual, _conflict_tax,\n"
            "-- _conflict_social, _has_annual (BOOLEAN)\n"
            "-- output: uscc, tier, rule_id, reasons, then the derived fields\n"
        )
    else:
        body = outcomes_sql(ruleset, sources.field_types(), on, typing_sources, dialect)
        header += "".join(
            f"-- input table `{name}`: uscc (text) and the typed fields "
            f"{', '.join(spec.typed_fields())}\n"
            for name, spec in typing_sources.extracts.items()
        )
        header += (
            "-- output: uscc, tier, rule_id, reasons, flags, region_code, industry_code, then\n"
            "-- the derived fields; one row per business of annual (rejected rows left out)\n"
        )
    text = header + body + ";\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
