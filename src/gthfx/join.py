"""One join of the validated extracts on `uscc`: one row per business of the annual extract."""

from __future__ import annotations

import polars as pl

from gthfx import uscc
from gthfx.validate import CONFLICT, ValidatedExtract

EMPTY_LIST = pl.lit([], pl.List(pl.String))


def join_extracts(
    annual: ValidatedExtract, tax: ValidatedExtract, social: ValidatedExtract
) -> pl.DataFrame:
    """Annual rows (and businesses whose annual rows conflict) left-joined with tax and social.

    Tax and social rows are already one per code and only for codes in annual (orphans were
    rejected), so the joins are 1:1 and checked as such. The result carries `_problems` (every
    data problem of the business), `flags`, and `_has_annual`.
    """
    base = annual.rows.rename({"_problems": "_problems_annual"}).with_columns(
        pl.lit(True).alias("_has_annual")
    )
    conflicted = annual.conflicts.with_columns(
        pl.lit(False).alias("_has_annual"),
        uscc.status(pl.col("uscc")).alias("_code_status"),
        pl.lit([f"{CONFLICT}:annual"], pl.List(pl.String)).alias("_problems_annual"),
    )
    base = pl.concat([base, conflicted], how="diagonal_relaxed").drop("_file", "_row")

    joined = base
    problem_columns = ["_problems_annual"]
    for extract in (tax, social):
        rows = extract.rows.drop("_file", "_row", "_code_status").rename(
            {"_problems": f"_problems_{extract.name}"}
        )
        joined = joined.join(rows, on="uscc", how="left", validate="1:1")
        conflict_codes = extract.conflicts.get_column("uscc").implode()
        joined = joined.with_columns(
            pl.concat_list(
                pl.col(f"_problems_{extract.name}").fill_null(EMPTY_LIST),
                pl.when(pl.col("uscc").is_in(conflict_codes))
                .then(pl.lit([f"{CONFLICT}:{extract.name}"], pl.List(pl.String)))
                .otherwise(EMPTY_LIST),
            ).alias(f"_problems_{extract.name}")
        )
        problem_columns.append(f"_problems_{extract.name}")

    return joined.with_columns(
        pl.concat_list(problem_columns).alias("_problems"),
        pl.when(pl.col("_code_status") == uscc.CHECK_MISMATCH)
        .then(pl.lit([uscc.CHECK_MISMATCH], pl.List(pl.String)))
        .otherwise(EMPTY_LIST)
        .alias("flags"),
    ).drop(*problem_columns, "_code_status")
