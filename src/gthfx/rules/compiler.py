"""Rule expressions → Polars expressions, with a type check on the way.

Meaning, the same for every engine:
- a comparison, `in` or `not in` with a missing operand is false (never missing, never an error);
- `and`, `or`, `not` work on those two-valued results; a bool field read as a condition is true
  only when it is true (missing counts as not true);
- arithmetic on a missing value gives a missing value;
- `x is missing` / `x is not missing` test for missing values.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal as TypingLiteral

import polars as pl

from gthfx.rules.grammar import Binary, Call, In, IsMissing, ListOf, Literal, Name, Node, Unary

Kind = TypingLiteral["number", "text", "date", "bool", "list"]
FIELD_KINDS: dict[str, Kind] = {
    "code": "text",
    "text": "text",
    "int": "number",
    "decimal": "number",
    "date": "date",
    "bool": "bool",
}
BUILTINS: dict[str, Kind] = {"run_date": "date", "run_year": "number"}


class CompileError(ValueError):
    """A type or name error in an expression, with the column (1-based) where known."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass
class Scope:
    """What names mean while compiling: columns with their kinds, and parameter values."""

    columns: dict[str, Kind]
    parameters: dict[str, object]
    run_date: date
    used_parameters: set[str] = field(default_factory=set)
    personal: frozenset[str] = frozenset()  # personal fields: never readable by a rule

    def names(self) -> list[str]:
        return [*self.columns, *self.parameters, *BUILTINS]


def value_kind(value: object) -> Kind:
    """The kind of a parameter or literal value: bool, number, list or text."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "list"
    return "text"


@dataclass(frozen=True)
class Typed:
    expr: pl.Expr
    kind: Kind
    # for lists only: the element kind and the values (lists are literals or parameters)
    values: tuple[object, ...] = ()


def _unknown(name: Name, scope: Scope) -> CompileError:
    if name.name in scope.personal:
        return CompileError(
            f"`{name.name}` is personal data and cannot be used in rules", name.column
        )
    close = difflib.get_close_matches(name.name, scope.names(), n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    return CompileError(f"unknown name `{name.name}`{hint}", name.column)


def _predicate(typed: Typed, where: str) -> pl.Expr:
    """A two-valued condition: missing → false."""
    if typed.kind != "bool":
        raise CompileError(f"{where} needs a condition (true/false), found a {typed.kind}")
    return typed.expr.fill_null(False)


def _same_kind(left: Typed, right: Typed, op: str) -> None:
    if left.kind != right.kind:
        raise CompileError(f"cannot use `{op}` between a {left.kind} and a {right.kind}")


def compile_node(node: Node, scope: Scope) -> Typed:
    """Compile one expression; a list (literal or parameter) is only allowed after `in`."""
    typed = _compile_any(node, scope)
    if typed.kind == "list":
        raise CompileError('a list can only follow `in` (x in ["a", "b"])', _column(node))
    return typed


def _column(node: Node) -> int | None:
    return node.column if isinstance(node, Name | Call) else None


def _compile_any(node: Node, scope: Scope) -> Typed:
    if isinstance(node, Literal):
        value = node.value
        if isinstance(value, bool):
            return Typed(pl.lit(value), "bool")
        if isinstance(value, int | float):
            return Typed(pl.lit(value), "number")
        return Typed(pl.lit(value, pl.String), "text")
    if isinstance(node, Name):
        if node.name in scope.columns:
            return Typed(pl.col(node.name), scope.columns[node.name])
        if node.name in scope.parameters:
            scope.used_parameters.add(node.name)
            param = scope.parameters[node.name]
            if isinstance(param, list):
                return Typed(pl.lit(None), "list", tuple(param))
            return Typed(pl.lit(param), value_kind(param))
        if node.name == "run_date":
            return Typed(pl.lit(scope.run_date, pl.Date), "date")
        if node.name == "run_year":
            return Typed(pl.lit(scope.run_date.year), "number")
        raise _unknown(node, scope)
    if isinstance(node, ListOf):
        literals: list[object] = []
        for source in node.items:
            if not isinstance(source, Literal) or isinstance(source.value, bool):
                raise CompileError("list items must be written out (numbers or strings)")
            literals.append(source.value)
        return Typed(pl.lit(None), "list", tuple(literals))
    if isinstance(node, Unary):
        inner = compile_node(node.operand, scope)
        if node.op == "not":
            return Typed(~_predicate(inner, "`not`"), "bool")
        if inner.kind != "number":
            raise CompileError(f"cannot negate a {inner.kind}")
        return Typed(-inner.expr, "number")
    if isinstance(node, Binary):
        left = compile_node(node.left, scope)
        right = compile_node(node.right, scope)
        if node.op in ("and", "or"):
            lhs = _predicate(left, f"`{node.op}`")
            rhs = _predicate(right, f"`{node.op}`")
            return Typed(lhs & rhs if node.op == "and" else lhs | rhs, "bool")
        if node.op in ("+", "-", "*", "/"):
            if left.kind != "number" or right.kind != "number":
                raise CompileError(
                    f"`{node.op}` needs numbers, found a {left.kind} and a {right.kind}"
                )
            ops = {
                "+": left.expr + right.expr,
                "-": left.expr - right.expr,
                "*": left.expr * right.expr,
                # x / 0 is missing (as in SQL), not inf or NaN, so comparisons with it are false
                "/": pl.when(right.expr != 0).then(left.expr / right.expr),
            }
            return Typed(ops[node.op], "number")
        _same_kind(left, right, node.op)
        if left.kind in ("bool", "text") and node.op not in ("==", "!="):
            raise CompileError(f"`{node.op}` does not order {left.kind} values; use == or !=")
        cmp = {
            "==": left.expr == right.expr,
            "!=": left.expr != right.expr,
            "<": left.expr < right.expr,
            "<=": left.expr <= right.expr,
            ">": left.expr > right.expr,
            ">=": left.expr >= right.expr,
        }[node.op]
        return Typed(cmp.fill_null(False), "bool")
    if isinstance(node, In):
        operand = compile_node(node.operand, scope)
        choices = _compile_any(node.items, scope)
        if choices.kind != "list":
            raise CompileError('`in` needs a list: ["a", "b"] or a list parameter')
        wrong = [v for v in choices.values if value_kind(v) != operand.kind]
        if wrong:
            raise CompileError(f"`in` compares a {operand.kind} with {wrong[0]!r}")
        # Polars 2 compares only equal types: numbers as Float64, text as String
        dtype = pl.Float64 if operand.kind == "number" else pl.String
        allowed = pl.lit(pl.Series(list(choices.values), dtype=dtype)).implode()
        test = operand.expr.cast(dtype).is_in(allowed).fill_null(False)
        # missing operand: both `in` and `not in` are false
        if node.negated:
            test = operand.expr.is_not_null() & ~test
        return Typed(test, "bool")
    if isinstance(node, IsMissing):
        operand = compile_node(node.operand, scope)
        return Typed(operand.expr.is_not_null() if node.negated else operand.expr.is_null(), "bool")
    if isinstance(node, Call):
        return _compile_call(node, scope)
    raise CompileError(f"unsupported expression {node!r}")  # pragma: no cover — exhaustive


def _compile_call(node: Call, scope: Scope) -> Typed:
    fn = node.function
    args = [compile_node(a, scope) for a in node.args]

    def need(*kinds: Kind) -> None:
        if len(args) != len(kinds) or any(a.kind != k for a, k in zip(args, kinds, strict=True)):
            found = ", ".join(a.kind for a in args) or "nothing"
            raise CompileError(f"{fn}() takes ({', '.join(kinds)}), found ({found})", node.column)

    if fn == "complete_years":
        need("date", "date")
        start, end = args[0].expr, args[1].expr
        before_anniversary = (end.dt.month() < start.dt.month()) | (
            (end.dt.month() == start.dt.month()) & (end.dt.day() < start.dt.day())
        )
        years = end.dt.year().cast(pl.Int64) - start.dt.year().cast(pl.Int64)
        return Typed(years - before_anniversary.cast(pl.Int64), "number")
    if fn == "year":
        need("date")
        return Typed(args[0].expr.dt.year().cast(pl.Int64), "number")
    if fn == "date":
        if len(node.args) != 1 or not isinstance(node.args[0], Literal):
            raise CompileError('date() takes one string: date("2024-07-01")', node.column)
        text = str(node.args[0].value)
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError(text)
            value = date.fromisoformat(text)
        except ValueError:
            raise CompileError(
                f"date({node.args[0].value!r}) is not YYYY-MM-DD", node.column
            ) from None
        return Typed(pl.lit(value, pl.Date), "date")
    if fn in ("coalesce", "min", "max"):
        if len(args) < 2:
            raise CompileError(f"{fn}() takes two or more values", node.column)
        kinds = {a.kind for a in args}
        if len(kinds) != 1 or (fn != "coalesce" and kinds != {"number"}):
            raise CompileError(
                f"{fn}() values must all be of one kind (numbers for {fn})", node.column
            )
        exprs = [a.expr for a in args]
        if fn == "coalesce":
            return Typed(pl.coalesce(exprs), args[0].kind)
        # min/max of values where any is missing is missing, like arithmetic
        combined = pl.min_horizontal(exprs) if fn == "min" else pl.max_horizontal(exprs)
        any_missing = pl.any_horizontal([e.is_null() for e in exprs])
        return Typed(pl.when(~any_missing).then(combined), "number")
    raise CompileError(
        f"unknown function `{fn}` (known: complete_years, year, date, coalesce, min, max)",
        node.column,
    )
