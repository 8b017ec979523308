"""The change log of a run: what changed since an earlier run, business by business, with the cause
in words.

`diff_outcomes` is a pure diff of two runs' outcomes (before, after) → one frame of changes;
`change_log` diffs a typed run against an earlier run folder, a range of codes at a time where
the run's tables live on disk.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from gthfx.engines.base import FileTable, FrameTable, Table, TypedRun
from gthfx.report.labels import cause_words
from gthfx.runs.reader import outcome_paths, read_outcomes_files
from gthfx.vocab import CHANGE_SCHEMA, EXCLUDED, TIERS

_RANK = {tier: i for i, tier in enumerate(TIERS)}


def _text(column: str) -> pl.Expr:
    """A readable value: whole numbers without '.0', missing as '空'."""
    col = pl.col(column)
    as_text = col.cast(pl.String)
    if_float = pl.when(
        col.cast(pl.Float64, strict=False).round(0) == col.cast(pl.Float64, strict=False)
    ).then(col.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False).cast(pl.String))
    return pl.coalesce(if_float, as_text, pl.lit("空"))


def all_new(after: pl.LazyFrame) -> pl.LazyFrame:
    """A first run's change log: every business of `after` (sorted by `uscc`) is `new`."""
    return after.select(
        "uscc",
        "region_code",
        pl.lit(None, pl.String).alias("tier_before"),
        pl.col("tier").alias("tier_after"),
        pl.lit("new").alias("change"),
        pl.lit(None, pl.String).alias("rule_before"),
        pl.col("rule_id").alias("rule_after"),
        (pl.lit("本次新出现; 规则 ") + pl.col("rule_id")).alias("cause"),
    ).cast(CHANGE_SCHEMA)  # type: ignore[arg-type]


def diff_outcomes(
    before: pl.DataFrame | None,
    after: pl.DataFrame | pl.LazyFrame,
    indicators: list[str],
    words: dict[str, str] | None = None,
) -> pl.DataFrame:
    """Businesses whose outcome differs between two runs, with the cause in words.

    Both frames hold one row per business with `uscc`, `tier`, `rule_id`, `reasons`,
    `region_code` and any of `indicators`. Unchanged businesses (same tier, or excluded in both)
    are left out. Sorted by `uscc`. `words` gives the Chinese for indicator names and reason
    codes (see `labels`); without it the causes use the ids.
    """
    words = words or {}
    # a query (the outcome tables of a typed run) is read for the columns each step needs
    # only: the outcomes are never copied whole
    after = after.lazy()
    if before is None or before.height == 0:  # a first run: every business is new
        new = all_new(after).collect()
        # outcomes come sorted by code (`pipeline.type_joined`): sorting again would copy every
        # column of the change log for nothing
        return new if new.get_column("uscc").is_sorted() else new.sort("uscc")
    after_columns = after.collect_schema().names()
    shared = [c for c in indicators if c in before.columns and c in after_columns]
    # first only the keys and tiers of both runs; the other columns are joined to the changed
    # businesses alone (most businesses keep their tier)
    key = ["uscc", "tier", "rule_id", "region_code"]
    left = before.select(key).rename({c: f"{c}__before" for c in key if c != "uscc"})
    right = after.select(key).rename({c: f"{c}__after" for c in key if c != "uscc"}).collect()
    both = left.join(right, on="uscc", how="full", coalesce=True)

    tb, ta = pl.col("tier__before"), pl.col("tier__after")
    rank_b = tb.replace_strict(_RANK, default=None, return_dtype=pl.Int8)
    rank_a = ta.replace_strict(_RANK, default=None, return_dtype=pl.Int8)
    change = (
        pl.when(tb.is_null())
        .then(pl.lit("new"))
        .when(ta.is_null())
        .then(pl.lit("gone"))
        .when((tb == EXCLUDED) & (ta != EXCLUDED))
        .then(pl.lit("in"))
        .when((tb != EXCLUDED) & (ta == EXCLUDED))
        .then(pl.lit("out"))
        .when(rank_a > rank_b)
        .then(pl.lit("up"))
        .when(rank_a < rank_b)
        .then(pl.lit("down"))
    )
    both = both.with_columns(change.alias("change")).filter(pl.col("change").is_not_null())

    moved = [
        pl.when(pl.col(f"{c}__before").ne_missing(pl.col(f"{c}__after"))).then(
            pl.lit(f"{words.get(c, c)} ")
            + _text(f"{c}__before")
            + pl.lit(" → ")
            + _text(f"{c}__after")
        )
        for c in shared
    ]
    values = (
        pl.concat_list(moved).list.drop_nulls().list.join("; ") if moved else pl.lit("", pl.String)
    )
    rule_words = (
        pl.lit("规则 ")
        + pl.col("rule_id__before").fill_null("—")
        + pl.lit(" → ")
        + pl.col("rule_id__after").fill_null("—")
    )
    simple_cause = (
        pl.when(pl.col("change") == "new")
        .then(pl.lit("本次新出现; 规则 ") + pl.col("rule_id__after"))
        .when(pl.col("change") == "gone")
        .then(pl.lit("本次年报数据中无此户"))
        .otherwise(
            pl.lit("不参与分型: ")
            + pl.col("reasons__after").list.eval(pl.element().replace(words)).list.join(", ")
        )
    )
    moved_cause = (
        pl.when(values.str.len_chars() > 0)
        .then(rule_words + pl.lit("; ") + values)
        .otherwise(rule_words)
    )
    # the value-by-value comparison only for businesses that moved between tiers: on a first
    # run every business is `new`, and comparing nothing with everything would cost the most
    is_move = pl.col("change").is_in(["up", "down", "in"])
    movers = both.filter(is_move)
    values_before = before.select("uscc", *shared).rename({c: f"{c}__before" for c in shared})
    values_after = after.select("uscc", *shared).rename({c: f"{c}__after" for c in shared})
    movers = movers.join(
        values_before.join(movers.select("uscc"), on="uscc", how="semi"), on="uscc", how="left"
    ).join(
        values_after.join(movers.lazy().select("uscc"), on="uscc", how="semi").collect(),
        on="uscc",
        how="left",
    )
    rest = both.filter(~is_move)
    outs = rest.select("uscc").filter(rest.get_column("change") == "out")
    reasons_after = after.select("uscc", pl.col("reasons").alias("reasons__after"))
    rest = rest.join(
        reasons_after.join(outs.lazy(), on="uscc", how="semi").collect(), on="uscc", how="left"
    )
    parts = [
        movers.with_columns(moved_cause.alias("cause")).select(*both.columns, "cause"),
        rest.with_columns(simple_cause.alias("cause")).select(*both.columns, "cause"),
    ]
    return (
        pl.concat(parts, how="vertical")
        .select(
            "uscc",
            pl.coalesce("region_code__after", "region_code__before").alias("region_code"),
            tb.alias("tier_before"),
            ta.alias("tier_after"),
            "change",
            pl.col("rule_id__before").alias("rule_before"),
            pl.col("rule_id__after").alias("rule_after"),
            "cause",
        )
        .cast(CHANGE_SCHEMA)  # type: ignore[arg-type]
        .sort("uscc")
    )


CHANGE_CHUNK = 2_000_000  # businesses per range of codes when a run's tables live on disk
SAMPLE = 100_000  # codes sampled (by hash, streamed) to cut the ranges


def change_log(before: Path | None, run: TypedRun, work: Path) -> Table:
    """The change log of a typed run against the run folder `before` (None: a first run, every
    business `new`). Tables in memory are diffed whole; a run whose tables live on disk and that
    holds more than CHANGE_CHUNK businesses is diffed a range of codes at a time (ranges cut at
    codes sampled from the run), written into `work`: the same change log, never both runs
    whole in memory."""
    words = cause_words(run.compiled, run.sources)
    indicators = run.compiled.indicators
    before_files = outcome_paths(before) if before is not None else []
    if run.in_memory() and not before_files:
        # a query, not a copy: streamed into its file when written (10 M rows: ~1 GB held less)
        return FrameTable(all_new(run.all_outcomes()))
    if run.in_memory() or run.businesses <= CHANGE_CHUNK:
        previous = read_outcomes_files(before_files) if before_files else None
        return FrameTable(diff_outcomes(previous, run.all_outcomes(), indicators, words))
    tables = list(run.outcomes.values())
    every = max(1, run.businesses // SAMPLE)
    sample = (
        pl.concat([t.lazy().select("uscc") for t in tables])
        .filter(pl.col("uscc").hash(seed=20240701) % every == 0)
        .sort("uscc")
        .collect(engine="streaming")
        .get_column("uscc")
        .to_list()
    )
    per = max(1, run.businesses // CHANGE_CHUNK)
    cuts = sorted({sample[len(sample) * k // per] for k in range(1, per)}) if sample else []
    bounds: list[tuple[str | None, str | None]] = list(
        zip([None, *cuts], [*cuts, None], strict=True)
    )
    folder = work / "changes"
    folder.mkdir()
    parts = []
    befores = [pl.scan_parquet(p) for p in before_files]
    # a first run lists every business as new from four columns: only those are read
    first = FIRST_RUN_COLUMNS if not befores else None
    for index, (low, high) in enumerate(bounds):
        after = _range([t.lazy() for t in tables], low, high, first).sort("uscc")
        previous = _range(befores, low, high) if befores else None
        part = folder / f"part-{index:06d}.parquet"
        diff_outcomes(previous, after, indicators, words).write_parquet(part)
        parts.append(part)
    path = work / "changes.parquet"
    pl.scan_parquet(parts).sink_parquet(path, compression="zstd")
    return FileTable(path)


FIRST_RUN_COLUMNS = ("uscc", "region_code", "tier", "rule_id")  # what a first run's log reads


def _range(
    queries: list[pl.LazyFrame],
    low: str | None,
    high: str | None,
    columns: tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """The outcomes of codes in [low, high) from several outcome tables (only `columns`, when
    given)."""
    if columns is not None:
        queries = [q.select(columns) for q in queries]
    keep = pl.lit(True)
    if low is not None:
        keep = keep & (pl.col("uscc") >= low)
    if high is not None:
        keep = keep & (pl.col("uscc") < high)
    return pl.concat([q.filter(keep).collect() for q in queries], how="diagonal_relaxed")


def change_counts(changes: Table) -> dict[str, int]:
    """Changed businesses per kind of change (new, gone, up, down, in, out)."""
    counts = changes.lazy().group_by("change").len().sort("change").collect()
    return {k: n for k, n in counts.iter_rows()}
