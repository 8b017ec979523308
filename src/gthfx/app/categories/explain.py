"""`gthfx categories explain`: why each entry of one business was eligible, ineligible or over
quota.

`gthfx categories explain USCC --screening DIR` shows every condition, exclusion and criterion
with the values it read, and the quota ranking. Recomputed from the screening's stored facts and
indicators with the criteria file it used (checked by SHA-256), and compared with the stored
result. Never prints."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.app.categories.core import judge
from gthfx.app.categories.folders import read_manifest
from gthfx.app.categories.inputs import recorded_criteria
from gthfx.app.categories.screen import SCREENING_FILE
from gthfx.errors import ConfigError
from gthfx.ingest import uscc
from gthfx.rules.criteria import CompiledCriteria, compile_criteria
from gthfx.rules.grammar import names_in, parse_expression
from gthfx.settings.sources import load_sources
from gthfx.vocab import CATEGORY_LABELS


@dataclass(frozen=True)
class Check:
    """One condition, exclusion or criterion: whether it holds and the values it read."""

    kind: str  # condition | exclusion | criterion
    id: str
    label: str
    expression: str
    holds: bool
    against: bool  # true when it counts against the entry (a reason)
    values: dict[str, Any]


@dataclass
class EntryExplanation:
    uscc: str
    category: str
    category_label: str
    result: str
    reasons: list[str]
    criteria_met: list[str]
    rank: int | None
    quota: int | None
    base: int | None
    facts: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    recomputed_reasons: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        stored = [r for r in self.reasons if r != "over_quota"]
        return stored == self.recomputed_reasons


FACTS = (
    "name",
    "tier",
    "years_in_business",
    "insured_staff",
    "region_code",
    "industry_code",
    "route",
    "recommender",
    "consent",
    "special_group",
    "applied_on",
    "in_run",
    "serious_dishonest",
    "records_rejected",
)


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def explain_entries(
    code: str, screening: Path, category: str | None = None
) -> list[EntryExplanation]:
    manifest = read_manifest(screening, "categories-screening")
    norm = pl.select(uscc.normalise(pl.lit(code))).item() or ""
    rows = pl.read_parquet(screening / SCREENING_FILE).filter(pl.col("uscc") == norm)
    if category is not None:
        rows = rows.filter(pl.col("category") == category)
    if rows.height == 0:
        raise ConfigError(
            f"{code}: no application of this business in {screening}"
            + (f" for the category {category}" if category else ""),
            hint="the screening lists every application; see its 拒收.csv for rejected rows",
        )
    source = recorded_criteria(manifest["criteria"], screening)
    on = date.fromisoformat(manifest["screening_date"])
    compiled = compile_criteria(source, load_sources().category_extracts, on)
    rejudged = judge(
        rows.drop("reasons", "criteria_met", "criteria_count"), compiled, evaluation=False
    )
    return [
        _one(row, again, compiled)
        for row, again in zip(
            rows.iter_rows(named=True), rejudged.iter_rows(named=True), strict=True
        )
    ]


def _one(
    row: dict[str, Any], again: dict[str, Any], compiled: CompiledCriteria
) -> EntryExplanation:
    crit = compiled.criteria_file
    params = {n: p.value for n, p in crit.parameters.items()}
    frame = pl.DataFrame([row])

    def check(
        kind: str, item_id: str, label: str, text: str, expr: pl.Expr, bad_when: bool
    ) -> Check:
        holds = bool(frame.select(expr).item())
        values: dict[str, Any] = {}
        for name in names_in(parse_expression(text)):
            if name.name in row:
                values[name.name] = _plain(row[name.name])
            elif name.name in params:
                values[name.name] = params[name.name]
            elif name.name == "run_date":
                values[name.name] = compiled.on.isoformat()
        return Check(kind, item_id, label, text, holds, holds == bad_when, values)

    checks: list[Check] = []
    for (cid, expr, _), cond in zip(compiled.conditions, crit.conditions, strict=True):
        checks.append(check("condition", cid, cond.label, cond.when, expr, False))
    for (xid, expr), excl in zip(compiled.exclusions, crit.exclusions, strict=True):
        checks.append(check("exclusion", xid, excl.label, excl.when, expr, True))
    any_met = bool(again["criteria_met"])
    for (kid, cat, expr), crit_item in zip(compiled.criteria, crit.criteria, strict=True):
        if cat == row["category"]:
            item = check("criterion", kid, crit_item.label, crit_item.when, expr, False)
            # a criterion counts against the entry only when none of its category holds
            checks.append(Check(**{**asdict(item), "against": item.against and not any_met}))
    return EntryExplanation(
        uscc=row["uscc"],
        category=row["category"],
        category_label=CATEGORY_LABELS[row["category"]],
        result=row["result"],
        reasons=list(row["reasons"]),
        criteria_met=list(row["criteria_met"]),
        rank=row["rank"],
        quota=row["quota"],
        base=row["base"],
        facts={k: _plain(row[k]) for k in FACTS if k in row},
        checks=checks,
        recomputed_reasons=list(again["reasons"]),
    )


def to_json(entries: list[EntryExplanation]) -> str:
    return json.dumps(
        [asdict(e) | {"consistent": e.consistent} for e in entries],
        ensure_ascii=False,
        indent=2,
        default=str,
    )
