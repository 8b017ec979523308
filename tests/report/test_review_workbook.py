"""The review workbooks a classify run writes (复核_<区名>_<区划代码>.xlsx) and `gthfx review
import`: contents, drop-downs, locking, determinism, and reading filled-in workbooks back."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from gthfx.app.classify import classify
from gthfx.cli.main import app
from gthfx.report.review_workbook import CLERK_HEADERS, KEY_HEADERS, district_file
from gthfx.settings.config import RunOptions
from support import sample_options

HEADERS = [*KEY_HEADERS, *CLERK_HEADERS]


def _options(year: int, out: Path, *, force: bool = False) -> RunOptions:
    return sample_options(out, date(year, 7, 1), force=force)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two yearly runs of the shipped samples; the second (2024-07-01) is the one reviewed."""
    out = tmp_path_factory.mktemp("runs")
    classify(_options(2023, out))
    classify(_options(2024, out))
    return out / "2024-07-01"


def _outcomes(run_dir: Path) -> pl.DataFrame:
    names = ("survival", "growth", "development", "excluded")
    return pl.concat(
        [pl.read_parquet(run_dir / f"{n}.parquet") for n in names], how="diagonal_relaxed"
    )


def _listed(path: Path) -> dict[str, tuple[object, ...]]:
    book = load_workbook(path, read_only=True)
    rows = list(book["待复核"].iter_rows(values_only=True))
    book.close()
    assert list(rows[0]) == HEADERS
    return {str(r[0]): r for r in rows[1:]}


def test_one_workbook_per_district_with_sheets_and_headers(run: Path) -> None:
    outcomes = _outcomes(run)
    expected = {district_file(c) for c in outcomes["region_code"].unique().to_list()}
    assert "复核_江岸区_420102.xlsx" in expected
    assert "复核_未知区划.xlsx" in expected  # the samples hold businesses without a district
    found = {p.name for p in run.glob("复核_*.xlsx")}
    assert found == expected
    book = load_workbook(run / "复核_江岸区_420102.xlsx")
    assert book.sheetnames[:4] == ["说明", "汇总", "变动", "待复核"]
    assert book["_选项"].sheet_state == "hidden"
    guide = "\n".join(str(c.value) for c in book["说明"]["A"] if c.value)
    assert "2024-07-01" in guide and "hubei-reference-2024" in guide
    assert "确认" in guide and "更正" in guide and "人工认定" in guide
    changes = [r for r in book["变动"].iter_rows(min_row=1, values_only=True)]
    assert list(changes[0]) == ["统一社会信用代码", "上次分型", "本次分型", "变动", "变动原因"]
    summary = {r[0]: r[1] for r in book["汇总"].iter_rows(values_only=True) if r[0]}
    district = outcomes.filter(pl.col("region_code") == "420102")
    assert summary["合计"] == district.height
    assert summary["生存型"] == district.filter(pl.col("tier") == "survival").height


def test_contested_businesses_listed_plain_ones_absent(run: Path) -> None:
    outcomes = _outcomes(run)
    changes = pl.read_parquet(run / "changes.parquet")
    listed: dict[str, tuple[object, ...]] = {}
    for path in run.glob("复核_*.xlsx"):
        listed.update(_listed(path))
    # excluded for a data problem
    problem = outcomes.filter(
        (pl.col("tier") == "excluded")
        & pl.col("reasons").list.eval(pl.element().str.starts_with("unparseable:")).list.any()
    )
    assert problem.height > 0
    for code in problem["uscc"]:
        assert code in listed and "数据问题" in str(listed[code][4])
    # excluded for a basic condition only (not a data problem): not listed unless moved down
    down = set(changes.filter(pl.col("change") == "down")["uscc"])
    assert down and all(code in listed for code in down)
    near_sales = outcomes.filter(
        (pl.col("tier") == "growth") & pl.col("sales_yuan").is_between(900_000, 999_999.99)
    )
    for code in near_sales["uscc"]:
        assert "接近发展型门槛" in str(listed[code][4])
    near_years = outcomes.filter(
        (pl.col("tier") == "survival") & (pl.col("years_in_business") == 0)
    )
    assert near_years.height > 0
    assert all(code in listed for code in near_years["uscc"])
    # a plain survival business: years well above, no employees near 3, not moved down
    plain = outcomes.filter(
        (pl.col("tier") == "survival")
        & (pl.col("years_in_business") >= 2)
        & (pl.col("employees").fill_null(0) < 2)
        & (pl.col("insured_staff").fill_null(5) != 0)
        & ~pl.col("uscc").is_in(list(down))
    )
    assert plain.height > 0
    assert not any(code in listed for code in plain["uscc"])
    basic_only = outcomes.filter(
        (pl.col("tier") == "excluded")
        & (pl.col("reasons") == pl.lit(["registered"], pl.List(pl.String)))
        & ~pl.col("uscc").is_in(list(down))
    )
    assert basic_only.height > 0
    assert not any(code in listed for code in basic_only["uscc"])


def test_dropdowns_and_locking(run: Path) -> None:
    ws = load_workbook(run / "复核_江岸区_420102.xlsx")["待复核"]
    assert ws.protection.sheet is True
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref is not None and ws.auto_filter.ref.startswith("A1:L")
    validations = {str(dv.sqref).split(":")[0][0]: dv for dv in ws.data_validations.dataValidation}
    assert set(validations) == {"F", "G", "I"}  # 复核结论, 更正字段, 认定分型
    assert all(dv.type == "list" for dv in validations.values())
    lists = load_workbook(run / "复核_江岸区_420102.xlsx")["_选项"]
    assert [lists.cell(r, 1).value for r in (1, 2, 3)] == ["确认", "更正", "人工认定"]
    assert [lists.cell(r, 3).value for r in (1, 2, 3)] == ["生存型", "成长型", "发展型"]
    fields = {lists.cell(r, 2).value for r in range(1, 40)}
    assert {"从业人数", "营业额"} <= fields
    assert ws.max_row > 1
    for col in "ABCE":  # written cells: the default style, locked (原因 may be empty)
        assert ws[f"{col}2"].value and ws[f"{col}2"].protection.locked is True
        assert ws.column_dimensions[col].protection.locked is True
    for col in "FGHIJKL":  # empty clerk cells take their column's unlocked style
        assert ws[f"{col}2"].value is None
        assert ws.column_dimensions[col].protection.locked is False


def test_workbooks_are_byte_identical_across_runs(run: Path, tmp_path: Path) -> None:
    before = {p.name: p.read_bytes() for p in run.glob("复核_*.xlsx")}
    out = tmp_path / "runs"
    shutil.copytree(run.parent, out)
    classify(_options(2024, out, force=True))
    after = {p.name: p.read_bytes() for p in (out / "2024-07-01").glob("复核_*.xlsx")}
    assert after == before


def _fill(path: Path, answers: dict[int, dict[str, object]]) -> None:
    book = load_workbook(path)
    ws = book["待复核"]
    for row, values in answers.items():
        for header, value in values.items():
            ws.cell(row, HEADERS.index(header) + 1, value)
    book.save(path)


def test_import_filled_workbook(run: Path, tmp_path: Path) -> None:
    path = tmp_path / "复核_江岸区_420102.xlsx"
    shutil.copy(run / path.name, path)
    codes = list(_listed(path))
    assert len(codes) >= 3
    _fill(
        path,
        {
            2: {"复核结论": "确认", "复核人": "王科员"},
            3: {
                "复核结论": "更正",
                "更正字段": "从业人数",
                "更正值": 5,
                "理由": "年报填错",
                "复核人": "王科员",
                "复核日期": "2024-08-15",
            },
            4: {
                "复核结论": "人工认定",
                "认定分型": "发展型",
                "理由": "实地核查",
                "复核人": "李科长",
                "复核日期": "2024-08-16",
            },
        },
    )
    out = tmp_path / "plain"
    result = CliRunner().invoke(app, ["review", "import", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "confirmed 1" in result.output
    assert "corrections 1" in result.output and "decisions 1" in result.output
    raw = (out / "corrections.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    corrections = pl.read_csv(out / "corrections.csv", infer_schema=False)
    assert corrections.columns == [
        "统一社会信用代码",
        "字段",
        "更正值",
        "复核人",
        "复核日期",
        "说明",
    ]
    assert corrections.rows() == [(codes[1], "从业人数", "5", "王科员", "2024-08-15", "年报填错")]
    decisions = pl.read_csv(out / "decisions.csv", infer_schema=False)
    assert decisions.columns == ["统一社会信用代码", "认定分型", "理由", "审批人", "日期"]
    assert decisions.rows() == [(codes[2], "发展型", "实地核查", "李科长", "2024-08-16")]


def test_import_lists_every_problem_and_writes_nothing(run: Path, tmp_path: Path) -> None:
    path = tmp_path / "复核_江岸区_420102.xlsx"
    shutil.copy(run / path.name, path)
    _fill(
        path,
        {
            2: {"复核结论": "同意"},  # unknown answer
            3: {"复核结论": "更正", "复核人": "王"},  # no field, no value
            4: {"复核结论": "更正", "更正字段": "身高", "更正值": "1"},  # unknown field
            5: {"复核结论": "人工认定", "认定分型": "发展型"},  # no reason, no approver
            6: {"统一社会信用代码": "92420102MA0000000X", "复核结论": "确认"},  # not listed
        },
    )
    out = tmp_path / "plain"
    command = [
        sys.executable,
        "-c",
        "from gthfx.cli.main import main; main()",
        "review",
        "import",
    ]
    proc = subprocess.run(
        [*command, str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr
    for row, words in (
        (2, "未知的复核结论"),
        (3, "缺少「更正字段」"),
        (3, "缺少「更正值」"),
        (4, "未知字段「身高」"),
        (5, "缺少「理由」"),
        (5, "缺少「复核人」"),
        (6, "不在本复核表列出的户中"),
    ):
        assert any(
            f"待复核 第{row}行" in line and words in line and path.name in line
            for line in err.splitlines()
        ), (row, words, err)
    assert not out.exists()


def test_import_help_has_example() -> None:
    result = CliRunner().invoke(app, ["review", "import", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
