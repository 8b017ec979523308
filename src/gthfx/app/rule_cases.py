"""Running rule cases (`gthfx rules test`): each case's extracts typed by the Polars engine, the
outcome compared with the expected one, and a trace of what the rules saw."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.ingest import uscc
from gthfx.ingest.join import join_extracts
from gthfx.ingest.validate import validate_extract
from gthfx.rules.cases import CaseResult, RuleCase, raw_extract
from gthfx.rules.engine import compile_ruleset
from gthfx.rules.model import ruleset_in_force, with_parameters
from gthfx.settings.sources import EXTRACTS, SourcesMapping


def run_case(case: RuleCase, rules: Path, sources: SourcesMapping) -> CaseResult:
    # imported here: the pipeline imports the rules package
    from gthfx.engines.memory import type_extracts

    ruleset = ruleset_in_force(rules, case.run_date)
    if case.parameters:
        ruleset = with_parameters(ruleset, case.parameters)
    compiled = compile_ruleset(ruleset, sources.field_types(), case.run_date)
    typing = sources.for_typing(set(compiled.reads), run_date=case.run_date)
    raws = {e: raw_extract(e, case.given[e], sources, typing) for e in EXTRACTS}
    typed = type_extracts({e: partial(raws.get, e) for e in EXTRACTS}, compiled, typing)  # type: ignore[misc]
    target = pl.select(uscc.normalise(pl.lit(str(case.given["annual"][0]["uscc"])))).item()
    row = typed.outcomes.filter(pl.col("uscc") == target)
    actual: dict[str, Any] = {"tier": None}
    if row.height:
        first = row.row(0, named=True)
        actual = {k: first[k] for k in ("tier", "rule_id", "reasons", "flags")}
    return CaseResult(case=case, actual=actual)


@dataclass(frozen=True)
class Trace:
    """What the rules saw for a case's business. Empty lists when the business has no row."""

    ruleset_id: str
    derived: list[tuple[str, str, Any]]  # (id, label, value)
    conditions: list[tuple[str, str, bool]]  # basic conditions: (id, label, holds)
    tiers: list[
        tuple[str, str, bool | None]
    ]  # tier rules in order: (id, tier, matches); None: default


def trace_case(case: RuleCase, rules: Path, sources: SourcesMapping) -> Trace:
    ruleset = ruleset_in_force(rules, case.run_date)
    if case.parameters:
        ruleset = with_parameters(ruleset, case.parameters)
    compiled = compile_ruleset(ruleset, sources.field_types(), case.run_date)
    typing = sources.for_typing(set(compiled.reads), run_date=case.run_date)
    known: pl.Series | None = None
    validated = {}
    for extract in EXTRACTS:
        raw = raw_extract(extract, case.given[extract], sources, typing)
        checked = validate_extract(
            raw, typing.extracts[extract], report_year=case.run_date.year - 1, known_codes=known
        )
        validated[extract] = checked
        if extract == "annual":
            known = pl.concat(
                [checked.rows.get_column("uscc"), checked.conflicts.get_column("uscc")]
            )
    joined = join_extracts(validated["annual"], validated["tax"], validated["social"])
    target = pl.select(uscc.normalise(pl.lit(str(case.given["annual"][0]["uscc"])))).item()
    row = joined.filter(pl.col("uscc") == target).head(1)
    rs = ruleset.ruleset
    if row.height == 0:
        return Trace(rs.id, [], [], [])
    row = row.with_columns(expr for _, expr in compiled.derived)
    values = row.select(
        *(pl.col(name) for name, _ in compiled.derived),
        *(expr.alias(f"_c_{i}") for i, (_, expr) in enumerate(compiled.conditions)),
        *(
            cond.alias(f"_t_{i}")
            for i, (_, _, cond) in enumerate(compiled.tier_rules)
            if cond is not None
        ),
    ).row(0, named=True)
    labels = {d.id: d.label for d in rs.derived} | {c.id: c.label for c in rs.basic_conditions}
    return Trace(
        ruleset_id=rs.id,
        derived=[(name, labels[name], values[name]) for name, _ in compiled.derived],
        conditions=[
            (cid, labels[cid], bool(values[f"_c_{i}"]))
            for i, (cid, _) in enumerate(compiled.conditions)
        ],
        tiers=[
            (rid, tier, None if cond is None else bool(values[f"_t_{i}"]))
            for i, (rid, tier, cond) in enumerate(compiled.tier_rules)
        ],
    )
