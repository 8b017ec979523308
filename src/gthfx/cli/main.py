"""The `gthfx` command line: arguments → options → one library call → a rendered result.

Each command lives in its own module (`gthfx.cli.<command>`) and is registered here from one
list, `COMMANDS`. No data work here. `GthfxError` is caught in one place (`main`) and printed
as one clear message.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console

from gthfx import __version__
from gthfx.cli.categories import categories_app
from gthfx.cli.classify import classify_command
from gthfx.cli.compile_sql import compile_sql_command
from gthfx.cli.diff import diff_command
from gthfx.cli.explain import explain_command
from gthfx.cli.export import export_app
from gthfx.cli.policies import policies_app
from gthfx.cli.recheck import recheck_command
from gthfx.cli.report import report_command
from gthfx.cli.review import review_app
from gthfx.cli.rules import rules_app
from gthfx.cli.sample import sample_app
from gthfx.cli.samples import samples_command
from gthfx.cli.simulate import simulate_command
from gthfx.cli.support import support_command
from gthfx.errors import GthfxError, os_problem

# every command, in the order of the README: name → a command function or a group of them
COMMANDS: tuple[tuple[str, Callable[..., Any] | typer.Typer], ...] = (
    ("classify", classify_command),
    ("samples", samples_command),
    ("rules", rules_app),
    ("explain", explain_command),
    ("simulate", simulate_command),
    ("diff", diff_command),
    ("recheck", recheck_command),
    ("review", review_app),
    ("compile-sql", compile_sql_command),
    ("categories", categories_app),
    ("report", report_command),
    ("support", support_command),
    ("policies", policies_app),
    ("sample", sample_app),
    ("export", export_app),
)

app = typer.Typer(
    name="gthfx",
    help="个体户分型 gthfx — type individual businesses 生存型 / 成长型 / 发展型 from the annual, "
    "tax and social-insurance extracts.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold personal data
    add_completion=False,
)


def _register(app: typer.Typer) -> None:
    for name, command in COMMANDS:
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=name)
        else:
            app.command(name)(command)


_register(app)


def _version(value: bool) -> None:
    if value:
        print(f"gthfx {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """个体户分型 gthfx."""


def _tolerant_streams() -> None:
    """A console that cannot show a character (PYTHONIOENCODING=gbk and a `✓`) shows `?`
    instead of failing the command."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")


def main() -> None:
    """Entry point: a GthfxError becomes one message on stderr and its exit code (2); so does a
    full disk or a read-only folder (`errors.os_problem`); usage errors are Typer's (exit 2);
    anything else is a bug and stays a traceback."""
    _tolerant_streams()
    try:
        app()
    except GthfxError as exc:
        _error(str(exc))
        sys.exit(exc.exit_code)
    except Exception as exc:
        problem = os_problem(exc)
        if problem is None:
            raise
        where = f"{exc.filename}: " if isinstance(exc, OSError) and exc.filename else ""
        _error(f"{where}{problem}\n  hint: free disk space or fix the folder's permissions")
        sys.exit(2)


def _error(message: str) -> None:
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print("error:", style="bold red", end=" ")
    console.print(message, markup=False)


if __name__ == "__main__":
    main()
