"""Fuzzing the edges (issue 13, "how to make it last"): hypothesis writes extracts the way
departments and clerks do — ragged rows, odd line endings and encodings, tabs, quotes and line
breaks in values, placeholders, huge and tiny numbers, hidden sheets, title rows, merged cells,
codes stored as numbers — and rule texts from the grammar's own tokens. Whatever comes in, gthfx
either reads it exactly as Python's csv module (the oracle) reads it, or refuses it with one
`GthfxError` naming the file and row and never a value; it never raises anything else.

Examples are few (the suite must stay quick) and deterministic (`derandomize`)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import date
from pathlib import Path

import openpyxl
import polars as pl
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_messy_inputs import RULES, SOCIAL, TAX, code

from gthfx.app.classify import classify
from gthfx.errors import GthfxError, InputError
from gthfx.ingest import load
from gthfx.ingest.validate import validate_extract
from gthfx.progress import Reporter
from gthfx.rules.lint import lint_file
from gthfx.rules.model import load_ruleset
from gthfx.rules.plan import build_plan
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import load_sources

SOURCES = load_sources()
ANNUAL = SOURCES.extracts["annual"]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
COLUMNS = ["统一社会信用代码", "个体工商户名称", "经营者姓名", "联系电话", "成立日期", "登记状态",
           "年报年度", "从业人数", "营业额"]  # fmt: skip
SECRET_NAME = "欧阳静雯"
SECRET_PHONE = "13987654321"

codes = st.one_of(
    st.integers(1, 6).map(code),  # a small pool: duplicates happen
    st.sampled_from(
        ["", "NULL", "9242010", "91420102MA4K1B2C9D", " ９２４２０１０２ＭＡ４Ｋ１Ｂ２Ｃ９Ｄ "]
    ),
)
numbers = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "-", "—", "N/A", "1,234", "1e308", "1e-300", "50万元", "3人", "三人"]),
)
texts = st.text(alphabet=st.sampled_from('张店,"\n\t \r甲-=+@/1'), max_size=8)
cells = st.fixed_dictionaries(
    {
        "统一社会信用代码": codes,
        "个体工商户名称": texts,
        "经营者姓名": st.just(SECRET_NAME),
        "联系电话": st.just(SECRET_PHONE),
        "成立日期": st.sampled_from(
            [
                "2020-01-01",
                "2020/1/1",
                "2020年1月1日",
                "20200101",
                "2099-01-01",
                "44000",
                "",
                "坏日期",
            ]
        ),
        "登记状态": st.sampled_from(["存续", "存续（在营、开业、在册）", "歇业", "", "NULL"]),
        "年报年度": st.sampled_from(["2023", "2023年度", "2022", "", "abc", "2999"]),
        "从业人数": numbers,
        "营业额": numbers,
    }
)


def serialise(rows: list[dict[str, str]], separator: str, eol: str) -> str:
    """As Excel writes CSV: a value is quoted when it holds the separator, a quote or any line
    break (Python's writer leaves a lone CR unquoted in a file of LF lines)."""

    def cell(value: str) -> str:
        if any(ch in value for ch in (separator, '"', "\r", "\n")):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [COLUMNS, *([row[c] for c in COLUMNS] for row in rows)]
    return "".join(separator.join(cell(v) for v in line) + eol for line in lines)


def oracle(text: str, separator: str) -> list[list[str]]:
    """Python's csv module reading the same text: the rows as a careful reader sees them."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    return list(reader)[1:]


def assert_private(message: str) -> None:
    assert SECRET_NAME not in message and SECRET_PHONE not in message, message


@FUZZ
@given(
    rows=st.lists(cells, min_size=1, max_size=6),
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
    suffix=st.sampled_from([".csv", ".tsv"]),
    slide=st.one_of(st.none(), st.integers(0, 5)),
)
def test_text_extracts_are_read_exactly_or_refused(
    rows: list[dict[str, str]], eol: str, encoding: str, suffix: str, slide: int | None
) -> None:
    separator = "\t" if suffix == ".tsv" else ","
    text = serialise(rows, separator, eol)
    if slide is not None:  # an unquoted separator in one row's amount: the row is ragged
        lines = text.split(eol)
        target = 1 + slide % len(rows)
        if '"' not in lines[target]:
            lines[target] = lines[target] + separator + "500"
        else:
            slide = None
        text = eol.join(lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"annual{suffix}"
        path.write_bytes(text.encode(encoding))
        try:
            raw = load.load_extract("annual", [path], ANNUAL)
        except InputError as exc:
            assert_private(str(exc))
            event("refused: ragged")
            assert slide is not None, str(exc)
            assert str(path) in str(exc) and "fields where the header has" in str(exc)
            return
        assert slide is None
        expected = oracle(text, separator)
        got = raw.frame.select("uscc", "employees", "revenue").rows()
        assert [(r[0] or None, r[7] or None, r[8] or None) for r in expected] == got
        checked = validate_extract(raw, ANNUAL, report_year=2023)
        assert checked.accounting.holds()


@FUZZ
@given(
    rows=st.lists(cells, min_size=1, max_size=5),
    hidden=st.booleans(),
    title=st.booleans(),
    merge=st.one_of(st.none(), st.integers(0, 4)),
    numeric=st.one_of(st.none(), st.integers(0, 4)),
)
def test_workbooks_are_read_as_a_clerk_reads_them(
    rows: list[dict[str, str]],
    hidden: bool,
    title: bool,
    merge: int | None,
    numeric: int | None,
) -> None:
    book = openpyxl.Workbook()
    junk = book.active
    junk.title = "旧表"
    junk.append(COLUMNS)
    junk.append([code(9), "x", "y", "z", "2001-01-01", "存续", "2023", "1", "1"])
    if hidden:
        junk.sheet_state = "hidden"
    sheet = book.create_sheet("数据")
    book.active = 1
    if not hidden:
        book.remove(junk)
        book.active = 0
    if title:
        sheet.append(["个体工商户年报数据"])
        sheet.merge_cells("A1:I1")
    sheet.append(COLUMNS)
    first = 3 if title else 2
    values = [[r[c] for c in COLUMNS] for r in rows]
    if numeric is not None:
        values[numeric % len(values)][0] = 924201001234567891 + numeric  # digits lost in Excel
    for v in values:
        sheet.append([c if isinstance(c, int) else c.replace("\r", "") for c in v])
    merged = None
    if merge is not None and len(values) > 1:
        at = merge % (len(values) - 1)
        merged = first + at
        sheet.merge_cells(f"A{merged}:A{merged + 1}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "annual.xlsx"
        book.save(path)
        try:
            raw = load.load_extract("annual", [path], ANNUAL)
        except InputError as exc:
            assert_private(str(exc))
            return
        assert raw.files[0].sheet == "数据"
        got = dict(zip(raw.frame.get_column("_row"), raw.frame.get_column("uscc"), strict=True))
        assert sorted(got) == list(range(first, first + len(values)))
        for index, v in enumerate(values):
            excel_row = first + index
            want = values[index - 1][0] if merged is not None and excel_row == merged + 1 else v[0]
            if isinstance(want, int):
                continue  # a numeric code: checked below
            assert (got[excel_row] or "") == str(want).strip() or got[excel_row] == str(want)
        checked = validate_extract(raw, ANNUAL, report_year=2023)
        assert checked.accounting.holds()
        if numeric is not None and (merged is None or numeric % len(values) + first != merged + 1):
            reasons = checked.rejects.filter(pl.col("reason") == "numeric_code")
            assert reasons.height >= 1


# ---- rule texts ----------------------------------------------------------------------------

TOKENS = [
    "employees", "revenue", "sales_yuan", "years_in_business", "register_status", "phone",
    "established_on", "run_date", "run_year", "growth_min_employees", "nonsense", "abnormal",
    "3", "0", "1_000_000", "99999999999999999999", "2.5", '"存续"', "'x'", "true", "false",
    "and", "or", "not", "in", "is", "missing", "+", "-", "*", "/", "==", "!=", "<", ">=",
    "(", ")", "[", "]", ",", "coalesce", "complete_years", "max", "?", "{", "$",
]  # fmt: skip
expressions = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14).map(" ".join)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(expression=expressions)
def test_random_rule_texts_are_linted_and_compiled_or_refused(expression: str) -> None:
    text = (RULES / "reference-2024.yaml").read_text(encoding="utf-8")
    text = text.replace("    when: not abnormal", f"    when: {json.dumps(expression)}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.yaml"
        path.write_text(text, encoding="utf-8")
        findings = lint_file(path, SOURCES)
        try:
            compiled = build_plan(load_ruleset(path), SOURCES, date(2024, 7, 1))
        except GthfxError as exc:
            assert any(f.severity == "error" for f in findings), (expression, str(exc))
            return
        assert compiled.conditions


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    expression=st.sampled_from(
        [
            "employees > 1 and revenue < 10",
            "not (employees is missing) or sales_yuan >= 1e3",
            "employees / 0 > 1",
            "coalesce(employees, 0) - 99999 < 0",
            "years_in_business * years_in_business > 4",
            'register_status in ["存续", "在营"]',
            "established_on < run_date",
            "revenue == revenue",
        ]
    ),
    rows=st.lists(cells, min_size=1, max_size=4),
)
def test_random_rules_on_random_data_end_in_0_or_2(
    expression: str, rows: list[dict[str, str]]
) -> None:
    text = (RULES / "reference-2024.yaml").read_text(encoding="utf-8")
    text = text.replace("    when: not abnormal", f"    when: {json.dumps(expression)}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "rules").mkdir()
        (folder / "rules" / "r.yaml").write_text(text, encoding="utf-8")
        annual = folder / "annual.csv"
        annual.write_text(serialise(rows, ",", "\n"), encoding="utf-8")
        (folder / "tax.csv").write_text(TAX, encoding="utf-8")
        (folder / "social.csv").write_text(SOCIAL, encoding="utf-8")
        options = RunOptions(
            run_date=date(2024, 7, 1),
            inputs={
                "annual": (annual,),
                "tax": (folder / "tax.csv",),
                "social": (folder / "social.csv",),
            },
            out=folder / "runs",
            rules=folder / "rules",
            excel=False,
        )
        try:
            result = classify(options, Reporter(quiet=True))
        except GthfxError as exc:
            assert_private(str(exc))
            return
        assert result.exit_code == 0
        assert all(a.holds() for a in result.accounting.values())
