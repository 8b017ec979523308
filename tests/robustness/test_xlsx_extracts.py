"""Extracts as the workbooks clerks really make (issue 13, items 4 and 5): a hidden first sheet,
a title row above the headers, a two-row merged header, key cells merged over two rows, credit
codes stored as Excel numbers. Workbooks are built with openpyxl in tmp_path."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import polars as pl
import pytest
from openpyxl.worksheet.worksheet import Worksheet
from test_messy_inputs import by_code, code, rejects, run, write

from gthfx.errors import InputError
from gthfx.ingest import load
from gthfx.ingest.validate import validate_extract
from gthfx.settings.sources import load_sources

ANNUAL = load_sources().extracts["annual"]
HEAD = ["统一社会信用代码", "成立日期", "登记状态", "年报年度", "从业人数"]


def book(path: Path, build: dict[str, list[list[object]]], hidden: tuple[str, ...] = ()) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in build.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
        if name in hidden:
            ws.sheet_state = "hidden"
    wb.active = next(i for i, n in enumerate(build) if n not in hidden)
    wb.save(path)
    return path


def data(*serials: int) -> list[list[object]]:
    return [[code(s), "2020-01-01", "存续", "2023", str(s)] for s in serials]


def test_a_hidden_first_sheet_is_never_read(tmp_path: Path) -> None:
    path = book(
        tmp_path / "a.xlsx",
        {"旧": [HEAD, *data(9)], "数据": [HEAD, *data(1, 2)]},
        hidden=("旧",),
    )
    raw = load.load_extract("annual", [path], ANNUAL)
    assert raw.frame.get_column("uscc").to_list() == [code(1), code(2)]
    assert raw.files[0].sheet == "数据"


def test_a_title_row_above_the_headers_and_excel_row_numbers(tmp_path: Path) -> None:
    path = book(tmp_path / "a.xlsx", {"Sheet": [["2023年度个体工商户年报数据"], HEAD, *data(1, 2)]})
    raw = load.load_extract("annual", [path], ANNUAL)
    assert raw.frame.get_column("uscc").to_list() == [code(1), code(2)]
    assert raw.frame.get_column("_row").to_list() == [3, 4]  # as the clerk sees them


def test_the_sources_mapping_names_the_sheet_and_header_row(tmp_path: Path) -> None:
    path = book(
        tmp_path / "a.xlsx",
        {"说明": [["见第二页"]], "第二页": [["备注"], ["制表人"], HEAD, *data(1)]},
    )
    override = write(
        tmp_path, "sources.yaml", "extracts:\n  annual:\n    sheet: 第二页\n    header_row: 3\n"
    )
    spec = load_sources(override).extracts["annual"]
    raw = load.load_extract("annual", [path], spec)
    assert raw.frame.select("uscc", "_row").rows() == [(code(1), 4)]
    wrong = write(tmp_path, "wrong.yaml", "extracts:\n  annual:\n    sheet: 第三页\n")
    with pytest.raises(InputError, match="no sheet named"):
        load.load_extract("annual", [path], load_sources(wrong).extracts["annual"])


def _merge(ws: Worksheet, ref: str) -> None:
    ws.merge_cells(ref)


def test_a_two_row_merged_header_keeps_the_columns_under_it(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["统一社会信用代码", "成立日期", "登记状态", "年报年度", "经营情况", None])
    ws.append([None, None, None, None, "从业人数", "营业额"])
    for ref in ("A1:A2", "B1:B2", "C1:C2", "D1:D2", "E1:F1"):
        _merge(ws, ref)
    ws.append([code(1), "2020-01-01", "存续", "2023", "3", "150"])
    path = tmp_path / "a.xlsx"
    wb.save(path)
    raw = load.load_extract("annual", [path], ANNUAL)
    assert raw.frame.select("uscc", "employees", "revenue", "_row").rows() == [
        (code(1), "3", "150", 3)
    ]


def test_a_key_cell_merged_over_two_rows_belongs_to_both(tmp_path: Path) -> None:
    """Two report years of one business with the code merged over both rows: the second row is
    that business's too (and, of another year, rejected as other_year) — never a row without a
    code whose figures slip through."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEAD)
    ws.append([code(1), "2020-01-01", "存续", "2022", "9"])
    ws.append([None, "2020-01-01", "存续", "2023", "1"])
    _merge(ws, "A2:A3")
    ws.append(data(2)[0])
    path = tmp_path / "annual.xlsx"
    wb.save(path)
    raw = load.load_extract("annual", [path], ANNUAL)
    assert raw.frame.get_column("uscc").to_list() == [code(1), code(1), code(2)]
    assert any("merged" in w for w in raw.files[0].warnings)
    result = run(tmp_path, path)
    got = by_code(result)
    assert (got[code(1)]["tier"], got[code(1)]["employees"]) == ("survival", 1)
    assert rejects(result).select("row", "reason").rows() == [(2, "other_year")]


def test_codes_stored_as_numbers_are_rejected_never_collapsed(tmp_path: Path) -> None:
    """Excel keeps 15 significant digits: 924201001234567891 and …892 become one number."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEAD)
    ws.append([924201001234567891, "2020-01-01", "存续", "2023", "1"])
    ws.append([924201001234567892, "2020-01-01", "存续", "2023", "1"])
    ws.append([9.24201001234568e17, "2020-01-01", "存续", "2023", "1"])
    ws.append(["924201001234567891", "2020-01-01", "存续", "2023", "1"])  # text: kept as it is
    ws.append(data(1)[0])
    path = tmp_path / "a.xlsx"
    wb.save(path)
    raw = load.load_extract("annual", [path], ANNUAL)
    checked = validate_extract(raw, ANNUAL, report_year=2023)
    assert checked.accounting.collapsed == 0
    numeric = checked.rejects.filter(pl.col("reason") == "numeric_code")
    assert numeric.get_column("row").to_list() == [2, 3, 4]
    assert sorted(checked.rows.get_column("uscc").to_list()) == sorted(
        ["924201001234567891", code(1)]
    )


def test_an_excel_owner_file_is_refused_with_a_clear_hint(tmp_path: Path) -> None:
    owner = tmp_path / "~$annual.xlsx"
    owner.write_bytes(b"\x05owner" + bytes(160))
    with pytest.raises(InputError, match="owner"):
        load.load_extract("annual", [owner], ANNUAL)
