"""The `gthfx` command line: arguments → options → one library call → a rendered result.

No data work here: each command builds its options, calls the library, renders, and returns an
exit code. `GthfxError` is caught in one place (`main`) and printed as one clear message.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gthfx import __version__
from gthfx.app.classify import RunResult, classify
from gthfx.cli import params as options
from gthfx.errors import ConfigError, GthfxError, os_problem
from gthfx.progress import Reporter
from gthfx.settings.config import ENGINES, RunOptions, load_config, resolve_inputs
from gthfx.vocab import OUTCOME_ORDER, TIER_LABELS

app = typer.Typer(
    name="gthfx",
    help="个体户分型 gthfx — type individual businesses 生存型 / 成长型 / 发展型 from the annual, "
    "tax and social-insurance extracts.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold personal data
    add_completion=False,
)


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"--date {value!r} is not a date", hint="write it as YYYY-MM-DD"
        ) from None


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


@app.command("classify")
def classify_command(
    run_date: Annotated[str, typer.Option("--date", help="Run date D, YYYY-MM-DD (1 July).")],
    annual: options.Annual = None,
    tax: options.Tax = None,
    social: options.Social = None,
    out: options.Out = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules", help="Ruleset file or folder (default: rules: in gthfx.yaml, else rules/)."
        ),
    ] = None,
    sources: options.Sources = None,
    encoding: options.Encoding = None,
    against: Annotated[
        Path | None,
        typer.Option(
            "--against", help="Run folder to compare with (default: the latest earlier run)."
        ),
    ] = None,
    force: options.Force = False,
    excel: options.Excel = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="polars (in memory, the default) or duckdb (out of core, for national scale).",
        ),
    ] = "polars",
    memory_limit: Annotated[
        str | None,
        typer.Option(
            "--memory-limit",
            help="With --engine duckdb: DuckDB's memory cap, e.g. 2GB (default 2GB); it spills "
            "to disk in the output folder beyond it.",
        ),
    ] = None,
    config: options.Config = None,
    quiet: options.Quiet = False,
    strict: options.Strict = False,
) -> None:
    """Type every business at run date D and write the run folder <out>/<D>/.

    Example: gthfx classify --date 2024-07-01

    Example: gthfx classify --date 2024-07-01 --annual a1.csv --annual a2.csv --tax tax.xlsx
    --social social.csv --out /data/runs --quiet

    Example: gthfx classify --date 2024-07-01 --engine duckdb --memory-limit 2GB --no-excel
    """
    when = _parse_date(run_date)
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}", hint=f"one of {', '.join(ENGINES)}")
    cfg = load_config(config)
    base = cfg.base
    options = RunOptions(
        run_date=when,
        inputs=resolve_inputs(
            cfg, when, {"annual": annual or [], "tax": tax or [], "social": social or []}
        ),
        out=out or base / cfg.out,
        rules=rules or base / cfg.rules,
        sources=sources or (base / cfg.sources if cfg.sources else None),
        encoding=encoding or cfg.encoding,
        force=force,
        against=against,
        excel=cfg.excel if excel is None else excel,
        command=tuple(["gthfx", *sys.argv[1:]]),
        engine=engine,  # type: ignore[arg-type]  # checked above
        memory_limit=memory_limit,
        strict=strict,
    )
    result = classify(options, Reporter(quiet=quiet))
    if not quiet:
        _render_result(result)
    raise typer.Exit(result.exit_code)


@app.command("samples")
def samples_command(
    rows: Annotated[int, typer.Option("--rows", min=1, help="Businesses in the latest year.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write <report_year>/<extract>/.")],
    run_date: Annotated[
        str, typer.Option("--date", help="Run date of the latest year.")
    ] = "2024-07-01",
    years: Annotated[int, typer.Option("--years", min=1, help="Yearly runs to write.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same bytes).")] = (
        20240701
    ),
    fmt: Annotated[
        str, typer.Option("--format", help="mixed (CSV UTF-8/GB18030 + XLSX), csv or parquet.")
    ] = "mixed",
) -> None:
    """Write realistic synthetic extracts: Wuhan districts, GB/T 4754 industry codes, Chinese
    headers, messy values and a sprinkle of every data problem.

    Example: gthfx samples --rows 2000 --out samples --years 2

    Example: gthfx samples --rows 1000000 --out /tmp/bench --format csv
    """
    from gthfx.tools.samples import generate_samples  # numpy-heavy: only this command needs it

    if fmt not in ("mixed", "csv", "parquet"):
        raise ConfigError(f"--format {fmt!r} is not one of mixed, csv, parquet")
    try:
        result = generate_samples(
            rows,
            out,
            run_date=_parse_date(run_date),
            years=years,
            seed=seed,
            fmt=fmt,  # type: ignore[arg-type]
        )
    except ValueError as exc:  # the generator's own argument checks
        raise ConfigError(f"gthfx samples: {exc}") from None
    console = Console(highlight=False)
    for key, files in result.files.items():
        console.print(f"{key}: {result.rows[key]:,} rows in {len(files)} file(s)")
        for path in files:
            console.print(f"  {path}")


def _render_result(result: RunResult) -> None:
    console = Console(highlight=False)
    total = sum(result.counts.values()) or 1
    typed_total = sum(v for k, v in result.counts.items() if k != "excluded") or 1
    table = Table(title=f"分型结果 {result.run_date} · {result.ruleset_id}")
    table.add_column("outcome")
    table.add_column("分型")
    table.add_column("户数 count", justify="right")
    table.add_column("占全部 share", justify="right")
    table.add_column("占参与分型 of typed", justify="right")
    for name in OUTCOME_ORDER:
        n = result.counts.get(name, 0)
        of_typed = f"{100 * n / typed_total:.2f} %" if name != "excluded" else ""
        table.add_row(name, TIER_LABELS[name], f"{n:,}", f"{100 * n / total:.2f} %", of_typed)
    console.print(table)
    districts = Table(title="按区 by district")
    districts.add_column("区划")
    districts.add_column("名称")
    for name in OUTCOME_ORDER:
        districts.add_column(TIER_LABELS[name], justify="right")
    districts.add_column("合计", justify="right")
    for row in result.by_district.iter_rows(named=True):
        districts.add_row(
            row["region_code"] or "—",
            row["district"],
            *(f"{row[name]:,}" for name in OUTCOME_ORDER),
            f"{row['total']:,}",
        )
    console.print(districts)
    acc = ", ".join(
        f"{name} read {a.read:,} used {a.used:,} rejected {a.rejected:,} collapsed {a.collapsed:,}"
        for name, a in result.accounting.items()
    )
    console.print(f"rows: {acc}")
    since = f" since {result.previous}" if result.previous else " (no earlier run: all new)"
    changes = ", ".join(f"{k} {v:,}" for k, v in result.changes.items()) or "none"
    console.print(f"changes{since}: {changes}")
    console.print(f"written: {result.run_dir}")


# ---- commands defined in their own modules, registered here (one anchor each) ----
from gthfx.cli.rules import rules_app  # noqa: E402  (registers after `app` exists)

app.add_typer(rules_app, name="rules")
from gthfx.cli.explain import explain_command  # noqa: E402  (registers after `app` exists)

app.command("explain")(explain_command)
from gthfx.cli.simulate import simulate_command  # noqa: E402  (registers after `app` exists)

app.command("simulate")(simulate_command)
from gthfx.cli.diff import diff_command  # noqa: E402  (registers after `app` exists)

app.command("diff")(diff_command)
from gthfx.cli.recheck import recheck_command  # noqa: E402  (registers after `app` exists)

app.command("recheck")(recheck_command)
from gthfx.cli.review import review_app  # noqa: E402  (registers after `app` exists)

app.add_typer(review_app, name="review")

from gthfx.cli.compile_sql import compile_sql_command  # noqa: E402  (registers after `app` exists)

app.command("compile-sql")(compile_sql_command)


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
