"""A printable HTML page holding one table (公示名单): self-contained (no script, no external
style, font or image), A4 print stylesheet, header row repeated on every printed page.

Every text — title, notes, headers and each cell — is HTML-escaped (`& < > " '`), cells as whole
columns by Polars expressions: a name such as `<script>` prints as text, never as markup.
"""

from __future__ import annotations

import html
from pathlib import Path

import polars as pl

_STYLE = """
@page { size: A4 landscape; margin: 14mm 12mm; }
body { font-family: "SimSun", "Songti SC", "Noto Serif CJK SC", serif; color: #000; margin: 2em; }
h1 { font-size: 20pt; text-align: center; margin: 0 0 .3em; }
p.sub { text-align: center; margin: 0 0 1em; }
table { border-collapse: collapse; width: 100%; font-size: 10.5pt; }
th, td { border: 1px solid #000; padding: 3px 5px; text-align: left; vertical-align: top; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; }
p.note { font-size: 10pt; margin-top: 1em; }
@media print { body { margin: 0; } }
"""


def escape_column(expr: pl.Expr) -> pl.Expr:
    """HTML-escape a text column (the same characters as `html.escape(quote=True)`)."""
    return (
        expr.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
        .str.replace_all('"', "&quot;", literal=True)
        .str.replace_all("'", "&#x27;", literal=True)
    )


def write_printable_html(
    path: Path, title: str, subtitle: str, table: pl.DataFrame, notes: list[str]
) -> None:
    """One page: title, subtitle, the table (every column as text), notes."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    if table.height:
        cells = [
            pl.lit("<td>")
            + escape_column(pl.col(c).cast(pl.String).fill_null(""))
            + pl.lit("</td>")
            for c in table.columns
        ]
        body = table.select(
            (pl.lit("<tr>") + pl.concat_str(cells) + pl.lit("</tr>")).str.join("\n")
        ).item()
    else:
        body = f'<tr><td colspan="{max(table.width, 1)}">(无)</td></tr>'
    note_html = "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)
    page = (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f'<h1>{html.escape(title)}</h1>\n<p class="sub">{html.escape(subtitle)}</p>\n'
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n"
        f"{note_html}\n</body>\n</html>\n"
    )
    path.write_text(page, encoding="utf-8")
