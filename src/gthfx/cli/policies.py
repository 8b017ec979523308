"""`gthfx policies check | explain`: lint the policy library; say why one business does or does
not get each measure. Arguments → one library call → rich tables → exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gthfx.app.support.explain import Clause, SupportExplanation, Value, explain_support
from gthfx.cli import params
from gthfx.cli.explain import show_value
from gthfx.rules.lint import has_errors
from gthfx.rules.policies_lint import lint_library
from gthfx.settings.config import resolve_settings
from gthfx.settings.sources import load_sources

policies_app = typer.Typer(
    help="帮扶政策库 the policy library: lint it, explain one business's measures.\n\n"
    "Example: gthfx policies check\n\n"
    "Example: gthfx policies explain 92420102MA4K1B2C9D --run runs/2024-07-01",
    no_args_is_help=True,
)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@policies_app.command("check")
def check_command(
    policies: params.Policies = None,
    rules: params.Rules = None,
    sources: params.Sources = None,
    config: params.Config = None,
) -> None:
    """Lint the policy library before any run is read; exit 2 on errors.

    Checks each file's keys, dates, tiers, categories and delivery; measure ids used twice; each
    `when` against the fields of the runs it will meet (the outcome columns of the rulesets in
    force while its file is, with a close-match hint); parameters named like fields or never
    used; measure dates outside their file's. Each finding is printed as
    `file:line: error|warning: measure: message`. Exit 0 without errors, 2 with one.

    Example: gthfx policies check

    Example: gthfx policies check --policies policies/tiers-2024.yaml --rules rules/
    """
    settings = resolve_settings(config, rules=rules, policies=policies, sources=sources)
    findings = lint_library(settings.policies, settings.rules, load_sources(settings.sources))
    console = _console()
    for finding in sorted(findings, key=lambda f: (str(f.file), f.line or 0)):
        style = "red" if finding.severity == "error" else "yellow"
        console.print(str(finding), style=style, markup=False)
    errors = sum(f.severity == "error" for f in findings)
    console.print(
        f"{settings.policies}: {errors} error(s), {len(findings) - errors} warning(s)",
        markup=False,
    )
    if has_errors(findings):
        raise typer.Exit(2)


@policies_app.command("explain")
def explain_command(
    code: Annotated[str, typer.Argument(help="The business's unified social credit code.")],
    run: Annotated[
        Path, typer.Option("--run", help="The run folder (or its date in out: of gthfx.yaml).")
    ],
    policies: params.Policies = None,
    register: params.Register = None,
    measure: Annotated[
        str | None, typer.Option("--measure", help="Explain this measure only (its id).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")] = False,
    config: params.Config = None,
) -> None:
    """Why a business of a run does or does not get each measure of the library: in force on the
    run date or not, reached through its tier or a 名特优新 category it holds (--register), and
    the measure's condition clause by clause with the values it reads and its thresholds.

    Example: gthfx policies explain 92420102MA4K1B2C9D --run runs/2024-07-01

    Example: gthfx policies explain 92420102MA4K1B2C9D --run 2024-07-01 --measure growth.credit
    """
    settings = resolve_settings(config, policies=policies)
    explanation = explain_support(
        code,
        params.run_folder(run, settings.out),
        settings.policies,
        register=register,
        measure=measure,
    )
    if as_json:
        typer.echo(explanation.to_json())
    else:
        render(explanation, _console())


# ---- rendering ---------------------------------------------------------------------------------


def _named(items: list[Value]) -> str:
    return "\n".join(f"{v.label}({v.name}) = {show_value(v.value, v.unit)}" for v in items)


def _yes(result: bool | None) -> Text:
    if result is None:
        return Text("—", style="dim")
    return Text("✓ 是", style="green") if result else Text("✗ 否", style="red")


def _clause_rows(table: Table, clause: Clause, depth: int) -> None:
    indent = "  " * depth
    op = {"and": "全部满足", "or": "满足其一"}.get(clause.op or "")
    table.add_row(
        indent + clause.text + (f"\n{indent}  ({op})" if op else ""),
        _named(clause.values),
        _named(clause.thresholds),
        _yes(clause.result),
    )
    for part in clause.parts:
        _clause_rows(table, part, depth + 1)


def render(e: SupportExplanation, console: Console) -> None:
    console.rule(f"统一社会信用代码 {e.uscc}")
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("运行结果", f"{e.run_dir}({e.run_date})")
    head.add_row("分型", e.tier_label)
    head.add_row("所在区", f"{e.district}({e.region_code or '—'})")
    head.add_row("行业", f"{e.industry_code or '—'}(门类 {e.industry_section or '—'})")
    held = "、".join(f"{c.label}(有效期 {c.valid_from} 至 {c.valid_to})" for c in e.categories)
    head.add_row("名特优新", held or ("无" if e.register else "未提供名录(--register)"))
    console.print(head)
    table = Table(title="措施 measures", title_justify="left")
    for column in ("措施编号", "措施名称", "有效", "分型", "类别", "条件", "结论"):
        table.add_column(column, overflow="fold")
    for m in e.measures:
        table.add_row(
            m.id,
            m.title,
            _yes(m.in_force),
            _yes(m.via_tier),
            _yes(bool(m.via_categories)) if m.categories else Text("—", style="dim"),
            _yes(m.when_holds),
            Text(m.why, style="green" if m.gets else "default"),
        )
    console.print(table)
    for m in e.measures:
        if m.clause is None:
            continue
        clauses = Table(title=f"{m.id} 适用条件 when: {m.when}", title_justify="left")
        clauses.add_column("条款")
        clauses.add_column("读取的值")
        clauses.add_column("参数")
        clauses.add_column("结果")
        _clause_rows(clauses, m.clause, 0)
        console.print(clauses)
    console.print(f"适用措施 {len(e.gets)} 项: {'、'.join(e.gets) or '无'}", markup=False)
