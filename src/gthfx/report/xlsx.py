"""A vectorised writer of large, plain .xlsx workbooks.

xlsxwriter writes cell by cell in Python: a million-row result takes minutes. Here each sheet's
XML is built by Polars string expressions over whole columns, a chunk of rows at a time, and
streamed into the zip. The workbook is deliberately plain — inline strings, one bold header
style, a frozen and filtered header row, column widths — which Excel, WPS, LibreOffice,
openpyxl and calamine all read. Text is always written as text (an inline string, never a
formula, whatever it starts with), cut to the 32 767 characters a cell holds. Output is
deterministic: fixed zip timestamps, no clock.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import polars as pl

from gthfx.report.privacy import CUT_MARK, EXCEL_CELL_CHARS

CHUNK_ROWS = 100_000
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_NUMERIC = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64,
            pl.Float32, pl.Float64)  # fmt: skip


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _escaped(expr: pl.Expr) -> pl.Expr:
    # XML 1.0 forbids most control characters; drop them rather than write a broken file. A cell
    # holds at most 32 767 characters: longer text is cut, and says so.
    keep = EXCEL_CELL_CHARS - len(CUT_MARK)
    expr = (
        pl.when(expr.str.len_chars() > EXCEL_CELL_CHARS)
        .then(expr.str.slice(0, keep) + CUT_MARK)
        .otherwise(expr)
    )
    return (
        expr.str.replace_all(r"[\x00-\x08\x0B\x0C\x0E-\x1F]", "")
        .str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def _cell(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype in _NUMERIC:
        value = col.cast(pl.String)
        finite = col.is_not_null() if not dtype.is_float() else col.is_finite().fill_null(False)
        return pl.when(finite).then("<c><v>" + value + "</v></c>").otherwise(pl.lit("<c/>"))
    text = _escaped(col.cast(pl.String))
    return (
        pl.when(col.is_not_null())
        .then('<c t="inlineStr"><is><t>' + text + "</t></is></c>")
        .otherwise(pl.lit("<c/>"))
    )


def _widths(frame: pl.DataFrame) -> list[float]:
    """Column widths from the header and the longest value (CJK counted double), 10–60."""
    widths = []
    for name in frame.columns:
        width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in name) + 2
        if frame.height:
            longest = frame.select(pl.col(name).cast(pl.String).str.len_bytes().max()).item()
            if isinstance(longest, int):
                width = max(width, longest * 2 // 3 + 2)  # UTF-8 CJK: 3 bytes, 2 columns
        widths.append(float(max(10, min(60, width))))
    return widths


def _write_sheet(archive: zipfile.ZipFile, member: zipfile.ZipInfo, frame: pl.DataFrame) -> None:
    last = f"{column_letter(max(frame.width - 1, 0))}{frame.height + 1}"
    cols = "".join(
        f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>'
        for i, w in enumerate(_widths(frame))
    )
    header = "".join(
        f'<c t="inlineStr" s="1"><is><t xml:space="preserve">{escape(h)}</t></is></c>'
        for h in frame.columns
    )
    row = pl.concat_str(
        [pl.lit("<row>"), *(_cell(n, frame.schema[n]) for n in frame.columns), pl.lit("</row>")]
    )
    with archive.open(member, "w", force_zip64=True) as out:
        out.write(
            (
                f'{_HEAD}<worksheet {_NS} {_NS_R}><dimension ref="A1:{last}"/>'
                '<sheetViews><sheetView workbookViewId="0">'
                '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView>'
                f'</sheetViews><sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols>'
                f"<sheetData><row>{header}</row>\n"
            ).encode()
        )
        for start in range(0, frame.height, CHUNK_ROWS):
            xml = frame.slice(start, CHUNK_ROWS).select(row.str.join("\n")).item()
            out.write(xml.encode() + b"\n")
        out.write(f'</sheetData><autoFilter ref="A1:{last}"/></worksheet>'.encode())


class XlsxWriter:
    """Writes a workbook a sheet at a time: each `add_sheet` streams its rows into the zip at
    once, so only one table needs to be in memory; `close` writes the workbook's index."""

    def __init__(self, path: Path, *, title: str = "") -> None:
        self.title = title
        self.sheets: list[tuple[str, str]] = []  # name, filter range
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)

    def add_sheet(self, name: str, frame: pl.DataFrame) -> None:
        if len(name) > 31 or name in [n for n, _ in self.sheets]:
            raise ValueError(f"sheet names must be unique and at most 31 characters: {name!r}")
        info = zipfile.ZipInfo(f"xl/worksheets/sheet{len(self.sheets) + 1}.xml", _ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        _write_sheet(self.zip, info, frame)
        last = f"${column_letter(max(frame.width - 1, 0))}${frame.height + 1}"
        self.sheets.append((name, f"$A$1:{last}"))

    def _put(self, member: str, text: str) -> None:
        info = zipfile.ZipInfo(member, date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, text.encode(), compresslevel=1)

    def close(self) -> None:
        n = len(self.sheets)
        self._put(
            "[Content_Types].xml",
            f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
            'package.core-properties+xml"/>'
            + "".join(
                f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                for i in range(n)
            )
            + "</Types>",
        )
        self._put(
            "_rels/.rels",
            f'{_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
            'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
            "</Relationships>",
        )
        self._put(
            "docProps/core.xml",
            f'{_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
            'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:title>{escape(self.title)}</dc:title><dc:creator>gthfx</dc:creator>"
            "</cp:coreProperties>",
        )
        self._put(
            "xl/_rels/workbook.xml.rels",
            f'{_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            'relationships">'
            + "".join(
                f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/'
                'officeDocument/2006/relationships/worksheet" '
                f'Target="worksheets/sheet{i + 1}.xml"/>'
                for i in range(n)
            )
            + f'<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>',
        )
        filters = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
            f"'{escape(name)}'!{ref}</definedName>"
            for i, (name, ref) in enumerate(self.sheets)
        )
        self._put(
            "xl/workbook.xml",
            f"{_HEAD}<workbook {_NS} {_NS_R}><bookViews><workbookView/></bookViews><sheets>"
            + "".join(
                f'<sheet name="{escape(name)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                for i, (name, _) in enumerate(self.sheets)
            )
            + f"</sheets><definedNames>{filters}</definedNames></workbook>",
        )
        self._put("xl/styles.xml", _STYLES)
        self.zip.close()


_STYLES = (
    f'{_HEAD}<styleSheet {_NS}><fonts count="2"><font><sz val="11"/><name val="等线"/>'
    '</font><font><b/><sz val="11"/><name val="等线"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill '
    'patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor '
    'rgb="FFDDEBF7"/><bgColor indexed="64"/></patternFill></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
    '</borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
    'borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" '
    'fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="2" '
    'borderId="0" xfId="0" applyFont="1" applyFill="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    "</cellStyles></styleSheet>"
)


def write_xlsx(path: Path, sheets: list[tuple[str, pl.DataFrame]], *, title: str = "") -> None:
    """One workbook, a sheet per (name, frame); names must be unique and ≤ 31 characters."""
    writer = XlsxWriter(path, title=title)
    try:
        for name, frame in sheets:
            writer.add_sheet(name, frame)
    finally:
        writer.close()
