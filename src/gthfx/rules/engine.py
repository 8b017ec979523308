"""A ruleset compiled once into Polars expressions, and applied to the whole population at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from gthfx.errors import RulesError
from gthfx.ingest.validate import bit_mask
from gthfx.rules.compiler import FIELD_KINDS, CompileError, Kind, Scope, Typed, compile_node
from gthfx.rules.grammar import ExprSyntaxError, names_in, parse_expression
from gthfx.rules.model import RulesetFile
from gthfx.vocab import EXCLUDED, TIER_LABELS


@dataclass(frozen=True)
class CompiledRuleset:
    """Everything needed to type a joined frame: derived columns, conditions, tier rules."""

    source: RulesetFile
    run_date: date
    derived: list[tuple[str, pl.Expr]]
    conditions: list[tuple[str, pl.Expr]]
    tier_rules: list[tuple[str, str, pl.Expr | None]]  # (rule id, tier, condition or None)
    indicators: list[str]  # columns the tier rules read, directly or through derived fields
    used_parameters: frozenset[str]
    reads: frozenset[str]  # every field any expression reads


def _compile(text: str, where: str, ruleset: RulesetFile, scope: Scope) -> Typed:
    try:
        return compile_node(parse_expression(text), scope)
    except ExprSyntaxError as exc:
        raise RulesError(
            f"{ruleset.path}: {where}: syntax error at column {exc.column}: {exc.message}\n"
            f"    {text}\n    {' ' * (exc.column - 1)}^"
        ) from None
    except CompileError as exc:
        column = f" (column {exc.column})" if exc.column else ""
        raise RulesError(f"{ruleset.path}: {where}{column}: {exc.message}\n    {text}") from None


def compile_ruleset(
    ruleset_file: RulesetFile, field_kinds: Mapping[str, str], run_date: date
) -> CompiledRuleset:
    """Parse, type-check and compile every expression; errors name the file and the rule."""
    rs = ruleset_file.ruleset
    columns: dict[str, Kind] = {name: FIELD_KINDS[kind] for name, kind in field_kinds.items()}
    clash = sorted(set(rs.parameters) & (set(columns) | {"run_date", "run_year"}))
    if clash:
        raise RulesError(f"{ruleset_file.path}: parameters named like fields: {', '.join(clash)}")
    scope = Scope(
        columns=columns,
        parameters={name: p.value for name, p in rs.parameters.items()},
        run_date=run_date,
        personal=frozenset(getattr(field_kinds, "personal", ())),
    )
    derived: list[tuple[str, pl.Expr]] = []
    reads: dict[str, list[str]] = {}
    for index, item in enumerate(rs.derived):
        if item.id in columns:
            raise RulesError(
                f"{ruleset_file.path}: derived[{index}] `{item.id}` is already a field"
            )
        typed = _compile(item.expr, f"derived[{index}] `{item.id}`", ruleset_file, scope)
        if typed.kind == "list":
            raise RulesError(f"{ruleset_file.path}: derived[{index}] `{item.id}` cannot be a list")
        derived.append((item.id, typed.expr.alias(item.id)))
        reads[item.id] = [n.name for n in names_in(parse_expression(item.expr))]
        columns[item.id] = typed.kind
    conditions: list[tuple[str, pl.Expr]] = []
    for index, cond in enumerate(rs.basic_conditions):
        typed = _compile(cond.when, f"basic_conditions[{index}] `{cond.id}`", ruleset_file, scope)
        if typed.kind != "bool":
            raise RulesError(
                f"{ruleset_file.path}: basic_conditions[{index}] `{cond.id}`: "
                f"`when` must be a condition, found a {typed.kind}"
            )
        conditions.append((cond.id, typed.expr.fill_null(False)))
    tier_rules: list[tuple[str, str, pl.Expr | None]] = []
    indicators: list[str] = []
    for index, rule in enumerate(rs.tiers):
        if rule.when is None:
            tier_rules.append((rule.id, rule.tier, None))
            continue
        typed = _compile(rule.when, f"tiers[{index}] `{rule.id}`", ruleset_file, scope)
        if typed.kind != "bool":
            raise RulesError(
                f"{ruleset_file.path}: tiers[{index}] `{rule.id}`: "
                f"`when` must be a condition, found a {typed.kind}"
            )
        tier_rules.append((rule.id, rule.tier, typed.expr.fill_null(False)))
        for name in names_in(parse_expression(rule.when)):
            if name.name in columns and name.name not in indicators:
                indicators.append(name.name)
    # a derived indicator brings the fields it reads (e.g. sales_yuan ← sales, revenue)
    for indicator in list(indicators):
        for read in reads.get(indicator, []):
            if read in columns and read not in indicators and read not in ("run_date", "run_year"):
                indicators.append(read)
    return CompiledRuleset(
        source=ruleset_file,
        run_date=run_date,
        derived=derived,
        conditions=conditions,
        tier_rules=tier_rules,
        indicators=indicators,
        used_parameters=frozenset(scope.used_parameters),
        reads=frozenset(
            n.name
            for text in [
                *(d.expr for d in rs.derived),
                *(c.when for c in rs.basic_conditions),
                *(t.when for t in rs.tiers if t.when is not None),
            ]
            for n in names_in(parse_expression(text))
            if n.name in field_kinds
        ),
    )


def reason_names(compiled: CompiledRuleset, problems: list[tuple[pl.Expr, str]]) -> list[str]:
    """Every reason a business can be excluded for, in report order: data problems, then the
    basic conditions. Reason k is bit k % 64 of the mask column `_rmask_{k // 64}`."""
    return [reason for _, reason in problems] + [cond_id for cond_id, _ in compiled.conditions]


def apply_ruleset(
    frame: pl.DataFrame, compiled: CompiledRuleset, problems: list[tuple[pl.Expr, str]]
) -> pl.DataFrame:
    """Type every business of a joined frame.

    `problems` are (condition, reason) pairs for data problems (see `join.data_problem_checks`);
    `frame` needs the columns they read, the field columns and `_has_annual` (false for businesses
    whose annual rows conflict: their basic conditions are not evaluated). Adds the derived
    columns, `tier`, `tier_label`, `rule_id`, and the reason masks `_rmask_*` (one bit per reason
    of `reason_names`; `with_reasons` turns them into lists). An excluded business's rule id is
    its first reason.
    """
    out = frame
    for _, expr in compiled.derived:  # in order: a derived field may read an earlier one
        out = out.with_columns(expr)
    checks = [cond for cond, _ in problems]
    checks += [~expr & pl.col("_has_annual") for _, expr in compiled.conditions]
    names = reason_names(compiled, problems)
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
    # reason) or len(names) + the number of the tier rule that applies. Tier and rule id are
    # then read off the branch number — one string column each, built once, rather than a
    # string column per branch, and every condition is evaluated once for both.
    rules = len(names)
    branch: Any = pl.when(excluded).then(first.cast(pl.UInt32))
    for number, (_, _, condition) in enumerate(compiled.tier_rules):
        value = pl.lit(rules + number, pl.UInt32)
        branch = (
            branch.otherwise(value) if condition is None else branch.when(condition).then(value)
        )
    tiers = {k: EXCLUDED for k in range(rules)}
    rule_ids = dict(enumerate(names))
    for number, (rule_id, tier, _) in enumerate(compiled.tier_rules):
        tiers[rules + number] = tier
        rule_ids[rules + number] = rule_id
    return (
        out.with_columns(branch.alias("_branch"))
        .with_columns(
            pl.col("_branch").replace_strict(tiers, return_dtype=pl.String).alias("tier"),
            pl.col("_branch").replace_strict(rule_ids, return_dtype=pl.String).alias("rule_id"),
        )
        .drop("_branch")
        .with_columns(
            pl.col("tier").replace_strict(TIER_LABELS, return_dtype=pl.String).alias("tier_label")
        )
    )


def with_reasons(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
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
