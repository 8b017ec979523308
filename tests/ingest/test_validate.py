"""Typed rows, rejects, duplicates and row accounting (SPEC §6): nothing is lost."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from gthfx.ingest import uscc, validate
from gthfx.ingest.load import FileInfo, RawExtract, load_extract
from gthfx.ingest.validate import ValidatedExtract, own_copy, validate_extract
from gthfx.settings.sources import ExtractSpec, load_sources
from gthfx.vocab import CONFLICT, ORPHAN, OTHER_YEAR

SOURCES = load_sources()
ANNUAL = SOURCES.extracts["annual"]
TAX = SOURCES.extracts["tax"]
SOCIAL = SOURCES.extracts["social"]
REPORT_YEAR = 2023


def code(body15: str) -> str:
    """A valid individual-business code from 15 characters after `92`."""
    body = "92" + body15
    return body + stdnum_uscc.calc_check_digit(body)


A = code("420102MA4K1B2C9")  # 92420102MA4K1B2C9D, the SPEC example
B = code("420103MA4K1B2C1")
C = code("420104MA4K1B2C2")
MISMATCH = A[:17] + ("E" if A[17] != "E" else "F")
ENTERPRISE = "91" + A[2:17]
ENTERPRISE += stdnum_uscc.calc_check_digit(ENTERPRISE)


def raw_extract(
    name: str, spec: ExtractSpec, files: list[list[dict[str, str | None]]]
) -> RawExtract:
    """A RawExtract as `load` would build it: one list of rows (field → raw text) per file."""
    records = []
    infos = []
    for index, rows in enumerate(files):
        for offset, row in enumerate(rows):
            unknown = set(row) - set(spec.fields)
            assert not unknown, unknown
            records.append(
                {"_file": index, "_row": offset + 2, **{f: row.get(f) for f in spec.fields}}
            )
        infos.append(
            FileInfo(
                extract=name,
                path=f"/data/{name}-{index}.csv",
                sha256="0" * 64,
                format="csv",
                encoding="utf-8",
                rows=len(rows),
                columns={f: f for f in spec.fields},
                ignored_columns=(),
            )
        )
    schema = {"_file": pl.UInt16, "_row": pl.UInt32, **dict.fromkeys(spec.fields, pl.String)}
    return RawExtract(name=name, frame=pl.DataFrame(records, schema=schema), files=infos)


def annual_row(code_text: str | None, **values: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "uscc": code_text,
        "established_on": "2020-01-01",
        "register_status": "存续",
        "region_code": "420102",
        "industry_code": "F5261",
    }
    row.update(values)
    return row


def validate_annual(*files: list[dict[str, str | None]]) -> ValidatedExtract:
    return validate_extract(raw_extract("annual", ANNUAL, list(files)), ANNUAL, report_year=2023)


def problems_by_code(
    result: ValidatedExtract, extract: str, spec: ExtractSpec
) -> dict[str, list[str]]:
    """uscc → its data-problem reasons (`_problems` lists, or the `_problem_mask` bits decoded)."""
    if "_problems" in result.rows.columns:
        return {c: sorted(p) for c, p in result.rows.select("uscc", "_problems").iter_rows()}
    reasons = validate.problem_reasons(extract, spec)
    return {
        c: sorted(reason for bit, reason in reasons if mask & bit)
        for c, mask in result.rows.select("uscc", "_problem_mask").iter_rows()
    }


def reject_rows(result: ValidatedExtract) -> list[dict[str, object]]:
    return result.rejects.sort("file", "row").to_dicts()


# ---- codes --------------------------------------------------------------------------------------


def test_unusable_codes_are_rejected_with_file_row_raw_value_and_reason() -> None:
    result = validate_annual(
        [
            annual_row(A),
            annual_row(None),
            annual_row("  "),
            annual_row("92420102MA4K1B2C"),
            annual_row("92420102MI4K1B2C9D"),
            annual_row(ENTERPRISE),
        ]
    )
    assert result.rows["uscc"].to_list() == [A]
    rejects = reject_rows(result)
    assert [(r["file"], r["row"], r["raw_value"], r["reason"]) for r in rejects] == [
        ("/data/annual-0.csv", 3, None, uscc.MISSING),
        ("/data/annual-0.csv", 4, "  ", uscc.MISSING),
        ("/data/annual-0.csv", 5, "92420102MA4K1B2C", uscc.MALFORMED),
        ("/data/annual-0.csv", 6, "92420102MI4K1B2C9D", uscc.MALFORMED),
        ("/data/annual-0.csv", 7, ENTERPRISE, uscc.NOT_INDIVIDUAL),
    ]
    assert {r["extract"] for r in rejects} == {"annual"}
    assert {r["field"] for r in rejects} == {"uscc"}
    assert result.rejects.columns == [
        "extract",
        "file",
        "row",
        "uscc",
        "field",
        "raw_value",
        "reason",
    ]


def test_check_digit_mismatch_is_kept_and_flagged() -> None:
    result = validate_annual([annual_row(MISMATCH), annual_row(A)])
    assert result.rejects.height == 0
    status = dict(result.rows.select("uscc", "_code_status").iter_rows())
    assert status == {MISMATCH: uscc.CHECK_MISMATCH, A: uscc.OK}


def test_codes_are_normalised_before_use() -> None:
    result = validate_annual([annual_row(f" {fullwidth(A).lower()} ")])
    assert result.rows["uscc"].to_list() == [A]


# ---- typed rows ---------------------------------------------------------------------------------


def test_rows_are_typed_and_money_is_converted_to_yuan() -> None:
    result = validate_annual(
        [
            annual_row(
                A,
                established_on="2021年7月1日",
                employees="１２",
                revenue="1,234.5",
                tax_total="3",
                abnormal="否",
                report_year="2023",
            )
        ]
    )
    row = result.rows.row(0, named=True)
    assert row["established_on"] == date(2021, 7, 1)
    assert row["employees"] == 12
    assert row["revenue"] == 12_345_000.0
    assert row["tax_total"] == 30_000.0
    assert row["abnormal"] is False
    assert row["report_year"] == 2023
    assert problems_by_code(result, "annual", ANNUAL) == {A: []}
    assert result.rows.schema["established_on"] == pl.Date
    assert result.rows.schema["employees"] == pl.Int64


def test_problems_list_unparseable_values_and_missing_required_fields() -> None:
    result = validate_annual(
        [
            annual_row(A, employees="三人", abnormal="也许"),
            annual_row(B, established_on=None, register_status=""),
            annual_row(C, established_on="2024-13-45"),
        ]
    )
    problems = problems_by_code(result, "annual", ANNUAL)
    assert problems[A] == ["unparseable:annual.abnormal", "unparseable:annual.employees"]
    assert problems[B] == ["missing:established_on", "missing:register_status"]
    # an unparseable required field is unparseable, not also missing
    assert problems[C] == ["unparseable:annual.established_on"]
    assert result.rejects.height == 0


def test_unparseable_values_in_tax_rows_are_problems_named_by_extract() -> None:
    raw = raw_extract("tax", TAX, [[{"uscc": A, "tax_year": "2023", "sales": "abc"}]])
    result = validate_extract(raw, TAX, report_year=REPORT_YEAR)
    assert problems_by_code(result, "tax", TAX) == {A: ["unparseable:tax.sales"]}


# ---- duplicates ---------------------------------------------------------------------------------


def test_exact_duplicates_equal_after_parsing_collapse_and_are_counted() -> None:
    result = validate_annual(
        [
            annual_row(A, employees="3", established_on="2024-07-01", revenue="1,000"),
            annual_row(A.lower(), employees="３", established_on="2024/7/1", revenue="1000"),
        ],
        [annual_row(f" {A} ", employees=" 3", established_on="2024年7月1日", revenue="1000.0")],
    )
    assert result.rows.height == 1
    assert result.rows.row(0, named=True)["_row"] == 2  # the first row is the one kept
    assert result.rows.row(0, named=True)["_file"] == 0
    assert result.accounting.as_dict() == {"read": 3, "used": 1, "rejected": 0, "collapsed": 2}
    assert result.conflicts.height == 0


def test_conflicting_duplicates_reject_every_row_and_list_the_code() -> None:
    result = validate_annual(
        [annual_row(A, employees="3"), annual_row(B)],
        [annual_row(A, employees="4", region_code="420103"), annual_row(A, employees="3")],
    )
    assert result.rows["uscc"].to_list() == [B]
    rejects = reject_rows(result)
    assert [(r["file"], r["row"], r["reason"]) for r in rejects] == [
        ("/data/annual-0.csv", 2, CONFLICT),
        ("/data/annual-1.csv", 2, CONFLICT),
        ("/data/annual-1.csv", 3, CONFLICT),
    ]
    assert {r["uscc"] for r in rejects} == {A}
    assert result.conflicts.to_dicts() == [
        {"uscc": A, "region_code": "420102", "industry_code": "F5261"}
    ]
    assert result.accounting.as_dict() == {"read": 4, "used": 1, "rejected": 3, "collapsed": 0}


def test_different_unparseable_values_are_not_exact_duplicates() -> None:
    result = validate_annual([annual_row(A, employees="三人"), annual_row(A, employees="abc")])
    assert result.rows.height == 0
    assert result.conflicts["uscc"].to_list() == [A]
    assert result.accounting.rejected == 2


def test_the_same_unparseable_value_twice_is_an_exact_duplicate() -> None:
    result = validate_annual([annual_row(A, employees="三人"), annual_row(A, employees="三人")])
    assert result.accounting.as_dict() == {"read": 2, "used": 1, "rejected": 0, "collapsed": 1}
    assert problems_by_code(result, "annual", ANNUAL) == {A: ["unparseable:annual.employees"]}


def test_an_unparseable_value_and_an_empty_cell_conflict() -> None:
    result = validate_annual([annual_row(A, employees="三人"), annual_row(A, employees=None)])
    assert result.conflicts["uscc"].to_list() == [A]


# ---- tax and social -----------------------------------------------------------------------------


def test_tax_rows_of_another_year_are_rejected() -> None:
    raw = raw_extract(
        "tax",
        TAX,
        [
            [
                {"uscc": A, "tax_year": "2023", "sales": "100"},
                {"uscc": A, "tax_year": "2022", "sales": "999"},
                {"uscc": B, "tax_year": "２０２４"},
                {"uscc": C, "tax_year": None},
            ]
        ],
    )
    result = validate_extract(raw, TAX, report_year=REPORT_YEAR)
    assert sorted(result.rows["uscc"].to_list()) == sorted([A, C])
    rejects = reject_rows(result)
    assert [(r["row"], r["uscc"], r["field"], r["reason"]) for r in rejects] == [
        (3, A, "tax_year", OTHER_YEAR),
        (4, B, "tax_year", OTHER_YEAR),
    ]
    assert result.conflicts.height == 0  # the other year's row does not conflict with 2023's


def test_orphans_are_rejected_when_known_codes_are_given() -> None:
    raw = raw_extract(
        "social",
        SOCIAL,
        [[{"uscc": A, "insured_count": "2"}, {"uscc": B.lower(), "insured_count": "1"}]],
    )
    known = pl.Series("uscc", [A, C])
    result = validate_extract(raw, SOCIAL, report_year=REPORT_YEAR, known_codes=known)
    assert result.rows["uscc"].to_list() == [A]
    rejects = reject_rows(result)
    assert [(r["row"], r["uscc"], r["raw_value"], r["reason"]) for r in rejects] == [
        (3, B, B.lower(), ORPHAN)
    ]
    assert result.accounting.holds()


def test_without_known_codes_nothing_is_an_orphan() -> None:
    raw = raw_extract("social", SOCIAL, [[{"uscc": B, "insured_count": "1"}]])
    result = validate_extract(raw, SOCIAL, report_year=REPORT_YEAR)
    assert result.rows["uscc"].to_list() == [B]


# ---- accounting ---------------------------------------------------------------------------------


def test_accounting_holds_overall_and_per_file() -> None:
    result = validate_annual(
        [annual_row(A), annual_row(A), annual_row("bad"), annual_row(B, employees="1")],
        [annual_row(B, employees="2"), annual_row(C), annual_row(None)],
        [],
    )
    assert result.accounting.as_dict() == {"read": 7, "used": 2, "rejected": 4, "collapsed": 1}
    per_file = {path: acc.as_dict() for path, acc in result.per_file.items()}
    assert per_file == {
        "/data/annual-0.csv": {"read": 4, "used": 1, "rejected": 2, "collapsed": 1},
        "/data/annual-1.csv": {"read": 3, "used": 1, "rejected": 2, "collapsed": 0},
        "/data/annual-2.csv": {"read": 0, "used": 0, "rejected": 0, "collapsed": 0},
    }


def test_validate_after_load_from_csv_files(tmp_path: Path) -> None:
    """The real path: two CSV files read by `load`, one in GB18030."""
    header = "统一社会信用代码,成立日期,登记状态,从业人数\n"
    first = tmp_path / "a.csv"
    first.write_text(
        header + f"{A},2020-01-01,存续,3\n{A},2020/1/1,存续,３\nXYZ,2020-01-01,存续,1\n"
    )
    second = tmp_path / "b.csv"
    second.write_bytes((header + f"{B},2020-01-01,存续,三人\n").encode("gb18030"))
    raw = load_extract("annual", [first, second], ANNUAL)
    result = validate_extract(raw, ANNUAL, report_year=REPORT_YEAR)
    assert result.accounting.as_dict() == {"read": 4, "used": 2, "rejected": 1, "collapsed": 1}
    assert reject_rows(result)[0]["file"] == str(first)
    assert reject_rows(result)[0]["row"] == 4
    assert result.per_file[str(second)].as_dict() == {
        "read": 1,
        "used": 1,
        "rejected": 0,
        "collapsed": 0,
    }


# ---- property: every row is accounted for -------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """A present value that does not parse; two different ones are different values."""

    raw: str


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


CODE_POOL = {  # raw code → normalised code, or the reject reason
    A: A,
    B: B,
    C: C,
    MISMATCH: MISMATCH,
    "": uscc.MISSING,
    "XYZ": uscc.MALFORMED,
    ENTERPRISE: uscc.NOT_INDIVIDUAL,
}
CODE_FORMS = (lambda c: c, str.lower, fullwidth, lambda c: f" {c[:9]} {c[9:]} ")
EMPLOYEES = {"3": 3, "３": 3, " 3 ": 3, "4": 4, "": None, "三人": Bad("三人"), "abc": Bad("abc")}
ESTABLISHED = {
    "2024-07-01": date(2024, 7, 1),
    "2024/7/1": date(2024, 7, 1),
    "20240701": date(2024, 7, 1),
    "2023-01-01": date(2023, 1, 1),
    "": None,
    "2024-13-45": Bad("2024-13-45"),
}
STATUS = {"存续": "存续", " 存续": "存续", "歇业": "歇业", "": None}
TAX_YEAR = {"2023": 2023, "２０２３": 2023, "2022": 2022, "": None, "x": Bad("x")}
SALES = {"1,000": 1000.0, "1000": 1000.0, "0": 0.0, "": None, "abc": Bad("abc")}

ANNUAL_ROWS = st.lists(
    st.tuples(
        st.sampled_from(sorted(CODE_POOL)),
        st.sampled_from(range(len(CODE_FORMS))),
        st.sampled_from(sorted(EMPLOYEES)),
        st.sampled_from(sorted(ESTABLISHED)),
        st.sampled_from(sorted(STATUS)),
        st.integers(0, 2),  # file
    ),
    max_size=30,
)
TAX_ROWS = st.lists(
    st.tuples(
        st.sampled_from(sorted(CODE_POOL)),
        st.sampled_from(range(len(CODE_FORMS))),
        st.sampled_from(sorted(TAX_YEAR)),
        st.sampled_from(sorted(SALES)),
        st.integers(0, 1),
    ),
    max_size=30,
)


Key = tuple[int, int]  # (_file, _row)


def check_every_row_is_accounted_for(
    raw: RawExtract,
    result: ValidatedExtract,
    expected_rejects: dict[Key, str],
    expected_used: set[str],
) -> None:
    """rows ∪ rejects ∪ collapsed = input, disjoint; and they match the Python oracle."""
    paths = [info.path for info in raw.files]
    all_keys = set(raw.frame.select("_file", "_row").iter_rows())
    used_keys = set(result.rows.select("_file", "_row").iter_rows())
    rejected_keys = {(paths.index(f), r) for f, r in result.rejects.select("file", "row").rows()}
    assert result.rejects.height == len(rejected_keys)  # no row rejected twice
    assert not used_keys & rejected_keys
    assert used_keys | rejected_keys <= all_keys
    collapsed_keys = all_keys - used_keys - rejected_keys
    assert len(collapsed_keys) == result.accounting.collapsed
    acc = result.accounting
    assert acc.holds()
    assert acc.read == raw.frame.height
    assert (acc.used, acc.rejected) == (result.rows.height, result.rejects.height)
    per_file = list(result.per_file.values())
    assert all(a.holds() for a in per_file)
    assert sum(a.read for a in per_file) == acc.read
    assert sum(a.used for a in per_file) == acc.used
    assert sum(a.rejected for a in per_file) == acc.rejected
    assert sum(a.collapsed for a in per_file) == acc.collapsed
    for index, path in enumerate(paths):
        in_file = {k for k in collapsed_keys if k[0] == index}
        assert result.per_file[path].collapsed == len(in_file)
    # against the oracle
    got_rejects = {
        (paths.index(f), r): reason
        for f, r, reason in result.rejects.select("file", "row", "reason").rows()
    }
    assert got_rejects == expected_rejects
    assert sorted(result.rows["uscc"].to_list()) == sorted(expected_used)
    assert result.rows["uscc"].is_unique().all()


def oracle(
    rows: Sequence[tuple[Key, str, tuple[object, ...]]],
    early_reject: dict[Key, str],
) -> tuple[dict[Key, str], set[str], set[str]]:
    """Expected rejects and used codes: rows are (key, normalised code, parsed values)."""
    rejects = dict(early_reject)
    groups: dict[str, list[tuple[Key, tuple[object, ...]]]] = defaultdict(list)
    for key, normal, values in rows:
        if key not in rejects:
            groups[normal].append((key, values))
    used: set[str] = set()
    conflicting: set[str] = set()
    for normal, members in groups.items():
        if len({values for _, values in members}) > 1:
            conflicting.add(normal)
            rejects.update(dict.fromkeys((key for key, _ in members), CONFLICT))
        else:
            used.add(normal)
    return rejects, used, conflicting


def build_files(
    n_files: int, rows: list[tuple[int, dict[str, str | None]]]
) -> tuple[list[list[dict[str, str | None]]], list[Key]]:
    """Rows spread over files as given, with the (_file, _row) key of each in input order."""
    files: list[list[dict[str, str | None]]] = [[] for _ in range(n_files)]
    keys: list[Key] = []
    for file_index, row in rows:
        files[file_index].append(row)
        keys.append((file_index, len(files[file_index]) + 1))
    return files, keys


@settings(max_examples=60, deadline=None)
@given(ANNUAL_ROWS)
def test_property_annual_every_row_is_used_rejected_or_collapsed(
    spec_rows: list[tuple[str, int, str, str, str, int]],
) -> None:
    files, keys = build_files(
        3,
        [
            (
                f,
                annual_row(
                    CODE_FORMS[form](c) if c else c,
                    employees=e,
                    established_on=d,
                    register_status=s,
                ),
            )
            for c, form, e, d, s, f in spec_rows
        ],
    )
    raw = raw_extract("annual", ANNUAL, files)
    result = validate_extract(raw, ANNUAL, report_year=REPORT_YEAR)
    early: dict[Key, str] = {}
    oracle_rows = []
    for key, (c, _, e, d, s, _) in zip(keys, spec_rows, strict=True):
        normal = CODE_POOL[c]
        if normal in (uscc.MISSING, uscc.MALFORMED, uscc.NOT_INDIVIDUAL):
            early[key] = normal
        oracle_rows.append((key, normal, (EMPLOYEES[e], ESTABLISHED[d], STATUS[s])))
    expected_rejects, expected_used, conflicting = oracle(oracle_rows, early)
    check_every_row_is_accounted_for(raw, result, expected_rejects, expected_used)
    assert set(result.conflicts["uscc"].to_list()) == conflicting


@settings(max_examples=60, deadline=None)
@given(TAX_ROWS, st.sets(st.sampled_from([A, B, C, MISMATCH])))
def test_property_tax_every_row_is_used_rejected_or_collapsed(
    spec_rows: list[tuple[str, int, str, str, int]], known: set[str]
) -> None:
    files, keys = build_files(
        2,
        [
            (f, {"uscc": CODE_FORMS[form](c) if c else c, "tax_year": y, "sales": v})
            for c, form, y, v, f in spec_rows
        ],
    )
    raw = raw_extract("tax", TAX, files)
    known_codes = pl.Series("uscc", sorted(known), dtype=pl.String)
    result = validate_extract(raw, TAX, report_year=REPORT_YEAR, known_codes=known_codes)
    early: dict[Key, str] = {}
    oracle_rows = []
    for key, (c, _, y, v, _) in zip(keys, spec_rows, strict=True):
        normal = CODE_POOL[c]
        year = TAX_YEAR[y]
        if normal in (uscc.MISSING, uscc.MALFORMED, uscc.NOT_INDIVIDUAL):
            early[key] = normal
        elif isinstance(year, int) and year != REPORT_YEAR:
            early[key] = OTHER_YEAR
        elif normal not in known:
            early[key] = ORPHAN
        oracle_rows.append((key, normal, (year, SALES[v])))
    expected_rejects, expected_used, _ = oracle(oracle_rows, early)
    check_every_row_is_accounted_for(raw, result, expected_rejects, expected_used)


@pytest.mark.parametrize("report_year", [2022, 2023])
def test_report_year_decides_which_tax_rows_are_other_year(report_year: int) -> None:
    raw = raw_extract(
        "tax", TAX, [[{"uscc": A, "tax_year": "2022"}, {"uscc": B, "tax_year": "2023"}]]
    )
    result = validate_extract(raw, TAX, report_year=report_year)
    assert result.rows["tax_year"].to_list() == [report_year]


def test_own_copy_copies_text_without_changing_it() -> None:
    """`own_copy` (codes after the sort, rejected rows' texts) keeps every value, empty text and
    missing value as it was."""
    column = pl.Series("t", ["92420102MA4K1B2C9D", None, "", "全角　文字", "x" * 40] * 3)
    gathered = column.gather([14, 0, 3, 1, 2, 9])
    out = gathered.to_frame().select(own_copy(pl.col("t"))).to_series()
    assert out.to_list() == gathered.to_list()
    assert out.null_count() == 1 and out.name == "t"
