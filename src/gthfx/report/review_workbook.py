"""The review workbooks (复核_<区名>_<区划代码>.xlsx) a run writes, one per district.

Each lists the district's contested businesses — excluded for a data problem, just below a
threshold of the next tier (the near-threshold checks the ruleset declares under `review:`, read
from the plan), or moved down since the last run — with locked key columns and drop-down cells for
the clerk's answer. Only those rows are turned into text and written (with
xlsxwriter, which supports data validation and sheet protection); the selection is done by Polars
over the whole run first, so a run of a million businesses stays quick.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

import polars as pl
import xlsxwriter

from gthfx.report.privacy import cut_cells
from gthfx.report.regions import REGION_NAMES
from gthfx.rules.plan import NearCheck, RulePlan
from gthfx.settings.sources import SourcesMapping
from gthfx.vocab import CHANGE_LABELS, EXCLUDED, TIER_LABELS

SHEET_GUIDE = "说明"
SHEET_SUMMARY = "汇总"
SHEET_CHANGES = "变动"
SHEET_REVIEW = "待复核"
SHEET_LISTS = "_选项"  # hidden: drop-down lists and the codes listed for review

KEY_HEADERS = ("统一社会信用代码", "区划", "分型", "原因", "为何需复核")
CLERK_HEADERS = ("复核结论", "更正字段", "更正值", "认定分型", "理由", "复核人", "复核日期")
ANSWER_CONFIRM, ANSWER_CORRECT, ANSWER_DECIDE = "确认", "更正", "人工认定"
ANSWERS = (ANSWER_CONFIRM, ANSWER_CORRECT, ANSWER_DECIDE)
DECISION_TIERS = tuple(TIER_LABELS[t] for t in ("survival", "growth", "development"))
UNKNOWN_DISTRICT = "未知区划"

DATA_PROBLEMS = ("unparseable:", "missing:", "conflicting_duplicate:")
# the tier whose businesses a threshold of a tier is near for
_BELOW = {"development": "growth", "growth": "survival"}
LIST_CHANGES = ("up", "down", "in", "out")  # new / gone are only counted (a first run: all new)


def field_choices(sources: SourcesMapping) -> list[str]:
    """The labels a clerk may name in 更正字段: every non-key, non-personal field, mapping order."""
    out: list[str] = []
    for spec in sources.extracts.values():
        for name, field in spec.fields.items():
            if name != "uscc" and not field.personal and field.label not in out:
                out.append(field.label)
    return out


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def contested(
    outcomes: pl.DataFrame,
    changes: pl.DataFrame,
    *,
    near: Sequence[NearCheck],
    headers: Mapping[str, str],
    reasons: Mapping[str, str],
) -> pl.DataFrame:
    """The contested businesses: `uscc`, `region_code`, `tier`, `reasons` (Chinese, joined) and
    `why` (why each is listed, joined), sorted by `uscc`. Each kind is selected by a cheap
    filter over the whole run; text is built for the selected rows only. `near` are the plan's
    near-threshold checks; one whose threshold is not above zero, or whose indicator the outcomes
    lack, lists nobody."""
    key = ["uscc", "region_code", "tier", "reasons"]
    parts: list[pl.DataFrame] = []
    problem = r"(^|\|)(" + "|".join(re.escape(p) for p in DATA_PROBLEMS) + ")"
    excluded = outcomes.filter(pl.col("tier") == EXCLUDED).select(key)
    parts.append(
        excluded.filter(pl.col("reasons").list.join("|").str.contains(problem)).with_columns(
            pl.lit("数据问题导致不参与分型").alias("why")
        )
    )
    for check in near:
        if check.threshold <= 0 or check.indicator not in outcomes.columns:
            continue
        value = pl.col(check.indicator)
        below = outcomes.filter(
            (pl.col("tier") == _BELOW[check.tier])
            & (value >= check.lower)
            & (value < check.threshold)
        )
        parts.append(
            below.select(
                *key,
                pl.format(
                    "接近{}门槛: {} {} (门槛 {})",
                    pl.lit(TIER_LABELS[check.tier]),
                    pl.lit(headers.get(check.indicator, check.indicator)),
                    value.cast(pl.Float64).round(2).cast(pl.String).str.replace(r"\.0$", ""),
                    pl.lit(_number(check.threshold)),
                ).alias("why"),
            )
        )
    down = changes.filter(pl.col("change") == "down").select(
        "uscc",
        pl.format(
            "较上次降型: {} → {}",
            pl.col("tier_before").replace(TIER_LABELS),
            pl.col("tier_after").replace(TIER_LABELS),
        ).alias("why"),
    )
    if down.height:
        parts.append(outcomes.select(key).join(down, on="uscc").select(*key, "why"))
    listed = (
        pl.concat(parts)
        .group_by("uscc", maintain_order=True)
        .agg(
            pl.col("region_code").first(),
            pl.col("tier").first(),
            pl.col("reasons").first(),
            pl.col("why").str.join("; "),
        )
    )
    return listed.sort("uscc").select(
        "uscc",
        "region_code",
        "tier",
        pl.col("reasons")
        .list.eval(pl.element().replace(dict(reasons)))
        .list.join("、")
        .fill_null(""),
        "why",
    )


def district_file(region_code: str | None) -> str:
    """复核_<区名>_<区划代码>.xlsx, or 复核_未知区划.xlsx for a business without a district — or
    whose district code is not a division code (6 or 12 digits): a file name never carries
    whatever else a clerk typed there (a phone number)."""
    code = re.sub(r"[^0-9A-Za-z]", "", region_code or "")
    if not re.fullmatch(r"\d{6}(\d{6})?", code):
        return f"复核_{UNKNOWN_DISTRICT}.xlsx"
    return f"复核_{REGION_NAMES.get(code, '区划')}_{code}.xlsx"


def write_review_workbooks(
    folder: Path,
    *,
    outcomes: pl.DataFrame,
    changes: pl.DataFrame,
    headers: Mapping[str, str],
    reasons: Mapping[str, str],
    sources: SourcesMapping,
    plan: RulePlan,
    run_date: date,
) -> list[Path]:
    """Write one review workbook per district found in `outcomes` (typed under `plan`) into
    `folder`."""
    listed = contested(outcomes, changes, near=plan.near_checks, headers=headers, reasons=reasons)
    counts = (
        outcomes.group_by("region_code", "tier").len().sort("region_code", "tier", nulls_last=True)
    )
    change_counts = changes.group_by("region_code", "change").len()
    shown_changes = changes.filter(pl.col("change").is_in(LIST_CHANGES))
    fields = field_choices(sources)
    districts = sorted(
        {district_file(c): c for c in outcomes["region_code"].unique().to_list()}.items()
    )
    written = []
    for name, code in districts:
        # every code mapping to this file (e.g. null and "" both to 未知区划)
        codes = [c for c in outcomes["region_code"].unique().to_list() if district_file(c) == name]
        in_district = pl.col("region_code").is_in([c for c in codes if c is not None])
        if None in codes:
            in_district = in_district | pl.col("region_code").is_null()
        path = folder / name
        unknown = name == district_file(None)
        _write_one(
            path,
            district=UNKNOWN_DISTRICT if unknown else REGION_NAMES.get(code or "", code or ""),
            region_code="" if unknown else code or "",
            counts=counts.filter(in_district),
            change_counts=change_counts.filter(in_district),
            changes=shown_changes.filter(in_district),
            review=listed.filter(in_district),
            fields=fields,
            ruleset_id=plan.source.ruleset.id,
            run_date=run_date,
        )
        written.append(path)
    return written


def _write_one(
    path: Path,
    *,
    district: str,
    region_code: str,
    counts: pl.DataFrame,
    change_counts: pl.DataFrame,
    changes: pl.DataFrame,
    review: pl.DataFrame,
    fields: list[str],
    ruleset_id: str,
    run_date: date,
) -> None:
    # text stays text: never a formula or a link, whatever a value from an extract starts with
    book = xlsxwriter.Workbook(
        str(path), {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    book.set_properties(
        {
            "title": f"复核 {district} {run_date.isoformat()}",
            "created": datetime(run_date.year, run_date.month, run_date.day),
        }
    )
    bold = book.add_format({"bold": True, "locked": True})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "locked": True})
    locked = book.add_format({"locked": True})
    free = book.add_format({"locked": False, "bg_color": "#FFF2CC"})
    free_text = book.add_format({"locked": False, "bg_color": "#FFF2CC", "num_format": "@"})

    guide = book.add_worksheet(SHEET_GUIDE)
    guide.set_column(0, 0, 100)
    lines = [
        f"个体工商户分型复核表 — {district} {region_code}".rstrip(),
        f"运行日期: {run_date.isoformat()}    规则集: {ruleset_id}",
        "",
        "「待复核」表列出本区最可能有异议的个体工商户: 因数据问题不参与分型的、"
        "接近上一档分型门槛的、较上次降型的。",
        "请在每一行的黄色单元格填写复核结论(灰色列已锁定,请勿修改):",
        f"  {ANSWER_CONFIRM}: 分型结果无误,无需其他内容。",
        f"  {ANSWER_CORRECT}: 某项数据有误 — 选择「更正字段」,填写「更正值」、复核人、复核日期,"
        "可在「理由」中说明。一行只更正一个字段;同一户需更正多个字段时请联系系统管理员。",
        f"  {ANSWER_DECIDE}: 人工认定分型 — 选择「认定分型」({' / '.join(DECISION_TIERS)}),"
        "并填写「理由」和「复核人」(审批人)、复核日期。",
        "  留空: 视为未复核,不作处理。",
        "复核日期请写作 YYYY-MM-DD。金额以元为单位(营业额、纳税总额按原数据单位万元)。",
        "填好后保存并交回,由管理员运行 gthfx review import 读入。",
        "「变动」表列出本区较上次运行升型、降型、纳入和退出分型的个体工商户;"
        "新增和消失的户数见「汇总」。",
    ]
    for row, text in enumerate(lines):
        guide.write_string(row, 0, text, bold if row == 0 else locked)
    guide.protect()

    summary = book.add_worksheet(SHEET_SUMMARY)
    summary.set_column(0, 0, 16)
    summary.set_column(1, 1, 10)
    summary.write_row(0, 0, ["分型", "户数"], head)
    by_tier = dict(counts.group_by("tier").agg(pl.col("len").sum()).iter_rows())
    row = 1
    for tier in ("development", "growth", "survival", EXCLUDED):
        summary.write_string(row, 0, TIER_LABELS[tier], locked)
        summary.write_number(row, 1, int(by_tier.get(tier, 0)), locked)
        row += 1
    summary.write_string(row, 0, "合计", bold)
    summary.write_number(row, 1, int(sum(by_tier.values())), bold)
    row += 2
    summary.write_row(row, 0, ["变动", "户数"], head)
    by_kind = dict(change_counts.group_by("change").agg(pl.col("len").sum()).iter_rows())
    for kind, label in CHANGE_LABELS.items():
        row += 1
        summary.write_string(row, 0, label, locked)
        summary.write_number(row, 1, int(by_kind.get(kind, 0)), locked)
    row += 2
    summary.write_row(row, 0, ["待复核", "户数"], head)
    summary.write_string(row + 1, 0, "列入待复核", locked)
    summary.write_number(row + 1, 1, review.height, locked)
    summary.protect()

    change_sheet = book.add_worksheet(SHEET_CHANGES)
    change_headers = ["统一社会信用代码", "上次分型", "本次分型", "变动", "变动原因"]
    change_sheet.write_row(0, 0, change_headers, head)
    for index, values in enumerate(
        cut_cells(changes.sort("uscc"))
        .select(
            "uscc",
            pl.col("tier_before").replace(TIER_LABELS).fill_null(""),
            pl.col("tier_after").replace(TIER_LABELS).fill_null(""),
            pl.col("change").replace(CHANGE_LABELS),
            pl.col("cause").fill_null(""),
        )
        .iter_rows(),
        start=1,
    ):
        change_sheet.write_row(index, 0, values)
    for col, width in enumerate((22, 10, 10, 8, 60)):
        change_sheet.set_column(col, col, width)
    change_sheet.freeze_panes(1, 0)
    change_sheet.autofilter(0, 0, max(changes.height, 1), len(change_headers) - 1)
    change_sheet.protect("", {"autofilter": True, "sort": True})

    sheet = book.add_worksheet(SHEET_REVIEW)
    sheet.activate()
    all_headers = [*KEY_HEADERS, *CLERK_HEADERS]
    sheet.write_row(0, 0, all_headers, head)
    n = review.height
    for index, (code, rc, tier, why_reasons, why) in enumerate(
        cut_cells(review)
        .select(
            "uscc",
            pl.col("region_code").fill_null(""),
            pl.col("tier").replace(TIER_LABELS),
            "reasons",
            "why",
        )
        .iter_rows(),
        start=1,
    ):
        district_name = REGION_NAMES.get(rc, rc) if rc else UNKNOWN_DISTRICT
        # key cells are locked by the sheet's default; the clerk cells (not written) take their
        # column's unlocked format
        sheet.write_row(index, 0, (code, district_name, tier, why_reasons, why))
    widths = (22, 10, 10, 40, 40, 12, 16, 14, 12, 30, 10, 12)
    first_clerk = len(KEY_HEADERS)
    for col, width in enumerate(widths):
        if col < first_clerk:
            sheet.set_column(col, col, width)
        else:
            fmt = free_text if CLERK_HEADERS[col - first_clerk] == "更正值" else free
            sheet.set_column(col, col, width, fmt)
    last = max(n, 1)

    def dropdown(col: int, source: str, title: str) -> None:
        sheet.data_validation(
            1,
            col,
            last,
            col,
            {
                "validate": "list",
                "source": source,
                "error_title": title,
                "error_message": "请从下拉列表中选择",
            },
        )

    dropdown(first_clerk, f"='{SHEET_LISTS}'!$A$1:$A${len(ANSWERS)}", "复核结论")
    dropdown(first_clerk + 1, f"='{SHEET_LISTS}'!$B$1:$B${max(len(fields), 1)}", "更正字段")
    dropdown(first_clerk + 3, f"='{SHEET_LISTS}'!$C$1:$C${len(DECISION_TIERS)}", "认定分型")
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, last, len(all_headers) - 1)
    sheet.protect("", {"autofilter": True, "sort": False, "format_columns": True})
    lists = book.add_worksheet(SHEET_LISTS)
    choices: list[list[str]] = [list(ANSWERS), fields, list(DECISION_TIERS)]
    for col, items in enumerate(choices):
        for r, value in enumerate(items):
            lists.write_string(r, col, value)
    codes = review["uscc"].to_list()
    lists.write_string(0, 3, "已列入代码")
    for r, value in enumerate(codes, start=1):
        lists.write_string(r, 3, value)
    lists.protect()
    lists.hide()

    book.close()
