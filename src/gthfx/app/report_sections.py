"""The sections of the monitoring report: each a title, an introduction and numbered figures.

A figure is a table from `app.report_tables`, its definition in words (口径) and the chart drawn
from its columns. Never reads a file itself beyond the run's own tables, never prints.

The definitions are the contract with the reader: each says what is counted, over which
businesses, from which column of which extract, and how a share is taken.
"""

from __future__ import annotations

import polars as pl

from gthfx.app import report_tables as t
from gthfx.report.document import NO_DATA, Chart, Figure, Section
from gthfx.report.svg import CIVIDIS_6, MEASURE_COLOURS, SINGLE, TIER_COLOURS
from gthfx.runs.reader import Run
from gthfx.settings.sources import SourcesMapping
from gthfx.vocab import CHANGE_LABELS, EXCLUDED, OUTCOME_FILES, OUTCOME_ORDER, TIER_LABELS, TIERS

KIND_WORDS = {"classify": "年度分型", "recheck": "复核后重新分型"}
MEASURE_WORDS = {
    "employees": "登记与年报数据中年报填报的「从业人数」",
    "insured_staff": "社保数据的「参保人数」(在职参保职工)",
    "insured_count": "社保数据的「参保人数」(在职参保职工)",
}
_TIER_ROWS = (0, 1, 2, 4)  # rows of the by-outcome tables charted: the tiers and the excluded
_TIER_FILLS = tuple(TIER_COLOURS[o] for o in OUTCOME_ORDER)
_TIER_NAMES = tuple(TIER_LABELS[o] for o in OUTCOME_ORDER)


def kind_words(kind: str) -> str:
    """A run's kind in words: 年度分型 (classify) or 复核后重新分型 (recheck)."""
    return KIND_WORDS.get(kind, kind)


def outcome_counts(run: Run) -> dict[str, int]:
    """Businesses per outcome: the rows of each outcome file (read from the Parquet metadata)."""
    return {
        outcome: int(pl.scan_parquet(path).select(pl.len()).collect().item())
        for outcome, path in zip(OUTCOME_FILES, run.outcome_paths(), strict=True)
    }


def tiers_section(cube: pl.DataFrame, overall: pl.DataFrame) -> Section:
    """一、分型结构: businesses per tier overall, by district and by GB/T 4754 section."""
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


def transitions_section(run: Run, previous: Run | None, note: str | None) -> Section:
    """二、分型变动: the transition matrix against `previous` and the moves per district;
    暂无数据 with `note` when there is no run to compare with."""
    title, intro = "二、分型变动", "与上次批次相比,各户分型的迁移(含未变的户)与各区的变动。"
    if previous is None:
        return Section(id="s-transitions", title=title, intro=intro, empty=f"{NO_DATA}:{note}")
    pairs = t.transition_pairs(previous.outcomes(), run.outcomes())
    matrix = t.transition_matrix(pairs)
    moves = t.moves_by_district(pairs)
    before = previous.manifest
    against = (
        f"对比批次 {before.run_date.isoformat()}({kind_words(before.kind)},"
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


def employment_section(
    cube: pl.DataFrame, measures: list[t.Measure], missing: list[str]
) -> Section:
    """三、吸纳就业: the employment measures the outcome files carry, by tier and district;
    what they do not carry is said in `missing`."""
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


def trend_section(run: Run, earlier: list[Run], skipped: list[str]) -> Section:
    """四、历年趋势: counts and shares of every run in `earlier` (oldest first)."""
    rows = [(r.manifest.run_date, kind_words(r.manifest.kind), outcome_counts(r)) for r in earlier]
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


def exclusions_section(
    run: Run, words: dict[str, str], note: str | None, sources: SourcesMapping
) -> Section:
    """五、不参与分型与拒收数据: the excluded businesses per reason, the rejected rows per
    extract and reason."""
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
