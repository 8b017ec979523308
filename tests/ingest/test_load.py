"""Reading extract files (SPEC §3): encodings, formats, header aliases, row numbers, bad files."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from gthfx.errors import InputError, SourcesError
from gthfx.ingest import load
from gthfx.ingest.parse import parse_date
from gthfx.settings.sources import load_sources, normalise_header

SOURCES = load_sources()
ANNUAL = SOURCES.extracts["annual"]
TAX = SOURCES.extracts["tax"]
CODE = "92420102MA4K1B2C9D"
HEADER = "统一社会信用代码,成立日期,登记状态,从业人数"
ROW = f"{CODE},2024-07-01,存续,3"
CSV_TEXT = f"{HEADER}\n{ROW}\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, rows: dict[int, list[object]]) -> Path:
    """A workbook with one sheet; `rows` maps 0-based row index → cell values (gaps allowed)."""
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for index, values in rows.items():
        for column, value in enumerate(values):
            if isinstance(value, datetime):
                sheet.write_datetime(index, column, value, date_format)
            elif isinstance(value, int | float):
                sheet.write_number(index, column, value)
            elif value is not None:
                sheet.write_string(index, column, str(value))
    workbook.close()
    return path


def assert_input_error(exc: pytest.ExceptionInfo[InputError], *keywords: str) -> None:
    assert exc.value.exit_code == 2
    text = str(exc.value)
    for keyword in keywords:
        assert keyword in text, f"{keyword!r} not in {text!r}"


def assert_has_every_typed_field(frame: pl.DataFrame) -> None:
    """`_file`, `_row`, the key, then every field that typing reads (personal data may be left
    out: a run never needs it)."""
    assert frame.columns[:3] == ["_file", "_row", "uscc"]
    wanted = [name for name, spec in ANNUAL.fields.items() if not spec.personal]
    assert set(wanted) <= set(frame.columns)
    assert set(frame.columns) - {"_file", "_row"} <= set(ANNUAL.fields)
    assert all(frame.schema[name] == pl.String for name in wanted)


# ---- CSV encodings ------------------------------------------------------------------------------


def test_csv_utf8_is_read_as_text(tmp_path: Path) -> None:
    frame, fmt, encoding = load.read_table(write(tmp_path / "a.csv", CSV_TEXT))
    assert (fmt, encoding) == ("csv", "utf-8")
    assert frame.columns == HEADER.split(",")
    assert frame.rows() == [(CODE, "2024-07-01", "存续", "3")]
    assert set(frame.dtypes) == {pl.String}


def test_csv_utf8_with_bom_is_detected_and_the_bom_is_not_in_the_header(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV_TEXT.encode())
    _, _, encoding = load.read_table(path)
    assert encoding == "utf-8-sig"
    raw = load.load_extract("annual", [path], ANNUAL)
    assert raw.frame["uscc"].to_list() == [CODE]


def test_csv_gb18030_is_detected(tmp_path: Path) -> None:
    frame, _, encoding = load.read_table(write(tmp_path / "a.csv", CSV_TEXT, "gb18030"))
    assert encoding == "gb18030"
    assert frame.columns == HEADER.split(",")
    assert frame["登记状态"].to_list() == ["存续"]


@pytest.mark.parametrize("forced", ["gb18030", "GBK", "gb2312"])
def test_csv_gb18030_can_be_forced(tmp_path: Path, forced: str) -> None:
    path = write(tmp_path / "a.csv", CSV_TEXT, "gb18030")
    frame, _, encoding = load.read_table(path, forced)
    assert encoding == "gb18030"
    assert frame["登记状态"].to_list() == ["存续"]


def test_csv_gb18030_after_a_first_mib_of_ascii_is_still_read(tmp_path: Path) -> None:
    """Detection sniffs the first MiB only; a later GB18030 byte must not break the read."""
    filler = f"{CODE},2024-07-01,X,1\n" * (load.SNIFF_BYTES // 28 + 10)
    path = write(tmp_path / "a.csv", f"{HEADER}\n{filler}{ROW}\n", "gb18030")
    frame, _, encoding = load.read_table(path)
    assert encoding == "gb18030"
    assert frame["登记状态"][-1] == "存续"


def test_csv_gb18030_forced_as_utf8_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "区县.csv", CSV_TEXT, "gb18030")
    with pytest.raises(InputError) as exc:
        load.read_table(path, "utf-8")
    assert_input_error(exc, str(path), "UTF-8")


def test_csv_bytes_that_are_neither_encoding_are_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(HEADER.encode() + b"\n\xff\xfe\x80,\xff,\xff,\xff\n")
    with pytest.raises(InputError) as exc:
        load.read_table(path)
    assert_input_error(exc, str(path), "GB18030")


def test_unknown_forced_encoding_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", CSV_TEXT)
    with pytest.raises(InputError) as exc:
        load.read_table(path, "latin-9")
    assert_input_error(exc, str(path), "latin-9")


# ---- XLSX and Parquet ---------------------------------------------------------------------------


def test_xlsx_native_date_and_number_cells_become_text_that_parses(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "a.xlsx",
        {
            0: ["统一社会信用代码", "成立日期", "登记状态", "从业人数", "营业额"],
            1: [CODE, datetime(2024, 7, 1), "存续", 12, 1234.5],
        },
    )
    frame, fmt, encoding = load.read_table(path)
    assert (fmt, encoding) == ("xlsx", None)
    assert set(frame.dtypes) == {pl.String}
    raw = load.load_extract("annual", [path], ANNUAL)
    row = raw.frame.row(0, named=True)
    assert row["uscc"] == CODE
    assert row["employees"] in ("12", "12.0")
    assert row["revenue"] == "1234.5"
    assert raw.frame.select(parse_date(pl.col("established_on"))).item() == date(2024, 7, 1)


def test_xlsx_rows_keep_their_excel_row_numbers_across_a_blank_row(tmp_path: Path) -> None:
    """A clerk looks up a reject by the row number Excel shows; a blank row must not shift it."""
    other = "92420102MA4K1B2C9E"
    path = write_xlsx(
        tmp_path / "a.xlsx",
        {
            0: ["统一社会信用代码", "成立日期", "登记状态"],
            1: [CODE, "2024-07-01", "存续"],
            # row index 2 (Excel row 3) left blank
            3: [other, "2024-07-01", "存续"],
        },
    )
    raw = load.load_extract("annual", [path], ANNUAL)
    rows = dict(raw.frame.drop_nulls("uscc").select("uscc", "_row").iter_rows())
    assert rows == {CODE: 2, other: 4}


def test_xlsx_header_only_is_zero_rows(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", {0: ["统一社会信用代码", "成立日期", "登记状态"]})
    raw = load.load_extract("annual", [path], ANNUAL)
    assert raw.frame.height == 0
    assert raw.files[0].rows == 0


def test_parquet_native_columns_become_text(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    pl.DataFrame(
        {
            "统一社会信用代码": [CODE],
            "成立日期": [date(2024, 7, 1)],
            "登记状态": ["存续"],
            "从业人数": [12],
            "营业额": [1234.5],
        }
    ).write_parquet(path)
    frame, fmt, encoding = load.read_table(path)
    assert (fmt, encoding) == ("parquet", None)
    assert set(frame.dtypes) == {pl.String}
    raw = load.load_extract("annual", [path], ANNUAL)
    row = raw.frame.row(0, named=True)
    assert (row["established_on"], row["employees"], row["revenue"]) == (
        "2024-07-01",
        "12",
        "1234.5",
    )


# ---- stacking and row numbers -------------------------------------------------------------------


def test_several_files_stack_with_file_index_and_excel_row_numbers(tmp_path: Path) -> None:
    first = write(tmp_path / "江岸.csv", f"{HEADER}\n{ROW}\n{ROW}\n")
    second = write(tmp_path / "武昌.csv", f"{HEADER}\n{ROW}\n", "gb18030")
    third = tmp_path / "汉口.parquet"
    pl.DataFrame(
        {"统一社会信用代码": [CODE], "成立日期": ["2024-07-01"], "登记状态": ["存续"]}
    ).write_parquet(third)
    raw = load.load_extract("annual", [first, second, third], ANNUAL)
    assert raw.name == "annual"
    assert raw.frame.select("_file", "_row").rows() == [(0, 2), (0, 3), (1, 2), (2, 2)]
    assert_has_every_typed_field(raw.frame)
    assert [info.path for info in raw.files] == [str(first), str(second), str(third)]
    assert [info.rows for info in raw.files] == [2, 1, 1]
    assert [info.format for info in raw.files] == ["csv", "csv", "parquet"]
    assert [info.encoding for info in raw.files] == ["utf-8", "gb18030", None]
    assert all(len(info.sha256) == 64 for info in raw.files)
    assert raw.files[0].columns["uscc"] == "统一社会信用代码"


def test_no_files_gives_an_empty_frame_with_every_field(tmp_path: Path) -> None:
    raw = load.load_extract("annual", [], ANNUAL)
    assert raw.frame.height == 0
    assert_has_every_typed_field(raw.frame)


# ---- headers ------------------------------------------------------------------------------------

CODE_HEADERS = [
    *ANNUAL.fields["uscc"].headers,
    " 统一社会信用代码 ",
    "统一社会信用代码\u3000",  # ideographic space from a Chinese input method
    "统一 社会 信用代码",
    "\ufeff统一社会信用代码",
]


@pytest.mark.parametrize("code_header", CODE_HEADERS)
def test_code_header_matches_through_any_accepted_alias(tmp_path: Path, code_header: str) -> None:
    path = write(tmp_path / "a.csv", f'"{code_header}",注册日期,登记状态\n{CODE},2024-07-01,存续\n')
    raw = load.load_extract("annual", [path], ANNUAL)
    assert raw.frame["uscc"].to_list() == [CODE]
    assert raw.frame["established_on"].to_list() == ["2024-07-01"]
    assert raw.files[0].ignored_columns == ()


def test_map_headers_compares_after_nfkc(tmp_path: Path) -> None:
    """Full-width Latin letters and digits in a file's header match the half-width alias."""
    override = write(
        tmp_path / "sources.yaml",
        "extracts:\n  social:\n    fields:\n      insured_count: {label: 参保人数, type: int,"
        " headers: [参保人数2024, Insured]}\n",
    )
    spec = load_sources(override).extracts["social"]
    found, ignored = load.map_headers(
        tmp_path / "x.csv",
        "social",
        spec,
        ["统一社会信用代码", "参保人数２０２４", "ＩＮＳＵＲＥＤ"],
    )
    assert found == {"uscc": "统一社会信用代码", "insured_count": "参保人数２０２４"}
    assert ignored == ("ＩＮＳＵＲＥＤ",)
    assert normalise_header(" 参保人数\u3000２０２４\ufeff") == "参保人数2024"


def test_unknown_extra_columns_are_listed_as_ignored(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", f"{HEADER},备注,经办人\n{ROW},无,李四\n")
    raw = load.load_extract("annual", [path], ANNUAL)
    assert raw.files[0].ignored_columns == ("备注", "经办人")
    assert "备注" not in raw.frame.columns


def test_optional_missing_columns_become_null(tmp_path: Path) -> None:
    raw = load.load_extract("annual", [write(tmp_path / "a.csv", CSV_TEXT)], ANNUAL)
    assert raw.frame["party_members"].to_list() == [None]
    assert raw.frame["revenue"].to_list() == [None]
    assert raw.frame["revenue"].dtype == pl.String
    assert "revenue" not in raw.files[0].columns


def test_missing_required_column_names_file_field_and_headers_tried(tmp_path: Path) -> None:
    path = write(
        tmp_path / "江岸区.csv", f"统一社会信用代码,登记状态,开业日期\n{CODE},存续,2024-07-01\n"
    )
    with pytest.raises(InputError) as exc:
        load.load_extract("annual", [path], ANNUAL)
    assert_input_error(exc, str(path), "established_on", "成立日期", "注册日期", "开业日期")


def test_required_column_can_be_missing_from_the_second_file_only(tmp_path: Path) -> None:
    good = write(tmp_path / "a.csv", CSV_TEXT)
    bad = write(tmp_path / "b.csv", f"纳税人识别号,成立日期,登记状态\n{CODE},2024-07-01,存续\n")
    with pytest.raises(InputError) as exc:
        load.load_extract("annual", [good, bad], ANNUAL)
    assert_input_error(exc, str(bad), "uscc", "统一社会信用代码")


def test_tax_extract_accepts_its_own_headers(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", f'纳税人识别号,所属年度,申报销售额\n{CODE},2023,"1,000"\n')
    raw = load.load_extract("tax", [path], TAX)
    assert raw.frame.select("uscc", "tax_year", "sales").rows() == [(CODE, "2023", "1,000")]


# ---- files that cannot be read ------------------------------------------------------------------


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        load.load_extract("annual", [tmp_path / "nope.csv"], ANNUAL)
    assert_input_error(exc, "nope.csv", "not found")


def test_a_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        load.load_extract("annual", [tmp_path], ANNUAL)
    assert_input_error(exc, str(tmp_path), "folder")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_a_zero_byte_file_is_an_input_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.touch()
    with pytest.raises(InputError) as exc:
        load.load_extract("annual", [path], ANNUAL)
    assert_input_error(exc, str(path), "empty")


def test_a_blank_csv_without_header_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "\n\n")
    with pytest.raises(InputError) as exc:
        load.load_extract("annual", [path], ANNUAL)
    assert_input_error(exc, str(path))


def test_a_header_only_csv_is_zero_rows_not_an_error(tmp_path: Path) -> None:
    raw = load.load_extract("annual", [write(tmp_path / "a.csv", HEADER + "\n")], ANNUAL)
    assert raw.frame.height == 0
    assert raw.files[0].rows == 0


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_a_corrupt_binary_file_is_an_input_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"corrupt{suffix}"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(InputError) as exc:
        load.load_extract("annual", [path], ANNUAL)
    assert_input_error(exc, str(path))


@pytest.mark.parametrize("name", ["a.json", "a.xlsb.bak", "noext"])
def test_an_unknown_suffix_is_an_input_error(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, CSV_TEXT)
    with pytest.raises(InputError) as exc:
        load.load_extract("annual", [path], ANNUAL)
    assert_input_error(exc, str(path), "unknown file type")


def test_the_same_file_given_twice_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", CSV_TEXT)
    (tmp_path / "sub").mkdir()
    same = tmp_path / "sub" / ".." / "a.csv"
    with pytest.raises(InputError) as exc:
        load.load_extract("annual", [path, same], ANNUAL)
    assert_input_error(exc, "a.csv", "twice")


# ---- the sources mapping ------------------------------------------------------------------------


def test_shipped_mapping_has_the_spec_headers() -> None:
    assert set(SOURCES.extracts) >= {"annual", "tax", "social"}
    assert {"统一社会信用代码", "社会信用代码", "信用代码"} <= set(ANNUAL.fields["uscc"].headers)
    assert ANNUAL.fields["revenue"].unit == "万元"
    assert TAX.fields["sales"].unit == "元"
    assert set(ANNUAL.personal_fields()) == {"operator_name", "operator_id", "phone"}
    assert SOURCES.field_types()["established_on"] == "date"


def test_override_replaces_a_fields_headers_and_adds_a_field(tmp_path: Path) -> None:
    override = write(
        tmp_path / "sources.yaml",
        "extracts:\n"
        "  annual:\n"
        "    fields:\n"
        "      employees: {label: 从业人数, type: int, headers: [从业人员数, 雇工人数]}\n"
        "      shop_area: {label: 经营面积, type: decimal, headers: [经营面积]}\n",
    )
    annual = load_sources(override).extracts["annual"]
    assert annual.fields["employees"].headers == ("从业人员数", "雇工人数")
    assert annual.fields["shop_area"].type == "decimal"
    assert annual.fields["uscc"] == ANNUAL.fields["uscc"]  # untouched fields stay
    path = write(
        tmp_path / "a.csv", f"{HEADER.replace('从业人数', '雇工人数')},经营面积\n{ROW},35\n"
    )
    raw = load.load_extract("annual", [path], annual)
    assert raw.frame.select("employees", "shop_area").rows() == [("3", "35")]


@pytest.mark.parametrize(
    ("text", "keywords"),
    [
        ("extracts: [annual]\n", ["extracts"]),
        ("- 1\n", ["extracts"]),
        ("extracts:\n  annual:\n    colour: red\n", ["annual", "colour"]),
        ("extracts:\n  annual: 3\n", ["annual"]),
        (
            "extracts:\n  annual:\n    fields:\n      employees: {label: x, type: integer,"
            " headers: [a]}\n",
            ["employees", "type"],
        ),
        (
            "extracts:\n  annual:\n    fields:\n"
            "      employees: {label: x, type: int, headers: []}\n",
            ["employees"],
        ),
        (
            "extracts:\n  annual:\n    fields:\n      employees: {label: x, type: int, unit: 万元,"
            " headers: [a]}\n",
            ["employees", "unit"],
        ),
        ("extracts:\n  annual:\n    fields: {a: 1\n", ["YAML", ":"]),
        ("extracts:\n  annual: {}\n  annual: {}\n", ["duplicate", "annual"]),
    ],
)
def test_bad_override_is_a_sources_error(tmp_path: Path, text: str, keywords: list[str]) -> None:
    path = write(tmp_path / "sources.yaml", text)
    with pytest.raises(SourcesError) as exc:
        load_sources(path)
    assert exc.value.exit_code == 2
    message = str(exc.value)
    assert str(path) in message
    for keyword in keywords:
        assert keyword in message, message


def test_missing_override_file_is_a_sources_error(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="not found"):
        load_sources(tmp_path / "nope.yaml")
