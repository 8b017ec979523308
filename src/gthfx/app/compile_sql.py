"""`compile-sql` as a use case: the ruleset in force on a date as one SQL query.

The query reads tables named after the extracts (validation, duplicates, the join and the rules)
or the joined table, with a header comment naming the ruleset, its SHA-256, the input tables and
the output.

Returns the text; never prints, writes no file.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from gthfx.rules.model import ruleset_in_force
from gthfx.rules.plan import build_plan
from gthfx.rules.to_sql import TABLE, outcomes_sql, ruleset_sql
from gthfx.settings.sources import load_sources


def compile_sql(
    *,
    rules: Path,
    run_date: date,
    dialect: str,
    sources: Path | None = None,
    tables: Literal["extracts", "joined"] = "extracts",
) -> str:
    """The SQL text (header comment, query, `;`) of the ruleset in force on `run_date` in
    `dialect`, reading the extracts' tables or (`tables="joined"`) the joined table."""
    ruleset = ruleset_in_force(rules, run_date)
    plan = build_plan(ruleset, load_sources(sources), run_date)
    header = (
        f"-- gthfx compile-sql: ruleset {ruleset.ruleset.id} (sha256 {ruleset.sha256})\n"
        f"-- run date {run_date.isoformat()}, dialect {dialect}\n"
    )
    if tables == "joined":
        body = ruleset_sql(plan, dialect)
        header += (
            f"-- input table `{TABLE}`: one row per business, every loaded field, the problem\n"
            "-- masks _pm_annual, _pm_tax, _pm_social (BIGINT), _conflict_annual, _conflict_tax,\n"
            "-- _conflict_social, _has_annual (BOOLEAN)\n"
            "-- output: uscc, tier, rule_id, reasons, then the derived fields\n"
        )
    else:
        body = outcomes_sql(plan, dialect)
        header += "".join(
            f"-- input table `{name}`: uscc (text) and the typed fields "
            f"{', '.join(spec.typed_fields())}\n"
            for name, spec in plan.sources.extracts.items()
        )
        header += (
            "-- output: uscc, tier, rule_id, reasons, flags, region_code, industry_code, then\n"
            "-- the derived fields; one row per business of annual (rejected rows left out)\n"
        )
    return header + body + ";\n"
