"""The screening and evaluation logic of SPEC §10 over frames — pure: frames in, frames out,
vectorised, never I/O.

    applications → entries (one per business and category)
    evidence, records → item fields at the date → indicators per business
    entries + run facts + indicators → conditions, exclusions, criteria → reasons, criteria_met
    eligible entries → ranked per district → the quota → eligible / over_quota

Reasons come in one order: failed conditions (criteria file order), exclusions that hit, then —
only when no criterion of the entry's category holds — each of that category's criteria.
"""

from __future__ import annotations

from fractions import Fraction

import polars as pl

from gthfx.app.categories.dates import years_before
from gthfx.rules.criteria import BUSINESS_COLUMNS, WINDOW_START, CompiledCriteria
from gthfx.vocab import CATEGORIES

ELIGIBLE, INELIGIBLE, OVER_QUOTA = "eligible", "ineligible", "over_quota"
RESULT_LABELS = {ELIGIBLE: "符合条件", INELIGIBLE: "不符合条件", OVER_QUOTA: "超出名额"}
TIER_RANK = {"development": 2, "growth": 1, "survival": 0}
CATEGORY_ORDER = pl.Enum(list(CATEGORIES))
GONE = "gone"  # evaluation: the business is no longer in the run

_KINDS: dict[str, pl.DataType] = {
    "bool": pl.Boolean(),
    "number": pl.Float64(),
    "text": pl.String(),
    "date": pl.Date(),
}


def entries_from_applications(applications: pl.DataFrame, recommended_route: str) -> pl.DataFrame:
    """One entry per business and category applied for. When several application rows name the
    same business and category, the row of a valid recommendation (部门推荐 with consent) wins,
    then one with a special group, then the earliest application date, then file order."""
    exploded = applications.explode("categories").rename({"categories": "category"})
    valid_rec = (pl.col("route") == recommended_route) & pl.col("consent").fill_null(False)
    return (
        exploded.sort(
            valid_rec,
            pl.col("special_group").is_not_null(),
            "applied_on",
            "_file",
            "_row",
            descending=[True, True, False, False, False],
            nulls_last=True,
        )
        .unique(["uscc", "category"], keep="first", maintain_order=True)
        .with_columns(pl.col("category").cast(CATEGORY_ORDER))
        .sort("uscc", "category")
        .with_columns(pl.col("category").cast(pl.String))
    )


def with_item_fields(items: pl.DataFrame, extract: str, compiled: CompiledCriteria) -> pl.DataFrame:
    """Items (evidence or records) with `window_start` and the criteria's item fields at the
    compiled date."""
    years = int(compiled.criteria_file.parameter("exclusion_years"))
    out = items.with_columns(pl.lit(years_before(compiled.on, years)).alias(WINDOW_START))
    for _, expr in compiled.item_fields[extract]:  # in order: a field may read an earlier one
        out = out.with_columns(expr)
    return out


def indicator_values(
    evidence: pl.DataFrame, records: pl.DataFrame, compiled: CompiledCriteria
) -> pl.DataFrame:
    """Per business with any item: `uscc` and one column per indicator (missing where the
    business has no item of that source; see `fill_indicators`)."""
    frames = {
        "evidence": with_item_fields(evidence, "evidence", compiled),
        "records": with_item_fields(records, "records", compiled),
    }
    out: pl.DataFrame | None = None
    for source, frame in frames.items():
        aggs: list[pl.Expr] = []
        for ind in compiled.indicators:
            if ind.source != source:
                continue
            if ind.aggregate == "any":
                aggs.append(ind.when.any().alias(ind.id))
            elif ind.aggregate == "count":
                aggs.append(ind.when.sum().cast(pl.Int64).alias(ind.id))
            else:
                assert ind.value is not None
                aggs.append(ind.value.filter(ind.when).max().cast(pl.Float64).alias(ind.id))
        if not aggs:
            continue
        part = frame.group_by("uscc").agg(aggs)
        out = part if out is None else out.join(part, on="uscc", how="full", coalesce=True)
    if out is None:
        return pl.DataFrame(schema={"uscc": pl.String})
    return out


def fill_indicators(frame: pl.DataFrame, compiled: CompiledCriteria) -> pl.DataFrame:
    """No item: `any` is false, `count` is 0, `max` stays missing."""
    fills = []
    for ind in compiled.indicators:
        col = pl.col(ind.id) if ind.id in frame.columns else pl.lit(None)
        if ind.aggregate == "any":
            fills.append(col.cast(pl.Boolean).fill_null(False).alias(ind.id))
        elif ind.aggregate == "count":
            fills.append(col.cast(pl.Int64).fill_null(0).alias(ind.id))
        else:
            fills.append(col.cast(pl.Float64).alias(ind.id))
    return frame.with_columns(fills)


def business_frame(
    entries: pl.DataFrame,
    facts: pl.DataFrame,
    indicators: pl.DataFrame,
    records_rejected: pl.DataFrame,
    compiled: CompiledCriteria,
) -> pl.DataFrame:
    """Entries joined with the run's facts (`in_run` false where the business is not in the
    run), the indicators and the count of the business's rejected record rows."""
    out = (
        entries.join(facts, on="uscc", how="left")
        .join(indicators, on="uscc", how="left")
        .join(records_rejected, on="uscc", how="left")
        .with_columns(
            pl.col("in_run").fill_null(False),
            pl.col("serious_dishonest").fill_null(False),
            pl.col("records_rejected").fill_null(0),
        )
    )
    missing = [
        pl.lit(None, _KINDS[kind]).alias(name)
        for name, kind in BUSINESS_COLUMNS.items()
        if name not in out.columns
    ]
    return fill_indicators(out.with_columns(missing), compiled)


def judge(frame: pl.DataFrame, compiled: CompiledCriteria, *, evaluation: bool) -> pl.DataFrame:
    """Add `reasons` (every failed condition, every exclusion that hits, and the category's
    criteria when none holds), `criteria_met` and `criteria_count`. At an evaluation, the
    conditions marked `evaluation: false` are not checked, and `not_typed` of a business gone from
    the run reads `gone`."""
    words: list[pl.Expr] = []
    for cond_id, holds, at_evaluation in compiled.conditions:
        if evaluation and not at_evaluation:
            continue
        word = pl.lit(cond_id)
        if evaluation and cond_id == "not_typed":
            word = pl.when(pl.col("in_run")).then(word).otherwise(pl.lit(GONE))
        words.append(pl.when(~holds).then(word))
    words += [pl.when(hits).then(pl.lit(x_id)) for x_id, hits in compiled.exclusions]
    category = pl.col("category")
    met = [(category == cat) & holds for _, cat, holds in compiled.criteria]
    none_met = ~pl.any_horizontal(met)
    words += [
        pl.when((category == cat) & none_met).then(pl.lit(c_id))
        for c_id, cat, _ in compiled.criteria
    ]
    met_words = [
        pl.when(m).then(pl.lit(c_id))
        for (c_id, _, _), m in zip(compiled.criteria, met, strict=True)
    ]
    empty = pl.lit([], pl.List(pl.String))
    return frame.with_columns(
        (pl.concat_list(words).list.drop_nulls() if words else empty).alias("reasons"),
        pl.concat_list(met_words).list.drop_nulls().alias("criteria_met"),
    ).with_columns(pl.col("criteria_met").list.len().cast(pl.Int64).alias("criteria_count"))


def quota_table(base: pl.DataFrame, share: float, minimum: int) -> pl.DataFrame:
    """Per district: `base` and `quota` = max(minimum, ⌊share × base⌋), computed exactly (5 % of
    60 is 3, never 2 from 2.9999…)."""
    exact = Fraction(str(share))
    return base.with_columns(
        pl.max_horizontal(
            pl.lit(minimum, pl.Int64),
            (pl.col("base") * exact.numerator) // exact.denominator,
        ).alias("quota")
    )


def apply_quota(frame: pl.DataFrame, quotas: pl.DataFrame, minimum: int) -> pl.DataFrame:
    """Rank the entries without reasons per district — criteria met (more first), tier
    (development first), years in business (more first), `uscc`, then category (known,
    distinctive, quality, emerging) — and keep the first `quota`; the rest are `over_quota`.
    Adds `rank`, `quota`, `base` and `result`."""
    passed = pl.col("reasons").list.len() == 0
    ranked = (
        frame.filter(passed)
        .select(
            "uscc",
            "category",
            "region_code",
            pl.col("criteria_count"),
            pl.col("tier").replace_strict(TIER_RANK, default=-1, return_dtype=pl.Int64).alias("_t"),
            pl.col("years_in_business").alias("_y"),
            pl.col("category").cast(CATEGORY_ORDER).alias("_c"),
        )
        .sort(
            "criteria_count",
            "_t",
            "_y",
            "uscc",
            "_c",
            descending=[True, True, True, False, False],
            nulls_last=True,
        )
        .with_columns((pl.int_range(pl.len()).over("region_code") + 1).cast(pl.Int64).alias("rank"))
        .select("uscc", "category", "rank")
    )
    out = (
        frame.join(ranked, on=["uscc", "category"], how="left")
        .join(
            quotas.select("region_code", "base", "quota"),
            on="region_code",
            how="left",
            nulls_equal=True,
        )
        .with_columns(
            pl.col("base").fill_null(0),
            pl.col("quota").fill_null(minimum),
        )
    )
    within = pl.col("rank") <= pl.col("quota")
    return out.with_columns(
        pl.when(~passed)
        .then(pl.lit(INELIGIBLE))
        .when(within)
        .then(pl.lit(ELIGIBLE))
        .otherwise(pl.lit(OVER_QUOTA))
        .alias("result"),
        pl.when(passed & ~within)
        .then(pl.lit([OVER_QUOTA], pl.List(pl.String)))
        .otherwise(pl.col("reasons"))
        .alias("reasons"),
    )


def sort_entries(frame: pl.DataFrame) -> pl.DataFrame:
    """By `uscc`, then category in the order known, distinctive, quality, emerging."""
    return (
        frame.with_columns(pl.col("category").cast(CATEGORY_ORDER).alias("_c"))
        .sort("uscc", "_c")
        .drop("_c")
    )


def records_rejected(rejects: pl.DataFrame) -> pl.DataFrame:
    """Per business: how many of its record rows were rejected for their values (a record that
    cannot be read could hide an exclusion). Rows whose code is unusable name no business."""
    return (
        rejects.filter(pl.col("uscc").is_not_null() & (pl.col("field") != "uscc"))
        .group_by("uscc")
        .agg(pl.len().cast(pl.Int64).alias("records_rejected"))
    )


def screen_entries(
    entries: pl.DataFrame,
    evidence: pl.DataFrame,
    records: pl.DataFrame,
    rejected: pl.DataFrame,
    facts: pl.DataFrame,
    quotas: pl.DataFrame,
    compiled: CompiledCriteria,
) -> pl.DataFrame:
    """Screen entries (see `entries_from_applications`) at the compiled date: one row per entry
    with the run's facts, the indicators, `reasons`, `criteria_met`, `criteria_count`, `rank`,
    `quota`, `base` and `result`, sorted by `uscc` and category. `rejected` is
    `records_rejected` of the records extract; `quotas` is `quota_table` of the run."""
    codes = entries.get_column("uscc").unique().implode()
    values = indicator_values(
        evidence.filter(pl.col("uscc").is_in(codes)),
        records.filter(pl.col("uscc").is_in(codes)),
        compiled,
    )
    frame = business_frame(entries, facts, values, rejected, compiled)
    judged = judge(frame, compiled, evaluation=False)
    minimum = int(compiled.criteria_file.parameter("quota_minimum"))
    return sort_entries(apply_quota(judged, quotas, minimum))
