"""Docs are tested: every command has help with an example and a line in the README, the
README starts with the two commands that matter, and its module table is what the module
docstrings say (`make docs` regenerates it)."""

from __future__ import annotations

import ast

import pytest
import typer
from typer.testing import CliRunner

from gthfx.cli.main import app
from module_table import README as README_PATH
from module_table import Module, first_sentence, modules, problems, table, with_table
from support import ROOT

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


def test_readme_module_table_is_generated_from_the_docstrings() -> None:
    found = modules()
    text = README_PATH.read_text(encoding="utf-8")
    assert with_table(text, table(found)) == text, (
        "the README's module table is out of date: run `make docs`"
    )


def test_module_table_covers_every_module() -> None:
    package = ROOT / "src" / "gthfx"
    listed = {m.path for m in modules()}
    for path in package.rglob("*.py"):
        relative = path.relative_to(package).as_posix()
        if path.name == "__init__.py" and not ast.parse(path.read_text(encoding="utf-8")).body:
            continue  # an __init__.py without statements only marks a package
        assert relative in listed, relative
        assert f"| `{relative}` |" in README, relative


def test_every_module_docstring_reads_well_in_the_table() -> None:
    assert problems(modules()) == []


@pytest.mark.parametrize(
    ("docstring", "sentence"),
    [
        ("One job. More detail.", "One job."),
        ("Reads `a.b` files, e.g. CSV.\nNever prints.", "Reads `a.b` files, e.g. CSV."),
        (
            "Wrapped over\n  two lines; the end.\n\nA second paragraph.",
            "Wrapped over two lines; the end.",
        ),
        ("No full stop", "No full stop"),
        ("中文句子。English after.", "中文句子。"),
    ],
)
def test_first_sentence(docstring: str, sentence: str) -> None:
    assert first_sentence(docstring) == sentence


def test_problems_name_what_reads_badly() -> None:
    def module(path: str, doc: str | None) -> Module:
        return Module(name=path, path=path, layer=0, docstring=doc)

    found = [
        module("a.py", None),
        module("b.py", "No full stop"),
        module("c.py", "Same."),
        module("d.py", "Same."),
        module("e.py", "Long " * 60 + "end."),
    ]
    text = "\n".join(problems(found))
    assert "a.py: no docstring" in text
    assert "b.py: the first sentence does not end with a full stop" in text
    assert "d.py: the same first sentence as c.py" in text
    assert "e.py: the first sentence is 304 characters" in text
    assert "c.py" not in text.replace("as c.py", "")
