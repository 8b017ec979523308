"""What leaves a run for people to read carries no personal data and no live formula.

- `mask_personal`: mobile numbers, landlines and ID numbers in free text (a business's feedback)
  masked — found however they are written: `139-1234-5678`, `+86 139 1234 5678`, full-width
  digits `１３９…`, an ID number with spaces;
- `neutralise_formulas`: text cells of a clerk CSV that a spreadsheet would take for a formula
  (a leading `=`, `+`, `-`, `@`, tab or carriage return, OWASP's CSV injection guidance) get a
  leading apostrophe; numbers stay numbers, and so does text that is just a number (`-3`);
- `cut_cells`: text longer than a spreadsheet cell holds (32 767 characters) is cut, marked.

Pure functions over text and Polars frames; vectorised.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

import polars as pl

EXCEL_CELL_CHARS = 32_767  # the most characters an Excel cell holds
CUT_MARK = "…(截断)"
# full-width digits, plus, hyphens and spaces → ASCII, one character for one (positions kept)
_WIDE = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        "＋": "+",
        "－": "-",
        "—": "-",
        "–": "-",
        "\u3000": " ",
        "\u00a0": " ",
        "Ｘ": "X",
        "ｘ": "x",
        "（": "(",
        "）": ")",
    }
)
_SEP = r"[ \-.]?"  # one separator between digit groups: a space, a hyphen or a point
_PHONE = re.compile(rf"(?<![\d+])(?:\+?86{_SEP}|0086{_SEP})?1(?:{_SEP}\d){{10}}(?!\d)")
_ID = re.compile(
    rf"(?<![0-9A-Za-z])\d(?:{_SEP}\d){{16}}{_SEP}[\dXx](?![0-9A-Za-z])"
    rf"|(?<![\d])\d(?:{_SEP}\d){{14}}(?!\d)"
)
_LANDLINE = re.compile(
    rf"(?<!\d)(?:\(0\d{{2,3}}\)\s?|0\d{{2,3}}{_SEP})\d{{3,4}}{_SEP}\d{{4}}(?!\d)"
)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit() or ch in "Xx")


def mask_personal(text: str, known: Iterable[str] = ()) -> str:
    """Mobile numbers, landlines and ID numbers in free text → masked (`139****5678`, an ID
    number's first four characters kept, a landline as `****`); so is every `known` personal
    value the text repeats (the business's operator name from the extract: `张**`)."""
    for value in sorted({k.strip() for k in known if k and len(k.strip()) >= 2}, key=len)[::-1]:
        text = text.replace(value, value[0] + "*" * (len(value) - 1))
    wide = text.translate(_WIDE)  # same length as `text`: spans carry over
    spans: list[tuple[int, int, str]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e, _ in spans)

    for match in _ID.finditer(wide):
        digits = _digits(match.group(0))
        spans.append((match.start(), match.end(), digits[:4] + "*" * (len(digits) - 4)))
    for match in _PHONE.finditer(wide):
        if free(match.start(), match.end()):
            digits = _digits(match.group(0))[-11:]
            spans.append((match.start(), match.end(), digits[:3] + "****" + digits[-4:]))
    for match in _LANDLINE.finditer(wide):
        if free(match.start(), match.end()) and len(_digits(match.group(0))) >= 7:
            spans.append((match.start(), match.end(), "****"))
    out, at = [], 0
    for start, end, masked in sorted(spans):
        out.append(text[at:start])
        out.append(masked)
        at = end
    out.append(text[at:])
    return "".join(out)


# a text cell a spreadsheet would take for a formula; a plain number (-3, +1,234.5) is not one
_FORMULA = r"^[=+\-@\t\r]"
_NUMBER = r"^[+-]?(\d[\d,]*)?(\.\d+)?([eE][+-]?\d+)?$"


def neutralise_formulas(frame: pl.DataFrame, plain: Collection[str] = ()) -> pl.DataFrame:
    """Text columns with `'` before every cell a spreadsheet would read as a formula. `plain`
    names columns whose text gthfx wrote itself (codes it normalised, its own words): they are
    not looked at."""
    text = [n for n, t in frame.schema.items() if t == pl.String and n not in plain]
    if not text or frame.height == 0:
        return frame
    # one cheap anchored look per cell first: most columns hold no such cell, and are left as
    # they are instead of being rebuilt
    risky = frame.select(pl.col(n).str.contains(_FORMULA).any() for n in text).row(0)
    text = [n for n, found in zip(text, risky, strict=True) if found]
    if not text:
        return frame
    return frame.with_columns(
        pl.when(pl.col(n).str.contains(_FORMULA) & ~pl.col(n).str.contains(_NUMBER))
        .then("'" + pl.col(n))
        .otherwise(pl.col(n))
        .alias(n)
        for n in text
    )


def cut_cells(frame: pl.DataFrame, limit: int = EXCEL_CELL_CHARS) -> pl.DataFrame:
    """Text cells longer than a spreadsheet cell holds, cut to fit with a mark."""
    text = [n for n, t in frame.schema.items() if t == pl.String]
    keep = limit - len(CUT_MARK)
    return frame.with_columns(
        pl.when(pl.col(n).str.len_chars() > limit)
        .then(pl.col(n).str.slice(0, keep) + CUT_MARK)
        .otherwise(pl.col(n))
        .alias(n)
        for n in text
    )
