"""The project config (`gthfx.yaml`) and the options of one run, as frozen pydantic models.

`resolve_settings` is the one place where gthfx.yaml and the command-line flags become settings:
a flag wins over gthfx.yaml, which wins over the defaults.

Settings only: no engine, no data.
"""

from __future__ import annotations

import glob
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gthfx.errors import ConfigError
from gthfx.settings.sources import EXTRACTS
from gthfx.settings.yamlio import load_yaml, pydantic_location

CONFIG_NAME = "gthfx.yaml"


class ProjectConfig(BaseModel):
    """gthfx.yaml. Paths are relative to the file; extract paths may hold `{year}` (year of the
    run date), `{report_year}` (the year before) and `{date}` (YYYY-MM-DD), and glob patterns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out: str = "runs"
    rules: str = "rules"
    categories: str = "categories"  # 名特优新: yearly cycle folders and the register
    policies: str = "policies"  # the policy library (帮扶政策库): a file or a folder of them
    sources: str | None = None
    encoding: str | None = None
    excel: bool = True
    extracts: dict[str, list[str]] = Field(default_factory=dict)

    base: Path = Field(default=Path("."), exclude=True)


DEFAULT_MEMORY_LIMIT = "2GB"  # the DuckDB engine's cap when --memory-limit is not given


class RunOptions(BaseModel):
    """Everything one classify run needs, resolved: dates, file lists and folders."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_date: date
    inputs: dict[str, tuple[Path, ...]]
    out: Path
    rules: Path
    sources: Path | None = None
    encoding: str | None = None
    force: bool = False
    against: Path | None = None
    excel: bool = True
    command: tuple[str, ...] = ()
    # an engine's name, checked against the registry (`gthfx.engines.names()`) by the CLI and
    # the app: settings sit below the engines and cannot ask it
    engine: str = "polars"
    memory_limit: str | None = None  # the DuckDB engine's cap (e.g. "2GB")
    strict: bool = False  # a field the ruleset reads that a file lacks is an error (--strict)

    @property
    def duckdb_memory_limit(self) -> str:
        """The DuckDB engine's cap: --memory-limit, else DEFAULT_MEMORY_LIMIT."""
        return self.memory_limit or DEFAULT_MEMORY_LIMIT


def load_config(path: Path | None) -> ProjectConfig:
    """The config at `path`, else ./gthfx.yaml when present, else the defaults."""
    if path is None:
        candidate = Path(CONFIG_NAME)
        if not candidate.exists():
            return ProjectConfig()
        path = candidate
    raw = load_yaml(path, ConfigError) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    try:
        config = ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{path}: {pydantic_location(first['loc'])}: {first['msg']}") from None
    unknown = sorted(set(config.extracts) - set(EXTRACTS))
    if unknown:
        raise ConfigError(
            f"{path}: extracts: unknown extract(s) {', '.join(unknown)}",
            hint=f"known: {', '.join(EXTRACTS)}",
        )
    return config.model_copy(update={"base": path.parent})


def expand(patterns: list[str], run_date: date, base: Path, extract: str) -> tuple[Path, ...]:
    """Fill the templates, resolve against `base`, expand globs; a pattern matching nothing is
    an error (a missing district file must not go unnoticed). A file that exists under the
    name as written is that file, even when its name holds `[ ]` or `{ }`; a glob never picks
    Excel's owner files (`~$….xlsx`, there while a workbook is open)."""
    values = {"year": run_date.year, "report_year": run_date.year - 1, "date": run_date.isoformat()}
    out: list[Path] = []
    for pattern in patterns:
        literal = Path(pattern) if Path(pattern).is_absolute() else base / pattern
        if literal.is_file():
            out.append(literal)
            continue
        try:
            filled = pattern.format(**values)
        except (KeyError, IndexError, ValueError):
            raise ConfigError(
                f"extracts.{extract}: bad template {pattern!r}",
                hint="templates are {year}, {report_year} and {date}",
            ) from None
        path = Path(filled)
        if not path.is_absolute():
            path = base / path
        if glob.has_magic(str(path)):
            matches = sorted(
                Path(p) for p in glob.glob(str(path)) if not Path(p).name.startswith("~$")
            )
            if not matches:
                raise ConfigError(f"extracts.{extract}: no file matches {path}")
            out.extend(matches)
        else:
            out.append(path)
    return tuple(out)


def resolve_inputs(
    config: ProjectConfig, run_date: date, given: dict[str, list[Path]]
) -> dict[str, tuple[Path, ...]]:
    """Files per extract: the command line wins over gthfx.yaml; every extract needs a file."""
    inputs: dict[str, tuple[Path, ...]] = {}
    for extract in EXTRACTS:
        if given.get(extract):
            inputs[extract] = expand([str(p) for p in given[extract]], run_date, Path("."), extract)
        elif config.extracts.get(extract):
            inputs[extract] = expand(config.extracts[extract], run_date, config.base, extract)
        else:
            raise ConfigError(
                f"no {extract} extract given",
                hint=f"pass --{extract} FILE, or list it under `extracts.{extract}` "
                f"in {CONFIG_NAME}",
            )
    return inputs


class ProjectSettings(BaseModel):
    """gthfx.yaml and the command-line flags, resolved (see `resolve_settings`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out: Path  # the runs folder
    rules: Path  # a ruleset file or a folder of them
    policies: Path  # the policy library: a file or a folder of them
    sources: Path | None  # a sources mapping over the shipped one; None: the shipped one
    encoding: str | None  # the forced CSV encoding; None: detected per file
    excel: bool  # write the Excel workbooks
    categories: Path  # 名特优新: the yearly cycle folders and the register
    inputs: dict[str, tuple[Path, ...]] = Field(default_factory=dict)  # files per extract


def resolve_settings(
    config: Path | None,
    *,
    out: Path | None = None,
    rules: Path | None = None,
    policies: Path | None = None,
    sources: Path | None = None,
    encoding: str | None = None,
    excel: bool | None = None,
    categories: Path | None = None,
    run_date: date | None = None,
    extracts: Mapping[str, Sequence[Path] | None] | None = None,
    every_extract: bool = True,
) -> ProjectSettings:
    """The settings of one command: each flag given (not None) wins over gthfx.yaml (`config`,
    else ./gthfx.yaml when present), which wins over the defaults. Paths from gthfx.yaml are
    relative to it.

    With `extracts` (the files given per extract on the command line) the input files are
    resolved for `run_date`: templates filled, globs expanded. With `every_extract` each extract
    needs files, from the flags or else from gthfx.yaml (classify, explain, simulate); without
    it only the extracts given are resolved (a recheck's fresh extracts)."""
    cfg = load_config(config)
    inputs: dict[str, tuple[Path, ...]] = {}
    if extracts is not None:
        if run_date is None:
            raise TypeError("resolving extract files needs the run date")
        given = {name: list(files or ()) for name, files in extracts.items()}
        if every_extract:
            inputs = resolve_inputs(cfg, run_date, given)
        else:
            inputs = {
                name: expand([str(p) for p in files], run_date, Path("."), name)
                for name, files in given.items()
                if files
            }
    return ProjectSettings(
        out=out if out is not None else cfg.base / cfg.out,
        rules=rules if rules is not None else cfg.base / cfg.rules,
        policies=policies if policies is not None else cfg.base / cfg.policies,
        sources=sources
        if sources is not None
        else (cfg.base / cfg.sources if cfg.sources else None),
        encoding=encoding or cfg.encoding,
        excel=excel if excel is not None else cfg.excel,
        categories=categories if categories is not None else cfg.base / cfg.categories,
        inputs=inputs,
    )
