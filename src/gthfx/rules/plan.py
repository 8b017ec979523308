"""The ruleset compiled once: `build_plan(ruleset file, sources mapping, run date) -> RulePlan`.

The plan is what every back end and tool reads, never the rule text: the typed trees (`types`) of
the derived fields, basic conditions and tier rules; the indicators; the fields read and the
parameters used; the one order of reasons; the outcome schema; the near-threshold checks of the
review workbooks. Polars (`to_polars`), SQL (`to_sql`), the tracer (`trace`), lint, simulate, rule
cases and the review workbooks walk it. Every expression is parsed and type-checked once
(`check.check_ruleset`), before any data is read; an error names the file and the rule.

The order of reasons is decided here and nowhere else: per extract of the mapping a run loads,
its unparseable fields and missing required fields (`validate.problem_reasons`) and its
conflicting duplicates, then the basic conditions in ruleset order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from gthfx.ingest.parse import POLARS_TYPES
from gthfx.ingest.validate import problem_reasons
from gthfx.rules import model
from gthfx.rules.check import Checked, check_ruleset, raise_first
from gthfx.rules.grammar import Node, names_in
from gthfx.rules.types import BUILTINS, Kind, Typed, dtype_of
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import SourcesMapping, load_sources
from gthfx.vocab import BASE_COLUMNS, CONFLICT

# ---- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DerivedField:
    """A field computed before the conditions, in ruleset order (it may read earlier ones)."""

    id: str
    label: str
    text: str  # the expression as written
    tree: Typed
    dtype: pl.DataType  # its column type, in every back end's outcome

    @property
    def kind(self) -> Kind:
        return self.tree.kind


@dataclass(frozen=True)
class BasicCondition:
    id: str
    label: str
    text: str
    tree: Typed  # a condition


@dataclass(frozen=True)
class TierRule:
    id: str
    tier: str
    label: str
    text: str | None
    tree: Typed | None  # None: the default rule (always the last)


@dataclass(frozen=True)
class DataProblem:
    """A reason for exclusion found in the data: bit `bit` of the joined frame's `_pm_<extract>`
    (an unparseable or missing field), or `_conflict_<extract>` when `bit` is None."""

    extract: str
    reason: str
    bit: int | None


@dataclass(frozen=True)
class NearCheck:
    """A near-threshold check of the review workbooks (the ruleset's `review:`): a business one
    tier below `tier` whose `indicator` is at least `lower` and under `threshold` is listed."""

    indicator: str
    parameter: str
    tier: str
    threshold: float
    lower: float


@dataclass(frozen=True)
class RulePlan:
    """A ruleset compiled for a sources mapping and a run date: everything needed to type a
    joined frame, in any back end."""

    source: model.RulesetFile
    run_date: date
    sources: SourcesMapping  # what a run loads for this plan: the frames it types have its fields
    field_kinds: Mapping[str, str]  # every field of the full sources mapping, with its type
    parameters: Mapping[str, object]  # every parameter's value
    derived: tuple[DerivedField, ...]
    conditions: tuple[BasicCondition, ...]
    tiers: tuple[TierRule, ...]
    # the columns the tier rules read, directly or through derived fields, in order (a list: the
    # change log takes one)
    indicators: list[str]
    reads: frozenset[str]  # every field any expression reads
    used_parameters: frozenset[str]
    problems: tuple[DataProblem, ...]
    reasons: tuple[str, ...]  # data problems, then basic conditions: reason k is bit k of the masks
    outcome_schema: Mapping[str, pl.DataType]  # BASE_COLUMNS, the indicators, `decided`
    near_checks: tuple[NearCheck, ...]
    parsed: Mapping[tuple[str, int], Node]  # (section, index) → parse tree, for `with_parameters`

    def with_parameters(self, overrides: Mapping[str, object]) -> RulePlan:
        """The same plan with some parameter values replaced (what-if), from the same parse trees
        and for the same loaded mapping; an unknown parameter or a value of another kind is a
        `RulesError`."""
        changed = model.with_parameters(self.source, dict(overrides))
        checked = check_ruleset(changed, self.field_kinds, self.run_date, parsed=self.parsed)
        return plan_of(checked, self.sources, loaded=self.sources)


def build_plan(
    ruleset_file: model.RulesetFile,
    sources: SourcesMapping,
    run_date: date,
    *,
    loaded: SourcesMapping | None = None,
    strict: bool = False,
) -> RulePlan:
    """Parse and type-check every expression of a ruleset for the fields of `sources` and the run
    date; the first problem is a `RulesError` naming the file and the rule. `loaded` is the
    mapping the frames to type were loaded with (their problem masks follow its fields); by
    default, `sources` cut down to what this ruleset needs (`SourcesMapping.for_typing`)."""
    checked = check_ruleset(ruleset_file, sources.field_types(), run_date)
    return plan_of(checked, sources, loaded=loaded, strict=strict)


def compile_for(options: RunOptions) -> tuple[SourcesMapping, RulePlan]:
    """The sources mapping a run loads and the plan of the ruleset in force on the run date:
    checked before any data is read."""
    sources = load_sources(options.sources)
    ruleset = model.ruleset_in_force(options.rules, options.run_date)
    plan = build_plan(ruleset, sources, options.run_date, strict=options.strict)
    return plan.sources, plan


# ---- the plan of a checked ruleset -------------------------------------------------------------


def _reads(checked: Checked) -> list[str]:
    """Every field any expression reads, in order of appearance."""
    out: list[str] = []
    for tree in checked.parsed.values():
        out += [n.name for n in names_in(tree) if n.name in checked.field_kinds]
    return list(dict.fromkeys(out))


def _indicators(checked: Checked) -> list[str]:
    """The columns the tier rules read, in order, then the columns the derived ones among them
    read (one level: `sales_yuan` brings `sales` and `revenue`)."""
    rs = checked.source.ruleset
    columns = {*checked.field_kinds, *(d.id for d in rs.derived)}
    indicators: list[str] = []
    for index, rule in enumerate(rs.tiers):
        if rule.when is None:
            continue
        for name in names_in(checked.parsed[("tiers", index)]):
            if name.name in columns and name.name not in indicators:
                indicators.append(name.name)
    reads = {
        d.id: [n.name for n in names_in(checked.parsed[("derived", i)])]
        for i, d in enumerate(rs.derived)
    }
    for indicator in list(indicators):
        for read in reads.get(indicator, []):
            if read in columns and read not in indicators and read not in BUILTINS:
                indicators.append(read)
    return indicators


def data_problems(loaded: SourcesMapping) -> tuple[DataProblem, ...]:
    """The data problems a frame loaded with `loaded` can have, in report order."""
    out: list[DataProblem] = []
    for extract, spec in loaded.extracts.items():
        out += [DataProblem(extract, reason, bit) for bit, reason in problem_reasons(extract, spec)]
        out.append(DataProblem(extract, f"{CONFLICT}:{extract}", None))
    return tuple(out)


def _outcome_schema(
    indicators: list[str], dtypes: Mapping[str, pl.DataType]
) -> dict[str, pl.DataType]:
    """The outcome columns and their types, as every engine writes them."""
    schema: dict[str, pl.DataType] = {}
    for name in BASE_COLUMNS:
        if name in ("reasons", "flags"):
            schema[name] = pl.List(pl.String())
        elif name in ("region_code", "industry_code"):
            schema[name] = dtypes.get(name, pl.String())
        else:
            schema[name] = pl.String()
    schema.update({name: dtypes[name] for name in indicators if name not in BASE_COLUMNS})
    schema["decided"] = pl.Boolean()
    return schema


def plan_of(
    checked: Checked,
    sources: SourcesMapping,
    *,
    loaded: SourcesMapping | None = None,
    strict: bool = False,
) -> RulePlan:
    """The plan of a checked ruleset (see `build_plan`); its first problem, if it has one, is a
    `RulesError`."""
    raise_first(checked)
    if loaded is None:
        loaded = sources.for_typing(set(_reads(checked)), run_date=checked.run_date, strict=strict)
    rs = checked.source.ruleset
    dtypes: dict[str, pl.DataType] = {
        name: POLARS_TYPES[kind] for name, kind in checked.field_kinds.items()
    }
    derived = []
    for index, item in enumerate(rs.derived):
        tree = checked.typed[("derived", index)]
        dtypes[item.id] = dtype_of(tree, dtypes)
        derived.append(DerivedField(item.id, item.label, item.expr, tree, dtypes[item.id]))
    conditions = tuple(
        BasicCondition(c.id, c.label, c.when, checked.typed[("basic_conditions", i)])
        for i, c in enumerate(rs.basic_conditions)
    )
    tiers = tuple(
        TierRule(t.id, t.tier, t.label, t.when, checked.typed.get(("tiers", i)))
        for i, t in enumerate(rs.tiers)
    )
    indicators = _indicators(checked)
    problems = data_problems(loaded)
    parameters = {name: p.value for name, p in rs.parameters.items()}
    near = []
    for check in rs.review:
        value = parameters[check.parameter]
        assert isinstance(value, int | float)
        threshold = float(value)
        if check.units is not None:
            lower = threshold - check.units
        else:
            assert check.share is not None  # one of the two (`model.NearThreshold`)
            lower = threshold * (1 - check.share)
        near.append(NearCheck(check.indicator, check.parameter, check.tier, threshold, lower))
    return RulePlan(
        source=checked.source,
        run_date=checked.run_date,
        sources=loaded,
        field_kinds=checked.field_kinds,
        parameters=parameters,
        derived=tuple(derived),
        conditions=conditions,
        tiers=tiers,
        indicators=indicators,
        reads=frozenset(_reads(checked)),
        used_parameters=frozenset(checked.used_parameters),
        problems=problems,
        reasons=(*(p.reason for p in problems), *(c.id for c in conditions)),
        outcome_schema=_outcome_schema(indicators, dtypes),
        near_checks=tuple(near),
        parsed=dict(checked.parsed),
    )
