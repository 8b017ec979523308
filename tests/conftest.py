"""Fixtures every test folder shares (the helpers behind them are in `support.py`).

- `repo_root`: the repository (its `rules/`, `samples/`, `gthfx.yaml`).
- `sample_inputs`: the shipped sample files of a report year, per extract.
- `sample_options`: classify options for the shipped samples at a run date, on an engine.
- `sample_runs`: the shipped samples classified at 2023-07-01 and 2024-07-01, once per session
  (a runs folder; read it, never write into it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import support` from every folder

import support


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return support.ROOT


@pytest.fixture(scope="session")
def sample_inputs() -> Callable[[int | str], dict[str, tuple[Path, ...]]]:
    return support.sample_inputs


@pytest.fixture(scope="session")
def sample_options() -> Callable[..., Any]:
    return support.sample_options


@pytest.fixture(scope="session")
def sample_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample-runs") / "runs"
    for run_date in (date(2023, 7, 1), date(2024, 7, 1)):
        support.classify_samples(out, run_date)
    return out


# ---- the browser test: say plainly when it did not run ---------------------------------------

_BROWSER_SKIPS: list[str] = []
_BROWSER_RAN: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "browser" not in report.keywords:
        return
    if report.skipped and isinstance(report.longrepr, tuple):
        _BROWSER_SKIPS.append(f"{report.nodeid}: {report.longrepr[2]}")
    elif report.when == "call":
        _BROWSER_RAN.append(report.nodeid)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """The last lines of the session, after pytest's own summary, when the browser test was
    collected but skipped (no Chromium): the report was then not opened in a real browser. CI
    sets GTHFX_REQUIRE_BROWSER=1, which makes that a failure instead (see tests/report)."""
    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    if terminalreporter is None:
        return
    if _BROWSER_SKIPS:
        terminalreporter.write_sep("!", "THE BROWSER TEST DID NOT RUN", red=True, bold=True)
        for line in _BROWSER_SKIPS:
            terminalreporter.write_line(f"  {line}", red=True)
        terminalreporter.write_line(
            "  install it (Debian: apt-get install chromium fonts-wqy-microhei) to open the "
            "monitoring report in headless Chromium; CI requires it (GTHFX_REQUIRE_BROWSER=1)",
            red=True,
        )
    elif _BROWSER_RAN:
        terminalreporter.write_line(
            f"browser test ran in headless Chromium ({len(_BROWSER_RAN)} test(s))"
        )
