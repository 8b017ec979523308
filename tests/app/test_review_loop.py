"""The whole Q3 loop through the CLI: classify → a district review workbook filled in with
openpyxl → `review import` → `recheck` → `diff`, with the causes checked at every step."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from openpyxl import load_workbook
from typer.testing import CliRunner

from gthfx.cli.main import app
from gthfx.report.review_workbook import CLERK_HEADERS, KEY_HEADERS
from support import ROOT

HEADER = (
    "统一社会信用代码,行政区划代码,行业代码,成立日期,登记状态,年报年度,年报报送日期,年报经营状态,"
    "从业人数,营业额,纳税总额,经营异常标记,严重违法失信\n"
)
X = "92420102MA4K1B2C9D"  # 从业人数 '三人': excluded for a data problem, corrected to 4
Y = "92420103MA4K1B2C9X"  # a survival business, given 发展型 by hand
Z = "92420105MA4K1B2C9B"  # an ordinary survival business nobody touches
ROWS = [
    f"{X},420102,F5211,2015-03-01,存续,2023,2024-03-01,开业,三人,20,0,否,否\n",
    f"{Y},420102,H6210,2019-05-01,存续,2023,2024-03-01,开业,1,20,0,否,否\n",
    f"{Z},420102,O8040,2018-05-01,存续,2023,2024-03-01,开业,1,20,0,否,否\n",
]


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_classify_review_import_recheck_diff(tmp_path: Path) -> None:
    (tmp_path / "annual.csv").write_text(HEADER + "".join(ROWS), encoding="utf-8")
    (tmp_path / "tax.csv").write_text("纳税人识别号,所属年度,销售额,实缴税额\n", encoding="utf-8")
    (tmp_path / "social.csv").write_text("统一社会信用代码,参保人数\n", encoding="utf-8")
    runs = tmp_path / "runs"
    inputs = ["--annual", str(tmp_path / "annual.csv"), "--tax", str(tmp_path / "tax.csv"),
              "--social", str(tmp_path / "social.csv")]  # fmt: skip
    invoke("classify", "--date", "2024-07-01", *inputs, "--out", str(runs),
           "--rules", str(ROOT / "rules"), "--quiet")  # fmt: skip
    base = runs / "2024-07-01"

    # the clerk's answers, written into the district workbook as Excel would save them
    book_path = base / "复核_江岸区_420102.xlsx"
    book = load_workbook(book_path)
    sheet = book["待复核"]
    headers = [*KEY_HEADERS, *CLERK_HEADERS]
    listed = {sheet.cell(r, 1).value: r for r in range(2, sheet.max_row + 1)}
    assert X in listed  # excluded for a data problem: contested
    assert Y not in listed and Z not in listed  # plain survival businesses are not
    answers = {"复核结论": "更正", "更正字段": "从业人数", "更正值": "4", "理由": "核实为4人",
               "复核人": "王科员", "复核日期": "2024-08-15"}  # fmt: skip
    for header, value in answers.items():
        sheet.cell(listed[X], headers.index(header) + 1, value)
    book.save(book_path)

    plain = tmp_path / "review"
    invoke("review", "import", str(book_path), "--out", str(plain))
    assert pl.read_csv(plain / "corrections.csv").height == 1
    # a decision for a business the workbook did not list comes as a plain file (SPEC §9)
    decisions = tmp_path / "decisions.csv"
    decisions.write_text(
        f"统一社会信用代码,认定分型,理由,审批人,日期\n{Y},发展型,实地核查为连锁门店,李科长,2024-08-16\n",
        encoding="utf-8-sig",
    )

    invoke("recheck", "--date", "2024-09-30", "--base", str(base), "--out", str(runs),
           "--rules", str(ROOT / "rules"), "--corrections", str(plain / "corrections.csv"),
           "--decisions", str(decisions))  # fmt: skip
    again = runs / "2024-09-30"
    manifest = json.loads((again / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "recheck"

    changes = {
        r["uscc"]: r for r in pl.read_parquet(again / "changes.parquet").iter_rows(named=True)
    }
    assert changes[X]["change"] == "in" and changes[X]["tier_after"] == "growth"
    assert "从业人数" in changes[X]["cause"] and "王科员" in changes[X]["cause"]
    assert changes[Y]["tier_after"] == "development"
    assert "李科长" in changes[Y]["cause"]
    assert Z not in changes
    development = pl.read_parquet(again / "development.parquet")
    assert development.filter(pl.col("uscc") == Y).row(0, named=True)["decided"] is True
    audit = pl.read_parquet(again / "audit.parquet")
    assert set(audit.get_column("uscc")) == {X, Y}

    # the analyst's view of the same two runs
    out = json.loads(invoke("diff", str(base), str(again), "--format", "json"))
    listed_changes = {c["uscc"]: c for c in out["changes"]}
    assert set(listed_changes) == {X, Y}
    assert "王科员" in json.dumps(listed_changes[X], ensure_ascii=False)
    check = CliRunner().invoke(app, ["diff", str(base), str(again), "--check", "--format", "csv"])
    assert check.exit_code == 1
