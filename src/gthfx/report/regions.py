"""Names of the administrative divisions the samples and summaries use (GB/T 2260, Wuhan)."""

from __future__ import annotations

import polars as pl

REGION_NAMES = {
    "420100": "武汉市",
    "420102": "江岸区",
    "420103": "江汉区",
    "420104": "硚口区",
    "420105": "汉阳区",
    "420106": "武昌区",
    "420107": "青山区",
    "420111": "洪山区",
    "420112": "东西湖区",
    "420113": "汉南区",
    "420114": "蔡甸区",
    "420115": "江夏区",
    "420116": "黄陂区",
    "420117": "新洲区",
}


def region_name(code: pl.Expr) -> pl.Expr:
    """The division's name, or the code itself when it is not in the table ('未知' if empty)."""
    return code.replace_strict(REGION_NAMES, default=code, return_dtype=pl.String).fill_null("未知")
