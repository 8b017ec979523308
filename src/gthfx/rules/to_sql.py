"""Rule expressions → SQL (sqlglot expressions), with the meaning of the Polars compiler.

The same parse tree (`grammar.parse_expression`) is type-checked by `compiler.compile_node` on the
same `Scope` first — one grammar, one meaning — and then emitted as SQL:

- a comparison, `in` or `not in` with a missing operand is false: `COALESCE(a >= b, FALSE)`;
- `and`, `or`, `not` on two-valued operands (a bool field read as a condition is
  `COALESCE(x, FALSE)`);
- arithmetic with a missing value is missing; `x / y` is `CASE WHEN y <> 0 THEN x / y END`;
- `complete_years(a, b)` counts anniversaries (a 29 Feb start reaches it on 1 Mar);
- `min`/`max` are missing when any value is missing.

`ruleset_sql` renders one SELECT over a table `joined` (the joined frame of `join.join_extracts`)
giving `uscc, tier, rule_id, reasons` and the derived fields, exactly as `engine.apply_ruleset`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from sqlglot import exp

from gthfx.errors import ConfigError
from gthfx.ingest.join import data_problem_checks
from gthfx.ingest.sqlprep import prepare_ctes, with_ctes
from gthfx.ingest.validate import problem_reasons
from gthfx.rules.compiler import FIELD_KINDS, CompileError, Kind, Scope, compile_node
from gthfx.rules.engine import compile_ruleset, reason_names
from gthfx.rules.grammar import (
    Binary,
    Call,
    In,
    IsMissing,
    ListOf,
    Literal,
    Name,
    Node,
    Unary,
    parse_expression,
)
from gthfx.rules.model import RulesetFile
from gthfx.settings.sources import SourcesMapping
from gthfx.vocab import CONFLICT, EXCLUDED

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


def expression_sql(node: Node, scope: Scope) -> exp.Expr:
    """Type-check `node` as the Polars compiler does (raising `CompileError`), then emit SQL."""
    compile_node(node, scope)
    return _emit(node, scope)


def _list_values(node: ListOf | Name, scope: Scope) -> list[object]:
    if isinstance(node, ListOf):
        return [item.value for item in node.items if isinstance(item, Literal)]
    value = scope.parameters[node.name]
    assert isinstance(value, list)
    return list(value)


def _emit(node: Node, scope: Scope) -> exp.Expr:
    if isinstance(node, Literal):
        return _lit(node.value)
    if isinstance(node, Name):
        if node.name in scope.columns:
            return _col(node.name)
        if node.name in scope.parameters:
            return _lit(scope.parameters[node.name])
        if node.name == "run_date":
            return _date(scope.run_date)
        if node.name == "run_year":
            return _lit(scope.run_date.year)
        raise CompileError(f"unknown name `{node.name}`", node.column)  # pragma: no cover
    if isinstance(node, Unary):
        inner = _emit(node.operand, scope)
        if node.op == "not":
            return exp.Not(this=_true(inner))
        return exp.Neg(this=_paren(inner))
    if isinstance(node, Binary):
        left = _paren(_emit(node.left, scope))
        right = _paren(_emit(node.right, scope))
        if node.op == "and":
            return _paren(exp.And(this=_true(left), expression=_true(right)))
        if node.op == "or":
            return _paren(exp.Or(this=_true(left), expression=_true(right)))
        if node.op == "/":
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
        if node.op in arithmetic:
            return _paren(arithmetic[node.op](this=left, expression=right))
        comparison = {
            "==": exp.EQ,
            "!=": exp.NEQ,
            "<": exp.LT,
            "<=": exp.LTE,
            ">": exp.GT,
            ">=": exp.GTE,
        }[node.op]
        return _true(comparison(this=left, expression=right))
    if isinstance(node, In):
        operand = _paren(_emit(node.operand, scope))
        values = _list_values(node.items, scope)
        test: exp.Expr = (
            _true(exp.In(this=operand, expressions=[_lit(v) for v in values]))
            if values
            else exp.false()
        )
        if node.negated:  # missing operand: both `in` and `not in` are false
            return _paren(
                exp.And(
                    this=exp.Not(this=exp.Is(this=operand, expression=exp.null())),
                    expression=exp.Not(this=test),
                )
            )
        return test
    if isinstance(node, IsMissing):
        operand = _paren(_emit(node.operand, scope))
        is_null = exp.Is(this=operand, expression=exp.null())
        return exp.Not(this=is_null) if node.negated else is_null
    if isinstance(node, Call):
        return _emit_call(node, scope)
    raise CompileError(f"unsupported expression {node!r}")  # pragma: no cover


def _emit_call(node: Call, scope: Scope) -> exp.Expr:
    fn = node.function
    if fn == "date":
        arg = node.args[0]
        assert isinstance(arg, Literal)
        return _date(date.fromisoformat(str(arg.value)))
    args = [_paren(_emit(a, scope)) for a in node.args]
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
    if fn in ("min", "max"):
        combined = (exp.Least if fn == "min" else exp.Greatest)(this=args[0], expressions=args[1:])
        all_there = args[0].copy()
        present: exp.Expr = exp.Not(this=exp.Is(this=all_there, expression=exp.null()))
        for a in args[1:]:
            present = exp.And(
                this=present, expression=exp.Not(this=exp.Is(this=a.copy(), expression=exp.null()))
            )
        return exp.Case(ifs=[exp.If(this=present, true=combined)])
    raise CompileError(f"unknown function `{fn}`", node.column)  # pragma: no cover


def _reasons_array(items: list[exp.Expr], dialect: str) -> exp.Expr:
    array = exp.Array(expressions=items)
    if not items:
        return exp.cast(exp.Array(expressions=[]), exp.DataType.build("ARRAY<VARCHAR>"))
    if dialect == "postgres":
        return exp.Anonymous(this="ARRAY_REMOVE", expressions=[array, exp.null()])
    return exp.ArrayCompact(this=array)


def ruleset_sql(
    ruleset_file: RulesetFile,
    field_kinds: Mapping[str, str],
    run_date: date,
    sources: SourcesMapping,
    dialect: str,
) -> str:
    """One SELECT over the table `joined` giving `uscc, tier, rule_id, reasons` and the derived
    fields, with the outcomes of `engine.apply_ruleset` (reasons in `engine.reason_names` order)."""
    ctes, query = ruleset_ctes(ruleset_file, field_kinds, run_date, sources, dialect)
    for name, cte in ctes:
        query = query.with_(name, as_=cte)
    return query.sql(dialect=dialect, pretty=True)


def ruleset_ctes(
    ruleset_file: RulesetFile,
    field_kinds: Mapping[str, str],
    run_date: date,
    sources: SourcesMapping,
    dialect: str,
    *,
    source: str = TABLE,
    extra: Sequence[str] = (),
) -> tuple[list[tuple[str, exp.Query]], exp.Select]:
    """The ruleset over the table (or named query) `source`: the named steps (derived fields,
    reasons) and the final SELECT of `uscc, tier, rule_id, reasons`, the `extra` columns of
    `source`, then the derived fields."""
    if dialect not in DIALECTS:
        raise ConfigError(f"unknown SQL dialect {dialect!r}", hint=f"one of {', '.join(DIALECTS)}")
    compiled = compile_ruleset(ruleset_file, field_kinds, run_date)  # names the file on errors
    rs = ruleset_file.ruleset
    columns: dict[str, Kind] = {name: FIELD_KINDS[kind] for name, kind in field_kinds.items()}
    scope = Scope(
        columns=columns,
        parameters={name: p.value for name, p in rs.parameters.items()},
        run_date=run_date,
    )
    ctes: list[tuple[str, exp.Query]] = []
    for index, item in enumerate(rs.derived):
        value = expression_sql(parse_expression(item.expr), scope)
        columns[item.id] = compile_node(parse_expression(item.expr), scope).kind
        name = f"_derived_{index}"
        step = exp.select(exp.Star(), exp.alias_(value, item.id, quoted=True)).from_(source)
        ctes.append((name, step))
        source = name

    # reasons: data problems, then each failed basic condition where `_has_annual`
    checks: list[tuple[exp.Expr, str]] = []
    for extract, spec in sources.extracts.items():
        mask = _col(f"_pm_{extract}")
        for bit, reason in problem_reasons(extract, spec):
            test = exp.NEQ(
                this=_paren(exp.BitwiseAnd(this=mask.copy(), expression=exp.Literal.number(bit))),
                expression=exp.Literal.number(0),
            )
            checks.append((_true(test), reason))
        checks.append((_true(_col(f"_conflict_{extract}")), f"{CONFLICT}:{extract}"))
    for cond in rs.basic_conditions:
        holds = _true(expression_sql(parse_expression(cond.when), scope))
        failed = exp.And(this=exp.Not(this=holds), expression=_col("_has_annual"))
        checks.append((_true(_paren(failed)), cond.id))
    names = [reason for _, reason in checks]
    # the same reasons in the same order as the Polars engine (guards against drift)
    assert names == reason_names(compiled, data_problem_checks(sources))

    reason_cols = [f"_reason_{k}" for k in range(len(checks))]
    step = exp.select(
        exp.Star(),
        *(exp.alias_(c, n, quoted=True) for (c, _), n in zip(checks, reason_cols, strict=True)),
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
    for rule in rs.tiers:
        if rule.when is None:
            default_tier, default_rule = _lit(rule.tier), _lit(rule.id)
            break
        cond_sql = _true(expression_sql(parse_expression(rule.when), scope))
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
        *(_col(item.id) for item in rs.derived),
    ).from_("_checked")
    return ctes, query


def outcomes_sql(
    ruleset_file: RulesetFile,
    field_kinds: Mapping[str, str],
    run_date: date,
    sources: SourcesMapping,
    dialect: str,
    *,
    loaded: bool = False,
) -> str:
    """One query over the tables `annual`, `tax` and `social` (platform form unless `loaded`):
    validation, duplicates, the join and the ruleset → `uscc, tier, rule_id, reasons, flags,
    region_code, industry_code` and the derived fields, one row per business of annual, in no
    particular order (sort by `uscc` to compare)."""
    if dialect not in DIALECTS:
        raise ConfigError(f"unknown SQL dialect {dialect!r}", hint=f"one of {', '.join(DIALECTS)}")
    rules, select = ruleset_ctes(
        ruleset_file,
        field_kinds,
        run_date,
        sources,
        dialect,
        source="joined",
        extra=["flags", "region_code", "industry_code"],
    )
    ctes = prepare_ctes(sources, run_date.year - 1, loaded=loaded) + rules
    return with_ctes(select, ctes).sql(dialect=dialect, pretty=True)
