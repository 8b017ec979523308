"""The words of support delivery (精准帮扶): the short notice a business receives (政策告知), the
wording of a business's 名特优新 categories, and the Chinese headers of the push lists and the
measures table.

A notice is plain Chinese and holds no personal data: the run date, the business's tier, its
categories with their validity, and each measure it gets with how it is delivered; the measures
table carries the details (benefit, how to apply, contact). Text only: no files, no data work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from gthfx.report.regions import REGION_NAMES
from gthfx.vocab import CATEGORY_LABELS, EXCLUDED, TIER_LABELS

UNKNOWN_DISTRICT = "未知区划"
DELIVERY_WORDS = {"免申即享": "免申即享", "快申快享": "快申快享", "申报": "需申报"}

MEASURE_HEADERS = {
    "measure_id": "措施编号",
    "title": "措施名称",
    "department": "责任部门",
    "tiers": "适用分型",
    "categories": "适用名特优新类别",
    "when": "适用条件",
    "delivery": "兑现方式",
    "benefit": "政策内容",
    "how_to_apply": "办理方式",
    "contact": "咨询电话",
    "source": "政策依据",
    "effective_from": "生效日期",
    "effective_to": "失效日期",
    "policy_id": "政策文件编号",
    "policy_title": "政策文件",
    "policy_file": "文件路径",
    "businesses": "户数",
}
PUSH_HEADERS = {
    "uscc": "统一社会信用代码",
    "district": "区划名称",
    "region_code": "行政区划代码",
    "industry_code": "行业代码",
    "tier_label": "分型",
    "category_text": "名特优新类别",
    "measures": "措施数",
    "measure_ids": "措施编号",
    "notice": "政策告知",
}


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def district_file(prefix: str, region_code: str | None) -> str:
    """`<prefix>_<区名>_<区划代码>`, or `<prefix>_未知区划` for a business without a district."""
    if not region_code:
        return f"{prefix}_{UNKNOWN_DISTRICT}"
    return f"{prefix}_{REGION_NAMES.get(region_code, region_code)}_{region_code}"


def category_text(entries: pl.DataFrame) -> pl.DataFrame:
    """Per business, its categories in force with their validity, in words: `uscc,
    category_text` (知名类(有效期至2027年11月30日)、优质类(…)), from the register's entries (`uscc,
    category, valid_to`), in the entries' order."""
    valid = pl.col("valid_to")
    until = (
        valid.dt.year().cast(pl.String)
        + "年"
        + valid.dt.month().cast(pl.String)
        + "月"
        + valid.dt.day().cast(pl.String)
        + "日"
    )
    word = pl.col("category").replace_strict(CATEGORY_LABELS, return_dtype=pl.String) + "类"
    one = pl.when(valid.is_null()).then(word).otherwise(word + "(有效期至" + until + ")")
    return entries.group_by("uscc", maintain_order=True).agg(
        one.str.join("、").alias("category_text")
    )


@dataclass(frozen=True)
class NoticeMeasure:
    """What a notice says of one measure."""

    title: str
    delivery: str


def notice(
    run_date: date, tier: str, categories: str | None, measures: Sequence[NoticeMeasure]
) -> str:
    """The notice (政策告知) of a business: plain Chinese, no personal data."""
    when = chinese_date(run_date)
    if tier == EXCLUDED:
        opening = f"您的个体工商户未参加{when}的分型(未满足分型的基础条件)。"
    else:
        opening = f"根据{when}个体工商户分型结果,您的个体工商户为{TIER_LABELS[tier]}。"
    held = f"您已认定为“名特优新”个体工商户:{categories}。" if categories else ""
    items = ";".join(
        f"{i}.{m.title}({DELIVERY_WORDS.get(m.delivery, m.delivery)})"
        for i, m in enumerate(measures, start=1)
    )
    offer = f"您可享受以下{len(measures)}项帮扶措施:{items}。" if measures else ""
    close = "各项措施的内容和办理方式请见措施说明,或咨询所在区市场监管局、拨打12345市民服务热线。"
    return f"【政策告知】{opening}{held}{offer}{close}"
