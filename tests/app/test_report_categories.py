"""The report's 名特优新 section (SPEC §10, §12; seed 二(五)、二(六)) over the register's figures.

The register and its `category_numbers(register_dir, on)` arrive with the categories feature
(`gthfx.app.categories.register`). Until it is part of this gthfx, the first tests give the
section a stand-in module with that function, returning figures in the documented shape
(`CategoryNumbers`: frames by category and district, by category, overall counts and shares as
fractions, definitions) — the same shape the real function returned for a register built by the
categories branch's own helpers. The stand-in replaces the real module for those tests
even when it is there. The last test builds a real register with the categories API and runs
when that API is importable.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import htmlpage
from gthfx.app.report import ReportOptions, build_report, write_report
from gthfx.report.document import Document
from support import generated_runs

HAS_REGISTER = importlib.util.find_spec("gthfx.app.categories") is not None


@dataclass(frozen=True)
class Numbers:
    """The documented shape of `category_numbers`'s answer."""

    on: date
    by_category_district: pl.DataFrame
    by_category: pl.DataFrame
    overall: dict[str, Any]
    definitions: dict[str, str]


def numbers(on: date, *, empty: bool = False) -> Numbers:
    if empty:
        grid = pl.DataFrame(
            schema={
                "category": pl.String,
                "region_code": pl.String,
                "district": pl.String,
                "entries": pl.Int64,
            }
        )
        per = [(c, 0, 0, 0, None, None) for c in ("known", "distinctive", "quality", "emerging")]
        overall = {"entries": 0, "businesses": 0, "party_member": 0, "advanced": 0,
                   "party_share": None, "advanced_share": None}  # fmt: skip
    else:
        grid = pl.DataFrame(
            {
                "category": ["known", "known", "quality", "emerging"],
                "region_code": ["420102", "420106", "420106", None],
                "district": ["江岸区", "武昌区", "武昌区", "未知"],
                "entries": [3, 1, 2, 1],
            }
        )
        per = [
            ("known", 4, 1, 2, 0.25, 0.5),
            ("distinctive", 0, 0, 0, None, None),
            ("quality", 2, 2, 0, 1.0, 0.0),
            ("emerging", 1, 0, 1, 0.0, 1.0),
        ]
        overall = {"entries": 7, "businesses": 6, "party_member": 2, "advanced": 3,
                   "party_share": 2 / 6, "advanced_share": 3 / 6}  # fmt: skip
    by_category = pl.DataFrame(
        per,
        schema={"category": pl.String, "entries": pl.Int64, "party_member": pl.Int64,
                "advanced": pl.Int64, "party_share": pl.Float64, "advanced_share": pl.Float64},
        orient="row",
    )  # fmt: skip
    words = {"entries": "认定户次:在该日有效的认定", "party_share": "党员经营户比例:……"}
    return Numbers(on, grid, by_category, overall, words)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_runs(tmp_path_factory.mktemp("categories"), rows=200, years=1)


def stand_in(monkeypatch: pytest.MonkeyPatch, answer: Numbers, asked: list[Any]) -> None:
    def category_numbers(register_dir: Path, on: date) -> Numbers:
        asked.append((register_dir, on))
        return answer

    package = types.ModuleType("gthfx.app.categories")
    package.__path__ = []
    module = types.ModuleType("gthfx.app.categories.register")
    module.category_numbers = category_numbers  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gthfx.app.categories", package)
    monkeypatch.setitem(sys.modules, "gthfx.app.categories.register", module)


def figures(doc: Document) -> dict[str, list[dict[str, Any]]]:
    return {f.id: f.table.to_dicts() for f in doc.figures() if f.id.startswith("f-cat")}


def test_counts_and_shares_per_category_and_district(
    runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Any] = []
    stand_in(monkeypatch, numbers(date(2026, 7, 1)), asked)
    register = tmp_path / "register"
    register.mkdir()
    result = write_report(ReportOptions(run=runs / "2026-07-01", out=tmp_path, register=register))
    assert asked == [(register, date(2026, 7, 1))]  # the register as of the run date
    tables = figures(result.document)
    overall = {r["指标"]: r for r in tables["f-cat-overall"]}
    assert overall["认定户次"]["户数"] == 7 and overall["认定户数"]["户数"] == 6
    assert overall["党员经营户"] == {"指标": "党员经营户", "户数": 2, "比例(%)": 33.33}
    assert overall["全国或省级先进个体工商户"]["比例(%)"] == 50.0
    per = {r["类别"]: r for r in tables["f-cat-categories"]}
    assert list(per) == ["知名", "特色", "优质", "新兴"]
    assert per["知名"]["党员经营户比例(%)"] == 25.0 and per["知名"]["先进个体工商户比例(%)"] == 50.0
    assert per["特色"]["党员经营户比例(%)"] is None  # no entry: no share
    districts = tables["f-cat-districts"]
    assert [r["区划"] for r in districts] == ["江岸区", "武昌区", "未知", "合计"]
    assert districts[1] == {"行政区划代码": "420106", "区划": "武昌区", "知名": 1, "特色": 0,
                            "优质": 2, "新兴": 0, "合计": 3}  # fmt: skip
    assert districts[-1]["合计"] == 7
    page = htmlpage.parse(result.html.read_text(encoding="utf-8"))
    row = next(r for r in page.tables["f-cat-categories-table"].rows if r[0] == "特色")
    assert row[3] == "暂无数据" and row[5] == "暂无数据"
    words = "".join(page.text)
    assert "认定户次:在该日有效的认定" in words and "register" in words


def test_a_register_without_entries_says_no_data(
    runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in(monkeypatch, numbers(date(2026, 7, 1), empty=True), [])
    doc = build_report(runs / "2026-07-01", register=tmp_path)
    tables = figures(doc)
    assert all(r["党员经营户比例(%)"] is None for r in tables["f-cat-categories"])
    assert tables["f-cat-districts"] == [
        {"行政区划代码": "", "区划": "合计", "知名": 0, "特色": 0, "优质": 0, "新兴": 0, "合计": 0}
    ]
    overall = next(f for f in doc.figures() if f.id == "f-cat-overall")
    assert overall.note and "暂无数据" in overall.note


def test_no_register_is_no_data(runs: Path) -> None:
    section = next(s for s in build_report(runs / "2026-07-01").sections if s.id == "s-categories")
    assert not section.figures
    assert section.empty and section.empty.startswith("暂无数据") and "--register" in section.empty


@pytest.mark.skipif(not HAS_REGISTER, reason="the 名特优新 register (gthfx.app.categories) is not "
                    "part of this gthfx yet")  # fmt: skip
def test_a_real_register(runs: Path, tmp_path: Path) -> None:
    from gthfx.app.categories import register as reg  # type: ignore[import-not-found]

    schema = {k: v for k, v in reg.EVENT_SCHEMA.items() if k != "seq"}
    start = date(2025, 11, 28)

    def certified(
        uscc: str, category: str, region: str, party: bool, advanced: bool
    ) -> dict[str, Any]:
        return {
            "event": reg.CERTIFIED, "uscc": uscc, "category": category, "date": start,
            "valid_from": start, "valid_to": date(2028, 11, 27),
            "evaluation_from": date(2027, 11, 28),
            "reasons": [], "criteria_met": ["known.trademark"], "region_code": region,
            "industry_code": "F5211", "tier": "growth", "route": "自主申报", "consent": None,
            "special_group": None, "party_member": party, "advanced": advanced,
        }  # fmt: skip

    events = pl.DataFrame(
        [
            certified("92420102MA0000001X", "known", "420102", True, False),
            certified("92420102MA0000001X", "quality", "420102", True, False),
            certified("92420106MA0000002X", "known", "420106", False, True),
        ],
        schema=schema,
    )
    register = tmp_path / "register"
    reg.append(register, reg.Batch(kind="certification", batch_id="c/2025", on=start), events)
    tables = figures(build_report(runs / "2026-07-01", register=register))
    overall = {r["指标"]: r for r in tables["f-cat-overall"]}
    assert overall["认定户次"]["户数"] == 3 and overall["认定户数"]["户数"] == 2
    assert overall["党员经营户"]["比例(%)"] == 50.0
    assert overall["全国或省级先进个体工商户"]["比例(%)"] == 50.0
    per = {r["类别"]: r for r in tables["f-cat-categories"]}
    assert per["知名"]["认定户次"] == 2 and per["优质"]["党员经营户比例(%)"] == 100.0
    assert [r["合计"] for r in tables["f-cat-districts"]] == [2, 1, 3]


def test_the_register_of_the_project_config_is_the_default(
    runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from gthfx.cli.main import app

    asked: list[Any] = []
    stand_in(monkeypatch, numbers(date(2026, 7, 1)), asked)
    config = tmp_path / "gthfx.yaml"
    config.write_text(f"out: {runs}\ncategories: cats\n", encoding="utf-8")
    args = ["report", "--run", "2026-07-01", "--out", str(tmp_path / "r"), "--config", str(config)]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert asked == []  # cats/register does not exist: no register, 暂无数据
    (tmp_path / "cats" / "register").mkdir(parents=True)
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert asked == [(tmp_path / "cats" / "register", date(2026, 7, 1))]
