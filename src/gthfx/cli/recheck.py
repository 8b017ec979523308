"""`gthfx recheck`: arguments → options → `recheck.recheck` → a short summary. No data work here."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gthfx.app.recheck import RecheckOptions, recheck
from gthfx.cli import params
from gthfx.errors import ConfigError
from gthfx.progress import Reporter
from gthfx.settings.config import resolve_settings
from gthfx.vocab import OUTCOME_ORDER, TIER_LABELS


def recheck_command(
    run_date: Annotated[date, params.date_option("Recheck date D, YYYY-MM-DD (30 Sep).")],
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
    out: params.Out = None,
    rules: params.Rules = None,
    force: params.Force = False,
    excel: params.Excel = None,
    config: params.Config = None,
    quiet: params.Quiet = False,
    strict: params.Strict = False,
) -> None:
    """Re-type a base run after the review (复核): apply corrections over its inputs (checked by
    SHA-256, or fresh extracts given here), type with the ruleset in force on D, apply manual
    decisions last, and write <out>/<D>/ with the change log against the base run, the audit
    trail (复核记录) and the feedback report (反馈答复).

    Example: gthfx recheck --date 2024-09-30 --base 2024-07-01 --corrections 更正.csv
    --decisions 认定.xlsx --feedback 反馈.csv
    """
    settings = resolve_settings(
        config,
        out=out,
        rules=rules,
        excel=excel,
        run_date=run_date,
        extracts={"annual": annual, "tax": tax, "social": social},
        every_extract=False,  # the base run's inputs stand in for the others
    )
    base_run = params.run_folder(base, settings.out)
    if not base_run.is_dir():
        raise ConfigError(f"--base {base}: no such run folder (looked in . and {settings.out})")
    options = RecheckOptions(
        run_date=run_date,
        base=base_run,
        out=settings.out,
        rules=settings.rules,
        corrections=tuple(corrections or ()),
        decisions=tuple(decisions or ()),
        feedback=tuple(feedback or ()),
        fresh=settings.inputs,
        force=force,
        excel=settings.excel,
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
