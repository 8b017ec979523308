"""One join of the validated extracts on `uscc`: one row per business of the annual extract."""

from __future__ import annotations

import polars as pl

from gthfx.ingest import uscc
from gthfx.ingest.validate import ValidatedExtract, bit_mask


def join_extracts(
    annual: ValidatedExtract,
    tax: ValidatedExtract,
    social: ValidatedExtract,
    *,
    consume: bool = False,
) -> pl.DataFrame:
    """Annual rows (and businesses whose annual rows conflict) left-joined with tax and social.

    Tax and social rows are already one per code and only for codes in annual (orphans were
    rejected), so the joins are 1:1 and checked as such. The result carries, per extract, the
    problem mask `_pm_<extract>` (0 where the business has no row) and `_conflict_<extract>`,
    plus `_has_annual` (false where the annual rows conflict) and `flags` (a check character
    that does not match, then a value of a field no rule reads that does not parse, see
    `validate.flag_reasons`). With `consume`, the
    annual rows are taken out of `annual` (left empty), so that their memory is the joined
    frame's and not held twice.
    """
    rows = annual.rows
    if consume:
        annual.rows = rows.clear()
    base = rows.rename({"_problem_mask": "_pm_annual"}).with_columns(
        pl.lit(True).alias("_has_annual"), pl.lit(False).alias("_conflict_annual")
    )
    conflicted = annual.conflicts.with_columns(
        pl.lit(False).alias("_has_annual"),
        pl.lit(True).alias("_conflict_annual"),
        uscc.status(pl.col("uscc")).alias("_code_status"),
        pl.lit(0, pl.UInt64).alias("_pm_annual"),
    )
    del rows
    joined = pl.concat([base, conflicted], how="diagonal_relaxed").drop("_file", "_row")
    del base
    # one contiguous chunk per column, made a column at a time (each old column freed at once
    # when the rows were consumed): left in two chunks, the expressions below would copy the
    # whole frame at once to align them
    joined = pl.DataFrame([joined.drop_in_place(name).rechunk() for name in joined.columns])
    keys = _keys(joined)
    for extract in (tax, social):
        rows = extract.rows.drop("_file", "_row", "_code_status").rename(
            {"_problem_mask": f"_pm_{extract.name}"}
        )
        # Join on the key alone and gather the other extract's columns by row position: the
        # (much wider) annual columns are never copied. Codes are unique on both sides.
        other = _keys(rows)
        on = "_key" if "_key" in keys.columns and "_key" in other.columns else "uscc"
        position = (
            keys.select(on)
            .join(
                other.select(on).with_row_index("_at"),
                on=on,
                how="left",
                validate="1:1",
                maintain_order="left",
            )
            .get_column("_at")
        )
        joined = joined.hstack(rows.drop("uscc").select(pl.all().gather(position))).with_columns(
            pl.col(f"_pm_{extract.name}").fill_null(0),
            pl.col("uscc")
            .is_in(extract.conflicts.get_column("uscc").implode())
            .alias(f"_conflict_{extract.name}"),
        )
    bits = [(e.name, bit, flag) for e in (annual, tax, social) for bit, flag in e.flag_bits]
    checks = [(pl.col("_code_status") == uscc.CHECK_MISMATCH, uscc.CHECK_MISMATCH)]
    checks += [((pl.col(f"_pm_{e}") & bit) != 0, flag) for e, bit, flag in bits]
    flags = _flag_lists(joined, checks)
    return joined.with_columns(flags).drop("_code_status")


def _keys(frame: pl.DataFrame) -> pl.DataFrame:
    """`uscc`, plus its 128-bit `_key` (`uscc.key`: integers join several times faster than
    strings) when every code has one — as every validated code does."""
    keys = frame.select("uscc", uscc.key(pl.col("uscc")).alias("_key"))
    return keys if keys.get_column("_key").null_count() == 0 else keys.drop("_key")


def _flag_lists(frame: pl.DataFrame, checks: list[tuple[pl.Expr, str]]) -> pl.Series:
    """`flags` for every row of `frame`: the words of the checks that hold, in order. A list per
    row built row by row cost seconds and gigabytes at ten million rows; the lists are built once
    per distinct combination of checks (there are few) and joined back, as the reasons are."""
    if len(checks) > 64:  # more flags than one mask holds (no mapping comes near): row by row
        words = [pl.when(check).then(pl.lit(word)) for check, word in checks]
        return frame.select(pl.concat_list(words).list.drop_nulls().alias("flags")).to_series()
    mask = frame.select(bit_mask([(k, check) for k, (check, _) in enumerate(checks)]).alias("_f"))
    words = [
        pl.when(pl.col("_f") & (1 << k) != 0).then(pl.lit(word))
        for k, (_, word) in enumerate(checks)
    ]
    combos = mask.unique().with_columns(pl.concat_list(words).list.drop_nulls().alias("flags"))
    return mask.join(
        combos, on="_f", how="left", maintain_order="left", nulls_equal=True
    ).get_column("flags")
