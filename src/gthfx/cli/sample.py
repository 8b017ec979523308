"""`gthfx sample` (the 双随机 draw), `gthfx sample verify DRAW` and `gthfx sample commit`:
arguments → `app.sample` → a summary and an exit code. No data work here."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gthfx.app.sample.deliver import SampleOptions, sample
from gthfx.app.sample.seed import write_commitment
from gthfx.app.sample.verify import verify_draw
from gthfx.cli import params
from gthfx.errors import ConfigError
from gthfx.settings.config import resolve_settings

sample_app = typer.Typer(invoke_without_command=True)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@sample_app.callback()
def sample_command(
    ctx: typer.Context,
    run: Annotated[
        Path | None,
        typer.Option("--run", help="The run to draw from (a run folder, or its date in out:)."),
    ] = None,
    plan: Annotated[
        Path | None, typer.Option("--plan", help="The sampling plan (YAML): ratios, exclusions.")
    ] = None,
    on: Annotated[date | None, params.date_option("The draw date D (YYYY-MM-DD).")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="The draw folder to write (replaced with --force).")
    ] = None,
    seed: Annotated[
        str | None,
        typer.Option("--seed", help="The seed (text). Default: 128 bits from a secure source."),
    ] = None,
    seed_file: Annotated[
        Path | None,
        typer.Option("--seed-file", help="A seed committed beforehand (gthfx sample commit)."),
    ] = None,
    inspections: Annotated[
        list[Path] | None,
        typer.Option("--inspections", help="Inspection records (统一社会信用代码, 检查日期)."),
    ] = None,
    risk: Annotated[
        list[Path] | None,
        typer.Option("--risk", help="Credit-risk classes (统一社会信用代码, 信用风险分类)."),
    ] = None,
    inspectors: Annotated[
        list[Path] | None,
        typer.Option(
            "--inspectors", help="Inspectors (执法人员编号, 姓名, 所属区划, 回避统一社会信用代码)."
        ),
    ] = None,
    sources: params.Sources = None,
    encoding: params.Encoding = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --out folder.")
    ] = False,
    excel: Annotated[
        bool | None,
        typer.Option("--excel/--no-excel", help="Write the publication lists as workbooks too."),
    ] = None,
    config: params.Config = None,
    quiet: params.Quiet = False,
) -> None:
    """双随机 draw: random businesses and random inspectors, publicly verifiable (SPEC §11).

    Strata are district × tier (× credit-risk class with --risk); businesses inspected within
    the plan's months before D (--inspections) are not eligible; in each stratum n = ceil(ratio
    × N) exactly, the first n by SHA-256 of "{seed}|{uscc}" are drawn and the next ones kept in
    reserve; each gets inspectors of its district by SHA-256 of "{seed}|{uscc}|{inspector_id}",
    skipping recusals. Writes sample.parquet, reserve.parquet, strata, eligible.csv,
    inspectors.csv, per-district 抽查名单 (no risk class, no personal data), rejects and a
    manifest with the plan, the seed, the run and every input's SHA-256.

    Subcommands: `verify DRAW` redraws and compares (exit 1 on a difference); `commit` makes a
    seed file and its commitment to publish before the draw.

    Example: gthfx sample --run runs/2024-07-01 --plan plan.yaml --date 2024-08-01
    --inspectors 执法人员.csv --out draws/2024-H2

    Example: gthfx sample --run 2024-07-01 --plan plan.yaml --date 2024-08-01 --seed-file
    seed.json --risk 风险.xlsx --inspections 检查.csv --inspectors 执法人员.csv --out draws/2024-H2

    Example: gthfx sample verify draws/2024-H2
    """
    given = {"--run": run, "--plan": plan, "--date": on, "--out": out}
    if ctx.invoked_subcommand is not None:
        if any(v is not None for v in given.values()) or seed or seed_file:
            raise ConfigError(
                f"the draw's options do not go with `gthfx sample {ctx.invoked_subcommand}`"
            )
        return
    missing = [flag for flag, value in given.items() if value is None]
    if missing:
        raise ConfigError(
            f"gthfx sample needs {', '.join(missing)}",
            hint="gthfx sample --run RUN --plan plan.yaml --date D --out DIR (see --help)",
        )
    assert run is not None and plan is not None and on is not None and out is not None
    settings = resolve_settings(config, sources=sources, encoding=encoding, excel=excel)
    result = sample(
        SampleOptions(
            run=params.run_folder(run, settings.out),
            plan=plan,
            on=on,
            out=out,
            seed=seed,
            seed_file=seed_file,
            inspections=tuple(inspections or ()),
            risk=tuple(risk or ()),
            inspectors=tuple(inspectors or ()),
            sources=settings.sources,
            encoding=settings.encoding,
            force=force,
            excel=settings.excel,
        )
    )
    console = _console()
    without = result.strata.filter(result.strata["ratio"].is_null())
    if not quiet:
        c = result.counts
        console.print(
            f"{result.out}: plan {result.plan_id}, seed {result.seed.value!r} "
            f"({result.seed.source}); {c['population']} businesses, {c['excluded']} excluded, "
            f"{c['eligible']} eligible, {c['drawn']} drawn, {c['reserve']} in reserve",
            markup=False,
        )
        for name, acc in result.accounting.items():
            console.print(
                f"{name}: read {acc['read']}, used {acc['used']}, rejected {acc['rejected']}, "
                f"collapsed {acc['collapsed']}",
                markup=False,
            )
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for stratum, note in without.select("stratum", "note").iter_rows():
        err.print(f"warning: stratum {stratum}: {note}", markup=False)
    if not inspectors:
        err.print("warning: no --inspectors given: no inspector is assigned", markup=False)
    elif result.counts["short_of_inspectors"]:
        err.print(
            f"warning: {result.counts['short_of_inspectors']} drawn business(es) got fewer "
            "inspectors than the plan asks (see strata: short_of_inspectors)",
            markup=False,
        )


@sample_app.command("verify")
def verify_command(
    draw: Annotated[Path, typer.Argument(metavar="DRAW", help="A draw folder to verify.")],
    config: params.Config = None,
) -> None:
    """Redraw a draw from its recorded inputs and seed and compare every file: exit 0 when it is
    the same, 1 naming the first difference (a file changed since the draw, an input whose
    SHA-256 differs, a redraw that differs), 2 when an input cannot be found.

    --config is accepted as by every command and checked when given; the draw's manifest says
    everything else.

    Example: gthfx sample verify draws/2024-H2
    """
    if config is not None:
        resolve_settings(config)
    result = verify_draw(draw)
    console = _console()
    for line in result.checked:
        console.print(f"checked: {line}", markup=False)
    if result.same:
        console.print(f"{draw}: the same as a redraw from its inputs", markup=False)
        return
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    err.print(f"difference: {result.differences[0]}", markup=False)
    if len(result.differences) > 1:
        err.print(f"({len(result.differences) - 1} more difference(s))", markup=False)
    raise typer.Exit(1)


@sample_app.command("commit")
def commit_command(
    out: Annotated[
        Path, typer.Option("--out", help="The seed file to write (kept secret until the draw).")
    ],
    config: params.Config = None,
) -> None:
    """Commit–reveal: draw a seed and a salt from a secure source, write them with their
    commitment to --out, and print the commitment (SHA-256 of "{salt}|{seed}") to publish
    before the draw. Draw with --seed-file; the draw's manifest reveals seed and salt.

    --config is accepted as by every command and checked when given.

    Example: gthfx sample commit --out seed.json
    """
    if config is not None:
        resolve_settings(config)
    committed = write_commitment(out)
    table = Table(show_header=False, title="commitment 承诺值 (publish before the draw)")
    table.add_row("file", str(out))
    table.add_row("commitment", committed.commitment or "")
    _console().print(table)
