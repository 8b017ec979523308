"""Reading back the monitoring report's HTML page in tests, with the standard library's parser
(not gthfx's code): its tables (headers and cell texts by id), the values its charts drew
(`data-*` of every mark), every attribute that could reach outside the page, and the text a
reader sees. Imported as `htmlpage`."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "embed", "source",
        "track", "wbr"}  # fmt: skip


@dataclass
class Table:
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    def number(self, text: str) -> float | None:
        """A cell's text as a number (thousands separators dropped), None for 暂无数据 or —."""
        cleaned = text.replace(",", "").strip()
        try:
            return float(cleaned)
        except ValueError:
            return None


@dataclass
class Page:
    tables: dict[str, Table] = field(default_factory=dict)
    marks: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # svg id → data-* marks
    svgs: dict[str, dict[str, str]] = field(default_factory=dict)  # svg id → its attributes
    ids: set[str] = field(default_factory=set)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (tag, attribute, value)
    styles: list[str] = field(default_factory=list)  # <style> contents and style attributes
    metas: list[dict[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    unclosed: list[str] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[str] = []
        self.table: Table | None = None
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.in_head_row = False
        self.svg: str | None = None
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.page.tags.append(tag)
        if tag not in VOID:
            self.stack.append(tag)
        if "id" in a:
            self.page.ids.add(a["id"])
        for key, value in a.items():
            if key in ("src", "href", "xlink:href", "action", "formaction", "srcset", "poster",
                       "data", "background", "ping", "cite"):  # fmt: skip
                self.page.links.append((tag, key, value))
            if key == "style":
                self.page.styles.append(value)
        if tag == "meta":
            self.page.metas.append(a)
        if tag == "style":
            self.in_style = True
        if tag == "table":
            self.table = Table()
            self.page.tables[a.get("id", f"table{len(self.page.tables)}")] = self.table
        elif tag == "thead":
            self.in_head_row = True
        elif tag == "tbody":
            self.in_head_row = False
        elif tag == "tr" and self.table is not None:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
        elif tag == "svg":
            self.svg = a.get("id", "")
            self.page.svgs[self.svg] = a
            self.page.marks[self.svg] = []
        if self.svg is not None and "data-value" in a:
            self.page.marks[self.svg].append(a)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.page.unclosed.append(f"</{tag}> closes <{self.stack[-1] if self.stack else ''}>")
        else:
            self.stack.pop()
        if tag == "style":
            self.in_style = False
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None and self.table is not None:
            if self.in_head_row:
                self.table.headers = self.row
            else:
                self.table.rows.append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None
        elif tag == "svg":
            self.svg = None

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self.page.styles.append(data)
            return
        if self.cell is not None:
            self.cell.append(data)
        self.page.text.append(data)


def parse(html: str) -> Page:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    parser.page.unclosed += [f"<{t}> never closed" for t in parser.stack]
    return parser.page
