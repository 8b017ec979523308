"""名特优新 criteria as strict data, compiled with the rule grammar (SPEC §10).

A criteria file (`rules/categories-*.yaml`) holds, in force from a date:

- `parameters` — every number and word list, with unit and source (the `Parameter` of rulesets);
- `vocabulary` — per coded field of the category extracts, the accepted words and their aliases
  (`知名类: 知名`); a word not listed is rejected with its file and row;
- `evidence_fields` / `record_fields` — computed per evidence item / negative record at the date
  (e.g. `valid`, `in_window`); besides the extract's fields they may read `window_start`, the first
  day of the exclusion window (the date `exclusion_years` years before, 28 February for 29
  February);
- `indicators` — per business, an aggregate (`any`, `count`, `max`) of evidence items or records
  that satisfy `when` (e.g. `trademark`, `chain_stores`, `heavy_penalty`);
- `conditions` — in order, each must hold; the id of one that does not is a reason (`not_typed`,
  `no_consent`, `below_gate`, `years`); `evaluation: false` marks those the yearly evaluation
  does not re-check;
- `exclusions` — each that holds is a reason (`exclusion.penalty`, …);
- `criteria` — the "N": named alternatives per category; at least one of an entry's category must
  hold, and `criteria_met` lists those that do.

Expressions are parsed by `rules.grammar`, type-checked by `rules.types` (`check_expression`
over a `Scope`) and emitted by `rules.to_polars`: one tree, one meaning, never Python.
Compilation and lint never read data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gthfx.errors import RulesError
from gthfx.rules.grammar import ExprSyntaxError, Node, parse_expression
from gthfx.rules.model import CRITERIA_PREFIX, ID_PATTERN, Parameter, read_with_base
from gthfx.rules.to_polars import expression
from gthfx.rules.types import FIELD_KINDS, CompileError, Kind, Scope, check_expression, value_kind
from gthfx.settings.sources import ExtractSpec
from gthfx.settings.yamlio import pydantic_location
from gthfx.vocab import CATEGORIES  # CATEGORIES in ranking order

CategoryId = Literal["known", "distinctive", "quality", "emerging"]
UPHELD, NOT_UPHELD = "成立", "不成立"

# coded text fields of the category extracts: the vocabulary key that checks each
CODED_FIELDS: dict[tuple[str, str], str] = {
    ("applications", "categories"): "category",
    ("applications", "route"): "route",
    ("applications", "special_group"): "special_group",
    ("evidence", "evidence_type"): "evidence_type",
    ("evidence", "level"): "level",
    ("records", "record_type"): "record_type",
    ("objections", "categories"): "category",
    ("objections", "conclusion"): "conclusion",
}
VOCABULARIES = ("category", "route", "special_group", "evidence_type", "level", "record_type",
                "conclusion")  # fmt: skip

# parameters the procedure itself reads (not only expressions): name → kind
PROCEDURE_PARAMETERS: dict[str, str] = {
    "exclusion_years": "number",  # the exclusion window: [S − exclusion_years years, S]
    "quota_share": "number",  # entries per district ≤ share × growth + development, rounded down
    "quota_minimum": "number",  # … and at least this many
    "quota_tiers": "list",  # the tiers counted for the quota
    "publicity_days": "number",  # 公示 length, calendar days, start day included
    "validity_years": "number",  # a certified entry lasts this many years
    "serious_dishonest_reasons": "list",  # run reasons that mean `serious_dishonest`
}

# business-level names every expression of conditions, exclusions and criteria may read
BUSINESS_COLUMNS: dict[str, Kind] = {
    "in_run": "bool",
    "tier": "text",
    "years_in_business": "number",
    "insured_staff": "number",
    "region_code": "text",
    "industry_code": "text",
    "serious_dishonest": "bool",
    "category": "text",
    "route": "text",
    "recommender": "text",
    "special_group": "text",
    "consent": "bool",
    "applied_on": "date",
    "records_rejected": "number",
}
WINDOW_START = "window_start"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ItemField(_Strict):
    """A value computed per evidence item or record, before the indicators."""

    id: str = Field(pattern=ID_PATTERN)
    label: str
    expr: str


class Indicator(_Strict):
    """One per-business value aggregated from the items that satisfy `when`."""

    id: str = Field(pattern=ID_PATTERN)
    label: str
    source: Literal["evidence", "records"] = Field(alias="from")
    aggregate: Literal["any", "count", "max"]
    when: str
    value: str | None = None

    @model_validator(mode="after")
    def _value(self) -> Indicator:
        if (self.aggregate == "max") != (self.value is not None):
            raise ValueError("`value` is given exactly when `aggregate` is max")
        return self


class Step(_Strict):
    """A condition (must hold; its id is the reason when it does not) or an exclusion (its id is
    the reason when it holds)."""

    id: str = Field(pattern=ID_PATTERN)
    label: str
    when: str
    evaluation: bool = True


class Criterion(_Strict):
    """One named alternative of a category's "N"."""

    id: str = Field(pattern=ID_PATTERN)
    category: CategoryId
    label: str
    when: str


class Monitoring(_Strict):
    """The indicators behind the monitoring report's shares (seed 二(五), 二(六))."""

    party_member: str
    advanced: str


class Criteria(_Strict):
    """One dated criteria file."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str
    effective_from: date
    effective_to: date | None = None
    source: str
    parameters: dict[str, Parameter]
    vocabulary: dict[str, dict[str, str]]
    evidence_fields: list[ItemField] = Field(default_factory=list)
    record_fields: list[ItemField] = Field(default_factory=list)
    indicators: list[Indicator]
    conditions: list[Step]
    exclusions: list[Step] = Field(default_factory=list)
    criteria: list[Criterion]
    monitoring: Monitoring

    @field_validator("effective_from", "effective_to", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        if isinstance(value, str) and not (
            len(value) == 10 and value[4] == "-" and value[7] == "-"
        ):
            raise ValueError(f"dates are written YYYY-MM-DD, found {value!r}")
        return value

    @model_validator(mode="after")
    def _check(self) -> Criteria:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        for name, kind in PROCEDURE_PARAMETERS.items():
            param = self.parameters.get(name)
            if param is None:
                raise ValueError(f"parameter `{name}` ({kind}) is required by the procedure")
            if value_kind(param.value) != kind:
                raise ValueError(f"parameter `{name}` must be a {kind}, found {param.value!r}")
        share = self.parameters["quota_share"].value
        if not (isinstance(share, int | float) and 0 < share <= 1):
            raise ValueError(f"parameter `quota_share` must be in (0, 1], found {share!r}")
        for name in ("quota_minimum", "publicity_days", "validity_years", "exclusion_years"):
            value = self.parameters[name].value
            least = 0 if name == "quota_minimum" else 1
            if not isinstance(value, int) or value < least:
                raise ValueError(
                    f"parameter `{name}` must be a whole number ≥ {least}, found {value!r}"
                )
        missing = [v for v in VOCABULARIES if v not in self.vocabulary]
        if missing:
            raise ValueError(f"vocabulary needs the field(s) {', '.join(missing)}")
        unknown = sorted(set(self.vocabulary) - set(VOCABULARIES))
        if unknown:
            raise ValueError(f"vocabulary: unknown field(s) {', '.join(unknown)}")
        wrong = sorted(set(self.vocabulary["category"].values()) - set(CATEGORIES))
        if wrong:
            raise ValueError(f"vocabulary.category: {wrong} are not among {', '.join(CATEGORIES)}")
        wrong = sorted(set(self.vocabulary["conclusion"].values()) - {UPHELD, NOT_UPHELD})
        if wrong:
            raise ValueError(f"vocabulary.conclusion: {wrong} are not 成立 or 不成立")
        ids = [f.id for f in (*self.evidence_fields, *self.record_fields)]
        ids += [i.id for i in self.indicators] + [c.id for c in self.conditions]
        ids += [e.id for e in self.exclusions] + [c.id for c in self.criteria]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"ids used twice: {', '.join(dupes)}")
        bare = [c for c in CATEGORIES if not any(k.category == c for k in self.criteria)]
        if bare:
            raise ValueError(f"no criterion for the categor(y/ies) {', '.join(bare)}")
        names = {i.id for i in self.indicators}
        for role, name in (("party_member", self.monitoring.party_member),
                           ("advanced", self.monitoring.advanced)):  # fmt: skip
            if name not in names:
                raise ValueError(f"monitoring.{role}: `{name}` is not an indicator")
        return self

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def parameter(self, name: str) -> Any:
        return self.parameters[name].value

    def criteria_of(self, category: str) -> list[Criterion]:
        return [c for c in self.criteria if c.category == category]


@dataclass(frozen=True)
class CriteriaFile:
    """Criteria with the file they came from and its SHA-256 (for manifests)."""

    path: Path
    sha256: str
    criteria: Criteria


def load_criteria(path: Path) -> CriteriaFile:
    """One criteria file; `extends: OTHER.yaml` takes the other file's keys, its own replacing
    them (parameters merged name by name), as for rulesets."""
    raw, content = read_with_base(path)
    try:
        criteria = Criteria.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{pydantic_location(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise RulesError(f"{path}: " + "; ".join(problems)) from None
    return CriteriaFile(path, hashlib.sha256(content).hexdigest(), criteria)


def criteria_files(location: Path) -> list[Path]:
    """The criteria files of a rules folder (`categories-*.yaml`), or the one file given."""
    if location.is_file():
        return [location]
    if location.is_dir():
        return sorted(location.glob(f"{CRITERIA_PREFIX}*.yaml"))
    raise RulesError(f"{location}: no such criteria file or folder")


def criteria_in_force(location: Path, on: date) -> CriteriaFile:
    """The one criteria file in `location` (a file, or the `categories-*.yaml` of a folder) in
    force on `on`."""
    loaded = [load_criteria(p) for p in criteria_files(location)]
    if not loaded:
        raise RulesError(
            f"{location}: no criteria files ({CRITERIA_PREFIX}*.yaml) found",
            hint="the reference criteria are rules/categories-2024.yaml",
        )
    active = [c for c in loaded if c.criteria.in_force(on)]
    if len(active) != 1:
        spans = ", ".join(
            f"{c.path.name} {c.criteria.effective_from}…{c.criteria.effective_to or ''}"
            for c in loaded
        )
        what = "none is" if not active else "several are"
        raise RulesError(f"{location}: {what} in force on {on} (criteria files: {spans})")
    return active[0]


# ---- compiling ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledIndicator:
    id: str
    label: str
    source: str  # evidence | records
    aggregate: str  # any | count | max
    when: pl.Expr
    value: pl.Expr | None
    kind: Kind  # of the aggregated value: bool for any, number otherwise


@dataclass(frozen=True)
class CompiledCriteria:
    """Every expression of a criteria file as Polars expressions, for one date."""

    source: CriteriaFile
    on: date
    item_fields: dict[str, list[tuple[str, pl.Expr]]]  # evidence | records → (id, expr)
    indicators: list[CompiledIndicator]
    conditions: list[tuple[str, pl.Expr, bool]]  # (id, holds, re-checked at evaluation)
    exclusions: list[tuple[str, pl.Expr]]  # (id, hits)
    criteria: list[tuple[str, str, pl.Expr]]  # (id, category, holds)
    business_kinds: dict[str, Kind]  # every business-level column and its kind
    used_parameters: frozenset[str]

    @property
    def criteria_file(self) -> Criteria:
        return self.source.criteria


def item_kinds(spec: ExtractSpec) -> dict[str, Kind]:
    """The kinds of an item extract's typed fields (personal data is never a column)."""
    return {
        name: FIELD_KINDS[f.type]
        for name, f in spec.fields.items()
        if not f.personal and f.type != "code"
    } | {"uscc": "text"}


def compile_text(text: str, where: str, path: Path, scope: Scope) -> tuple[Kind, pl.Expr]:
    """Parse and compile one expression; errors name the file and the item."""
    try:
        typed = check_expression(parse_expression(text), scope)
    except ExprSyntaxError as exc:
        raise RulesError(
            f"{path}: {where}: syntax error at column {exc.column}: {exc.message}\n"
            f"    {text}\n    {' ' * (exc.column - 1)}^"
        ) from None
    except CompileError as exc:
        column = f" (column {exc.column})" if exc.column else ""
        raise RulesError(f"{path}: {where}{column}: {exc.message}\n    {text}") from None
    return typed.kind, expression(typed)


def _condition(text: str, where: str, path: Path, scope: Scope) -> pl.Expr:
    kind, expr = compile_text(text, where, path, scope)
    if kind != "bool":
        raise RulesError(f"{path}: {where}: `when` must be a condition, found a {kind}\n    {text}")
    return expr.fill_null(False)


def compile_criteria(
    source: CriteriaFile, specs: Mapping[str, ExtractSpec], on: date
) -> CompiledCriteria:
    """Type-check and compile every expression of a criteria file for the date `on` (the
    screening or evaluation date: `run_date` in expressions). `specs` are the category extracts
    of the sources mapping. Errors name the file and the item."""
    crit = source.criteria
    path = source.path
    parameters: dict[str, object] = {name: p.value for name, p in crit.parameters.items()}
    used: set[str] = set(PROCEDURE_PARAMETERS)
    item_fields: dict[str, list[tuple[str, pl.Expr]]] = {}
    item_scopes: dict[str, Scope] = {}
    for extract, section, fields in (
        ("evidence", "evidence_fields", crit.evidence_fields),
        ("records", "record_fields", crit.record_fields),
    ):
        columns = item_kinds(specs[extract]) | {WINDOW_START: "date"}
        scope = Scope(columns=columns, parameters=parameters, run_date=on)
        compiled: list[tuple[str, pl.Expr]] = []
        for index, item in enumerate(fields):
            where = f"{section}[{index}] `{item.id}`"
            if item.id in columns:
                raise RulesError(f"{path}: {where}: `{item.id}` is already a field")
            kind, expr = compile_text(item.expr, where, path, scope)
            if kind == "list":
                raise RulesError(f"{path}: {where}: cannot be a list")
            compiled.append((item.id, expr.alias(item.id)))
            columns[item.id] = kind
        item_fields[extract] = compiled
        item_scopes[extract] = scope
        used |= scope.used_parameters
    business: dict[str, Kind] = dict(BUSINESS_COLUMNS)
    indicators: list[CompiledIndicator] = []
    for index, ind in enumerate(crit.indicators):
        where = f"indicators[{index}] `{ind.id}`"
        if ind.id in business:
            raise RulesError(f"{path}: {where}: `{ind.id}` is already a business column")
        scope = item_scopes[ind.source]
        when = _condition(ind.when, where, path, scope)
        value = None
        if ind.value is not None:
            kind, value = compile_text(ind.value, f"{where}.value", path, scope)
            if kind != "number":
                raise RulesError(f"{path}: {where}: `value` must be a number, found a {kind}")
        kind = "bool" if ind.aggregate == "any" else "number"
        indicators.append(
            CompiledIndicator(ind.id, ind.label, ind.source, ind.aggregate, when, value, kind)
        )
        business[ind.id] = kind
    for scope in item_scopes.values():
        used |= scope.used_parameters
    scope = Scope(columns=business, parameters=parameters, run_date=on)
    conditions = [
        (c.id, _condition(c.when, f"conditions[{i}] `{c.id}`", path, scope), c.evaluation)
        for i, c in enumerate(crit.conditions)
    ]
    exclusions = [
        (e.id, _condition(e.when, f"exclusions[{i}] `{e.id}`", path, scope))
        for i, e in enumerate(crit.exclusions)
    ]
    criteria: list[tuple[str, str, pl.Expr]] = [
        (c.id, str(c.category), _condition(c.when, f"criteria[{i}] `{c.id}`", path, scope))
        for i, c in enumerate(crit.criteria)
    ]
    used |= scope.used_parameters
    return CompiledCriteria(
        source=source,
        on=on,
        item_fields=item_fields,
        indicators=indicators,
        conditions=conditions,
        exclusions=exclusions,
        criteria=criteria,
        business_kinds=business,
        used_parameters=frozenset(used),
    )


def reason_labels(crit: Criteria) -> dict[str, str]:
    """Every reason code a screening or evaluation can give → its Chinese wording."""
    out = {c.id: c.label for c in crit.conditions}
    out |= {e.id: e.label for e in crit.exclusions}
    out |= {c.id: f"未满足:{c.label}" for c in crit.criteria}
    return out


def parse_tree(text: str) -> Node:
    """The tree of one expression (for explain and lint)."""
    return parse_expression(text)
