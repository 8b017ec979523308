"""Where command-line arguments become values, declared once.

The date type, the enums of engines (from the engine registry, the only list of them), SQL
dialects and formats, and the options several commands share.

A value that does not parse raises `ConfigError` naming the option, the value and what it may
be (exit 2, printed by `main`), before any file is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer

from gthfx import engines
from gthfx.errors import ConfigError
from gthfx.rules.to_sql import DIALECTS

# ---- the date type -----------------------------------------------------------------------------


def parse_date(value: str | date, option: str = "--date") -> date:
    """`--date YYYY-MM-DD` (or another date option) as a date; anything else is a `ConfigError`
    (exit 2) naming the option."""
    if isinstance(value, date):  # a default already converted
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date (YYYY-MM-DD)") from None


def date_option(help: str) -> Any:
    """The `--date` option of a command, with the command's own help."""
    return typer.Option("--date", parser=parse_date, metavar="YYYY-MM-DD", help=help)


def run_folder(value: Path, runs: Path) -> Path:
    """A run named on the command line: a folder, or its name (its date) in the runs folder
    (`--base 2024-07-01`); as given when it is neither, for the caller or the reader to refuse."""
    if value.is_dir() or value.is_absolute():
        return value
    if (runs / value).is_dir():
        return runs / value
    return value


# ---- enums -------------------------------------------------------------------------------------


def _enum(name: str, values: Iterable[str]) -> type[StrEnum]:
    """An enum whose members are `values` (each member is its value, a str)."""
    return cast("type[StrEnum]", StrEnum(name, [(v, v) for v in values]))


EngineName = _enum("EngineName", engines.names())  # the registry's, default first
DEFAULT_ENGINE = engines.DEFAULT
SqlDialect = _enum("SqlDialect", DIALECTS)


class SqlInput(StrEnum):
    """What `compile-sql` reads: the extracts' tables or gthfx's joined table."""

    EXTRACTS = "extracts"
    JOINED = "joined"


class DiffFormat(StrEnum):
    """What `diff` writes."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    XLSX = "xlsx"


class SamplesFormat(StrEnum):
    """What `samples` writes."""

    MIXED = "mixed"
    CSV = "csv"
    PARQUET = "parquet"


E = TypeVar("E", bound=StrEnum)


def metavar(choices: type[StrEnum]) -> str:
    """`[a|b|c]`: the choices, as the help shows them."""
    return "[" + "|".join(choices) + "]"


def choice_parser(choices: type[E], what: str, flag: str) -> Callable[[str | E], E]:
    """A parser for an option whose value is one of `choices`: the member, else a `ConfigError`
    listing them (`unknown engine 'spark' (--engine)`, hint `one of polars, duckdb`)."""

    def parse(value: str | E) -> E:
        if isinstance(value, choices):  # a default already converted
            return value
        try:
            return choices(value)
        except ValueError:
            raise ConfigError(
                f"unknown {what} {value!r} ({flag})", hint=f"one of {', '.join(choices)}"
            ) from None

    return parse


def choice_option(choices: type[StrEnum], what: str, flag: str, help: str) -> Any:
    """An option whose value is one of `choices`, shown in the help as `[a|b|c]`."""
    return typer.Option(
        flag, parser=choice_parser(choices, what, flag), metavar=metavar(choices), help=help
    )


# ---- options several commands share -----------------------------------------------------------

# str-typed: the members of these enums are str, and their classes are built at import
Engine = Annotated[
    str,
    choice_option(
        EngineName,
        "engine",
        "--engine",
        f"The engine (default {engines.DEFAULT}): polars types in memory, the fastest up to a "
        "province; duckdb works out of core, for national scale.",
    ),
]
Dialect = Annotated[
    str, choice_option(SqlDialect, "SQL dialect", "--dialect", "The SQL dialect to write.")
]
Annual = Annotated[
    list[Path] | None, typer.Option("--annual", help="Annual extract file(s); repeat per file.")
]
Tax = Annotated[list[Path] | None, typer.Option("--tax", help="Tax extract file(s).")]
Social = Annotated[
    list[Path] | None, typer.Option("--social", help="Social-insurance extract file(s).")
]
Sources = Annotated[
    Path | None,
    typer.Option(
        "--sources",
        help="Sources mapping over the shipped one (default: sources: in gthfx.yaml, if any).",
    ),
]
Encoding = Annotated[
    str | None, typer.Option("--encoding", help="Force the CSV encoding: utf-8 or gb18030.")
]
Config = Annotated[
    Path | None, typer.Option("--config", help="Project config (default: ./gthfx.yaml).")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors (for cron).")]
Out = Annotated[
    Path | None,
    typer.Option("--out", help="Runs folder (default: out: in gthfx.yaml, else runs/)."),
]
Rules = Annotated[
    Path | None,
    typer.Option(
        "--rules", help="Ruleset file or folder (default: rules: in gthfx.yaml, else rules/)."
    ),
]
Policies = Annotated[
    Path | None,
    typer.Option(
        "--policies",
        help="Policy library, file or folder (default: policies: in gthfx.yaml, else policies/).",
    ),
]
Register = Annotated[
    Path | None,
    typer.Option(
        "--register",
        help="The 名特优新 register folder: categories in force on the run date (default: none).",
    ),
]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing run folder.")]
Strict = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="A field the ruleset reads that a file lacks is an error, not a warning.",
    ),
]
Excel = Annotated[
    bool | None,
    typer.Option("--excel/--no-excel", help="Write the Excel workbooks (result and review)."),
]
