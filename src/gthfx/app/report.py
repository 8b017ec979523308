"""`gthfx report`: the monitoring report of a run (SPEC §12, seed 二(七) 监测分析) as one library
call — `build_report(run, against=…, register=…) -> Document`, and `write_report(options)`
writing it as one self-contained HTML page and one workbook with the same tables. Never prints.

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

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from gthfx import __version__
from gthfx.app import report_tables as t
from gthfx.errors import ConfigError, GthfxError
from gthfx.report.document import NO_DATA, Chart, Document, Figure, Section, document_sheets
from gthfx.report.html import render_html
from gthfx.report.labels import REJECT_REASONS, data_problem_labels, reason_labels
from gthfx.report.regions import region_name
from gthfx.report.svg import CIVIDIS_4, CIVIDIS_6, MEASURE_COLOURS, SINGLE, TIER_COLOURS
from gthfx.report.xlsx import write_xlsx
from gthfx.rules.plan import build_plan
from gthfx.runs.manifest import MANIFEST_NAME
from gthfx.runs.reader import Run, open_run
from gthfx.settings.sources import SourcesMapping, load_sources
from gthfx.vocab import CHANGE_LABELS, EXCLUDED, OUTCOME_FILES, OUTCOME_ORDER, TIER_LABELS, TIERS

TITLE = "个体工商户分型监测报告"
KIND_WORDS = {"classify": "年度分型", "recheck": "复核后重新分型"}
EMPLOYEES = t.Measure("employees", "从业人数", "填报从业人数户数", "户均从业人数")
INSURED = t.Measure("insured_staff", "参保职工人数", "有参保记录户数", "户均参保职工人数")
MEASURE_WORDS = {
    "employees": "登记与年报数据中年报填报的「从业人数」",
    "insured_staff": "社保数据的「参保人数」(在职参保职工)",
    "insured_count": "社保数据的「参保人数」(在职参保职工)",
}
CATEGORY_WORDS = {"known": "知名", "distinctive": "特色", "quality": "优质", "emerging": "新兴"}
_TIER_ROWS = (0, 1, 2, 4)  # rows of the by-outcome tables charted: the tiers and the excluded
_TIER_FILLS = tuple(TIER_COLOURS[o] for o in OUTCOME_ORDER)
_TIER_NAMES = tuple(TIER_LABELS[o] for o in OUTCOME_ORDER)


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
        f"分型批次 {m.run_date.isoformat()}({KIND_WORDS.get(m.kind, m.kind)}),分型规则 "
        f"{ruleset.id}(SHA-256 {ruleset.sha256[:12]}…),输入文件及其 SHA-256 见文末注"
    )
    overall = t.tier_shares(cube)
    counts = dict(zip(overall["分型"], overall["户数"], strict=True))
    sections = [
        _tiers_section(cube, overall),
        _transitions_section(run, previous, previous_note),
        _employment_section(cube, measures, missing_measures),
        _trend_section(run, earlier, skipped),
        _exclusions_section(run, words, words_note, sources),
        _categories_section(register, m.run_date),
    ]
    typed = counts[t.TYPED_TOTAL]
    keys = [
        ("分型批次", m.run_date.isoformat()),
        ("登记户数(含不参与分型)", f"{counts[t.TOTAL]:,}"),
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
            f"分型批次 {m.run_date.isoformat()} · {KIND_WORDS.get(m.kind, m.kind)} · 分型规则 "
            f"{ruleset.id}"
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


def outcome_counts(run: Run) -> dict[str, int]:
    """Businesses per outcome: the rows of each outcome file (read from the Parquet metadata)."""
    return {
        outcome: int(pl.scan_parquet(path).select(pl.len()).collect().item())
        for outcome, path in zip(OUTCOME_FILES, run.outcome_paths(), strict=True)
    }


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


# ---- sections ------------------------------------------------------------------------------


def _tiers_section(cube: pl.DataFrame, overall: pl.DataFrame) -> Section:
    shares = tuple(t.SHARE_COLUMNS)
    tiers_only = _TIER_FILLS[:3]
    names = tuple(TIER_LABELS[x] for x in TIERS)
    by_district = t.tiers_by_district(cube)
    by_section = t.tiers_by_section(cube)
    typed_words = (
        "参与分型户数 = 生存型 + 成长型 + 发展型;不参与分型:未满足基础条件或数据有问题"
        "而未分型的户。占比 = 户数 ÷ 参与分型户数 × 100,保留两位小数(四舍五入,合计可能"
        "不等于 100)。"
    )
    return Section(
        id="s-tiers",
        title="一、分型结构",
        intro="本批次全部个体工商户的分型结果:全市、分区、分行业门类的户数与占比。",
        figures=(
            Figure(
                id="f-tiers",
                title="全市分型户数与占比",
                table=overall,
                definition=(
                    "户数:本批次结果文件中该分型的个体工商户数(每户一个结果)。占全部户数 = 户数 ÷ "
                    "全部户数 × 100;" + typed_words
                ),
                chart=Chart(
                    kind="bars",
                    category="分型",
                    series=("户数",),
                    colours=(SINGLE,),
                    unit="户",
                    rows=_TIER_ROWS,
                    desc="横向条形图:生存型、成长型、发展型和不参与分型的户数。",
                ),
                total_rows=(3, 5),
            ),
            Figure(
                id="f-districts",
                title="各区分型结构",
                table=by_district,
                definition=(
                    "按登记与年报数据的「行政区划代码」分区(GB/T 2260),无区划代码的户计入“未知”。"
                    + typed_words
                ),
                chart=Chart(
                    kind="bars",
                    mode="percent",
                    category=t.DISTRICT,
                    series=shares,
                    names=names,
                    colours=tiers_only,
                    unit="%",
                    rows=tuple(range(by_district.height - 1)),
                    desc="百分比堆积条形图:各区参与分型户中生存型、成长型、发展型的占比。",
                ),
                total_rows=(by_district.height - 1,),
            ),
            Figure(
                id="f-sections",
                title="各行业门类分型结构",
                table=by_section,
                definition=(
                    "行业门类:GB/T 4754-2017《国民经济行业分类》的门类,即「行业代码」的首字母"
                    "(无字母时按前两位大类代码归入门类);无行业代码或无法识别的计入“未知门类”。"
                    + typed_words
                ),
                chart=Chart(
                    kind="bars",
                    mode="percent",
                    category=t.SECTION_NAME,
                    series=shares,
                    names=names,
                    colours=tiers_only,
                    unit="%",
                    rows=tuple(range(by_section.height - 1)),
                    desc="百分比堆积条形图:各行业门类参与分型户中三种分型的占比。",
                ),
                total_rows=(by_section.height - 1,),
            ),
        ),
    )


def _transitions_section(run: Run, previous: Run | None, note: str | None) -> Section:
    title, intro = "二、分型变动", "与上次批次相比,各户分型的迁移(含未变的户)与各区的变动。"
    if previous is None:
        return Section(id="s-transitions", title=title, intro=intro, empty=f"{NO_DATA}:{note}")
    pairs = t.transition_pairs(previous.outcomes(), run.outcomes())
    matrix = t.transition_matrix(pairs)
    moves = t.moves_by_district(pairs)
    before = previous.manifest
    against = (
        f"对比批次 {before.run_date.isoformat()}({KIND_WORDS.get(before.kind, before.kind)},"
        f"分型规则 {before.ruleset.id},文件夹 {previous.path.name})"
    )
    states = [t.STATE_LABELS[s] for s in t.COLUMN_STATES]
    m_date = run.manifest.run_date.isoformat()
    kinds = tuple(CHANGE_LABELS[k] for k in t.CHANGE_KINDS)
    return Section(
        id="s-transitions",
        title=title,
        intro=intro,
        figures=(
            Figure(
                id="f-matrix",
                title=f"分型迁移矩阵({before.run_date.isoformat()} → {m_date})",
                table=matrix,
                definition=(
                    "行:上次批次的结果(新增:上次批次中没有的户);列:本批次的结果(消失:本次登记与年报"
                    "数据中已没有的户)。每户按统一社会信用代码在两个批次的结果文件中对照,计入一格;"
                    "对角线为分型未变的户。合计列为上次批次各结果户数,合计行为本批次各结果户数。"
                ),
                chart=Chart(
                    kind="grid",
                    category="上次\\本次",
                    series=tuple(states),
                    colours=(),
                    unit="户",
                    rows=tuple(range(matrix.height - 1)),
                    row_title="上次 ↓",
                    column_title="本次 →",
                    desc="迁移矩阵:行是上次批次的结果,列是本批次的结果,格中为户数,颜色越深户数越多;"
                    "对角线(加粗边框)为未变的户。",
                ),
                total_rows=(matrix.height - 1,),
                source=against,
            ),
            Figure(
                id="f-moves",
                title="各区分型变动户数",
                table=moves,
                definition=(
                    "上次户数、本次户数:两个批次中该区的户数(消失的户按上次的区划,其余按本次的区划);"
                    "未变:两次结果相同;新增、消失见迁移矩阵;升型、降型:生存型 < 成长型 < 发展型之间"
                    "向上或向下;纳入分型:上次不参与分型、本次参与;退出分型:上次参与、本次不参与。"
                ),
                chart=Chart(
                    kind="bars",
                    mode="stacked",
                    category=t.DISTRICT,
                    series=kinds,
                    colours=CIVIDIS_6,
                    unit="户",
                    rows=tuple(range(moves.height - 1)),
                    desc="堆积条形图:各区新增、消失、升型、降型、纳入分型、退出分型的户数。",
                ),
                total_rows=(moves.height - 1,),
                source=against,
            ),
        ),
    )


def _employment_section(
    cube: pl.DataFrame, measures: list[t.Measure], missing: list[str]
) -> Section:
    title = "三、吸纳就业"
    intro = "各分型、各区个体工商户的从业人员与参保职工人数。"
    if not measures:
        return Section(
            id="s-employment", title=title, intro=intro, empty=NO_DATA, notes=tuple(missing)
        )
    words = "".join(
        f"{m.label}合计:{MEASURE_WORDS[m.column]}之和(列 {m.column});{m.counted}:有该值的户数"
        f"(未填报、无记录或无法解析的户不计入,不按 0 计);{m.mean} = {m.label}合计 ÷ {m.counted}。"
        for m in measures
    )
    by_tier = t.employment_by_tier(cube, measures)
    figures = [
        Figure(
            id="f-jobs-tiers",
            title="各分型吸纳就业",
            table=by_tier,
            definition=words,
            chart=Chart(
                kind="bars",
                category="分型",
                series=tuple(f"{m.label}合计" for m in measures),
                colours=MEASURE_COLOURS[: len(measures)],
                unit="人",
                rows=_TIER_ROWS,
                desc="分组条形图:各分型的" + "与".join(f"{m.label}合计" for m in measures) + "。",
            ),
            total_rows=(3, 5),
        )
    ]
    for m in measures:
        table = t.employment_by_district(cube, m)
        figures.append(
            Figure(
                id=f"f-jobs-{m.column}",
                title=f"各区{m.label}(按分型)",
                table=table,
                definition=(
                    f"{MEASURE_WORDS[m.column]}之和(列 {m.column}),按区划与分型;未填报或无记录的户"
                    "不计入。区划按登记与年报数据的「行政区划代码」。"
                ),
                chart=Chart(
                    kind="bars",
                    mode="stacked",
                    category=t.DISTRICT,
                    series=_TIER_NAMES,
                    colours=_TIER_FILLS,
                    unit="人",
                    rows=tuple(range(table.height - 1)),
                    desc=f"堆积条形图:各区{m.label},按生存型、成长型、发展型和不参与分型分段。",
                ),
                total_rows=(table.height - 1,),
            )
        )
    return Section(
        id="s-employment", title=title, intro=intro, figures=tuple(figures), notes=tuple(missing)
    )


def _trend_section(run: Run, earlier: list[Run], skipped: list[str]) -> Section:
    rows = [
        (r.manifest.run_date, KIND_WORDS.get(r.manifest.kind, r.manifest.kind), outcome_counts(r))
        for r in earlier
    ]
    table = t.trend(rows)
    notes = [f"已跳过无法读取的批次文件夹 {s}" for s in skipped]
    if len(rows) == 1:
        notes.append("分型批次文件夹中没有更早的批次,趋势仅含本批次。")
    folder_words = (
        f"分型批次文件夹(本批次所在的文件夹 {run.path.resolve().parent.name})中批次日期"
        "不晚于本批次的全部批次,按批次日期排列;户数取各批次结果文件的行数。"
    )
    return Section(
        id="s-trend",
        title="四、历年趋势",
        intro="历次分型批次的户数与占比。",
        notes=tuple(notes),
        figures=(
            Figure(
                id="f-trend-counts",
                title="历次批次各分型户数",
                table=table,
                definition=folder_words
                + "占比 = 户数 ÷ 该批次参与分型户数 × 100,保留两位小数。"
                + "复核后重新分型的批次单独列出。",
                chart=Chart(
                    kind="columns",
                    mode="stacked",
                    category="批次日期",
                    series=_TIER_NAMES,
                    colours=_TIER_FILLS,
                    unit="户",
                    desc="堆积柱形图:每个批次的生存型、成长型、发展型和不参与分型户数。",
                ),
            ),
            Figure(
                id="f-trend-shares",
                title="历次批次分型占比",
                table=table.select("批次日期", "批次类型", *t.SHARE_COLUMNS),
                definition=folder_words + "占比 = 户数 ÷ 该批次参与分型户数 × 100,保留两位小数。",
                chart=Chart(
                    kind="columns",
                    mode="percent",
                    category="批次日期",
                    series=t.SHARE_COLUMNS,
                    names=tuple(TIER_LABELS[x] for x in TIERS),
                    colours=_TIER_FILLS[:3],
                    unit="%",
                    desc="百分比堆积柱形图:每个批次参与分型户中三种分型的占比。",
                ),
            ),
        ),
    )


def _exclusions_section(
    run: Run, words: dict[str, str], note: str | None, sources: SourcesMapping
) -> Section:
    excluded = pl.scan_parquet(run.path / OUTCOME_FILES[EXCLUDED])
    reasons = t.exclusion_reasons(excluded, words)
    extracts = {name: spec.label for name, spec in sources.extracts.items()}
    rejects = t.reject_reasons(run.rejects(), words, extracts)
    return Section(
        id="s-exclusions",
        title="五、不参与分型与拒收数据",
        intro="数据质量:不参与分型的原因,以及无法归入任何一户而拒收的输入数据行。",
        notes=(note,) if note else (),
        figures=(
            Figure(
                id="f-reasons",
                title="不参与分型原因",
                table=reasons,
                definition=(
                    "户数:结果中列有该原因的不参与分型户数;一户有几个原因就在几个原因下各计一次,"
                    "所以各原因户数之和可以大于不参与分型户数(末行,每户只计一次)。占比 = 户数 ÷ "
                    "不参与分型户数 × 100。数据问题(无法解析、缺少必填项、重复且不一致)"
                    "排在基础条件之前记录。"
                ),
                chart=Chart(
                    kind="bars",
                    category="原因",
                    series=("户数",),
                    colours=(SINGLE,),
                    unit="户",
                    rows=tuple(range(reasons.height - 1)),
                    desc="横向条形图:每个不参与分型原因的户数。",
                ),
                total_rows=(reasons.height - 1,),
            ),
            Figure(
                id="f-rejects",
                title="拒收的输入数据行",
                table=rejects,
                definition=(
                    "行数:各部门数据中因统一社会信用代码缺失或格式错误、非个体工商户代码、非本年度税务"
                    "记录、登记与年报数据中无此户、或同一代码多条记录且内容不一致而未使用的行数(逐行计)。"
                ),
                total_rows=(rejects.height - 1,),
            ),
        ),
    )


def _categories_section(register: Path | None, on: date) -> Section:
    title = "六、名特优新"
    intro = (
        f"截至批次日期 {on.isoformat()} 有效的“名特优新”认定,及其中党员经营户和全国、省级先进个体"
        "工商户的比例(武市监〔2024〕39号 二(五)、二(六))。"
    )
    if register is None:
        return Section(
            id="s-categories",
            title=title,
            intro=intro,
            empty=f"{NO_DATA}:未指定名特优新名录(gthfx report --register DIR)。",
        )
    category_numbers = _category_api()
    numbers = category_numbers(register, on)
    definitions: dict[str, str] = dict(numbers.definitions)
    overall = numbers.overall
    summary = pl.DataFrame(
        {
            "指标": ["认定户次", "认定户数", "党员经营户", "全国或省级先进个体工商户"],
            "户数": [
                overall["entries"], overall["businesses"], overall["party_member"],
                overall["advanced"],
            ],
            "比例(%)": [
                None, None, _pct(overall["party_share"]), _pct(overall["advanced_share"]),
            ],
        },
        schema={"指标": pl.String, "户数": pl.Int64, "比例(%)": pl.Float64},
    )  # fmt: skip
    by_category = numbers.by_category.select(
        pl.col("category")
        .replace_strict(CATEGORY_WORDS, default=pl.col("category"), return_dtype=pl.String)
        .alias("类别"),
        pl.col("entries").cast(pl.Int64).alias("认定户次"),
        pl.col("party_member").cast(pl.Int64).alias("党员经营户"),
        (pl.col("party_share") * 100).round(2).alias("党员经营户比例(%)"),
        pl.col("advanced").cast(pl.Int64).alias("先进个体工商户"),
        (pl.col("advanced_share") * 100).round(2).alias("先进个体工商户比例(%)"),
    )
    grid = numbers.by_category_district
    by_district = _category_districts(grid)
    words = "".join(f"{v}。" for v in definitions.values())
    return Section(
        id="s-categories",
        title=title,
        intro=intro,
        figures=(
            Figure(
                id="f-cat-overall",
                title="名特优新认定概况",
                table=summary,
                definition=words + "比例 = 户数 ÷ 认定户数 × 100;无认定时暂无数据。",
                missing=NO_DATA,
                source=f"名特优新名录 {register.name},截至 {on.isoformat()}",
            ),
            Figure(
                id="f-cat-categories",
                title="各类别认定户次及党员经营户、先进个体工商户比例",
                table=by_category,
                definition=(
                    "认定户次:该类别在该日有效的认定;党员经营户、先进个体工商户:其中认定或续期时有有效"
                    "佐证的户次;比例 = 户次 ÷ 该类别认定户次 × 100;该类别无认定时暂无数据。"
                ),
                chart=Chart(
                    kind="bars",
                    category="类别",
                    series=("党员经营户比例(%)", "先进个体工商户比例(%)"),
                    names=("党员经营户比例", "全国或省级先进个体工商户比例"),
                    colours=MEASURE_COLOURS,
                    unit="%",
                    desc="分组条形图:各类别认定中党员经营户与先进个体工商户的比例。",
                ),
                missing=NO_DATA,
                source=f"名特优新名录 {register.name},截至 {on.isoformat()}",
            ),
            Figure(
                id="f-cat-districts",
                title="各区名特优新认定户次",
                table=by_district,
                definition="在该日有效的认定户次,按认定时记录的行政区划与类别。",
                chart=Chart(
                    kind="bars",
                    mode="stacked",
                    category=t.DISTRICT,
                    series=tuple(CATEGORY_WORDS.values()),
                    colours=CIVIDIS_4,
                    unit="户次",
                    rows=tuple(range(by_district.height - 1)),
                    desc="堆积条形图:各区知名、特色、优质、新兴的认定户次。",
                )
                if by_district.height > 1
                else None,
                total_rows=(by_district.height - 1,),
                source=f"名特优新名录 {register.name},截至 {on.isoformat()}",
            ),
        ),
    )


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def _category_districts(grid: pl.DataFrame) -> pl.DataFrame:
    """区划 rows × 类别 columns of entries, every category present; a last row 合计."""
    labels = list(CATEGORY_WORDS.values())
    wide = grid.with_columns(
        pl.col("category").replace_strict(
            CATEGORY_WORDS, default=pl.col("category"), return_dtype=pl.String
        )
    ).pivot(on="category", index="region_code", values="entries", aggregate_function="sum")
    for label in labels:
        if label not in wide.columns:
            wide = wide.with_columns(pl.lit(0, pl.Int64).alias(label))
    wide = wide.with_columns(pl.col(labels).fill_null(0).cast(pl.Int64)).select(
        pl.col("region_code").cast(pl.String), *labels, pl.sum_horizontal(labels).alias(t.TOTAL)
    )
    table = wide.sort("region_code", nulls_last=True).select(
        pl.col("region_code").alias(t.CODE),
        region_name(pl.col("region_code")).alias(t.DISTRICT),
        *labels,
        t.TOTAL,
    )
    total = table.select(
        pl.lit("").alias(t.CODE),
        pl.lit(t.TOTAL).alias(t.DISTRICT),
        *(pl.col(c).sum().cast(pl.Int64) for c in [*labels, t.TOTAL]),
    )
    return pl.concat([table, total])


def _category_api() -> Callable[[Path, date], Any]:
    """`gthfx.app.categories.register.category_numbers`, the 名特优新 register's figures (SPEC
    §10). Looked up when a register is given: the register arrives with the categories
    feature; a gthfx without it says so."""
    try:
        module = importlib.import_module("gthfx.app.categories.register")
    except ModuleNotFoundError:
        raise ConfigError(
            "--register: this gthfx has no 名特优新 register (gthfx.app.categories)",
            hint="leave out --register; the report then shows 暂无数据 for 名特优新",
        ) from None
    return module.category_numbers


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
            f"{m.run_date.isoformat()}({KIND_WORDS.get(m.kind, m.kind)};年报年度 {m.report_year};"
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
