"""Masking personal data for published lists, as Polars expressions over whole columns.

    operator name   张三丰 → 张**          (the first character kept)
    phone           13812345678 → 138****5678   (first 3 and last 4 digits kept)
    ID number       420102199001011234 → 420102********1234   (first 6 and last 4 kept)

Values are normalised first (NFKC, white space, `-`, `+86` removed), so that `139-1234-5678`,
`+86 139 1234 5678` and full-width digits are masked like any other. A value too short to keep
anything is masked whole. The unmasked value never leaves the expression.
"""

from __future__ import annotations

import polars as pl


def _compact(raw: pl.Expr) -> pl.Expr:
    text = raw.str.normalize("NFKC").str.replace_all(r"[\s\-()（）]", "")
    return pl.when(text.str.len_chars() > 0).then(text)


def mask_name(raw: pl.Expr) -> pl.Expr:
    """张三丰 → 张**, 张三 → 张*, a single character → *."""
    text = _compact(raw)
    n = text.str.len_chars()
    stars = pl.lit("*").repeat_by((n - 1).clip(lower_bound=1)).list.join("")
    return pl.when(n > 1).then(text.str.slice(0, 1) + stars).when(n == 1).then(pl.lit("*"))


def mask_phone(raw: pl.Expr) -> pl.Expr:
    """13812345678 → 138****5678; landlines keep their first 3 and last 4 digits the same way."""
    text = _compact(raw).str.replace(r"^(?:\+?86)(1\d{10})$", "$1")
    n = text.str.len_chars()
    stars = pl.lit("*").repeat_by((n - 7).clip(lower_bound=1)).list.join("")
    return (
        pl.when(n >= 8)
        .then(text.str.slice(0, 3) + stars + text.str.slice(-4, 4))
        .when(n > 0)
        .then(pl.lit("*").repeat_by(n).list.join(""))
    )


def mask_id(raw: pl.Expr) -> pl.Expr:
    """420102199001011234 → 420102********1234 (15-digit numbers: 6 + 5 stars + 4)."""
    text = _compact(raw).str.to_uppercase()
    n = text.str.len_chars()
    stars = pl.lit("*").repeat_by((n - 10).clip(lower_bound=1)).list.join("")
    return (
        pl.when(n >= 11)
        .then(text.str.slice(0, 6) + stars + text.str.slice(-4, 4))
        .when(n > 0)
        .then(pl.lit("*").repeat_by(n).list.join(""))
    )


MASKS = {"operator_name": mask_name, "phone": mask_phone, "operator_id": mask_id}
