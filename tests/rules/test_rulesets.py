"""Ruleset files: one broken fixture per error message, and picking the ruleset in force."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from gthfx.errors import RulesError
from gthfx.rules.model import load_ruleset, ruleset_in_force
from gthfx.rules.plan import build_plan
from gthfx.settings.sources import load_sources
from support import FIXTURES as TEST_FIXTURES
from support import ROOT

FIXTURES = TEST_FIXTURES / "rules"
VALID = FIXTURES / "valid.yaml"
SOURCES = load_sources()
RUN_DATE = date(2024, 7, 1)

# file → (where it fails: "load" = load_ruleset, "compile" = build_plan; keywords)
BROKEN: dict[str, tuple[str, list[str]]] = {
    "yaml_syntax.yaml": ("load", ["yaml_syntax.yaml:10:", "YAML error"]),
    "duplicate_key.yaml": ("load", ["duplicate_key.yaml:4:", "duplicate key", "title", "line 3"]),
    "unknown_key.yaml": ("load", ["tiers[0].colour", "not permitted"]),
    "unknown_tier.yaml": ("load", ["tiers[0].tier", "survival", "growth", "development"]),
    "last_tier_not_default.yaml": ("load", ["last tier rule must be the default"]),
    "default_not_last.yaml": ("load", ["only the last tier rule may be the default"]),
    "effective_to_before_from.yaml": ("load", ["effective_to", "before", "effective_from"]),
    "slash_date.yaml": ("load", ["effective_from", "YYYY-MM-DD", "2024/07/01"]),
    "parameter_without_unit.yaml": ("load", ["parameters.min_years.unit", "required"]),
    "parameter_without_source.yaml": ("load", ["parameters.min_years.source", "required"]),
    "duplicate_id.yaml": ("load", ["ids used twice", "growth.standard"]),
    "expression_syntax.yaml": (
        "compile",
        ["tiers[0]", "growth.standard", "syntax error", "column 51", "expected ')'", "^"],
    ),
    "unknown_field.yaml": (
        "compile",
        ["tiers[0]", "growth.standard", "column 36", "employes", "did you mean `employees`"],
    ),
    "unknown_function.yaml": (
        "compile",
        ["derived[0]", "years_in_business", "unknown function `full_years`", "complete_years"],
    ),
    "text_vs_number.yaml": (
        "compile",
        ["basic_conditions[0]", "registered", "text", "number", "register_status == 1"],
    ),
    "when_not_condition.yaml": (
        "compile",
        ["basic_conditions[1]", "not_abnormal", "must be a condition", "number"],
    ),
    "derived_shadows_field.yaml": ("compile", ["derived[1]", "employees", "already a field"]),
    "parameter_named_like_field.yaml": ("compile", ["parameters named like fields", "employees"]),
}


def load_and_compile(path: Path, on: date = RUN_DATE) -> None:
    build_plan(load_ruleset(path), SOURCES, on)


def test_every_broken_fixture_has_an_expected_message() -> None:
    on_disk = {p.name for p in FIXTURES.glob("*.yaml")} - {VALID.name}
    assert on_disk == set(BROKEN)


def test_the_valid_fixture_loads_and_compiles() -> None:
    ruleset_file = load_ruleset(VALID)
    compiled = build_plan(ruleset_file, SOURCES, RUN_DATE)
    assert ruleset_file.ruleset.id == "minimal-2024"
    assert len(ruleset_file.sha256) == 64
    assert [rule.id for rule in compiled.tiers] == [
        "growth.standard",
        "survival.default",
    ]
    assert compiled.used_parameters == {"active_statuses", "min_years"}
    assert "employees" in compiled.indicators


def test_the_reference_ruleset_loads_and_compiles() -> None:
    ruleset_file = load_ruleset(ROOT / "rules" / "reference-2024.yaml")
    compiled = build_plan(ruleset_file, SOURCES, RUN_DATE)
    assert [rule.tier for rule in compiled.tiers] == ["development", "growth", "survival"]
    assert [cond.id for cond in compiled.conditions] == [
        "registered",
        "operating",
        "reported",
        "not_abnormal",
        "not_dishonest",
    ]
    assert set(compiled.used_parameters) == set(ruleset_file.ruleset.parameters)
    for parameter in ruleset_file.ruleset.parameters.values():
        assert parameter.unit and parameter.source


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_ruleset_gives_its_message(name: str) -> None:
    stage, keywords = BROKEN[name]
    path = FIXTURES / name
    if stage == "load":
        with pytest.raises(RulesError) as exc:
            load_ruleset(path)
    else:
        ruleset_file = load_ruleset(path)  # the defect is in an expression, not the structure
        with pytest.raises(RulesError) as exc:
            build_plan(ruleset_file, SOURCES, RUN_DATE)
    assert exc.value.exit_code == 2
    message = str(exc.value)
    assert name in message, message  # every message names the file
    for keyword in keywords:
        assert keyword in message, f"{keyword!r} not in:\n{message}"


def test_syntax_error_caret_points_at_the_column() -> None:
    with pytest.raises(RulesError) as exc:
        load_and_compile(FIXTURES / "expression_syntax.yaml")
    lines = str(exc.value).splitlines()
    expression, caret = lines[-2], lines[-1]
    assert caret.strip() == "^"
    assert caret.index("^") == len(expression)  # the end of the text: the missing ')'


def test_a_ruleset_file_that_does_not_exist_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="not found") as exc:
        load_ruleset(tmp_path / "nope.yaml")
    assert exc.value.exit_code == 2


def test_a_python_object_tag_is_refused(tmp_path: Path) -> None:
    """YAML is loaded safely: no Python object is ever built from a ruleset."""
    path = tmp_path / "evil.yaml"
    path.write_text(
        VALID.read_text(encoding="utf-8").replace(
            "title: 最小分型规则(测试用)", "title: !!python/object/apply:os.system ['true']"
        ),
        encoding="utf-8",
    )
    with pytest.raises(RulesError, match="YAML error"):
        load_ruleset(path)


def test_unquoted_iso_dates_stay_dates_and_are_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        VALID.read_text(encoding="utf-8").replace(
            'effective_from: "2024-07-01"', "effective_from: 2024-07-01"
        ),
        encoding="utf-8",
    )
    assert load_ruleset(path).ruleset.effective_from == date(2024, 7, 1)


# ---- the ruleset in force on a date -------------------------------------------------------------


def dated(folder: Path, name: str, start: str, end: str | None = None) -> Path:
    """A copy of the valid ruleset with other effective dates."""
    text = VALID.read_text(encoding="utf-8").replace("minimal-2024", name.removesuffix(".yaml"))
    dates = f'effective_from: "{start}"\n' + (f'effective_to: "{end}"\n' if end else "")
    text = text.replace('effective_from: "2024-07-01"\n', dates)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_no_ruleset_in_force_on_a_date_is_a_rules_error(tmp_path: Path) -> None:
    dated(tmp_path, "r2024.yaml", "2024-07-01")
    with pytest.raises(RulesError) as exc:
        ruleset_in_force(tmp_path, date(2024, 6, 30))
    message = str(exc.value)
    assert exc.value.exit_code == 2
    for keyword in ("no ruleset", "in force", "2024-06-30", "r2024.yaml", "2024-07-01"):
        assert keyword in message, message


def test_overlapping_rulesets_are_a_rules_error_naming_both_files(tmp_path: Path) -> None:
    dated(tmp_path, "a.yaml", "2023-07-01", "2024-12-31")
    dated(tmp_path, "b.yaml", "2024-07-01")
    with pytest.raises(RulesError) as exc:
        ruleset_in_force(tmp_path, date(2024, 7, 1))
    message = str(exc.value)
    assert exc.value.exit_code == 2
    for keyword in ("a.yaml", "b.yaml", "2024-07-01", "several"):
        assert keyword in message, message


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2023, 7, 1), "r2023"),
        (date(2024, 6, 30), "r2023"),  # effective_to is inclusive
        (date(2024, 7, 1), "r2024"),
        (date(2025, 6, 30), "r2024"),
        (date(2025, 7, 1), "r2025"),
        (date(2040, 1, 1), "r2025"),
    ],
)
def test_the_ruleset_in_force_is_picked_by_date(tmp_path: Path, on: date, expected: str) -> None:
    dated(tmp_path, "r2023.yaml", "2023-07-01", "2024-06-30")
    dated(tmp_path, "r2024.yaml", "2024-07-01", "2025-06-30")
    dated(tmp_path, "r2025.yaml", "2025-07-01")
    (tmp_path / "notes.txt").write_text("not a ruleset")
    picked = ruleset_in_force(tmp_path, on)
    assert picked.ruleset.id == expected
    assert picked.path == tmp_path / f"{expected}.yaml"


def test_files_starting_with_underscore_are_not_rulesets(tmp_path: Path) -> None:
    dated(tmp_path, "r2024.yaml", "2024-07-01")
    dated(tmp_path, "_draft.yaml", "2024-01-01")
    assert ruleset_in_force(tmp_path, RUN_DATE).ruleset.id == "r2024"


def test_a_single_file_can_be_given_instead_of_a_folder(tmp_path: Path) -> None:
    path = dated(tmp_path, "r2024.yaml", "2024-07-01")
    assert ruleset_in_force(path, RUN_DATE).path == path
    with pytest.raises(RulesError, match="in force"):
        ruleset_in_force(path, date(2020, 1, 1))


def test_a_broken_file_in_the_folder_is_reported(tmp_path: Path) -> None:
    dated(tmp_path, "r2024.yaml", "2024-07-01")
    shutil.copy(FIXTURES / "slash_date.yaml", tmp_path / "r2030.yaml")
    with pytest.raises(RulesError, match=r"r2030\.yaml"):
        ruleset_in_force(tmp_path, RUN_DATE)


def test_an_empty_folder_or_missing_location_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="no ruleset files"):
        ruleset_in_force(tmp_path, RUN_DATE)
    with pytest.raises(RulesError, match="no such"):
        ruleset_in_force(tmp_path / "missing", RUN_DATE)


def test_the_shipped_rules_folder_has_the_reference_ruleset_in_force() -> None:
    picked = ruleset_in_force(ROOT / "rules", RUN_DATE)
    assert picked.ruleset.id == "hubei-reference-2024"
    assert picked.path.name == "reference-2024.yaml"
