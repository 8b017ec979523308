"""The policy library (帮扶政策库, SPEC §11) as strict data, compiled with the rule grammar.

A library is a file or a folder of `*.yaml` files (`policies/`). Each file is one policy document
in force from a date: `id`, `title`, `effective_from` (`effective_to` optional, inclusive),
`source`, optional `parameters` (the `Parameter` of rulesets: value, unit, source) and
`measures`. A measure has `id`, `title`, `department`, the `tiers` and 名特优新 `categories` it
serves (a business qualifies through either), an optional `when` condition in the rule grammar
over the run's fields, its own optional `effective_from` / `effective_to` (within its file's),
`source` (document and clause), and what a business needs to know: `delivery` (免申即享 /
快申快享 / 申报), `benefit`, `how_to_apply`, `contact`.

A business gets a measure on the run date D when the measure and its file are in force on D, its
tier is one of `tiers` or it holds one of `categories` on D, and `when` holds (a missing value
makes a comparison false, as in rulesets). Unknown and duplicate keys are errors; measure ids are
unique across the library. Expressions are parsed by `rules.grammar` and type-checked by
`rules.types` once, before any data is read, against the columns a run offers (`check_library`);
the typed trees are emitted by `rules.to_polars` and traced by `rules.trace`. Never evaluated as
Python. I/O: reading the YAML files only.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gthfx.errors import RulesError
from gthfx.rules.grammar import ExprSyntaxError, Node, names_in, parse_expression
from gthfx.rules.model import ID_PATTERN, Parameter
from gthfx.rules.types import BUILTINS, CompileError, Kind, Scope, Typed, check_expression
from gthfx.settings.yamlio import load_yaml, pydantic_location

Delivery = Literal["免申即享", "快申快享", "申报"]
DELIVERIES: tuple[str, ...] = ("免申即享", "快申快享", "申报")
TierOrExcluded = Literal["survival", "growth", "development", "excluded"]
CategoryId = Literal["known", "distinctive", "quality", "emerging"]
# a column every run offers besides its outcome columns: the GB/T 4754 section (门类), the first
# letter of `industry_code` (F5261 → F)
INDUSTRY_SECTION = "industry_section"


def _iso_date(value: object) -> object:
    if isinstance(value, str) and not (len(value) == 10 and value[4] == "-" and value[7] == "-"):
        raise ValueError(f"dates are written YYYY-MM-DD, found {value!r}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Measure(_Strict):
    """One support measure (帮扶措施) and whom it reaches."""

    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    department: str = Field(min_length=1)
    tiers: tuple[TierOrExcluded, ...] = ()
    categories: tuple[CategoryId, ...] = ()
    when: str | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    source: str = Field(min_length=1)
    delivery: Delivery
    benefit: str = Field(min_length=1)
    how_to_apply: str = Field(min_length=1)
    contact: str = Field(min_length=1)

    @field_validator("effective_from", "effective_to", mode="before")
    @classmethod
    def _dates(cls, value: object) -> object:
        return _iso_date(value)

    @model_validator(mode="after")
    def _check(self) -> Measure:
        if not self.tiers and not self.categories:
            raise ValueError("a measure reaches nobody without `tiers` or `categories`")
        for name, values in (("tiers", self.tiers), ("categories", self.categories)):
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"{name} lists {', '.join(twice)} twice")
        if (
            self.effective_from is not None
            and self.effective_to is not None
            and self.effective_to < self.effective_from
        ):
            raise ValueError("effective_to is before effective_from")
        return self


class PolicyFile(_Strict):
    """One policy document of the library."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str
    effective_from: date
    effective_to: date | None = None
    source: str = Field(min_length=1)
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    measures: list[Measure] = Field(min_length=1)

    @field_validator("effective_from", "effective_to", mode="before")
    @classmethod
    def _dates(cls, value: object) -> object:
        return _iso_date(value)

    @model_validator(mode="after")
    def _check(self) -> PolicyFile:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        ids = [m.id for m in self.measures]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"measure ids used twice: {', '.join(twice)}")
        return self

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


@dataclass(frozen=True)
class PolicyDocument:
    """A policy file as loaded: where it came from and the SHA-256 of its bytes."""

    path: Path
    sha256: str
    policy: PolicyFile


@dataclass(frozen=True)
class Library:
    """Every policy file of a library, in file-name order."""

    location: Path
    documents: tuple[PolicyDocument, ...]


# ---- loading -----------------------------------------------------------------------------------


def item_lines(path: Path) -> dict[tuple[str, int | str | None], int]:
    """Where things are in a policy file (1-based lines): each top-level key `(key, None)`, each
    measure `("measures", i)`, each key of a measure `("measures.<key>", i)` and each parameter
    `("parameters", name)`. Empty for a file YAML cannot compose."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8-sig"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    out: dict[tuple[str, int | str | None], int] = {}
    if not isinstance(node, yaml.MappingNode):
        return out
    for key, value in node.value:
        name = str(key.value)
        out[(name, None)] = key.start_mark.line + 1
        if name == "measures" and isinstance(value, yaml.SequenceNode):
            for index, item in enumerate(value.value):
                out[("measures", index)] = item.start_mark.line + 1
                if isinstance(item, yaml.MappingNode):
                    for field, _ in item.value:
                        out[(f"measures.{field.value}", index)] = field.start_mark.line + 1
        elif name == "parameters" and isinstance(value, yaml.MappingNode):
            for param, _ in value.value:
                out[("parameters", str(param.value))] = param.start_mark.line + 1
    return out


def _where(path: Path, loc: tuple[int | str, ...]) -> str:
    """`file:line: location` for a pydantic error location, with the line where it is known."""
    lines = item_lines(path)
    line = None
    if len(loc) >= 3 and loc[0] == "measures" and isinstance(loc[1], int):
        line = lines.get((f"measures.{loc[2]}", loc[1])) or lines.get(("measures", loc[1]))
    elif len(loc) >= 2 and loc[0] == "measures" and isinstance(loc[1], int):
        line = lines.get(("measures", loc[1]))
    elif len(loc) >= 2 and loc[0] == "parameters":
        line = lines.get(("parameters", str(loc[1])))
    elif loc:
        line = lines.get((str(loc[0]), None))
    place = f"{path}:{line}" if line else str(path)
    return f"{place}: {pydantic_location(loc)}"


@dataclass(frozen=True)
class LoadProblem:
    """Why a policy file does not load: the line (where known), the measure, the message."""

    line: int | None
    rule: str | None
    message: str


def _validation_problems(
    path: Path, raw: dict[str, Any], exc: ValidationError
) -> list[LoadProblem]:
    lines = item_lines(path)
    listed = raw.get("measures")
    measures: list[Any] = listed if isinstance(listed, list) else []
    out: list[LoadProblem] = []
    for err in exc.errors():
        loc = err["loc"]
        line_text = _where(path, loc).removeprefix(f"{path}:").split(":", 1)[0]
        line = int(line_text) if line_text.isdigit() else None
        msg = err["msg"].removeprefix("Value error, ")
        if line is None and loc == () and "measure ids used twice" in msg:
            line = lines.get(("measures", None))
        rule = None
        if len(loc) >= 2 and loc[0] == "measures" and isinstance(loc[1], int):
            item = measures[loc[1]] if loc[1] < len(measures) else None
            rule = str(item["id"]) if isinstance(item, dict) and "id" in item else None
        out.append(LoadProblem(line, rule, f"{pydantic_location(loc)}: {msg}"))
    return out


def read_policy_file(path: Path) -> tuple[PolicyDocument | None, list[LoadProblem]]:
    """One policy file, strictly: the document, or every problem that keeps it from loading."""
    try:
        raw = load_yaml(path, RulesError)
    except RulesError as exc:
        match = re.search(r"^(.*?):(\d+):\d+: ", exc.message)
        if match:
            return None, [LoadProblem(int(match[2]), None, exc.message[match.end() :])]
        return None, [LoadProblem(None, None, exc.message.removeprefix(f"{path}: "))]
    if not isinstance(raw, dict):
        return None, [LoadProblem(1, None, "a policy file is a mapping (id, title, measures, …)")]
    try:
        policy = PolicyFile.model_validate(raw)
    except ValidationError as exc:
        return None, _validation_problems(path, raw, exc)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return PolicyDocument(path=path, sha256=sha, policy=policy), []


def load_policy_file(path: Path) -> PolicyDocument:
    """One policy file, strictly: its first problem is a `RulesError` naming the file, the line
    and the key."""
    doc, problems = read_policy_file(path)
    if doc is not None:
        return doc
    first = problems[0]
    place = f"{path}:{first.line}" if first.line else str(path)
    more = f" ({len(problems)} problems in all)" if len(problems) > 1 else ""
    raise RulesError(
        f"{place}: {first.message}{more}",
        hint="gthfx policies check lists every problem with its line",
    )


def policy_files(location: Path) -> list[Path]:
    """The files of a library: the file itself, or the folder's `*.yaml` (not `_*.yaml`)."""
    if location.is_file():
        return [location]
    if location.is_dir():
        return sorted(p for p in location.glob("*.yaml") if not p.name.startswith("_"))
    raise RulesError(
        f"{location}: no such policy file or folder",
        hint="name the library with --policies, or `policies:` in gthfx.yaml",
    )


def duplicate_measures(documents: list[PolicyDocument]) -> list[tuple[str, Path, Path]]:
    """(measure id, first file, second file) for every measure id used in two files."""
    seen: dict[str, Path] = {}
    out = []
    for doc in documents:
        for measure in doc.policy.measures:
            if measure.id in seen and seen[measure.id] != doc.path:
                out.append((measure.id, seen[measure.id], doc.path))
            seen.setdefault(measure.id, doc.path)
    return out


def load_library(location: Path) -> Library:
    """Every policy file of `location`; a measure id used in two files is a `RulesError`."""
    paths = policy_files(location)
    if not paths:
        raise RulesError(f"{location}: no policy files (*.yaml) found")
    documents = [load_policy_file(p) for p in paths]
    twice = duplicate_measures(documents)
    if twice:
        measure, first, second = twice[0]
        raise RulesError(
            f"{second}: measure id `{measure}` is already used in {first}",
            hint="measure ids are unique across the library: measures.parquet is keyed by them",
        )
    return Library(location=location, documents=tuple(documents))


# ---- compiling ---------------------------------------------------------------------------------


def scope_columns(schema: Mapping[str, pl.DataType]) -> dict[str, Kind]:
    """The names a measure's `when` may read, with their kinds, for a run whose outcome files
    have `schema`: every column that holds one value (lists, such as `reasons`, are left out),
    and `industry_section` (the first letter of `industry_code`)."""
    out: dict[str, Kind] = {}
    for name, dtype in schema.items():
        if dtype == pl.String:
            out[name] = "text"
        elif dtype == pl.Date:
            out[name] = "date"
        elif dtype == pl.Boolean:
            out[name] = "bool"
        elif dtype.is_numeric():
            out[name] = "number"
    if "industry_code" in schema:
        out[INDUSTRY_SECTION] = "text"
    return out


@dataclass(frozen=True)
class CompiledMeasure:
    """A measure with its document and its typed `when` (None: no condition)."""

    measure: Measure
    document: PolicyDocument
    index: int  # its position in the document's `measures`
    tree: Typed | None

    @property
    def id(self) -> str:
        return self.measure.id

    @property
    def effective_from(self) -> date:
        own = self.measure.effective_from
        start = self.document.policy.effective_from
        return max(own, start) if own is not None else start

    @property
    def effective_to(self) -> date | None:
        ends = [d for d in (self.measure.effective_to, self.document.policy.effective_to) if d]
        return min(ends) if ends else None

    def in_force(self, on: date) -> bool:
        """Whether the measure and its file are both in force on `on`."""
        end = self.effective_to
        return self.effective_from <= on and (end is None or on <= end)

    def reaches(self, tier: str | None, categories: list[str]) -> tuple[bool, bool]:
        """(through its tier, through a category) for a business's tier and categories."""
        via_tier = tier is not None and tier in self.measure.tiers
        via_category = any(c in self.measure.categories for c in categories)
        return via_tier, via_category


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong with a measure's `when` (or a parameter) of a policy file."""

    path: Path
    section: str  # "measures" or "parameters"
    item: int | str  # the measure's index, or the parameter's name
    rule: str  # the measure id or the parameter's name
    message: str
    text: str = ""
    column: int | None = None

    @property
    def line(self) -> int | None:
        lines = item_lines(self.path)
        if self.section == "measures":
            return lines.get(("measures.when", self.item)) or lines.get(("measures", self.item))
        return lines.get((self.section, self.item))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        column = f" (column {self.column})" if self.column else ""
        text = f"\n    {self.text}" if self.text else ""
        return f"{where}: {self.section}[{self.item}] `{self.rule}`{column}: {self.message}{text}"


@dataclass(frozen=True)
class PolicyPlan:
    """A library compiled for the columns of a run and its date: every measure of every file
    with its typed condition, in library order (file by file, measure by measure)."""

    library: Library
    on: date
    columns: Mapping[str, Kind]
    measures: tuple[CompiledMeasure, ...]
    used_parameters: frozenset[str]

    def in_force(self) -> tuple[CompiledMeasure, ...]:
        """The measures in force on the plan's date, in library order."""
        return tuple(m for m in self.measures if m.in_force(self.on))

    def reads(self) -> list[str]:
        """The columns the conditions read, each once, in order (built-ins left out)."""
        out: list[str] = []
        for m in self.measures:
            if m.tree is not None:
                out += [n.name for n in names_in(m.tree.source) if n.name in self.columns]
        return list(dict.fromkeys(out))


def check_library(
    library: Library,
    columns: Mapping[str, Kind],
    on: date,
    *,
    parsed: dict[tuple[Path, int], Node] | None = None,
) -> tuple[PolicyPlan, list[PolicyProblem]]:
    """Parse and type-check every measure's `when` against `columns` (the run's) and the file's
    parameters at date `on`; every problem is collected. The plan holds the measures whose
    condition checked (a measure with a problem has `tree` None and is left out)."""
    measures: list[CompiledMeasure] = []
    problems: list[PolicyProblem] = []
    used: set[str] = set()
    for doc in library.documents:
        policy = doc.policy
        for name in policy.parameters:
            if name in columns or name in BUILTINS:
                problems.append(
                    PolicyProblem(
                        doc.path,
                        "parameters",
                        name,
                        name,
                        f"parameter `{name}` is named like a field",
                    )
                )
        scope = Scope(
            columns=dict(columns),
            parameters={n: p.value for n, p in policy.parameters.items() if n not in columns},
            run_date=on,
        )
        for index, measure in enumerate(policy.measures):
            if measure.when is None:
                measures.append(CompiledMeasure(measure, doc, index, None))
                continue
            problem: tuple[str, int | None] | None = None
            try:
                tree = parsed.get((doc.path, index)) if parsed is not None else None
                if tree is None:
                    tree = parse_expression(measure.when)
                typed = check_expression(tree, scope)
                if typed.kind != "bool":
                    problem = (f"`when` must be a condition, found a {typed.kind}", None)
            except ExprSyntaxError as exc:
                problem = (f"syntax error: {exc.message}", exc.column)
            except CompileError as exc:
                problem = (exc.message, exc.column)
            if problem is not None:
                problems.append(
                    PolicyProblem(
                        doc.path,
                        "measures",
                        index,
                        measure.id,
                        problem[0],
                        measure.when,
                        problem[1],
                    )
                )
                continue
            measures.append(CompiledMeasure(measure, doc, index, typed))
        used |= scope.used_parameters
    plan = PolicyPlan(
        library=library,
        on=on,
        columns=dict(columns),
        measures=tuple(measures),
        used_parameters=frozenset(used),
    )
    return plan, problems


def compile_library(library: Library, columns: Mapping[str, Kind], on: date) -> PolicyPlan:
    """The library compiled for a run's columns and date; the first problem is a `RulesError`
    naming the file, the line and the measure (`gthfx policies check` lists them all)."""
    plan, problems = check_library(library, columns, on)
    if problems:
        more = f" ({len(problems)} problems in all)" if len(problems) > 1 else ""
        raise RulesError(
            f"{problems[0]}{more}", hint="gthfx policies check lists every problem with its line"
        )
    return plan


def find_measure(plan: PolicyPlan, measure_id: str) -> CompiledMeasure:
    """A measure of the plan by id; an unknown id is a `RulesError` with the closest one."""
    for measure in plan.measures:
        if measure.id == measure_id:
            return measure
    known = [m.id for m in plan.measures]
    close = difflib.get_close_matches(measure_id, known, n=1)
    hint = f"did you mean `{close[0]}`?" if close else f"known: {', '.join(known)}"
    raise RulesError(f"no measure `{measure_id}` in {plan.library.location}", hint=hint)


def described(measure: CompiledMeasure) -> dict[str, Any]:
    """A measure as a flat record (the measures table of a support folder)."""
    m = measure.measure
    return {
        "measure_id": m.id,
        "title": m.title,
        "department": m.department,
        "tiers": list(m.tiers),
        "categories": list(m.categories),
        "when": m.when,
        "delivery": m.delivery,
        "benefit": m.benefit,
        "how_to_apply": m.how_to_apply,
        "contact": m.contact,
        "source": m.source,
        "effective_from": measure.effective_from,
        "effective_to": measure.effective_to,
        "policy_id": measure.document.policy.id,
        "policy_title": measure.document.policy.title,
        "policy_file": str(measure.document.path),
    }
