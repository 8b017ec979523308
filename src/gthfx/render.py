"""Clerk renderings of a run: CSV (UTF-8 with BOM) and an Excel workbook, with Chinese headers.

Both respect Excel's sheet limit of 1 048 576 rows: a longer table goes to several sheets
(生存型, 生存型(2), …) and several CSV files (…_2.csv), each with its header row.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from gthfx.xlsx import write_xlsx

EXCEL_MAX_ROWS = 1_048_576  # rows per sheet, the header included
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
    parts: list[tuple[str, pl.DataFrame]] = []
    for name, frame in sheets:
        for index, part in enumerate(_chunks(frame), start=1):
            parts.append(((name if index == 1 else f"{name}({index})")[:SHEET_NAME_LIMIT], part))
    write_xlsx(path, parts, title=path.stem)
