"""`gthfx policies check` (rules.policies_lint): one broken fixture per finding, asserting the
file, the line, the measure and a few words of the message; the shipped reference library is
clean and honest about what it does not know."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from gthfx.rules.lint import Finding
from gthfx.rules.policies import load_library
from gthfx.rules.policies_lint import lint_library
from gthfx.settings.sources import load_sources
from gthfx.vocab import CATEGORIES
from support import FIXTURES, ROOT, RULES

POLICIES = FIXTURES / "policies"


def lint(*names: str, tmp_path: Path) -> list[Finding]:
    folder = tmp_path / "lib"
    folder.mkdir()
    for name in names:
        shutil.copy2(POLICIES / name, folder / name)
    return lint_library(folder, RULES, load_sources())


def line_of(name: str, text: str) -> int:
    for number, line in enumerate((POLICIES / name).read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(text)


def test_a_good_file_has_no_finding(tmp_path: Path) -> None:
    assert lint("good.yaml", tmp_path=tmp_path) == []


@pytest.mark.parametrize(
    ("name", "severity", "rule", "at", "words"),
    [
        (
            "unknown-name.yaml",
            "error",
            "typo.name",
            "typo.name",
            ["unknown name `years_in_busines`", "did you mean `years_in_business`"],
        ),
        (
            "type-mismatch.yaml",
            "error",
            "text.number",
            "text.number",
            ["cannot use `>` between a text and a number"],
        ),
        (
            "not-a-condition.yaml",
            "error",
            "not.condition",
            "not.condition",
            ["must be a condition"],
        ),
        ("syntax.yaml", "error", "broken.syntax", "broken.syntax", ["syntax error"]),
        (
            "extract-field.yaml",
            "error",
            "extract.only",
            "extract.only",
            ["`party_members` is a field of the extracts", "outcome files"],
        ),
        (
            "bad-delivery.yaml",
            "error",
            "bad.delivery",
            "bad.delivery",
            ["delivery", "免申即享", "快申快享", "申报"],
        ),
        (
            "reaches-nobody.yaml",
            "error",
            "nobody",
            "nobody",
            ["reaches nobody", "tiers", "categories"],
        ),
        ("no-source.yaml", "error", "no.source", "no.source", ["source", "Field required"]),
        ("unknown-tier.yaml", "error", "bad.tier", "bad.tier", ["tiers[0]", "survival"]),
        ("unused-parameter.yaml", "warning", "unused", "unused:", ["`unused` is not used"]),
        ("parameter-like-field.yaml", "error", "employees", "employees:", ["named like a field"]),
        ("never-in-force.yaml", "warning", "too.late", "too.late", ["never in force"]),
        ("twice-in-file.yaml", "error", None, "measures:", ["measure ids used twice: twice"]),
        ("bad-date.yaml", "error", None, "effective_from", ["YYYY-MM-DD"]),
        ("yaml-error.yaml", "error", None, None, ["YAML error"]),
    ],
)
def test_each_finding_names_file_line_and_measure(
    tmp_path: Path, name: str, severity: str, rule: str | None, at: str | None, words: list[str]
) -> None:
    findings = lint(name, tmp_path=tmp_path)
    assert len(findings) == 1, [str(f) for f in findings]
    finding = findings[0]
    assert finding.severity == severity
    assert finding.file.name == name
    assert finding.rule == rule
    if at is not None:
        assert finding.line == line_of(name, at)
    else:
        assert finding.line is not None
    for word in words:
        assert word in finding.message, (word, str(finding))
    assert re.match(rf".*{re.escape(name)}:\d+: {severity}: ", str(finding))


def test_a_measure_id_in_two_files(tmp_path: Path) -> None:
    findings = lint("duplicate-a.yaml", "duplicate-b.yaml", tmp_path=tmp_path)
    assert len(findings) == 1
    assert findings[0].file.name == "duplicate-b.yaml" and findings[0].rule == "shared.id"
    assert "already used in" in findings[0].message and "duplicate-a.yaml" in findings[0].message


def test_the_reference_library_is_clean() -> None:
    assert lint_library(ROOT / "policies", RULES, load_sources()) == []


def test_the_reference_library_follows_the_seed_and_says_what_it_does_not_know() -> None:
    library = load_library(ROOT / "policies")
    measures = [m for d in library.documents for m in d.policy.measures]
    by_tier = {
        t: [m for m in measures if m.tiers == (t,)] for t in ("survival", "growth", "development")
    }
    # seed 二(二): the emphases of each tier
    assert (
        len(by_tier["survival"]) == 3
        and len(by_tier["growth"]) == 4
        and len(by_tier["development"]) == 3
    )
    for measure in by_tier["growth"] + by_tier["development"]:
        assert set(measure.categories) == set(CATEGORIES)  # SPEC §11: 名特优新 get them too
    for category in CATEGORIES:  # seed 二(三): each category has measures of its own
        assert any(m.categories == (category,) for m in measures), category
    for measure in measures:
        assert "武市监〔2024〕39号" in measure.source, measure.id
        if "[待录入]" in measure.benefit:  # an honest placeholder names what to look up
            assert "待录入" in measure.source or "未收录" in measure.source, measure.id
        assert not re.search(r"\d{8}", measure.contact), measure.id  # hotlines, no one's phone
        if "武政规〔2024〕1号" in measure.benefit:
            assert "武政规〔2024〕1号" in measure.source, measure.id
    wuhan = [m for m in measures if "武政规〔2024〕1号" in m.source]
    assert any("未收录该文件原文" in m.source for m in wuhan)  # the placeholder says so
