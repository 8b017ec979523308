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
