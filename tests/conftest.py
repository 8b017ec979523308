"""Fixtures every test folder shares (the helpers behind them are in `support.py`).

- `repo_root`: the repository (its `rules/`, `samples/`, `gthfx.yaml`).
- `sample_inputs`: the shipped sample files of a report year, per extract.
- `sample_options`: classify options for the shipped samples at a run date, on an engine.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
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
