"""Running rule cases (`gthfx rules test`): each case's outcome compared with the expected one.

Each case's extracts are validated, joined and typed by the Polars engine under the plan of the
ruleset in force on its date; the trace of what the rules saw comes from `rules.trace`. Never
prints."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.engines.memory import prepare_extracts, type_joined
from gthfx.ingest import uscc
from gthfx.ingest.load import RawExtract
from gthfx.rules.cases import CaseResult, RuleCase, raw_extract
from gthfx.rules.model import ruleset_in_force, with_parameters
from gthfx.rules.plan import build_plan
from gthfx.rules.trace import trace
from gthfx.settings.sources import EXTRACTS, SourcesMapping


def run_case(case: RuleCase, rules: Path, sources: SourcesMapping) -> CaseResult:
    """The outcome of a case's business and its trace, from one plan and one joined frame."""
    ruleset = ruleset_in_force(rules, case.run_date)
    if case.parameters:
        ruleset = with_parameters(ruleset, case.parameters)
    plan = build_plan(ruleset, sources, case.run_date)
    raws = {e: raw_extract(e, case.given[e], sources, plan.sources) for e in EXTRACTS}
    readers: dict[str, Callable[[], RawExtract]] = {
        e: partial(raws.__getitem__, e) for e in EXTRACTS
    }
    joined = prepare_extracts(readers, plan, plan.sources).joined
    outcomes = type_joined(joined, plan, plan.sources)
    target = pl.select(uscc.normalise(pl.lit(str(case.given["annual"][0]["uscc"])))).item()
    row = outcomes.filter(pl.col("uscc") == target)
    actual: dict[str, Any] = {"tier": None}
    if row.height:
        first = row.row(0, named=True)
        actual = {k: first[k] for k in ("tier", "rule_id", "reasons", "flags")}
    traces = trace(plan, joined.filter(pl.col("uscc") == target).head(1))
    return CaseResult(
        case=case,
        actual=actual,
        ruleset_id=plan.source.ruleset.id,
        trace=traces[0] if traces else None,
    )
