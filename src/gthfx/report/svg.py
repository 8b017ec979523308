"""Charts drawn as inline SVG text by gthfx itself, for the monitoring report: bars (simple,
grouped, stacked, 100 % stacked; horizontal or vertical) and a grid of counts (a transition
matrix).

The promise: a chart is a pure function of the numbers it is given — no script, no font file, no
reference to anything outside the page, no random ids (ids come from the caller), so the same
numbers give the same bytes. Every drawn value carries its category, series and exact value as
`data-*` attributes and a `<title>` tooltip, so a test (or a screen reader) can check the chart
against its table. Every text is escaped. Colours are ramps of distinct lightness (each step at
least 12 L* from the next), so series stay apart in grey print and for every kind of colour
blindness; the darkest fills carry white text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal

FONT_SIZE = 12
WIDTH = 720  # viewBox units; the SVG scales to its container
BACKGROUND_STROKE = "#ffffff"
AXIS = "#595959"
GRID = "#d9d9d9"
TEXT = "#1a1a1a"
OUTLINE = "#595959"  # drawn round fills too light to see on white

# ramps of distinct lightness (L*): tiers light → dark in tier order, excluded nearly white
TIER_COLOURS = {
    "survival": "#9ecae1",
    "growth": "#4292c6",
    "development": "#08306b",
    "excluded": "#f0f0f0",
}
# cividis (Nuñez, Anderton & Renslow 2018): made for colour-blind readers, lightness rising
CIVIDIS_6 = ("#00224e", "#35456c", "#666970", "#948e77", "#c8b866", "#fee838")
CIVIDIS_4 = ("#00224e", "#666970", "#c8b866", "#fee838")
MEASURE_COLOURS = ("#2171b5", "#9ecae1")
SINGLE = "#4292c6"

Mode = Literal["grouped", "stacked", "percent"]


@dataclass(frozen=True)
class Series:
    """One series of a chart: its name (legend), colour, one value per category (None: no
    value, nothing drawn), and the table column it was drawn from (`data-column`)."""

    name: str
    colour: str
    values: tuple[float | None, ...]
    column: str = ""


def relative_luminance(colour: str) -> float:
    """WCAG relative luminance of `#rrggbb`."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def lightness(colour: str) -> float:
    """CIE L* (0 black … 100 white) of `#rrggbb`: what survives grey print."""
    y = relative_luminance(colour)
    return 116 * (y ** (1 / 3) if y > 216 / 24389 else (24389 / 27 * y + 16) / 116) - 16


def _ink(fill: str) -> str:
    return "#ffffff" if relative_luminance(fill) < 0.18 else TEXT


def _needs_outline(fill: str) -> bool:
    return relative_luminance(fill) > 0.8


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """An estimate of the drawn width: CJK characters are square, others about 0.6 em."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.6 for ch in text)


def number(value: float, unit: str = "") -> str:
    """How a value is written in charts and tables: integers with thousands separators, shares
    with two decimals."""
    if unit == "%" or (isinstance(value, float) and not float(value).is_integer()):
        return f"{value:,.2f}"
    return f"{int(value):,}"


def tick(value: float, unit: str) -> str:
    """An axis label: whole numbers without decimals, `%` after shares."""
    text = f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"
    return text + ("%" if unit == "%" else "")


def data_value(value: float) -> str:
    """The exact value as a `data-value` attribute."""
    return str(value) if isinstance(value, int) else repr(float(value))


def nice_ticks(maximum: float, *, integer: bool, count: int = 5) -> list[float]:
    """Round axis ticks from 0 covering `maximum` (steps of 1, 2, 2.5 or 5 × 10^k)."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude
    for m in (1, 2, 2.5, 5, 10):
        step = m * magnitude
        if step >= raw:
            break
    if integer:
        step = max(1, math.ceil(step))
    top = math.ceil(maximum / step - 1e-9) * step
    return [round(i * step, 10) for i in range(round(top / step) + 1)]


def _attrs(category: str, series: str, column: str, value: float) -> str:
    return (
        f'data-category="{escape(category)}" data-series="{escape(series)}" '
        f'data-column="{escape(column or series)}" data-value="{data_value(value)}"'
    )


def _tip(category: str, series: str, value: float, unit: str) -> str:
    label = f"{category} · {series}" if series else category
    return f"<title>{escape(label)}:{escape(number(value, unit))}{escape(unit)}</title>"


def _open(svg_id: str, title: str, desc: str, height: float) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{svg_id}" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" aria-labelledby="{svg_id}-t {svg_id}-d" '
        f'font-size="{FONT_SIZE}">',
        f'<title id="{svg_id}-t">{escape(title)}</title>',
        f'<desc id="{svg_id}-d">{escape(desc)}</desc>',
    ]


def _legend(series: Sequence[Series], y: float) -> tuple[list[str], float]:
    """Swatches and names in rows from the left; returns the parts and the height used."""
    if len(series) < 2:
        return [], 0.0
    parts = ['<g class="legend">']
    x, row = 0.0, 0
    for s in series:
        width = 18 + text_width(s.name) + 18
        if x + width > WIDTH and x > 0:
            x, row = 0.0, row + 1
        top = y + row * 20
        outline = f' stroke="{OUTLINE}"' if _needs_outline(s.colour) else ""
        parts.append(
            f'<rect x="{x:.1f}" y="{top:.1f}" width="12" height="12" fill="{s.colour}"'
            f"{outline}/>"
            f'<text x="{x + 17:.1f}" y="{top + 10.5:.1f}" fill="{TEXT}">{escape(s.name)}</text>'
        )
        x += width
    parts.append("</g>")
    return parts, (row + 1) * 20 + 6


def bar_chart(
    svg_id: str,
    title: str,
    desc: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    mode: Mode = "grouped",
    unit: str = "",
    vertical: bool = False,
) -> str:
    """Bars, one band per category: `grouped` (a bar per series), `stacked` (segments summed)
    or `percent` (segments of values that are shares in %, on a 0–100 axis). Horizontal bars
    by default; `vertical` for columns (a few categories, e.g. runs over time)."""
    if vertical:
        return _columns(svg_id, title, desc, categories, series, mode=mode, unit=unit)
    stacked = mode != "grouped"
    label_w = max([text_width(c) for c in categories] + [24.0]) + 10
    value_w = 24.0 if mode == "percent" else 64.0  # room for the last tick, or the values
    plot_x = label_w
    plot_w = max(WIDTH - label_w - value_w, 240.0)
    legend, legend_h = _legend(series, 0)
    band = (20.0 if stacked else 13.0 * len(series) + 4) + 8
    top = legend_h + 4
    plot_h = band * len(categories)
    axis_h = 24
    height = top + plot_h + axis_h
    totals = [
        sum(v or 0 for v in vals) if stacked else max([v or 0 for v in vals] + [0])
        for vals in zip(*(s.values for s in series), strict=True)
    ] or [0]
    integer = unit != "%" and all(
        v is None or float(v).is_integer() for s in series for v in s.values
    )
    ticks = [0.0, 20.0, 40.0, 60.0, 80.0, 100.0] if mode == "percent" else None
    if ticks is None:
        ticks = nice_ticks(max(totals), integer=integer)
    scale = plot_w / ticks[-1]

    parts = _open(svg_id, title, desc, height)
    parts += legend
    parts.append('<g class="grid">')
    for t in ticks:
        x = plot_x + t * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{top + plot_h:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{x:.1f}" y="{top + plot_h + 16:.1f}" text-anchor="middle" '
            f'fill="{AXIS}">{escape(tick(t, unit))}</text>'
        )
    parts.append("</g>")
    for i, category in enumerate(categories):
        y = top + i * band + 4
        parts.append(
            f'<text x="{label_w - 8:.1f}" y="{y + (band - 8) / 2 + 4:.1f}" text-anchor="end" '
            f'fill="{TEXT}">{escape(category)}</text>'
        )
        x = plot_x
        for k, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            w = value * scale
            if stacked:
                bar_y, bar_h = y, band - 8
            else:
                bar_y, bar_h = y + k * 13.0, 11.0
            left = x if stacked else plot_x
            outline = f' stroke="{OUTLINE}"' if _needs_outline(s.colour) and w > 0 else ""
            parts.append(
                f'<rect x="{left:.2f}" y="{bar_y:.1f}" width="{w:.2f}" height="{bar_h:.1f}" '
                f'fill="{s.colour}"{outline} {_attrs(category, s.name, s.column, value)}>'
                f"{_tip(category, s.name, value, unit)}</rect>"
            )
            text = number(value, unit)
            if stacked:
                if w >= text_width(text, 10) + 6:
                    parts.append(
                        f'<text x="{left + w / 2:.2f}" y="{bar_y + bar_h / 2 + 3.5:.1f}" '
                        f'text-anchor="middle" font-size="10" fill="{_ink(s.colour)}" '
                        f'aria-hidden="true">{escape(text)}</text>'
                    )
                x += w
            else:
                parts.append(
                    f'<text x="{left + w + 4:.2f}" y="{bar_y + 9.5:.1f}" font-size="10" '
                    f'fill="{TEXT}" aria-hidden="true">{escape(text)}</text>'
                )
        if mode == "stacked":
            total = sum(v or 0 for v in (s.values[i] for s in series))
            parts.append(
                f'<text x="{x + 4:.2f}" y="{y + (band - 8) / 2 + 4:.1f}" font-size="10" '
                f'fill="{TEXT}" aria-hidden="true">{escape(number(total, unit))}</text>'
            )
    parts.append(
        f'<line x1="{plot_x:.1f}" y1="{top:.1f}" x2="{plot_x:.1f}" y2="{top + plot_h:.1f}" '
        f'stroke="{AXIS}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _columns(
    svg_id: str,
    title: str,
    desc: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    mode: Mode,
    unit: str,
) -> str:
    stacked = mode != "grouped"
    legend, legend_h = _legend(series, 0)
    top = legend_h + 14
    plot_h = 220.0
    totals = [
        sum(v or 0 for v in vals) if stacked else max([v or 0 for v in vals] + [0])
        for vals in zip(*(s.values for s in series), strict=True)
    ] or [0]
    integer = unit != "%"
    ticks = [0.0, 20.0, 40.0, 60.0, 80.0, 100.0] if mode == "percent" else None
    if ticks is None:
        ticks = nice_ticks(max(totals), integer=integer)
    axis_w = max(text_width(tick(t, unit)) for t in ticks) + 12
    plot_w = WIDTH - axis_w - 8
    band = plot_w / max(len(categories), 1)
    bar_w = min(band * 0.6, 80.0)
    scale = plot_h / ticks[-1]
    height = top + plot_h + 30
    base = top + plot_h

    parts = _open(svg_id, title, desc, height)
    parts += legend
    parts.append('<g class="grid">')
    for t in ticks:
        y = base - t * scale
        parts.append(
            f'<line x1="{axis_w:.1f}" y1="{y:.1f}" x2="{WIDTH - 8:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{axis_w - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="{AXIS}">{escape(tick(t, unit))}</text>'
        )
    parts.append("</g>")
    for i, category in enumerate(categories):
        centre = axis_w + band * (i + 0.5)
        parts.append(
            f'<text x="{centre:.1f}" y="{base + 18:.1f}" text-anchor="middle" '
            f'fill="{TEXT}">{escape(category)}</text>'
        )
        y = base
        n = len(series)
        for k, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            h = value * scale
            if stacked:
                x, w = centre - bar_w / 2, bar_w
                y -= h
                rect_y = y
            else:
                w = bar_w / n
                x = centre - bar_w / 2 + k * w
                rect_y = base - h
            outline = f' stroke="{OUTLINE}"' if _needs_outline(s.colour) and h > 0 else ""
            parts.append(
                f'<rect x="{x:.2f}" y="{rect_y:.2f}" width="{w:.2f}" height="{h:.2f}" '
                f'fill="{s.colour}"{outline} {_attrs(category, s.name, s.column, value)}>'
                f"{_tip(category, s.name, value, unit)}</rect>"
            )
            text = number(value, unit)
            if stacked and h >= 14 and w >= text_width(text, 10) + 4:
                parts.append(
                    f'<text x="{centre:.2f}" y="{rect_y + h / 2 + 3.5:.2f}" '
                    f'text-anchor="middle" font-size="10" fill="{_ink(s.colour)}" '
                    f'aria-hidden="true">{escape(text)}</text>'
                )
            elif not stacked:
                parts.append(
                    f'<text x="{x + w / 2:.2f}" y="{rect_y - 3:.2f}" text-anchor="middle" '
                    f'font-size="10" fill="{TEXT}" aria-hidden="true">{escape(text)}</text>'
                )
        if mode == "stacked":
            total = sum(v or 0 for v in (s.values[i] for s in series))
            parts.append(
                f'<text x="{centre:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="10" '
                f'fill="{TEXT}" aria-hidden="true">{escape(number(total, unit))}</text>'
            )
    parts.append(
        f'<line x1="{axis_w:.1f}" y1="{base:.1f}" x2="{WIDTH - 8:.1f}" y2="{base:.1f}" '
        f'stroke="{AXIS}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def grid_chart(
    svg_id: str,
    title: str,
    desc: str,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    unit: str = "",
    row_title: str = "",
    column_title: str = "",
) -> str:
    """A grid of counts (rows × columns), each cell shaded by its value on one blue ramp (darker
    is more, square-root scale) and labelled with it; cells whose row and column name the same
    state (the diagonal of a transition matrix) are outlined."""
    label_w = max([text_width(r) for r in rows] + [text_width(row_title)]) + 16
    cell_w = min((WIDTH - label_w) / max(len(columns), 1), 110.0)
    cell_h = 28.0
    top = 44.0
    height = top + cell_h * len(rows) + 8
    peak = max([v or 0 for row in values for v in row] + [1])
    parts = _open(svg_id, title, desc, height)
    if column_title:
        parts.append(
            f'<text x="{label_w + cell_w * len(columns) / 2:.1f}" y="14" text-anchor="middle" '
            f'fill="{AXIS}">{escape(column_title)}</text>'
        )
    if row_title:
        parts.append(f'<text x="0" y="36" fill="{AXIS}">{escape(row_title)}</text>')
    for j, column in enumerate(columns):
        parts.append(
            f'<text x="{label_w + cell_w * (j + 0.5):.1f}" y="36" text-anchor="middle" '
            f'fill="{TEXT}">{escape(column)}</text>'
        )
    for i, row in enumerate(rows):
        y = top + i * cell_h
        parts.append(
            f'<text x="{label_w - 8:.1f}" y="{y + cell_h / 2 + 4:.1f}" text-anchor="end" '
            f'fill="{TEXT}">{escape(row)}</text>'
        )
        for j, column in enumerate(columns):
            value = values[i][j]
            x = label_w + j * cell_w
            if value is None:
                continue
            fill = _shade(math.sqrt(value / peak))
            diagonal = row == column
            stroke = f'stroke="{TEXT}" stroke-width="2"' if diagonal else 'stroke="#ffffff"'
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{y + 1:.1f}" width="{cell_w - 2:.1f}" '
                f'height="{cell_h - 2:.1f}" fill="{fill}" {stroke} '
                f"{_attrs(row, column, column, value)}>{_tip(row, column, value, unit)}</rect>"
                f'<text x="{x + cell_w / 2:.1f}" y="{y + cell_h / 2 + 4:.1f}" '
                f'text-anchor="middle" fill="{_ink(fill)}" aria-hidden="true">'
                f"{escape(number(value, unit))}</text>"
            )
    parts.append("</svg>")
    return "\n".join(parts)


def _shade(t: float) -> str:
    """A blue from nearly white (t = 0) to dark (t = 1)."""
    light, dark = (0xF7, 0xFB, 0xFF), (0x08, 0x30, 0x6B)
    r, g, b = (round(lo + (hi - lo) * t) for lo, hi in zip(light, dark, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"
