"""Typed parsing of messy extract text, as Polars expressions over whole columns.

Each parser takes the raw text column and returns the typed column; a value that is present but
does not parse becomes null, and `failed(raw, parsed)` tells those apart from empty cells.
Accepted forms are listed in README.md ("Messy values").
"""

from __future__ import annotations

import polars as pl

from gthfx.sources import FieldType

DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d", "%Y.%m.%d")
DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
# Excel stores dates as day counts from 1899-12-30; a bare 5-digit number in a date column is
# read as such a serial (10000 = 1927-05-18, 99999 = 2173-10-13).
EXCEL_EPOCH = pl.date(1899, 12, 30)
TRUE_WORDS = ("是", "y", "yes", "1", "true", "t", "有", "√")
FALSE_WORDS = ("否", "n", "no", "0", "false", "f", "无", "×")


def clean(raw: pl.Expr) -> pl.Expr:
    """NFKC (full-width → half-width), trimmed; empty → null."""
    text = raw.str.normalize("NFKC").str.strip_chars()
    return pl.when(text.str.len_chars() > 0).then(text)


def _number_text(raw: pl.Expr) -> pl.Expr:
    return clean(raw).str.replace_all(r"[,\s]", "")


def parse_decimal(raw: pl.Expr) -> pl.Expr:
    value = _number_text(raw).cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)


def parse_int(raw: pl.Expr) -> pl.Expr:
    value = parse_decimal(raw)
    return pl.when(value == value.floor()).then(value).cast(pl.Int64, strict=False)


def parse_date(raw: pl.Expr) -> pl.Expr:
    text = clean(raw)
    serial = text.cast(pl.Int64, strict=False)
    attempts = [text.str.strptime(pl.Date, fmt, strict=False) for fmt in DATE_FORMATS]
    attempts += [
        text.str.strptime(pl.Datetime("us"), fmt, strict=False).dt.date()
        for fmt in DATETIME_FORMATS
    ]
    attempts.append(
        pl.when(serial.is_between(10_000, 99_999) & text.str.contains(r"^\d{5}$")).then(
            EXCEL_EPOCH + pl.duration(days=serial)
        )
    )
    return pl.coalesce(attempts)


def parse_bool(raw: pl.Expr) -> pl.Expr:
    text = clean(raw).str.to_lowercase()
    return (
        pl.when(text.is_in(TRUE_WORDS))
        .then(pl.lit(True))
        .when(text.is_in(FALSE_WORDS))
        .then(pl.lit(False))
        .otherwise(pl.lit(None, pl.Boolean))
    )


def parse(raw: pl.Expr, kind: FieldType, factor: int = 1) -> pl.Expr:
    """The typed value of one raw column; money is multiplied by `factor` (万元 → 元)."""
    if kind == "int":
        return parse_int(raw)
    if kind == "decimal":
        value = parse_decimal(raw)
        return value * factor if factor != 1 else value
    if kind == "date":
        return parse_date(raw)
    if kind == "bool":
        return parse_bool(raw)
    return clean(raw)


def failed(raw: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """True where the cell held something that did not parse."""
    return clean(raw).is_not_null() & parsed.is_null()


POLARS_TYPES: dict[str, pl.DataType] = {
    "code": pl.String(),
    "text": pl.String(),
    "int": pl.Int64(),
    "decimal": pl.Float64(),
    "date": pl.Date(),
    "bool": pl.Boolean(),
}
