"""Every rule case under rules/cases/ runs through the real validate → join → rules path."""

from __future__ import annotations

import pytest

from gthfx.app.rule_cases import run_case
from gthfx.rules.cases import load_cases
from gthfx.settings.sources import load_sources
from support import ROOT

CASE_FILES = sorted((ROOT / "rules" / "cases").glob("*.yaml"))
CASES = [case for path in CASE_FILES for case in load_cases(path)]


def test_case_files_exist() -> None:
    assert CASE_FILES, "no rule case files under rules/cases/"
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file.stem}:{c.name}" for c in CASES])
def test_rule_case(case) -> None:  # type: ignore[no-untyped-def]
    result = run_case(case, ROOT / "rules", load_sources())
    assert result.passed, f"expected {case.expect}, got {result.actual}"
