"""The 名特优新 section of the monitoring report: the register's figures on the run date, or
暂无数据 without a register.

SPEC §10, seed 二(五)、二(六): entries, and the shares of 党员经营户 and of 全国/省级先进个体工商户
among them, per category and per district — from the register's own API,
`gthfx.app.categories.register.category_numbers` (the entries in force on the date).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from gthfx.app import report_tables as t
from gthfx.app.categories.register import category_numbers
from gthfx.report.document import NO_DATA, Chart, Figure, Section
from gthfx.report.regions import region_name
from gthfx.report.svg import CIVIDIS_4, MEASURE_COLOURS
from gthfx.vocab import CATEGORIES, CATEGORY_LABELS

CATEGORY_WORDS = {c: CATEGORY_LABELS[c] for c in CATEGORIES}  # in the register's order


def categories_section(register: Path | None, on: date) -> Section:
    """六、名特优新: the register's entries in force on `on`, or 暂无数据 without a register."""
    title = "六、名特优新"
    intro = (
        f"截至批次日期 {on.isoformat()} 有效的“名特优新”认定,及其中党员经营户和全国、省级先进个体"
        "工商户的比例(武市监〔2024〕39号 二(五)、二(六))。"
    )
    if register is None:
        return Section(
            id="s-categories",
            title=title,
            intro=intro,
            empty=f"{NO_DATA}:未指定名特优新名录(gthfx report --register DIR)。",
        )
    numbers = category_numbers(register, on)
    definitions: dict[str, str] = dict(numbers.definitions)
    overall = numbers.overall
    summary = pl.DataFrame(
        {
            "指标": ["认定户次", "认定户数", "党员经营户", "全国或省级先进个体工商户"],
            "户数": [
                overall["entries"], overall["businesses"], overall["party_member"],
                overall["advanced"],
            ],
            "比例(%)": [
                None, None, _pct(overall["party_share"]), _pct(overall["advanced_share"]),
            ],
        },
        schema={"指标": pl.String, "户数": pl.Int64, "比例(%)": pl.Float64},
    )  # fmt: skip
    by_category = numbers.by_category.select(
        pl.col("category")
        .replace_strict(CATEGORY_WORDS, default=pl.col("category"), return_dtype=pl.String)
        .alias("类别"),
        pl.col("entries").cast(pl.Int64).alias("认定户次"),
        pl.col("party_member").cast(pl.Int64).alias("党员经营户"),
        (pl.col("party_share") * 100).round(2).alias("党员经营户比例(%)"),
        pl.col("advanced").cast(pl.Int64).alias("先进个体工商户"),
        (pl.col("advanced_share") * 100).round(2).alias("先进个体工商户比例(%)"),
    )
    grid = numbers.by_category_district
    by_district = _category_districts(grid)
    words = "".join(v.rstrip("。") + "。" for v in definitions.values())
    return Section(
        id="s-categories",
        title=title,
        intro=intro,
        figures=(
            Figure(
                id="f-cat-overall",
                title="名特优新认定概况",
                table=summary,
                definition=words + "比例 = 户数 ÷ 认定户数 × 100(认定户次、认定户数不计比例)。",
                note=None if overall["businesses"] else f"截至该日没有有效认定,比例{NO_DATA}。",
                source=f"名特优新名录 {register.name},截至 {on.isoformat()}",
            ),
            Figure(
                id="f-cat-categories",
                title="各类别认定户次及党员经营户、先进个体工商户比例",
                table=by_category,
                definition=(
                    "认定户次:该类别在该日有效的认定;党员经营户、先进个体工商户:其中认定或续期时有有效"
                    "佐证的户次;比例 = 户次 ÷ 该类别认定户次 × 100;该类别无认定时暂无数据。"
                ),
                chart=Chart(
                    kind="bars",
                    category="类别",
                    series=("党员经营户比例(%)", "先进个体工商户比例(%)"),
                    names=("党员经营户比例", "全国或省级先进个体工商户比例"),
                    colours=MEASURE_COLOURS,
                    unit="%",
                    desc="分组条形图:各类别认定中党员经营户与先进个体工商户的比例。",
                ),
                missing=NO_DATA,
                source=f"名特优新名录 {register.name},截至 {on.isoformat()}",
            ),
            Figure(
                id="f-cat-districts",
                title="各区名特优新认定户次",
                table=by_district,
                definition="在该日有效的认定户次,按认定时记录的行政区划与类别。",
                chart=Chart(
                    kind="bars",
                    mode="stacked",
                    category=t.DISTRICT,
                    series=tuple(CATEGORY_WORDS.values()),
                    colours=CIVIDIS_4,
                    unit="户次",
                    rows=tuple(range(by_district.height - 1)),
                    desc="堆积条形图:各区知名、特色、优质、新兴的认定户次。",
                )
                if by_district.height > 1
                else None,
                total_rows=(by_district.height - 1,),
                source=f"名特优新名录 {register.name},截至 {on.isoformat()}",
            ),
        ),
    )


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def _category_districts(grid: pl.DataFrame) -> pl.DataFrame:
    """区划 rows × 类别 columns of entries, every category present; a last row 合计."""
    labels = list(CATEGORY_WORDS.values())
    wide = grid.with_columns(
        pl.col("category").replace_strict(
            CATEGORY_WORDS, default=pl.col("category"), return_dtype=pl.String
        )
    ).pivot(on="category", index="region_code", values="entries", aggregate_function="sum")
    for label in labels:
        if label not in wide.columns:
            wide = wide.with_columns(pl.lit(0, pl.Int64).alias(label))
    wide = wide.with_columns(pl.col(labels).fill_null(0).cast(pl.Int64)).select(
        pl.col("region_code").cast(pl.String), *labels, pl.sum_horizontal(labels).alias(t.TOTAL)
    )
    table = wide.sort("region_code", nulls_last=True).select(
        pl.col("region_code").alias(t.CODE),
        region_name(pl.col("region_code")).alias(t.DISTRICT),
        *labels,
        t.TOTAL,
    )
    total = table.select(
        pl.lit("").alias(t.CODE),
        pl.lit(t.TOTAL).alias(t.DISTRICT),
        *(pl.col(c).sum().cast(pl.Int64) for c in [*labels, t.TOTAL]),
    )
    return pl.concat([table, total])
