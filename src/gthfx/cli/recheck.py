"""`gthfx recheck`: arguments → options → `recheck.recheck` → a short summary. No data work here."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gthfx.app.recheck import RecheckOptions, recheck
from gthfx.cli import params as options
from gthfx.errors import ConfigError
from gthfx.progress import Reporter
from gthfx.settings.config import expand, load_config
from gthfx.vocab import OUTCOME_ORDER, TIER_LABELS


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"--date {value!r} is not a date", hint="write it as YYYY-MM-DD"
        ) from None


def _base_folder(base: Path, out: Path) -> Path:
    """--base as a folder, or as the name of a run in --out (`--base 2024-07-01`)."""
    if base.is_dir():
        return base
    if not base.is_absolute() and (out / base).is_dir():
        return out / base
    raise ConfigError(f"--base {base}: no such run folder (looked in . and {out})")


def recheck_command(
    run_date: Annotated[str, typer.Option("--date", help="Recheck date D, YYYY-MM-DD (30 Sep).")],
    base: Annotated[
        Path, typer.Option("--base", help="The base run: a run folder, or its date in --out.")
    ],
    corrections: Annotated[
        list[Path] | None,
        typer.Option(
            "--corrections",
            help="复核更正 file(s), CSV or XLSX: 统一社会信用代码, 字段, 更正值, ...",
        ),
    ] = None,
    decisions: Annotated[
        list[Path] | None,
        typer.Option("--decisions", help="人工认定 file(s): 统一社会信用代码, 认定分型, 理由, ..."),
    ] = None,
    feedback: Annotated[
        list[Path] | None,
        typer.Option("--feedback", help="反馈 file(s): 统一社会信用代码, 反馈内容, 诉求分型."),
    ] = None,
    annual: Annotated[
        list[Path] | None,
        typer.Option("--annual", help="Fresh annual extract file(s) (late annual reports)."),
    ] = None,
    tax: Annotated[list[Path] | None, typer.Option("--tax", help="Fresh tax file(s).")] = None,
    social: Annotated[
        list[Path] | None, typer.Option("--social", help="Fresh social-insurance file(s).")
    ] = None,
    out: options.Out = None,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", help="Ruleset file or folder (default: rules/ or gthfx.yaml)."),
    ] = None,
    force: options.Force = False,
    excel: options.Excel = None,
    config: options.Config = None,
    quiet: options.Quiet = False,
    strict: options.Strict = False,
) -> None:
    """Re-type a base run after the review (复核): apply corrections over its inputs (checked by
    SHA-256, or fresh extracts given here), type with the ruleset in force on D, apply manual
    decisions last, and write <out>/<D>/ with the change log against the base run, the audit
    trail (复核记录) and the feedback report (反馈答复).

    Example: gthfx recheck --date 2024-09-30 --base 2024-07-01 --corrections 更正.csv
    --decisions 认定.xlsx --feedback 反馈.csv
    """
    when = _date(run_date)
    cfg = load_config(config)
    runs = out or cfg.base / cfg.out
    fresh = {
        name: expand([str(p) for p in files], when, Path("."), name)
        for name, files in (("annual", annual), ("tax", tax), ("social", social))
        if files
    }
    options = RecheckOptions(
        run_date=when,
        base=_base_folder(base, runs),
        out=runs,
        rules=rules or cfg.base / cfg.rules,
        corrections=tuple(corrections or ()),
        decisions=tuple(decisions or ()),
        feedback=tuple(feedback or ()),
        fresh=fresh,
        force=force,
        excel=cfg.excel if excel is None else excel,
        command=tuple(["gthfx", *sys.argv[1:]]),
        strict=strict,
    )
    result = recheck(options, Reporter(quiet=quiet))
    if not quiet:
        console = Console(highlight=False)
        counts = ", ".join(f"{TIER_LABELS[k]} {result.counts.get(k, 0):,}" for k in OUTCOME_ORDER)
        console.print(f"复核 recheck {result.run_date} · {result.ruleset_id}: {counts}")
        console.print(
            f"applied: corrections {result.corrections}, decisions {result.decisions}; "
            f"feedback items {result.feedback}"
        )
        changes = ", ".join(f"{k} {v:,}" for k, v in result.changes.items()) or "none"
        console.print(f"changes since {result.base}: {changes}")
        console.print(f"written: {result.run_dir}")
    raise typer.Exit(result.exit_code)
