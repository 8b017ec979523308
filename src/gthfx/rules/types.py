"""Rule expressions type-checked once: a parse tree (`grammar`) → a typed tree, which every back end
(Polars, SQL, the tracer) then walks without checking anything again.

Every name is resolved here: a field or derived field becomes a `Column`, a parameter or a
built-in a `Const` carrying its value (and its name), `date("…")` a `Const` date; a list after `in`
becomes the values of a `Member`. Kinds are number, text, date and bool (a list exists only after
`in`). Meaning, the same for every back end:

- a comparison, `in` or `not in` with a missing operand is false (never missing, never an error);
- `and`, `or`, `not` work on those two-valued results; a bool field read as a condition is true
  only when it is true (missing counts as not true);
- arithmetic on a missing value gives a missing value; `x / 0` is missing;
- `x is missing` / `x is not missing` test for missing values;
- `min`/`max` of values where any is missing is missing.

Each typed node keeps the parse-tree node it came from (`source`), for its text and the names it
reads (explain, the tracer).
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
FUNCTIONS = ("complete_years", "year", "date", "coalesce", "min", "max")


class CompileError(ValueError):
    """A type or name error in an expression, with the column (1-based) where known."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass
class Scope:
    """What names mean while type-checking: columns with their kinds, and parameter values.
    `used_parameters` collects the parameters the checked expressions read."""

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


# ---- the typed tree ----------------------------------------------------------------------------


# Every node keeps the parse-tree node it came from (`source`): not part of its value (equality,
# repr). Nodes whose kind is fixed have it as a field that is not an argument.


@dataclass(frozen=True, kw_only=True)
class Const:
    """A value known when the plan is built: a literal, `date("…")`, a parameter's value or a
    built-in's (`name` is then the parameter or built-in)."""

    value: int | float | str | bool | date
    kind: Kind
    name: str | None = None
    source: Node = field(compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class Column:
    """A field of the sources mapping or a derived field, read from the frame."""

    name: str
    kind: Kind
    source: Node = field(compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class Negate:
    operand: Typed
    source: Node = field(compare=False, repr=False)
    kind: Kind = field(default="number", init=False)


@dataclass(frozen=True, kw_only=True)
class Not:
    operand: Typed  # a condition
    source: Node = field(compare=False, repr=False)
    kind: Kind = field(default="bool", init=False)


@dataclass(frozen=True, kw_only=True)
class Logic:
    op: str  # "and" / "or", on conditions
    left: Typed
    right: Typed
    source: Node = field(compare=False, repr=False)
    kind: Kind = field(default="bool", init=False)


@dataclass(frozen=True, kw_only=True)
class Arith:
    op: str  # + - * /, on numbers
    left: Typed
    right: Typed
    source: Node = field(compare=False, repr=False)
    kind: Kind = field(default="number", init=False)


@dataclass(frozen=True, kw_only=True)
class Compare:
    op: str  # == != < <= > >=, on two values of one kind (bool and text: == and != only)
    left: Typed
    right: Typed
    source: Node = field(compare=False, repr=False)
    kind: Kind = field(default="bool", init=False)


@dataclass(frozen=True, kw_only=True)
class Member:
    """`operand in [values]` (or `not in`): values of the operand's kind, written out or a
    list parameter's."""

    operand: Typed
    values: tuple[object, ...]
    negated: bool
    source: Node = field(compare=False, repr=False)
    kind: Kind = field(default="bool", init=False)


@dataclass(frozen=True, kw_only=True)
class Missing:
    operand: Typed
    negated: bool  # `is not missing`
    source: Node = field(compare=False, repr=False)
    kind: Kind = field(default="bool", init=False)


@dataclass(frozen=True, kw_only=True)
class Func:
    """complete_years(date, date), year(date), coalesce(…), min(…), max(…)."""

    function: str
    args: tuple[Typed, ...]
    kind: Kind
    source: Node = field(compare=False, repr=False)


Typed = Const | Column | Negate | Not | Logic | Arith | Compare | Member | Missing | Func


def operands(tree: Typed) -> tuple[Typed, ...]:
    """A typed node's direct sub-expressions, in the order they are written."""
    if isinstance(tree, Negate | Not | Member | Missing):
        return (tree.operand,)
    if isinstance(tree, Logic | Arith | Compare):
        return (tree.left, tree.right)
    if isinstance(tree, Func):
        return tree.args
    return ()


def columns_read(tree: Typed) -> list[str]:
    """The columns (fields and derived fields) an expression reads, each once, in order."""
    out: list[str] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Column) and node.name not in out:
            out.append(node.name)
        stack.extend(reversed(operands(node)))
    return out


def number_dtype(tree: Typed, dtypes: dict[str, pl.DataType]) -> pl.DataType:
    """The column type of a number: Int64 when it is computed from integers only (fields of type
    int, whole-number constants, `year`, `complete_years`) without `/`, Float64 otherwise —
    Polars' own promotion for these operations. `dtypes` gives the columns' types."""
    if isinstance(tree, Column):
        return dtypes[tree.name]
    if isinstance(tree, Const):
        return pl.Float64() if isinstance(tree.value, float) else pl.Int64()
    if isinstance(tree, Negate):
        return number_dtype(tree.operand, dtypes)
    if isinstance(tree, Arith) and tree.op == "/":
        return pl.Float64()
    if isinstance(tree, Func) and tree.function in ("year", "complete_years"):
        return pl.Int64()
    parts = [number_dtype(t, dtypes) for t in operands(tree)]
    return pl.Float64() if any(p == pl.Float64 for p in parts) else pl.Int64()


def dtype_of(tree: Typed, dtypes: dict[str, pl.DataType]) -> pl.DataType:
    """The Polars column type of an expression's values (a derived field's column)."""
    if tree.kind == "number":
        return number_dtype(tree, dtypes)
    if isinstance(tree, Column):
        return dtypes[tree.name]
    return {"text": pl.String(), "date": pl.Date(), "bool": pl.Boolean()}[tree.kind]


# ---- the type check ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _List:
    """A list (written out, or a list parameter): allowed only after `in`."""

    values: tuple[object, ...]


def _unknown(name: Name, scope: Scope) -> CompileError:
    if name.name in scope.personal:
        return CompileError(
            f"`{name.name}` is personal data and cannot be used in rules", name.column
        )
    close = difflib.get_close_matches(name.name, scope.names(), n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    return CompileError(f"unknown name `{name.name}`{hint}", name.column)


def _condition(typed: Typed, where: str) -> Typed:
    if typed.kind != "bool":
        raise CompileError(f"{where} needs a condition (true/false), found a {typed.kind}")
    return typed


def _same_kind(left: Typed, right: Typed, op: str) -> None:
    if left.kind != right.kind:
        raise CompileError(f"cannot use `{op}` between a {left.kind} and a {right.kind}")


def _column(node: Node) -> int | None:
    return node.column if isinstance(node, Name | Call) else None


def check_expression(node: Node, scope: Scope) -> Typed:
    """Type-check one expression (raising `CompileError`); a list (literal or parameter) is only
    allowed after `in`."""
    typed = _check_any(node, scope)
    if isinstance(typed, _List):
        raise CompileError('a list can only follow `in` (x in ["a", "b"])', _column(node))
    return typed


def _check_any(node: Node, scope: Scope) -> Typed | _List:
    if isinstance(node, Literal):
        value = node.value
        return Const(value=value, kind=value_kind(value), source=node)
    if isinstance(node, Name):
        return _check_name(node, scope)
    if isinstance(node, ListOf):
        literals: list[object] = []
        for item in node.items:
            if not isinstance(item, Literal) or isinstance(item.value, bool):
                raise CompileError("list items must be written out (numbers or strings)")
            literals.append(item.value)
        return _List(tuple(literals))
    if isinstance(node, Unary):
        inner = check_expression(node.operand, scope)
        if node.op == "not":
            return Not(operand=_condition(inner, "`not`"), source=node)
        if inner.kind != "number":
            raise CompileError(f"cannot negate a {inner.kind}")
        return Negate(operand=inner, source=node)
    if isinstance(node, Binary):
        return _check_binary(node, scope)
    if isinstance(node, In):
        operand = check_expression(node.operand, scope)
        choices = _check_any(node.items, scope)
        if not isinstance(choices, _List):
            raise CompileError('`in` needs a list: ["a", "b"] or a list parameter')
        wrong = [v for v in choices.values if value_kind(v) != operand.kind]
        if wrong:
            raise CompileError(f"`in` compares a {operand.kind} with {wrong[0]!r}")
        return Member(operand=operand, values=choices.values, negated=node.negated, source=node)
    if isinstance(node, IsMissing):
        operand = check_expression(node.operand, scope)
        return Missing(operand=operand, negated=node.negated, source=node)
    if isinstance(node, Call):
        return _check_call(node, scope)
    raise CompileError(f"unsupported expression {node!r}")  # pragma: no cover — exhaustive


def _check_name(node: Name, scope: Scope) -> Typed | _List:
    if node.name in scope.columns:
        return Column(name=node.name, kind=scope.columns[node.name], source=node)
    if node.name in scope.parameters:
        scope.used_parameters.add(node.name)
        param = scope.parameters[node.name]
        if isinstance(param, list):
            return _List(tuple(param))
        assert isinstance(param, int | float | str | bool)
        return Const(value=param, kind=value_kind(param), name=node.name, source=node)
    if node.name == "run_date":
        return Const(value=scope.run_date, kind="date", name=node.name, source=node)
    if node.name == "run_year":
        return Const(value=scope.run_date.year, kind="number", name=node.name, source=node)
    raise _unknown(node, scope)


def _check_binary(node: Binary, scope: Scope) -> Typed:
    left = check_expression(node.left, scope)
    right = check_expression(node.right, scope)
    if node.op in ("and", "or"):
        lhs = _condition(left, f"`{node.op}`")
        rhs = _condition(right, f"`{node.op}`")
        return Logic(op=node.op, left=lhs, right=rhs, source=node)
    if node.op in ("+", "-", "*", "/"):
        if left.kind != "number" or right.kind != "number":
            raise CompileError(f"`{node.op}` needs numbers, found a {left.kind} and a {right.kind}")
        return Arith(op=node.op, left=left, right=right, source=node)
    _same_kind(left, right, node.op)
    if left.kind in ("bool", "text") and node.op not in ("==", "!="):
        raise CompileError(f"`{node.op}` does not order {left.kind} values; use == or !=")
    return Compare(op=node.op, left=left, right=right, source=node)


def _check_call(node: Call, scope: Scope) -> Typed:
    fn = node.function
    args = [check_expression(a, scope) for a in node.args]

    def need(*kinds: Kind) -> None:
        if len(args) != len(kinds) or any(a.kind != k for a, k in zip(args, kinds, strict=True)):
            found = ", ".join(a.kind for a in args) or "nothing"
            raise CompileError(f"{fn}() takes ({', '.join(kinds)}), found ({found})", node.column)

    if fn == "complete_years":
        need("date", "date")
        return Func(function=fn, args=tuple(args), kind="number", source=node)
    if fn == "year":
        need("date")
        return Func(function=fn, args=tuple(args), kind="number", source=node)
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
        return Const(value=value, kind="date", source=node)
    if fn in ("coalesce", "min", "max"):
        if len(args) < 2:
            raise CompileError(f"{fn}() takes two or more values", node.column)
        kinds = {a.kind for a in args}
        if len(kinds) != 1 or (fn != "coalesce" and kinds != {"number"}):
            raise CompileError(
                f"{fn}() values must all be of one kind (numbers for {fn})", node.column
            )
        return Func(function=fn, args=tuple(args), kind=args[0].kind, source=node)
    raise CompileError(
        f"unknown function `{fn}` (known: {', '.join(FUNCTIONS)})",
        node.column,
    )
