"""The plan → Polars expressions, applied to the whole population at once (the Polars engine).

Walks the typed trees of `plan` (already checked: nothing is checked here) with the meaning
written in `types`. `apply_plan` types a joined frame: derived columns, the reason masks, tier,
tier label and rule id; `with_reasons` turns the masks into lists of reason names.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from gthfx.ingest.validate import bit_mask
from gthfx.rules.plan import DataProblem, RulePlan
from gthfx.rules.types import (
    Arith,
    Column,
    Compare,
    Const,
    Func,
    Logic,
    Member,
    Missing,
    Negate,
    Not,
    Typed,
)
from gthfx.vocab import EXCLUDED, TIER_LABELS

# ---- one expression ----------------------------------------------------------------------------


def expression(tree: Typed) -> pl.Expr:
    """A typed expression as a Polars expression over the columns of a joined frame."""
    if isinstance(tree, Const):
        value = tree.value
        if isinstance(value, str):
            return pl.lit(value, pl.String)
        if tree.kind == "date":
            return pl.lit(value, pl.Date)
        return pl.lit(value)
    if isinstance(tree, Column):
        return pl.col(tree.name)
    if isinstance(tree, Not):
        return ~condition(tree.operand)
    if isinstance(tree, Negate):
        return -expression(tree.operand)
    if isinstance(tree, Logic):
        lhs, rhs = condition(tree.left), condition(tree.right)
        return lhs & rhs if tree.op == "and" else lhs | rhs
    if isinstance(tree, Arith):
        left, right = expression(tree.left), expression(tree.right)
        if tree.op == "+":
            return left + right
        if tree.op == "-":
            return left - right
        if tree.op == "*":
            return left * right
        # x / 0 is missing (as in SQL), not inf or NaN, so comparisons with it are false
        return pl.when(right != 0).then(left / right)
    if isinstance(tree, Compare):
        left, right = expression(tree.left), expression(tree.right)
        cmp = {
            "==": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[tree.op]
        return cmp.fill_null(False)
    if isinstance(tree, Member):
        operand = expression(tree.operand)
        # Polars 2 compares only equal types: numbers as Float64, text as String
        dtype = pl.Float64 if tree.operand.kind == "number" else pl.String
        allowed = pl.lit(pl.Series(list(tree.values), dtype=dtype)).implode()
        test = operand.cast(dtype).is_in(allowed).fill_null(False)
        # missing operand: both `in` and `not in` are false
        return operand.is_not_null() & ~test if tree.negated else test
    if isinstance(tree, Missing):
        operand = expression(tree.operand)
        return operand.is_not_null() if tree.negated else operand.is_null()
    return _function(tree)


def condition(tree: Typed) -> pl.Expr:
    """A condition, two-valued: missing → false."""
    return expression(tree).fill_null(False)


def _function(tree: Func) -> pl.Expr:
    args = [expression(a) for a in tree.args]
    if tree.function == "complete_years":
        start, end = args
        before_anniversary = (end.dt.month() < start.dt.month()) | (
            (end.dt.month() == start.dt.month()) & (end.dt.day() < start.dt.day())
        )
        years = end.dt.year().cast(pl.Int64) - start.dt.year().cast(pl.Int64)
        return years - before_anniversary.cast(pl.Int64)
    if tree.function == "year":
        return args[0].dt.year().cast(pl.Int64)
    if tree.function == "coalesce":
        return pl.coalesce(args)
    # min/max of values where any is missing is missing, like arithmetic
    combined = pl.min_horizontal(args) if tree.function == "min" else pl.max_horizontal(args)
    any_missing = pl.any_horizontal([e.is_null() for e in args])
    return pl.when(~any_missing).then(combined)


# ---- the plan ----------------------------------------------------------------------------------


def derived_columns(plan: RulePlan) -> list[pl.Expr]:
    """The derived fields in order (a derived field may read an earlier one: add them one
    `with_columns` at a time), each in its plan type."""
    return [expression(d.tree).cast(d.dtype).alias(d.id) for d in plan.derived]


def problem_check(problem: DataProblem) -> pl.Expr:
    """True where a business of a joined frame has the data problem."""
    if problem.bit is None:
        return pl.col(f"_conflict_{problem.extract}")
    return (pl.col(f"_pm_{problem.extract}") & problem.bit) != 0


def apply_plan(frame: pl.DataFrame, plan: RulePlan) -> pl.DataFrame:
    """Type every business of a joined frame.

    `frame` needs the columns of the data problems (`_pm_<extract>`, `_conflict_<extract>` of
    the mapping the plan was built for, see `join.join_extracts`), the field columns and
    `_has_annual` (false for businesses whose annual rows conflict: their basic conditions are
    not evaluated). Adds the derived columns, `tier`, `tier_label`, `rule_id`, and the reason
    masks `_rmask_*` (reason k of `plan.reasons` is bit k % 64 of `_rmask_{k // 64}`;
    `with_reasons` turns them into lists). An excluded business's rule id is its first reason.
    """
    return label_branches(apply_branches(frame, plan), plan)


def apply_branches(frame: pl.DataFrame, plan: RulePlan) -> pl.DataFrame:
    """`apply_plan` with `_branch` (UInt32) in place of `tier`, `rule_id` and `tier_label`:
    four bytes a business instead of three texts, until `label_branches` reads them off it
    (the engine sorts the outcomes in between: 10 M, ~0.4 GB less held while the joined frame
    is)."""
    out = frame
    for expr in derived_columns(plan):  # in order: a derived field may read an earlier one
        out = out.with_columns(expr)
    checks = [problem_check(p) for p in plan.problems]
    checks += [~condition(c.tree) & pl.col("_has_annual") for c in plan.conditions]
    masks = []
    for block in range(0, len(checks), 64):
        part = checks[block : block + 64]
        # at ten million rows and some thirty reasons, a UInt64 column per reason held 2–3 GB
        masks.append(bit_mask(list(enumerate(part))).alias(f"_rmask_{block // 64}"))
    out = out.with_columns(masks)
    mask_cols = [pl.col(f"_rmask_{i}") for i in range(len(masks))]
    excluded = pl.any_horizontal(m != 0 for m in mask_cols)
    # the first reason: the lowest bit set in the first mask that has one
    first: Any = None
    for i, m in enumerate(mask_cols):
        index = m.bitwise_trailing_zeros().cast(pl.Int64) + 64 * i
        first = (pl.when if first is None else first.when)(m != 0).then(index)
    # One chain picks the branch of every business: a reason number (excluded: its first
    # reason) or len(reasons) + the number of the tier rule that applies. Tier and rule id are
    # then read off the branch number — one string column each, built once, rather than a
    # string column per branch, and every condition is evaluated once for both.
    rules = len(plan.reasons)
    branch: Any = pl.when(excluded).then(first.cast(pl.UInt32))
    for number, rule in enumerate(plan.tiers):
        value = pl.lit(rules + number, pl.UInt32)
        branch = (
            branch.otherwise(value)
            if rule.tree is None
            else branch.when(condition(rule.tree)).then(value)
        )
    return out.with_columns(branch.alias("_branch"))


def label_branches(frame: pl.DataFrame, plan: RulePlan) -> pl.DataFrame:
    """`_branch` (see `apply_branches`) → `tier`, `rule_id` and `tier_label`."""
    rules = len(plan.reasons)
    tiers = {k: EXCLUDED for k in range(rules)}
    rule_ids = dict(enumerate(plan.reasons))
    for number, rule in enumerate(plan.tiers):
        tiers[rules + number] = rule.tier
        rule_ids[rules + number] = rule.id
    labels = {k: TIER_LABELS[tier] for k, tier in tiers.items()}
    branch = pl.col("_branch")
    return frame.with_columns(
        branch.replace_strict(tiers, return_dtype=pl.String).alias("tier"),
        branch.replace_strict(rule_ids, return_dtype=pl.String).alias("rule_id"),
        branch.replace_strict(labels, return_dtype=pl.String).alias("tier_label"),
    ).drop("_branch")


def with_reasons(frame: pl.DataFrame, names: tuple[str, ...] | list[str]) -> pl.DataFrame:
    """Replace the `_rmask_*` columns by `reasons`, the list of reason names (empty for a typed
    business). Lists are built once per distinct combination of masks — there are few — and
    joined back, which keeps both time and memory low for millions of rows."""
    masks = sorted(c for c in frame.columns if c.startswith("_rmask_"))
    words = [
        pl.when(pl.col(f"_rmask_{k // 64}") & (1 << (k % 64)) != 0).then(pl.lit(name))
        for k, name in enumerate(names)
    ]
    build = pl.concat_list(words).list.drop_nulls() if words else pl.lit([], pl.List(pl.String))
    combos = frame.select(masks).unique().with_columns(build.alias("reasons"))
    # join the mask columns alone: the frame's other columns are not copied
    reasons = (
        frame.select(masks)
        .join(combos, on=masks, how="left", maintain_order="left", nulls_equal=True)
        .get_column("reasons")
    )
    return frame.drop(masks).with_columns(reasons)
