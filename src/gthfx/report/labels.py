"""Chinese words for the codes gthfx writes (reasons, flags, reject reasons, columns)."""

from __future__ import annotations

from gthfx.ingest import uscc
from gthfx.rules.plan import RulePlan
from gthfx.settings.sources import SourcesMapping
from gthfx.vocab import CONFLICT, ORPHAN, OTHER_YEAR

REJECT_REASONS = {
    uscc.MISSING: "缺少统一社会信用代码",
    uscc.MALFORMED: "统一社会信用代码格式错误(长度或字符)",
    uscc.NOT_INDIVIDUAL: "非个体工商户代码(不以92开头)",
    uscc.NUMERIC: "统一社会信用代码以数字存储(末几位已丢失)",
    OTHER_YEAR: "非本次年度的记录",
    ORPHAN: "登记与年报数据中无此户",
    CONFLICT: "同一代码多条记录且内容不一致",
}
FLAGS = {uscc.CHECK_MISMATCH: "代码校验位不符"}

COLUMN_HEADERS = {
    "uscc": "统一社会信用代码",
    "tier": "分型代码",
    "tier_label": "分型",
    "rule_id": "判定规则",
    "reasons": "原因",
    "flags": "标记",
    "region_code": "行政区划代码",
    "district": "区划名称",
    "industry_code": "行业代码",
    "tier_before": "上次分型",
    "tier_after": "本次分型",
    "change": "变动",
    "rule_before": "上次规则",
    "rule_after": "本次规则",
    "cause": "变动原因",
    "extract": "数据来源",
    "file": "文件",
    "row": "行号",
    "field": "字段",
    "raw_value": "原始值",
    "reason": "拒收原因",
}


def reason_labels(plan: RulePlan, sources: SourcesMapping) -> dict[str, str]:
    """Every reason code a run can produce → its Chinese wording."""
    return {c.id: c.label for c in plan.conditions} | data_problem_labels(sources)


def data_problem_labels(sources: SourcesMapping) -> dict[str, str]:
    """The reason codes of data problems (missing, unparseable, conflicting duplicates) →
    their Chinese wording: what a run's reasons say beyond its ruleset's basic conditions."""
    out: dict[str, str] = {}
    for extract, spec in sources.extracts.items():
        out[f"{CONFLICT}:{extract}"] = f"{spec.label}数据重复且不一致"
        for name, field in spec.fields.items():
            out[f"unparseable:{extract}.{name}"] = (
                f"{spec.label}「{field.label}」无法解析或超出合理范围"
            )
            if field.required:
                out[f"missing:{name}"] = f"缺少必填项「{field.label}」"
    return out


def column_headers(plan: RulePlan, sources: SourcesMapping) -> dict[str, str]:
    """Column name → Chinese header, for the indicator columns too."""
    out = dict(COLUMN_HEADERS)
    for spec in sources.extracts.values():
        for name, field in spec.fields.items():
            out.setdefault(name, field.label + ("(元)" if field.unit else ""))
    for item in plan.derived:
        out[item.id] = item.label
    return out


def cause_words(plan: RulePlan, sources: SourcesMapping) -> dict[str, str]:
    """Chinese for what a change log's causes name: indicator columns and reason codes."""
    return {**column_headers(plan, sources), **reason_labels(plan, sources)}
