"""`gthfx rules show | check | test` through the CLI: output and exit codes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gthfx.cli.main import app
from support import FIXTURES, ROOT

LINT = FIXTURES / "lint"
RULES = FIXTURES / "rules"


@pytest.fixture(autouse=True)
def _in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    # the defaults come from ./gthfx.yaml, as for classify
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "200")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_show_prints_the_ruleset_in_force_with_its_parameters() -> None:
    code, out = invoke("rules", "show", "--date", "2024-07-01")
    assert code == 0
    assert "hubei-reference-2024" in out and "reference-2024.yaml" in out
    for word in ("参数", "名称", "说明", "值", "单位", "依据", "派生字段", "基础条件", "分型规则"):
        assert word in out, word
    assert "development_min_sales_yuan" in out and "1,000,000" in out and "元" in out
    assert "发展型最低年销售额" in out
    assert "coalesce(sales, revenue)" in out
    assert "发展型" in out and "成长型" in out and "默认" in out
    assert out.index("development.standard") < out.index("growth.standard")
    assert out.index("growth.standard") < out.index("survival.default")


def test_show_lists_the_near_threshold_checks_of_the_review_workbooks() -> None:
    """Every `review:` declaration of the ruleset in force, with its tier and range."""
    code, out = invoke("rules", "show", "--date", "2024-07-01")
    assert code == 0
    near = out[out.index("复核提示") :]
    rows = [line for line in near.splitlines() if "_min_" in line]
    assert len(rows) == 7  # the reference ruleset declares seven
    sales = next(line for line in rows if "development_min_sales_yuan" in line)
    assert "sales_yuan" in sales and "发展型" in sales and "10 %" in sales
    years = next(line for line in rows if "growth_min_years" in line)
    assert "years_in_business" in years and "成长型" in years and "1" in years


def test_show_picks_the_baseline_for_2023() -> None:
    code, out = invoke("rules", "show", "--date", "2023-07-01")
    assert code == 0 and "hubei-reference-2023-baseline" in out


def test_show_with_no_ruleset_in_force_is_a_clear_error() -> None:
    from gthfx.errors import RulesError

    result = CliRunner().invoke(app, ["rules", "show", "--date", "2020-07-01"])
    assert isinstance(result.exception, RulesError)
    assert "no ruleset" in str(result.exception) and "2020-07-01" in str(result.exception)


def test_check_is_clean_on_the_shipped_rules() -> None:
    code, out = invoke("rules", "check")
    assert code == 0
    assert "0 error(s), 0 warning(s)" in out


def test_check_exits_2_on_a_broken_file_with_file_and_line() -> None:
    path = LINT / "two_errors.yaml"
    code, out = invoke("rules", "check", "--rules", str(path))
    assert code == 2
    assert f"{path}:29: error: growth.standard:" in out
    assert "did you mean `employees`" in out
    assert f"{path}:22: error: registered:" in out
    assert "2 error(s), 1 warning(s)" in out


def test_check_prints_warnings_but_exits_0() -> None:
    code, out = invoke("rules", "check", "--rules", str(LINT / "never_first.yaml"))
    assert code == 0
    assert "never_first.yaml:33: warning: development.staff:" in out
    assert "sampled" in out


def test_test_passes_on_the_shipped_cases() -> None:
    code, out = invoke("rules", "test")
    assert code == 0
    assert "✓" in out and "✗" not in out
    assert " 0 failed" in out


def test_test_exits_2_on_a_failing_case_with_expected_actual_and_trace(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("cases"))
    (rules / "cases").mkdir()
    (rules / "cases" / "wrong.yaml").write_text(
        """
cases:
  - name: 故意写错的期望
    date: "2024-07-01"
    annual:
      uscc: 92420102MA4K1B2C9D
      region_code: "420102"
      industry_code: F5211
      established_on: "2015-03-01"
      register_status: 存续
      report_year: 2023
      employees: 1
      revenue: 10
    expect: {tier: development, rule_id: development.standard}
  - name: 正确的用例
    date: "2024-07-01"
    annual:
      uscc: 92420102MA4K1B2C9D
      region_code: "420102"
      industry_code: F5211
      established_on: "2015-03-01"
      register_status: 存续
      report_year: 2023
    expect: {tier: survival}
""",
        encoding="utf-8",
    )
    code, out = invoke("rules", "test", "--rules", str(rules))
    assert code == 2
    assert "1 passed, 1 failed" in out
    assert "故意写错的期望" in out and "期望 expected" in out and "实际 actual" in out
    assert "development.standard" in out and "survival.default" in out
    # the trace: derived values, every basic condition, every tier rule
    assert "years_in_business" in out and "= 9" in out
    assert "sales_yuan" in out and "100,000" in out
    assert "基础条件 registered" in out and "✓ 满足" in out
    assert "分型规则 development.standard (发展型): ✗ 不满足" in out
    assert "分型规则 survival.default (生存型): 默认" in out


def test_test_with_an_explicit_cases_file() -> None:
    code, out = invoke(
        "rules",
        "test",
        "--rules",
        "rules",
        "--cases",
        "rules/cases/reference-2024.yaml",
    )
    assert code == 0 and " 0 failed" in out


@pytest.mark.parametrize("command", ["show", "check", "test"])
def test_every_rules_command_has_help_with_an_example(command: str) -> None:
    code, out = invoke("rules", command, "--help")
    assert code == 0 and "Example" in out and f"gthfx rules {command}" in out
