"""The bare baseline: a hand-written Polars streaming query doing the same join and tiering as
`gthfx classify` on the same files, with partitioned output — and nothing else (no rejects, no
accounting, no change log, no renderings, no manifest). CSV text is parsed; a typed Parquet
column (`bench/typed.py`) is read as it is, a text one parsed as in a CSV.

    python bench/bare.py --date 2024-07-01 --annual A.csv --tax T.csv --social S.csv --out DIR
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import polars as pl

from gthfx.ingest.load import map_headers
from gthfx.settings.sources import load_sources

FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d")


TYPED: dict[str, pl.DataType] = {}  # field → its Parquet type, where it is not text


def scan(extract: str, path: Path) -> pl.LazyFrame:
    spec = load_sources().extracts[extract]
    if path.suffix == ".parquet":
        schema = pl.read_parquet_schema(path)
        found, _ = map_headers(path, extract, spec, list(schema))
        TYPED.update({f: schema[h] for f, h in found.items() if schema[h] != pl.String})
        lazy = pl.scan_parquet(path)
    else:
        headers = pl.read_csv(path, n_rows=0, infer_schema=False).columns
        found, _ = map_headers(path, extract, spec, headers)
        lazy = pl.scan_csv(path, infer_schema=False)
    return lazy.select(pl.col(header).alias(field) for field, header in found.items())


def text(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String).str.normalize("NFKC").str.strip_chars()


def number(name: str) -> pl.Expr:
    if name in TYPED:
        return pl.col(name).cast(pl.Float64)
    return text(name).str.replace_all(",", "").cast(pl.Float64, strict=False)


def day(name: str) -> pl.Expr:
    if name in TYPED:
        return pl.col(name).cast(pl.Date)
    return pl.coalesce(text(name).str.strptime(pl.Date, f, strict=False) for f in FORMATS)


def truthy(name: str) -> pl.Expr:
    if name in TYPED:
        return pl.col(name).cast(pl.Boolean).fill_null(False)
    return text(name).str.to_lowercase().is_in(["是", "y", "1", "true"])


def code() -> pl.Expr:
    return text("uscc").str.replace_all(r"\s", "").str.to_uppercase()


def keyed(lf: pl.LazyFrame) -> pl.LazyFrame:
    return (
        lf.with_columns(code().alias("uscc"))
        .filter(pl.col("uscc").str.contains(r"^92[0-9A-Z]{16}$"))
        .unique("uscc", keep="first")
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    for name in ("date", "annual", "tax", "social", "out"):
        ap.add_argument(f"--{name}", required=True)
    args = ap.parse_args()
    run = date.fromisoformat(args.date)
    annual = keyed(scan("annual", Path(args.annual))).select(
        "uscc", "region_code",
        day("established_on").alias("established_on"),
        text("register_status").alias("register_status"),
        number("report_year").alias("report_year"),
        day("reported_on").alias("reported_on"),
        text("report_status").alias("report_status"),
        number("employees").alias("employees"),
        (number("revenue") * 10_000).alias("revenue"),
        (number("tax_total") * 10_000).alias("tax_total"),
        truthy("abnormal").alias("abnormal"),
        truthy("serious_dishonest").alias("serious_dishonest"),
    )  # fmt: skip
    tax = keyed(scan("tax", Path(args.tax))).select(
        "uscc",
        number("sales").alias("sales"),
        number("tax_paid").alias("tax_paid"),
        text("taxpayer_type").alias("taxpayer_type"),
    )
    social = keyed(scan("social", Path(args.social))).select(
        "uscc", number("insured_count").alias("insured_count")
    )
    est = pl.col("established_on")
    before_anniversary = (pl.lit(run.month) < est.dt.month()) | (
        (pl.lit(run.month) == est.dt.month()) & (pl.lit(run.day) < est.dt.day())
    )
    years = pl.lit(run.year) - est.dt.year() - before_anniversary.cast(pl.Int32)
    joined = (
        annual.join(tax, on="uscc", how="left")
        .join(social, on="uscc", how="left")
        .with_columns(
            years.alias("years"),
            pl.coalesce("sales", "revenue").alias("sales_yuan"),
            pl.coalesce("tax_paid", "tax_total").alias("tax_yuan"),
        )
    )
    status = pl.col("register_status")
    basic = (
        status.is_in(["存续", "在营", "开业", "歇业"])
        & (status != "歇业")
        & (pl.col("report_status").is_null() | (pl.col("report_status") == "开业"))
        & (
            ((pl.col("report_year") >= run.year - 1)
             & (pl.col("reported_on").is_null() | (pl.col("reported_on") <= run)))
            | (est.dt.year() == run.year)
        )
        & ~pl.col("abnormal")
        & ~pl.col("serious_dishonest")
    ).fill_null(False)  # fmt: skip
    development = (
        (pl.col("years") >= 3)
        & (pl.col("sales_yuan") >= 1_000_000)
        & (
            (pl.col("tax_yuan") >= 30_000)
            | (pl.col("insured_count") >= 5)
            | (pl.col("taxpayer_type") == "一般纳税人")
        ).fill_null(False)
    ).fill_null(False)
    growth = (
        (pl.col("years") >= 1)
        & (
            (pl.col("tax_yuan") > 0).fill_null(False)
            | (pl.col("insured_count") >= 1).fill_null(False)
            | (pl.col("employees") >= 3).fill_null(False)
        )
    ).fill_null(False)
    tier = (
        pl.when(~basic)
        .then(pl.lit("excluded"))
        .when(development)
        .then(pl.lit("development"))
        .when(growth)
        .then(pl.lit("growth"))
        .otherwise(pl.lit("survival"))
    )
    result = joined.with_columns(tier.alias("tier")).select(
        "uscc", "tier", "region_code", "years", "sales_yuan", "tax_yuan", "insured_count",
        "employees",
    )  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result.sink_parquet(pl.PartitionBy(out, key="tier"), mkdir=True, engine="streaming")


if __name__ == "__main__":
    main()
