"""`rules check` findings: each from its own broken ruleset file, with file, rule id and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gthfx.rules.grammar import parse_expression
from gthfx.rules.lint import Finding, always_true, has_errors, lint_file, lint_rules
from gthfx.settings.sources import load_sources
from support import FIXTURES, ROOT

LINT = FIXTURES / "lint"
RULES = FIXTURES / "rules"
SOURCES = load_sources()

# file → [(severity, rule id, line, keywords)], every finding of the file
EXPECTED: dict[Path, list[tuple[str, str | None, int, list[str]]]] = {
    LINT / "always_true.yaml": [
        ("warning", "growth.standard", 33, ["never be reached", "development.any", "always"]),
        ("warning", "survival.default", 37, ["never be reached", "development.any"]),
    ],
    LINT / "same_condition.yaml": [
        ("warning", "development.standard", 33, ["never be reached", "same", "growth.standard"]),
    ],
    LINT / "never_first.yaml": [
        ("warning", "development.staff", 33, ["never matched in 4000 sampled cases", "earlier"]),
    ],
    LINT / "never_first_dates.yaml": [
        ("warning", "growth.later", 34, ["never matched", "sampled check", "not a proof"]),
    ],
    LINT / "unused_parameter.yaml": [
        ("warning", "max_staff", 17, ["max_staff", "not used"]),
    ],
    LINT / "two_errors.yaml": [
        ("error", "registered", 22, ["basic_conditions[0]", "text", "number"]),
        ("error", "growth.standard", 29, ["employes", "did you mean `employees`", "column 36"]),
        ("warning", "active_statuses", 7, ["not used"]),
    ],
    RULES / "unknown_field.yaml": [
        ("error", "growth.standard", 29, ["unknown name `employes`", "did you mean `employees`"]),
    ],
    RULES / "text_vs_number.yaml": [
        ("error", "registered", 22, ["cannot use `==` between a text and a number"]),
        ("warning", "active_statuses", 7, ["not used"]),
    ],
    RULES / "parameter_without_unit.yaml": [
        ("error", "min_years", 12, ["parameters.min_years.unit", "required"]),
    ],
    RULES / "parameter_without_source.yaml": [
        ("error", "min_years", 12, ["parameters.min_years.source", "required"]),
    ],
    RULES / "last_tier_not_default.yaml": [
        ("error", "survival.young", 33, ["last tier rule must be the default"]),
    ],
    RULES / "unknown_key.yaml": [
        ("error", "growth.standard", 29, ["tiers[0].colour", "not permitted"]),
    ],
    RULES / "duplicate_key.yaml": [("error", None, 4, ["duplicate key", "title"])],
    RULES / "yaml_syntax.yaml": [("error", None, 10, ["YAML error"])],
    RULES / "expression_syntax.yaml": [
        ("error", "growth.standard", 29, ["syntax error at column 51", "expected ')'"]),
        ("warning", "min_years", 12, ["not used"]),
    ],
}


@pytest.mark.parametrize("path", list(EXPECTED), ids=lambda p: p.name)
def test_each_broken_file_gives_its_findings(path: Path) -> None:
    findings = sorted(lint_file(path, SOURCES), key=lambda f: (f.severity, f.line or 0))
    expected = sorted(EXPECTED[path], key=lambda e: (e[0], e[2]))
    assert len(findings) == len(expected), [str(f) for f in findings]
    for finding, (severity, rule, line, words) in zip(findings, expected, strict=True):
        assert finding.file == path
        assert (finding.severity, finding.rule, finding.line) == (severity, rule, line), finding
        for word in words:
            assert word in finding.message, (word, str(finding))
        assert str(finding).startswith(f"{path}:{line}: {severity}:")


def test_every_lint_fixture_is_tested() -> None:
    assert {p for p in LINT.glob("*.yaml")} <= set(EXPECTED)


def test_all_errors_are_collected_not_only_the_first() -> None:
    errors = [f for f in lint_file(LINT / "two_errors.yaml", SOURCES) if f.severity == "error"]
    assert {f.rule for f in errors} == {"registered", "growth.standard"}


def test_the_valid_fixture_and_the_shipped_rules_lint_clean() -> None:
    assert lint_file(RULES / "valid.yaml", SOURCES) == []
    findings = lint_rules(ROOT / "rules", SOURCES)
    assert not has_errors(findings), [str(f) for f in findings]
    assert findings == []


def test_a_finding_in_an_extended_file_points_at_the_base(tmp_path: Path) -> None:
    base = (RULES / "valid.yaml").read_text(encoding="utf-8")
    (tmp_path / "base.yaml").write_text(
        base.replace("employees >= 3", "employes >= 3"), encoding="utf-8"
    )
    (tmp_path / "child.yaml").write_text(
        'extends: base.yaml\nid: child\neffective_from: "2025-07-01"\n', encoding="utf-8"
    )
    findings = lint_file(tmp_path / "child.yaml", SOURCES)
    line = base.splitlines().index("  - id: growth.standard") + 1
    assert [(f.file.name, f.line, f.rule) for f in findings] == [
        ("base.yaml", line, "growth.standard")
    ]


def _copy(tmp_path: Path, name: str, effective: str) -> Path:
    text = (RULES / "valid.yaml").read_text(encoding="utf-8")
    text = text.replace('effective_from: "2024-07-01"', effective).replace(
        "id: minimal-2024", f"id: {name}"
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_overlapping_dates_are_an_error_naming_both_files(tmp_path: Path) -> None:
    _copy(tmp_path, "a", 'effective_from: "2023-07-01"\neffective_to: "2024-07-01"')
    later = _copy(tmp_path, "b", 'effective_from: "2024-07-01"')
    findings = lint_rules(tmp_path, SOURCES)
    assert has_errors(findings)
    [overlap] = [f for f in findings if f.severity == "error"]
    assert overlap.file == later and overlap.line == 5
    assert "overlap" in overlap.message and "a.yaml" in overlap.message
    assert "b.yaml" in overlap.message and "2024-07-01" in overlap.message


def test_a_gap_between_rulesets_is_a_warning_with_its_dates(tmp_path: Path) -> None:
    _copy(tmp_path, "a", 'effective_from: "2023-07-01"\neffective_to: "2024-06-29"')
    _copy(tmp_path, "b", 'effective_from: "2024-07-01"')
    findings = lint_rules(tmp_path, SOURCES)
    assert not has_errors(findings)
    [gap] = findings
    assert gap.severity == "warning" and gap.file.name == "b.yaml"
    assert "2024-06-30 to 2024-06-30" in gap.message


def test_consecutive_rulesets_have_no_date_findings(tmp_path: Path) -> None:
    for path in (ROOT / "rules").glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    assert lint_rules(tmp_path, SOURCES) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("x is missing or x is not missing", True),
        ("a > 1 or not (a > 1)", True),
        ("a > 1 or true", True),
        ("not false", True),
        ("x is missing or y is not missing", False),
        ("a > 1", False),
        ("true and a > 1", False),
    ],
)
def test_always_true_is_recognised_from_the_form(text: str, expected: bool) -> None:
    assert always_true(parse_expression(text)) is expected


def test_finding_text_has_file_line_rule() -> None:
    finding = Finding("error", Path("r.yaml"), 3, "growth.standard", "bad")
    assert str(finding) == "r.yaml:3: error: growth.standard: bad"
