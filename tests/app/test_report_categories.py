"""The report's 名特优新 section (SPEC §10, §12; seed 二(五)、二(六)) over real registers written
with the register's own API (`append` of certified events), against figures counted by hand
from the events: entries and businesses in force on the run date, the shares of 党员经营户 and
of 先进个体工商户 among them, per category and per district; 暂无数据 without entries or without a
register; the register of gthfx.yaml's categories folder as the default."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

import htmlpage
from gthfx.app.categories import register as reg
from gthfx.app.report import ReportOptions, build_report, write_report
from gthfx.cli.main import app
from gthfx.report.document import Document
from support import generated_runs

RUN_DATE = date(2026, 7, 1)


def certified(
    uscc: str, category: str, region: str | None, on: date, *, party: bool, advanced: bool
) -> dict[str, Any]:
    """A certified event: valid three years from `on`."""
    end = date(on.year + 3, on.month, on.day)
    return {
        "event": reg.CERTIFIED, "uscc": uscc, "category": category, "date": on,
        "valid_from": on, "valid_to": date.fromordinal(end.toordinal() - 1),
        "evaluation_from": date(on.year + 2, on.month, on.day), "reasons": [],
        "criteria_met": ["known.trademark"], "region_code": region, "industry_code": "F5211",
        "tier": "growth", "route": "自主申报", "consent": None, "special_group": None,
        "party_member": party, "advanced": advanced,
    }  # fmt: skip


def write_register(folder: Path, events: list[dict[str, Any]], on: date) -> Path:
    schema = {k: v for k, v in reg.EVENT_SCHEMA.items() if k != "seq"}
    batch = reg.Batch(kind="certification", batch_id=f"certification/{on}", on=on)
    reg.append(folder, batch, pl.DataFrame(events, schema=schema))
    return folder


B1, B2, B3, B4 = (f"92420102MA000000{k}X" for k in range(1, 5))
LAST_YEAR = date(2025, 11, 28)
# in force on the run date: 7 entries of 6 businesses — 2 党员经营户 (B1 twice, B4), 3 先进 (B2,
# B3, B4); per category: known 3 (江岸区 2, 武昌区 1), quality 2 (武昌区), emerging 2 (江岸区, none)
EVENTS = [
    certified(B1, "known", "420102", LAST_YEAR, party=True, advanced=False),
    certified(B1, "quality", "420106", LAST_YEAR, party=True, advanced=False),
    certified(B2, "known", "420102", LAST_YEAR, party=False, advanced=True),
    certified(B3, "known", "420106", LAST_YEAR, party=False, advanced=True),
    certified(B4, "quality", "420106", LAST_YEAR, party=True, advanced=True),
    certified("92420102MA0000005X", "emerging", "420102", LAST_YEAR, party=False, advanced=False),
    certified("92420102MA0000006X", "emerging", None, LAST_YEAR, party=False, advanced=False),
]
# certified after the run date: not in force on it
LATER = [certified(B1, "distinctive", "420102", date(2026, 11, 30), party=True, advanced=True)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_runs(tmp_path_factory.mktemp("categories"), rows=200, years=1)


def figures(doc: Document) -> dict[str, list[dict[str, Any]]]:
    return {f.id: f.table.to_dicts() for f in doc.figures() if f.id.startswith("f-cat")}


def test_counts_and_shares_per_category_and_district(runs: Path, tmp_path: Path) -> None:
    register = write_register(tmp_path / "register", EVENTS, LAST_YEAR)
    reg.append(
        register,
        reg.Batch(kind="certification", batch_id="certification/later", on=date(2026, 11, 30)),
        pl.DataFrame(LATER, schema={k: v for k, v in reg.EVENT_SCHEMA.items() if k != "seq"}),
    )
    result = write_report(ReportOptions(run=runs / "2026-07-01", out=tmp_path, register=register))
    tables = figures(result.document)
    overall = {r["指标"]: r for r in tables["f-cat-overall"]}
    assert overall["认定户次"]["户数"] == 7 and overall["认定户数"]["户数"] == 6
    assert overall["党员经营户"] == {"指标": "党员经营户", "户数": 2, "比例(%)": 33.33}
    assert overall["全国或省级先进个体工商户"]["比例(%)"] == 50.0
    per = {r["类别"]: r for r in tables["f-cat-categories"]}
    assert list(per) == ["知名", "特色", "优质", "新兴"]
    assert per["知名"] == {
        "类别": "知名", "认定户次": 3, "党员经营户": 1, "党员经营户比例(%)": 33.33,
        "先进个体工商户": 2, "先进个体工商户比例(%)": 66.67,
    }  # fmt: skip
    assert (
        per["优质"]["党员经营户比例(%)"] == 100.0 and per["优质"]["先进个体工商户比例(%)"] == 50.0
    )
    assert per["特色"]["认定户次"] == 0 and per["特色"]["党员经营户比例(%)"] is None  # not yet
    districts = tables["f-cat-districts"]
    assert [r["区划"] for r in districts] == ["江岸区", "武昌区", "未知", "合计"]
    assert districts[0] == {"行政区划代码": "420102", "区划": "江岸区", "知名": 2, "特色": 0,
                            "优质": 0, "新兴": 1, "合计": 3}  # fmt: skip
    assert districts[1]["优质"] == 2 and districts[1]["知名"] == 1
    assert districts[-1]["合计"] == 7
    page = htmlpage.parse(result.html.read_text(encoding="utf-8"))
    row = next(r for r in page.tables["f-cat-categories-table"].rows if r[0] == "特色")
    assert row[3] == "暂无数据" and row[5] == "暂无数据"
    words = "".join(page.text)
    assert "认定户次:在该日有效的名特优新认定" in words and "截至 2026-07-01" in words
    marks = page.marks["f-cat-districts-chart"]
    assert {(m["data-category"], m["data-column"]): m["data-value"] for m in marks}[
        ("武昌区", "优质")
    ] == "2"


def test_a_register_without_entries_in_force_says_no_data(runs: Path, tmp_path: Path) -> None:
    register = write_register(tmp_path / "register", LATER, date(2026, 11, 30))
    doc = build_report(runs / "2026-07-01", register=register)
    tables = figures(doc)
    assert all(
        r["认定户次"] == 0 and r["党员经营户比例(%)"] is None for r in tables["f-cat-categories"]
    )
    assert tables["f-cat-districts"] == [
        {"行政区划代码": "", "区划": "合计", "知名": 0, "特色": 0, "优质": 0, "新兴": 0, "合计": 0}
    ]
    overall = next(f for f in doc.figures() if f.id == "f-cat-overall")
    assert overall.note and "暂无数据" in overall.note


def test_no_register_is_no_data(runs: Path) -> None:
    section = next(s for s in build_report(runs / "2026-07-01").sections if s.id == "s-categories")
    assert not section.figures
    assert section.empty and section.empty.startswith("暂无数据") and "--register" in section.empty


def test_the_register_of_the_project_config_is_the_default(runs: Path, tmp_path: Path) -> None:
    config = tmp_path / "gthfx.yaml"
    config.write_text(f"out: {runs}\ncategories: cats\n", encoding="utf-8")
    args = ["report", "--run", "2026-07-01", "--out", str(tmp_path / "r"), "--config", str(config)]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    page = (tmp_path / "r" / "监测报告_2026-07-01.html").read_text(encoding="utf-8")
    assert "未指定名特优新名录" in page  # cats/register does not exist: no register
    write_register(tmp_path / "cats" / "register", EVENTS, LAST_YEAR)
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    page = (tmp_path / "r" / "监测报告_2026-07-01.html").read_text(encoding="utf-8")
    assert "未指定名特优新名录" not in page and "名特优新认定概况" in page
