"""One tracer for `gthfx explain` and `gthfx rules test`: what the rules saw for a few businesses.

`trace(plan, frame)` takes a joined frame of one or a few businesses (as `join.join_extracts`
makes it, which the engines type) and evaluates on it, with the Polars back end and the plan's
typed trees: every derived field, every basic condition, every tier rule and, within each rule,
every clause of its `and` / `or` chains, down to the comparisons. Each clause is a column of
its own, so the frame must stay small — this is for looking at businesses, not for typing them.

A trace says which basic conditions fail and which tier rule matches first; for a business
without data problems, that is the engine's outcome (a test holds it to that on every rule case).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from gthfx.rules.grammar import expression_text
from gthfx.rules.plan import RulePlan
from gthfx.rules.to_polars import condition, derived_columns
from gthfx.rules.types import Logic, Typed


@dataclass(frozen=True)
class ClauseTrace:
    """One part of a condition and its result; split further into `parts` when it is itself an
    `and` / `or` chain (`op`)."""

    tree: Typed
    text: str  # the clause written back as rule text
    result: bool
    op: str | None = None
    parts: tuple[ClauseTrace, ...] = ()


@dataclass(frozen=True)
class DerivedTrace:
    id: str
    label: str
    value: Any


@dataclass(frozen=True)
class ConditionTrace:
    id: str
    label: str
    holds: bool | None  # None: not evaluated (the business's annual rows conflict)
    clause: ClauseTrace


@dataclass(frozen=True)
class TierTrace:
    id: str
    tier: str
    label: str
    holds: bool | None  # None: the default rule
    clause: ClauseTrace | None  # None: the default rule


@dataclass(frozen=True)
class Trace:
    """What the rules saw for one business."""

    uscc: str
    values: Mapping[str, Any]  # the business's joined row with its derived fields
    has_annual: bool
    derived: tuple[DerivedTrace, ...]
    conditions: tuple[ConditionTrace, ...]
    tiers: tuple[TierTrace, ...]

    @property
    def failed(self) -> list[str]:
        """The basic conditions that do not hold, in ruleset order (empty when not evaluated)."""
        return [c.id for c in self.conditions if c.holds is False]

    @property
    def first_match(self) -> TierTrace:
        """The first tier rule that holds (the default when none does)."""
        return next(t for t in self.tiers if t.holds is not False)


def split_clauses(tree: Typed) -> tuple[str | None, list[Typed]]:
    """A condition's top-level `and` / `or` chain → (op, parts); (None, [tree]) otherwise."""
    if not isinstance(tree, Logic):
        return None, [tree]
    op = tree.op

    def flatten(node: Typed) -> list[Typed]:
        if isinstance(node, Logic) and node.op == op:
            return flatten(node.left) + flatten(node.right)
        return [node]

    return op, flatten(tree)


class _Columns:
    """The clause columns to evaluate, numbered as they are added."""

    def __init__(self) -> None:
        self.exprs: list[pl.Expr] = []

    def add(self, tree: Typed) -> str:
        name = f"_clause_{len(self.exprs)}"
        self.exprs.append(condition(tree).alias(name))
        return name


@dataclass(frozen=True)
class _Clause:
    """A clause before evaluation: its tree, its column, its parts."""

    tree: Typed
    column: str
    op: str | None
    parts: tuple[_Clause, ...]

    @staticmethod
    def of(tree: Typed, columns: _Columns) -> _Clause:
        op, parts = split_clauses(tree)
        return _Clause(
            tree=tree,
            column=columns.add(tree),
            op=op,
            parts=tuple(_Clause.of(p, columns) for p in parts) if op else (),
        )

    def read(self, row: Mapping[str, Any]) -> ClauseTrace:
        return ClauseTrace(
            tree=self.tree,
            text=expression_text(self.tree.source),
            result=bool(row[self.column]),
            op=self.op,
            parts=tuple(p.read(row) for p in self.parts),
        )


def trace(plan: RulePlan, frame: pl.DataFrame) -> list[Trace]:
    """The trace of every business of a small joined frame, in the frame's order."""
    columns = _Columns()
    conditions = [_Clause.of(c.tree, columns) for c in plan.conditions]
    tiers = [None if t.tree is None else _Clause.of(t.tree, columns) for t in plan.tiers]
    rows = frame
    for expr in derived_columns(plan):  # in order: a derived field may read an earlier one
        rows = rows.with_columns(expr)
    rows = rows.with_columns(columns.exprs)
    out = []
    for row in rows.iter_rows(named=True):
        has_annual = bool(row["_has_annual"])
        values = {k: v for k, v in row.items() if not k.startswith("_")}
        out.append(
            Trace(
                uscc=row["uscc"],
                values=values,
                has_annual=has_annual,
                derived=tuple(DerivedTrace(d.id, d.label, row[d.id]) for d in plan.derived),
                conditions=tuple(
                    ConditionTrace(
                        c.id,
                        c.label,
                        bool(row[clause.column]) if has_annual else None,
                        clause.read(row),
                    )
                    for c, clause in zip(plan.conditions, conditions, strict=True)
                ),
                tiers=tuple(
                    TierTrace(
                        t.id,
                        t.tier,
                        t.label,
                        None if clause is None else bool(row[clause.column]),
                        None if clause is None else clause.read(row),
                    )
                    for t, clause in zip(plan.tiers, tiers, strict=True)
                ),
            )
        )
    return out


def trace_conditions(trees: Sequence[Typed], frame: pl.DataFrame) -> list[list[ClauseTrace]]:
    """Conditions that are not a ruleset's — the `when` of a policy measure — traced the same
    way, clause by clause, on each row of a small frame holding the columns they read: for every
    row, one `ClauseTrace` per tree, in order."""
    columns = _Columns()
    clauses = [_Clause.of(tree, columns) for tree in trees]
    rows = frame.with_columns(columns.exprs) if columns.exprs else frame
    return [[clause.read(row) for clause in clauses] for row in rows.iter_rows(named=True)]
