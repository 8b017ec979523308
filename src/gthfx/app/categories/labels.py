"""Chinese words for what the 名特优新 steps write: column headers, results, reasons."""

from __future__ import annotations

import polars as pl

from gthfx.app.categories.core import GONE, OVER_QUOTA, RESULT_LABELS
from gthfx.report.labels import REJECT_REASONS
from gthfx.report.regions import region_name
from gthfx.rules.criteria import Criteria
from gthfx.rules.criteria import reason_labels as criteria_reasons
from gthfx.vocab import CATEGORY_LABELS, TIER_LABELS

HEADERS = {
    "uscc": "统一社会信用代码",
    "name": "个体工商户名称",
    "district": "区划名称",
    "region_code": "行政区划代码",
    "industry_code": "行业代码",
    "category": "申报类别",
    "result": "筛选结果",
    "decision": "评估结论",
    "reasons": "原因",
    "criteria_met": "满足的认定条件",
    "criteria_count": "满足条件数",
    "rank": "区内排名",
    "quota": "区名额",
    "base": "区成长型与发展型户数",
    "tier": "分型",
    "years_in_business": "经营年限(周年)",
    "insured_staff": "参保职工人数",
    "route": "申报途径",
    "recommender": "推荐部门",
    "consent": "经营者同意",
    "special_group": "特殊群体",
    "applied_on": "申报日期",
    "operator_name_masked": "经营者",
    "phone_masked": "联系电话",
    "operator_id_masked": "经营者身份证号码",
    "valid_from": "有效期起",
    "valid_to": "有效期至",
    "evaluation_from": "评估期起",
    "publicity_start": "公示开始日期",
    "publicity_end": "公示结束日期",
    "party_member": "党员经营户",
    "advanced": "全国或省级先进个体工商户",
    "entries": "认定户次",
    "businesses": "认定户数",
    "extract": "数据来源",
    "file": "文件",
    "row": "行号",
    "field": "字段",
    "raw_value": "原始值",
    "reason": "拒收原因",
}
EXTRA_REASONS = {
    OVER_QUOTA: "超出本区名额",
    GONE: "已不在分型批次中",
    "objection_upheld": "异议成立",
    "already_in_register": "已在名录有效期内",
    "not_publicized": "不在公示名单中",
    "not_renewed": "最后一年评估未满足任一认定条件",
}
ITEM_REJECTS = {
    "unknown_value": "不在可接受的取值中",
    "unparseable": "无法解析",
    "missing": "缺少必填项",
}


def reason_words(criteria: Criteria) -> dict[str, str]:
    """Every reason code → its Chinese wording."""
    return {**criteria_reasons(criteria), **EXTRA_REASONS}


def criterion_words(criteria: Criteria) -> dict[str, str]:
    return {c.id: c.label for c in criteria.criteria}


def words(column: str, mapping: dict[str, str]) -> pl.Expr:
    """A list-of-codes column in words, joined with 、."""
    return pl.col(column).list.eval(pl.element().replace(mapping)).list.join("、")


def common_text(frame: pl.DataFrame) -> list[pl.Expr]:
    """Expressions that turn the coded columns a step writes into Chinese text."""
    out: list[pl.Expr] = []
    if "category" in frame.columns:
        out.append(pl.col("category").replace(CATEGORY_LABELS))
    if "tier" in frame.columns:
        out.append(pl.col("tier").replace(TIER_LABELS))
    if "result" in frame.columns:
        out.append(pl.col("result").replace(RESULT_LABELS))
    if "region_code" in frame.columns:
        out.append(region_name(pl.col("region_code")).alias("district"))
    for name in ("consent", "party_member", "advanced"):
        if name in frame.columns:
            out.append(
                pl.col(name).replace_strict(
                    {True: "是", False: "否"}, default=None, return_dtype=pl.String
                )
            )
    return out


def reject_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Rejected rows for clerks: reasons in words (`unparseable:evidence.valid_until` →
    无法解析(valid_until))."""
    kind = pl.col("reason").str.split(":").list.first()
    detail = pl.col("reason").str.split(":").list.get(1, null_on_oob=True)
    text = (
        pl.when(kind.is_in(list(ITEM_REJECTS)))
        .then(kind.replace(ITEM_REJECTS) + pl.lit("(") + detail + pl.lit(")"))
        .otherwise(pl.col("reason").replace(REJECT_REASONS))
    )
    return frame.with_columns(text.alias("reason")).select(
        [pl.col(c).alias(HEADERS[c]) for c in frame.columns if c in HEADERS]
    )
