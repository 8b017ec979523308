"""`gthfx report`: the monitoring report of a run (SPEC §12, seed 二(七) 监测分析) as one library
call, `write_report(options)`: one self-contained HTML page and one workbook, same tables.

`build_report(run, against=…, register=…) -> Document` gathers the numbers. Never prints.

What it shows, each figure with its definition and the run's provenance: shares by tier overall,
by district and by GB/T 4754 section; the transitions since the previous run (the run's
`previous_run`, or `--against`), diagonal included, and the moves per district; employment
absorbed (employees, insured staff) by tier and district; the trend over every earlier run of
the runs folder; exclusions and rejected rows per reason; 名特优新 numbers from a register.

Runs are read only through `runs.reader.open_run`; the outcome files are scanned once into a
small cube (outcome × district × section, with the employment sums) that most tables are cut
from, so a million-business run takes seconds. Same run, same bytes: nothing depends on the
clock or on where the report is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gthfx import __version__
from gthfx.app import report_sections as s
from gthfx.app import report_tables as t
from gthfx.app.report_categories import categories_section
from gthfx.app.report_sections import kind_words
from gthfx.errors import GthfxError
from gthfx.report.document import NO_DATA, Document, document_sheets
from gthfx.report.html import render_html
from gthfx.report.labels import REJECT_REASONS, data_problem_labels, reason_labels
from gthfx.report.xlsx import write_xlsx
from gthfx.rules.plan import build_plan
from gthfx.runs.manifest import MANIFEST_NAME
from gthfx.runs.reader import Run, open_run
from gthfx.settings.sources import SourcesMapping, load_sources
from gthfx.vocab import EXCLUDED, TIER_LABELS, TIERS

TITLE = "个体工商户分型监测报告"
EMPLOYEES = t.Measure("employees", "从业人数", "填报从业人数户数", "户均从业人数")
INSURED = t.Measure("insured_staff", "参保职工人数", "有参保记录户数", "户均参保职工人数")


@dataclass(frozen=True)
class ReportOptions:
    """What `gthfx report` needs: the run, where to write, and optionally the run to compare
    with (instead of the run's previous run) and the 名特优新 register folder."""

    run: Path
    out: Path
    against: Path | None = None
    register: Path | None = None


@dataclass(frozen=True)
class ReportResult:
    html: Path
    xlsx: Path
    document: Document


def write_report(options: ReportOptions) -> ReportResult:
    """Build the report of `options.run` and write `监测报告_<run date>.html` and `.xlsx` into
    `options.out` (created if needed); each file is written beside its place and renamed into
    it, so a reader never sees half a file."""
    doc = build_report(options.run, against=options.against, register=options.register)
    run_date = open_run(options.run).manifest.run_date.isoformat()
    options.out.mkdir(parents=True, exist_ok=True)
    html = options.out / f"监测报告_{run_date}.html"
    xlsx = options.out / f"监测报告_{run_date}.xlsx"
    page = render_html(doc)
    _replace(html, lambda p: _write_text(p, page))
    _replace(xlsx, lambda p: write_xlsx(p, document_sheets(doc), title=f"{TITLE} {run_date}"))
    return ReportResult(html=html, xlsx=xlsx, document=doc)


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _replace(path: Path, write: Callable[[Path], None]) -> None:
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(staging)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


# ---- the document --------------------------------------------------------------------------


def build_report(
    run_dir: Path, *, against: Path | None = None, register: Path | None = None
) -> Document:
    """The report of the run folder `run_dir` (see the module docstring). A run folder that is
    missing or incomplete, or an `against` that is not a run folder, is a `RunError`."""
    run = open_run(run_dir)
    m = run.manifest
    previous, previous_note = find_previous(run, against)
    schema = run.outcomes().collect_schema()
    measures, missing_measures = _measures(schema.names())
    cube = t.cube(run.outcomes(), measures)
    sources, words, words_note = _words(run)
    earlier, skipped = earlier_runs(run)

    ruleset = m.ruleset
    source_line = (
        f"分型批次 {m.run_date.isoformat()}({kind_words(m.kind)}),分型规则 "
        f"{ruleset.id}(SHA-256 {ruleset.sha256[:12]}…),输入文件及其 SHA-256 见文末注"
    )
    overall = t.tier_shares(cube)
    counts = dict(zip(overall["分型"], overall["户数"], strict=True))
    sections = [
        s.tiers_section(cube, overall),
        s.transitions_section(run, previous, previous_note),
        s.employment_section(cube, measures, missing_measures),
        s.trend_section(run, earlier, skipped),
        s.exclusions_section(run, words, words_note, sources),
        categories_section(register, m.run_date),
    ]
    typed = counts[t.TYPED_TOTAL]
    keys = [
        ("分型批次", m.run_date.isoformat()),
        ("全部户数(含不参与分型)", f"{counts[t.TOTAL]:,}"),
        ("参与分型户数", f"{typed:,}"),
        *((f"{TIER_LABELS[x]}占参与分型", _percent(counts[TIER_LABELS[x]], typed)) for x in TIERS),
        ("不参与分型户数", f"{counts[TIER_LABELS[EXCLUDED]]:,}"),
    ]
    if measures and measures[0] is EMPLOYEES:
        emp = int(cube["employees_sum"].sum())
        keys.append(("从业人数合计", f"{emp:,}"))
    return Document(
        title=TITLE,
        subtitle=(
            f"分型批次 {m.run_date.isoformat()} · {kind_words(m.kind)} · 分型规则 {ruleset.id}"
        ),
        keys=tuple(keys),
        sections=tuple(sections),
        source=tuple(_provenance(run, previous, earlier, register, sources)),
        source_line=source_line,
        generator=f"由 gthfx {__version__} 生成(gthfx report);同一批次再次生成,内容逐字节相同。",
    )


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else NO_DATA


def find_previous(run: Run, against: Path | None) -> tuple[Run | None, str | None]:
    """The run to compare with: `against`, else the run's recorded previous run (a recheck: its
    base run) — looked for at its absolute path, as recorded (relative to where the run was
    started), and beside the run by its name. None, with a note, when there is none or it cannot
    be found."""
    if against is not None:
        return open_run(against), None
    m = run.manifest
    named = m.previous_run
    if not named:
        return None, f"本批次({m.run_date.isoformat()})没有上次批次(首次分型),暂无迁移数据。"
    places = [Path(p) for p in (m.previous_run_absolute, named) if p]
    places.append(run.path.parent / Path(named).name)
    for place in places:
        if (place / MANIFEST_NAME).is_file():
            return open_run(place), None
    return None, (
        f"本批次记录的上次批次 {named} 已找不到(已移动或删除),暂无迁移数据;"
        "可用 --against 指定对比批次。"
    )


def earlier_runs(run: Run) -> tuple[list[Run], list[str]]:
    """Every run folder beside `run` dated on or before it (itself included), oldest first; and
    the folders with a manifest that could not be read as runs (named, with the reason)."""
    found: list[Run] = []
    skipped: list[str] = []
    here = run.path.resolve()
    for child in sorted(run.path.resolve().parent.iterdir()):
        if child == here:
            found.append(run)
            continue
        if child.name.startswith(".") or not (child / MANIFEST_NAME).is_file():
            continue
        try:
            other = open_run(child)
        except GthfxError as exc:
            skipped.append(f"{child.name}:{exc}")
            continue
        if other.manifest.run_date <= run.manifest.run_date:
            found.append(other)
    found.sort(key=lambda r: (r.manifest.run_date, r.path.name))
    return found, skipped


def _measures(columns: list[str]) -> tuple[list[t.Measure], list[str]]:
    """The employment measures the outcome files carry, and notes on those they do not."""
    measures: list[t.Measure] = []
    missing: list[str] = []
    if "employees" in columns:
        measures.append(EMPLOYEES)
    else:
        missing.append(
            "结果文件中没有「从业人数」(employees)列:本批次的分型规则未读取该指标,而结果文件只保存"
            "规则读取的指标,故从业人数暂无数据。"
        )
    insured = next((c for c in ("insured_staff", "insured_count") if c in columns), None)
    if insured is not None:
        measures.append(t.Measure(insured, INSURED.label, INSURED.counted, INSURED.mean))
    else:
        missing.append(
            "结果文件中没有「参保职工人数」(insured_staff / insured_count)列:本批次的分型规则未读取"
            "该指标,故参保职工人数暂无数据。"
        )
    return measures, missing


def _words(run: Run) -> tuple[SourcesMapping, dict[str, str], str | None]:
    """The sources mapping the run used (the shipped one when its own is gone) and the Chinese
    words of its reasons: from its ruleset when it can still be found unchanged, else the data
    problems only (the basic conditions then show as their ids, with a note)."""
    settings = run.manifest.settings
    own = Path(settings.sources) if settings.sources else None
    try:
        sources = load_sources(own if own is not None and own.is_file() else None)
    except GthfxError:
        sources = load_sources()
    words = {**REJECT_REASONS, **data_problem_labels(sources)}
    try:
        plan = build_plan(run.ruleset(), sources, run.manifest.run_date)
    except GthfxError:
        return (
            sources,
            words,
            (
                f"本批次的分型规则文件({run.manifest.ruleset.path})已找不到或已修改,基础条件原因以"
                "规则中的编号显示。"
            ),
        )
    return sources, {**words, **reason_labels(plan, sources)}, None


# ---- provenance ----------------------------------------------------------------------------


def _provenance(
    run: Run,
    previous: Run | None,
    earlier: list[Run],
    register: Path | None,
    sources: SourcesMapping,
) -> list[tuple[str, str]]:
    m = run.manifest
    r = m.ruleset
    to = r.effective_to.isoformat() if r.effective_to else "—"
    lines = [
        (
            "分型批次",
            f"{m.run_date.isoformat()}({kind_words(m.kind)};年报年度 {m.report_year};"
            f"文件夹 {run.path.resolve().name};由 gthfx {m.gthfx_version} 生成;"
            f"共 {m.businesses:,} 户)",
        ),
        (
            "分型规则",
            f"{r.id}《{r.title}》,生效 {r.effective_from.isoformat()} 至 {to},文件 {r.path},"
            f"SHA-256 {r.sha256}",
        ),
    ]
    labels = {name: spec.label for name, spec in sources.extracts.items()}
    for record in m.inputs:
        lines.append(
            (
                f"输入:{labels.get(record.extract, record.extract)}",
                f"{record.path},SHA-256 {record.sha256},读取 {record.accounting.read:,} 行,"
                f"使用 {record.accounting.used:,} 行,拒收 {record.accounting.rejected:,} 行,"
                f"重复合并 {record.accounting.collapsed:,} 行",
            )
        )
    if previous is not None:
        p = previous.manifest
        lines.append(
            (
                "对比批次",
                f"{p.run_date.isoformat()}(文件夹 {previous.path.resolve().name};分型规则 "
                f"{p.ruleset.id},SHA-256 {p.ruleset.sha256})",
            )
        )
    else:
        lines.append(("对比批次", "无"))
    lines.append(
        (
            "趋势批次",
            "、".join(
                f"{e.manifest.run_date.isoformat()}(规则 {e.manifest.ruleset.id})" for e in earlier
            ),
        )
    )
    lines.append(
        (
            "名特优新名录",
            f"{register.name}(截至 {m.run_date.isoformat()})" if register else "未指定",
        )
    )
    return lines
