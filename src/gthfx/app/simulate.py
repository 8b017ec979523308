"""What-if: the extracts loaded and joined once, typed under the ruleset in force and under each
scenario (changed parameters, or a whole other ruleset), compared business by business.

Never prints and never writes into a runs folder; `write_workbook` writes the one Excel file for
decision makers. All comparisons are Polars joins and group-bys over the whole population.
"""

from __future__ import annotations

import difflib
import os
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
import yaml

from gthfx.engines.memory import load_joined, type_joined
from gthfx.errors import ConfigError, RulesError
from gthfx.progress import Reporter
from gthfx.report.regions import region_name
from gthfx.report.render import chunks
from gthfx.report.xlsx import XlsxWriter
from gthfx.rules.grammar import Binary, In, Node, Unary, names_in
from gthfx.rules.model import RulesetFile, load_ruleset, ruleset_in_force
from gthfx.rules.plan import RulePlan, build_plan
from gthfx.rules.to_polars import derived_columns
from gthfx.rules.types import value_kind
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import SourcesMapping, load_sources
from gthfx.vocab import EXCLUDED, OUTCOME_ORDER, TIER_LABELS, TIERS

_COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
_RANK = {tier: i for i, tier in enumerate(TIERS)}
_BUILTINS = {"run_date", "run_year"}
MOVE_LABELS = {"up": "升型", "down": "降型", "in": "纳入分型", "out": "退出分型"}


@dataclass(frozen=True)
class Scenario:
    """One what-if: parameter overrides of the ruleset in force, or a whole other ruleset."""

    name: str
    overrides: dict[str, object] = field(default_factory=dict)
    rules: Path | None = None

    def describe(self) -> str:
        if self.rules is not None:
            return f"规则文件 {self.rules}"
        return ", ".join(f"{k}={_show(v)}" for k, v in self.overrides.items()) or "(无变动)"


@dataclass
class ScenarioResult:
    """One scenario against the baseline. Frames are small, except `movers`."""

    scenario: Scenario
    ruleset_id: str
    changes: pl.DataFrame  # parameter, label, unit, before, after (as text)
    counts: pl.DataFrame  # outcome, label, before, after, delta, share_before, share_after
    transitions: pl.DataFrame  # tier_before, tier_after, count: every cell of outcome × outcome
    by_district: pl.DataFrame  # region_code, district, tier_before, tier_after, count (> 0)
    district_moves: pl.DataFrame  # region_code, district, total, moved, up, down, in, out
    movers: pl.DataFrame  # one row per business whose outcome changes, sorted by uscc
    indicators: list[str]  # the columns of `movers` after the fixed ones

    @property
    def moved(self) -> int:
        return self.movers.height


@dataclass
class SimulationResult:
    run_date: date
    baseline_id: str
    baseline_path: Path
    total: int
    scenarios: list[ScenarioResult]
    labels: dict[str, str]  # column → Chinese label (fields, derived fields)
    timings: dict[str, float] = field(default_factory=dict)


# ---- parsing the command line's scenario syntax -------------------------------------------


def parse_value(text: str) -> object:
    """A parameter value as written on a command line: a YAML scalar or flow list
    (`2000000`, `1_500_000`, `0.5`, `一般纳税人`, `[存续, 在营]`); full-width digits are fine."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        raise ConfigError("a parameter value is empty", hint="write it as name=value")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"cannot read the value {text!r}") from None
    if isinstance(value, str):  # 1e6, 2_000_000.5 and the like: numbers YAML 1.1 leaves as text
        try:
            number = float(value.replace("_", ""))
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value else number
    if isinstance(value, date):  # YAML reads 2024-07-01 as a date; parameters hold no dates
        return text
    if value is None or isinstance(value, dict):
        raise ConfigError(f"{text!r} is not a parameter value", hint="a number, a word or [a, b]")
    return value


def parse_assignment(text: str) -> tuple[str, object]:
    """`name=value` → (name, value)."""
    name, sep, value = unicodedata.normalize("NFKC", text).partition("=")
    if not sep or not name.strip():
        raise ConfigError(f"{text!r} is not name=value", hint="e.g. development_min_sales_yuan=2e6")
    return name.strip(), parse_value(value)


def _split_items(text: str) -> list[str]:
    """Split on commas outside [brackets] and quotes."""
    items, depth, quote, current = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        current += ch
    items.append(current)
    return [item.strip() for item in items if item.strip()]


def parse_scenario(text: str, default_name: str) -> Scenario:
    """`NAME: p=v, q=w` (the name is optional) → a Scenario."""
    text = unicodedata.normalize("NFKC", text)
    head, sep, rest = text.partition(":")
    name = default_name
    if sep and "=" not in head:
        name, text = head.strip() or default_name, rest
    pairs = [parse_assignment(item) for item in _split_items(text)]
    if not pairs:
        raise ConfigError(f"--scenario {text!r} sets no parameter", hint='"name: p=v, q=w"')
    return Scenario(name=name, overrides=_unique(pairs, name))


def scenarios_from_arguments(
    sets: list[str], scenarios: list[str], rules: list[Path]
) -> list[Scenario]:
    """The scenarios of one call: all `--set` together form one, each `--scenario` one, each
    `--rules` file one. Names are unique."""
    out: list[Scenario] = []
    if sets:
        pairs = [parse_assignment(s) for s in sets]
        name = "方案1" if (scenarios or rules) else ", ".join(f"{k}={v}" for k, v in pairs)
        out.append(Scenario(name=name[:60], overrides=_unique(pairs, "--set")))
    for text in scenarios:
        out.append(parse_scenario(text, f"方案{len(out) + 1}"))
    for path in rules:
        out.append(Scenario(name=path.stem, rules=path))
    if not out:
        raise ConfigError(
            "nothing to simulate",
            hint="give --set PARAM=VALUE, --scenario 'name: p=v, q=w' or --rules OTHER.yaml",
        )
    names = [s.name for s in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"scenario names used twice: {', '.join(twice)}")
    return out


def _unique(pairs: list[tuple[str, object]], where: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in pairs:
        if name in out:
            raise ConfigError(f"{where}: parameter {name} is set twice")
        out[name] = value
    return out


# ---- scenarios → plans ---------------------------------------------------------------------


def scenario_plan(baseline: RulePlan, scenario: Scenario, sources: SourcesMapping) -> RulePlan:
    """The plan of a scenario, for the frame the baseline loads: the baseline's own with changed
    parameters (from the same parse trees), or another ruleset's, built for the fields of
    `sources`. Unknown parameters and values of the wrong kind are errors that name the
    parameter (with the closest known name as a hint)."""
    if scenario.rules is not None:
        other = load_ruleset(scenario.rules)
        return build_plan(other, sources, baseline.run_date, loaded=baseline.sources)
    params = baseline.source.ruleset.parameters
    for name, value in scenario.overrides.items():
        if name not in params:
            close = difflib.get_close_matches(name, list(params), n=1, cutoff=0.5)
            hint = f"did you mean {close[0]}? " if close else ""
            raise RulesError(
                f"scenario {scenario.name}: unknown parameter {name} "
                f"(ruleset {baseline.source.ruleset.id}, {baseline.source.path})",
                hint=f"{hint}known: {', '.join(params)}",
            )
        old = params[name].value
        if value_kind(old) != value_kind(value):
            raise RulesError(
                f"scenario {scenario.name}: parameter {name} is a {value_kind(old)} "
                f"(now {_show(old)}), found the {value_kind(value)} {_show(value)}",
                hint="a list is written [a, b]" if value_kind(old) == "list" else None,
            )
    return baseline.with_parameters(scenario.overrides)


def parameter_changes(before: RulesetFile, after: RulesetFile) -> pl.DataFrame:
    """Parameters whose value differs (or that only one of the two rulesets has)."""
    a, b = before.ruleset.parameters, after.ruleset.parameters
    rows = []
    for name in [*a, *(n for n in b if n not in a)]:
        old, new = a.get(name), b.get(name)
        if old is not None and new is not None and old.value == new.value:
            continue
        ref = new or old
        assert ref is not None
        rows.append(
            {
                "parameter": name,
                "label": ref.label,
                "unit": ref.unit,
                "before": _show(old.value) if old is not None else "—",
                "after": _show(new.value) if new is not None else "—",
            }
        )
    schema = dict.fromkeys(("parameter", "label", "unit", "before", "after"), pl.String)
    return pl.DataFrame(rows, schema=schema)


def parameter_indicators(plan: RulePlan, parameters: set[str], columns: set[str]) -> list[str]:
    """The columns the given parameters are compared with, in rule order: for
    `sales_yuan >= development_min_sales_yuan`, `sales_yuan`."""
    trees = [d.tree for d in plan.derived] + [c.tree for c in plan.conditions]
    trees += [t.tree for t in plan.tiers if t.tree is not None]
    out: list[str] = []

    def visit(node: Node) -> None:
        if isinstance(node, Binary) and node.op in ("and", "or"):
            visit(node.left)
            visit(node.right)
        elif isinstance(node, Unary) and node.op == "not":
            visit(node.operand)
        elif isinstance(node, Binary | In) and (
            not isinstance(node, Binary) or node.op in _COMPARISONS
        ):
            names = [n.name for n in names_in(node)]
            if parameters & set(names):
                out.extend(n for n in names if n in columns and n not in out)

    for tree in trees:
        visit(tree.source)
    return out


# ---- the comparison ------------------------------------------------------------------------

_KEEP = ("uscc", "tier", "rule_id", "region_code", "industry_code")


def compare(
    before: pl.DataFrame, after: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Two typings of the same businesses (both sorted by uscc) → counts, transitions, the
    transitions by district, the moves by district, and the pairs that moved."""
    if before.height != after.height or not before["uscc"].equals(after["uscc"]):
        raise AssertionError("the two typings do not hold the same businesses")  # a bug
    pair = before.select(
        "uscc",
        "region_code",
        "industry_code",
        pl.col("tier").alias("tier_before"),
        pl.col("rule_id").alias("rule_before"),
    ).hstack(
        after.select(pl.col("tier").alias("tier_after"), pl.col("rule_id").alias("rule_after"))
    )
    total = max(pair.height, 1)
    grid = pl.DataFrame({"tier_before": OUTCOME_ORDER}).join(
        pl.DataFrame({"tier_after": OUTCOME_ORDER}), how="cross"
    )
    cells = pair.group_by("tier_before", "tier_after").len("count")
    transitions = grid.join(
        cells, on=["tier_before", "tier_after"], how="left", maintain_order="left"
    ).with_columns(pl.col("count").fill_null(0).cast(pl.Int64))
    outcomes = pl.DataFrame({"outcome": OUTCOME_ORDER})
    n_before = transitions.group_by("tier_before").agg(pl.col("count").sum().alias("before"))
    n_after = transitions.group_by("tier_after").agg(pl.col("count").sum().alias("after"))
    counts = (
        outcomes.join(n_before, left_on="outcome", right_on="tier_before", maintain_order="left")
        .join(n_after, left_on="outcome", right_on="tier_after", maintain_order="left")
        .with_columns(
            pl.col("outcome").replace_strict(TIER_LABELS, return_dtype=pl.String).alias("label"),
            (pl.col("after") - pl.col("before")).alias("delta"),
            (100 * pl.col("before") / total).round(2).alias("share_before"),
            (100 * pl.col("after") / total).round(2).alias("share_after"),
        )
        .select("outcome", "label", "before", "after", "delta", "share_before", "share_after")
    )
    district = region_name(pl.col("region_code")).alias("district")
    by_district = (
        pair.group_by("region_code", "tier_before", "tier_after")
        .len("count")
        .with_columns(district, pl.col("count").cast(pl.Int64))
        .sort(
            "region_code",
            pl.col("tier_before").replace_strict(_ORDER, return_dtype=pl.Int8),
            pl.col("tier_after").replace_strict(_ORDER, return_dtype=pl.Int8),
            nulls_last=True,
        )
        .select("region_code", "district", "tier_before", "tier_after", "count")
    )
    move = _move(pl.col("tier_before"), pl.col("tier_after"))
    district_moves = (
        by_district.with_columns(move.alias("move"))
        .group_by("region_code", "district")
        .agg(
            pl.col("count").sum().alias("total"),
            pl.col("count").filter(pl.col("move").is_not_null()).sum().alias("moved"),
            *(
                pl.col("count").filter(pl.col("move") == m).sum().alias(m)
                for m in ("up", "down", "in", "out")
            ),
        )
        .sort("region_code", nulls_last=True)
    )
    movers = pair.filter(pl.col("tier_before") != pl.col("tier_after")).with_columns(
        move.alias("move")
    )
    return counts, transitions, by_district, district_moves, movers


_ORDER = {name: i for i, name in enumerate(OUTCOME_ORDER)}


def _move(before: pl.Expr, after: pl.Expr) -> pl.Expr:
    rank_b = before.replace_strict(_RANK, default=None, return_dtype=pl.Int8)
    rank_a = after.replace_strict(_RANK, default=None, return_dtype=pl.Int8)
    return (
        pl.when(before == after)
        .then(pl.lit(None, pl.String))
        .when(before == EXCLUDED)
        .then(pl.lit("in"))
        .when(after == EXCLUDED)
        .then(pl.lit("out"))
        .when(rank_a > rank_b)
        .then(pl.lit("up"))
        .otherwise(pl.lit("down"))
    )


def _with_indicators(
    movers: pl.DataFrame, joined: pl.DataFrame, plan: RulePlan, columns: list[str]
) -> pl.DataFrame:
    """The movers with the values of `columns` (fields or derived fields), read from the joined
    frame for the movers only."""
    if not columns or movers.height == 0:
        return movers.with_columns(pl.lit(None).alias(c) for c in columns)
    rows = joined.join(movers.select("uscc"), on="uscc", how="semi")
    for expr in derived_columns(plan):  # in order: a derived field may read an earlier one
        rows = rows.with_columns(expr)
    present = [c for c in columns if c in rows.columns]
    values = rows.select("uscc", *present)
    out = movers.join(values, on="uscc", how="left", maintain_order="left")
    return out.with_columns(pl.lit(None).alias(c) for c in columns if c not in present)


# ---- the library call ----------------------------------------------------------------------


def prepare(options: RunOptions, scenarios: list[Scenario]) -> tuple[RulePlan, list[RulePlan]]:
    """Every scenario checked and compiled before any data is read: a typo in a parameter name
    costs nothing. Returns the plan of the ruleset in force and each scenario's plan."""
    sources = load_sources(options.sources)
    in_force = ruleset_in_force(options.rules, options.run_date)
    baseline = build_plan(in_force, sources, options.run_date)
    loaded = set(baseline.sources.field_types())
    out = []
    for scenario in scenarios:
        changed = scenario_plan(baseline, scenario, sources)
        extra = sorted(changed.reads - loaded)
        if extra:
            raise RulesError(
                f"{changed.source.path}: reads field(s) {', '.join(extra)} that the ruleset in "
                f"force ({baseline.source.path.name}) does not read; simulate loads the data "
                "once, for the ruleset in force",
            )
        out.append(changed)
    return baseline, out


def simulate(
    options: RunOptions, scenarios: list[Scenario], reporter: Reporter | None = None
) -> SimulationResult:
    """Load and join the extracts once, type them under the ruleset in force on the run date
    and under each scenario, and compare."""
    reporter = reporter or Reporter(quiet=True)
    with reporter.stage("scenarios", "检查方案 checking the scenarios"):
        plan, plans = prepare(options, scenarios)
    joined, plan, sources = load_joined(options, reporter, plan=plan)
    baseline = plan.source
    kinds = sources.field_types()
    with reporter.stage("baseline", "现行规则分型 typing under the ruleset in force"):
        before = type_joined(joined, plan, sources).select(_KEEP)
    labels = _labels(sources, [baseline, *(p.source for p in plans)])
    results = []
    for index, (scenario, after_plan) in enumerate(zip(scenarios, plans, strict=True), 1):
        changed = after_plan.source
        with reporter.stage(f"scenario_{index}", f"方案 {scenario.name} typing"):
            after = type_joined(joined, after_plan, sources).select(_KEEP)
            counts, transitions, by_district, district_moves, movers = compare(before, after)
            del after
            changes = parameter_changes(baseline, changed)
            columns = set(kinds) | {d.id for d in after_plan.derived}
            names = set(changes.get_column("parameter").to_list())
            indicators = [
                c
                for c in parameter_indicators(after_plan, names, columns)
                + parameter_indicators(plan, names, columns)
                if c not in _KEEP
            ]
            indicators = list(dict.fromkeys(indicators))
            movers = _with_indicators(movers, joined, after_plan, indicators)
        reporter.info(f"scenario={index} moved={movers.height}")
        results.append(
            ScenarioResult(
                scenario=scenario,
                ruleset_id=changed.ruleset.id,
                changes=changes,
                counts=counts,
                transitions=transitions,
                by_district=by_district,
                district_moves=district_moves,
                movers=movers,
                indicators=indicators,
            )
        )
    return SimulationResult(
        run_date=options.run_date,
        baseline_id=baseline.ruleset.id,
        baseline_path=baseline.path,
        total=before.height,
        scenarios=results,
        labels=labels,
        timings=dict(reporter.timings),
    )


def _labels(sources: SourcesMapping, rulesets: list[RulesetFile]) -> dict[str, str]:
    out: dict[str, str] = {}
    for spec in sources.extracts.values():
        for name, fs in spec.fields.items():
            out.setdefault(name, fs.label)
    for rf in rulesets:
        for d in rf.ruleset.derived:
            out.setdefault(d.id, d.label.split("(")[0])
    return out


# ---- the workbook --------------------------------------------------------------------------


def _tier_label(column: str) -> pl.Expr:
    return pl.col(column).replace_strict(TIER_LABELS, default=pl.col(column))


def summary_table(result: SimulationResult) -> pl.DataFrame:
    """汇总: per scenario and outcome, counts and shares before and after."""
    parts = []
    for s in result.scenarios:
        changes = "; ".join(
            f"{r['label']}({r['parameter']}): {r['before']} → {r['after']} {r['unit']}"
            for r in s.changes.iter_rows(named=True)
        )
        parts.append(
            s.counts.select(
                pl.lit(s.scenario.name).alias("方案"),
                pl.lit(s.ruleset_id).alias("规则"),
                pl.lit(changes or "(参数无变动)").alias("参数变动"),
                pl.col("label").alias("分型"),
                pl.col("before").alias("现行户数"),
                pl.col("after").alias("方案户数"),
                pl.col("delta").alias("增减"),
                pl.col("share_before").alias("现行占比(%)"),
                pl.col("share_after").alias("方案占比(%)"),
                pl.lit(s.moved).alias("变动户数(方案合计)"),
            )
        )
    return pl.concat(parts)


def transition_matrix(s: ScenarioResult) -> pl.DataFrame:
    """The transition table as a matrix: one row per outcome before, one column per outcome
    after (Chinese labels), with totals."""
    wide = s.transitions.pivot(
        on="tier_after", index="tier_before", values="count", sort_columns=False
    )
    labels = [TIER_LABELS[o] for o in OUTCOME_ORDER]
    return wide.select(
        _tier_label("tier_before").alias("现行\\方案"),
        *(pl.col(o).alias(TIER_LABELS[o]) for o in OUTCOME_ORDER),
    ).with_columns(pl.sum_horizontal(labels).alias("合计"))


def mover_table(s: ScenarioResult, labels: dict[str, str]) -> pl.DataFrame:
    base = [
        pl.col("uscc").alias("统一社会信用代码"),
        pl.col("region_code").alias("行政区划代码"),
        region_name(pl.col("region_code")).alias("区"),
        pl.col("industry_code").alias("行业代码"),
        _tier_label("tier_before").alias("现行分型"),
        _tier_label("tier_after").alias("方案分型"),
        pl.col("move").replace_strict(MOVE_LABELS, default=pl.col("move")).alias("变动"),
        pl.col("rule_before").alias("现行规则"),
        pl.col("rule_after").alias("方案规则"),
    ]
    seen = {"统一社会信用代码", "行政区划代码", "区", "行业代码"}
    extra = []
    for c in s.indicators:
        header = labels.get(c, c)
        header = f"{header}({c})" if header in seen else header
        seen.add(header)
        col = pl.col(c)
        dtype = s.movers.schema[c]
        if dtype == pl.Date:
            col = col.dt.strftime("%Y-%m-%d")
        elif isinstance(dtype, pl.List):
            col = col.list.join("、")
        extra.append(col.alias(header))
    return s.movers.select(*base, *extra)


def district_table(result: SimulationResult) -> pl.DataFrame:
    parts = [
        s.by_district.select(
            pl.lit(s.scenario.name).alias("方案"),
            pl.col("region_code").alias("行政区划代码"),
            pl.col("district").alias("区"),
            _tier_label("tier_before").alias("现行分型"),
            _tier_label("tier_after").alias("方案分型"),
            pl.col("count").alias("户数"),
        )
        for s in result.scenarios
    ]
    return pl.concat(parts)


def district_moves_table(result: SimulationResult) -> pl.DataFrame:
    parts = [
        s.district_moves.select(
            pl.lit(s.scenario.name).alias("方案"),
            pl.col("region_code").alias("行政区划代码"),
            pl.col("district").alias("区"),
            pl.col("total").alias("户数"),
            pl.col("moved").alias("变动户数"),
            *(pl.col(m).alias(label) for m, label in MOVE_LABELS.items()),
        )
        for s in result.scenarios
    ]
    return pl.concat(parts)


SHEETS = ("汇总", "分区汇总", "分区迁移")


def write_workbook(result: SimulationResult, path: Path) -> Path:
    """The decision makers' workbook: 汇总, 分区汇总, 分区迁移, then per scenario k its
    transition matrix `迁移k` and its movers `名单k` (`名单k(2)`, … past Excel's row limit).
    Written to a temporary file beside `path`, then renamed: never half a workbook."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    book = XlsxWriter(partial, title=f"分型模拟 {result.run_date}")
    try:
        book.add_sheet("汇总", summary_table(result))
        book.add_sheet("分区汇总", district_moves_table(result))
        for index, piece in enumerate(chunks(district_table(result)), start=1):
            book.add_sheet("分区迁移" if index == 1 else f"分区迁移({index})", piece)
        for k, s in enumerate(result.scenarios, start=1):
            book.add_sheet(f"迁移{k}", transition_matrix(s))
            for index, piece in enumerate(chunks(mover_table(s, result.labels)), start=1):
                book.add_sheet(f"名单{k}" if index == 1 else f"名单{k}({index})", piece)
    except BaseException:
        book.close()
        partial.unlink(missing_ok=True)
        raise
    book.close()
    os.replace(partial, path)
    return path


def _show(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


__all__ = [
    "Scenario",
    "ScenarioResult",
    "SimulationResult",
    "parse_assignment",
    "parse_scenario",
    "parse_value",
    "scenarios_from_arguments",
    "simulate",
    "write_workbook",
]
