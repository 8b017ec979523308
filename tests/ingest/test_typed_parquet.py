"""Typed Parquet columns (a data platform's dates, numbers and flags) are taken as they are, and
give exactly what their text gives: typing a typed column is compared, cell by cell, with typing
the same values as text (the path every CSV takes), over generated values at every boundary."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from gthfx.ingest import load
from gthfx.ingest.validate import type_rows
from gthfx.settings.sources import load_sources

RUN = date(2024, 7, 1)
CODE = "92420102MA4K1B2C9D"
SPEC = load_sources().for_typing({"employees", "revenue"}, run_date=RUN).extracts["annual"]


def _bounds_and_noise(rng: random.Random, low: float, high: float, n: int) -> list[float | None]:
    edges = [low, high, low - 1, high + 1, low - 0.01, high + 0.01, 0.5, 2.0**53, -(2.0**53)]
    specials = [float("nan"), float("inf"), float("-inf"), None, 1e-7, 1e20]
    return edges + specials + [round(rng.uniform(low - 10, high * 1.1), 2) for _ in range(n)]


def _frame(rng: random.Random, n: int = 400) -> pl.DataFrame:
    """Annual rows with typed columns: dates (at the plausible range's ends and past them), whole
    and fractional counts, amounts in 万元 at and past their bounds, NaN and infinities, flags,
    nulls; the district code stored as a number."""
    days = [date(1949, 10, 1), date(1949, 9, 30), RUN, RUN + timedelta(days=1), None]
    days += [date(1950, 1, 1) + timedelta(days=rng.randrange(30_000)) for _ in range(n)]
    counts = _bounds_and_noise(rng, 0, 100_000, n)
    money = _bounds_and_noise(rng, 0, 100_000_000, n)
    years = [1980, 1979, 2023, 2024, None, *[rng.randrange(1970, 2030) for _ in range(n)]]
    flags = [True, False, None, *[rng.random() < 0.5 for _ in range(n)]]
    height = max(map(len, (days, counts, money, years, flags)))

    def fill(values: list[object]) -> list[object]:
        return [values[i % len(values)] for i in range(height)]

    return pl.DataFrame(
        {
            "_file": pl.Series([0] * height, dtype=pl.UInt16),
            "_row": pl.Series(range(2, height + 2), dtype=pl.UInt32),
            "uscc": [CODE] * height,
            "region_code": pl.Series(fill([420102, 420103, None]), dtype=pl.Int64),
            "established_on": pl.Series(fill(days), dtype=pl.Date),
            "register_status": fill(["存续", "注销", None]),
            "report_year": pl.Series(fill(years), dtype=pl.Int32),
            "reported_on": pl.Series(
                fill([datetime(2024, 3, 1, 8, 30), None, datetime(2024, 6, 30)]),
                dtype=pl.Datetime("us"),
            ),
            "employees": pl.Series(fill(counts), dtype=pl.Float64),
            "revenue": pl.Series(fill(money), dtype=pl.Float64),
            "tax_total": pl.Series(
                fill([Decimal("1.13"), Decimal("0.00"), None, Decimal("10000001.00")]),
                dtype=pl.Decimal(18, 2),
            ),
            "abnormal": pl.Series(fill(flags), dtype=pl.Boolean),
            "serious_dishonest": pl.Series(fill([0, 1, None]), dtype=pl.UInt8),
        }
    )


def _same_rows(typed: pl.DataFrame, text: pl.DataFrame) -> None:
    """Typed rows equal: `_raw_code` is kept only on rows where some cell needed the full
    parse (elsewhere it is the code itself), and a typed value needs it less often."""
    code = pl.coalesce("_raw_code", "uscc").alias("_raw_code")
    assert_frame_equal(typed.with_columns(code), text.with_columns(code))


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """The same values as text, as a CSV export would carry them."""
    return frame.with_columns(
        pl.col(c).cast(pl.String) for c in frame.columns if c not in ("_file", "_row")
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_typed_columns_give_what_their_text_gives(seed: int) -> None:
    frame = _frame(random.Random(seed)).select(
        "_file", "_row", "uscc", *(f for f in SPEC.typed_fields() if f in _frame_fields())
    )
    for field in SPEC.typed_fields():  # the fields this frame leaves out: empty text
        if field not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(field))
    typed, text = type_rows(frame, SPEC), type_rows(_as_text(frame), SPEC)
    _same_rows(typed, text)
    # the typed values were read, and the ones past a bound were caught as the text's are
    employees = typed.get_column("employees")
    assert employees.drop_nulls().len() > 0
    assert (typed.get_column("_bad_mask") > 0).any()
    revenue = typed.get_column("revenue").drop_nulls()
    assert revenue.max() <= 100_000_000 * 10_000  # 万元 → 元, within the plausible range


def _frame_fields() -> set[str]:
    return set(_frame(random.Random(0), 1).columns)


def test_a_typed_column_that_does_not_fit_its_kind_is_read_as_text() -> None:
    frame = pl.DataFrame(
        {
            "_file": pl.Series([0, 0], dtype=pl.UInt16),
            "_row": pl.Series([2, 3], dtype=pl.UInt32),
            "uscc": [CODE, CODE],
            # a date as a number (yyyymmdd), a flag as a number, a count as a date
            "established_on": pl.Series([20240701, 45000], dtype=pl.Int64),
        }
    )
    for field in SPEC.typed_fields():
        if field not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(field))
    typed = type_rows(frame, SPEC)
    assert typed.get_column("established_on").to_list() == [date(2024, 7, 1), date(2023, 3, 15)]
    _same_rows(typed, type_rows(_as_text(frame), SPEC))


def test_parquet_is_read_in_batches_keeping_typed_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load, "BATCH_ROWS", 7)
    rows = 30
    path = tmp_path / "annual.parquet"
    pl.DataFrame(
        {
            "统一社会信用代码": [CODE] * rows,
            "成立日期": [date(2020, 1, 1) + timedelta(days=i) for i in range(rows)],
            "登记状态": ["存续"] * rows,
            "从业人数": list(range(rows)),
            "行政区划代码": [420102] * rows,
        }
    ).write_parquet(path, row_group_size=4)
    seen: list[pl.DataFrame] = []

    def keep(batch: pl.DataFrame) -> pl.DataFrame:
        seen.append(batch)
        return type_rows(batch, SPEC)

    raw = load.load_extract("annual", [path], SPEC, transform=keep)
    assert [b.height for b in seen] == [7, 7, 7, 7, 2]
    assert seen[0].schema["established_on"] == pl.Date
    assert seen[0].schema["employees"] == pl.Int64
    assert seen[0].schema["uscc"] == pl.String  # the code is always text
    assert raw.frame.get_column("_row").to_list() == list(range(2, rows + 2))
    assert raw.frame.get_column("employees").to_list() == list(range(rows))
    assert raw.files[0].rows == rows
    # without a transform (explain, the samples tools) every column is text, as before
    plain = load.load_extract("annual", [path], SPEC)
    assert {plain.frame.schema[f] for f in ("established_on", "employees")} == {pl.String}


def test_a_code_stored_as_a_number_in_parquet_is_read_as_its_digits(tmp_path: Path) -> None:
    path = tmp_path / "annual.parquet"
    pl.DataFrame(
        {
            "统一社会信用代码": [924201020000000000],
            "成立日期": [date(2020, 1, 1)],
            "登记状态": ["存续"],
        }
    ).write_parquet(path)
    raw = load.load_extract("annual", [path], SPEC, transform=lambda b: type_rows(b, SPEC))
    row = raw.frame.row(0, named=True)
    assert row["uscc"] == "924201020000000000"  # its digits, not 9.2420102e17
    assert row["_code_status"] != "ok"


def test_a_damaged_parquet_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "annual.parquet"
    pl.DataFrame(
        {
            "统一社会信用代码": [f"{i:018d}" for i in range(5000)],
            "成立日期": [date(2020, 1, 1)] * 5000,
            "登记状态": ["存续"] * 5000,
        }
    ).write_parquet(path, compression="zstd", statistics=False)
    data = bytearray(path.read_bytes())
    data[100:4000] = b"\xff" * 3900  # the data pages, not the footer: found while reading
    path.write_bytes(bytes(data))
    with pytest.raises(load.InputError, match=r"annual\.parquet: cannot read as Parquet"):
        load.load_extract("annual", [path], SPEC, transform=lambda b: type_rows(b, SPEC))
