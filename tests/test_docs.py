"""Docs are tested: every command has help with an example and a line in the README, and the
README starts with the two commands that matter."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gthfx.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(c.name or "" for c in typer.main.get_group(app).commands.values())


def test_readme_starts_with_demo_and_test() -> None:
    head = README.split("\n## ")[0]
    assert "make demo" in head and "make test" in head


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example_and_a_readme_line(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
    assert f"gthfx {command}" in README


def test_every_classify_option_is_in_the_readme() -> None:
    command = typer.main.get_group(app).commands["classify"]
    for param in command.params:
        for flag in param.opts:
            if flag.startswith("--") and flag != "--help":
                assert f"`{flag}" in README, flag
