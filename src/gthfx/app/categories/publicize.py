"""`gthfx categories publicize`: the 公示名单 of a screening's eligible entries.

District,
business name, code, category, the publicity start and end dates and the operator's masked
details — as CSV (UTF-8 with BOM), XLSX and a printable HTML page, written to
`<cycle>/publicity/`. Never prints.

Only masked personal data reaches this folder (`张**`, `138****5678`, `420102********1234`): the
screening stored nothing else.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from gthfx.app.categories.core import CATEGORY_ORDER, ELIGIBLE
from gthfx.app.categories.folders import read_manifest, step_folder, write_manifest
from gthfx.app.categories.screen import SCREENING_FILE
from gthfx.errors import ConfigError
from gthfx.ingest.load import sha256_of
from gthfx.report.printable import write_printable_html
from gthfx.report.regions import region_name
from gthfx.report.xlsx import write_xlsx
from gthfx.vocab import CATEGORY_LABELS

PUBLICITY_FILE = "publicity.parquet"
LIST_NAME = "公示名单"
COLUMNS = (
    "uscc", "category", "region_code", "name", "operator_name_masked", "phone_masked",
    "operator_id_masked", "publicity_start", "publicity_end",
)  # fmt: skip


@dataclass(frozen=True)
class PublicizeOptions:
    screening: Path
    start: date
    days: int | None = None
    force: bool = False
    command: tuple[str, ...] = ()


@dataclass
class PublicizeResult:
    folder: Path
    start: date
    end: date
    entries: int
    by_district: pl.DataFrame

    @property
    def exit_code(self) -> int:
        return 0


def publicity_table(frame: pl.DataFrame) -> pl.DataFrame:
    """The list as the public sees it: Chinese headers, one row per entry, numbered."""
    return frame.select(
        pl.int_range(1, pl.len() + 1).alias("序号"),
        region_name(pl.col("region_code")).alias("区划"),
        pl.col("name").fill_null("").alias("个体工商户名称"),
        pl.col("uscc").alias("统一社会信用代码"),
        pl.col("category").replace_strict(CATEGORY_LABELS).alias("认定类别"),
        pl.col("operator_name_masked").fill_null("").alias("经营者"),
        pl.col("phone_masked").fill_null("").alias("联系电话"),
        pl.col("operator_id_masked").fill_null("").alias("经营者身份证号码"),
        pl.col("publicity_start").dt.strftime("%Y-%m-%d").alias("公示开始日期"),
        pl.col("publicity_end").dt.strftime("%Y-%m-%d").alias("公示结束日期"),
    )


def publicize(options: PublicizeOptions) -> PublicizeResult:
    manifest = read_manifest(options.screening, "categories-screening")
    screened_on = date.fromisoformat(manifest["screening_date"])
    if options.start < screened_on:
        raise ConfigError(
            f"--start {options.start} is before the screening date {screened_on}",
            hint="the publicity starts on or after the screening",
        )
    days = options.days
    if days is None:
        days = int(manifest["criteria"]["parameters"]["publicity_days"]["value"])
    if days < 1:
        raise ConfigError(f"--days {days}: the publicity lasts at least one day")
    end = options.start + timedelta(days=days - 1)
    source = options.screening / SCREENING_FILE
    listed = (
        pl.read_parquet(source)
        .filter(pl.col("result") == ELIGIBLE)
        .with_columns(
            pl.lit(options.start).alias("publicity_start"),
            pl.lit(end).alias("publicity_end"),
            pl.col("category").cast(CATEGORY_ORDER).alias("_c"),
        )
        .sort("region_code", "_c", "uscc", nulls_last=True)
        .select(COLUMNS)
    )
    table = publicity_table(listed)
    by_district = (
        listed.group_by("region_code")
        .agg(pl.len().cast(pl.Int64).alias("entries"))
        .with_columns(region_name(pl.col("region_code")).alias("district"))
        .sort("region_code", nulls_last=True)
    )
    title = "名特优新个体工商户拟认定名单公示"
    subtitle = f"公示期:{options.start:%Y年%m月%d日} 至 {end:%Y年%m月%d日}(共{days}天)"
    notes = [
        f"公示期内,对名单有异议的,可向所在区市场监督管理局书面反映;共 {listed.height} 户次。",
        "为保护个人信息,经营者姓名、联系电话和身份证号码已作脱敏处理。",
    ]
    cycle = options.screening.parent
    with step_folder(cycle, "publicity", force=options.force) as staging:
        listed.write_parquet(staging / PUBLICITY_FILE)
        table.write_csv(staging / f"{LIST_NAME}.csv", include_bom=True)
        write_xlsx(staging / f"{LIST_NAME}.xlsx", [(LIST_NAME, table)], title=title)
        write_printable_html(staging / f"{LIST_NAME}.html", title, subtitle, table, notes)
        write_manifest(
            staging,
            {
                "kind": "categories-publicity",
                "command": list(options.command or sys.argv),
                "screening": str(options.screening),
                "screening_date": screened_on.isoformat(),
                "screening_sha256": sha256_of(source),
                "publicity_start": options.start.isoformat(),
                "publicity_end": end.isoformat(),
                "days": days,
                "entries": listed.height,
                "by_district": by_district.to_dicts(),
            },
        )
    return PublicizeResult(cycle / "publicity", options.start, end, listed.height, by_district)
