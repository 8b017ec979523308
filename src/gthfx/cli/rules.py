"""`gthfx rules show | check | test`: arguments → one library call → rich tables → exit code."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gthfx.app.categories.cases import load_category_cases, run_category_case
from gthfx.app.rule_cases import run_case
from gthfx.cli import params
from gthfx.errors import RulesError
from gthfx.rules.cases import CaseResult, load_cases
from gthfx.rules.criteria_lint import lint_criteria
from gthfx.rules.lint import has_errors, lint_rules
from gthfx.rules.model import CRITERIA_PREFIX, ruleset_in_force
from gthfx.settings.config import resolve_settings
from gthfx.settings.sources import load_sources
from gthfx.vocab import TIER_LABELS

rules_app = typer.Typer(
    help="规则 rulesets: show the ruleset in force, lint the rulesets, run the rule cases.\n\n"
    "Example: gthfx rules show --date 2024-07-01\n\n"
    "Example: gthfx rules check\n\n"
    "Example: gthfx rules test",
    no_args_is_help=True,
)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _show(value: Any) -> str:
    if value is None:
        return "—(空)"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _holds(holds: bool) -> str:
    return "✓ 满足" if holds else "✗ 不满足"


@rules_app.command("show")
def show_command(
    run_date: Annotated[date, params.date_option("Date D, YYYY-MM-DD.")],
    rules: params.Rules = None,
    config: params.Config = None,
) -> None:
    """Print the ruleset in force on date D as tables in Chinese, to check against the document.

    Example: gthfx rules show --date 2024-07-01

    Example: gthfx rules show --date 2023-07-01 --rules rules/
    """
    loaded = ruleset_in_force(resolve_settings(config, rules=rules).rules, run_date)
    rs = loaded.ruleset
    console = _console()
    head = Table(title=f"规则集 ruleset in force on {run_date}", show_header=False)
    head.add_column("项目", overflow="fold")
    head.add_column("内容", overflow="fold")
    head.add_row("编号 id", rs.id)
    head.add_row("名称 title", rs.title)
    head.add_row("生效日期 effective", f"{rs.effective_from} 至 {rs.effective_to or '(未定)'}")
    head.add_row("依据 source", rs.source)
    head.add_row("文件 file", str(loaded.path))
    head.add_row("sha256", loaded.sha256)
    console.print(head)
    params = Table(title="参数 parameters")
    for column in ("名称 name", "说明", "值", "单位", "依据"):
        params.add_column(column, overflow="fold")
    for name, p in rs.parameters.items():
        params.add_row(name, p.label, _show(p.value), p.unit, p.source)
    console.print(params)
    derived = Table(title="派生字段 derived fields (按顺序计算)")
    for column in ("编号 id", "说明", "计算式 expression"):
        derived.add_column(column, overflow="fold")
    for d in rs.derived:
        derived.add_row(d.id, d.label, d.expr)
    console.print(derived)
    basics = Table(title="基础条件 basic conditions (须全部满足)")
    for column in ("编号 id", "说明", "条件 condition"):
        basics.add_column(column, overflow="fold")
    for c in rs.basic_conditions:
        basics.add_row(c.id, c.label, c.when)
    console.print(basics)
    tiers = Table(title="分型规则 tier rules (按顺序,先满足者生效)")
    for column in ("序号", "编号 id", "分型", "说明", "条件 condition"):
        tiers.add_column(column, overflow="fold")
    for i, t in enumerate(rs.tiers, 1):
        tiers.add_row(str(i), t.id, TIER_LABELS[t.tier], t.label, t.when or "默认 default")
    console.print(tiers)
    near = Table(title="复核提示 near-threshold checks (review workbooks: just below a tier)")
    for column in ("指标 indicator", "参数 parameter", "分型", "范围 within"):
        near.add_column(column, overflow="fold")
    for n in rs.review:
        within = f"{_show(100 * n.share)} %" if n.share is not None else f"{_show(n.units)}"
        near.add_row(n.indicator, n.parameter, TIER_LABELS[n.tier], within)
    console.print(near)


@rules_app.command("check")
def check_command(
    rules: params.Rules = None,
    sources: params.Sources = None,
    config: params.Config = None,
) -> None:
    """Lint every ruleset file before any data is read; exit 2 on errors.

    Checks unknown fields (with a close-match hint), type mismatches, parameters without unit
    or source or never used, a missing default, unreachable tier rules (a sampled check among
    them), overlapping or gapped effective dates. Each finding names the file, the line and the
    rule. Exit 0 when there are no errors (warnings are printed, not fatal), 2 when there is one.

    The 名特优新 criteria files of the folder (categories-*.yaml) are linted too: expressions,
    parameters, procedure parameters, and words compared with a coded field that its
    vocabulary does not hold.

    Example: gthfx rules check

    Field names are those of the sources mapping: the shipped one, with `sources:` of gthfx.yaml
    or --sources over it.

    Example: gthfx rules check --rules rules/reference-2024.yaml --sources my-sources.yaml
    """
    settings = resolve_settings(config, rules=rules, sources=sources)
    location = settings.rules
    mapping = load_sources(settings.sources)
    if location.is_file() and location.name.startswith(CRITERIA_PREFIX):
        findings = lint_criteria(location, mapping.category_extracts)
    else:
        findings = lint_rules(location, mapping)
        if location.is_dir():  # the 名特优新 criteria files beside the rulesets
            findings += lint_criteria(location, mapping.category_extracts)
    console = _console()
    for finding in findings:
        style = "red" if finding.severity == "error" else "yellow"
        console.print(str(finding), style=style, markup=False)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    console.print(f"{location}: {errors} error(s), {warnings} warning(s)")
    if has_errors(findings):
        raise typer.Exit(2)


def _expected_actual(result: CaseResult) -> Table:
    table = Table(show_header=True, title="期望 expected / 实际 actual")
    table.add_column("", overflow="fold")
    table.add_column("期望 expected", overflow="fold")
    table.add_column("实际 actual", overflow="fold")
    for key in ("tier", "rule_id", "reasons", "flags"):
        if key in result.case.expect or key in result.actual:
            want = result.case.expect.get(key, "(不检查)")
            got = result.actual.get(key)
            mark = "" if key not in result.case.expect or want == got else " ✗"
            table.add_row(key + mark, str(want), str(got))
    return table


@rules_app.command("test")
def test_command(
    rules: params.Rules = None,
    cases: Annotated[
        Path | None, typer.Option("--cases", help="Case file or folder (default: <rules>/cases).")
    ] = None,
    sources: params.Sources = None,
    config: params.Config = None,
) -> None:
    """Run the rule cases; print expected, actual and a trace for each failure; exit 2 on one.

    A case (YAML) gives a run date, input values per extract and the expected outcome; it runs
    through the same validate → join → rules path as classify. Each failing case prints the
    expected and actual outcome and a trace: the derived values and every basic condition's and
    tier rule's result. Exit 0 when all pass, 2 when a case fails (fix the rules or the case).

    Example: gthfx rules test

    Example: gthfx rules test --rules rules/ --cases rules/cases/reference-2024.yaml
    """
    settings = resolve_settings(config, rules=rules, sources=sources)
    location = settings.rules
    case_location = cases or (location if location.is_dir() else location.parent) / "cases"
    if case_location.is_file():
        files = [case_location]
    elif case_location.is_dir():
        files = sorted(p for p in case_location.glob("*.yaml") if not p.name.startswith("_"))
        files += sorted((case_location / "categories").glob("*.yaml"))
    else:
        raise RulesError(f"{case_location}: no such case file or folder")
    if not files:
        raise RulesError(f"{case_location}: no case files (*.yaml) found")
    mapping = load_sources(settings.sources)
    category_files = [f for f in files if _category_cases(f)]
    category_results = [
        run_category_case(case, location, mapping)
        for f in category_files
        for case in load_category_cases(f)
    ]
    results = [
        run_case(case, location, mapping)
        for f in files
        if f not in category_files
        for case in load_cases(f)
    ]
    console = _console()
    table = Table(title=f"规则用例 rule cases ({case_location})")
    table.add_column("文件 file", overflow="fold")
    table.add_column("用例 case", overflow="fold")
    table.add_column("结果", justify="center", overflow="fold")
    for r in results:
        table.add_row(r.case.file.name, r.case.name, "✓" if r.passed else "✗")
    for c in category_results:
        table.add_row(c.case.file.name, c.case.name, "✓" if c.passed else "✗")
    console.print(table)
    for c in category_results:
        if not c.passed:
            console.print(
                f"\n✗ {c.case.file}: {c.case.name} (screening date {c.case.on})", style="red"
            )
            for (code, category), want in c.expected.items():
                got = c.actual.get((code, category), {})
                console.print(f"  {code} {category}: expected {want}, got {got}", markup=False)
    failed_categories = sum(not c.passed for c in category_results)
    failed = [r for r in results if not r.passed]
    for r in failed:
        console.print(f"\n✗ {r.case.file}: {r.case.name} (run date {r.case.run_date})", style="red")
        console.print(_expected_actual(r))
        console.print(f"trace (ruleset {r.ruleset_id}):")
        if r.trace is None:
            console.print("  (the business has no row after validation: see its data problems)")
            continue
        for d in r.trace.derived:
            console.print(f"  {d.id} {d.label} = {_show(d.value)}", markup=False)
        for cond in r.trace.conditions:
            state = "未计算 not evaluated" if cond.holds is None else _holds(cond.holds)
            console.print(f"  基础条件 {cond.id} {cond.label}: {state}")
        for t in r.trace.tiers:
            state = "默认 default" if t.holds is None else _holds(t.holds)
            console.print(f"  分型规则 {t.id} ({TIER_LABELS[t.tier]}): {state}")
    total = len(results) + len(category_results)
    bad = len(failed) + failed_categories
    console.print(f"{total - bad} passed, {bad} failed")
    if bad:
        raise typer.Exit(2)


def _category_cases(path: Path) -> bool:
    """名特优新 case files: under a `categories` folder, or named categories-*.yaml."""
    return path.parent.name == "categories" or path.name.startswith(CRITERIA_PREFIX)
