"""Near-threshold checks of the review workbooks come from the ruleset (`review:`), not from
parameter names in Python: strict declarations, `rules check` findings with file and line, and
the businesses listed — under the reference ruleset and under one whose parameters have other
names — against an oracle written from the declarations."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from openpyxl import load_workbook

from gthfx.engines.memory import load_prepared, type_prepared
from gthfx.errors import RulesError
from gthfx.progress import Reporter
from gthfx.report.labels import column_headers, reason_labels
from gthfx.report.review_workbook import contested, write_review_workbooks
from gthfx.rules.lint import has_errors, lint_file
from gthfx.rules.model import load_ruleset
from gthfx.rules.plan import RulePlan, build_plan
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import EXTRACTS, load_sources
from gthfx.vocab import CHANGE_SCHEMA
from support import ROOT

VALID = ROOT / "tests" / "fixtures" / "rules" / "valid.yaml"
REFERENCE = ROOT / "rules" / "reference-2024.yaml"
SOURCES = load_sources()
RUN_DATE = date(2024, 7, 1)
NO_CHANGES = pl.DataFrame(schema=CHANGE_SCHEMA)
BELOW = {"development": "growth", "growth": "survival"}


def _with_review(tmp_path: Path, *lines: str) -> Path:
    """valid.yaml (37 lines) with a `review:` list on line 38: its items are on lines 39, 40, …"""
    text = VALID.read_text(encoding="utf-8")
    assert len(text.splitlines()) == 37
    path = tmp_path / "review.yaml"
    path.write_text(text + "review:\n" + "".join(f"  - {line}\n" for line in lines), "utf-8")
    return path


# ---- the declaration -----------------------------------------------------------------------------


def test_names_and_kinds_are_checked_with_file_line_and_hint(tmp_path: Path) -> None:
    path = _with_review(
        tmp_path,
        "{indicator: years_in_business, parameter: min_year, tier: growth, units: 1}",
        "{indicator: employes, parameter: min_years, tier: growth, share: 0.1}",
        "{indicator: employees, parameter: active_statuses, tier: growth, share: 0.1}",
        "{indicator: established_on, parameter: min_years, tier: growth, units: 1}",
        "{indicator: employees, parameter: min_years, tier: growth, share: 0.1}",
    )
    findings = lint_file(path, SOURCES)
    assert [(f.severity, f.file, f.line, f.rule) for f in findings] == [
        ("error", path, 39, "review[0]"),
        ("error", path, 40, "review[1]"),
        ("error", path, 41, "review[2]"),
        ("error", path, 42, "review[3]"),
    ]
    words = [
        ["unknown parameter `min_year`", "did you mean `min_years`"],
        ["unknown indicator `employes`", "did you mean `employees`"],
        ["parameter `active_statuses`", "list", "not a number"],
        ["indicator `established_on`", "date", "not a number"],
    ]
    for finding, expected in zip(findings, words, strict=True):
        for word in expected:
            assert word in finding.message, str(finding)
    # classify refuses the ruleset before reading any data, naming the file and the declaration
    with pytest.raises(RulesError) as exc:
        build_plan(load_ruleset(path), SOURCES, RUN_DATE)
    assert "review.yaml" in exc.value.message and "review[0]" in exc.value.message
    assert "min_year" in exc.value.message


def test_a_check_on_a_column_the_outcomes_lack_is_a_warning(tmp_path: Path) -> None:
    path = _with_review(
        tmp_path, "{indicator: revenue, parameter: min_years, tier: growth, units: 1}"
    )
    findings = lint_file(path, SOURCES)
    assert not has_errors(findings)
    [warning] = findings
    assert (warning.line, warning.rule) == (39, "review[0]")
    assert "`revenue`" in warning.message and "not read by any tier rule" in warning.message
    build_plan(load_ruleset(path), SOURCES, RUN_DATE)  # a warning: the ruleset still runs


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("{indicator: employees, parameter: min_years, tier: growth}", ["share", "units"]),
        (
            "{indicator: employees, parameter: min_years, tier: growth, share: 0.1, units: 1}",
            ["share", "units"],
        ),
        ("{indicator: employees, parameter: min_years, tier: survival, units: 1}", ["tier"]),
        ("{indicator: employees, parameter: min_years, tier: growth, share: 1.5}", ["share"]),
        ("{indicator: employees, parameter: min_years, tier: growth, units: 0}", ["units"]),
        ("{indicator: employees, parameter: min_years, tier: growth, unit: 1}", ["unit"]),
    ],
)
def test_the_declaration_is_strict(tmp_path: Path, line: str, words: list[str]) -> None:
    path = _with_review(tmp_path, line)
    with pytest.raises(RulesError):
        load_ruleset(path)
    [finding] = lint_file(path, SOURCES)
    assert finding.severity == "error" and finding.line == 39
    assert finding.rule == "review[0]"
    for word in words:
        assert word in finding.message, str(finding)


def test_the_shipped_rulesets_declare_their_checks() -> None:
    for name in ("reference-2024.yaml", "reference-2023-baseline.yaml"):  # the baseline extends
        plan = build_plan(load_ruleset(ROOT / "rules" / name), SOURCES, RUN_DATE)
        assert [(c.indicator, c.tier, c.threshold) for c in plan.near_checks] == [
            ("sales_yuan", "development", 1_000_000),
            ("tax_yuan", "development", 30_000),
            ("insured_staff", "development", 5),
            ("years_in_business", "development", 3),
            ("years_in_business", "growth", 1),
            ("insured_staff", "growth", 1),
            ("employees", "growth", 3),
        ]
        assert all(c.indicator in plan.outcome_schema for c in plan.near_checks)


# ---- the businesses listed -----------------------------------------------------------------------


def _renamed(tmp_path: Path, review: bool = True) -> Path:
    """The reference ruleset with every threshold parameter under another name."""
    text = REFERENCE.read_text(encoding="utf-8")
    text = text.replace("development_min_", "fazhan_menkan_").replace("growth_min_", "chengzhang_")
    if not review:
        head, _, rest = text.partition("\nreview:\n")
        text = head + "\nreview: []\n" + rest[rest.index("\nderived:") :]
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "renamed.yaml").write_text(text, encoding="utf-8")
    return folder


def _typed(rules: Path, out: Path) -> tuple[pl.DataFrame, RulePlan]:
    folder = ROOT / "samples" / str(RUN_DATE.year - 1)
    options = RunOptions(
        run_date=RUN_DATE,
        inputs={e: tuple(sorted((folder / e).iterdir())) for e in EXTRACTS},
        out=out,
        rules=rules,
    )
    reporter = Reporter(quiet=True)
    prepared, plan, sources = load_prepared(options, reporter)
    typed = type_prepared(prepared, plan, sources, reporter)
    return typed.outcomes, typed.compiled


def _listed(outcomes: pl.DataFrame, plan: RulePlan) -> pl.DataFrame:
    return contested(
        outcomes,
        NO_CHANGES,
        near=plan.near_checks,
        headers=column_headers(plan, plan.sources),
        reasons=reason_labels(plan, plan.sources),
    )


def _oracle(outcomes: pl.DataFrame, ruleset: Path) -> dict[str, int]:
    """uscc → how many declared checks it is near, from the YAML, row by row."""
    raw: dict[str, Any] = yaml.safe_load(ruleset.read_text(encoding="utf-8"))
    out: dict[str, int] = {}
    for row in outcomes.iter_rows(named=True):
        for check in raw["review"]:
            threshold = float(raw["parameters"][check["parameter"]]["value"])
            if "share" in check:
                lower = threshold * (1 - check["share"])
            else:
                lower = threshold - check["units"]
            value = row[check["indicator"]]
            below = row["tier"] == BELOW[check["tier"]]
            if below and value is not None and lower <= value < threshold:
                out[row["uscc"]] = out.get(row["uscc"], 0) + 1
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, RulePlan]:
    return _typed(ROOT / "rules", tmp_path_factory.mktemp("runs"))


def test_other_parameter_names_list_the_same_businesses(
    tmp_path: Path, reference: tuple[pl.DataFrame, RulePlan]
) -> None:
    rules = _renamed(tmp_path)
    outcomes, plan = _typed(rules, tmp_path / "runs")
    assert "development_min_sales_yuan" not in plan.parameters
    assert {c.parameter for c in plan.near_checks} >= {"fazhan_menkan_sales_yuan"}
    listed = _listed(outcomes, plan)
    near = listed.filter(pl.col("why").str.contains("接近"))
    expected = _oracle(outcomes, rules / "renamed.yaml")
    assert len(expected) > 20  # the samples have businesses just below several thresholds
    counts = dict(near.select("uscc", pl.col("why").str.count_matches("接近")).iter_rows())
    assert counts == expected
    # and exactly what the reference ruleset, under its own names, lists
    assert listed.equals(_listed(*reference))


def test_every_declared_check_at_and_around_its_bounds(
    tmp_path: Path, reference: tuple[pl.DataFrame, RulePlan]
) -> None:
    """Generated businesses of every outcome with values at, just inside and just outside each
    check's bounds (the samples come near the years thresholds only): the listed ones are the
    oracle's, check by check."""
    rules = _renamed(tmp_path)
    _, plan = reference
    renamed = build_plan(load_ruleset(rules / "renamed.yaml"), SOURCES, RUN_DATE)
    candidates: dict[str, set[float]] = {}
    for check in renamed.near_checks:
        bounds = candidates.setdefault(check.indicator, {0.0})
        for bound in (check.lower, check.threshold):
            bounds.update({bound - 1, bound - 0.01, bound, bound + 0.01, bound + 1})
    rng = random.Random(20240701)
    rows = []
    for index in range(3000):
        row: dict[str, Any] = {
            "uscc": f"92420100MA{index:08d}",
            "region_code": "420102",
            "tier": rng.choice(["survival", "growth", "development", "excluded"]),
            "reasons": [],
        }
        for name, values in candidates.items():
            row[name] = None if rng.random() < 0.1 else rng.choice(sorted(values))
        rows.append(row)
    outcomes = pl.DataFrame(rows, schema_overrides={"reasons": pl.List(pl.String)})
    listed = _listed(outcomes, renamed)
    near = listed.filter(pl.col("why").str.contains("接近"))
    counts = dict(near.select("uscc", pl.col("why").str.count_matches("接近")).iter_rows())
    assert counts == _oracle(outcomes, rules / "renamed.yaml")
    # every declared check lists someone: the why without the value names the check
    whys = near.get_column("why").str.split("; ").explode().str.replace(r" \S+ \(门槛", " (门槛")
    assert whys.n_unique() == len(renamed.near_checks) == 7
    assert listed.equals(_listed(outcomes, plan))  # the reference lists the very same


def test_without_declarations_no_business_is_near(tmp_path: Path) -> None:
    outcomes, plan = _typed(_renamed(tmp_path, review=False), tmp_path / "runs")
    assert plan.near_checks == ()
    listed = _listed(outcomes, plan)
    assert listed.height > 0  # data problems are still listed
    assert not listed.filter(pl.col("why").str.contains("接近")).height


def test_the_review_workbooks_show_the_declared_checks(tmp_path: Path) -> None:
    outcomes, plan = _typed(_renamed(tmp_path), tmp_path / "runs")
    folder = tmp_path / "books"
    folder.mkdir()
    books = write_review_workbooks(
        folder,
        outcomes=outcomes,
        changes=NO_CHANGES,
        headers=column_headers(plan, plan.sources),
        reasons=reason_labels(plan, plan.sources),
        sources=plan.sources,
        plan=plan,
        run_date=RUN_DATE,
    )
    whys = []
    for path in books:
        book = load_workbook(path, read_only=True)
        whys += [row[4] for row in book["待复核"].iter_rows(min_row=2, values_only=True)]
        book.close()
    assert any("接近发展型门槛: 经营年限" in str(w) for w in whys)
    assert any("接近成长型门槛: 经营年限" in str(w) for w in whys)
