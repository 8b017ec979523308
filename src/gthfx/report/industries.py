"""The sections (门类) of GB/T 4754-2017, the national industry classification, with their
Chinese names: the first level of an `industry_code` such as `F5261` (批发和零售业).

The section of a business is the letter its industry code starts with. A code written without
its letter (`5261`) still names its section through the first two digits (the division, 大类),
whose ranges the standard assigns to sections; anything else has no section (`UNKNOWN`).
Vectorised: whole columns at once.
"""

from __future__ import annotations

import polars as pl

UNKNOWN = "?"  # the section of a missing or unreadable industry code
UNKNOWN_LABEL = "未知门类"

SECTIONS = {
    "A": "农、林、牧、渔业",
    "B": "采矿业",
    "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业",
    "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业",
    "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业",
    "J": "金融业",
    "K": "房地产业",
    "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业",
    "O": "居民服务、修理和其他服务业",
    "P": "教育",
    "Q": "卫生和社会工作",
    "R": "文化、体育和娱乐业",
    "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}

# GB/T 4754-2017: the divisions (大类, two digits) of each section, first and last
DIVISIONS = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52),
    "G": (53, 60), "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70), "L": (71, 72),
    "M": (73, 75), "N": (76, 79), "O": (80, 82), "P": (83, 83), "Q": (84, 85), "R": (86, 90),
    "S": (91, 96), "T": (97, 97),
}  # fmt: skip
_BY_DIVISION = {
    f"{d:02d}": section for section, (lo, hi) in DIVISIONS.items() for d in range(lo, hi + 1)
}


def industry_section(code: pl.Expr) -> pl.Expr:
    """The section letter of each industry code (`UNKNOWN` when there is none): the leading
    letter A–T, else the section of the leading two-digit division."""
    text = code.cast(pl.String).str.strip_chars().str.to_uppercase()
    letter = text.str.slice(0, 1)
    by_division = text.str.slice(0, 2).replace_strict(
        _BY_DIVISION, default=None, return_dtype=pl.String
    )
    return (
        pl.when(letter.is_in(list(SECTIONS)))
        .then(letter)
        .otherwise(by_division)
        .fill_null(UNKNOWN)
        .alias("section")
    )


def section_label(section: pl.Expr) -> pl.Expr:
    """The Chinese name of each section letter (`UNKNOWN_LABEL` for `UNKNOWN`)."""
    return section.replace_strict(
        {**SECTIONS, UNKNOWN: UNKNOWN_LABEL}, default=UNKNOWN_LABEL, return_dtype=pl.String
    )
