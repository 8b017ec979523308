"""The one tracer (`rules.trace`) behind `gthfx explain` and `gthfx rules test` agrees with the
engine's outcome on every rule case: the basic conditions it sees failing are the engine's
condition reasons, in order, and for a typed business the first tier rule it sees holding is the
engine's rule; every clause split agrees with the whole it was split from."""

from __future__ import annotations

import pytest

from gthfx.app.rule_cases import run_case
from gthfx.rules.cases import load_cases
from gthfx.rules.trace import ClauseTrace, Trace
from gthfx.settings.sources import load_sources
from support import ROOT

CASES = [
    case for path in sorted((ROOT / "rules" / "cases").glob("*.yaml")) for case in load_cases(path)
]
SOURCES = load_sources()


def _consistent(clause: ClauseTrace) -> None:
    """An `and` chain holds when every part does, an `or` chain when one does."""
    if clause.op is not None:
        parts = [p.result for p in clause.parts]
        assert len(parts) >= 2
        assert clause.result == (all(parts) if clause.op == "and" else any(parts)), clause.text
        for part in clause.parts:
            _consistent(part)


def _check(trace: Trace, actual: dict[str, object]) -> None:
    conditions = {c.id for c in trace.conditions}
    reasons = list(actual["reasons"])  # type: ignore[call-overload]
    if trace.has_annual:
        assert trace.failed == [r for r in reasons if r in conditions]
    else:  # conflicting annual rows: the conditions are not evaluated
        assert trace.failed == [] and all(c.holds is None for c in trace.conditions)
    if actual["tier"] == "excluded":
        assert reasons, "an excluded business has a reason"
        assert actual["rule_id"] == reasons[0]
    else:
        assert reasons == [] and trace.failed == []
        assert trace.first_match.id == actual["rule_id"]
        assert trace.first_match.tier == actual["tier"]
    for condition in trace.conditions:
        _consistent(condition.clause)
    for tier in trace.tiers:
        if tier.clause is None:
            assert tier.holds is None and tier is trace.tiers[-1]  # the default, last
        else:
            assert tier.holds == tier.clause.result
            _consistent(tier.clause)
    assert trace.values["uscc"] == trace.uscc
    for derived in trace.derived:
        assert trace.values[derived.id] == derived.value


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file.stem}:{c.name}" for c in CASES])
def test_the_trace_agrees_with_the_engine(case) -> None:  # type: ignore[no-untyped-def]
    result = run_case(case, ROOT / "rules", SOURCES)
    if result.trace is None:  # no row after validation: no outcome either
        assert result.actual == {"tier": None}
        return
    _check(result.trace, result.actual)


def test_the_cases_reach_every_kind_of_trace() -> None:
    """Not vacuous: the cases hold excluded and typed businesses of every tier, failing
    conditions, and or-chains whose parts differ."""
    results = [run_case(case, ROOT / "rules", SOURCES) for case in CASES]
    tiers = {r.actual["tier"] for r in results}
    assert {"excluded", "survival", "growth", "development"} <= tiers
    traces = [r.trace for r in results if r.trace is not None]
    assert any(t.failed for t in traces)
    assert any(
        c.op == "or" and len({p.result for p in c.parts}) == 2
        for t in traces
        for rule in t.tiers
        if rule.clause is not None
        for c in (rule.clause, *rule.clause.parts)
    )
