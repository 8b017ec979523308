"""Clerk renderings of a run: CSV (UTF-8 with BOM) and an Excel workbook, with Chinese headers.

Both respect Excel's sheet limit of 1 048 576 rows: a longer table goes to several sheets
(生存型, 生存型(2), …) and several CSV files (…_2.csv), each with its header row.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import xlsxwriter

EXCEL_MAX_ROWS = 1_048_576  # rows per sheet, the header included
FIXED_TIME = datetime(2000, 1, 1)  # workbook metadata: outputs must not depend on the clock
SHEET_NAME_LIMIT = 31


def as_text_table(frame: pl.DataFrame, headers: dict[str, str]) -> pl.DataFrame:
    """Select and rename for clerks; lists joined with '、', dates as YYYY-MM-DD."""
    columns = []
    seen: set[str] = set()
    for name, header in headers.items():
        if name not in frame.columns:
            continue
        if header in seen:  # two columns with one label: keep both, told apart by name
            header = f"{header}({name})"
        seen.add(header)
        col = pl.col(name)
        dtype = frame.schema[name]
        if isinstance(dtype, pl.List):
            col = col.list.join("、")
        elif dtype == pl.Date:
            col = col.dt.strftime("%Y-%m-%d")
        columns.append(col.alias(header))
    return frame.select(columns)


def _chunks(frame: pl.DataFrame) -> list[pl.DataFrame]:
    per = EXCEL_MAX_ROWS - 1
    if frame.height <= per:
        return [frame]
    return [frame.slice(start, per) for start in range(0, frame.height, per)]


def write_csv_parts(frame: pl.DataFrame, path: Path) -> list[Path]:
    """One or more CSV files with a BOM, none longer than an Excel sheet."""
    written = []
    for index, part in enumerate(_chunks(frame), start=1):
        target = path if index == 1 else path.with_name(f"{path.stem}_{index}{path.suffix}")
        part.write_csv(target, include_bom=True)
        written.append(target)
    return written


def write_workbook(path: Path, sheets: list[tuple[str, pl.DataFrame]]) -> None:
    """An .xlsx with a frozen, filtered header row per sheet; long tables split over sheets."""
    workbook = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_numbers": False, "strings_to_urls": False}
    )
    workbook.set_properties({"created": FIXED_TIME, "author": "gthfx", "title": path.stem})
    header_format = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    for name, frame in sheets:
        for index, part in enumerate(_chunks(frame), start=1):
            sheet_name = name if index == 1 else f"{name}({index})"
            sheet = workbook.add_worksheet(sheet_name[:SHEET_NAME_LIMIT])
            for col, header in enumerate(part.columns):
                width = max(10, min(40, len(header.encode("gbk", "replace")) + 2))
                if part.schema[header] == pl.String and part.height:
                    longest = part.get_column(header).str.len_bytes().max()
                    if isinstance(longest, int):
                        width = max(width, min(60, longest + 2))
                sheet.set_column(col, col, width)
                sheet.write_string(0, col, header, header_format)
            sheet.freeze_panes(1, 0)
            if part.width:
                sheet.autofilter(0, 0, max(part.height, 1), part.width - 1)
            for row_index, row in enumerate(part.iter_rows(), start=1):
                sheet.write_row(row_index, 0, row)
    workbook.close()
