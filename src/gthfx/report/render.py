"""Clerk renderings of a run: CSV (UTF-8 with BOM) and an Excel workbook, with Chinese headers.

Both respect Excel's sheet limit of 1 048 576 rows: a longer table goes to several sheets
(生存型, 生存型(2), …) and several CSV files (…_2.csv), each with its header row. Neither holds a
live formula: the workbook writes text as text, and a CSV text cell a spreadsheet would take for
a formula (`=`, `+`, `-`, `@` first) gets a leading apostrophe (`privacy.neutralise_formulas`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from gthfx.report.privacy import neutralise_formulas
from gthfx.report.xlsx import XlsxWriter

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
            col = pl.lit(_joined(frame.get_column(name), "、"))
        elif dtype == pl.Date:
            col = col.dt.strftime("%Y-%m-%d")
        columns.append(col.alias(header))
    return frame.select(columns)


def _joined(lists: pl.Series, separator: str) -> pl.Series:
    """`list.join` of a list column, joined only where a list has items: most lists here are
    empty (a typed business has no reasons, few have flags), and joining 10 M lists one by one
    took ~1.3 s of a run's write stage. An empty list is empty text, a missing one stays missing."""
    length = lists.list.len()
    text = length.to_frame().select(pl.when(pl.first().is_not_null()).then(pl.lit(""))).to_series()
    filled = (length > 0).arg_true()
    if filled.len():
        text = text.scatter(filled, lists.gather(filled).list.join(separator))
    return text.alias(lists.name)


def chunks(frame: pl.DataFrame | pl.LazyFrame | Path) -> Iterator[pl.DataFrame]:
    """A frame, a query or a Parquet file in pieces that each fit one Excel sheet (with its
    header row). A query or a file is run once, streamed a piece at a time."""
    per = EXCEL_MAX_ROWS - 1
    if isinstance(frame, pl.LazyFrame | Path):
        lazy = pl.scan_parquet(frame) if isinstance(frame, Path) else frame
        held: list[pl.DataFrame] = []  # pieces cut at exactly `per` rows, whatever Polars gives
        count = 0
        empty = True
        for batch in lazy.collect_batches(chunk_size=per, maintain_order=True):
            held.append(batch)
            count += batch.height
            while count >= per:
                whole = pl.concat(held) if len(held) > 1 else held[0]
                empty = False
                yield whole.slice(0, per)
                held, count = [whole.slice(per)], whole.height - per
        if count or empty:
            yield pl.concat(held) if held else lazy.clear().collect()
        return
    if frame.height <= per:
        yield frame
        return
    for start in range(0, frame.height, per):
        yield frame.slice(start, per)


CSV_SLICE_ROWS = 250_000  # rows turned into text at a time for a CSV file


def _write_csv(
    path: Path,
    piece: pl.DataFrame,
    to_text: Callable[[pl.DataFrame], pl.DataFrame],
    plain: Collection[str],
) -> None:
    """One CSV file (UTF-8 with BOM, header row) of a piece, turned into text and written a
    slice at a time: the same bytes as the whole piece at once, two slices' text held. The next
    slice is turned into text on a thread while one is written (each step alone leaves a core
    idle: write stage at 10 M 9.3 -> 8.6 s)."""

    def text(start: int) -> pl.DataFrame:
        return neutralise_formulas(to_text(piece.slice(start, CSV_SLICE_ROWS)), plain)

    starts = range(0, max(piece.height, 1), CSV_SLICE_ROWS)
    with path.open("wb") as fh, ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(text, starts[0])
        for i, start in enumerate(starts):
            table = ahead.result()
            if i + 1 < len(starts):
                ahead = pool.submit(text, starts[i + 1])
            table.write_csv(fh, include_bom=start == 0, include_header=start == 0)


class ClerkTables:
    """Writes each clerk table as CSV (UTF-8 with BOM) and as a sheet of one workbook, a piece
    of at most one Excel sheet at a time: `name.csv`, `name_2.csv`, … and sheets `name`,
    `name(2)`, …. Only one piece is ever held as text."""

    def __init__(self, folder: Path, workbook: str | None) -> None:
        self.folder = folder
        self.book = XlsxWriter(folder / workbook, title=Path(workbook).stem) if workbook else None

    def add(
        self,
        name: str,
        frame: pl.DataFrame | pl.LazyFrame | Path,
        to_text: Callable[[pl.DataFrame], pl.DataFrame],
        *,
        csv: bool = True,
        plain: Collection[str] = (),
    ) -> None:
        """One table; `plain` names the (rendered) columns whose text gthfx wrote itself, which
        cannot hold a formula (see `privacy.neutralise_formulas`)."""
        for index, piece in enumerate(chunks(frame), start=1):
            suffix = "" if index == 1 else f"_{index}"
            if self.book is None:  # CSV alone: a slice of the piece at a time as text
                if csv:
                    _write_csv(self.folder / f"{name}{suffix}.csv", piece, to_text, plain)
                continue
            table = to_text(piece)
            if csv:
                _write_csv(self.folder / f"{name}{suffix}.csv", table, lambda t: t, plain)
            sheet = name if index == 1 else f"{name}({index})"
            self.book.add_sheet(sheet[:SHEET_NAME_LIMIT], table)

    def close(self) -> None:
        if self.book is not None:
            self.book.close()
