"""`gthfx diff`: compare two run folders — the transition matrix (overall and by district), the
counts per change kind, and the list of changed businesses with their cause. Never prints.

Causes, "where the runs know it":
- every change gets the cause `diff.diff_outcomes` computes from the two runs' outcome files
  (rules before → after and every indicator value that moved, or the reasons of an `out`);
- when RUN_B's manifest names RUN_A as its `previous_run` (or `base_run`, for a recheck), the
  cause RUN_B wrote into its own `changes.parquet` is preferred (a recheck names the correction
  or decision there);
- when RUN_B holds an audit trail (`audit.parquet`: uscc, kind, field, old, new, who, when, why;
  `old_value`/`new_value` are read as old/new), its entries for a business are added in the
  `review` column, whatever RUN_A is (they say what was done to RUN_B's inputs).
`cause_source` says which applies: `diff` or `changes.parquet`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from gthfx.errors import RunError
from gthfx.report.labels import COLUMN_HEADERS
from gthfx.report.regions import region_name
from gthfx.runs.changes import diff_outcomes
from gthfx.runs.reader import open_run
from gthfx.vocab import BASE_COLUMNS, CHANGE_LABELS, OUTCOME_ORDER, TIER_LABELS

NEW = "new"
GONE = "gone"
ROW_STATES: tuple[str, ...] = (*OUTCOME_ORDER, NEW)  # matrix rows: RUN_A's outcome, or new
COLUMN_STATES: tuple[str, ...] = (*OUTCOME_ORDER, GONE)  # matrix columns: RUN_B's, or gone
STATE_LABELS = {**TIER_LABELS, NEW: CHANGE_LABELS[NEW], GONE: CHANGE_LABELS[GONE]}
CHANGE_KINDS: tuple[str, ...] = tuple(CHANGE_LABELS)  # new, gone, up, down, in, out
AUDIT_FILE = "audit.parquet"
AUDIT_COLUMNS = ("uscc", "kind", "field", "old", "new", "who", "when", "why")
LIST_COLUMNS = (
    "uscc", "region_code", "district", "tier_before", "tier_after", "change", "rule_before",
    "rule_after", "cause", "cause_source", "review",
)  # fmt: skip

# the change log's columns keep the words of every other clerk table (`report.labels`)
HEADERS = {
    **{
        c: COLUMN_HEADERS[c]
        for c in (
            *("uscc", "region_code", "district", "tier_before", "tier_after", "change"),
            *("rule_before", "rule_after", "cause"),
        )
    },
    "cause_source": "原因来源",
    "review": "复核记录",
    "total_before": "上次户数",
    "total_after": "本次户数",
    "unchanged": "未变",
    "changed": "变动户数",
}


@dataclass
class Comparison:
    """Two runs compared: RUN_A (before) → RUN_B (after)."""

    run_a: Path
    run_b: Path
    transitions: pl.DataFrame  # tier_before (ROW_STATES), tier_after (COLUMN_STATES), count
    district_transitions: pl.DataFrame  # region_code, district, tier_before, tier_after, count
    districts: pl.DataFrame  # region_code, district, totals, unchanged, changed, one per kind
    counts: dict[str, int]  # per change kind, every kind present
    changes: pl.DataFrame  # LIST_COLUMNS, sorted by uscc
    notes: list[str] = field(default_factory=list)  # where the causes came from

    @property
    def changed(self) -> int:
        return self.changes.height


def _transitions(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """One row per business of either run: region, state before (or new), state after (or
    gone)."""
    left = before.select("uscc", pl.col("tier").alias("b"), pl.col("region_code").alias("rb"))
    right = after.select("uscc", pl.col("tier").alias("a"), pl.col("region_code").alias("ra"))
    return left.join(right, on="uscc", how="full", coalesce=True).select(
        pl.coalesce("ra", "rb").cast(pl.String).alias("region_code"),
        pl.col("b").fill_null(NEW).alias("tier_before"),
        pl.col("a").fill_null(GONE).alias("tier_after"),
    )


def _review(run_b: Path) -> pl.DataFrame | None:
    """The audit trail of RUN_B, one line of words per business, or None without one."""
    path = run_b / AUDIT_FILE
    if not path.exists():
        return None
    audit = pl.read_parquet(path)
    renames = {"old_value": "old", "new_value": "new"}  # recheck's spelling of old, new
    audit = audit.rename({k: v for k, v in renames.items() if k in audit.columns})
    missing = [c for c in AUDIT_COLUMNS if c not in audit.columns]
    if missing:
        raise RunError(f"{path}: missing column(s) {', '.join(missing)}")

    def text(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.String).fill_null("—")

    line = pl.concat_str(
        text("kind"),
        pl.lit(" "),
        text("field"),
        pl.lit(" "),
        text("old"),
        pl.lit(" → "),
        text("new"),
        pl.lit(" ("),
        text("who"),
        pl.lit(", "),
        text("when"),
        pl.lit(": "),
        text("why"),
        pl.lit(")"),
    )
    return (
        audit.with_columns(pl.col("uscc").cast(pl.String))
        .group_by("uscc", maintain_order=True)
        .agg(line.str.join("; ").alias("review"))
    )


def compare_runs(run_a: Path, run_b: Path) -> Comparison:
    """Compare RUN_A (before) with RUN_B (after). A missing or incomplete run folder is a
    `RunError`."""
    first, second = open_run(run_a), open_run(run_b)
    before = first.outcomes().collect()
    after = second.outcomes().collect()
    base = {*BASE_COLUMNS, "decided"}  # `decided`: a recheck's mark, not a value rules read
    indicators = [c for c in after.columns if c in before.columns and c not in base]
    changes = diff_outcomes(before, after, indicators).with_columns(
        pl.lit("diff").alias("cause_source")
    )
    notes: list[str] = []

    if second.compared_with(run_a):
        logged = run_b / "changes.parquet"
        named = second.manifest.base_run or second.manifest.previous_run
        own = (
            second.changes()
            .select(pl.col("uscc").cast(pl.String), pl.col("cause").cast(pl.String).alias("logged"))
            .collect()
        )
        changes = (
            changes.join(own, on="uscc", how="left")
            .with_columns(
                pl.coalesce("logged", "cause").alias("cause"),
                pl.when(pl.col("logged").is_not_null())
                .then(pl.lit("changes.parquet"))
                .otherwise(pl.col("cause_source"))
                .alias("cause_source"),
            )
            .drop("logged")
        )
        notes.append(f"causes from {logged} (its run was compared with {named})")
    review = _review(run_b)
    if review is not None:
        changes = changes.join(review, on="uscc", how="left")
        notes.append(f"review entries from {run_b / AUDIT_FILE}")
    else:
        changes = changes.with_columns(pl.lit(None, pl.String).alias("review"))
    changes = changes.with_columns(region_name(pl.col("region_code")).alias("district")).select(
        LIST_COLUMNS
    )

    per_business = _transitions(before, after)
    transitions = (
        per_business.group_by("tier_before", "tier_after")
        .len("count")
        .sort("tier_before", "tier_after")
    )
    district_transitions = (
        per_business.group_by("region_code", "tier_before", "tier_after")
        .len("count")
        .with_columns(region_name(pl.col("region_code")).alias("district"))
        .sort("region_code", "tier_before", "tier_after", nulls_last=True)
        .select("region_code", "district", "tier_before", "tier_after", "count")
    )
    kinds = changes.group_by("region_code").agg(
        pl.len().alias("changed"), *((pl.col("change") == k).sum().alias(k) for k in CHANGE_KINDS)
    )
    districts = (
        per_business.group_by("region_code")
        .agg(
            (pl.col("tier_before") != NEW).sum().alias("total_before"),
            (pl.col("tier_after") != GONE).sum().alias("total_after"),
            pl.len().alias("_either"),
        )
        .join(kinds, on="region_code", how="left", nulls_equal=True)
        .with_columns(pl.col("changed", *CHANGE_KINDS).fill_null(0))
        .with_columns(
            region_name(pl.col("region_code")).alias("district"),
            (pl.col("_either") - pl.col("changed")).alias("unchanged"),
        )
        .sort("region_code", nulls_last=True)
        .select(
            "region_code",
            "district",
            "total_before",
            "total_after",
            "unchanged",
            "changed",
            *CHANGE_KINDS,
        )
    )
    counts = {k: 0 for k in CHANGE_KINDS}
    for kind, n in changes.group_by("change").len().iter_rows():
        counts[kind] = n
    return Comparison(
        run_a=run_a,
        run_b=run_b,
        transitions=transitions,
        district_transitions=district_transitions,
        districts=districts,
        counts=counts,
        changes=changes,
        notes=notes,
    )


def matrix(transitions: pl.DataFrame) -> pl.DataFrame:
    """The transition matrix with Chinese labels: one row per state in RUN_A (and 新增), one
    column per state in RUN_B (and 消失), every cell present (0 when empty)."""
    grid = pl.DataFrame({"tier_before": list(ROW_STATES)}).join(
        pl.DataFrame({"tier_after": list(COLUMN_STATES)}), how="cross"
    )
    cells = grid.join(
        transitions.select("tier_before", "tier_after", "count"),
        on=["tier_before", "tier_after"],
        how="left",
    ).with_columns(pl.col("count").fill_null(0))
    wide = cells.pivot(
        on="tier_after", index="tier_before", values="count", sort_columns=False
    ).select("tier_before", *COLUMN_STATES)
    order = {s: i for i, s in enumerate(ROW_STATES)}
    return (
        wide.sort(pl.col("tier_before").replace_strict(order, return_dtype=pl.Int32))
        .with_columns(pl.col("tier_before").replace_strict(STATE_LABELS, return_dtype=pl.String))
        .rename({"tier_before": "上次\\本次", **{s: STATE_LABELS[s] for s in COLUMN_STATES}})
    )


def district_table(districts: pl.DataFrame) -> pl.DataFrame:
    """The by-district summary with Chinese headers."""
    return districts.rename({c: HEADERS.get(c, CHANGE_LABELS.get(c, c)) for c in districts.columns})


def change_table(changes: pl.DataFrame) -> pl.DataFrame:
    """The change list in words, with Chinese headers (for clerks and workbooks)."""
    order = LIST_COLUMNS
    return changes.select(
        pl.col("uscc"),
        pl.col("region_code"),
        pl.col("district"),
        pl.col("tier_before").replace(TIER_LABELS),
        pl.col("tier_after").replace(TIER_LABELS),
        pl.col("change").replace(CHANGE_LABELS),
        *(pl.col(c) for c in order[6:]),
    ).rename({c: HEADERS[c] for c in order})
