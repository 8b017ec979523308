"""`gthfx simulate`: arguments → scenarios and options → `simulate.simulate` → rich tables and
the workbook. No data work here."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gthfx.app.simulate import (
    MOVE_LABELS,
    ScenarioResult,
    SimulationResult,
    scenarios_from_arguments,
    simulate,
    write_workbook,
)
from gthfx.cli import params
from gthfx.errors import ConfigError
from gthfx.progress import Reporter
from gthfx.settings.config import RunOptions, resolve_settings
from gthfx.vocab import OUTCOME_ORDER, TIER_LABELS


def simulate_command(
    run_date: Annotated[date, params.date_option("Run date D, YYYY-MM-DD.")],
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="PARAM=VALUE; every --set together form ONE scenario. Values are YAML "
            "scalars: 2000000, 1_500_000, 0.5, 一般纳税人, [存续, 在营].",
        ),
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            help='One more scenario: "NAME: p=v, q=w" (NAME optional); repeat to compare.',
        ),
    ] = None,
    alternative: Annotated[
        list[Path] | None,
        typer.Option(
            "--rules",
            help="A whole other ruleset file as one more scenario, applied at D whatever its "
            "dates; repeatable.",
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Rulesets in force, file or folder (default: gthfx.yaml, else rules/).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Workbook to write (default: ./simulate-<D>.xlsx).")
    ] = None,
    excel: Annotated[bool, typer.Option("--excel/--no-excel", help="Write the workbook.")] = True,
    annual: params.Annual = None,
    tax: params.Tax = None,
    social: params.Social = None,
    sources: params.Sources = None,
    encoding: params.Encoding = None,
    config: params.Config = None,
    quiet: params.Quiet = False,
) -> None:
    """What-if: type the extracts of D under the ruleset in force and under each scenario, and
    show what would change — counts and shares before/after, the transition table (overall and
    by district) and the businesses that would move. The data is loaded once for all scenarios;
    nothing is written into the runs folder, only the workbook (汇总, 分区汇总, 分区迁移, and per
    scenario k 迁移k and 名单k).

    Scenarios: all --set options together form one scenario; each --scenario "NAME: p=v, q=w"
    and each --rules FILE adds one. An unknown parameter or a value of the wrong kind stops
    before any data is read (exit 2).

    Example: gthfx simulate --date 2024-07-01 --set development_min_sales_yuan=2000000

    Example: gthfx simulate --date 2024-07-01 --scenario "严: development_min_sales_yuan=2_000_000,
    development_min_tax_yuan=50000" --scenario "宽: growth_min_employees=2" --out what-if.xlsx
    """
    scenarios = scenarios_from_arguments(sets or [], scenario or [], alternative or [])
    target = out or Path(f"simulate-{run_date.isoformat()}.xlsx")
    if excel and target.suffix.lower() != ".xlsx":
        raise ConfigError(f"--out {target}: the workbook's name must end in .xlsx")
    settings = resolve_settings(
        config,
        rules=baseline,
        sources=sources,
        encoding=encoding,
        run_date=run_date,
        extracts={"annual": annual, "tax": tax, "social": social},
    )
    options = RunOptions(
        run_date=run_date,
        inputs=settings.inputs,
        out=settings.out,  # not written to: simulate writes no run folder
        rules=settings.rules,
        sources=settings.sources,
        encoding=settings.encoding,
        excel=excel,  # simulate's own workbook, not gthfx.yaml's run workbooks
    )
    reporter = Reporter(quiet=quiet)
    result = simulate(options, scenarios, reporter)
    written = None
    if excel:
        with reporter.stage("write", "写出工作簿 writing the workbook"):
            written = write_workbook(result, target)
    if not quiet:
        _render(result, written)


def _render(result: SimulationResult, written: Path | None) -> None:
    console = Console(highlight=False)
    console.print(
        f"模拟 {result.run_date} · 现行规则 {result.baseline_id} ({result.baseline_path}) · "
        f"{result.total:,} 户",
        markup=False,
    )
    for k, s in enumerate(result.scenarios, start=1):
        _render_scenario(console, k, s)
    if written is not None:
        console.print(f"written: {written}", markup=False)


def _render_scenario(console: Console, k: int, s: ScenarioResult) -> None:
    title = f"方案{k}" if s.scenario.name == f"方案{k}" else f"方案{k} {s.scenario.name}"
    console.rule(escape(title))
    if s.scenario.rules is not None:
        console.print(f"规则文件 {s.scenario.rules} ({s.ruleset_id})", markup=False)
    if s.changes.height == 0:
        console.print("参数无变动 no parameter changes")
    for row in s.changes.iter_rows(named=True):
        console.print(
            f"  {row['label']} {row['parameter']}: {row['before']} → {row['after']} {row['unit']}",
            markup=False,
        )
    shares = Table(title=f"方案{k} 分型占比 shares before → after")
    for name, justify in (
        ("分型", "left"),
        ("现行户数", "right"),
        ("方案户数", "right"),
        ("增减", "right"),
        ("现行占比", "right"),
        ("方案占比", "right"),
    ):
        shares.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in s.counts.iter_rows(named=True):
        shares.add_row(
            row["label"],
            f"{row['before']:,}",
            f"{row['after']:,}",
            f"{row['delta']:+,}",
            f"{row['share_before']:.2f} %",
            f"{row['share_after']:.2f} %",
        )
    console.print(shares)
    matrix = Table(title=f"方案{k} 迁移 transitions (行 现行 → 列 方案)")
    matrix.add_column("现行\\方案")
    for name in OUTCOME_ORDER:
        matrix.add_column(TIER_LABELS[name], justify="right")
    cells = {
        (b, a): n for b, a, n in s.transitions.select("tier_before", "tier_after", "count").rows()
    }
    for before in OUTCOME_ORDER:
        matrix.add_row(
            TIER_LABELS[before], *(f"{cells.get((before, a), 0):,}" for a in OUTCOME_ORDER)
        )
    console.print(matrix)
    districts = Table(title=f"方案{k} 按区变动 moves by district")
    districts.add_column("区划")
    districts.add_column("区")
    districts.add_column("户数", justify="right")
    districts.add_column("变动", justify="right")
    for label in MOVE_LABELS.values():
        districts.add_column(label, justify="right")
    for row in s.district_moves.iter_rows(named=True):
        districts.add_row(
            row["region_code"] or "—",
            row["district"],
            f"{row['total']:,}",
            f"{row['moved']:,}",
            *(f"{row[m]:,}" for m in MOVE_LABELS),
        )
    console.print(districts)
    console.print(f"变动户数 businesses that move: {s.moved:,}")
