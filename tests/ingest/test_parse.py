"""Typed parsing of messy extract text (SPEC §3): what parses, what fails, what is missing."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from gthfx.ingest import parse


def run(parser: Any, values: list[str | None]) -> list[Any]:
    """Apply one column parser to raw text values."""
    frame = pl.DataFrame({"raw": values}, schema={"raw": pl.String})
    return frame.select(parser(pl.col("raw")).alias("out"))["out"].to_list()


def failed_flags(parser: Any, values: list[str | None]) -> list[bool]:
    frame = pl.DataFrame({"raw": values}, schema={"raw": pl.String})
    raw = pl.col("raw")
    return frame.select(parse.failed(raw, parser(raw)).alias("out"))["out"].to_list()


# ---- int ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        ("１２", 12),  # full-width digits
        (" 12 ", 12),
        ("\u300012\u3000", 12),
        ("1,234", 1234),
        ("1 234", 1234),
        ("０", 0),
        ("-3", -3),
        ("3.0", 3),  # what a spreadsheet writes for a whole number
    ],
)
def test_int_accepts_messy_forms(raw: str, expected: int) -> None:
    assert run(parse.parse_int, [raw]) == [expected]
    assert failed_flags(parse.parse_int, [raw]) == [False]


@pytest.mark.parametrize("raw", ["三人", "abc", "3.5", "３.５", "1,2a", "inf", "nan", "--3"])
def test_int_rejects_non_integers_as_failed(raw: str) -> None:
    assert run(parse.parse_int, [raw]) == [None]
    assert failed_flags(parse.parse_int, [raw]) == [True]


# ---- decimal ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,234.5", 1234.5),
        ("１，２３４．５", 1234.5),  # full-width comma and point
        (" 1234.5 ", 1234.5),
        ("0", 0.0),
        ("12", 12.0),
        ("-0.5", -0.5),
    ],
)
def test_decimal_accepts_messy_forms(raw: str, expected: float) -> None:
    assert run(parse.parse_decimal, [raw]) == [expected]
    assert failed_flags(parse.parse_decimal, [raw]) == [False]


@pytest.mark.parametrize("raw", ["abc", "十万", "1.2.3", "inf", "NaN"])
def test_decimal_rejects_text_and_non_finite_values(raw: str) -> None:
    assert run(parse.parse_decimal, [raw]) == [None]
    assert failed_flags(parse.parse_decimal, [raw]) == [True]


def test_money_in_wan_yuan_is_multiplied_to_yuan() -> None:
    frame = pl.DataFrame({"raw": ["12", "1,234.5", "0", None, "abc"]})
    got = frame.select(parse.parse(pl.col("raw"), "decimal", 10_000).alias("out"))["out"]
    assert got.to_list() == [120_000.0, 12_345_000.0, 0.0, None, None]


def test_money_in_yuan_is_unchanged() -> None:
    frame = pl.DataFrame({"raw": ["1,234.5"]})
    assert frame.select(parse.parse(pl.col("raw"), "decimal", 1).alias("out")).item() == 1234.5


@pytest.mark.parametrize(
    ("raw", "yuan"), [("1.13", 11_300), ("0.07", 700), ("2.3", 23_000), ("100.01", 1_000_100)]
)
def test_money_in_wan_yuan_converts_to_exact_yuan(raw: str, yuan: int) -> None:
    """1.13 万元 is 11 300 元, not 11 299.999…: otherwise `tax_yuan >= 11300` is false for it."""
    frame = pl.DataFrame({"raw": [raw]})
    got = frame.select(parse.parse(pl.col("raw"), "decimal", 10_000).alias("out")).item()
    assert got == yuan


# ---- date ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "2024-07-01",
        "2024/7/1",
        "2024/07/01",
        "2024-7-1",
        "2024年7月1日",
        "2024年07月01日",
        "20240701",
        "2024.07.01",
        "2024-07-01 00:00:00",  # a native Excel date read as text
        "2024-07-01T00:00:00",
        "45474",  # Excel serial day number
        " 2024-07-01 ",
        "２０２４－０７－０１",  # full-width
    ],
)
def test_date_accepts_messy_forms(raw: str) -> None:
    assert run(parse.parse_date, [raw]) == [date(2024, 7, 1)]
    assert failed_flags(parse.parse_date, [raw]) == [False]


def test_excel_serials_count_from_1899_12_30() -> None:
    assert run(parse.parse_date, ["10000", "36526", "99999"]) == [
        date(1927, 5, 18),
        date(2000, 1, 1),
        date(2173, 10, 13),
    ]


def test_leap_day_parses_in_a_leap_year() -> None:
    got = run(parse.parse_date, ["2024-02-29", "2000/2/29"])
    assert got == [date(2024, 2, 29), date(2000, 2, 29)]


@pytest.mark.parametrize(
    "raw",
    [
        "2024-13-45",
        "2023-02-29",  # not a leap year
        "1900-02-29",
        "2024-07-32",
        "abc",
        "去年",
        "2024",
        "202407",
        "1234",  # too short to be a serial
    ],
)
def test_date_rejects_impossible_dates_as_failed(raw: str) -> None:
    assert run(parse.parse_date, [raw]) == [None]
    assert failed_flags(parse.parse_date, [raw]) == [True]


# ---- bool ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("是", True),
        ("否", False),
        ("Y", True),
        ("N", False),
        ("y", True),
        ("n", False),
        ("1", True),
        ("0", False),
        ("true", True),
        ("false", False),
        ("TRUE", True),
        ("False", False),
        ("Ｙ", True),  # full-width
        (" 是 ", True),
    ],
)
def test_bool_accepts_the_usual_words(raw: str, expected: bool) -> None:
    assert run(parse.parse_bool, [raw]) == [expected]
    assert failed_flags(parse.parse_bool, [raw]) == [False]


@pytest.mark.parametrize("raw", ["也许", "2", "maybe", "对错"])
def test_bool_rejects_other_words_as_failed(raw: str) -> None:
    assert run(parse.parse_bool, [raw]) == [None]
    assert failed_flags(parse.parse_bool, [raw]) == [True]


# ---- missing is not failed ----------------------------------------------------------------------

PARSERS = {
    "int": parse.parse_int,
    "decimal": parse.parse_decimal,
    "date": parse.parse_date,
    "bool": parse.parse_bool,
    "text": parse.clean,
}


@pytest.mark.parametrize("kind", list(PARSERS))
@pytest.mark.parametrize("raw", ["", "   ", "\u3000", None])
def test_empty_cells_are_missing_not_failed(kind: str, raw: str | None) -> None:
    parser = PARSERS[kind]
    assert run(parser, [raw]) == [None]
    assert failed_flags(parser, [raw]) == [False]


@pytest.mark.parametrize("kind", ["code", "text", "int", "decimal", "date", "bool"])
def test_parse_dispatches_on_the_field_type_and_gives_the_polars_type(kind: str) -> None:
    frame = pl.DataFrame({"raw": ["1", None]}, schema={"raw": pl.String})
    out = frame.select(parse.parse(pl.col("raw"), kind).alias("out"))  # type: ignore[arg-type]
    assert out.schema["out"] == parse.POLARS_TYPES[kind]
    assert out["out"][1] is None


def test_text_is_trimmed_and_normalised() -> None:
    assert run(parse.clean, ["  存续 ", "ＡＢＣ", "F5261"]) == ["存续", "ABC", "F5261"]


def test_parsers_work_on_a_whole_mixed_column() -> None:
    """One vectorised pass: good, bad and empty cells side by side."""
    raw = ["１２", "三人", None, "", "1,234"]
    assert run(parse.parse_int, raw) == [12, None, None, None, 1234]
    assert failed_flags(parse.parse_int, raw) == [False, True, False, False, False]
