"""Reading an extract from an Excel workbook (.xlsx, .xlsm; .xls with fewer checks) as text.

I/O only; the cells are read by calamine (fastexcel), the layout from the workbook's own XML:

- **which sheet**: the one the sources mapping names (`sheet:`), else the visible sheets, the
  active one first — a hidden sheet is never read unless named — and of those the first whose
  header row holds the extract's required fields;
- **which row is the header**: the one the mapping names (`header_row:`, as Excel numbers rows),
  else the first of the sheet's first ten rows that holds the required fields (a title row above
  the headers is common). A header cell merged down over the next row, or a group title merged
  across columns above sub-headers, makes a two-row header: each column takes its lowest
  non-empty header cell;
- **merged cells in the data**: every cell of a merged range takes the value of its first cell
  (a credit code merged over two rows belongs to both), and the file's warnings say so;
- **codes stored as numbers**: a numeric cell of eleven digits or more is listed
  (`big_numbers`), so that the code column's such cells can be rejected (`numeric_code`): Excel
  keeps 15 significant digits, so two codes may have become one number.

Messages name the file, the sheet and rows, never a cell's value.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

import numpy as np
import polars as pl

from gthfx.errors import InputError
from gthfx.ingest.headers import looks_like_data

HEADER_SEARCH_ROWS = 10  # the header row is looked for among the sheet's first rows
_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_MERGE = re.compile(rb'<mergeCell ref="([A-Z]{1,3})(\d+)(?::([A-Z]{1,3})(\d+))?"')
# a numeric cell (no type, or t="n") whose value has eleven digits or more, or an exponent
_BIG = re.compile(
    rb'<c r="([A-Z]{1,3})(\d+)"((?:\s+[a-z]+="[^"]*")*)\s*>'
    rb"<v>(-?(?:\d{11,}(?:\.\d*)?|\d(?:\.\d+)?[eE][+-]?\d+))</v>"
)
_ROW = re.compile(rb'<row\b[^>]*?\br="(\d+)"[^>]*>(.*?)</row>', re.DOTALL)
_OVERLAP = 4096
_CHUNK = 1 << 22

# a header map test: given a sheet's header names, whether the required fields are all there
Maps = Callable[[list[str]], bool]


def column_index(letters: str) -> int:
    """A → 0, Z → 25, AA → 26."""
    out = 0
    for ch in letters:
        out = out * 26 + ord(ch) - 64
    return out - 1


@dataclass
class SheetText:
    """One sheet's data rows as text columns named by their header."""

    sheet: str
    frame: pl.DataFrame  # one String column per header (unique names), one row per data row
    rows: pl.Series  # the Excel row number of each data row
    columns: dict[str, int]  # header name → absolute column index (A = 0)
    big_numbers: dict[int, np.ndarray] = field(default_factory=dict)  # column → Excel rows
    numbers_checked: bool = True
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Layout:
    """What the sheet's XML says: merged ranges (0-based, inclusive), the first row with a
    value (Excel number), big numeric cells per column."""

    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    first_row: int | None = None
    big: dict[int, list[int]] = field(default_factory=dict)
    has_refs: bool = True


def _sheet_index(book: zipfile.ZipFile) -> tuple[list[tuple[str, str, str]], int]:
    """(name, state, member) of every sheet in workbook order, and the active tab's index."""
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_NS}Relationship")}
    sheets = []
    for sheet in workbook.iter(f"{_NS}sheet"):
        target = targets.get(sheet.get(f"{_REL_NS}id"), "")
        member = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl", target))
        sheets.append((sheet.get("name", ""), sheet.get("state", "visible"), member))
    view = workbook.find(f"{_NS}bookViews/{_NS}workbookView")
    active = int(view.get("activeTab", "0")) if view is not None else 0
    return sheets, active


def _scan_sheet(book: zipfile.ZipFile, member: str) -> _Layout:
    """One streaming pass over a sheet's XML: merged ranges, the first row with a value, and
    numeric cells holding long numbers."""
    layout = _Layout()
    seen_ref = False
    with book.open(member) as stream:
        carry = b""
        while True:
            chunk = stream.read(_CHUNK)
            final = not chunk
            buffer = carry + chunk
            limit = len(buffer) if final else max(0, len(buffer) - _OVERLAP)
            if layout.first_row is None:
                for match in _ROW.finditer(buffer):
                    if match.start() >= limit:
                        break
                    if b"<v>" in match[2] or b"<v " in match[2] or b"<is>" in match[2]:
                        layout.first_row = int(match[1])
                        break
            if not seen_ref and b"<c " in buffer:
                seen_ref = b'<c r="' in buffer
                layout.has_refs = seen_ref
            for match in _BIG.finditer(buffer):
                if match.start() >= limit:
                    break
                attrs = match[3]
                if b' t="' in attrs and b' t="n"' not in attrs:
                    continue
                layout.big.setdefault(column_index(match[1].decode()), []).append(int(match[2]))
            for match in _MERGE.finditer(buffer):
                if match.start() >= limit:
                    break
                c1, r1 = column_index(match[1].decode()), int(match[2]) - 1
                c2 = column_index(match[3].decode()) if match[3] else c1
                r2 = int(match[4]) - 1 if match[4] else r1
                layout.merges.append((r1, c1, r2, c2))
            if final:
                break
            carry = buffer[limit:]
    return layout


def _owner_hint(path: Path) -> str:
    if path.name.startswith("~$"):
        return (
            "this is Excel's owner (lock) file of an open workbook, not an extract: close the "
            "workbook in Excel, or leave the ~$ file out"
        )
    return "open it in Excel or WPS and save it again as .xlsx"


def _open(path: Path) -> object:
    import fastexcel

    try:
        return fastexcel.read_excel(path)
    except Exception:  # fastexcel raises its own family, not exported stably; never shown
        raise InputError(
            f"{path}: cannot read as an Excel workbook (a damaged or not a workbook file)",
            hint=_owner_hint(path),
        ) from None


def read_sheet(
    path: Path,
    maps: Maps,
    sheet: str | None = None,
    header_row: int | None = None,
    fail: Callable[[list[str]], None] | None = None,
) -> SheetText:
    """The data rows of the extract's sheet (see the module docstring). `maps` tells whether a
    header row holds the required fields; `fail(headers)` raises the mapping's own error for
    the first sheet when no sheet does."""
    reader = _open(path)
    names: list[str] = list(reader.sheet_names)  # type: ignore[attr-defined]
    xlsx = path.suffix.lower() in (".xlsx", ".xlsm")
    members: dict[str, str] = {}
    order: list[str]
    if xlsx:
        try:
            with zipfile.ZipFile(path) as book:
                index, active = _sheet_index(book)
        except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError):
            raise InputError(
                f"{path}: cannot read the workbook's list of sheets (a damaged file?)",
                hint=_owner_hint(path),
            ) from None
        members = {name: member for name, _, member in index}
        visible = [name for name, state, _ in index if state == "visible"]
        if 0 <= active < len(index) and index[active][0] in visible:
            visible.remove(index[active][0])
            visible.insert(0, index[active][0])
        order = visible
    else:
        order = [
            name
            for i, name in enumerate(names)
            if reader.load_sheet(i, header_row=None, n_rows=0).visible == "visible"  # type: ignore[attr-defined]
        ]
    if sheet is not None:
        if sheet not in names:
            raise InputError(
                f"{path}: no sheet named {sheet!r} (the sources mapping's `sheet:`)",
                hint=f"the workbook's sheets are: {', '.join(names)}",
            )
        order = [sheet]
    if not order:
        raise InputError(
            f"{path}: the workbook has no visible sheet", hint="name one with `sheet:`"
        )
    first_headers: list[str] | None = None
    for name in order:
        loaded = reader.load_sheet(name, header_row=None, dtypes="string")  # type: ignore[attr-defined]
        grid = loaded.to_polars()
        absolute = [c.absolute_index for c in loaded.available_columns()]
        layout = _Layout()
        if xlsx:
            with zipfile.ZipFile(path) as book:
                layout = _scan_sheet(book, members[name])
        top = (layout.first_row or 1) - 1  # 0-based Excel row of the grid's first row
        left = absolute[0] if absolute else 0
        candidates = (
            [header_row - 1 - top]
            if header_row is not None
            else list(range(min(HEADER_SEARCH_ROWS, grid.height)))
        )
        for start in candidates:
            if not 0 <= start < grid.height:
                raise InputError(
                    f"{path}: sheet {name!r} has no row {header_row} (its rows with values are "
                    f"{top + 1}–{top + grid.height})",
                    hint="fix `header_row:` in the sources mapping",
                )
            headers, depth = _header(grid, start, layout, top, left)
            if first_headers is None:
                first_headers = headers
            if header_row is not None or maps(headers):
                return _data(path, name, grid, start + depth, headers, layout, top, left, absolute)
        if sheet is not None or header_row is not None:
            break
    if fail is not None:
        fail(first_headers or [])
    raise InputError(f"{path}: no sheet holds the extract's headers")


def _header(
    grid: pl.DataFrame, start: int, layout: _Layout, top: int, left: int
) -> tuple[list[str], int]:
    """The header names from grid row `start` (merges applied), and how many rows they take."""
    width = grid.width
    depth, across = 1, False
    for r1, c1, r2, c2 in layout.merges:
        if r1 - top != start:
            continue
        if r2 > r1:
            depth = max(depth, r2 - r1 + 1)  # a header cell merged down over the next row
        elif c2 > c1:
            across = True
    below = start + 1 < grid.height and not looks_like_data(
        [str(v) for v in grid.row(start + 1) if v is not None]
    )
    if across and below:
        depth = max(depth, 2)  # a group title merged across columns, above sub-headers
    depth = min(depth, 3, grid.height - start)
    cells = [list(grid.row(start + k)) for k in range(depth)]
    for r1, c1, r2, c2 in layout.merges:
        for r in range(max(r1 - top, start), min(r2 - top, start + depth - 1) + 1):
            source = r1 - top
            if not start <= source < start + depth:
                continue
            value = cells[source - start][c1 - left] if 0 <= c1 - left < width else None
            for c in range(max(c1 - left, 0), min(c2 - left, width - 1) + 1):
                cells[r - start][c] = value
    names: list[str] = []
    for c in range(width):
        text = ""
        for k in range(depth):
            cell = cells[k][c]
            if cell is not None and str(cell).strip():
                text = str(cell)
        base = text.strip() or f"__UNNAMED__{c}"
        unique, n = base, 1
        while unique in names:
            n += 1
            unique = f"{base}({n})"
        names.append(unique)
    return names, depth


def _data(
    path: Path,
    sheet: str,
    grid: pl.DataFrame,
    first: int,
    headers: list[str],
    layout: _Layout,
    top: int,
    left: int,
    absolute: list[int],
) -> SheetText:
    height = grid.height - first
    frame = grid.slice(first, height)
    frame.columns = headers
    warnings: list[str] = []
    # merged ranges in the data rows: each cell takes the value of its range's first cell
    sources: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # column → (source rows, columns)
    merged = 0
    for r1, c1, r2, c2 in layout.merges:
        a, b = r1 - top - first, min(r2 - top - first, height - 1)
        if a < 0 or a >= height or (r1 == r2 and c1 == c2):
            continue
        merged += 1
        for c in range(max(c1 - left, 0), min(c2 - left, frame.width - 1) + 1):
            rows_, cols_ = sources.setdefault(
                c, (np.arange(height), np.full(height, c, dtype=np.int64))
            )
            rows_[a : b + 1] = a
            cols_[a : b + 1] = c1 - left
    if sources:
        columns = []
        for c, name in enumerate(headers):
            if c not in sources:
                columns.append(frame.get_column(name))
                continue
            rows_, cols_ = sources[c]
            value = frame.get_column(name)
            for k in np.unique(cols_):
                taken = frame.get_column(headers[int(k)]).gather(pl.Series(rows_, dtype=pl.UInt32))
                value = value.zip_with(pl.Series(cols_ != k), taken)
            columns.append(value.alias(name))
        frame = pl.DataFrame(columns)
        warnings.append(
            f"{path}: sheet {sheet!r}: {merged} merged cell range(s) in the data rows; every "
            "cell of a range was read as the value of its first cell"
        )
    rows = pl.Series("_row", np.arange(height) + top + first + 1, dtype=pl.UInt32)
    big = {c: np.array(sorted(rs), dtype=np.int64) for c, rs in layout.big.items()}
    return SheetText(
        sheet=sheet,
        frame=frame,
        rows=rows,
        columns=dict(zip(headers, absolute, strict=True)),
        big_numbers=big,
        numbers_checked=layout.has_refs and path.suffix.lower() in (".xlsx", ".xlsm"),
        warnings=warnings,
    )
