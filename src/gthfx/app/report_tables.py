"""The tables of the monitoring report, as Polars queries over a run's files: frames in, tables
with Chinese headers out (the values as the report shows them). Pure and vectorised: no I/O,
no per-row Python.

Conventions, written once: counts are integers; a share is `100 × part / whole` rounded to two
decimals (empty when the whole is 0); districts are sorted by code, the unknown last; a table's
last row named 合计 sums the rows above it (and is left out of its chart). `app.report` puts the
tables into figures with their definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from gthfx.report.industries import UNKNOWN, industry_section, section_label
from gthfx.report.regions import region_name
from gthfx.vocab import CHANGE_LABELS, EXCLUDED, OUTCOME_ORDER, TIER_LABELS, TIERS

NEW, GONE, SAME = "new", "gone", "same"
TOTAL = "合计"
TYPED_TOTAL = "参与分型合计"
CODE, DISTRICT = "行政区划代码", "区划"
SECTION, SECTION_NAME = "门类", "门类名称"
STATE_LABELS = {**TIER_LABELS, NEW: CHANGE_LABELS[NEW], GONE: CHANGE_LABELS[GONE]}
ROW_STATES = (*OUTCOME_ORDER, NEW)  # a transition matrix's rows: the earlier run's outcome, or 新增
COLUMN_STATES = (*OUTCOME_ORDER, GONE)  # its columns: this run's outcome, or 消失
CHANGE_KINDS = tuple(CHANGE_LABELS)  # new, gone, up, down, in, out
_RANK = {t: i for i, t in enumerate(TIERS)}
SHARE_COLUMNS = tuple(f"{TIER_LABELS[t]}占比(%)" for t in TIERS)


@dataclass(frozen=True)
class Measure:
    """An employment indicator of the outcome files: its column and its words."""

    column: str
    label: str  # 从业人数
    counted: str  # the businesses with a value: 填报从业人数户数
    mean: str  # 户均从业人数


def share(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """100 × part / whole, two decimals; empty when the whole is 0."""
    return pl.when(whole > 0).then((100 * part / whole).round(2)).otherwise(None)


def cube(outcomes: pl.LazyFrame, measures: list[Measure]) -> pl.DataFrame:
    """The one pass over a run's outcomes the other tables are cut from: businesses per
    outcome, district and industry section, with the sum of each measure and the number of
    businesses that have a value for it (`<column>_sum`, `<column>_n`)."""
    aggs = [pl.len().cast(pl.Int64).alias("n")]
    for m in measures:
        aggs += [
            pl.col(m.column).sum().cast(pl.Int64).alias(f"{m.column}_sum"),
            pl.col(m.column).count().cast(pl.Int64).alias(f"{m.column}_n"),
        ]
    return (
        outcomes.select(
            "tier",
            pl.col("region_code").cast(pl.String),
            industry_section(pl.col("industry_code")),
            *(pl.col(m.column) for m in measures),
        )
        .group_by("tier", "region_code", "section")
        .agg(aggs)
        .collect()
    )


def _wide(frame: pl.DataFrame, keys: list[str], value: str) -> pl.DataFrame:
    """One row per key, one column per outcome (every outcome present, 0 when none), then the
    typed total, the excluded and the total."""
    grid = frame.group_by([*keys, "tier"]).agg(pl.col(value).sum())
    wide = grid.pivot(on="tier", index=keys, values=value)
    for t in OUTCOME_ORDER:
        if t not in wide.columns:
            wide = wide.with_columns(pl.lit(0, pl.Int64).alias(t))
    return wide.with_columns(pl.col(*OUTCOME_ORDER).fill_null(0).cast(pl.Int64)).select(
        *keys,
        *(pl.col(t).alias(TIER_LABELS[t]) for t in TIERS),
        pl.sum_horizontal(*TIERS).alias(TYPED_TOTAL),
        pl.col(EXCLUDED).alias(TIER_LABELS[EXCLUDED]),
        pl.sum_horizontal(*OUTCOME_ORDER).alias(TOTAL),
    )


def _with_total(table: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """`table` and a last row summing its numeric columns (text columns from `labels`, else
    empty; share columns recomputed by the caller)."""
    total = table.select(
        pl.lit(labels.get(c, ""), pl.String).alias(c)
        if table.schema[c] == pl.String
        else pl.col(c).sum().cast(table.schema[c]).alias(c)
        for c in table.columns
    )
    return pl.concat([table, total])


def _tier_shares(table: pl.DataFrame) -> pl.DataFrame:
    return table.with_columns(
        share(pl.col(TIER_LABELS[t]), pl.col(TYPED_TOTAL)).alias(col)
        for t, col in zip(TIERS, SHARE_COLUMNS, strict=True)
    )


def tier_shares(cube: pl.DataFrame) -> pl.DataFrame:
    """分型 | 户数 | 占全部户数(%) | 占参与分型户数(%): the three tiers, their total, the excluded,
    the total."""
    wide = _wide(cube.with_columns(pl.lit(1).alias("_k")), ["_k"], "n").drop("_k")
    counts = wide.row(0, named=True) if wide.height else {}
    labels = [TIER_LABELS[t] for t in TIERS] + [TYPED_TOTAL, TIER_LABELS[EXCLUDED], TOTAL]
    frame = pl.DataFrame(
        {"分型": labels, "户数": [int(counts.get(lab, 0)) for lab in labels]},
        schema={"分型": pl.String, "户数": pl.Int64},
    )
    typed = int(counts.get(TYPED_TOTAL, 0))
    total = int(counts.get(TOTAL, 0))
    in_typing = pl.col("分型").is_in([*(TIER_LABELS[t] for t in TIERS), TYPED_TOTAL])
    return frame.with_columns(
        share(pl.col("户数"), pl.lit(total)).alias("占全部户数(%)"),
        pl.when(in_typing)
        .then(share(pl.col("户数"), pl.lit(typed)))
        .otherwise(None)
        .alias("占参与分型户数(%)"),
    )


def _district_order(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("region_code", nulls_last=True).select(
        pl.col("region_code").alias(CODE),
        region_name(pl.col("region_code")).alias(DISTRICT),
        pl.exclude("region_code"),
    )


def tiers_by_district(cube: pl.DataFrame) -> pl.DataFrame:
    """Per district: businesses per outcome and the tiers' shares among its typed businesses;
    a last row 合计."""
    table = _district_order(_wide(cube, ["region_code"], "n"))
    return _tier_shares(_with_total(table, {DISTRICT: TOTAL}))


def tiers_by_section(cube: pl.DataFrame) -> pl.DataFrame:
    """Per GB/T 4754 section: businesses per outcome and the tiers' shares among its typed
    businesses; a last row 合计."""
    table = (
        _wide(cube, ["section"], "n")
        .sort(pl.col("section") == UNKNOWN, "section")
        .select(
            pl.col("section").replace(UNKNOWN, "").alias(SECTION),
            section_label(pl.col("section")).alias(SECTION_NAME),
            pl.exclude("section"),
        )
    )
    return _tier_shares(_with_total(table, {SECTION_NAME: TOTAL}))


# ---- transitions ---------------------------------------------------------------------------


def transition_pairs(before: pl.LazyFrame, after: pl.LazyFrame) -> pl.DataFrame:
    """Businesses per (district, outcome before or 新增, outcome after or 消失, change kind),
    from both runs' outcome files: a business in either run is counted once, in this run's
    district (the earlier run's when it is gone)."""
    left = before.select("uscc", pl.col("tier").alias("b"), pl.col("region_code").alias("rb"))
    right = after.select("uscc", pl.col("tier").alias("a"), pl.col("region_code").alias("ra"))
    joined = left.join(right, on="uscc", how="full", coalesce=True).select(
        pl.coalesce("ra", "rb").cast(pl.String).alias("region_code"),
        pl.col("b").fill_null(NEW).alias("before"),
        pl.col("a").fill_null(GONE).alias("after"),
    )
    pairs = joined.group_by("region_code", "before", "after").agg(
        pl.len().cast(pl.Int64).alias("n")
    )
    rank_b = pl.col("before").replace_strict(_RANK, default=None, return_dtype=pl.Int32)
    rank_a = pl.col("after").replace_strict(_RANK, default=None, return_dtype=pl.Int32)
    kind = (
        pl.when(pl.col("before") == NEW)
        .then(pl.lit(NEW))
        .when(pl.col("after") == GONE)
        .then(pl.lit(GONE))
        .when(pl.col("before") == pl.col("after"))
        .then(pl.lit(SAME))
        .when(pl.col("before") == EXCLUDED)
        .then(pl.lit("in"))
        .when(pl.col("after") == EXCLUDED)
        .then(pl.lit("out"))
        .when(rank_a > rank_b)
        .then(pl.lit("up"))
        .otherwise(pl.lit("down"))
    )
    return pairs.with_columns(kind.alias("kind")).collect()


def transition_matrix(pairs: pl.DataFrame) -> pl.DataFrame:
    """上次\\本次: rows the earlier run's outcomes and 新增, columns this run's outcomes and 消失,
    every cell present (0 when empty), a 合计 column (the earlier run's count per outcome) and a
    合计 row (this run's count per outcome)."""
    grid = pl.DataFrame({"before": list(ROW_STATES)}).join(
        pl.DataFrame({"after": list(COLUMN_STATES)}), how="cross"
    )
    cells = grid.join(
        pairs.group_by("before", "after").agg(pl.col("n").sum()),
        on=["before", "after"],
        how="left",
    ).with_columns(pl.col("n").fill_null(0).cast(pl.Int64))
    order = {s: i for i, s in enumerate(ROW_STATES)}
    wide = (
        cells.pivot(on="after", index="before", values="n", sort_columns=False)
        .sort(pl.col("before").replace_strict(order, return_dtype=pl.Int32))
        .select(
            pl.col("before")
            .replace_strict(STATE_LABELS, return_dtype=pl.String)
            .alias("上次\\本次"),
            *(pl.col(s).alias(STATE_LABELS[s]) for s in COLUMN_STATES),
        )
    )
    wide = wide.with_columns(pl.sum_horizontal(STATE_LABELS[s] for s in COLUMN_STATES).alias(TOTAL))
    return _with_total(wide, {"上次\\本次": TOTAL})


def moves_by_district(pairs: pl.DataFrame) -> pl.DataFrame:
    """Per district: businesses in the earlier run and in this one, unchanged, and per change
    kind (新增 消失 升型 降型 纳入分型 退出分型); a last row 合计."""
    per = pairs.group_by("region_code").agg(
        pl.col("n").filter(pl.col("before") != NEW).sum().alias("上次户数"),
        pl.col("n").filter(pl.col("after") != GONE).sum().alias("本次户数"),
        pl.col("n").filter(pl.col("kind") == SAME).sum().alias("未变"),
        *(
            pl.col("n").filter(pl.col("kind") == k).sum().alias(CHANGE_LABELS[k])
            for k in CHANGE_KINDS
        ),
    )
    numeric = ["上次户数", "本次户数", "未变", *(CHANGE_LABELS[k] for k in CHANGE_KINDS)]
    table = _district_order(per.with_columns(pl.col(numeric).cast(pl.Int64)))
    return _with_total(table, {DISTRICT: TOTAL})


# ---- employment ----------------------------------------------------------------------------


def employment_by_tier(cube: pl.DataFrame, measures: list[Measure]) -> pl.DataFrame:
    """分型 | 户数 | per measure: its sum, the businesses with a value, the mean among them —
    per outcome, the typed total, and the total."""
    sums = ["n", *(f"{m.column}_{p}" for m in measures for p in ("sum", "n"))]
    per = cube.group_by("tier").agg(pl.col(sums).sum())
    rows = []
    for label, tiers in (
        *((TIER_LABELS[t], [t]) for t in TIERS),
        (TYPED_TOTAL, list(TIERS)),
        (TIER_LABELS[EXCLUDED], [EXCLUDED]),
        (TOTAL, list(OUTCOME_ORDER)),
    ):
        rows.append(
            per.filter(pl.col("tier").is_in(tiers))
            .select(pl.col(sums).sum().cast(pl.Int64))
            .with_columns(pl.lit(label).alias("分型"))
        )
    frame = pl.concat(rows)
    columns = [pl.col("分型"), pl.col("n").alias("户数")]
    for m in measures:
        total, counted = pl.col(f"{m.column}_sum"), pl.col(f"{m.column}_n")
        columns += [
            total.alias(f"{m.label}合计"),
            counted.alias(m.counted),
            pl.when(counted > 0).then((total / counted).round(2)).alias(m.mean),
        ]
    return frame.select(columns)


def employment_by_district(cube: pl.DataFrame, measure: Measure) -> pl.DataFrame:
    """Per district: the sum of one measure per outcome, the typed total, the total; a last row
    合计."""
    table = _district_order(_wide(cube, ["region_code"], f"{measure.column}_sum"))
    return _with_total(table, {DISTRICT: TOTAL})


# ---- trend, exclusions -------------------------------------------------------------------


def trend(runs: list[tuple[date, str, dict[str, int]]]) -> pl.DataFrame:
    """One row per run (date, kind in words, businesses per outcome): counts and the tiers'
    shares among typed businesses, oldest first."""
    frame = pl.DataFrame(
        {
            "批次日期": [d.isoformat() for d, _, _ in runs],
            "批次类型": [k for _, k, _ in runs],
            **{TIER_LABELS[t]: [c.get(t, 0) for _, _, c in runs] for t in OUTCOME_ORDER},
        },
        schema={"批次日期": pl.String, "批次类型": pl.String}
        | {TIER_LABELS[t]: pl.Int64 for t in OUTCOME_ORDER},
    )
    tiers = [TIER_LABELS[t] for t in TIERS]
    table = frame.select(
        "批次日期",
        "批次类型",
        *tiers,
        pl.sum_horizontal(tiers).alias(TYPED_TOTAL),
        pl.col(TIER_LABELS[EXCLUDED]),
        pl.sum_horizontal([*tiers, TIER_LABELS[EXCLUDED]]).alias(TOTAL),
    )
    return _tier_shares(table)


def exclusion_reasons(excluded: pl.LazyFrame, words: dict[str, str]) -> pl.DataFrame:
    """原因代码 | 原因 | 户数 | 占不参与分型户数(%): every reason of the excluded businesses (a
    business counted under each of its reasons), most frequent first; a last row with the
    excluded businesses, each counted once."""
    reasons = excluded.select(pl.col("reasons")).collect()
    businesses = reasons.height
    counts = (
        reasons.explode("reasons")
        .drop_nulls()
        .group_by("reasons")
        .agg(pl.len().cast(pl.Int64).alias("户数"))
        .sort(pl.col("户数"), pl.col("reasons"), descending=[True, False])
    )
    table = counts.select(
        pl.col("reasons").alias("原因代码"),
        pl.col("reasons")
        .replace_strict(words, default=pl.col("reasons"), return_dtype=pl.String)
        .alias("原因"),
        "户数",
    )
    last = pl.DataFrame(
        {"原因代码": [""], "原因": ["不参与分型户数(每户计一次)"], "户数": [businesses]},
        schema=table.schema,
    )
    table = pl.concat([table, last])
    return table.with_columns(
        share(pl.col("户数"), pl.lit(businesses)).alias("占不参与分型户数(%)")
    )


def reject_reasons(
    rejects: pl.LazyFrame, words: dict[str, str], extracts: dict[str, str]
) -> pl.DataFrame:
    """数据来源 | 原因代码 | 拒收原因 | 行数: rejected input rows per extract and reason; a last
    row 合计."""
    counts = (
        rejects.group_by("extract", "reason")
        .agg(pl.len().cast(pl.Int64).alias("行数"))
        .sort("extract", "reason")
        .collect()
    )
    table = counts.select(
        pl.col("extract")
        .replace_strict(extracts, default=pl.col("extract"), return_dtype=pl.String)
        .alias("数据来源"),
        pl.col("reason").alias("原因代码"),
        pl.col("reason")
        .replace_strict(words, default=pl.col("reason"), return_dtype=pl.String)
        .alias("拒收原因"),
        "行数",
    )
    return _with_total(table, {"数据来源": TOTAL})
