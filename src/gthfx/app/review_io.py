"""Reading returned review workbooks back into the plain files of SPEC §9: `corrections.csv` and
`decisions.csv` (UTF-8 with BOM). Every row is checked first; any problem → nothing is written.

Values are not checked against field types, and codes not against the base run: that is the
recheck's job. Here only the workbook's own answers are checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import polars as pl

from gthfx.report.review_workbook import (
    ANSWER_CONFIRM,
    ANSWER_CORRECT,
    ANSWER_DECIDE,
    ANSWERS,
    CLERK_HEADERS,
    DECISION_TIERS,
    KEY_HEADERS,
    SHEET_LISTS,
    SHEET_REVIEW,
)
from gthfx.settings.sources import SourcesMapping, normalise_header

CORRECTION_COLUMNS = ("统一社会信用代码", "字段", "更正值", "复核人", "复核日期", "说明")
DECISION_COLUMNS = ("统一社会信用代码", "认定分型", "理由", "审批人", "日期")


@dataclass(frozen=True)
class Problem:
    file: str
    sheet: str
    row: int  # the Excel row number (0 when the problem is the whole sheet)
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.sheet}" + (f" 第{self.row}行" if self.row else "")
        return f"{where}: {self.message}"


@dataclass
class ImportResult:
    rows: int = 0
    confirmed: int = 0
    empty: int = 0
    corrections: list[tuple[str, ...]] = field(default_factory=list)
    decisions: list[tuple[str, ...]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


def _text(value: object) -> str:
    """A cell as text: whole floats without '.0', dates as YYYY-MM-DD, None as ''."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):  # a date cell
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def field_names(sources: SourcesMapping) -> dict[str, str]:
    """Accepted spellings of a correctable field (its label, canonical name, headers) → the name
    to write in corrections.csv: the label when it is an accepted header, else the canonical
    name (recheck accepts canonical names and accepted headers)."""
    out: dict[str, str] = {}
    for spec in sources.extracts.values():
        for name, fs in spec.fields.items():
            if name == "uscc" or fs.personal:
                continue
            headers = {normalise_header(h) for h in fs.headers}
            written = fs.label if normalise_header(fs.label) in headers else name
            for spelling in (fs.label, name):
                out.setdefault(normalise_header(spelling), written)
    return out


def read_workbooks(paths: list[Path], sources: SourcesMapping) -> ImportResult:
    """Read and check every returned workbook; the rows answered 更正 / 人工认定 are collected."""
    result = ImportResult()
    names = field_names(sources)
    for path in paths:
        _read_one(path, names, result)
    return result


def _read_one(path: Path, names: dict[str, str], result: ImportResult) -> None:
    # openpyxl (a runtime dependency) is imported here, not at the top: every command's start-up
    # imports this module through the CLI, and openpyxl adds about 0.13 s to it (measured with
    # `python -X importtime`) for the one command that reads workbooks
    from openpyxl import load_workbook

    file = str(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # any unreadable file is the user's problem
        result.problems.append(Problem(file, "-", 0, f"无法读取工作簿: {exc}"))
        return
    try:
        if SHEET_REVIEW not in book.sheetnames:
            result.problems.append(Problem(file, SHEET_REVIEW, 0, "缺少「待复核」工作表"))
            return
        listed: set[str] | None = None
        if SHEET_LISTS in book.sheetnames:
            column = [
                r[0] for r in book[SHEET_LISTS].iter_rows(min_col=4, max_col=4, values_only=True)
            ]
            listed = {_text(v) for v in column[1:] if v is not None}
        rows = book[SHEET_REVIEW].iter_rows(values_only=True)
        header = [_text(v) for v in next(rows, ())]
        expected = [*KEY_HEADERS, *CLERK_HEADERS]
        missing = [h for h in expected if h not in header]
        if missing:
            result.problems.append(
                Problem(file, SHEET_REVIEW, 1, f"表头缺少列: {'、'.join(missing)}")
            )
            return
        at = {h: header.index(h) for h in expected}
        for number, raw in enumerate(rows, start=2):
            cells = {h: _text(raw[i]) if i < len(raw) else "" for h, i in at.items()}
            if not any(cells.values()):
                continue  # a blank line
            _check_row(file, number, cells, names, listed, result)
    finally:
        book.close()


def _check_row(
    file: str,
    number: int,
    cells: dict[str, str],
    names: dict[str, str],
    listed: set[str] | None,
    result: ImportResult,
) -> None:
    def problem(message: str) -> None:
        result.problems.append(Problem(file, SHEET_REVIEW, number, message))

    result.rows += 1
    code = cells["统一社会信用代码"]
    answer = cells["复核结论"]
    if not code:
        problem("缺少统一社会信用代码")
    elif listed is not None and code not in listed:
        problem(f"代码 {code} 不在本复核表列出的户中")
    if answer == "":
        result.empty += 1
    elif answer == ANSWER_CONFIRM:
        result.confirmed += 1
    elif answer == ANSWER_CORRECT:
        label, value = cells["更正字段"], cells["更正值"]
        if not label:
            problem("更正: 缺少「更正字段」")
        elif normalise_header(label) not in names:
            problem(f"更正: 未知字段「{label}」")
        if not value:
            problem("更正: 缺少「更正值」")
        if label and value and normalise_header(label) in names:
            result.corrections.append(
                (
                    code,
                    names[normalise_header(label)],
                    value,
                    cells["复核人"],
                    cells["复核日期"],
                    cells["理由"],
                )
            )
    elif answer == ANSWER_DECIDE:
        tier = cells["认定分型"]
        if not tier:
            problem("人工认定: 缺少「认定分型」")
        elif tier not in DECISION_TIERS:
            problem(f"人工认定: 未知分型「{tier}」(应为 {' / '.join(DECISION_TIERS)})")
        if not cells["理由"]:
            problem("人工认定: 缺少「理由」")
        if not cells["复核人"]:
            problem("人工认定: 缺少「复核人」(审批人)")
        result.decisions.append((code, tier, cells["理由"], cells["复核人"], cells["复核日期"]))
    else:
        problem(f"未知的复核结论「{answer}」(应为 {' / '.join(ANSWERS)} 或留空)")


def write_plain_files(result: ImportResult, out: Path) -> list[Path]:
    """corrections.csv and decisions.csv (UTF-8 with BOM) in `out`; call only without problems.
    Sorted by code (then field) so that the same answers give the same bytes."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, columns, rows in (
        ("corrections.csv", CORRECTION_COLUMNS, sorted(result.corrections)),
        ("decisions.csv", DECISION_COLUMNS, sorted(result.decisions)),
    ):
        frame = pl.DataFrame(
            [list(r) for r in rows] if rows else None,
            schema={c: pl.String for c in columns},
            orient="row",
        )
        path = out / name
        frame.write_csv(path, include_bom=True)
        written.append(path)
    result.written = written
    return written
