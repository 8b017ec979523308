"""The ruleset compiled once (`rules.plan`): one parse and one type check per run on either engine
and per `compile-sql`; the plan's outcome schema is what the engines write; the column types it
gives derived fields are Polars' own."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from gthfx.app.classify import classify
from gthfx.app.explain import explain_fresh
from gthfx.app.simulate import Scenario, simulate
from gthfx.cli.main import app
from gthfx.ingest.parse import POLARS_TYPES
from gthfx.rules import check as check_module
from gthfx.rules import plan as plan_module
from gthfx.rules.check import expressions
from gthfx.rules.grammar import parse_expression
from gthfx.rules.model import load_ruleset
from gthfx.rules.plan import build_plan, compile_for
from gthfx.rules.to_polars import expression
from gthfx.rules.types import FIELD_KINDS, Kind, Scope, check_expression, dtype_of
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import EXTRACTS, load_sources
from gthfx.vocab import BASE_COLUMNS, OUTCOME_FILES
from support import ROOT

RUN_DATE = date(2024, 7, 1)
REFERENCE = load_ruleset(ROOT / "rules" / "reference-2024.yaml")
# every expression of the reference ruleset: derived fields, basic conditions, tier rules
N_EXPRESSIONS = len(expressions(REFERENCE.ruleset))


def _options(out: Path, engine: str) -> RunOptions:
    folder = ROOT / "samples" / str(RUN_DATE.year - 1)
    return RunOptions(
        run_date=RUN_DATE,
        inputs={e: tuple(sorted((folder / e).iterdir())) for e in EXTRACTS},
        out=out,
        rules=ROOT / "rules",
        engine=engine,  # type: ignore[arg-type]
        excel=False,
        command=("gthfx", "classify"),
    )


def _count(mp: pytest.MonkeyPatch) -> Counter[str]:
    """Count the plan builder's type checks (of a whole ruleset) and parses (of an expression)."""
    counts: Counter[str] = Counter()
    check, parse = plan_module.check_ruleset, check_module.parse_expression

    def counted_check(*args: Any, **kwargs: Any) -> Any:
        counts["check"] += 1
        return check(*args, **kwargs)

    def counted_parse(text: str) -> Any:
        counts["parse"] += 1
        return parse(text)

    mp.setattr(plan_module, "check_ruleset", counted_check)
    mp.setattr(check_module, "parse_expression", counted_parse)
    return counts


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[Path, Counter[str]]]]:
    """The 2024 samples classified by each engine, counting the plan builder's work."""
    out = {}
    for engine in ("polars", "duckdb"):
        folder = tmp_path_factory.mktemp(engine)
        with pytest.MonkeyPatch.context() as mp:
            counts = _count(mp)
            classify(_options(folder, engine))
        out[engine] = (folder / RUN_DATE.isoformat(), counts)
    yield out


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_a_run_parses_and_checks_the_ruleset_once(
    runs: dict[str, tuple[Path, Counter[str]]], engine: str
) -> None:
    _, counts = runs[engine]
    assert N_EXPRESSIONS == 11
    assert counts == {"check": 1, "parse": N_EXPRESSIONS}


@pytest.mark.parametrize("tables", ["extracts", "joined"])
def test_compile_sql_parses_and_checks_the_ruleset_once(
    tables: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = _count(monkeypatch)
    args = ["compile-sql", "--dialect", "duckdb", "--date", "2024-07-01", "--from", tables]
    result = CliRunner().invoke(app, [*args, "--rules", str(ROOT / "rules")])
    assert result.exit_code == 0, result.output
    assert "SELECT" in result.output
    assert counts == {"check": 1, "parse": N_EXPRESSIONS}


def test_simulate_and_explain_parse_the_ruleset_once(
    runs: dict[str, tuple[Path, Counter[str]]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """simulate: the ruleset in force once, then each scenario from the same parse trees (a
    type check each: the values are in the typed tree); explain: once."""
    options = _options(tmp_path, "polars")
    counts = _count(monkeypatch)
    scenarios = [
        Scenario("a", {"development_min_sales_yuan": 2e6}),
        Scenario("b", {"growth_min_employees": 2}),
    ]
    result = simulate(options, scenarios)
    assert [s.scenario.name for s in result.scenarios] == ["a", "b"]
    assert counts == {"check": 1 + len(scenarios), "parse": N_EXPRESSIONS}
    counts.clear()
    code = pl.read_parquet(runs["polars"][0] / "development.parquet").item(0, "uscc")
    explanation = explain_fresh(code, run_date=RUN_DATE, inputs=options.inputs, rules=options.rules)
    assert explanation.tiers and explanation.warnings == []
    assert counts == {"check": 1, "parse": N_EXPRESSIONS}


def test_a_changed_parameter_set_reuses_the_parse_trees(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = build_plan(REFERENCE, load_sources(), RUN_DATE)
    counts = _count(monkeypatch)
    changed = plan.with_parameters({"development_min_sales_yuan": 2_000_000})
    assert counts == {"check": 1}  # typed again (values are in the typed tree), not parsed
    assert changed.parameters["development_min_sales_yuan"] == 2_000_000
    assert changed.sources is plan.sources and changed.reasons == plan.reasons
    assert changed.near_checks[0].threshold == 2_000_000


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_the_outcome_schema_is_what_the_engines_write(
    runs: dict[str, tuple[Path, Counter[str]]], engine: str, tmp_path: Path
) -> None:
    run, _ = runs[engine]
    _, plan = compile_for(_options(tmp_path, engine))
    assert list(plan.outcome_schema)[: len(BASE_COLUMNS)] == list(BASE_COLUMNS)
    assert list(plan.outcome_schema)[-1] == "decided"
    assert [c for c in plan.outcome_schema if c not in (*BASE_COLUMNS, "decided")] == [
        c for c in plan.indicators if c not in BASE_COLUMNS
    ]
    for name in OUTCOME_FILES.values():
        written = pl.read_parquet_schema(run / name)
        assert dict(written) == dict(plan.outcome_schema), name


# ---- the column type of a derived field ---------------------------------------------------------

SOURCES = load_sources()
DTYPES = {name: POLARS_TYPES[t] for name, t in SOURCES.field_types().items()}
PARAMETERS: dict[str, object] = {"whole": 3, "fraction": 0.5, "word": "开业", "flag": True}
DERIVED = [
    "employees",
    "revenue",
    "employees + 1",
    "employees * whole",
    "employees - 1.5",
    "employees * fraction",
    "revenue + employees",
    "employees / 2",
    "employees / employees",
    "-employees",
    "-(revenue)",
    "coalesce(employees, 0)",
    "coalesce(employees, insured_count)",
    "coalesce(sales, revenue)",
    "coalesce(employees, revenue)",
    "coalesce(employees, 0.5)",
    "min(employees, insured_count)",
    "max(employees, revenue)",
    "min(employees, 2, whole)",
    "year(established_on)",
    "complete_years(established_on, run_date)",
    "run_year - year(established_on)",
    "run_year - report_year",
    "report_year * 10_000_000",
    "tax_paid / 10000",
    "coalesce(reported_on, established_on)",
    "coalesce(reported_on, run_date)",
    "coalesce(taxpayer_type, word)",
    "taxpayer_type",
    "abnormal",
    "abnormal or employees > 3",
    "not abnormal",
    "coalesce(abnormal, flag)",
    "employees in [1, 2]",
    "report_status is missing",
]


@pytest.mark.parametrize("text", DERIVED)
def test_a_derived_type_is_the_one_polars_computes(text: str) -> None:
    """The plan decides a derived field's column type from its typed tree (`types.dtype_of`):
    the oracle is Polars' own promotion of the emitted expression, before the cast the Polars
    back end then adds (whole-number constants alone would be Int32 there: none is here)."""
    columns: dict[str, Kind] = {n: FIELD_KINDS[t] for n, t in SOURCES.field_types().items()}
    tree = check_expression(
        parse_expression(text), Scope(columns=columns, parameters=PARAMETERS, run_date=RUN_DATE)
    )
    polars = pl.LazyFrame(schema=DTYPES).select(expression(tree).alias("d")).collect_schema()
    assert dtype_of(tree, DTYPES) == polars["d"], text


def test_derived_types_of_the_reference_ruleset() -> None:
    plan = build_plan(REFERENCE, SOURCES, RUN_DATE)
    assert {d.id: d.dtype for d in plan.derived} == {
        "years_in_business": pl.Int64,
        "sales_yuan": pl.Float64,
        "tax_yuan": pl.Float64,
        "insured_staff": pl.Int64,
    }
