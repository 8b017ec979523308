"""名特优新 criteria as data: every case under rules/cases/categories/ runs through the same
parsing and screening as the files; the criteria files lint clean, and each kind of mistake in
one is a finding with its line."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from gthfx.app.categories.cases import load_category_cases, run_category_case
from gthfx.errors import RulesError
from gthfx.rules.criteria import compile_criteria, criteria_in_force, load_criteria
from gthfx.rules.criteria_lint import lint_criteria
from gthfx.rules.lint import has_errors
from gthfx.settings.sources import load_sources
from support import ROOT

CASE_FILES = sorted((ROOT / "rules" / "cases" / "categories").glob("*.yaml"))
CASES = [case for path in CASE_FILES for case in load_category_cases(path)]
SPECS = load_sources().category_extracts


def test_case_files_exist() -> None:
    assert CASE_FILES and len(CASES) >= 50


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file.stem}:{c.name}" for c in CASES])
def test_category_case(case) -> None:  # type: ignore[no-untyped-def]
    result = run_category_case(case, ROOT / "rules", load_sources())
    assert result.passed, f"expected {result.expected}, got {result.actual}"


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    """The runner compares: a case expecting the opposite result fails."""
    text = (ROOT / "rules" / "cases" / "categories" / "categories-2024.yaml").read_text(
        encoding="utf-8"
    )
    flipped = text.replace(
        "expect: {known: {result: eligible, reasons: [], criteria_met: [known.trademark], "
        "rank: 1}}",
        "expect: {known: {result: ineligible}}",
        1,
    )
    assert flipped != text
    path = tmp_path / "categories-flipped.yaml"
    path.write_text(flipped, encoding="utf-8")
    first = load_category_cases(path)[0]
    assert not run_category_case(first, ROOT / "rules", load_sources()).passed


def test_the_shipped_criteria_lint_clean_and_compile() -> None:
    assert lint_criteria(ROOT / "rules", SPECS) == []
    for on in (date(2023, 10, 15), date(2024, 10, 15), date(2025, 10, 15)):
        compile_criteria(criteria_in_force(ROOT / "rules", on), SPECS, on)
    base = load_criteria(ROOT / "rules" / "categories-2023-baseline.yaml").criteria
    ref = load_criteria(ROOT / "rules" / "categories-2024.yaml").criteria
    assert base.parameters == ref.parameters and base.criteria == ref.criteria
    # every parameter has a unit and a source; every number is a parameter
    for name, p in ref.parameters.items():
        assert p.unit and p.source, name


def _edit(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "rules" / "categories-2024.yaml").read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "categories-2024.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            'evidence_type == "注册商标"',
            'evidence_type == "注册商品"',
            ["注册商品", "did you mean"],
        ),
        ("when: tier in typed_tiers", "when: tier in typed_tierz", ["typed_tierz", "did you mean"]),
        ("when: trademark}", "when: chain_stores}", ["must be a condition"]),
        ("years_in_business >= min_years", 'years_in_business >= "2"', ["number"]),
        ("  light_penalties:\n    label:", "  light_penalties:\n    lable:", ["label"]),
        ("    unit: 家\n", "", ["unit"]),
        ("  quota_share:\n    label: 各区", "  quota_sharez:\n    label: 各区", ["quota_share"]),
        (
            "{id: emerging.patent, category: emerging",
            "{id: emerging.patent, category: emerging2",
            ["category"],
        ),
    ],
)
def test_each_mistake_is_a_finding(tmp_path: Path, old: str, new: str, words: list[str]) -> None:
    path = _edit(tmp_path, old, new)
    findings = lint_criteria(path, SPECS)
    assert has_errors(findings), findings
    text = " ".join(str(f) for f in findings)
    for word in words:
        assert word in text, (word, text)


def test_an_unused_parameter_is_a_warning_with_its_line(tmp_path: Path) -> None:
    path = _edit(
        tmp_path,
        "parameters:\n",
        "parameters:\n  spare:\n    label: 备用\n    value: 3\n    unit: 个\n    source: test\n",
    )
    [finding] = lint_criteria(path, SPECS)
    assert finding.severity == "warning" and finding.rule == "spare" and finding.line


def test_overlapping_criteria_files_are_an_error(tmp_path: Path) -> None:
    shutil.copy(ROOT / "rules" / "categories-2024.yaml", tmp_path / "categories-2024.yaml")
    text = (ROOT / "rules" / "categories-2024.yaml").read_text(encoding="utf-8")
    (tmp_path / "categories-2025.yaml").write_text(
        text.replace('effective_from: "2024-07-01"', 'effective_from: "2025-07-01"').replace(
            "id: hubei-categories-reference-2024", "id: next"
        ),
        encoding="utf-8",
    )
    findings = lint_criteria(tmp_path, SPECS)
    assert any("overlap" in f.message for f in findings)
    with pytest.raises(RulesError, match="several are in force"):
        criteria_in_force(tmp_path, date(2025, 10, 15))
    with pytest.raises(RulesError, match="none is in force"):
        criteria_in_force(tmp_path, date(2020, 1, 1))
