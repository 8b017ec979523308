"""Typed parsing of messy extract text, as Polars expressions over whole columns.

Each parser takes the raw text column and returns the typed column; a value that is present but
does not parse — or lies outside the field's plausible range — becomes null, and
`failed(raw, parsed)` tells those apart from empty cells and placeholders (`NULL`, `-`, `/`, …,
which are missing values). A field's own value rules (`ValueRules`: its placeholders, unit
words, text aliases, plausible range) come from the sources mapping. Accepted forms are listed in
README.md ("Messy values").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from gthfx.settings.sources import MONEY_FACTOR, PLACEHOLDERS, FieldSpec, FieldType


@dataclass(frozen=True)
class ValueRules:
    """What one field's values may look like beyond its type (see `rules_for`)."""

    missing: tuple[str, ...] = PLACEHOLDERS  # upper case, after NFKC and trimming
    words: tuple[str, ...] = ()  # unit words a number may end with (万元, 人, 年度)
    aliases: dict[str, str] = field(default_factory=dict)  # text: NFKC-trimmed form → canonical
    low: object = None  # plausible range, in the field's typed unit (元 for money)
    high: object = None


DEFAULT_RULES = ValueRules()


def rules_for(spec: FieldSpec, run_date: date | None = None) -> ValueRules:
    """A field's value rules, its plausible range resolved for the run date."""
    factor = MONEY_FACTOR[spec.unit or "元"]
    low, high = spec.bounds(run_date)
    if spec.type == "decimal":
        low = None if low is None else float(low) * factor  # type: ignore[arg-type]
        high = None if high is None else float(high) * factor  # type: ignore[arg-type]
    words = tuple(sorted(spec.unit_words(), key=len, reverse=True))  # 万元 before 元
    aliases = {_nfkc(k): v for k, v in spec.aliases.items()}
    missing = PLACEHOLDERS + tuple(_nfkc(m).upper() for m in spec.missing)
    return ValueRules(missing=missing, words=words, aliases=aliases, low=low, high=high)


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


# Excel stores dates as day counts from 1899-12-30; a bare 5-digit number in a date column is
# read as such a serial (10000 = 1927-05-18, 99999 = 2173-10-13).
EXCEL_EPOCH = pl.date(1899, 12, 30)
FAST_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y年%m月%d日")
TRUE_WORDS = ("是", "y", "yes", "1", "true", "t", "有", "√")
FALSE_WORDS = ("否", "n", "no", "0", "false", "f", "无", "×")


def clean(raw: pl.Expr, missing: tuple[str, ...] = PLACEHOLDERS) -> pl.Expr:
    """NFKC (full-width → half-width), trimmed; empty or a placeholder → null."""
    text = raw.str.normalize("NFKC").str.strip_chars()
    return pl.when((text.str.len_chars() > 0) & ~text.str.to_uppercase().is_in(missing)).then(text)


def _number_text(raw: pl.Expr, rules: ValueRules = DEFAULT_RULES) -> pl.Expr:
    text = clean(raw, rules.missing).str.replace_all(",", "", literal=True)
    text = text.str.replace_all(" ", "", literal=True)
    if rules.words:  # a trailing unit word of the field's own: 50万元, 3人, 2023年度
        pattern = "(" + "|".join(re.escape(w) for w in rules.words) + ")$"
        text = text.str.replace(pattern, "")
    return text


def _plausible(value: pl.Expr, rules: ValueRules) -> pl.Expr:
    """`value`, null where it lies outside the plausible range."""
    inside: pl.Expr | None = None
    if rules.low is not None:
        inside = value >= pl.lit(rules.low)
    if rules.high is not None:
        upper = value <= pl.lit(rules.high)
        inside = upper if inside is None else inside & upper
    return value if inside is None else pl.when(inside).then(value)


def parse_decimal(raw: pl.Expr, rules: ValueRules = DEFAULT_RULES) -> pl.Expr:
    value = _number_text(raw, rules).cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)


def parse_int(raw: pl.Expr, rules: ValueRules = DEFAULT_RULES) -> pl.Expr:
    value = parse_decimal(raw, rules)
    # beyond 2^53 a float no longer holds every integer: such a count is not plausible anyway
    whole = (value == value.floor()) & (value.abs() < 2.0**53)
    return pl.when(whole).then(value).cast(pl.Int64, strict=False)


def parse_date(raw: pl.Expr, rules: ValueRules = DEFAULT_RULES) -> pl.Expr:
    """All accepted forms are first rewritten to Y-M-D text, then parsed once (a strptime that
    fails is slow, so trying one format after another would cost more than the rewrite)."""
    text = clean(raw, rules.missing)
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


def parse_bool(raw: pl.Expr, rules: ValueRules = DEFAULT_RULES) -> pl.Expr:
    # a bool's own words win over placeholders: 无 is false here
    own = tuple(w.upper() for w in (*TRUE_WORDS, *FALSE_WORDS))
    text = clean(raw, tuple(m for m in rules.missing if m not in own)).str.to_lowercase()
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


def parse(
    raw: pl.Expr, kind: FieldType, factor: int = 1, rules: ValueRules = DEFAULT_RULES
) -> pl.Expr:
    """The typed value of one raw column; money is multiplied by `factor` (万元 → 元). A value
    outside the plausible range of `rules` is null, as one that does not parse."""
    if kind == "int":
        return _plausible(parse_int(raw, rules), rules)
    if kind == "decimal":
        return _plausible(_scale(parse_decimal(raw, rules), factor), rules)
    if kind == "date":
        return _plausible(parse_date(raw, rules), rules)
    if kind == "bool":
        return parse_bool(raw, rules)
    text = clean(raw, rules.missing)
    return text.replace(rules.aliases) if rules.aliases else text


def has_text(raw: pl.Expr, rules: ValueRules = DEFAULT_RULES) -> pl.Expr:
    """True where the cell holds more than white space (Unicode white space, U+3000 too) and
    more than a placeholder."""
    return clean(raw, rules.missing).is_not_null()


# What the fast path may pass through untouched: printable ASCII and common CJK ideographs, no
# white space at either end (NFKC leaves such text as it is).
_PLAIN_TEXT = r"^[!-~\u4e00-\u9fff](?:[ -~\u4e00-\u9fff]*[!-~\u4e00-\u9fff])?$"
_BOOL_EXACT = {
    **{w: True for w in TRUE_WORDS},
    **{w.upper(): True for w in TRUE_WORDS},
    **{w: False for w in FALSE_WORDS},
    **{w.upper(): False for w in FALSE_WORDS},
}


def fast_steps(
    raw: pl.Expr, kind: FieldType, factor: int = 1, rules: ValueRules = DEFAULT_RULES
) -> list[pl.Expr]:
    """`parse_fast` as a list of cheap parsers to try one after the other, each only where the
    ones before gave nothing: `parse_fast` is their coalesce. A date column holds mostly one
    form, so trying the others only where the first did not match costs far less than trying
    every form on every cell (a strptime that fails is slow)."""
    if kind == "date":  # the forms departments' systems export; each as `parse_date` reads it
        return [
            _plausible(raw.str.strptime(pl.Date, fmt, strict=False), rules)
            for fmt in FAST_DATE_FORMATS
        ]
    if kind == "decimal":  # most amounts are plain: `1,234.5` only where the plain cast fails
        return [_decimal(raw, factor, rules), parse_fast(raw, kind, factor, rules)]
    return [parse_fast(raw, kind, factor, rules)]


def _decimal(text: pl.Expr, factor: int, rules: ValueRules) -> pl.Expr:
    value = text.cast(pl.Float64, strict=False)
    return _plausible(_scale(pl.when(value.is_finite()).then(value), factor), rules)


def parse_fast(
    raw: pl.Expr, kind: FieldType, factor: int = 1, rules: ValueRules = DEFAULT_RULES
) -> pl.Expr:
    """A cheap parse of tidy text (`12`, `1234.5`, `2024-07-01`, `是`, plain text): gives exactly
    what `parse` gives, or null where the value needs the full treatment (or is empty)."""
    if kind == "int":
        return _plausible(raw.cast(pl.Int64, strict=False), rules)
    if kind == "decimal":  # thousands separators are common in amounts: strip them here too
        return _decimal(raw.str.replace_all(",", "", literal=True), factor, rules)
    if kind == "date":
        return pl.coalesce(fast_steps(raw, kind, factor, rules))
    if kind == "bool":
        return raw.replace_strict(_BOOL_EXACT, default=None, return_dtype=pl.Boolean)
    if kind == "code":
        return pl.when(raw.str.contains(r"^[0-9A-Z]{18}$")).then(raw)
    plain = raw.str.contains(_PLAIN_TEXT) & ~raw.str.to_uppercase().is_in(rules.missing)
    text = pl.when(plain).then(raw)
    return text.replace(rules.aliases) if rules.aliases else text


def parse_typed(
    value: pl.Expr,
    dtype: pl.DataType,
    kind: FieldType,
    factor: int = 1,
    rules: ValueRules = DEFAULT_RULES,
) -> pl.Expr | None:
    """The typed value of a column a data platform already typed (Parquet), or None where its
    type does not fit the field's kind (the column is then parsed as text). Gives exactly what
    `parse` gives for the column's text (a Parquet date and its `2024-07-01` are one value): the
    same unit factor, the same plausible range, null for what is not a value (NaN, a count with
    a fraction)."""
    number = dtype.is_numeric()
    if kind == "date" and (dtype == pl.Date or dtype == pl.Datetime):
        return _plausible(value.cast(pl.Date) if dtype == pl.Date else value.dt.date(), rules)
    if kind == "decimal" and number:
        amount = value.cast(pl.Float64)
        return _plausible(_scale(pl.when(amount.is_finite()).then(amount), factor), rules)
    if kind == "int" and dtype.is_integer():
        return _plausible(value.cast(pl.Int64, strict=False), rules)
    if kind == "int" and number:
        amount = value.cast(pl.Float64)
        whole = (amount == amount.floor()) & (amount.abs() < 2.0**53)
        return _plausible(pl.when(whole).then(amount).cast(pl.Int64, strict=False), rules)
    if kind == "bool" and dtype == pl.Boolean:
        return value
    return None


def failed(raw: pl.Expr, parsed: pl.Expr, rules: ValueRules = DEFAULT_RULES) -> pl.Expr:
    """True where the cell held something that did not parse (or lies outside the plausible
    range)."""
    return has_text(raw, rules) & parsed.is_null()


POLARS_TYPES: dict[str, pl.DataType] = {
    "code": pl.String(),
    "text": pl.String(),
    "int": pl.Int64(),
    "decimal": pl.Float64(),
    "date": pl.Date(),
    "bool": pl.Boolean(),
}
