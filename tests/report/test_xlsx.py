"""The vectorised .xlsx writer: what it writes reads back the same in openpyxl and calamine."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import polars as pl

from gthfx.report.xlsx import column_letter, write_xlsx


def sample() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "统一社会信用代码": ["92420102MA4K1B2C9D", 'A&B <c> "d"', None],
            "户数": [1, None, 3],
            "金额(元)": [1234.5, 0.0, float("nan")],
            "原因": ["未列入经营异常\x07名录", "", "tab\there"],
        }
    )


def test_round_trip_in_openpyxl(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    write_xlsx(path, [("分型", sample()), ("空表", sample().clear())], title="测试")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["分型", "空表"]
    sheet = book["分型"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("统一社会信用代码", "户数", "金额(元)", "原因")
    assert rows[1] == ("92420102MA4K1B2C9D", 1, 1234.5, "未列入经营异常名录")  # control char gone
    assert rows[2] == ('A&B <c> "d"', None, 0, "")
    assert rows[3] == (None, 3, None, "tab\there")  # NaN written as an empty cell
    assert sheet["A1"].font.b is True
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:D4"
    assert list(book["空表"].iter_rows(values_only=True)) == [rows[0]]


def test_round_trip_in_calamine(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    write_xlsx(path, [("a", sample())])
    back = pl.read_excel(path, engine="calamine", drop_empty_rows=False)
    assert back.columns == sample().columns
    assert back.get_column("户数").to_list() == [1, None, 3]
    assert back.get_column("统一社会信用代码").to_list()[:2] == [
        "92420102MA4K1B2C9D",
        'A&B <c> "d"',
    ]


def test_same_input_same_bytes(tmp_path: Path) -> None:
    write_xlsx(tmp_path / "a.xlsx", [("a", sample())])
    write_xlsx(tmp_path / "b.xlsx", [("a", sample())])
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_many_rows_span_chunks(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import gthfx.report.xlsx

    monkeypatch.setattr(gthfx.report.xlsx, "CHUNK_ROWS", 7)
    frame = pl.DataFrame({"n": list(range(50)), "s": [f"行{i}" for i in range(50)]})
    write_xlsx(tmp_path / "t.xlsx", [("a", frame)])
    rows = list(openpyxl.load_workbook(tmp_path / "t.xlsx")["a"].iter_rows(values_only=True))
    assert rows[1:] == [(i, f"行{i}") for i in range(50)]


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 51, 701, 702)] == [
        "A", "Z", "AA", "AZ", "ZZ", "AAA",
    ]  # fmt: skip
