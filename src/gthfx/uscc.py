"""The unified social credit code (GB 32100-2015), normalised and validated as whole columns.

18 characters from `0123456789ABCDEFGHJKLMNPQRTUWXY` (values 0–30). The check character is
C18 = 31 − (Σ value·weight mod 31) with weights 3^(i−1) mod 31, and 31 written as 0.
Individual businesses start with `92`.
"""

from __future__ import annotations

import polars as pl

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
VALUE = {ch: i for i, ch in enumerate(CHARSET)}
INDIVIDUAL_PREFIX = "92"

# code_status values
OK = "ok"
MISSING = "missing_code"
MALFORMED = "malformed_code"
NOT_INDIVIDUAL = "not_individual"
CHECK_MISMATCH = "check_digit_mismatch"


STATUS = pl.Enum([OK, MISSING, MALFORMED, NOT_INDIVIDUAL, CHECK_MISMATCH])


def normalise(expr: pl.Expr) -> pl.Expr:
    """NFKC (full-width → ASCII), all white space removed, upper case; empty → null."""
    text = expr.str.normalize("NFKC").str.replace_all(r"\s+", "").str.to_uppercase()
    return pl.when(text.str.len_chars() > 0).then(text)


def check_character(code: pl.Expr) -> pl.Expr:
    """The check character computed from the first 17 characters of a well-formed code."""
    total = pl.sum_horizontal(
        code.str.slice(i, 1).replace_strict(VALUE, default=0, return_dtype=pl.Int32) * weight
        for i, weight in enumerate(WEIGHTS)
    )
    value = (31 - total % 31) % 31
    return value.replace_strict(dict(enumerate(CHARSET)), return_dtype=pl.String)


def status(code: pl.Expr) -> pl.Expr:
    """One of ok / missing_code / malformed_code / not_individual / check_digit_mismatch, for a
    normalised code column."""
    well_formed = code.str.contains(f"^[{CHARSET}]{{18}}$")
    return (
        pl.when(code.is_null())
        .then(pl.lit(MISSING))
        .when(~well_formed)
        .then(pl.lit(MALFORMED))
        .when(code.str.slice(0, 2) != INDIVIDUAL_PREFIX)
        .then(pl.lit(NOT_INDIVIDUAL))
        .when(code.str.slice(17, 1) != check_character(code))
        .then(pl.lit(CHECK_MISMATCH))
        .otherwise(pl.lit(OK))
    ).cast(STATUS)
