"""The Spark rendering of the ruleset SQL (`gthfx.rules.to_sql.ruleset_sql(..., "spark")`) run on
PySpark in local mode against the shipped samples: the same tier, rule id, reasons (in the same
order) and derived fields as the Polars engine, business by business. Likewise for
`gthfx.rules.to_sql.outcomes_sql` (validation, duplicates, the join and the ruleset in one
query over the tables `annual`, `tax` and `social`).

These tests are marked `spark` and deselected by the default pytest options (pyproject.toml), so
`make test` neither runs nor counts them. `make test-spark` installs the `spark` extra from
requirements-spark.lock and runs them (`pytest -m spark tests/test_spark.py`); PySpark needs a
Java 17+ runtime. pyspark is imported inside the session fixture, never skipped: run without it,
these tests fail."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

from gthfx.engines.memory import load_joined, type_extracts, type_joined
from gthfx.ingest.load import load_extract
from gthfx.ingest.sqlprep import platform_readers, platform_tables
from gthfx.ingest.validate import type_rows
from gthfx.progress import Reporter
from gthfx.rules.plan import compile_for
from gthfx.rules.to_sql import TABLE, outcomes_sql, ruleset_sql
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import EXTRACTS
from support import sample_options

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DataType

pytestmark = pytest.mark.spark

OUTCOME = ["tier", "rule_id", "reasons"]
# the samples and run dates: this year's ruleset, and last year's baseline on last year's samples
RUNS = [
    ("2023", date(2024, 7, 1), "hubei-reference-2024"),
    ("2022", date(2023, 7, 1), "hubei-reference-2023-baseline"),
]


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    """One small local session for the module: one core, no UI, one shuffle partition, UTC."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("gthfx-test-spark")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.pyspark.driver.python", sys.executable)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _spark_type(dtype: pl.DataType) -> DataType:
    """The Spark column type for a column of the joined frame (unknown dtypes are an error, so a
    new column type is mapped on purpose, not guessed)."""
    from pyspark.sql import types as T

    if dtype == pl.String:
        return T.StringType()
    if dtype == pl.Int64:
        return T.LongType()
    if dtype == pl.Float64:
        return T.DoubleType()
    if dtype == pl.Boolean:
        return T.BooleanType()
    if dtype == pl.Date:
        return T.DateType()
    if dtype == pl.List(pl.String):
        return T.ArrayType(T.StringType(), containsNull=True)
    raise TypeError(f"no Spark type mapped for {dtype}")


def _register(spark: SparkSession, name: str, frame: pl.DataFrame) -> None:
    """`frame` as the temp view `name`, column by column with the types of `_spark_type`.

    Spark has no unsigned integers: the UInt64 problem masks (`_pm_*`) become LongType through a
    strict cast, which raises rather than wraps should a mask ever pass 2**63 - 1."""
    from pyspark.sql import types as T

    unsigned = [n for n, d in frame.schema.items() if d == pl.UInt64]
    frame = frame.with_columns(pl.col(unsigned).cast(pl.Int64, strict=True))
    schema = T.StructType(
        [T.StructField(n, _spark_type(d), nullable=True) for n, d in frame.schema.items()]
    )
    spark.createDataFrame(frame.rows(), schema=schema).createOrReplaceTempView(name)


def _options(year: str, run_date: date, out: Path) -> RunOptions:
    assert int(year) == run_date.year - 1  # the samples of the report year before the run
    return sample_options(out, run_date)


def _by_uscc(rows: list[dict[str, Any]], columns: list[str]) -> dict[str, tuple[Any, ...]]:
    out = {row["uscc"]: tuple(row[c] for c in columns) for row in rows}
    assert len(out) == len(rows), "uscc is not unique"
    return out


def _assert_same(
    polars_side: dict[str, tuple[Any, ...]], spark_side: dict[str, tuple[Any, ...]]
) -> None:
    """The same businesses with the same values; a business one side lacks shows as None."""
    differ = [
        (uscc, polars_side.get(uscc), spark_side.get(uscc))
        for uscc in sorted(polars_side.keys() | spark_side.keys())
        if polars_side.get(uscc) != spark_side.get(uscc)
    ]
    assert not differ, (
        f"{len(differ)} businesses differ ({len(polars_side)} in Polars, {len(spark_side)} in"
        f" Spark); (uscc, polars, spark): {differ[:5]}"
    )


@pytest.mark.parametrize(("year", "run_date", "ruleset_id"), RUNS)
def test_spark_sql_on_joined_same_outcomes(
    spark: SparkSession, tmp_path: Path, year: str, run_date: date, ruleset_id: str
) -> None:
    """`ruleset_sql` over the table `joined` (the joined frame of the samples) against
    `pipeline.type_joined` on the same frame."""
    options = _options(year, run_date, tmp_path / "runs")
    joined, compiled, sources = load_joined(options, Reporter(quiet=True))
    assert compiled.source.ruleset.id == ruleset_id  # the ruleset in force on the run date
    columns = [*OUTCOME, *(item.id for item in compiled.source.ruleset.derived)]

    polars_side = type_joined(joined, compiled, sources)
    sql = ruleset_sql(compiled, "spark")
    _register(spark, TABLE, joined)
    spark_rows = [row.asDict(recursive=True) for row in spark.sql(sql).collect()]

    _assert_same(_by_uscc(polars_side.to_dicts(), columns), _by_uscc(spark_rows, columns))
    # the samples reach every outcome, so the comparison is not vacuous
    assert set(polars_side.get_column("tier")) == {"survival", "growth", "development", "excluded"}


@pytest.mark.parametrize(("year", "run_date", "ruleset_id"), RUNS)
def test_spark_sql_on_extract_tables_same_outcomes(
    spark: SparkSession, tmp_path: Path, year: str, run_date: date, ruleset_id: str
) -> None:
    """`sqlprep.outcomes_sql` (platform form: validation, duplicates, the join and the ruleset in
    one query over the tables `annual`, `tax` and `social`) against the Polars engine typing the
    same rows: the tables are `sqlprep.platform_tables` of the samples' typed rows, and the
    Polars side is `pipeline.type_extracts` fed by `sqlprep.platform_readers` of those tables."""
    options = _options(year, run_date, tmp_path / "runs")
    sources, compiled = compile_for(options)
    assert compiled.source.ruleset.id == ruleset_id
    raw = {
        extract: load_extract(
            extract,
            list(options.inputs[extract]),
            sources.extracts[extract],
            transform=partial(type_rows, spec=sources.extracts[extract]),
        )
        for extract in EXTRACTS
    }
    tables = platform_tables(raw, sources)
    columns = [
        *OUTCOME,
        "flags",
        "region_code",
        "industry_code",
        *(item.id for item in compiled.source.ruleset.derived),
    ]

    polars_side = type_extracts(platform_readers(tables, sources), compiled, sources).outcomes
    sql = outcomes_sql(compiled, "spark")
    for name, table in tables.items():
        _register(spark, name, table)
    spark_rows = [row.asDict(recursive=True) for row in spark.sql(sql).collect()]

    _assert_same(_by_uscc(polars_side.to_dicts(), columns), _by_uscc(spark_rows, columns))
    assert set(polars_side.get_column("tier")) == {"survival", "growth", "development", "excluded"}
