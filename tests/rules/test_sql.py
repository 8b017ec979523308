"""The SQL engine (`gthfx.rules.to_sql`, `gthfx compile-sql`) against the Polars engine: the same
outcomes, rule ids and reasons on the shipped samples and on generated edge cases."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from gthfx.cli.main import app
from gthfx.engines.memory import load_joined, type_joined
from gthfx.errors import ConfigError
from gthfx.progress import Reporter
from gthfx.rules.grammar import parse_expression
from gthfx.rules.model import RulesetFile, with_parameters
from gthfx.rules.plan import build_plan
from gthfx.rules.to_polars import expression
from gthfx.rules.to_sql import expression_sql, ruleset_sql
from gthfx.rules.types import FIELD_KINDS, Kind, Scope, check_expression
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import SourcesMapping, load_sources
from support import sample_options

RUN_DATE = date(2024, 7, 1)
OUTCOME = ["uscc", "tier", "rule_id", "reasons"]


def _options(out: Path) -> RunOptions:
    return sample_options(out, RUN_DATE)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, Any, SourcesMapping]:
    return load_joined(_options(tmp_path_factory.mktemp("runs")), Reporter(quiet=True))


def _field_kinds() -> dict[str, str]:
    return dict(load_sources(None).field_types())


def _sql_outcomes(joined: pl.DataFrame, ruleset: RulesetFile, sources: SourcesMapping) -> Any:
    sql = ruleset_sql(build_plan(ruleset, load_sources(None), RUN_DATE, loaded=sources), "duckdb")
    con = duckdb.connect()
    con.register("joined", joined.to_arrow())
    out = pl.from_arrow(con.sql(sql).to_arrow_table())
    assert isinstance(out, pl.DataFrame)
    return out.select(OUTCOME).sort("uscc")


def _polars_outcomes(joined: pl.DataFrame, ruleset: RulesetFile, sources: SourcesMapping) -> Any:
    compiled = build_plan(ruleset, load_sources(None), RUN_DATE, loaded=sources)
    return type_joined(joined, compiled, sources).select(OUTCOME).sort("uscc")


def _assert_same(polars_side: pl.DataFrame, sql_side: pl.DataFrame) -> None:
    assert polars_side.height == sql_side.height
    both = polars_side.join(sql_side, on="uscc", suffix="_sql")
    differ = both.filter(
        (pl.col("tier") != pl.col("tier_sql"))
        | (pl.col("rule_id") != pl.col("rule_id_sql"))
        | (pl.col("reasons") != pl.col("reasons_sql"))
    )
    assert differ.is_empty(), differ.to_dicts()[:5]


def test_samples_same_outcomes_in_duckdb(loaded: tuple[pl.DataFrame, Any, SourcesMapping]) -> None:
    joined, compiled, sources = loaded
    polars_side = _polars_outcomes(joined, compiled.source, sources)
    sql_side = _sql_outcomes(joined, compiled.source, sources)
    _assert_same(polars_side, sql_side)
    # the samples reach every outcome, so the comparison is not vacuous
    assert set(polars_side.get_column("tier")) == {"survival", "growth", "development", "excluded"}


@pytest.mark.parametrize("dialect", ["postgres", "spark", "duckdb"])
def test_renderings_parse_back(
    dialect: str, loaded: tuple[pl.DataFrame, Any, SourcesMapping]
) -> None:
    _, compiled, _ = loaded
    sql = ruleset_sql(compiled, dialect)
    tree = sqlglot.parse_one(sql, read=dialect)
    assert [s.alias_or_name for s in tree.selects][:4] == ["uscc", "tier", "rule_id", "reasons"]


def test_unknown_dialect_is_a_config_error(
    loaded: tuple[pl.DataFrame, Any, SourcesMapping],
) -> None:
    _, compiled, _ = loaded
    with pytest.raises(ConfigError):
        ruleset_sql(compiled, "oracle")


def test_cli_compile_sql(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["compile-sql", "--dialect", "duckdb", "--date", "2024-07-01", "--rules", "rules"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("-- gthfx compile-sql: ruleset hubei-reference-2024 (sha256 ")
    assert "2024-07-01" in result.output
    # by default over the extracts' tables; with --from joined over the joined table
    assert "-- input table `annual`" in result.output and 'FROM "tax"' in result.output
    joined = runner.invoke(
        app,
        ["compile-sql", "--dialect", "duckdb", "--date", "2024-07-01", "--from", "joined"],
    )
    assert joined.exit_code == 0, joined.output
    assert "`joined`" in joined.output and 'FROM "annual"' not in joined.output
    wrong = runner.invoke(
        app, ["compile-sql", "--dialect", "duckdb", "--date", "2024-07-01", "--from", "x"]
    )
    assert isinstance(wrong.exception, ConfigError)
    target = tmp_path / "typing.sql"
    result = runner.invoke(
        app, ["compile-sql", "--dialect", "spark", "--date", "2024-07-01", "--out", str(target)]
    )
    assert result.exit_code == 0, result.output
    sqlglot.parse_one(target.read_text(encoding="utf-8"), read="spark")
    for dialect in ("postgres", "spark"):
        out = runner.invoke(app, ["compile-sql", "--dialect", dialect, "--date", "2024-07-01"])
        assert out.exit_code == 0, out.output
        sqlglot.parse_one(out.output, read=dialect)
    bad = runner.invoke(app, ["compile-sql", "--dialect", "oracle", "--date", "2024-07-01"])
    assert isinstance(bad.exception, ConfigError)


# ---- generated edge cases -------------------------------------------------------------------


def _near(values: list[float]) -> st.SearchStrategy[float | None]:
    """Missing, zero, or a value at or just around one of the thresholds."""
    points = [0.0, *values]
    around = [p + d for p in points for d in (-1.0, -0.01, 0.0, 0.01, 1.0)]
    return st.one_of(st.none(), st.sampled_from(around))


def _ints_near(values: list[int]) -> st.SearchStrategy[int | None]:
    return st.one_of(st.none(), st.sampled_from([v + d for v in [0, *values] for d in (-1, 0, 1)]))


# dates around the anniversaries that matter for a run on 2024-07-01, 29 Feb starts, this year
DATES = [
    date(2024, 7, 1),
    date(2024, 7, 2),
    date(2024, 6, 30),
    date(2024, 1, 1),
    date(2023, 12, 31),
    date(2023, 7, 1),
    date(2023, 7, 2),
    date(2021, 7, 1),
    date(2021, 7, 2),
    date(2020, 2, 29),
    date(2021, 3, 1),
    date(2020, 3, 1),
    date(2016, 2, 29),
    date(2024, 2, 29),
    date(2023, 2, 28),
]
MONEY = [1_000_000.0, 30_000.0, 999_999.99, 500_000.0]
MASK_BITS = [0, 1, 2, 3, 4, 5, 13, 32, 33, 34, 40]


RARELY = st.sampled_from([False] * 9 + [True])


@st.composite
def _mask(draw: st.DrawFn) -> int | None:
    if draw(st.integers(0, 5)):  # mostly clean
        return 0
    bits = draw(st.lists(st.sampled_from(MASK_BITS), max_size=3))
    return sum({1 << b for b in bits})


def _mostly(typical: object, *others: object) -> st.SearchStrategy[Any]:
    """The typical value most of the time (so that businesses reach the tier rules), else one
    of the others (edge cases, missing values)."""
    return st.sampled_from([typical] * 12 + list(others))


@st.composite
def _row(draw: st.DrawFn, index: int) -> dict[str, Any]:
    maybe_date = st.one_of(st.none(), st.sampled_from(DATES))
    row = {
        "uscc": f"92420100MA{index:08d}",
        "established_on": draw(st.one_of(_mostly(date(2019, 3, 1)), maybe_date)),
        "register_status": draw(_mostly("存续", None, "在营", "开业", "歇业", "注销")),
        "report_year": draw(_mostly(2023, None, 2021, 2022, 2024)),
        "reported_on": draw(_mostly(date(2024, 5, 1), None, *DATES)),
        "report_status": draw(_mostly("开业", None, "歇业", "清算")),
        "employees": draw(_ints_near([3, 1, 5])),
        "revenue": draw(_near(MONEY)),
        "tax_total": draw(_near(MONEY)),
        "abnormal": draw(_mostly(False, None, True)),
        "serious_dishonest": draw(_mostly(False, None, True)),
        "_pm_annual": draw(_mask()),
        "_has_annual": draw(RARELY) is False,
        "_conflict_annual": draw(RARELY),
        "taxpayer_type": draw(st.sampled_from([None, "一般纳税人", "小规模纳税人"])),
        "sales": draw(_near(MONEY)),
        "tax_paid": draw(_near(MONEY)),
        "_pm_tax": draw(_mask()),
        "_conflict_tax": draw(RARELY),
        "insured_count": draw(_ints_near([1, 5, 2])),
        "_pm_social": draw(_mask()),
        "_conflict_social": draw(RARELY),
    }
    if draw(_mostly(True, False)):  # no data problem: the row reaches the basic conditions
        row.update({f"_pm_{e}": 0 for e in ("annual", "tax", "social")})
        row.update({f"_conflict_{e}": False for e in ("annual", "tax", "social")})
        row["_has_annual"] = True
    return row


@st.composite
def _frames(draw: st.DrawFn, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    n = draw(st.integers(min_value=1, max_value=4))
    rows = [draw(_row(i)) for i in range(n)]
    frame = pl.DataFrame(rows, schema={k: schema[k] for k in rows[0]})
    # the other columns of the real joined frame, missing
    missing = [pl.lit(None, schema[k]).alias(k) for k in schema if k not in frame.columns]
    return frame.with_columns(missing).select(list(schema))


OVERRIDES: dict[str, st.SearchStrategy[Any]] = {
    "development_min_years": st.integers(0, 4),
    "growth_min_years": st.integers(0, 2),
    "development_min_sales_yuan": st.sampled_from([0, 500_000, 1_000_000, 999_999.99]),
    "development_min_tax_yuan": st.sampled_from([0, 30_000, 1]),
    "development_min_insured": st.integers(0, 6),
    "growth_min_insured": st.integers(0, 2),
    "growth_min_employees": st.integers(0, 4),
    "report_lag_years": st.integers(0, 2),
    "active_register_statuses": st.sampled_from([[], ["存续"], ["存续", "在营", "开业", "歇业"]]),
    "closed_register_status": st.sampled_from(["歇业", "注销"]),
}


@given(data=st.data())
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_generated_frames_same_outcomes(
    data: st.DataObject, loaded: tuple[pl.DataFrame, Any, SourcesMapping]
) -> None:
    joined, compiled, sources = loaded
    frame = data.draw(_frames(dict(joined.schema)))
    chosen = data.draw(st.lists(st.sampled_from(sorted(OVERRIDES)), max_size=3, unique=True))
    overrides = {name: data.draw(OVERRIDES[name]) for name in chosen}
    ruleset = with_parameters(compiled.source, overrides)
    _assert_same(_polars_outcomes(frame, ruleset, sources), _sql_outcomes(frame, ruleset, sources))


# expressions the reference ruleset does not use: the rest of the grammar, value by value
EXPRESSIONS = [
    "revenue / tax_total",
    "revenue / tax_total > 1",
    "min(revenue, sales, tax_paid)",
    "max(revenue, 0.5)",
    "coalesce(tax_paid, tax_total, 0)",
    "-employees + 2 * insured_count - 1",
    "employees in [1, 3, 5]",
    "employees not in [1, 3]",
    'register_status not in ["存续", "在营"]',
    "register_status in []",
    "register_status not in []",
    "complete_years(established_on, reported_on)",
    "complete_years(date('2020-02-29'), reported_on)",
    "year(reported_on) - year(established_on)",
    "established_on >= date('2021-07-01') or abnormal",
    "not (abnormal and serious_dishonest)",
    "abnormal == serious_dishonest",
    "sales is missing or tax_paid is not missing",
    "reported_on <= run_date and report_year == run_year - 1",
]


def _scope() -> Scope:
    columns: dict[str, Kind] = {n: FIELD_KINDS[k] for n, k in _field_kinds().items()}
    return Scope(columns=columns, parameters={}, run_date=RUN_DATE)


@given(data=st.data())
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_generated_expressions_same_values(
    data: st.DataObject, loaded: tuple[pl.DataFrame, Any, SourcesMapping]
) -> None:
    joined, _, _ = loaded
    frame = data.draw(_frames(dict(joined.schema)))
    scope = _scope()
    polars_side = frame.select(
        [
            expression(check_expression(parse_expression(t), scope)).alias(f"e{i}")
            for i, t in enumerate(EXPRESSIONS)
        ]
    )
    select = sqlglot.exp.select(
        *(
            sqlglot.exp.alias_(
                expression_sql(check_expression(parse_expression(t), scope)), f"e{i}"
            )
            for i, t in enumerate(EXPRESSIONS)
        )
    ).from_("joined")
    con = duckdb.connect()
    con.register("joined", frame.to_arrow())
    sql_side = pl.from_arrow(con.sql(select.sql(dialect="duckdb")).to_arrow_table())
    assert isinstance(sql_side, pl.DataFrame)
    for i, text in enumerate(EXPRESSIONS):
        left = polars_side.get_column(f"e{i}").to_list()
        right = sql_side.get_column(f"e{i}").to_list()
        assert _close(left, right), (text, left, right, frame.to_dicts())


def _close(left: list[Any], right: list[Any]) -> bool:
    for a, b in zip(left, right, strict=True):
        if a is None or b is None:
            if a is not b:
                return False
        elif isinstance(a, float) or isinstance(b, float):
            if abs(float(a) - float(b)) > 1e-9 * max(1.0, abs(float(a))):
                return False
        elif a != b:
            return False
    return True
