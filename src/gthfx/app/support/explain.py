"""Why a business does or does not get a measure: `explain_support(code, run, policies, …)`.

For each measure of the library (or one): whether it is in force on the run date, whether the
business reaches it through its tier or through a 名特优新 category it holds, and its `when`
condition clause by clause — traced by `rules.trace` on the business's row with the values each
clause reads and the parameters it compares with — and the verdict in a Chinese sentence. Reads
the run through `runs.reader`; never prints.
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.app.explain import normalise_code
from gthfx.app.register_entries import entries_in_force
from gthfx.app.support.deliver import compile_for_run
from gthfx.app.support.match import attach_categories, population
from gthfx.errors import ConfigError, GthfxError
from gthfx.report.labels import COLUMN_HEADERS
from gthfx.report.regions import region_name
from gthfx.rules.grammar import names_in
from gthfx.rules.policies import INDUSTRY_SECTION, CompiledMeasure, find_measure
from gthfx.rules.trace import ClauseTrace, trace_conditions
from gthfx.runs.reader import Run, open_run
from gthfx.settings.sources import load_sources
from gthfx.vocab import CATEGORY_LABELS, TIER_LABELS

BUILTIN_LABELS = {"run_date": "运行日期", "run_year": "运行年度", INDUSTRY_SECTION: "行业门类"}


@dataclass
class Value:
    name: str
    label: str
    value: Any
    unit: str | None = None


@dataclass
class Clause:
    """One part of a `when`, its result, the values it reads and the parameters it compares
    with; split into `parts` when it is itself an `and` / `or` chain."""

    text: str
    result: bool
    values: list[Value]
    thresholds: list[Value]
    op: str | None = None
    parts: list[Clause] = field(default_factory=list)


@dataclass
class MeasureWhy:
    id: str
    title: str
    department: str
    delivery: str
    policy_id: str
    policy_file: str
    effective_from: date
    effective_to: date | None
    in_force: bool
    tiers: list[str]
    categories: list[str]
    via_tier: bool
    via_categories: list[str]
    when: str | None
    when_holds: bool | None  # None: no condition
    clause: Clause | None
    gets: bool
    why: str


@dataclass
class HeldCategory:
    category: str
    label: str
    valid_from: date | None
    valid_to: date | None


@dataclass
class SupportExplanation:
    uscc: str
    run_dir: str
    run_date: date
    tier: str
    tier_label: str
    region_code: str | None
    district: str
    industry_code: str | None
    industry_section: str | None
    register: str | None
    categories: list[HeldCategory]
    measures: list[MeasureWhy]

    @property
    def gets(self) -> list[str]:
        return [m.id for m in self.measures if m.gets]

    def to_json(self) -> str:
        data = asdict(self)
        data["gets"] = self.gets
        return json.dumps(data, ensure_ascii=False, indent=2, default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _labels(run: Run) -> dict[str, str]:
    """Chinese names of the columns a condition may read: the shipped sources mapping's labels,
    the run's derived fields (when its ruleset can still be found), and the outcome columns."""
    labels = dict(COLUMN_HEADERS)
    for spec in load_sources().extracts.values():
        for name, fspec in spec.fields.items():
            labels.setdefault(name, fspec.label)
    with suppress(GthfxError):  # moved or changed since the run: names stay as they are
        for derived in run.ruleset().ruleset.derived:
            labels[derived.id] = derived.label
    return {**labels, **BUILTIN_LABELS}


def _clause(
    trace: ClauseTrace,
    row: dict[str, Any],
    measure: CompiledMeasure,
    labels: dict[str, str],
    on: date,
) -> Clause:
    params = measure.document.policy.parameters
    values: list[Value] = []
    thresholds: list[Value] = []
    for name in dict.fromkeys(n.name for n in names_in(trace.tree.source)):
        if name in params:
            p = params[name]
            thresholds.append(Value(name, p.label, p.value, p.unit))
        elif name == "run_date":
            values.append(Value(name, labels[name], on))
        elif name == "run_year":
            values.append(Value(name, labels[name], on.year))
        else:
            values.append(Value(name, labels.get(name, name), row.get(name)))
    return Clause(
        text=trace.text,
        result=trace.result,
        values=values,
        thresholds=thresholds,
        op=trace.op,
        parts=[_clause(p, row, measure, labels, on) for p in trace.parts],
    )


def _words(values: list[str], words: dict[str, str]) -> str:
    return "、".join(words.get(v, v) for v in values) or "无"


def _first_false(clause: Clause) -> Clause:
    """The clause that decides a false `when`: in an `and` chain its first false part."""
    if clause.op == "and":
        for part in clause.parts:
            if not part.result:
                return _first_false(part)
    return clause


def _why(m: MeasureWhy, tier: str, held: list[str], on: date) -> str:
    span = f"{m.effective_from}至{m.effective_to or '长期'}"
    if not m.in_force:
        return f"不适用:该措施{on}不在有效期内({span})。"
    reach = []
    if m.via_tier:
        reach.append(f"分型为{TIER_LABELS[tier]}")
    if m.via_categories:
        reach.append(f"已认定为名特优新{_words(m.via_categories, CATEGORY_LABELS)}类")
    if not reach:
        wanted = []
        if m.tiers:
            wanted.append(f"分型为{_words(m.tiers, TIER_LABELS)}")
        if m.categories:
            wanted.append(f"名特优新{_words(m.categories, CATEGORY_LABELS)}类")
        own = f"本户分型为{TIER_LABELS[tier]}"
        own += f",名特优新类别为{_words(held, CATEGORY_LABELS)}" if m.categories else ""
        return f"不适用:该措施面向{'或'.join(wanted)}的个体工商户,{own}。"
    if m.clause is not None and not m.clause.result:
        decisive = _first_false(m.clause)
        return f"不适用:{'且'.join(reach)},但适用条件不成立({decisive.text} 为否)。"
    condition = ",且适用条件成立" if m.clause is not None else ""
    return f"适用:{'且'.join(reach)}{condition}。"


def explain_support(
    code: str,
    run_dir: Path,
    policies: Path,
    *,
    register: Path | None = None,
    measure: str | None = None,
) -> SupportExplanation:
    """Explain, for one business of a run, every measure of the library (or `measure` only)."""
    run = open_run(run_dir)
    on = run.manifest.run_date
    plan = compile_for_run(run, policies)
    wanted = [find_measure(plan, measure)] if measure is not None else list(plan.measures)
    target = normalise_code(code)
    frame = population(run, plan.reads()).filter(pl.col("uscc") == target)
    if frame.height == 0:
        raise ConfigError(
            f"{code}: not a business of the run {run_dir}",
            hint="give the 18-character code as the run's outcome files hold it",
        )
    entries = entries_in_force(register, on) if register is not None else None
    mine = entries.filter(pl.col("uscc") == target) if entries is not None else None
    frame = attach_categories(frame, mine)
    row = frame.row(0, named=True)
    held = list(row["categories"])
    trees = [m.tree for m in wanted if m.tree is not None]
    traced = iter(trace_conditions(trees, frame)[0]) if trees else iter(())
    labels = _labels(run)
    out: list[MeasureWhy] = []
    for m in wanted:
        via_tier, _ = m.reaches(row["tier"], held)
        via: list[str] = [c for c in m.measure.categories if c in held]
        clause = _clause(next(traced), row, m, labels, on) if m.tree is not None else None
        in_force = m.in_force(on)
        gets = in_force and (via_tier or bool(via)) and (clause is None or clause.result)
        item = MeasureWhy(
            id=m.id,
            title=m.measure.title,
            department=m.measure.department,
            delivery=m.measure.delivery,
            policy_id=m.document.policy.id,
            policy_file=str(m.document.path),
            effective_from=m.effective_from,
            effective_to=m.effective_to,
            in_force=in_force,
            tiers=list(m.measure.tiers),
            categories=list(m.measure.categories),
            via_tier=via_tier,
            via_categories=via,
            when=m.measure.when,
            when_holds=None if clause is None else clause.result,
            clause=clause,
            gets=gets,
            why="",
        )
        item.why = _why(item, row["tier"], held, on)
        out.append(item)
    categories = []
    if mine is not None:
        for entry in mine.iter_rows(named=True):
            categories.append(
                HeldCategory(
                    entry["category"],
                    CATEGORY_LABELS[entry["category"]],
                    entry["valid_from"],
                    entry["valid_to"],
                )
            )
    region = row["region_code"]
    return SupportExplanation(
        uscc=target,
        run_dir=str(run_dir),
        run_date=on,
        tier=row["tier"],
        tier_label=TIER_LABELS[row["tier"]],
        region_code=region,
        district=pl.select(region_name(pl.lit(region, pl.String))).item(),
        industry_code=row["industry_code"],
        industry_section=row[INDUSTRY_SECTION],
        register=None if register is None else str(register),
        categories=categories,
        measures=out,
    )
