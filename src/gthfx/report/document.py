"""The monitoring report as plain data: sections of numbered figures, each a table with its
definition and, where one helps, a chart drawn from that same table's columns.

Tables have Chinese headers and hold the values as shown; the document carries the run's
provenance for the footnotes. The HTML page (`report.html`) and
the workbook (`document_sheets`) are two renderings of one `Document`, so a chart, its table and
its sheet cannot disagree.

No I/O and no computing of figures here: the use case (`app.report`) fills the tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from gthfx.report.svg import Mode

MISSING = "—"  # how an empty cell is shown, unless a figure says otherwise
NO_DATA = "暂无数据"
SHEET_NAME_LIMIT = 31
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Chart:
    """A chart of a figure's table: one band (bar, column or grid row) per row of `rows` (all
    rows when None), labelled by the `category` column; one series per column of `series`
    (legend `names`, default the column headers), coloured by `colours`.

    `kind`: `bars` (horizontal), `columns` (vertical) or `grid` (a transition matrix: series are
    its columns). `mode` for bars and columns: grouped, stacked, or percent (values are shares
    in %). `unit` is printed after each value. `desc` is the chart's accessible description."""

    kind: Literal["bars", "columns", "grid"]
    category: str
    series: tuple[str, ...]
    colours: tuple[str, ...]
    desc: str
    mode: Mode = "grouped"
    unit: str = ""
    names: tuple[str, ...] | None = None
    rows: tuple[int, ...] | None = None
    row_title: str = ""
    column_title: str = ""

    def legend(self) -> tuple[str, ...]:
        return self.names if self.names is not None else self.series


@dataclass(frozen=True)
class Figure:
    """One numbered figure: its title, its table, what every number means (`definition`), the
    provenance line, and optionally a chart. `total_rows` are rows that sum others (shown bold);
    `missing` is written in empty cells; `note` says what could not be measured and why."""

    id: str
    title: str
    table: pl.DataFrame
    definition: str
    chart: Chart | None = None
    total_rows: tuple[int, ...] = ()
    missing: str = MISSING
    note: str | None = None
    source: str = ""  # e.g. 对比批次 2023-07-01, beyond the document's source line


@dataclass(frozen=True)
class Section:
    """A part of the report: a heading, an introduction, its figures; `empty` (e.g. "暂无数据:
    …") when there is nothing to show, and `notes` for what was left out and why."""

    id: str
    title: str
    intro: str
    figures: tuple[Figure, ...] = ()
    empty: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """The whole report. `source` is the footnote (label, text) lines — run date, ruleset id and
    SHA-256, every input file's SHA-256 —, `source_line` the short form printed under every
    figure, `keys` the headline numbers (label, value)."""

    title: str
    subtitle: str
    keys: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]
    source: tuple[tuple[str, str], ...]
    source_line: str
    generator: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def figures(self) -> list[Figure]:
        """Every figure, in the order they are numbered (图表1, 图表2, …)."""
        return [f for s in self.sections for f in s.figures]


def sheet_name(number: int, title: str, taken: set[str]) -> str:
    """`3 各区分型结构`, cut to Excel's 31 characters and without the characters it forbids."""
    base = _SHEET_FORBIDDEN.sub("·", f"{number} {title}")[:SHEET_NAME_LIMIT]
    name, k = base, 2
    while name in taken:
        suffix = f"({k})"
        name, k = base[: SHEET_NAME_LIMIT - len(suffix)] + suffix, k + 1
    taken.add(name)
    return name


def document_sheets(doc: Document) -> list[tuple[str, pl.DataFrame]]:
    """The workbook of a document: 说明 (title, provenance, and per figure its number, title,
    sheet, definition and notes), then one sheet per figure with exactly its table."""
    taken = {"说明"}
    sheets: list[tuple[str, pl.DataFrame]] = []
    lines: list[tuple[str, str]] = [("报告", doc.title), ("范围", doc.subtitle)]
    lines += [(label, text) for label, text in doc.source]
    number = 0
    for section in doc.sections:
        lines.append((section.title, section.empty or section.intro))
        lines += [("说明", note) for note in section.notes]
        for fig in section.figures:
            number += 1
            name = sheet_name(number, fig.title, taken)
            sheets.append((name, fig.table))
            lines.append((f"图表{number}", f"{fig.title}(工作表「{name}」)"))
            lines.append(("口径", fig.definition))
            if fig.note:
                lines.append(("说明", fig.note))
            if fig.source:
                lines.append(("数据", fig.source))
    lines += [("说明", note) for note in doc.notes]
    lines.append(("生成", doc.generator))
    about = pl.DataFrame(
        {"项目": [a for a, _ in lines], "内容": [b for _, b in lines]},
        schema={"项目": pl.String, "内容": pl.String},
    )
    return [("说明", about), *sheets]
