"""The plan → SQL (sqlglot expressions, every dialect), with the meaning of the Polars back end.

Walks the typed trees of the plan (`types`: already checked, nothing is checked here) — one tree,
many generators — with the meaning written in `types`:

- a comparison, `in` or `not in` with a missing operand is false: `COALESCE(a >= b, FALSE)`;
- `and`, `or`, `not` on two-valued operands (a bool field read as a condition is
  `COALESCE(x, FALSE)`);
- arithmetic with a missing value is missing; `x / y` is `CASE WHEN y <> 0 THEN x / y END`;
- `complete_years(a, b)` counts anniversaries (a 29 Feb start reaches it on 1 Mar);
- `min`/`max` are missing when any value is missing.

`ruleset_sql` renders one SELECT over a table `joined` (the joined frame of `join.join_extracts`)
giving `uscc, tier, rule_id, reasons` and the derived fields, exactly as `to_polars.apply_plan`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlglot import exp

from gthfx.errors import ConfigError
from gthfx.ingest.sqlprep import prepare_ctes, with_ctes
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
from gthfx.vocab import EXCLUDED

DIALECTS = ("duckdb", "postgres", "spark")
TABLE = "joined"


def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _lit(value: object) -> exp.Expr:
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):  # binary floating point, as in Polars (not an exact DECIMAL)
        return exp.cast(exp.Literal.number(repr(value)), exp.DataType.Type.DOUBLE)
    return exp.Literal.string(str(value))


def _date(value: date) -> exp.Expr:
    return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)


def _true(e: exp.Expr) -> exp.Expr:
    """Two-valued: missing → false."""
    return exp.Coalesce(this=e, expressions=[exp.false()])


def _paren(e: exp.Expr) -> exp.Expr:
    return exp.Paren(this=e)


def _year(e: exp.Expr) -> exp.Expr:
    return exp.Year(this=e)


def expression_sql(tree: Typed) -> exp.Expr:
    """A typed expression (already checked: nothing is checked here) as SQL."""
    if isinstance(tree, Const):
        if tree.kind == "date":
            assert isinstance(tree.value, date)
            return _date(tree.value)
        return _lit(tree.value)
    if isinstance(tree, Column):
        return _col(tree.name)
    if isinstance(tree, Not):
        return exp.Not(this=_true(expression_sql(tree.operand)))
    if isinstance(tree, Negate):
        return exp.Neg(this=_paren(expression_sql(tree.operand)))
    if isinstance(tree, Logic | Arith | Compare):
        return _binary(tree)
    if isinstance(tree, Member):
        operand = _paren(expression_sql(tree.operand))
        test: exp.Expr = (
            _true(exp.In(this=operand, expressions=[_lit(v) for v in tree.values]))
            if tree.values
            else exp.false()
        )
        if tree.negated:  # missing operand: both `in` and `not in` are false
            return _paren(
                exp.And(
                    this=exp.Not(this=exp.Is(this=operand, expression=exp.null())),
                    expression=exp.Not(this=test),
                )
            )
        return test
    if isinstance(tree, Missing):
        operand = _paren(expression_sql(tree.operand))
        is_null = exp.Is(this=operand, expression=exp.null())
        return exp.Not(this=is_null) if tree.negated else is_null
    return _function(tree)


def _binary(tree: Logic | Arith | Compare) -> exp.Expr:
    left = _paren(expression_sql(tree.left))
    right = _paren(expression_sql(tree.right))
    if tree.op == "and":
        return _paren(exp.And(this=_true(left), expression=_true(right)))
    if tree.op == "or":
        return _paren(exp.Or(this=_true(left), expression=_true(right)))
    if tree.op == "/":
        as_double = exp.cast(left, exp.DataType.Type.DOUBLE)
        return exp.Case(
            ifs=[
                exp.If(
                    this=exp.NEQ(this=right, expression=exp.Literal.number(0)),
                    true=exp.Div(this=as_double, expression=right),
                )
            ]
        )
    arithmetic = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}
    if tree.op in arithmetic:
        return _paren(arithmetic[tree.op](this=left, expression=right))
    comparison = {
        "==": exp.EQ,
        "!=": exp.NEQ,
        "<": exp.LT,
        "<=": exp.LTE,
        ">": exp.GT,
        ">=": exp.GTE,
    }[tree.op]
    return _true(comparison(this=left, expression=right))


def _function(tree: Func) -> exp.Expr:
    fn = tree.function
    args = [_paren(expression_sql(a)) for a in tree.args]
    if fn == "year":
        return exp.cast(_year(args[0]), exp.DataType.Type.BIGINT)
    if fn == "complete_years":
        start, end = args
        before = exp.Or(
            this=exp.LT(this=exp.Month(this=end), expression=exp.Month(this=start)),
            expression=_paren(
                exp.And(
                    this=exp.EQ(this=exp.Month(this=end), expression=exp.Month(this=start)),
                    expression=exp.LT(this=exp.Day(this=end), expression=exp.Day(this=start)),
                )
            ),
        )
        years = exp.Sub(this=_year(end), expression=_year(start))
        minus = exp.Case(
            ifs=[exp.If(this=before, true=exp.Literal.number(1))],
            default=exp.Literal.number(0),
        )
        return exp.cast(_paren(exp.Sub(this=years, expression=minus)), exp.DataType.Type.BIGINT)
    if fn == "coalesce":
        return exp.Coalesce(this=args[0], expressions=args[1:])
    # min / max
    combined = (exp.Least if fn == "min" else exp.Greatest)(this=args[0], expressions=args[1:])
    all_there = args[0].copy()
    present: exp.Expr = exp.Not(this=exp.Is(this=all_there, expression=exp.null()))
    for a in args[1:]:
        present = exp.And(
            this=present, expression=exp.Not(this=exp.Is(this=a.copy(), expression=exp.null()))
        )
    return exp.Case(ifs=[exp.If(this=present, true=combined)])


def _reasons_array(items: list[exp.Expr], dialect: str) -> exp.Expr:
    array = exp.Array(expressions=items)
    if not items:
        return exp.cast(exp.Array(expressions=[]), exp.DataType.build("ARRAY<VARCHAR>"))
    if dialect == "postgres":
        return exp.Anonymous(this="ARRAY_REMOVE", expressions=[array, exp.null()])
    return exp.ArrayCompact(this=array)


def ruleset_sql(plan: RulePlan, dialect: str) -> str:
    """One SELECT over the table `joined` giving `uscc, tier, rule_id, reasons` and the derived
    fields, with the outcomes of `to_polars.apply_plan` (reasons in `plan.reasons` order)."""
    ctes, query = ruleset_ctes(plan, dialect)
    for name, cte in ctes:
        query = query.with_(name, as_=cte)
    return query.sql(dialect=dialect, pretty=True)


def _check_dialect(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise ConfigError(f"unknown SQL dialect {dialect!r}", hint=f"one of {', '.join(DIALECTS)}")


def _problem_sql(problem: DataProblem) -> exp.Expr:
    if problem.bit is None:
        return _true(_col(f"_conflict_{problem.extract}"))
    mask = _col(f"_pm_{problem.extract}")
    test = exp.NEQ(
        this=_paren(exp.BitwiseAnd(this=mask, expression=exp.Literal.number(problem.bit))),
        expression=exp.Literal.number(0),
    )
    return _true(test)


def ruleset_ctes(
    plan: RulePlan,
    dialect: str,
    *,
    source: str = TABLE,
    extra: Sequence[str] = (),
) -> tuple[list[tuple[str, exp.Query]], exp.Select]:
    """The plan over the table (or named query) `source`: the named steps (derived fields,
    reasons) and the final SELECT of `uscc, tier, rule_id, reasons`, the `extra` columns of
    `source`, then the derived fields."""
    _check_dialect(dialect)
    ctes: list[tuple[str, exp.Query]] = []
    for index, item in enumerate(plan.derived):
        value = expression_sql(item.tree)
        name = f"_derived_{index}"
        step = exp.select(exp.Star(), exp.alias_(value, item.id, quoted=True)).from_(source)
        ctes.append((name, step))
        source = name

    # reasons: data problems, then each failed basic condition where `_has_annual`, in the one
    # order of `plan.reasons`
    checks = [_problem_sql(p) for p in plan.problems]
    for cond in plan.conditions:
        holds = _true(expression_sql(cond.tree))
        failed = exp.And(this=exp.Not(this=holds), expression=_col("_has_annual"))
        checks.append(_true(_paren(failed)))
    names = list(plan.reasons)

    reason_cols = [f"_reason_{k}" for k in range(len(checks))]
    step = exp.select(
        exp.Star(),
        *(exp.alias_(c, n, quoted=True) for c, n in zip(checks, reason_cols, strict=True)),
    ).from_(source)
    ctes.append(("_checked", step))

    tier_ifs: list[exp.If] = []
    rule_ifs: list[exp.If] = []
    for col_name, reason in zip(reason_cols, names, strict=True):
        rule_ifs.append(exp.If(this=_col(col_name), true=_lit(reason)))
    excluded: exp.Expr = exp.false()
    for col_name in reason_cols:
        excluded = exp.Or(this=excluded, expression=_col(col_name))
    tier_ifs.append(exp.If(this=_paren(excluded), true=_lit(EXCLUDED)))
    default_tier: exp.Expr | None = None
    default_rule: exp.Expr | None = None
    for rule in plan.tiers:
        if rule.tree is None:
            default_tier, default_rule = _lit(rule.tier), _lit(rule.id)
            break
        cond_sql = _true(expression_sql(rule.tree))
        tier_ifs.append(exp.If(this=cond_sql, true=_lit(rule.tier)))
        rule_ifs.append(exp.If(this=cond_sql.copy(), true=_lit(rule.id)))
    tier = exp.Case(ifs=tier_ifs, default=default_tier)
    rule_id = exp.Case(ifs=rule_ifs, default=default_rule)
    # the list is built only for excluded businesses (a quarter, typically): the others get an
    # empty one without assembling and compacting an array of every reason
    reasons = exp.Case(
        ifs=[
            exp.If(
                this=_paren(excluded.copy()),
                true=_reasons_array(
                    [
                        exp.Case(ifs=[exp.If(this=_col(c), true=_lit(r))])
                        for c, r in zip(reason_cols, names, strict=True)
                    ],
                    dialect,
                ),
            )
        ],
        default=_reasons_array([], dialect),
    )
    query = exp.select(
        _col("uscc"),
        exp.alias_(tier, "tier", quoted=True),
        exp.alias_(rule_id, "rule_id", quoted=True),
        exp.alias_(reasons, "reasons", quoted=True),
        *(_col(name) for name in extra),
        *(_col(item.id) for item in plan.derived),
    ).from_("_checked")
    return ctes, query


def outcomes_sql(plan: RulePlan, dialect: str, *, loaded: bool = False) -> str:
    """One query over the tables `annual`, `tax` and `social` (platform form unless `loaded`),
    with the fields of `plan.sources`: validation, duplicates, the join and the ruleset →
    `uscc, tier, rule_id, reasons, flags, region_code, industry_code` and the derived fields, one
    row per business of annual, in no particular order (sort by `uscc` to compare)."""
    _check_dialect(dialect)
    rules, select = ruleset_ctes(
        plan, dialect, source="joined", extra=["flags", "region_code", "industry_code"]
    )
    ctes = prepare_ctes(plan.sources, plan.run_date.year - 1, loaded=loaded) + rules
    return with_ctes(select, ctes).sql(dialect=dialect, pretty=True)
