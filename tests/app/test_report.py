"""`gthfx report` (SPEC §12): every table against an independent oracle — plain Python over
the rows of the run folder's Parquet files, not gthfx's queries —, every charted value against
its table in the written page, the workbook against the tables, byte-identical output, the
previous run found, given or missing, indicators a ruleset did not read, and escaping."""

from __future__ import annotations

import os
import shutil
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

import htmlpage
from gthfx.app.classify import classify
from gthfx.app.report import ReportOptions, build_report, write_report
from gthfx.errors import RunError
from gthfx.report.document import Document, Figure
from gthfx.settings.config import RunOptions
from support import RULES, generated_runs, write_csv_extracts

OUTCOMES = ("survival", "growth", "development", "excluded")
LABEL = {
    "survival": "生存型",
    "growth": "成长型",
    "development": "发展型",
    "excluded": "不参与分型",
}
TYPED = ("survival", "growth", "development")
REGIONS = {
    "420102": "江岸区", "420103": "江汉区", "420104": "硚口区", "420105": "汉阳区",
    "420106": "武昌区", "420107": "青山区", "420111": "洪山区", "420112": "东西湖区",
    "420113": "汉南区", "420114": "蔡甸区", "420115": "江夏区", "420116": "黄陂区",
    "420117": "新洲区",
}  # fmt: skip
SECTION_NAMES = {"C": "制造业", "F": "批发和零售业", "G": "交通运输、仓储和邮政业",
                 "H": "住宿和餐饮业", "K": "房地产业", "O": "居民服务、修理和其他服务业",
                 "P": "教育", "R": "文化、体育和娱乐业"}  # fmt: skip


# ---- the oracle: plain Python over the rows ---------------------------------------------------


def rows_of(run: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in OUTCOMES:
        out += pl.read_parquet(run / f"{name}.parquet").to_dicts()
    return out


def district(code: str | None) -> str:
    return "未知" if code is None else REGIONS.get(code, code)


def section(code: str | None) -> str:
    text = (code or "").strip().upper()
    return text[0] if text[:1].isalpha() and "A" <= text[0] <= "T" else "?"


def pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else 100 * part / whole


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 0.0051  # the report rounds shares to two decimals


def records(figure: Figure) -> list[dict[str, Any]]:
    return figure.table.to_dicts()


def by_id(doc: Document) -> dict[str, Figure]:
    return {f.id: f for f in doc.figures()}


def check_counts_and_shares(table: list[dict[str, Any]], expected: dict[str, Counter[str]]) -> None:
    """Rows (label → Counter per outcome) against the table's count and share columns."""
    assert len(table) == len(expected) + 1  # and 合计
    for row in table[:-1]:
        label = row.get("区划", row.get("门类名称"))
        want = expected.pop(label)
        typed = sum(want[t] for t in TYPED)
        for t in OUTCOMES:
            assert row[LABEL[t]] == want[t], (label, t)
        assert row["参与分型合计"] == typed
        assert row["合计"] == sum(want.values())
        for t in TYPED:
            assert close(row[f"{LABEL[t]}占比(%)"], pct(want[t], typed)), (label, t)
    assert not expected


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three yearly runs of an evolving synthetic population (2024, 2025, 2026)."""
    return generated_runs(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def written(runs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Document]:
    result = write_report(
        ReportOptions(run=runs / "2026-07-01", out=tmp_path_factory.mktemp("report-out"))
    )
    return result.html, result.xlsx, result.document


# ---- tables against the oracle --------------------------------------------------------------


def test_tier_tables_equal_the_oracle(runs: Path, written: tuple[Path, Path, Document]) -> None:
    figures = by_id(written[2])
    rows = rows_of(runs / "2026-07-01")
    counts = Counter(r["tier"] for r in rows)
    typed = sum(counts[t] for t in TYPED)
    overall = {r["分型"]: r for r in records(figures["f-tiers"])}
    for t in OUTCOMES:
        assert overall[LABEL[t]]["户数"] == counts[t]
        assert close(overall[LABEL[t]]["占全部户数(%)"], pct(counts[t], len(rows)))
    for t in TYPED:
        assert close(overall[LABEL[t]]["占参与分型户数(%)"], pct(counts[t], typed))
    assert overall["不参与分型"]["占参与分型户数(%)"] is None
    assert overall["参与分型合计"]["户数"] == typed
    assert overall["合计"]["户数"] == len(rows)

    per_district: dict[str, Counter[str]] = defaultdict(Counter)
    per_section: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        per_district[district(r["region_code"])][r["tier"]] += 1
        letter = section(r["industry_code"])
        per_section[SECTION_NAMES.get(letter, "未知门类")][r["tier"]] += 1
    assert "未知门类" in per_section  # the samples carry businesses without an industry code
    check_counts_and_shares(records(figures["f-districts"]), per_district)
    check_counts_and_shares(records(figures["f-sections"]), per_section)
    codes = [r["行政区划代码"] for r in records(figures["f-districts"])[:-1]]
    assert codes == sorted(c for c in codes if c) + [None] * codes.count(
        None
    )  # by code, unknown last


def transitions(
    before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> list[tuple[str, str, str]]:
    """(district, state before or new, state after or gone) per business of either run."""
    old = {r["uscc"]: r for r in before}
    new = {r["uscc"]: r for r in after}
    out = []
    for code in old.keys() | new.keys():
        b, a = old.get(code), new.get(code)
        region = (a or b or {}).get("region_code")
        out.append((district(region), b["tier"] if b else "new", a["tier"] if a else "gone"))
    return out


def kind(before: str, after: str) -> str:
    rank = {"survival": 0, "growth": 1, "development": 2}
    if before == "new" or after == "gone":
        return before if before == "new" else "gone"
    if before == after:
        return "same"
    if before == "excluded":
        return "in"
    if after == "excluded":
        return "out"
    return "up" if rank[after] > rank[before] else "down"


def test_transitions_equal_the_oracle_and_the_change_log(
    runs: Path, written: tuple[Path, Path, Document]
) -> None:
    figures = by_id(written[2])
    pairs = transitions(rows_of(runs / "2025-07-01"), rows_of(runs / "2026-07-01"))
    cells = Counter((b, a) for _, b, a in pairs)
    words = {**LABEL, "new": "新增", "gone": "消失"}
    matrix = {r["上次\\本次"]: r for r in records(figures["f-matrix"])}
    for b in (*OUTCOMES, "new"):
        for a in (*OUTCOMES, "gone"):
            assert matrix[words[b]][words[a]] == cells[(b, a)], (b, a)
        assert matrix[words[b]]["合计"] == sum(cells[(b, a)] for a in (*OUTCOMES, "gone"))
    assert matrix["合计"]["合计"] == len(pairs)
    assert sum(cells[(t, t)] for t in OUTCOMES) > 0  # the diagonal: unchanged businesses count

    # the run's own change log lists exactly the off-diagonal moves, kind by kind
    logged = Counter(pl.read_parquet(runs / "2026-07-01" / "changes.parquet")["change"].to_list())
    kinds = Counter()
    for (b, a), n in cells.items():
        kinds[kind(b, a)] += n
    assert {k: v for k, v in kinds.items() if k != "same"} == dict(logged)

    kind_words = {"new": "新增", "gone": "消失", "up": "升型", "down": "降型", "in": "纳入分型",
                  "out": "退出分型", "same": "未变"}  # fmt: skip
    per_district: dict[str, Counter[str]] = defaultdict(Counter)
    for where, b, a in pairs:
        per_district[where][kind_words[kind(b, a)]] += 1
        per_district[where]["上次户数"] += b != "new"
        per_district[where]["本次户数"] += a != "gone"
    table = records(figures["f-moves"])
    for row in table[:-1]:
        want = per_district.pop(row["区划"])
        for column in ("上次户数", "本次户数", *kind_words.values()):
            assert row[column] == want[column], (row["区划"], column)
    assert not per_district
    total = table[-1]
    assert total["区划"] == "合计"
    assert total["未变"] == sum(cells[(t, t)] for t in OUTCOMES)


def test_employment_equals_the_oracle(runs: Path, written: tuple[Path, Path, Document]) -> None:
    figures = by_id(written[2])
    rows = rows_of(runs / "2026-07-01")
    table = {r["分型"]: r for r in records(figures["f-jobs-tiers"])}
    groups = {LABEL[t]: [t] for t in OUTCOMES} | {
        "参与分型合计": list(TYPED),
        "合计": list(OUTCOMES),
    }
    for label, tiers in groups.items():
        mine = [r for r in rows if r["tier"] in tiers]
        for column, word, counted, mean in (
            ("employees", "从业人数合计", "填报从业人数户数", "户均从业人数"),
            ("insured_staff", "参保职工人数合计", "有参保记录户数", "户均参保职工人数"),
        ):
            values = [r[column] for r in mine if r[column] is not None]
            assert table[label][word] == sum(values), (label, column)
            assert table[label][counted] == len(values), (label, column)
            assert close(table[label][mean], sum(values) / len(values) if values else None)
    assert table["合计"]["户数"] == len(rows)
    for column, fig in (
        ("employees", "f-jobs-employees"),
        ("insured_staff", "f-jobs-insured_staff"),
    ):
        sums: dict[str, Counter[str]] = defaultdict(Counter)
        for r in rows:
            sums[district(r["region_code"])][r["tier"]] += r[column] or 0
        for row in records(figures[fig])[:-1]:
            want = sums.pop(row["区划"])
            for t in OUTCOMES:
                assert row[LABEL[t]] == want[t], (fig, row["区划"], t)
            assert row["合计"] == sum(want.values())
        assert not sums


def test_trend_equals_the_run_folders(runs: Path, written: tuple[Path, Path, Document]) -> None:
    figures = by_id(written[2])
    table = records(figures["f-trend-counts"])
    assert [r["批次日期"] for r in table] == ["2024-07-01", "2025-07-01", "2026-07-01"]
    for row in table:
        rows = rows_of(runs / row["批次日期"])
        counts = Counter(r["tier"] for r in rows)
        typed = sum(counts[t] for t in TYPED)
        for t in OUTCOMES:
            assert row[LABEL[t]] == counts[t]
        for t in TYPED:
            assert close(row[f"{LABEL[t]}占比(%)"], pct(counts[t], typed))
        assert row["批次类型"] == "年度分型"
    shares = records(figures["f-trend-shares"])
    assert [{k: r[k] for k in s} for r, s in zip(table, shares, strict=True)] == shares


def test_a_later_run_is_not_in_an_earlier_runs_trend(runs: Path) -> None:
    doc = build_report(runs / "2025-07-01")
    table = records(by_id(doc)["f-trend-counts"])
    assert [r["批次日期"] for r in table] == ["2024-07-01", "2025-07-01"]


def test_exclusions_and_rejects_equal_the_oracle(
    runs: Path, written: tuple[Path, Path, Document]
) -> None:
    figures = by_id(written[2])
    excluded = pl.read_parquet(runs / "2026-07-01" / "excluded.parquet").to_dicts()
    reasons = Counter(reason for r in excluded for reason in r["reasons"])
    table = records(figures["f-reasons"])
    assert {r["原因代码"]: r["户数"] for r in table[:-1]} == dict(reasons)
    assert [r["户数"] for r in table[:-1]] == sorted((r["户数"] for r in table[:-1]), reverse=True)
    assert table[-1]["户数"] == len(excluded)
    for row in table[:-1]:
        assert close(row["占不参与分型户数(%)"], pct(reasons[row["原因代码"]], len(excluded)))
        assert row["原因"] != row["原因代码"]  # every reason in words (the ruleset is found)
    rejects = pl.read_parquet(runs / "2026-07-01" / "rejects.parquet").to_dicts()
    counted = Counter((r["extract"], r["reason"]) for r in rejects)
    words = {"登记与年报": "annual", "税务": "tax", "社保": "social"}
    table = records(figures["f-rejects"])
    assert {(words[r["数据来源"]], r["原因代码"]): r["行数"] for r in table[:-1]} == dict(counted)
    assert table[-1]["行数"] == len(rejects)


# ---- the page and the workbook -------------------------------------------------------------


def test_every_charted_value_equals_its_table_cell(written: tuple[Path, Path, Document]) -> None:
    html, _, doc = written
    page = htmlpage.parse(html.read_text(encoding="utf-8"))
    charted = 0
    for figure in doc.figures():
        table = page.tables[f"{figure.id}-table"]
        assert table.headers == figure.table.columns
        marks = page.marks.get(f"{figure.id}-chart")
        if figure.chart is None:
            assert marks is None
            continue
        assert marks, figure.id
        category = table.headers.index(figure.chart.category)
        drawn = {(m["data-category"], m["data-column"]): float(m["data-value"]) for m in marks}
        for (label, column), value in drawn.items():
            row = next(r for r in table.rows if r[category] == label)
            cell = table.number(row[table.headers.index(column)])
            assert cell == pytest.approx(value, abs=0.005), (figure.id, label, column)
            charted += 1
        # and every non-empty cell of the charted rows and columns is drawn
        rows = figure.chart.rows if figure.chart.rows is not None else range(len(table.rows))
        for i in rows:
            for column in figure.chart.series:
                text = table.rows[i][table.headers.index(column)]
                if table.number(text) is not None:
                    assert (table.rows[i][category], column) in drawn, (figure.id, i, column)
    assert charted > 200


def test_the_workbook_holds_the_same_tables(written: tuple[Path, Path, Document]) -> None:
    _, xlsx, doc = written
    book = openpyxl.load_workbook(xlsx, read_only=True)
    names = book.sheetnames
    assert names[0] == "说明"
    figures = doc.figures()
    assert len(names) == len(figures) + 1
    for name, figure in zip(names[1:], figures, strict=True):
        rows = list(book[name].iter_rows(values_only=True))
        assert list(rows[0]) == figure.table.columns
        assert len(rows) - 1 == figure.table.height
        for got, want in zip(rows[1:], figure.table.iter_rows(), strict=True):
            assert [None if v == "" else v for v in got] == [None if v == "" else v for v in want]
    about = [r for r in book["说明"].iter_rows(values_only=True)]
    text = "\n".join(str(c) for r in about for c in r)
    assert "SHA-256" in text and "hubei-reference-2024" in text and "口径" in text
    book.close()


def test_the_page_is_offline_escaped_and_labelled(written: tuple[Path, Path, Document]) -> None:
    html, _, doc = written
    text = html.read_text(encoding="utf-8")
    page = htmlpage.parse(text)
    assert not page.unclosed
    assert all(value.startswith("#") and value[1:] in page.ids for _, _, value in page.links)
    assert "script" not in page.tags and "img" not in page.tags and "link" not in page.tags
    assert "url(" not in text and "@import" not in text and "//" not in "".join(page.styles)
    policy = next(
        m["content"] for m in page.metas if m.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in policy and "'unsafe-inline'" not in policy
    # every chart is an image with an accessible name and description that exist
    for svg_id, attrs in page.svgs.items():
        assert attrs["role"] == "img"
        assert all(part in page.ids for part in attrs["aria-labelledby"].split()), svg_id
    assert len(page.svgs) == sum(f.chart is not None for f in doc.figures())
    words = "".join(page.text)
    for needle in (
        "口径",
        "2026-07-01",
        "hubei-reference-2024",
        "江岸区",
        "批发和零售业",
        "新增",
        "消失",
    ):
        assert needle in words
    for record in doc.source:
        assert record[1] in words
    sha = next(text for label, text in doc.source if label == "分型规则")
    assert sha.split("SHA-256 ")[1] in words


def test_the_same_run_gives_the_same_bytes(runs: Path, tmp_path: Path) -> None:
    first = write_report(ReportOptions(run=runs / "2026-07-01", out=tmp_path / "a"))
    cwd = os.getcwd()
    os.chdir(runs)
    try:  # from another folder, the run named relatively: the same bytes
        second = write_report(ReportOptions(run=Path("2026-07-01"), out=tmp_path / "b"))
    finally:
        os.chdir(cwd)
    assert first.html.read_bytes() == second.html.read_bytes()
    assert first.xlsx.read_bytes() == second.xlsx.read_bytes()
    assert first.html.name == "监测报告_2026-07-01.html"
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]


# ---- the previous run: recorded, given, missing --------------------------------------------


def test_against_replaces_the_previous_run(runs: Path) -> None:
    doc = build_report(runs / "2026-07-01", against=runs / "2024-07-01")
    figure = by_id(doc)["f-matrix"]
    assert "2024-07-01 → 2026-07-01" in figure.title and "2024-07-01" in figure.source
    pairs = transitions(rows_of(runs / "2024-07-01"), rows_of(runs / "2026-07-01"))
    new = sum(1 for _, b, _ in pairs if b == "new")
    matrix = {r["上次\\本次"]: r for r in records(figure)}
    assert matrix["新增"]["合计"] == new


def test_first_run_and_lost_previous_run_say_no_data(runs: Path, tmp_path: Path) -> None:
    first = build_report(runs / "2024-07-01")
    section = next(s for s in first.sections if s.id == "s-transitions")
    assert not section.figures and section.empty and section.empty.startswith("暂无数据")
    # a copy of the last run alone: its recorded previous run is nowhere to be found
    alone = tmp_path / "elsewhere" / "2026-07-01"
    shutil.copytree(runs / "2026-07-01", alone)
    moved = runs.parent / "runs-moved"
    runs.rename(moved)
    try:
        doc = build_report(alone)
    finally:
        moved.rename(runs)
    section = next(s for s in doc.sections if s.id == "s-transitions")
    assert section.empty and "--against" in section.empty and "找不到" in section.empty
    categories = next(s for s in doc.sections if s.id == "s-categories")
    assert categories.empty and categories.empty.startswith("暂无数据")


def test_against_that_is_not_a_run_is_an_error(runs: Path, tmp_path: Path) -> None:
    with pytest.raises(RunError, match="no such run folder"):
        build_report(runs / "2026-07-01", against=tmp_path / "nothing")


# ---- what the outcome files do not carry, and hostile text -----------------------------------

NARROW_RULESET = """\
id: narrow-test
title: 只读经营年限的规则(测试)
effective_from: "2024-07-01"
source: a test ruleset whose tier rules read neither employees nor insured staff
parameters:
  growth_min_years: {label: 成长型最低经营年限, value: 1, unit: 年, source: test}
derived:
  - {id: years_in_business, label: 经营年限, expr: "complete_years(established_on, run_date)"}
basic_conditions:
  - id: registered
    label: 登记状态有效
    when: "register_status in [\\"存续\\", \\"在营\\", \\"开业\\"]"
tiers:
  - id: growth.years
    tier: growth
    label: 经营满一年
    when: "years_in_business >= growth_min_years"
  - {id: survival.default, tier: survival, label: 其他, default: true}
"""


def small_run(
    base: Path,
    annual: list[str],
    *,
    rules: Path = RULES,
    folder: str = "in",
    runs: str = "runs",
    against: Path | None = None,
) -> Path:
    extracts = write_csv_extracts(
        base / folder, annual, "纳税人识别号,所属年度,销售额\n", "单位统一社会信用代码,参保人数\n"
    )
    options = RunOptions(
        run_date=date(2024, 7, 1),
        inputs={k: (v,) for k, v in extracts.items()},
        out=base / runs,
        rules=rules,
        excel=False,
        against=against,
    )
    return classify(options).run_dir


def annual_row(code: str, region: str, industry: str = "F5211", staff: str = "2") -> str:
    return (
        f"{code},店,张三,,,{region},{industry},2018-01-01,存续,2023,2024-02-01,开业,{staff},5,0,"
        "否,否,"
    )


def test_a_business_counts_in_its_district_of_now_and_a_gone_one_in_its_last(
    tmp_path: Path,
) -> None:
    moved, gone, stays = "92420102MA4K1B2C9D", "92420104MA4K1B2C9A", "92420105MA4K1B2C9B"
    before = small_run(
        tmp_path,
        [annual_row(moved, "420102"), annual_row(gone, "420104"), annual_row(stays, "420105")],
        folder="a",
        runs="runs-a",
    )
    after = small_run(
        tmp_path,
        [annual_row(moved, "420103"), annual_row(stays, "420105")],
        folder="b",
        runs="runs-b",
        against=before,
    )
    moves = {r["区划"]: r for r in records(by_id(build_report(after))["f-moves"])}
    assert set(moves) == {"江汉区", "硚口区", "汉阳区", "合计"}  # not 江岸区: it moved away
    assert moves["江汉区"]["未变"] == 1 and moves["江汉区"]["上次户数"] == 1
    assert moves["硚口区"]["消失"] == 1 and moves["硚口区"]["本次户数"] == 0
    assert moves["合计"]["未变"] == 2


def test_missing_indicator_columns_are_said_not_guessed(tmp_path: Path) -> None:
    rules = tmp_path / "narrow.yaml"
    rules.write_text(NARROW_RULESET, encoding="utf-8")
    run = small_run(tmp_path, [annual_row("92420102MA4K1B2C9D", "420102")], rules=rules)
    assert "employees" not in pl.read_parquet(run / "survival.parquet").columns
    doc = build_report(run)
    section = next(s for s in doc.sections if s.id == "s-employment")
    assert not section.figures and section.empty == "暂无数据"
    notes = "".join(section.notes)
    assert "从业人数" in notes and "employees" in notes and "参保职工人数" in notes


def test_every_shown_text_is_escaped(tmp_path: Path) -> None:
    hostile_region = '"<script>alert(1)</script>&amp;"'  # CSV-quoted: the value has no quotes
    rows = [
        annual_row("92420102MA4K1B2C9D", hostile_region, industry="<b>F</b>"),
        annual_row("92420103MA4K1B2C9X", "420103", staff="3"),
    ]
    run = small_run(tmp_path, rows, folder='in <&"x">')
    result = write_report(ReportOptions(run=run, out=tmp_path / "out"))
    text = result.html.read_text(encoding="utf-8")
    page = htmlpage.parse(text)
    assert "script" not in page.tags and "b" not in page.tags
    assert not page.unclosed
    words = "".join(page.text)
    assert "<script>alert(1)</script>&amp;" in words  # shown as the text it is
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;" in text
    assert 'in <&"x">' in words  # the input path in the footnote
    marks = [m for ms in page.marks.values() for m in ms]
    assert any(m["data-category"] == "<script>alert(1)</script>&amp;" for m in marks)


def test_a_run_that_is_not_there_is_a_run_error(tmp_path: Path) -> None:
    with pytest.raises(RunError):
        build_report(tmp_path / "2024-07-01")
