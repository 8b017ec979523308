"""Clerk CSVs written a slice at a time are the bytes of the whole piece written at once: one
BOM, one header row, every row once, formulas neutralised in every slice."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gthfx.report import render
from gthfx.report.render import ClerkTables, as_text_table

FRAME = pl.DataFrame(
    {
        "uscc": [f"92420102MA4K1B2C{i:02d}" for i in range(23)],
        "reasons": [["a", "b"] if i % 3 else [] for i in range(23)],
        "region": [
            "=HYPERLINK(1)" if i == 17 else ("-" if i == 5 else "420102") for i in range(23)
        ],
        "day": [date(2024, 7, 1) if i % 4 else None for i in range(23)],
        "amount": [i * 1.5 if i % 5 else None for i in range(23)],
        "note": ['有"引号",和逗号' if i == 9 else "平常" for i in range(23)],
    }
)
HEADERS = {
    "uscc": "代码",
    "reasons": "原因",
    "region": "区划",
    "day": "日期",
    "amount": "金额",
    "note": "备注",
}


def _written(folder: Path, slice_rows: int, monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setattr(render, "CSV_SLICE_ROWS", slice_rows)
    folder.mkdir()
    tables = ClerkTables(folder, None)
    tables.add("表", FRAME.lazy(), lambda piece: as_text_table(piece, HEADERS), plain=["代码"])
    tables.close()
    return (folder / "表.csv").read_bytes()


def test_a_csv_written_in_slices_is_the_csv_written_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _written(tmp_path / "whole", 1_000, monkeypatch)
    sliced = _written(tmp_path / "sliced", 4, monkeypatch)
    assert sliced == whole
    text = whole.decode("utf-8")
    assert text.startswith("\ufeff代码,") and text.count("\ufeff") == 1
    lines = text.splitlines()
    assert len(lines) == 1 + FRAME.height and lines.count(lines[0]) == 1
    assert "'=HYPERLINK(1)" in text  # neutralised, also past the first slice


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.lists(
                st.one_of(st.none(), st.sampled_from(["缺少年报", "a", "", "x、y"])), max_size=4
            ),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_list_columns_read_as_list_join_gives(lists: list[list[str | None] | None]) -> None:
    """Lists are joined only where they have items (most are empty): the same text as
    `list.join` everywhere — an empty list empty text, a missing list missing, a missing item
    left out."""
    frame = pl.DataFrame({"r": lists}, schema={"r": pl.List(pl.String)})
    got = as_text_table(frame, {"r": "原因"}).get_column("原因")
    assert got.to_list() == frame.get_column("r").list.join("、").to_list()
