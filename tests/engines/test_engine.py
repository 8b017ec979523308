"""The engine: derived fields in order, parameter overrides keep their kind."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gthfx.app.rule_cases import run_case
from gthfx.errors import RulesError
from gthfx.rules.cases import RuleCase
from gthfx.rules.model import load_ruleset, with_parameters
from gthfx.settings.sources import load_sources
from support import ROOT

CHAINED = """
extends: {base}
id: chained
title: chained derived fields
effective_from: "2024-07-01"
source: test
derived:
  - {{id: years_in_business, label: 年限, expr: "complete_years(established_on, run_date)"}}
  - {{id: sales_yuan, label: 销售额, expr: "coalesce(sales, revenue)"}}
  - {{id: tax_yuan, label: 纳税额, expr: "coalesce(tax_paid, tax_total)"}}
  - {{id: insured_staff, label: 参保, expr: "insured_count"}}
  - {{id: sales_wan, label: 万元销售额, expr: "sales_yuan / 10000"}}
tiers:
  - {{id: development.big, tier: development, label: 大, when: "sales_wan >= 100"}}
  - {{id: survival.default, tier: survival, label: 其余, default: true}}
"""


def test_a_derived_field_may_read_an_earlier_one(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "chained.yaml").write_text(
        CHAINED.format(base=ROOT / "rules" / "reference-2024.yaml"), encoding="utf-8"
    )
    annual = {
        "uscc": "92420102MA4K1B2C9D", "established_on": "2015-03-01", "register_status": "存续",
        "report_year": 2023, "revenue": 100,
    }  # fmt: skip
    case = RuleCase(
        file=rules / "chained.yaml",
        name="chained",
        run_date=date(2024, 7, 1),
        given={"annual": [annual], "tax": [], "social": []},
        parameters={},
        expect={"tier": "development"},
    )
    result = run_case(case, rules, load_sources())
    assert result.actual["tier"] == "development", result.actual


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("development_min_sales_yuan", "很多"),
        ("general_taxpayer", 5),
        ("active_register_statuses", "存续"),
        ("development_min_years", True),
    ],
)
def test_an_override_must_keep_the_parameter_kind(name: str, value: object) -> None:
    ruleset = load_ruleset(ROOT / "rules" / "reference-2024.yaml")
    with pytest.raises(RulesError, match=name):
        with_parameters(ruleset, {name: value})
