"""`gthfx explain`: one business's outcome taken apart — values per extract with their raw text,
basic conditions, tier clauses with thresholds — and always equal to the run's outcome."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from gthfx.app.classify import classify
from gthfx.app.explain import (
    Explanation,
    ExtractValues,
    FieldValue,
    NamedValue,
    TierResult,
    explain_fresh,
    explain_run,
)
from gthfx.cli.main import app
from gthfx.errors import ConfigError, GthfxError, InputError, RunError
from gthfx.ingest import uscc
from gthfx.rules.grammar import expression_text, parse_expression
from gthfx.rules.model import load_ruleset
from gthfx.runs.reader import read_outcomes
from gthfx.settings.config import RunOptions
from support import ROOT

RULES = ROOT / "rules"
RUN_DATE = date(2024, 7, 1)


def code(body: str) -> str:
    """A 92… code with the right check character (17 characters given)."""
    total = sum(uscc.VALUE[ch] * w for ch, w in zip(body, uscc.WEIGHTS, strict=True))
    return body + uscc.CHARSET[(31 - total % 31) % 31]


AT_BOUNDARY = code("92420102MA4K1B2C0")  # exactly 3 years, exactly 1 000 000 sales
DAY_SHORT = code("92420103MA4K1B2C0")  # founded one day later: 2 complete years
EXCLUDED = code("92420104MA4K1B2C0")  # 歇业, old report, abnormal, dishonest
FALLBACK = code("92420105MA4K1B2C0")  # no tax row; messy values; a collapsed duplicate
ENTERPRISE = "91420102MA4K1B2C9D"  # rejected: not an individual business
MALFORMED = "9242010"
ABSENT = code("92420199MA4K1B2C0")

ANNUAL_HEADER = (
    "统一社会信用代码,个体工商户名称,经营者姓名,经营者身份证号码,联系电话,行政区划代码,行业代码,"
    "成立日期,登记状态,年报年度,年报报送日期,年报经营状态,从业人数,营业额,纳税总额,经营异常标记,"
    "严重违法失信,备注"
)
ANNUAL_ROWS = [
    f"{AT_BOUNDARY},甲店,张三,,,420102,F5211,2021-07-01,存续,2023,2024-03-01,开业,2,10,0,否,否,",
    f"{DAY_SHORT},乙店,李四,,,420103,F5211,2021-07-02,存续,2023,2024-03-01,开业,2,10,0,否,否,",
    f"{EXCLUDED},丙店,王五,,,420104,F5224,2018-01-01,歇业,2022,2023-02-01,开业,1,5,0,是,是,",
    f"{FALLBACK},丁店,赵六,,,420105,O8051,2020/7/1,开业,2023,2024-02-01,开业,１２,１２,0.5,N,否,",
    f"{FALLBACK},丁店,赵六,,,420105,O8051,2020-07-01,开业,2023,2024-02-01,开业,12,12,0.5,N,否,",
    f"{ENTERPRISE},庚公司,周九,,,420102,F5211,2016-01-01,存续,2023,2024-02-01,开业,1,5,0,否,否,",
    f"{MALFORMED},己店,孙八,,,420102,F5211,2016-01-01,存续,2023,2024-02-01,开业,1,5,0,否,否,",
]
TAX_CSV = (
    "纳税人识别号,所属年度,纳税人类型,销售额,实缴税额\n"
    f'{AT_BOUNDARY},2023,小规模纳税人,"1,000,000",30000\n'
    f"{DAY_SHORT},2023,小规模纳税人,1000000,30000\n"
)
SOCIAL_CSV = f"单位统一社会信用代码,参保人数\n{DAY_SHORT},1\n"


def write_extracts(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {e: folder / f"{e}.csv" for e in ("annual", "tax", "social")}
    paths["annual"].write_text(
        ANNUAL_HEADER + "\n" + "\n".join(ANNUAL_ROWS) + "\n", encoding="utf-8-sig"
    )
    paths["tax"].write_text(TAX_CSV, encoding="utf-8")
    paths["social"].write_bytes(SOCIAL_CSV.encode("gb18030"))
    return paths


def make_run(folder: Path) -> tuple[dict[str, Path], Path]:
    paths = write_extracts(folder / "in")
    options = RunOptions(
        run_date=RUN_DATE,
        inputs={e: (p,) for e, p in paths.items()},
        out=folder / "runs",
        rules=RULES,
        excel=False,
        command=("gthfx", "classify"),
    )
    return paths, classify(options).run_dir


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], Path]:
    return make_run(tmp_path_factory.mktemp("explain"))


def tier(e: Explanation, rule_id: str) -> TierResult:
    return next(t for t in e.tiers if t.id == rule_id)


def named(items: list[NamedValue], name: str) -> NamedValue:
    return next(v for v in items if v.name == name)


def test_development_at_every_boundary(run: tuple[dict[str, Path], Path]) -> None:
    e = explain_run(AT_BOUNDARY, run[1])
    assert (e.outcome.tier, e.outcome.rule_id) == ("development", "development.standard")
    dev = tier(e, "development.standard")
    assert dev.matched and dev.result and dev.op == "and"
    years, sales, either = dev.clauses
    assert years.text == "years_in_business >= development_min_years" and years.result
    assert named(years.values, "years_in_business").value == 3
    threshold = named(years.thresholds, "development_min_years")
    assert (threshold.value, threshold.unit, threshold.label) == (3, "年", "发展型最低经营年限")
    assert sales.result and named(sales.values, "sales_yuan").value == 1_000_000
    assert named(sales.thresholds, "development_min_sales_yuan").value == 1_000_000
    assert named(sales.thresholds, "development_min_sales_yuan").unit == "元"
    assert either.op == "or" and either.result
    assert [p.result for p in either.parts] == [True, False, False]  # tax 30 000 ≥ 30 000
    assert not tier(e, "growth.standard").matched  # holds too, but comes later
    assert all(c.passed for c in e.conditions)
    assert e.district == "江岸区" and e.industry_code == "F5211"
    assert e.run_outcome == e.outcome and e.warnings == []


def test_one_day_short_is_growth(run: tuple[dict[str, Path], Path]) -> None:
    e = explain_run(DAY_SHORT, run[1])
    assert (e.outcome.tier, e.outcome.rule_id) == ("growth", "growth.standard")
    dev = tier(e, "development.standard")
    assert not dev.result and not dev.matched
    assert [c.result for c in dev.clauses] == [False, True, True]
    assert named(dev.clauses[0].values, "years_in_business").value == 2
    growth = tier(e, "growth.standard")
    assert growth.matched and growth.clauses[0].result
    social = next(x for x in e.extracts if x.extract == "social")
    assert social.present and named_field(social, "insured_count").value == 1


def named_field(extract: ExtractValues, name: str) -> FieldValue:
    return next(f for f in extract.fields if f.field == name)


def test_excluded_lists_every_failed_condition(run: tuple[dict[str, Path], Path]) -> None:
    e = explain_run(EXCLUDED, run[1])
    failed = [c.id for c in e.conditions if c.passed is False]
    assert failed == ["operating", "reported", "not_abnormal", "not_dishonest"]
    assert e.outcome.tier == "excluded" and e.outcome.reasons == failed
    assert e.outcome.rule_id == "operating"
    assert "未列入经营异常状态" in e.outcome.reason_labels
    assert not any(t.matched for t in e.tiers)
    reported = next(c for c in e.conditions if c.id == "reported")
    assert named(reported.values, "report_year").value == 2022


def test_raw_text_tax_fallback_and_collapsed_row(run: tuple[dict[str, Path], Path]) -> None:
    e = explain_run(FALLBACK, run[1])
    annual = next(x for x in e.extracts if x.extract == "annual")
    established = named_field(annual, "established_on")
    assert (established.value, established.raw, established.changed) == (
        date(2020, 7, 1), "2020/7/1", True,
    )  # fmt: skip
    employees = named_field(annual, "employees")
    assert (employees.value, employees.raw, employees.changed) == (12, "１２", True)
    revenue = named_field(annual, "revenue")  # 万元 → 元
    assert (revenue.value, revenue.raw, revenue.unit, revenue.changed) == (
        120000,
        "１２",
        "元",
        True,
    )
    status = named_field(annual, "register_status")
    assert (status.value, status.changed) == ("开业", False)
    assert [r.status for r in annual.rows] == ["used", "collapsed"]
    tax = next(x for x in e.extracts if x.extract == "tax")
    assert not tax.present and tax.note == "无税务记录" and tax.fields == []
    sales = next(d for d in e.derived if d.id == "sales_yuan")
    assert sales.value == 120000 and sales.expr == "coalesce(sales, revenue)"
    assert named(sales.reads, "sales").value is None
    assert named(sales.reads, "revenue").value == 120000
    tax_yuan = next(d for d in e.derived if d.id == "tax_yuan")
    assert tax_yuan.value == 5000
    assert (e.outcome.tier, e.outcome.rule_id) == ("growth", "growth.standard")


def test_rejected_and_unknown_codes(run: tuple[dict[str, Path], Path]) -> None:
    with pytest.raises(ConfigError) as enterprise:
        explain_run(ENTERPRISE, run[1])
    message = str(enterprise.value)
    assert "not_individual" in message and "非个体工商户代码" in message
    assert "annual.csv row 7" in message
    with pytest.raises(ConfigError) as malformed:
        explain_run(f" {MALFORMED} ", run[1])
    assert "malformed_code" in str(malformed.value) and "row 8" in str(malformed.value)
    with pytest.raises(ConfigError, match="no such business"):
        explain_run(ABSENT, run[1])
    with pytest.raises(RunError, match="no such run folder"):
        explain_run(AT_BOUNDARY, run[1].parent / "2099-07-01")


def test_changed_input_is_an_error_unless_date(tmp_path: Path) -> None:
    paths, run_dir = make_run(tmp_path)
    with paths["tax"].open("a", encoding="utf-8") as fh:
        fh.write(f"{EXCLUDED},2023,小规模纳税人,5,1\n")
    with pytest.raises(InputError) as changed:
        explain_run(AT_BOUNDARY, run_dir)
    assert str(paths["tax"]) in str(changed.value) and "changed since the run" in str(changed.value)
    proc = subprocess.run(
        [sys.executable, "-c", "from gthfx.cli.main import main; main()",
         "explain", AT_BOUNDARY, "--run", str(run_dir)],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "tax.csv" in proc.stderr and "Traceback" not in proc.stderr
    fresh = explain_fresh(
        AT_BOUNDARY, run_date=RUN_DATE, inputs={e: [p] for e, p in paths.items()}, rules=RULES
    )
    assert fresh.run_dir is None and fresh.outcome.tier == "development"


def test_every_business_of_the_run_is_explained_as_classified(
    run: tuple[dict[str, Path], Path],
) -> None:
    paths, run_dir = run
    outcomes = read_outcomes(run_dir)
    assert outcomes.height == 4
    for row in outcomes.iter_rows(named=True):
        for e in (
            explain_run(row["uscc"], run_dir),
            explain_fresh(
                row["uscc"], run_date=RUN_DATE, inputs={k: [p] for k, p in paths.items()},
                rules=RULES,
            ),
        ):  # fmt: skip
            got = (e.outcome.tier, e.outcome.rule_id, e.outcome.reasons, e.outcome.flags)
            assert got == (row["tier"], row["rule_id"], row["reasons"], row["flags"])
            assert e.warnings == []


def test_clause_texts_parse_back_to_the_same_tree() -> None:
    rs = load_ruleset(RULES / "reference-2024.yaml").ruleset
    texts = [t.when for t in rs.tiers if t.when] + [c.when for c in rs.basic_conditions]
    texts += [d.expr for d in rs.derived] + ["-(a - b) * c / (d + 1)", "not (a and b) or c"]
    for text in texts:
        tree = parse_expression(text)
        again = parse_expression(expression_text(tree))
        assert shape(again) == shape(tree), text


def shape(tree: object) -> str:
    """The tree without the source columns of its names."""
    return re.sub(r"column=\d+", "", repr(tree))


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(app, args, env={"COLUMNS": "200"})


def test_cli_text_json_help_and_exit_codes(run: tuple[dict[str, Path], Path]) -> None:
    paths, run_dir = run
    text = invoke(["explain", FALLBACK, "--run", str(run_dir)])
    assert text.exit_code == 0, text.output
    expected = ["统一社会信用代码", "汉阳区", "无税务记录", "基础条件", "分型规则", "结论"]
    for words in [*expected, "成长型", "１２", "2020/7/1"]:
        assert words in text.output, words

    out = invoke(["explain", AT_BOUNDARY, "--run", str(run_dir), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    row = read_outcomes(run_dir).filter(pl.col("uscc") == AT_BOUNDARY).row(0, named=True)
    outcome = data["outcome"]
    assert (outcome["tier"], outcome["rule_id"], outcome["reasons"], outcome["flags"]) == (
        row["tier"], row["rule_id"], row["reasons"], row["flags"],
    )  # fmt: skip
    assert data["run_outcome"] == outcome and data["run_dir"] == str(run_dir)

    fresh = invoke(
        ["explain", EXCLUDED, "--date", "2024-07-01", "--rules", str(RULES),
         "--annual", str(paths["annual"]), "--tax", str(paths["tax"]),
         "--social", str(paths["social"])]
    )  # fmt: skip
    assert fresh.exit_code == 0, fresh.output
    assert (
        "现场计算" in fresh.output and "不参与分型" in fresh.output and "✗ 不满足" in fresh.output
    )

    rejected = invoke(["explain", ENTERPRISE, "--run", str(run_dir)])
    assert isinstance(rejected.exception, GthfxError) and rejected.exception.exit_code == 2
    both = invoke(["explain", AT_BOUNDARY, "--run", str(run_dir), "--date", "2024-07-01"])
    assert isinstance(both.exception, ConfigError) and both.exception.exit_code == 2

    helped = invoke(["explain", "--help"])
    assert helped.exit_code == 0 and "Example:" in helped.output
