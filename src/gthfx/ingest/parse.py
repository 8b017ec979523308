"""Typed parsing of messy extract text, as Polars expressions over whole columns.

Each parser takes the raw text column and returns the typed column; a value that is present but
does not parse becomes null, and `failed(raw, parsed)` tells those apart from empty cells.
Accepted forms are listed in README.md ("Messy values").
"""

from __future__ import annotations

import polars as pl

from gthfx.settings.sources import FieldType

# Excel stores dates as day counts from 1899-12-30; a bare 5-digit number in a date column is
# read as such a serial (10000 = 1927-05-18, 99999 = 2173-10-13).
EXCEL_EPOCH = pl.date(1899, 12, 30)
FAST_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y年%m月%d日")
TRUE_WORDS = ("是", "y", "yes", "1", "true", "t", "有", "√")
FALSE_WORDS = ("否", "n", "no", "0", "false", "f", "无", "×")


def clean(raw: pl.Expr) -> pl.Expr:
    """NFKC (full-width → half-width), trimmed; empty → null."""
    text = raw.str.normalize("NFKC").str.strip_chars()
    return pl.when(text.str.len_chars() > 0).then(text)


def _number_text(raw: pl.Expr) -> pl.Expr:
    return clean(raw).str.replace_all(",", "", literal=True).str.replace_all(" ", "", literal=True)


def parse_decimal(raw: pl.Expr) -> pl.Expr:
    value = _number_text(raw).cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)


def parse_int(raw: pl.Expr) -> pl.Expr:
    value = parse_decimal(raw)
    return pl.when(value == value.floor()).then(value).cast(pl.Int64, strict=False)


def parse_date(raw: pl.Expr) -> pl.Expr:
    """All accepted forms are first rewritten to Y-M-D text, then parsed once (a strptime that
    fails is slow, so trying one format after another would cost more than the rewrite)."""
    text = clean(raw)
    # drop a time part: "2024-07-01 00:00:00", "2024-07-01T08:00:00"
    day = text.str.replace(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "")
    # 2024/7/1, 2024.7.1, 2024年7月1日 → 2024-7-1
    day = day.str.replace_all(r"[/.年月]", "-").str.replace(r"日$", "")
    compact = day.str.contains(r"^\d{8}$")  # 20240701
    day = (
        pl.when(compact)
        .then(day.str.slice(0, 4) + "-" + day.str.slice(4, 2) + "-" + day.str.slice(6, 2))
        .otherwise(day)
    )
    iso = pl.when(day.str.contains(r"^\d{4}-\d{1,2}-\d{1,2}$")).then(day)
    serial = pl.when(text.str.contains(r"^\d{5}$")).then(text.cast(pl.Int64, strict=False))
    return pl.coalesce(
        iso.str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        EXCEL_EPOCH + pl.duration(days=serial),
    )


def parse_bool(raw: pl.Expr) -> pl.Expr:
    text = clean(raw).str.to_lowercase()
    return (
        pl.when(text.is_in(TRUE_WORDS))
        .then(pl.lit(True))
        .when(text.is_in(FALSE_WORDS))
        .then(pl.lit(False))
        .otherwise(pl.lit(None, pl.Boolean))
    )


def _scale(value: pl.Expr, factor: int) -> pl.Expr:
    """万元 → 元, rounded to the fen: 1.13 万元 is 11300 元, not 11299.999999999998."""
    return (value * factor).round(2) if factor != 1 else value


def parse(raw: pl.Expr, kind: FieldType, factor: int = 1) -> pl.Expr:
    """The typed value of one raw column; money is multiplied by `factor` (万元 → 元)."""
    if kind == "int":
        return parse_int(raw)
    if kind == "decimal":
        return _scale(parse_decimal(raw), factor)
    if kind == "date":
        return parse_date(raw)
    if kind == "bool":
        return parse_bool(raw)
    return clean(raw)


def has_text(raw: pl.Expr) -> pl.Expr:
    """True where the cell holds more than white space (Unicode white space, U+3000 too)."""
    return (raw.str.strip_chars().str.len_bytes() > 0).fill_null(False)


# What the fast path may pass through untouched: printable ASCII and common CJK ideographs, no
# white space at either end (NFKC leaves such text as it is).
_PLAIN_TEXT = r"^[!-~\u4e00-\u9fff](?:[ -~\u4e00-\u9fff]*[!-~\u4e00-\u9fff])?$"
_BOOL_EXACT = {
    **{w: True for w in TRUE_WORDS},
    **{w.upper(): True for w in TRUE_WORDS},
    **{w: False for w in FALSE_WORDS},
    **{w.upper(): False for w in FALSE_WORDS},
}


def fast_steps(raw: pl.Expr, kind: FieldType, factor: int = 1) -> list[pl.Expr]:
    """`parse_fast` as a list of cheap parsers to try one after the other, each only where the
    ones before gave nothing: `parse_fast` is their coalesce. A date column holds mostly one
    form, so trying the others only where the first did not match costs far less than trying
    every form on every cell (a strptime that fails is slow)."""
    if kind == "date":  # the forms departments' systems export; each as `parse_date` reads it
        return [raw.str.strptime(pl.Date, fmt, strict=False) for fmt in FAST_DATE_FORMATS]
    return [parse_fast(raw, kind, factor)]


def parse_fast(raw: pl.Expr, kind: FieldType, factor: int = 1) -> pl.Expr:
    """A cheap parse of tidy text (`12`, `1234.5`, `2024-07-01`, `是`, plain text): gives exactly
    what `parse` gives, or null where the value needs the full treatment (or is empty)."""
    if kind == "int":
        return raw.cast(pl.Int64, strict=False)
    if kind == "decimal":  # thousands separators are common in amounts: strip them here too
        value = raw.str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)
        return _scale(pl.when(value.is_finite()).then(value), factor)
    if kind == "date":
        return pl.coalesce(fast_steps(raw, kind, factor))
    if kind == "bool":
        return raw.replace_strict(_BOOL_EXACT, default=None, return_dtype=pl.Boolean)
    if kind == "code":
        return pl.when(raw.str.contains(r"^[0-9A-Z]{18}$")).then(raw)
    return pl.when(raw.str.contains(_PLAIN_TEXT)).then(raw)


def failed(raw: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """True where the cell held something that did not parse."""
    return has_text(raw) & parsed.is_null()


POLARS_TYPES: dict[str, pl.DataType] = {
    "code": pl.String(),
    "text": pl.String(),
    "int": pl.Int64(),
    "decimal": pl.Float64(),
    "date": pl.Date(),
    "bool": pl.Boolean(),
}
