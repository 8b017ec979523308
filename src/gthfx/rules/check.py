"""The first half of the plan builder: every expression of a ruleset parsed and type-checked, in
order, and every problem collected rather than the first only (`check_ruleset`). `plan.build_plan`
turns a clean result into a `RulePlan` and the first problem into a `RulesError` naming the file
and the rule (`raise_first`); `gthfx rules check` turns every problem into a finding with its
line. The one place rule text is parsed.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from gthfx.errors import RulesError
from gthfx.rules import model
from gthfx.rules.grammar import ExprSyntaxError, Node, names_in, parse_expression
from gthfx.rules.types import (
    BUILTINS,
    FIELD_KINDS,
    CompileError,
    Kind,
    Scope,
    Typed,
    check_expression,
    value_kind,
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a ruleset's expressions or declarations."""

    section: str  # parameters, derived, basic_conditions, tiers or review
    item: int | str  # the list index, or the parameter's name
    rule: str  # the rule id, the parameter's name, or review[i]
    kind: Literal["clash", "syntax", "shadow", "type", "review"]
    message: str
    text: str = ""  # the expression
    column: int | None = None  # 1-based, in the expression

    @property
    def where(self) -> str:
        return f"{self.section}[{self.item}]"


@dataclass
class Checked:
    """Every expression of a ruleset parsed and type-checked, and what went wrong."""

    source: model.RulesetFile
    field_kinds: Mapping[str, str]
    run_date: date
    parsed: dict[tuple[str, int], Node]  # every expression that parsed
    typed: dict[tuple[str, int], Typed]  # every expression that type-checked
    used_parameters: set[str]
    problems: list[Problem]


def expressions(rs: model.Ruleset) -> list[tuple[str, int, str, str]]:
    """(section, index, rule id, text) of every expression, in the order they are checked."""
    out = [("derived", i, d.id, d.expr) for i, d in enumerate(rs.derived)]
    out += [("basic_conditions", i, c.id, c.when) for i, c in enumerate(rs.basic_conditions)]
    out += [("tiers", i, t.id, t.when) for i, t in enumerate(rs.tiers) if t.when is not None]
    return out


def check_ruleset(
    ruleset_file: model.RulesetFile,
    field_kinds: Mapping[str, str],
    run_date: date,
    *,
    parsed: Mapping[tuple[str, int], Node] | None = None,
) -> Checked:
    """Parse (unless `parsed` has the tree) and type-check every expression, in order: a derived
    field's kind is known to the expressions after it. Every problem is collected; an expression
    reading a derived field that failed is skipped (its problem is that field's)."""
    rs = ruleset_file.ruleset
    columns: dict[str, Kind] = {name: FIELD_KINDS[kind] for name, kind in field_kinds.items()}
    problems: list[Problem] = []
    for name in rs.parameters:
        if name in columns or name in BUILTINS:
            message = f"parameter `{name}` is named like a field"
            problems.append(Problem("parameters", name, name, "clash", message))
    scope = Scope(
        columns=columns,
        parameters={n: p.value for n, p in rs.parameters.items() if n not in columns},
        run_date=run_date,
        personal=frozenset(getattr(field_kinds, "personal", ())),
    )
    trees: dict[tuple[str, int], Node] = {}
    typed: dict[tuple[str, int], Typed] = {}
    broken: set[str] = set()
    for section, index, rule, text in expressions(rs):
        key = (section, index)
        tree = parsed.get(key) if parsed is not None else None
        if tree is None:
            try:
                tree = parse_expression(text)
            except ExprSyntaxError as exc:
                problem = Problem(section, index, rule, "syntax", exc.message, text, exc.column)
                problems.append(problem)
                broken.add(rule)
                continue
        trees[key] = tree
        if section == "derived" and rule in columns:
            problems.append(Problem(section, index, rule, "shadow", f"`{rule}` is already a field"))
            broken.add(rule)
            continue
        if any(n.name in broken for n in names_in(tree)):
            broken.add(rule)
            continue
        try:
            checked = check_expression(tree, scope)
        except CompileError as exc:
            problems.append(Problem(section, index, rule, "type", exc.message, text, exc.column))
            broken.add(rule)
            continue
        if section == "derived":
            columns[rule] = checked.kind
        elif checked.kind != "bool":
            message = f"`when` must be a condition, found a {checked.kind}"
            problems.append(Problem(section, index, rule, "type", message, text))
            broken.add(rule)
            continue
        typed[key] = checked
    problems += _review_problems(rs, columns, broken)
    return Checked(
        source=ruleset_file,
        field_kinds=dict(field_kinds),
        run_date=run_date,
        parsed=trees,
        typed=typed,
        used_parameters=scope.used_parameters,
        problems=problems,
    )


def _hint(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _review_problems(
    rs: model.Ruleset, columns: Mapping[str, Kind], broken: set[str]
) -> list[Problem]:
    """A near-threshold declaration must name a number parameter and a number column."""
    out: list[Problem] = []
    derived = [d.id for d in rs.derived]
    for index, check in enumerate(rs.review):

        def problem(message: str, index: int = index) -> None:
            out.append(Problem("review", index, f"review[{index}]", "review", message))

        param = rs.parameters.get(check.parameter)
        if param is None:
            hint = _hint(check.parameter, [*rs.parameters])
            problem(f"unknown parameter `{check.parameter}`{hint}")
        elif value_kind(param.value) != "number":
            found = value_kind(param.value)
            problem(f"parameter `{check.parameter}` is a {found}, not a number threshold")
        if check.indicator in broken:
            continue
        kind = columns.get(check.indicator)
        if kind is None and check.indicator not in derived:
            known = [*columns, *derived]
            problem(f"unknown indicator `{check.indicator}`{_hint(check.indicator, known)}")
        elif kind is not None and kind != "number":
            problem(f"indicator `{check.indicator}` is a {kind}, not a number")
    return out


def raise_first(checked: Checked) -> None:
    """The first problem of a ruleset as a `RulesError` naming the file and the rule."""
    if not checked.problems:
        return
    path = checked.source.path
    clash = sorted(str(p.item) for p in checked.problems if p.kind == "clash")
    if clash:
        raise RulesError(f"{path}: parameters named like fields: {', '.join(clash)}")
    first = checked.problems[0]
    where = first.where if first.kind == "review" else f"{first.where} `{first.rule}`"
    if first.kind == "syntax":
        caret = " " * ((first.column or 1) - 1) + "^"
        raise RulesError(
            f"{path}: {where}: syntax error at column {first.column}: {first.message}\n"
            f"    {first.text}\n    {caret}"
        )
    if first.kind == "shadow":
        raise RulesError(f"{path}: {where} is already a field")
    column = f" (column {first.column})" if first.column else ""
    text = f"\n    {first.text}" if first.text else ""
    raise RulesError(f"{path}: {where}{column}: {first.message}{text}")
