"""Real extracts, messy in the ways real departments and clerks make them (issue 13, items 1–8):
never a silent wrong answer. Each test builds the broken file, runs the real library call or
command, and checks that the run refuses with a clear message, warns loudly, or reads the file
as a careful clerk would."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from gthfx.app.classify import RunResult, classify
from gthfx.errors import InputError
from gthfx.ingest import csvread, load
from gthfx.ingest.uscc import CHARSET, WEIGHTS
from gthfx.progress import Reporter
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import load_sources
from support import ROOT, run_cli

RULES = ROOT / "rules"
RUN_DATE = date(2024, 7, 1)

HEADER = (
    "统一社会信用代码,个体工商户名称,经营者姓名,行政区划代码,行业代码,成立日期,登记状态,年报年度,"
    "年报报送日期,年报经营状态,从业人数,营业额,纳税总额,经营异常标记,严重违法失信"
)
TAX = "纳税人识别号,所属年度,纳税人类型,销售额,实缴税额\n"
SOCIAL = "单位统一社会信用代码,参保人数\n"


@pytest.fixture(autouse=True, params=["checked first", "checked while read"])
def checking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case both ways a text extract is read: checked first, and checked on a second
    thread while it is read (`csvread.read_checking`, for large files) — the same outcome."""
    if request.param == "checked while read":
        monkeypatch.setattr(csvread, "OVERLAP_BYTES", 0)


def code(serial: int, region: str = "420102") -> str:
    """A valid individual-business credit code (GB 32100-2015) for a serial number."""
    body = f"92{region}MA{serial:07d}"
    total = sum(CHARSET.index(ch) * w for ch, w in zip(body, WEIGHTS, strict=True))
    return body + CHARSET[(31 - total % 31) % 31]


def row(serial: int, **changes: str) -> dict[str, str]:
    """One survival business's annual cells (2020, reported for 2023, 1 employee)."""
    cells = {
        "统一社会信用代码": code(serial),
        "个体工商户名称": f"店{serial}",
        "经营者姓名": "张三",
        "行政区划代码": "420102",
        "行业代码": "F5211",
        "成立日期": "2020-01-01",
        "登记状态": "存续",
        "年报年度": "2023",
        "年报报送日期": "2024-03-01",
        "年报经营状态": "开业",
        "从业人数": "1",
        "营业额": "5",
        "纳税总额": "0",
        "经营异常标记": "否",
        "严重违法失信": "否",
    }
    cells.update(changes)
    return cells


def csv_text(rows: list[dict[str, str]], header: str = HEADER) -> str:
    names = header.split(",")
    return header + "\n" + "".join(",".join(r.get(n, "") for n in names) + "\n" for r in rows)


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def options(
    tmp_path: Path,
    annual: Path | list[Path],
    tax: str = TAX,
    social: str = SOCIAL,
    **extra: object,
) -> RunOptions:
    annuals = annual if isinstance(annual, list) else [annual]
    return RunOptions(
        run_date=RUN_DATE,
        inputs={
            "annual": tuple(annuals),
            "tax": (write(tmp_path / "in", "tax.csv", tax),),
            "social": (write(tmp_path / "in", "social.csv", social),),
        },
        out=tmp_path / "runs",
        rules=RULES,
        excel=False,
        **extra,  # type: ignore[arg-type]
    )


def run(tmp_path: Path, annual: Path | list[Path], **kw: object) -> RunResult:
    return classify(options(tmp_path, annual, **kw), Reporter(quiet=True))


def outcomes(result: RunResult) -> pl.DataFrame:
    return pl.concat(
        [pl.read_parquet(result.run_dir / f"{t}.parquet") for t in
         ("survival", "growth", "development", "excluded")],
        how="diagonal_relaxed",
    )  # fmt: skip


def by_code(result: RunResult) -> dict[str, dict[str, object]]:
    return {r["uscc"]: r for r in outcomes(result).iter_rows(named=True)}


def rejects(result: RunResult) -> pl.DataFrame:
    return pl.read_parquet(result.run_dir / "rejects.parquet")


def manifest(result: RunResult) -> dict[str, object]:
    return json.loads((result.run_dir / "manifest.json").read_text(encoding="utf-8"))


# ---- 1. ragged rows ------------------------------------------------------------------------


@pytest.mark.parametrize("extra_column", [False, True])
@pytest.mark.parametrize("change", ["more", "fewer"])
def test_a_ragged_row_refuses_the_file_naming_rows_never_values(
    tmp_path: Path, change: str, extra_column: bool
) -> None:
    """A comma in `1,500` or in a name (more fields) or a dropped cell (fewer): the values would
    slide one column; the file is refused, whether or not every column is mapped."""
    header = HEADER + (",备注" if extra_column else "")
    rows = [row(i, 备注="x") for i in range(1, 6)]
    text = csv_text(rows, header).splitlines()
    bad = text[3].split(",")
    bad = [*bad[:2], "13912345678", *bad[2:]] if change == "more" else bad[:2] + bad[3:]
    text[3] = ",".join(bad)
    path = write(tmp_path / "in", "annual.csv", "\n".join(text) + "\n")
    with pytest.raises(InputError) as exc:
        run(tmp_path, path)
    message = str(exc.value)
    assert str(path) in message and "row 4" in message and "header has" in message
    assert "13912345678" not in message and "张三" not in message
    assert not (tmp_path / "runs" / "2024-07-01").exists()


def test_a_ragged_row_through_the_command_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    text = csv_text([row(1), row(2, 营业额="1,500")])
    path = write(tmp_path / "in", "annual.csv", text)
    opts = options(tmp_path, path)
    proc = run_cli(
        ["classify", "--date", "2024-07-01", "--annual", str(path),
         "--tax", str(opts.inputs["tax"][0]), "--social", str(opts.inputs["social"][0]),
         "--out", str(tmp_path / "runs"), "--rules", str(RULES), "--no-excel"],
        tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "row 3" in proc.stderr and "1,500" in proc.stderr  # the hint's example, not the row
    assert "张三" not in proc.stderr


def test_quoted_commas_and_line_breaks_are_not_ragged(tmp_path: Path) -> None:
    rows = [row(1, 个体工商户名称='"甲,乙""店"""'), row(2, 个体工商户名称='"多\n行"')]
    path = write(tmp_path / "in", "annual.csv", csv_text(rows))
    raw = load.load_extract("annual", [path], load_sources().extracts["annual"])
    assert raw.frame.get_column("uscc").to_list() == [code(1), code(2)]
    assert raw.frame.get_column("_row").to_list() == [2, 3]


def test_a_blank_line_is_not_ragged(tmp_path: Path) -> None:
    text = csv_text([row(1)]) + "\n" + csv_text([row(2)]).split("\n", 1)[1]
    path = write(tmp_path / "in", "annual.csv", text)
    raw = load.load_extract("annual", [path], load_sources().extracts["annual"])
    assert raw.frame.get_column("uscc").to_list() == [code(1), None, code(2)]


# ---- 2. line endings, separators, encodings ------------------------------------------------


@pytest.mark.parametrize("eol", ["\r", "\r\n", "\n"])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030", "utf-16"])
def test_line_endings_and_encodings_read_the_same_rows(
    tmp_path: Path, eol: str, encoding: str
) -> None:
    """Excel for Mac's CSV (CR only), Windows (CRLF), GB18030 and Excel's "Unicode text"."""
    text = csv_text([row(1), row(2, 从业人数="3")]).replace("\n", eol)
    path = write(tmp_path / "in", "annual.csv", text, encoding)
    result = run(tmp_path, path)
    assert result.accounting["annual"].read == 2
    assert set(by_code(result)) == {code(1), code(2)}
    assert by_code(result)[code(2)]["tier"] == "growth"
    info = manifest(result)["inputs"][0]  # type: ignore[index]
    assert info["ignored_columns"] == ["个体工商户名称", "经营者姓名"]  # headers, never rows


@pytest.mark.parametrize("suffix", [".tsv", ".txt"])
def test_tab_separated_text_is_read_with_tabs(tmp_path: Path, suffix: str) -> None:
    text = csv_text([row(1, 营业额="1,500")]).replace(",", "\t").replace("1\t500", "1,500")
    path = write(
        tmp_path / "in", f"annual{suffix}", text, "utf-16" if suffix == ".txt" else "utf-8"
    )
    raw = load.load_extract("annual", [path], load_sources().extracts["annual"])
    assert raw.frame.get_column("revenue").to_list() == ["1,500"]


# ---- 3. headers: units, synonyms, a field the ruleset reads that is absent ----------------


def test_headers_with_a_bracketed_unit_and_synonyms_are_matched(tmp_path: Path) -> None:
    header = HEADER.replace("营业额", "营业额（万元）").replace("从业人数", "从业人数(人)")
    header = header.replace("年报年度", "报告年度")
    path = write(tmp_path / "in", "annual.csv", csv_text(
        [row(1, **{"营业额（万元）": "150", "从业人数(人)": "3", "报告年度": "2023"})], header
    ))  # fmt: skip
    tax = TAX.replace("销售额", "应税销售额").replace("实缴税额", "实缴税款")
    tax += f"{code(1)},2023,小规模纳税人,1200000,40000\n"
    result = run(tmp_path, path, tax=tax)
    got = by_code(result)[code(1)]
    assert got["tier"] == "development"
    assert (got["employees"], got["sales"], got["revenue"]) == (3, 1200000.0, 1500000.0)


def test_a_header_unit_other_than_the_fields_is_an_error(tmp_path: Path) -> None:
    header = HEADER.replace("营业额", "营业额(元)")
    path = write(tmp_path / "in", "annual.csv", csv_text([row(1)], header))
    with pytest.raises(InputError) as exc:
        run(tmp_path, path)
    message = str(exc.value)
    assert "revenue" in message and "万元" in message and "元" in message and str(path) in message


def test_a_read_field_absent_from_a_file_warns_and_strict_refuses(tmp_path: Path) -> None:
    header = HEADER.replace("从业人数", "从业人员人数(2023)")
    path = write(tmp_path / "in", "annual.csv", csv_text([row(1)], header))
    reporter = Reporter(quiet=True)
    classify(options(tmp_path, path), reporter)
    (warning,) = [w for w in reporter.warnings if "employees" in w]
    assert str(path) in warning and "从业人员人数(2023)" in warning  # the closest header
    written = manifest(run(tmp_path, path, force=True))
    assert any("employees" in w for w in written["warnings"])  # type: ignore[union-attr]
    with pytest.raises(InputError) as exc:
        run(tmp_path, path, force=True, strict=True)
    assert "employees" in str(exc.value) and "--strict" in str(exc.value)


# ---- 6. empty or mismatched inputs ---------------------------------------------------------


def test_an_annual_extract_without_data_rows_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "in", "annual.csv", HEADER + "\n")
    with pytest.raises(InputError, match="no data rows"):
        run(tmp_path, path)


def test_last_years_files_warn_loudly(tmp_path: Path) -> None:
    """Every business reported for 2022 and every tax row of 2022: a run of 2024-07-01 on the
    files of 2023-07-01 — typed, but never silently."""
    rows = [row(i, 年报年度="2022", 年报报送日期="2023-03-01") for i in range(1, 5)]
    path = write(tmp_path / "in", "annual.csv", csv_text(rows))
    tax = TAX + "".join(f"{code(i)},2022,小规模纳税人,100,1\n" for i in range(1, 5))
    reporter = Reporter(quiet=True)
    classify(options(tmp_path, path, tax=tax), reporter)
    text = "\n".join(reporter.warnings)
    assert "`reported`" in text and "100.0 %" in text
    assert "of the tax rows are of another year" in text


# ---- 7. common values ----------------------------------------------------------------------


def test_placeholders_years_units_and_aliases(tmp_path: Path) -> None:
    rows = [
        row(1, 从业人数="NULL", 营业额="—", 纳税总额="/", 年报经营状态="N/A"),
        row(2, 年报年度="2023年度", 营业额="50万元", 从业人数="3人"),
        row(3, 登记状态="存续（在营、开业、在册）"),
        row(4, 营业额="50元"),  # a unit other than the field's: not a value
    ]
    path = write(tmp_path / "in", "annual.csv", csv_text(rows))
    got = by_code(run(tmp_path, path))
    assert got[code(1)]["tier"] == "survival" and got[code(1)]["employees"] is None
    assert (got[code(2)]["tier"], got[code(2)]["revenue"]) == ("growth", 500000.0)
    assert got[code(3)]["tier"] == "survival"
    assert got[code(4)]["reasons"] == ["unparseable:annual.revenue"]


def test_two_report_years_of_one_business_use_the_latest_not_after_the_run(tmp_path: Path) -> None:
    rows = [
        row(1, 年报年度="2022", 从业人数="1"),
        row(1, 年报年度="2023", 从业人数="3"),  # used: the report year of the run
        row(1, 年报年度="", 从业人数="9"),  # no report year: older than any
        row(2, 年报年度="2021"),  # a business's only row is always used
    ]
    path = write(tmp_path / "in", "annual.csv", csv_text(rows))
    result = run(tmp_path, path)
    got = by_code(result)
    assert (got[code(1)]["tier"], got[code(1)]["employees"]) == ("growth", 3)
    assert got[code(2)]["reasons"] == ["reported"]
    rejected = rejects(result).filter(pl.col("reason") == "other_year")
    assert rejected.select("row", "field", "raw_value").rows() == [
        (2, "report_year", "2022"),
        (4, "report_year", None),
    ]
    assert result.accounting["annual"].holds()


def test_other_report_years_are_set_aside_before_duplicates_are_judged(tmp_path: Path) -> None:
    """A business's rows of an older report year are rejected as such, whatever their values;
    only then are its rows of the report year judged: the same twice collapses to one, two that
    differ are a conflict."""
    rows = [
        row(1, 年报年度="2022", 从业人数="1"),
        row(1, 年报年度="2023", 从业人数="3"),
        row(1, 年报年度="2023", 从业人数="3"),  # an exact duplicate of the row above
        row(2, 年报年度="2022", 从业人数="1"),
        row(2, 年报年度="2022", 从业人数="2"),  # differs, but of another year: not a conflict
        row(2, 年报年度="2023", 从业人数="3"),
        row(3, 年报年度="2022"),
        row(3, 年报年度="2023", 从业人数="3"),
        row(3, 年报年度="2023", 从业人数="4"),  # a conflict within the report year
    ]
    path = write(tmp_path / "in", "annual.csv", csv_text(rows))
    result = run(tmp_path, path)
    got = by_code(result)
    assert (got[code(1)]["tier"], got[code(1)]["employees"]) == ("growth", 3)
    assert (got[code(2)]["tier"], got[code(2)]["employees"]) == ("growth", 3)
    assert got[code(3)]["reasons"] == ["conflicting_duplicate:annual"]
    reasons = rejects(result).sort("row").select("row", "reason").rows()
    assert reasons == [
        (2, "other_year"),
        (5, "other_year"),
        (6, "other_year"),
        (8, "other_year"),
        (9, "conflicting_duplicate"),
        (10, "conflicting_duplicate"),
    ]
    annual = result.accounting["annual"]
    assert (annual.read, annual.used, annual.rejected, annual.collapsed) == (9, 2, 6, 1)


def test_an_unparseable_value_no_rule_reads_is_a_flag_not_an_exclusion(tmp_path: Path) -> None:
    header = HEADER + ",党员人数"
    path = write(tmp_path / "in", "annual.csv", csv_text([row(1, 党员人数="若干")], header))
    got = by_code(run(tmp_path, path))[code(1)]
    assert got["tier"] == "survival"
    assert got["flags"] == ["unparseable:annual.party_members"]


# ---- 8. implausible values -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"从业人数": "1e9"}, "unparseable:annual.employees"),
        ({"从业人数": "-3"}, "unparseable:annual.employees"),
        ({"营业额": "1e308"}, "unparseable:annual.revenue"),
        ({"成立日期": "2099-01-01"}, "unparseable:annual.established_on"),
        ({"年报年度": "2999"}, "unparseable:annual.report_year"),
    ],
)
def test_implausible_values_are_data_problems(
    tmp_path: Path, cells: dict[str, str], reason: str
) -> None:
    path = write(tmp_path / "in", "annual.csv", csv_text([row(1, **cells)]))
    got = by_code(run(tmp_path, path))[code(1)]
    assert got["tier"] == "excluded"
    assert reason in got["reasons"]  # type: ignore[operator]


def test_both_engines_agree_on_messy_values(tmp_path: Path) -> None:
    """Two report years, a flag, an implausible value, placeholders, aliases: the DuckDB engine
    (validation and the join in SQL) gives the Polars engine's outcomes, business by business."""
    header = HEADER + ",党员人数"
    rows = [
        row(1, 年报年度="2022", 从业人数="1"),
        row(1, 年报年度="2023", 从业人数="3"),
        row(1, 年报年度="", 从业人数="9"),
        row(2, 党员人数="若干"),
        row(3, 从业人数="1e9"),
        row(4, 营业额="NULL", 登记状态="存续（在营、开业、在册）"),
        row(5, 年报年度="2021"),
        row(5, 年报年度="2021", 从业人数="2"),  # same year, another value: a conflict
    ]
    path = write(tmp_path / "in", "annual.csv", csv_text(rows, header))
    tax = TAX + f"{code(2)},2022,小规模纳税人,100,1\n{code(2)},2023,小规模纳税人,200,2\n"
    opts = options(tmp_path, path, tax=tax)
    results = {
        engine: classify(
            RunOptions(**{**opts.model_dump(), "engine": engine, "out": tmp_path / engine}),
            Reporter(quiet=True),
        )
        for engine in ("polars", "duckdb")
    }
    frames = {e: outcomes(r).sort("uscc").drop("decided") for e, r in results.items()}
    assert frames["polars"].equals(frames["duckdb"])
    assert rejects(results["polars"]).equals(rejects(results["duckdb"]))
    assert results["polars"].accounting == results["duckdb"].accounting
    flags = dict(frames["polars"].select("uscc", "flags").iter_rows())
    assert flags[code(2)] == ["unparseable:annual.party_members"]
