"""The report's renderers on their own: GB/T 4754 sections, the SVG charts (values, escaping,
colours that survive grey print and colour blindness, determinism), the HTML page (policy,
structure, escaping of every text, nothing outside the page) and the workbook's sheets."""

from __future__ import annotations

import base64
import hashlib
import itertools
import re

import polars as pl
import pytest

import htmlpage
from gthfx.report import svg
from gthfx.report.document import Chart, Document, Figure, Section, document_sheets, sheet_name
from gthfx.report.html import CSS, render_html
from gthfx.report.industries import SECTIONS, UNKNOWN, industry_section, section_label

HOSTILE = "<script>alert(\"x\")</script> & 'q'"


# ---- industry sections ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "section"),
    [
        ("F5261", "F"), ("f5261", "F"), (" H6210 ", "H"), ("A0111", "A"), ("T9700", "T"),
        ("5261", "F"),  # no letter: the division 52 lies in section F (51–52)
        ("0111", "A"), ("4411", "D"), ("4700", "E"), ("7010", "K"), ("8310", "P"),
        ("9700", "T"), ("9610", "S"), ("1310", "C"), ("4390", "C"),
        ("Z1234", UNKNOWN), ("9800", UNKNOWN), ("", UNKNOWN), (None, UNKNOWN), ("x", UNKNOWN),
    ],
)  # fmt: skip
def test_industry_section(code: str | None, section: str) -> None:
    frame = pl.DataFrame({"c": [code]}, schema={"c": pl.String})
    assert frame.select(industry_section(pl.col("c"))).item() == section


def test_every_section_has_its_chinese_name() -> None:
    assert list(SECTIONS) == [chr(c) for c in range(ord("A"), ord("T") + 1)]
    frame = pl.DataFrame({"s": [*SECTIONS, UNKNOWN]})
    labels = frame.select(section_label(pl.col("s"))).to_series().to_list()
    assert labels[5] == "批发和零售业" and labels[7] == "住宿和餐饮业" and labels[-1] == "未知门类"


# ---- charts -----------------------------------------------------------------------------------

PALETTES = {
    "tiers": tuple(svg.TIER_COLOURS.values()),
    "cividis 6": svg.CIVIDIS_6,
    "cividis 4": svg.CIVIDIS_4,
    "measures": svg.MEASURE_COLOURS,
}


@pytest.mark.parametrize("name", PALETTES)
def test_palettes_stay_apart_in_grey(name: str) -> None:
    """Grey print and every colour blindness keep lightness: series of one chart differ by at
    least 12 L* (a step a reader tells apart on paper)."""
    levels = sorted(svg.lightness(c) for c in PALETTES[name])
    gaps = [b - a for a, b in itertools.pairwise(levels)]
    assert min(gaps) >= 12, (name, levels)


def test_lightness_of_known_colours() -> None:
    assert svg.lightness("#000000") == pytest.approx(0, abs=0.01)
    assert svg.lightness("#ffffff") == pytest.approx(100, abs=0.01)
    assert svg.lightness("#777777") == pytest.approx(50.0, abs=0.5)


def test_tier_colours_darken_with_the_tier() -> None:
    order = [svg.lightness(svg.TIER_COLOURS[t]) for t in ("survival", "growth", "development")]
    assert order == sorted(order, reverse=True)


@pytest.mark.parametrize(
    ("maximum", "integer", "ticks"),
    [
        (1315, True, [0, 500, 1000, 1500]),
        (7, True, [0, 2, 4, 6, 8]),
        (3, True, [0, 1, 2, 3]),
        (0, True, [0, 1]),
        (0.9, False, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    ],
)
def test_nice_ticks(maximum: float, integer: bool, ticks: list[float]) -> None:
    assert svg.nice_ticks(maximum, integer=integer) == ticks


def marks(text: str) -> list[dict[str, str]]:
    return [m for ms in htmlpage.parse(text).marks.values() for m in ms]


@pytest.mark.parametrize("mode", ["grouped", "stacked", "percent"])
@pytest.mark.parametrize("vertical", [False, True])
def test_bars_carry_every_value_and_escape_every_label(mode: str, vertical: bool) -> None:
    series = [
        svg.Series(name=HOSTILE, colour="#9ecae1", values=(1, 0, None), column="a"),
        svg.Series(name="成长型", colour="#08306b", values=(2.5, 3, 4), column="b"),
    ]
    text = svg.bar_chart(
        "c1", f"图表1 {HOSTILE}", HOSTILE, ["江岸区", HOSTILE, "x"], series,
        mode=mode, unit="%" if mode == "percent" else "户", vertical=vertical,
    )  # fmt: skip
    page = htmlpage.parse(text)
    assert not page.unclosed
    assert "script" not in page.tags
    drawn = {(m["data-category"], m["data-column"]): float(m["data-value"]) for m in marks(text)}
    assert drawn == {
        ("江岸区", "a"): 1, (HOSTILE, "a"): 0, ("江岸区", "b"): 2.5, (HOSTILE, "b"): 3,
        ("x", "b"): 4,
    }  # fmt: skip
    assert page.svgs["c1"]["role"] == "img"
    assert page.svgs["c1"]["aria-labelledby"] == "c1-t c1-d"
    assert {"c1-t", "c1-d"} <= page.ids
    assert text == svg.bar_chart(
        "c1", f"图表1 {HOSTILE}", HOSTILE, ["江岸区", HOSTILE, "x"], series,
        mode=mode, unit="%" if mode == "percent" else "户", vertical=vertical,
    )  # fmt: skip


def test_bar_lengths_are_proportional_to_values() -> None:
    series = [svg.Series(name="户数", colour=svg.SINGLE, values=(100, 50, 25), column="n")]
    text = svg.bar_chart("c", "t", "d", ["a", "b", "c"], series)
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"[^>]*data-value', text)]
    assert widths[0] == pytest.approx(2 * widths[1], rel=1e-3)
    assert widths[1] == pytest.approx(2 * widths[2], rel=1e-3)


def test_grid_outlines_the_diagonal_and_escapes() -> None:
    text = svg.grid_chart(
        "g", "t", "d", ["生存型", HOSTILE], ["生存型", "消失"], [[5, 1], [0, None]], unit="户"
    )
    drawn = {(m["data-category"], m["data-column"]): m["data-value"] for m in marks(text)}
    assert drawn == {("生存型", "生存型"): "5", ("生存型", "消失"): "1", (HOSTILE, "生存型"): "0"}
    diagonal = re.findall(r'<rect [^>]*stroke-width="2"[^>]*data-category="([^"]*)"', text)
    assert diagonal == ["生存型"]
    assert "<script>" not in text


def test_text_on_dark_fills_is_white() -> None:
    series = [svg.Series(name="发展型", colour=svg.TIER_COLOURS["development"], values=(80,))]
    text = svg.bar_chart("c", "t", "d", ["a"], series, mode="stacked")
    assert 'fill="#ffffff" aria-hidden="true">80<' in text


# ---- the page ---------------------------------------------------------------------------------


def document(figures: tuple[Figure, ...]) -> Document:
    return Document(
        title=f"报告 {HOSTILE}",
        subtitle=HOSTILE,
        keys=((HOSTILE, HOSTILE),),
        sections=(
            Section(
                id="s1", title=f"一、{HOSTILE}", intro=HOSTILE, figures=figures, notes=(HOSTILE,)
            ),
            Section(id="s2", title="二、空", intro="x", empty=f"暂无数据:{HOSTILE}"),
        ),
        source=((HOSTILE, f"C:\\数据\\{HOSTILE}.csv SHA-256 ab12"),),
        source_line=HOSTILE,
        generator="gthfx test",
    )


def figure(**more: object) -> Figure:
    table = pl.DataFrame(
        {
            "区划": ["江岸区", HOSTILE, "合计"],
            "户数": [3, None, 3],
            "占比(%)": [100.0, None, 100.0],
        },
        schema={"区划": pl.String, "户数": pl.Int64, "占比(%)": pl.Float64},
    )
    chart = Chart(kind="bars", category="区划", series=("户数",), colours=(svg.SINGLE,),
                  desc=HOSTILE, rows=(0, 1), unit="户")  # fmt: skip
    settings: dict[str, object] = {
        "id": "f1", "title": HOSTILE, "table": table, "definition": HOSTILE, "chart": chart,
        "total_rows": (2,), "note": HOSTILE, "source": HOSTILE,
    }  # fmt: skip
    return Figure(**(settings | more))  # type: ignore[arg-type]


def test_the_page_escapes_every_text_and_reaches_nothing_outside() -> None:
    text = render_html(document((figure(), figure(id="f2", chart=None))))
    page = htmlpage.parse(text)
    assert not page.unclosed
    assert page.tags.count("script") == 0
    words = "".join(page.text)
    assert words.count(HOSTILE) >= 10
    assert all(v.startswith("#") and v[1:] in page.ids for _, _, v in page.links)
    assert not [s for s in page.styles if "url(" in s or "@import" in s]
    assert page.tables["f1-table"].rows[1] == [HOSTILE, "—", "—"]
    assert page.tables["f1-table"].rows[2] == ["合计", "3", "100.00"]
    assert "图表2" in words and "图表1" in words


def test_the_policy_admits_only_the_pages_own_stylesheet() -> None:
    page = htmlpage.parse(render_html(document((figure(),))))
    policy = next(
        m["content"] for m in page.metas if m.get("http-equiv") == "Content-Security-Policy"
    )
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy and "connect-src 'none'" in policy
    assert "unsafe" not in policy and "http" not in policy
    assert page.styles[0] == CSS  # the stylesheet hashed is the one in the page, byte for byte
    assert "@page" in CSS and "A4" in CSS and "@media print" in CSS


def test_the_missing_text_of_a_figure_is_used() -> None:
    page = htmlpage.parse(render_html(document((figure(missing="暂无数据"),))))
    assert page.tables["f1-table"].rows[1] == [HOSTILE, "暂无数据", "暂无数据"]


# ---- the workbook's sheets -----------------------------------------------------------------


def test_sheets_hold_the_tables_with_a_first_sheet_of_definitions() -> None:
    doc = document((figure(), figure(id="f2", title="同名[表]/:*?")))
    sheets = document_sheets(doc)
    assert sheets[0][0] == "说明"
    assert sheets[1][1].equals(doc.figures()[0].table)
    about = sheets[0][1]
    assert about.columns == ["项目", "内容"]
    assert HOSTILE in about["内容"].to_list()
    names = [name for name, _ in sheets]
    assert len(set(names)) == len(names)
    assert all(len(n) <= 31 and not re.search(r"[\[\]:*?/\\]", n) for n in names)


def test_sheet_names_are_cut_and_kept_unique() -> None:
    taken: set[str] = set()
    long = "各区名特优新认定户次及党员经营户、先进个体工商户比例和更多的文字"
    first, second = sheet_name(12, long, taken), sheet_name(12, long, taken)
    assert len(first) == 31 and len(second) == 31 and first != second
