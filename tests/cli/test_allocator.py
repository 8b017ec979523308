"""The command line sets Polars' allocator to give freed memory back promptly (README
"Performance"): before Polars is loaded, and never over an operator's own setting."""

from __future__ import annotations

import os
import subprocess
import sys

from gthfx.cli import ALLOCATOR

PROBE = (
    "import os, sys; import gthfx.cli.main; "
    "print(os.environ.get('_RJEM_MALLOC_CONF')); print('polars' in sys.modules)"
)


def _probe(env: dict[str, str]) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_the_command_line_sets_the_allocator_before_polars_loads() -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    setting, loaded = _probe(env)
    assert loaded == "True"  # the commands loaded Polars, which put its own settings first
    assert setting.endswith("," + ALLOCATOR)  # so that ours, after them, are the ones in force
    assert "background_thread:true" in ALLOCATOR and "muzzy_decay_ms:0" in ALLOCATOR


def test_an_operators_own_setting_wins() -> None:
    env = {**os.environ, "_RJEM_MALLOC_CONF": "dirty_decay_ms:5000"}
    setting = _probe(env)[0]
    assert setting.endswith(",dirty_decay_ms:5000") and ALLOCATOR not in setting


def test_gthfx_cli_is_the_first_of_the_commands_to_run() -> None:
    """`gthfx.cli` (where it is set) imports nothing that loads Polars: its setting is in place
    whatever command module is imported next."""
    code = "import sys; import gthfx.cli; print('polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
