"""The monitoring report as one self-contained HTML page: `render_html(document) -> str`.

The promises:
- **Offline**: no script, no font file, no image file, no link, source or `url()` to anything
  outside the page — the only `href`s are `#fragments` within it; charts are inline SVG
  (`report.svg`). A Content-Security-Policy meta forbids every fetch (`default-src 'none'`) and
  admits only the page's own stylesheet, by its SHA-256.
- **Deterministic**: a pure function of the `Document` — no clock, no random ids.
- **Escaped**: every text the page shows (district names, codes, paths, ids) goes through
  `html.escape`.
- **Readable and printable**: Chinese labels; each figure has a caption, its chart (an image
  with an accessible name and description) and its data table; the colours are ramps of
  distinct lightness (grey print, colour blindness); an A4 print stylesheet keeps figures
  whole and repeats table headers across pages.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

import polars as pl

from gthfx.report.document import Chart, Document, Figure, Section
from gthfx.report.svg import Series, bar_chart, grid_chart, number

FONTS = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "微软雅黑", '
    '"WenQuanYi Micro Hei", "SimHei", "Heiti SC", sans-serif'
)
CSS = f"""
:root {{ color-scheme: light; }}
* {{ box-sizing: border-box; }}
body {{ font-family: {FONTS}; color: #1a1a1a; background: #ffffff; margin: 0 auto;
  max-width: 60rem; padding: 1.5rem; line-height: 1.55; font-size: 15px; }}
h1 {{ font-size: 1.6rem; margin: 0 0 .25rem; }}
h2 {{ font-size: 1.25rem; border-bottom: 2px solid #08306b; padding-bottom: .2rem;
  margin-top: 2.2rem; }}
.subtitle {{ color: #404040; margin: 0 0 1rem; }}
.keys {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .5rem;
  margin: 1rem 0; padding: 0; }}
.keys div {{ border: 1px solid #bfbfbf; padding: .4rem .6rem; }}
.keys dt {{ font-size: .8rem; color: #404040; }}
.keys dd {{ margin: 0; font-size: 1.15rem; font-weight: bold; }}
nav ol {{ columns: 2; margin: .5rem 0 0; }}
a {{ color: #08306b; }}
figure {{ margin: 1.5rem 0 2rem; }}
figcaption {{ font-weight: bold; margin-bottom: .5rem; }}
figcaption .no {{ margin-right: .5em; }}
svg.chart {{ width: 100%; height: auto; display: block; margin: .25rem 0 .75rem; }}
table {{ border-collapse: collapse; width: auto; min-width: 60%; font-size: .85rem;
  margin: .25rem 0; }}
caption {{ text-align: left; font-size: .8rem; color: #404040; padding-bottom: .2rem; }}
th, td {{ border: 1px solid #bfbfbf; padding: .2rem .4rem; }}
th {{ background: #eef3f9; font-weight: bold; text-align: center; }}
td.missing {{ color: #595959; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
tr.total td {{ font-weight: bold; border-top: 2px solid #595959; }}
.definition, .source, .note {{ font-size: .8rem; margin: .3rem 0; }}
.note, .empty {{ border-left: 3px solid #595959; padding-left: .5rem; }}
.source {{ color: #404040; }}
.wide {{ overflow-x: auto; }}
footer {{ margin-top: 2.5rem; font-size: .8rem; }}
footer dl {{ display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; }}
footer dt {{ font-weight: bold; }}
footer dd {{ margin: 0; overflow-wrap: anywhere; }}
@page {{ size: A4 portrait; margin: 14mm 12mm 16mm; }}
@media print {{
  body {{ max-width: none; padding: 0; font-size: 10.5pt; }}
  nav {{ break-after: page; }}
  h2 {{ break-after: avoid; }}
  figure {{ break-inside: avoid; }}
  table {{ font-size: 8pt; }}
  thead {{ display: table-header-group; }}
  tr {{ break-inside: avoid; }}
  .wide {{ overflow: visible; }}
  a {{ color: inherit; text-decoration: none; }}
}}
""".strip()


def csp(css: str = CSS) -> str:
    """The page's Content-Security-Policy: nothing may be fetched, run or framed; only the
    page's own stylesheet (by its SHA-256) applies."""
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'none'; font-src 'none'; "
        "script-src 'none'; connect-src 'none'; media-src 'none'; object-src 'none'; "
        "frame-src 'none'; worker-src 'none'; manifest-src 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


def render_html(doc: Document) -> str:
    """The page of `doc` (see the module docstring)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{escape(csp())}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="{escape(doc.generator)}">',
        f"<title>{escape(doc.title)} {escape(doc.subtitle)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{escape(doc.title)}</h1>",
        f'<p class="subtitle">{escape(doc.subtitle)}</p>',
        '<dl class="keys">',
        *(
            f"<div><dt>{escape(label)}</dt><dd>{escape(value)}</dd></div>"
            for label, value in doc.keys
        ),
        "</dl>",
        "</header>",
        '<nav aria-label="目录"><strong>目录</strong><ol>',
        *(f'<li><a href="#{escape(s.id)}">{escape(s.title)}</a></li>' for s in doc.sections),
        '<li><a href="#notes">注:数据来源</a></li>',
        "</ol></nav>",
        "<main>",
    ]
    number_ = 0
    for section in doc.sections:
        parts.append(_section_open(section))
        for fig in section.figures:
            number_ += 1
            parts.append(_figure(fig, number_, doc.source_line))
        parts.append("</section>")
    parts += ["</main>", _footer(doc), "</body>", "</html>", ""]
    return "\n".join(parts)


def _section_open(section: Section) -> str:
    out = [
        f'<section id="{escape(section.id)}" aria-labelledby="{escape(section.id)}-h">',
        f'<h2 id="{escape(section.id)}-h">{escape(section.title)}</h2>',
        f"<p>{escape(section.intro)}</p>",
    ]
    if section.empty:
        out.append(f'<p class="empty" role="note">{escape(section.empty)}</p>')
    out += [f'<p class="note" role="note">{escape(n)}</p>' for n in section.notes]
    return "\n".join(out)


def _figure(fig: Figure, number_: int, source_line: str) -> str:
    fid = escape(fig.id)
    label = f"图表{number_}"
    out = [
        f'<figure id="{fid}" aria-labelledby="{fid}-c">',
        f'<figcaption id="{fid}-c"><span class="no">{label}</span>{escape(fig.title)}</figcaption>',
    ]
    if fig.chart is not None:
        out.append(_chart(fig, label))
    out.append(_table(fig, label))
    out.append(
        f'<p class="definition" id="{fid}-def"><strong>口径</strong>:{escape(fig.definition)}</p>'
    )
    if fig.note:
        out.append(f'<p class="note" role="note">{escape(fig.note)}</p>')
    more = f";{fig.source}" if fig.source else ""
    out.append(
        f'<p class="source"><strong>数据</strong>:{escape(source_line)}{escape(more)}'
        '<a href="#notes">〔注〕</a></p>'
    )
    out.append("</figure>")
    return "\n".join(out)


def _rows(fig: Figure, chart: Chart) -> list[int]:
    return list(chart.rows) if chart.rows is not None else list(range(fig.table.height))


def _chart(fig: Figure, label: str) -> str:
    chart = fig.chart
    assert chart is not None
    rows = _rows(fig, chart)
    table = fig.table
    categories = [str(table[chart.category][i]) for i in rows]
    svg_id = f"{fig.id}-chart"
    title = f"{label} {fig.title}"
    if chart.kind == "grid":
        values = [[_value(table[c][i]) for c in chart.series] for i in rows]
        return grid_chart(
            svg_id,
            title,
            chart.desc,
            categories,
            list(chart.series),
            values,
            unit=chart.unit,
            row_title=chart.row_title,
            column_title=chart.column_title,
        )
    series = [
        Series(
            name=name,
            colour=colour,
            values=tuple(_value(table[column][i]) for i in rows),
            column=column,
        )
        for column, name, colour in zip(chart.series, chart.legend(), chart.colours, strict=True)
    ]
    return bar_chart(
        svg_id,
        title,
        chart.desc,
        categories,
        series,
        mode=chart.mode,
        unit=chart.unit,
        vertical=chart.kind == "columns",
    )


def _value(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):  # never drawn as a number
        return None
    if isinstance(value, int | float):
        return value
    return None


def _cell(value: object, dtype: pl.DataType, missing: str) -> str:
    if value is None:
        kind = "num missing" if dtype.is_numeric() else "missing"
        return f'<td class="{kind}">{escape(missing)}</td>'
    if dtype.is_numeric():
        assert isinstance(value, int | float)
        return f'<td class="num">{escape(number(value, "%" if dtype.is_float() else ""))}</td>'
    return f"<td>{escape(str(value))}</td>"


def _table(fig: Figure, label: str) -> str:
    table = fig.table
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in table.columns)
    dtypes = list(table.schema.values())
    body = []
    for i, row in enumerate(table.iter_rows()):
        cls = ' class="total"' if i in fig.total_rows else ""
        cells = "".join(_cell(v, t, fig.missing) for v, t in zip(row, dtypes, strict=True))
        body.append(f"<tr{cls}>{cells}</tr>")
    return (
        f'<div class="wide"><table id="{escape(fig.id)}-table" '
        f'aria-describedby="{escape(fig.id)}-def">'
        f"<caption>{label}数据表:{escape(fig.title)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table></div>"
    )


def _footer(doc: Document) -> str:
    items = "".join(
        f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>" for label, text in doc.source
    )
    notes = "".join(f"<p>{escape(n)}</p>" for n in doc.notes)
    return (
        '<footer id="notes" aria-labelledby="notes-h">'
        '<h2 id="notes-h">注:数据来源</h2>'
        f"<dl>{items}</dl>{notes}"
        f"<p>{escape(doc.generator)}</p>"
        "</footer>"
    )
