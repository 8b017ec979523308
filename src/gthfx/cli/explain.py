"""`gthfx explain USCC --run RUN | --date D`: arguments → `gthfx.app.explain` → a rendering
(rich, or JSON). No data work here."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gthfx.app.explain import Clause, Explanation, NamedValue, explain_fresh, explain_run
from gthfx.cli import params
from gthfx.errors import ConfigError
from gthfx.settings.config import resolve_settings

STATUS_WORDS = {"used": "采用", "collapsed": "重复已合并", "rejected": "拒收"}


def explain_command(
    code: Annotated[str, typer.Argument(help="The business's unified social credit code.")],
    run: Annotated[
        Path | None, typer.Option("--run", help="Run folder to explain (e.g. runs/2024-07-01).")
    ] = None,
    run_date: Annotated[
        date | None, params.date_option("Compute fresh at this run date (YYYY-MM-DD) instead.")
    ] = None,
    annual: Annotated[
        list[Path] | None, typer.Option("--annual", help="With --date: annual extract file(s).")
    ] = None,
    tax: Annotated[
        list[Path] | None, typer.Option("--tax", help="With --date: tax extract file(s).")
    ] = None,
    social: Annotated[
        list[Path] | None,
        typer.Option("--social", help="With --date: social-insurance extract file(s)."),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", help="With --date: ruleset file or folder [gthfx.yaml, rules/]."),
    ] = None,
    sources: params.Sources = None,
    encoding: params.Encoding = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="With --date: project config (default: ./gthfx.yaml)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")] = False,
) -> None:
    """Explain one business's outcome: the values read from each extract (with the raw text
    where parsing changed it), each basic condition, each tier rule clause by clause with its
    thresholds, and the outcome — in Chinese labels.

    With --run the run's own input files and ruleset are used (an input changed since the run is
    an error); with --date the outcome is computed fresh from the extracts of gthfx.yaml or
    --annual/--tax/--social.

    Example: gthfx explain 92420102MA4K1B2C9D --run runs/2024-07-01

    Example: gthfx explain 92420102MA4K1B2C9D --date 2024-07-01 --json
    """
    if (run is None) == (run_date is None):
        raise ConfigError(
            "give either --run RUN or --date D",
            hint="--run explains a run folder; --date computes the outcome fresh",
        )
    if run is not None:
        if annual or tax or social or rules:
            raise ConfigError(
                "--annual/--tax/--social/--rules only go with --date",
                hint="--run uses the files and ruleset its manifest names",
            )
        explanation = explain_run(code, run, sources=sources, encoding=encoding)
    else:
        assert run_date is not None
        settings = resolve_settings(
            config,
            rules=rules,
            sources=sources,
            encoding=encoding,
            run_date=run_date,
            extracts={"annual": annual, "tax": tax, "social": social},
        )
        explanation = explain_fresh(
            code,
            run_date=run_date,
            inputs=settings.inputs,
            rules=settings.rules,
            sources=settings.sources,
            encoding=settings.encoding,
        )
    if as_json:
        typer.echo(explanation.to_json())
    else:
        render(explanation, Console(highlight=False))


# ---- rendering ---------------------------------------------------------------------------------


def show_value(value: Any, unit: str | None = None) -> str:
    """A value as the explanation tables show it (Chinese yes/no, thousands, units)."""
    if value is None:
        return "(空)"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        text = f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    elif isinstance(value, int):
        text = f"{value:,}" if abs(value) >= 10_000 else str(value)
    elif isinstance(value, list):
        text = "、".join(str(v) for v in value)
    else:
        text = str(value)
    numeric = isinstance(value, int | float)
    return f"{text} {unit}" if unit and numeric else text


def _named(items: list[NamedValue]) -> str:
    return "\n".join(
        f"{v.label}({v.name}) = {show_value(v.value, _unit(v.name, v.unit))}" for v in items
    )


def _unit(name: str, unit: str | None) -> str | None:
    """Derived money fields carry no unit in the ruleset; by convention they end in `_yuan`."""
    return unit or ("元" if name.endswith("_yuan") else None)


def _yes(result: bool | None, yes: str = "✓ 是", no: str = "✗ 否") -> Text:
    if result is None:
        return Text("未判断", style="dim")
    return Text(yes, style="green") if result else Text(no, style="red")


def render(e: Explanation, console: Console) -> None:
    console.rule(f"统一社会信用代码 {e.uscc}")
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("代码检查", e.code_status_label)
    head.add_row("所在区", f"{e.district}({e.region_code or '—'})")
    head.add_row("行业代码", e.industry_code or "—")
    head.add_row("分型日期", e.run_date)
    head.add_row("规则", f"{e.ruleset_title}({e.ruleset_id})")
    head.add_row(
        "依据", f"运行结果 {e.run_dir}" if e.run_dir else "现场计算(按当前数据,未读运行结果)"
    )
    console.print(head)

    for ex in e.extracts:
        table = Table(title=f"{ex.label}数据 ({ex.extract})", title_justify="left")
        table.add_column("字段")
        table.add_column("读取值")
        table.add_column("原始文本")
        for fv in ex.fields:
            table.add_row(
                f"{fv.label}({fv.field})",
                show_value(fv.value, fv.unit),
                fv.raw if fv.changed and fv.raw is not None else "",
            )
        if ex.note:
            table.add_row(Text(ex.note, style="yellow"), "", "")
        console.print(table)
        if any(r.status != "used" for r in ex.rows) or len(ex.rows) > 1:
            rows = Table(title=f"{ex.label}:该代码的各行", title_justify="left")
            for col in ("文件", "行号", "处理", "原因", "原始值"):
                rows.add_column(col)
            for r in ex.rows:
                raw = f"{r.field}={r.raw_value}" if r.field else ""
                rows.add_row(
                    r.file, str(r.row), STATUS_WORDS.get(r.status, r.status),
                    r.reason_label or "", raw,
                )  # fmt: skip
            console.print(rows)

    derived = Table(title="派生指标", title_justify="left")
    derived.add_column("指标")
    derived.add_column("值")
    derived.add_column("计算式")
    derived.add_column("读取")
    for d in e.derived:
        value = show_value(d.value, _unit(d.id, None))
        derived.add_row(f"{d.label}({d.id})", value, d.expr, _named(d.reads))
    console.print(derived)

    conds = Table(title="基础条件(须全部满足)", title_justify="left")
    conds.add_column("条件")
    conds.add_column("结果")
    conds.add_column("表达式")
    conds.add_column("读取的值")
    for c in e.conditions:
        conds.add_row(
            f"{c.label}({c.id})",
            _yes(c.passed, "✓ 满足", "✗ 不满足"),
            c.expr,
            _named(c.values + c.thresholds),
        )
    console.print(conds)

    console.print(Text("分型规则(按顺序,首个满足的规则决定)", style="bold"))
    if e.outcome.tier == "excluded":
        console.print(Text("该户不参与分型(见结论中的原因),以下规则仅供参考。", style="yellow"))
    for index, t in enumerate(e.tiers, 1):
        mark = "  ← 首个满足,决定分型" if t.matched else ""
        console.print(
            Text.assemble(
                f"{index}. {t.tier_label} {t.id}:{t.label} ",
                _yes(t.result, "满足", "不满足"),
                (mark, "bold green"),
            )
        )
        if t.expr is None:
            console.print("   默认规则:符合基础条件且不满足以上规则的个体工商户")
            continue
        table = Table(show_header=True, padding=(0, 1))
        table.add_column(f"条款({_op(t.op)})")
        table.add_column("读取的值")
        table.add_column("阈值")
        table.add_column("结果")
        for clause in t.clauses:
            _clause_rows(table, clause, 0)
        console.print(table)

    o = e.outcome
    console.rule("结论")
    out = Table.grid(padding=(0, 2))
    out.add_column(style="bold")
    out.add_column()
    out.add_row("分型", Text(o.tier_label, style="bold"))
    out.add_row("判定规则", o.rule_id)
    if o.reasons:
        out.add_row("原因", ";".join(o.reason_labels))
    if o.flags:
        out.add_row("标记", ";".join(o.flag_labels))
    if e.run_outcome is not None:
        out.add_row("运行结果", f"{e.run_outcome.tier_label} {e.run_outcome.rule_id}")
    console.print(out)
    for warning in e.warnings:
        console.print(Text(f"警告:{warning}", style="bold red"))


def _op(op: str | None) -> str:
    return {"and": "全部满足", "or": "满足其一"}.get(op or "", "")


def _clause_rows(table: Table, clause: Clause, depth: int) -> None:
    indent = "  " * depth
    text = clause.text if not clause.op else f"{clause.text}\n{indent}  ({_op(clause.op)})"
    table.add_row(
        indent + text,
        _named(clause.values),
        _named(clause.thresholds),
        _yes(clause.result),
    )
    for part in clause.parts:
        _clause_rows(table, part, depth + 1)
