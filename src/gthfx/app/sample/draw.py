"""The 双随机 draw itself (SPEC §11), exactly as written there, over whole columns.

1. Every business of the run is in one stratum: district × tier, × credit-risk class when it has
   one (`region_code|tier|class`, `-` for none).
2. A business inspected on or after the draw date minus `exclude_inspected_within_months` is
   excluded; the others of its stratum are eligible (N).
3. The stratum's ratio is `risk_ratios[class]` for a business with a class, else
   `ratios[tier]`; none in the plan: the stratum draws nobody, and its row says so. n =
   ceil(ratio × N), in exact decimal arithmetic.
4. The eligible businesses of a stratum are ranked by the lowercase hex SHA-256 of the UTF-8 text
   `"{seed}|{uscc}"`, ascending; the first n are drawn, the next `reserve` (default n) are the
   reserve list, in order, for drawn businesses found closed.
5. Each drawn or reserve business gets `inspectors_per_business` inspectors of its district: the
   district's inspectors ranked by the SHA-256 of `"{seed}|{uscc}|{inspector_id}"`, ascending,
   the first ones not marked to recuse themselves from it.

The result depends on the inputs and the seed only — not on row order, threads or machine:
every ranking is by hash (ties, which SHA-256 makes practically impossible, fall back to the full
digest, then the code) and every output is sorted. Ranking sorts on the first 8 bytes of each
digest (a 64-bit integer); only when two of one stratum share them is the full digest used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl

from gthfx.app.sample.hashing import inspector_ranking, ticket_digests
from gthfx.app.sample.plan import SamplingPlan, drawn_count
from gthfx.vocab import EXCLUDED, TIERS

TIER_ORDER = (*TIERS, EXCLUDED)
PREFIX_BYTES = 8  # the digest bytes the ranking sorts on before falling back to the whole
PREFIX_TYPES = {1: pl.UInt8, 2: pl.UInt16, 4: pl.UInt32, 8: pl.UInt64}
NONE = "-"  # a stratum key's part for a business without a district or a class

STRATA_SCHEMA: dict[str, pl.DataType] = {
    "stratum": pl.String(),
    "region_code": pl.String(),
    "tier": pl.String(),
    "risk_class": pl.String(),
    "population": pl.UInt32(),
    "excluded": pl.UInt32(),
    "eligible": pl.UInt32(),
    "ratio": pl.String(),
    "drawn": pl.UInt32(),
    "reserve": pl.UInt32(),
    "short_of_inspectors": pl.UInt32(),
    "note": pl.String(),
}
TICKET_SCHEMA: dict[str, pl.DataType] = {
    "uscc": pl.String(),
    "region_code": pl.String(),
    "tier": pl.String(),
    "risk_class": pl.String(),
    "stratum": pl.String(),
    "rank": pl.UInt32(),
    "rank_hash": pl.String(),
    "inspectors": pl.List(pl.String()),
}


@dataclass(frozen=True)
class DrawInputs:
    """What a draw reads: every business of the run (`uscc, tier, region_code`), and, when given,
    credit-risk classes (`uscc, risk_class`), inspections (`uscc, inspected_on`) and
    inspectors (`inspector_id, region_code, recuse`)."""

    population: pl.DataFrame
    risk: pl.DataFrame | None = None
    inspections: pl.DataFrame | None = None
    inspectors: pl.DataFrame | None = None


@dataclass(frozen=True)
class Draw:
    """A draw's tables: the sample and the reserve list (TICKET_SCHEMA, by stratum and rank),
    the stratum table (STRATA_SCHEMA) and the eligible businesses (`stratum, uscc`)."""

    sample: pl.DataFrame
    reserve: pl.DataFrame
    strata: pl.DataFrame
    eligible: pl.DataFrame
    cutoff: date | None  # inspected on or after this day: not eligible


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier, or the month's last day when it has no
    such day (2024-08-31 − 6 months = 2024-02-29)."""
    total = day.year * 12 + (day.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover — some day of 28..31 exists


def stratum_key() -> pl.Expr:
    """`region_code|tier|risk_class`, with `-` for a missing district or class."""
    return pl.concat_str(
        pl.col("region_code").fill_null(NONE),
        pl.col("tier"),
        pl.col("risk_class").fill_null(NONE),
        separator="|",
    )


def ratio_of(plan: SamplingPlan, tier: str, risk_class: str | None) -> tuple[str | None, str]:
    """The stratum's ratio as exact decimal text (None: the plan has none), and where it comes
    from in the plan."""
    if risk_class is not None:
        key = f"risk_ratios.{risk_class}"
        ratio = plan.risk_ratios.get(risk_class)  # type: ignore[call-overload]
    else:
        key = f"ratios.{tier}"
        ratio = plan.ratios.get(tier)  # type: ignore[call-overload]
    return (None if ratio is None else str(ratio)), key


def _population(
    inputs: DrawInputs, plan: SamplingPlan, on: date
) -> tuple[pl.DataFrame, date | None]:
    frame = inputs.population.select("uscc", "tier", "region_code")
    if inputs.risk is not None:
        frame = frame.join(
            inputs.risk.select("uscc", "risk_class"), on="uscc", how="left", maintain_order="left"
        )
    else:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("risk_class"))
    months = plan.exclude_inspected_within_months
    cutoff = months_before(on, months) if months else None
    if cutoff is not None and inputs.inspections is not None and inputs.inspections.height:
        last = inputs.inspections.group_by("uscc").agg(pl.col("inspected_on").max())
        frame = frame.join(last, on="uscc", how="left", maintain_order="left").with_columns(
            (pl.col("inspected_on") >= cutoff).fill_null(False).alias("_excluded")
        )
    else:
        frame = frame.with_columns(pl.lit(False).alias("_excluded"))
    return frame.with_columns(stratum_key().alias("stratum")), cutoff


def _strata(frame: pl.DataFrame, plan: SamplingPlan) -> pl.DataFrame:
    """One row per stratum, in order (district, tier, class), with N, ratio, n and reserve."""
    order = {t: i for i, t in enumerate(TIER_ORDER)}
    groups = (
        frame.group_by("stratum", "region_code", "tier", "risk_class")
        .agg(
            pl.len().cast(pl.UInt32).alias("population"),
            pl.col("_excluded").sum().cast(pl.UInt32).alias("excluded"),
        )
        .with_columns(pl.col("tier").replace_strict(order, return_dtype=pl.UInt8).alias("_t"))
        .sort("region_code", "_t", "risk_class", nulls_last=True)
        .drop("_t")
    )
    rows = []
    for row in groups.iter_rows(named=True):  # one per stratum: a few hundred at most
        eligible = row["population"] - row["excluded"]
        ratio, key = ratio_of(plan, row["tier"], row["risk_class"])
        if ratio is None:
            drawn, reserve, note = 0, 0, f"no ratio in the plan ({key}): draws nobody"
        else:
            drawn = drawn_count(Decimal(ratio), eligible)
            wanted = drawn if plan.reserve is None else plan.reserve
            reserve, note = min(wanted, eligible - drawn), None
        rows.append(
            {
                **row,
                "eligible": eligible,
                "ratio": ratio,
                "drawn": drawn,
                "reserve": reserve,
                "short_of_inspectors": 0,
                "note": note,
            }
        )
    return pl.DataFrame(rows, schema=STRATA_SCHEMA, orient="row")


def _ranked(eligible: pl.DataFrame, seed: str, work: Path) -> pl.DataFrame:
    """The eligible businesses with `_stratum` (the stratum's number), sorted by stratum and
    ticket, with `rank` (1-based, within the stratum) and `digest`."""
    digests = ticket_digests(seed, eligible.get_column("uscc"), work)
    frame = eligible.with_columns(
        digests,
        digests.bin.slice(0, PREFIX_BYTES)
        .bin.reinterpret(dtype=PREFIX_TYPES[PREFIX_BYTES], endianness="big")
        .alias("_prefix"),
    ).sort("_stratum", "_prefix")
    tied = frame.select(
        (
            (pl.col("_prefix") == pl.col("_prefix").shift(1))
            & (pl.col("_stratum") == pl.col("_stratum").shift(1))
        ).any()
    ).item()
    if tied:  # two tickets of one stratum share their first bytes: order by the whole digest
        frame = frame.sort("_stratum", "digest", "uscc")
    return frame.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("_stratum").alias("rank")
    )


def draw(inputs: DrawInputs, plan: SamplingPlan, seed: str, on: date, work: Path) -> Draw:
    """Draw the sample of `plan` from the run's businesses at date `on` with `seed`; `work` is a
    folder for the hashing's files."""
    frame, cutoff = _population(inputs, plan, on)
    strata = _strata(frame, plan)
    numbered = strata.select(
        "stratum",
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_stratum"),
        pl.col("drawn").alias("_n"),
        (pl.col("drawn") + pl.col("reserve")).alias("_n_reserve"),
    )
    eligible = frame.filter(~pl.col("_excluded")).join(
        numbered, on="stratum", how="left", maintain_order="left"
    )
    ranked = _ranked(eligible, seed, work)
    chosen = ranked.filter(pl.col("rank") <= pl.col("_n_reserve")).with_columns(
        pl.col("digest").bin.encode("hex").alias("rank_hash")
    )
    wanted = plan.inspectors_per_business
    if inputs.inspectors is not None and wanted > 0:
        assigned = inspector_ranking(
            seed, chosen.select("uscc", "region_code"), inputs.inspectors, wanted, work
        )
        chosen = chosen.join(assigned, on="uscc", how="left", maintain_order="left")
    else:
        chosen = chosen.with_columns(pl.lit(None, pl.List(pl.String)).alias("inspectors"))
    chosen = chosen.with_columns(
        pl.col("inspectors").fill_null(pl.lit([], pl.List(pl.String)))
    ).sort("_stratum", "rank")
    tickets = [pl.col(c).cast(t) for c, t in TICKET_SCHEMA.items()]
    sample = chosen.filter(pl.col("rank") <= pl.col("_n")).select(tickets)
    reserve = chosen.filter(pl.col("rank") > pl.col("_n")).select(tickets)
    if wanted > 0:
        short = (
            sample.filter(pl.col("inspectors").list.len() < wanted).group_by("stratum").len("short")
        )
        strata = (
            strata.join(short, on="stratum", how="left", maintain_order="left")
            .with_columns(pl.col("short").fill_null(0).cast(pl.UInt32).alias("short_of_inspectors"))
            .drop("short")
        )
    eligible_list = (
        ranked.select("stratum", "uscc", "_stratum").sort("_stratum", "uscc").drop("_stratum")
    )
    return Draw(
        sample=sample,
        reserve=reserve,
        strata=strata.select(list(STRATA_SCHEMA)),
        eligible=eligible_list,
        cutoff=cutoff,
    )
