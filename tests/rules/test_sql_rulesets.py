"""The SQL engine against the Polars engine on RANDOM SMALL RULESETS (hypothesis).

`test_sql.py` compares the engines on the reference ruleset; here every example is a new ruleset:
0–4 parameters, 0–3 derived fields, 1–4 basic conditions and 1–4 tier rules plus the default,
whose expressions are generated as typed trees (numbers, dates, text, conditions) over the real
fields of the shipped sources mapping, written as YAML and loaded through the real model. Each
ruleset types 1–60 generated businesses of a `joined` frame (missing values, values at and next
to the thresholds, 29 Feb and the run date, data problems and conflicts) in Polars and in DuckDB:
the tier, rule id and reasons (in order) of every business, and the derived values, must agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
import sqlglot
import yaml
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from gthfx.ingest.parse import POLARS_TYPES
from gthfx.ingest.validate import problem_reasons
from gthfx.rules import to_sql as sql_module
from gthfx.rules.model import RulesetFile, load_ruleset
from gthfx.rules.plan import build_plan
from gthfx.rules.to_polars import apply_plan, with_reasons
from gthfx.rules.to_sql import DIALECTS, ruleset_sql
from gthfx.rules.types import FIELD_KINDS, Kind
from gthfx.settings.sources import load_sources

SOURCES = load_sources(None)
FIELD_TYPES: dict[str, str] = dict(SOURCES.field_types())
# the fields an expression may read, by kind (the key `uscc` is not a rule input)
FIELDS: dict[Kind, list[str]] = {
    kind: sorted(n for n, t in FIELD_TYPES.items() if FIELD_KINDS[t] == kind and n != "uscc")
    for kind in ("number", "date", "text", "bool")
}
EXTRACTS = list(SOURCES.extracts)
MASK_BITS: dict[str, list[int]] = {
    e: [bit for bit, _ in problem_reasons(e, spec)] for e, spec in SOURCES.extracts.items()
}
SCHEMA: dict[str, pl.DataType] = {
    **{name: POLARS_TYPES[t] for name, t in FIELD_TYPES.items()},
    **{f"_pm_{e}": pl.UInt64() for e in EXTRACTS},
    **{f"_conflict_{e}": pl.Boolean() for e in EXTRACTS},
    "_has_annual": pl.Boolean(),
    "flags": pl.List(pl.String()),
}

# thresholds: literals and parameter values are drawn from these, row values around them
INTS = [0, 1, 2, 3, 5, 100, 2023, 2024, 30_000, 1_000_000]
# fractional literals are DOUBLE in the SQL, as in Polars (see test_fractional_literals_regression)
FRACTIONS = [0.1, 0.2, 0.3, 0.5, 2.5, 999_999.99]
TEXTS = [
    "存续",
    "在营",
    "歇业",
    "注销",
    "开业",
    "一般纳税人",
    "",
    "个体'户",
    'say "hi"',
    "2024-07-01",
]
DATE_LITERALS = [
    date(2024, 2, 29),
    date(2020, 2, 29),
    date(2023, 3, 1),
    date(2024, 7, 1),
    date(2021, 7, 1),
    date(2025, 2, 28),
]
RUN_DATES = [date(2024, 7, 1), date(2024, 2, 29), date(2025, 2, 28), date(2025, 3, 1)]
COMPARE = ["==", "!=", "<", "<=", ">", ">="]
TIERS = ["survival", "growth", "development"]


# ---- expressions as typed trees, rendered to the grammar's text ----------------------------


@dataclass
class Env:
    """What an expression may read, by kind: the chosen fields, parameters, earlier derived
    fields; `lists` are the list parameters by element kind (number or text)."""

    names: dict[Kind, list[str]]
    lists: dict[Kind, list[str]]


def _text_literal(value: str) -> str:
    return f"'{value}'" if '"' in value else f'"{value}"'


def _number_literal(value: float) -> str:
    if isinstance(value, int) and value >= 10_000:
        return f"{value:_}"  # the grammar's digit separator
    return repr(value)


class _Expr:
    """Draws expression text of a given kind; every composite is parenthesised."""

    def __init__(self, draw: st.DrawFn, env: Env) -> None:
        self.draw = draw
        self.env = env

    def pick(self, options: list[str]) -> str:
        return self.draw(st.sampled_from(options))

    def choice(self, n: int) -> int:
        return self.draw(st.integers(0, n - 1))

    def name(self, kind: Kind) -> str | None:
        names = self.env.names[kind]
        return self.pick(names) if names else None

    def number(self, depth: int) -> str:
        if depth <= 0 or self.choice(3) == 0:
            if self.choice(3) == 0:
                value: float = self.draw(st.sampled_from(INTS + FRACTIONS))
                return _number_literal(value) if self.choice(4) else f"(-{_number_literal(value)})"
            return self.name("number") or "run_year"
        d = depth - 1
        match self.choice(9):
            case 0 | 1:
                op = self.pick(["+", "-", "/"])
                return f"({self.number(d)} {op} {self.number(d)})"
            case 2:
                # small factors only: magnitudes near Int64 overflow are not supported (README)
                factor = self.pick(["2", "3", "0.5", "0", "1"])
                return f"({self.number(d)} * {factor})"
            case 3:
                return f"(-{self.number(d)})"
            case 4:
                fn = self.pick(["coalesce", "min", "max"])
                args = [self.number(d) for _ in range(self.draw(st.integers(2, 3)))]
                return f"{fn}({', '.join(args)})"
            case 5 | 6:
                if self.choice(2):
                    return "complete_years(established_on, run_date)"
                return f"complete_years({self.date(d)}, {self.date(d)})"
            case 7:
                return f"year({self.date(d)})"
            case _:
                return self.name("number") or "run_year"

    def date(self, depth: int) -> str:
        if depth > 0 and self.choice(5) == 0:
            return f"coalesce({self.date(depth - 1)}, {self.date(depth - 1)})"
        match self.choice(4):
            case 0:
                return "run_date"
            case 1:
                return f"date('{self.draw(st.sampled_from(DATE_LITERALS)).isoformat()}')"
            case _:
                return self.name("date") or "run_date"

    def text(self, depth: int) -> str:
        if depth > 0 and self.choice(5) == 0:
            return f"coalesce({self.text(depth - 1)}, {self.text(depth - 1)})"
        name = self.name("text")
        if name is None or self.choice(3) == 0:
            return _text_literal(self.pick(TEXTS))
        return name

    def value(self, kind: Kind, depth: int) -> str:
        if kind == "number":
            return self.number(depth)
        if kind == "date":
            return self.date(depth)
        if kind == "text":
            return self.text(depth)
        return self.condition(depth)

    def comparison(self, depth: int) -> str:
        kind: Kind = self.draw(st.sampled_from(["number", "number", "date", "text", "bool"]))
        ops = COMPARE if kind in ("number", "date") else ["==", "!="]
        left = self.value(kind, depth)
        # mostly against a simple value (a threshold), sometimes two computed sides
        right = self.value(kind, 0 if self.choice(3) else depth)
        return f"({left} {self.pick(ops)} {right})"

    def membership(self, depth: int) -> str:
        kind: Kind = self.draw(st.sampled_from(["number", "text"]))
        neg = self.pick(["in", "not in"])
        lists = self.env.lists[kind]
        if lists and self.choice(2):
            items = self.pick(lists)
        else:
            pool: list[Any] = INTS + FRACTIONS if kind == "number" else TEXTS
            values = self.draw(st.lists(st.sampled_from(pool), max_size=3, unique=True))
            render = _number_literal if kind == "number" else _text_literal
            items = "[" + ", ".join(render(v) for v in values) + "]"
        return f"({self.value(kind, depth)} {neg} {items})"

    def basic_condition(self) -> str:
        """A condition; often one that most businesses meet (`… or FIELD is not missing`), so
        that enough of them get past all the basic conditions to reach the tier rules."""
        condition = self.condition(2)
        fields = [
            n for k in ("number", "date", "text") for n in self.env.names[k] if n in FIELD_TYPES
        ]
        if fields and self.choice(2):
            return f"({condition} or ({self.pick(fields)} is not missing))"
        return condition

    def condition(self, depth: int) -> str:
        if depth > 0 and self.choice(3) == 0:
            d = depth - 1
            match self.choice(3):
                case 0:
                    return f"({self.condition(d)} and {self.condition(d)})"
                case 1:
                    return f"({self.condition(d)} or {self.condition(d)})"
                case _:
                    return f"(not {self.condition(d)})"
        match self.choice(6):
            case 0 | 1:
                return self.comparison(depth)
            case 2:
                return self.membership(depth)
            case 3:
                kind: Kind = self.draw(st.sampled_from(["number", "date", "text", "bool"]))
                test = self.pick(["is missing", "is not missing"])
                return f"({self.value(kind, depth)} {test})"
            case _:
                return self.name("bool") or self.pick(["true", "false"])


# ---- rulesets in the model's dict form --------------------------------------------------------


def _parameter_value(draw: st.DrawFn) -> object:
    match draw(st.integers(0, 5)):
        case 0 | 1:
            return draw(st.sampled_from(INTS + FRACTIONS))
        case 2:
            return draw(st.sampled_from(TEXTS))
        case 3:
            return draw(st.lists(st.sampled_from(TEXTS), max_size=3, unique=True))
        case 4:
            return draw(st.lists(st.sampled_from(INTS), max_size=3, unique=True))
        case _:
            return draw(st.booleans())


def _kind_of(value: object) -> Kind:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "list"
    return "text"


@st.composite
def rulesets(draw: st.DrawFn) -> dict[str, Any]:
    """A small valid ruleset as the mapping a YAML file holds."""
    names: dict[Kind, list[str]] = {
        "number": draw(
            st.lists(st.sampled_from(FIELDS["number"]), min_size=1, max_size=3, unique=True)
        ),
        "date": ["established_on", *draw(st.lists(st.sampled_from(FIELDS["date"]), max_size=1))],
        "text": draw(st.lists(st.sampled_from(FIELDS["text"]), max_size=2, unique=True)),
        "bool": draw(st.lists(st.sampled_from(FIELDS["bool"]), max_size=2, unique=True)),
    }
    names = {k: list(dict.fromkeys(v)) for k, v in names.items()}
    lists: dict[Kind, list[str]] = {"number": [], "text": []}
    parameters: dict[str, Any] = {}
    for i in range(draw(st.integers(0, 4))):
        value = _parameter_value(draw)
        name = f"p_{i}"
        parameters[name] = {"label": f"参数{i}", "value": value, "unit": "u", "source": "generated"}
        if isinstance(value, list):
            # an empty list parameter fits either kind
            element: Kind = "text" if any(isinstance(v, str) for v in value) else "number"
            lists[element].append(name)
            if not value:
                lists["text" if element == "number" else "number"].append(name)
        else:
            names[_kind_of(value)].append(name)
    env = Env(names=names, lists=lists)
    derived: list[dict[str, str]] = []
    for i in range(draw(st.integers(0, 3))):
        kind: Kind = draw(st.sampled_from(["number", "number", "number", "date", "text", "bool"]))
        gen = _Expr(draw, env)
        expr = gen.value(kind, 2)
        derived.append({"id": f"d_{i}", "label": f"派生{i}", "expr": expr})
        env.names[kind].append(f"d_{i}")  # a later expression may read it
    gen = _Expr(draw, env)
    conditions = [
        {"id": f"c_{i}", "label": f"条件{i}", "when": gen.basic_condition()}
        for i in range(draw(st.sampled_from([1, 1, 2, 2, 3, 4])))
    ]
    tiers: list[dict[str, Any]] = [
        {
            "id": f"{tier}.r{i}",
            "tier": tier,
            "label": f"规则{i}",
            "when": gen.condition(2),
        }
        for i, tier in enumerate(draw(st.lists(st.sampled_from(TIERS), min_size=1, max_size=4)))
    ]
    default = draw(st.sampled_from(TIERS))
    tiers.append({"id": f"{default}.default", "tier": default, "label": "其余", "default": True})
    return {
        "id": "generated",
        "title": "随机规则",
        "effective_from": "2000-01-01",
        "source": "hypothesis",
        "parameters": parameters,
        "derived": derived,
        "basic_conditions": conditions,
        "tiers": tiers,
    }


def _fields_read(ruleset: RulesetFile) -> set[str]:
    compiled = build_plan(ruleset, SOURCES, date(2024, 7, 1), loaded=SOURCES)
    return set(compiled.reads)


# ---- businesses: rows of a joined frame -----------------------------------------------------


def _dates_around(run_date: date) -> list[date]:
    out = [run_date, run_date - timedelta(days=1), run_date + timedelta(days=1)]
    for years in (1, 3):
        try:
            anniversary = run_date.replace(year=run_date.year - years)
        except ValueError:  # 29 Feb
            anniversary = date(run_date.year - years, 3, 1)
        out += [anniversary, anniversary - timedelta(days=1), anniversary + timedelta(days=1)]
    out += [date(2020, 2, 29), date(2021, 2, 28), date(2021, 3, 1), date(2024, 2, 29)]
    return out + DATE_LITERALS


NEAR_INTS = sorted({v + d for v in INTS for d in (-1, 0, 1)} | {-5})
NEAR_FLOATS = sorted({float(v) + d for v in INTS + FRACTIONS for d in (-1.0, -0.01, 0.0, 0.01)})


def _value(draw: st.DrawFn, field: str, run_date: date) -> object:
    if draw(st.integers(0, 4)) == 0:
        return None
    kind = FIELD_TYPES[field]
    if kind == "int":
        return draw(st.sampled_from(NEAR_INTS))
    if kind == "decimal":
        return draw(st.sampled_from(NEAR_FLOATS))
    if kind == "date":
        return draw(st.sampled_from(_dates_around(run_date)))
    if kind == "bool":
        return draw(st.booleans())
    return draw(st.sampled_from(TEXTS))


def _mask(draw: st.DrawFn, extract: str) -> int:
    if draw(st.integers(0, 5)):
        return 0
    bits = draw(st.lists(st.sampled_from(MASK_BITS[extract]), min_size=1, max_size=2))
    return sum(set(bits))


@st.composite
def frames(draw: st.DrawFn, fields: set[str], run_date: date) -> pl.DataFrame:
    rows = []
    for index in range(draw(st.integers(1, 60))):
        row: dict[str, Any] = {"uscc": f"92420100MA{index:08d}", "flags": []}
        row.update({f: _value(draw, f, run_date) for f in sorted(fields)})
        clean = draw(st.integers(0, 3)) > 0  # mostly no data problem: the rules are reached
        for e in EXTRACTS:
            row[f"_pm_{e}"] = 0 if clean else _mask(draw, e)
            row[f"_conflict_{e}"] = False if clean else draw(st.integers(0, 3)) == 0
        row["_has_annual"] = True if clean else not row["_conflict_annual"]
        rows.append(row)
    frame = pl.DataFrame(rows, schema={k: SCHEMA[k] for k in rows[0]})
    missing = [pl.lit(None, SCHEMA[k]).alias(k) for k in SCHEMA if k not in frame.columns]
    return frame.with_columns(missing).select(list(SCHEMA))


@dataclass(frozen=True)
class Case:
    ruleset: dict[str, Any]
    run_date: date
    frame: pl.DataFrame

    def describe(self, usccs: list[str]) -> str:
        """The ruleset as YAML, the run date and the (non-missing) fields of some businesses."""
        text = yaml.safe_dump(self.ruleset, allow_unicode=True, sort_keys=False)
        rows = self.frame.filter(pl.col("uscc").is_in(usccs)).to_dicts()
        shown = [{k: v for k, v in row.items() if v not in (None, [])} for row in rows]
        return f"run_date: {self.run_date}\n{text}businesses: {shown}"


def _load(ruleset: dict[str, Any], folder: Path) -> RulesetFile:
    """The ruleset written as YAML and read back through the real loader and model."""
    path = folder / "generated.yaml"
    path.write_text(yaml.safe_dump(ruleset, allow_unicode=True, sort_keys=False), "utf-8")
    return load_ruleset(path)


@st.composite
def cases(draw: st.DrawFn, folder: Path) -> Case:
    ruleset = draw(rulesets())
    run_date = draw(st.sampled_from(RUN_DATES))
    fields = _fields_read(_load(ruleset, folder))
    return Case(ruleset, run_date, draw(frames(fields, run_date)))


# ---- the two engines ---------------------------------------------------------------------------


OUTCOME = ["uscc", "tier", "rule_id", "reasons"]


def _polars(case: Case, ruleset: RulesetFile) -> pl.DataFrame:
    compiled = build_plan(ruleset, SOURCES, case.run_date, loaded=SOURCES)
    typed = apply_plan(case.frame, compiled)
    return with_reasons(typed, compiled.reasons).sort("uscc")


def _duckdb(case: Case, ruleset: RulesetFile, con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    query = ruleset_sql(build_plan(ruleset, SOURCES, case.run_date, loaded=SOURCES), "duckdb")
    con.register("joined", case.frame.to_arrow())
    try:
        out = pl.from_arrow(con.sql(query).to_arrow_table())
    finally:
        con.unregister("joined")
    assert isinstance(out, pl.DataFrame)
    return out.sort("uscc")


def _same_value(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float | Decimal) or isinstance(b, float | Decimal):
        assert isinstance(a, int | float | Decimal) and isinstance(b, int | float | Decimal)
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def differences(case: Case, folder: Path, con: duckdb.DuckDBPyConnection) -> str:
    """Where the engines disagree on `case` ("" when they agree)."""
    ruleset = _load(case.ruleset, folder)
    left = _polars(case, ruleset)
    right = _duckdb(case, ruleset, con)
    columns = OUTCOME + [d["id"] for d in case.ruleset.get("derived", [])]
    lines, usccs = [], []
    for row_l, row_r in zip(
        left.select(columns).iter_rows(), right.select(columns).iter_rows(), strict=True
    ):
        wrong = [c for c, a, b in zip(columns, row_l, row_r, strict=True) if not _same_value(a, b)]
        if wrong:
            usccs.append(row_l[0])
            lines.append(f"{row_l[0]} differs in {wrong}:\n  polars {row_l}\n  duckdb {row_r}")
    return "\n".join(lines) + "\n" + case.describe(usccs) if lines else ""


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """One DuckDB connection for the module (a new one per example costs more than the query)."""
    connection = duckdb.connect()
    connection.execute("SET threads = 1")  # tiny tables: no use for a thread pool
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("generated-rulesets")


@given(data=st.data())
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_random_rulesets_same_outcomes(
    data: st.DataObject, folder: Path, con: duckdb.DuckDBPyConnection
) -> None:
    case = data.draw(cases(folder))
    problem = differences(case, folder, con)
    assert not problem, problem


@given(ruleset=rulesets(), run_date=st.sampled_from(RUN_DATES))
@settings(max_examples=15, deadline=None, derandomize=True)
def test_random_rulesets_compile_in_every_dialect(
    ruleset: dict[str, Any], run_date: date, folder: Path
) -> None:
    loaded = _load(ruleset, folder)
    for dialect in DIALECTS:
        text = ruleset_sql(build_plan(loaded, SOURCES, run_date, loaded=SOURCES), dialect)
        tree = sqlglot.parse_one(text, read=dialect)
        assert isinstance(tree, sqlglot.exp.Select)
        derived = [d["id"] for d in ruleset["derived"]]
        assert [s.alias_or_name for s in tree.selects] == [*OUTCOME, *derived]


# ---- the test can fail: deliberate bugs in the SQL emission are found -------------------------


class _Strict:
    """The `sqlglot.exp` module as `gthfx.rules.to_sql` sees it, with `>=` and `<=` emitted as the
    strict `>` and `<` (an off-by-one at every threshold)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(sqlglot.exp, {"GTE": "GT", "LTE": "LT"}.get(name, name))


def _no_coalesce(e: Any) -> Any:
    """`_true` without its COALESCE: a missing comparison stays missing in SQL."""
    return e


BUGS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    ">= and <= as > and <": lambda mp: mp.setattr(sql_module, "exp", _Strict()),
    "no COALESCE to false": lambda mp: mp.setattr(sql_module, "_true", _no_coalesce),
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_a_bug_in_the_sql_is_found(
    bug: str, folder: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    BUGS[bug](monkeypatch)
    found = find(
        cases(folder),
        lambda case: bool(differences(case, folder, con)),
        settings=settings(
            max_examples=300,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        ),
    )
    assert differences(found, folder, con)


# ---- disagreements found by the generator, reduced -------------------------------------------


def _one_business(**fields: object) -> pl.DataFrame:
    row: dict[str, Any] = {"uscc": "92420100MA00000000", "flags": [], "_has_annual": True}
    row.update({f"_pm_{e}": 0 for e in EXTRACTS} | {f"_conflict_{e}": False for e in EXTRACTS})
    row.update(fields)
    frame = pl.DataFrame([row], schema={k: SCHEMA[k] for k in row})
    missing = [pl.lit(None, SCHEMA[k]).alias(k) for k in SCHEMA if k not in frame.columns]
    return frame.with_columns(missing).select(list(SCHEMA))


def _one_rule(when: str) -> dict[str, Any]:
    return {
        "id": "regression",
        "title": "回归",
        "effective_from": "2000-01-01",
        "source": "test",
        "basic_conditions": [{"id": "always", "label": "恒真", "when": "true"}],
        "tiers": [
            {"id": "growth.rule", "tier": "growth", "label": "规则", "when": when},
            {"id": "survival.default", "tier": "survival", "label": "其余", "default": True},
        ],
    }


@pytest.mark.parametrize(
    ("when", "fields"),
    [("0.1 + 0.2 == 0.3", {}), ("employees * 0.1 <= 0.3", {"employees": 3})],
)
def test_fractional_literals_regression(
    when: str, fields: dict[str, object], folder: Path, con: duckdb.DuckDBPyConnection
) -> None:
    case = Case(_one_rule(when), date(2024, 7, 1), _one_business(**fields))
    problem = differences(case, folder, con)
    assert not problem, problem


def test_integer_overflow_regression(folder: Path, con: duckdb.DuckDBPyConnection) -> None:
    rule = _one_rule("year(established_on) * 10_000_000 > 0")
    case = Case(rule, date(2024, 7, 1), _one_business(established_on=date(2024, 1, 1)))
    problem = differences(case, folder, con)
    assert not problem, problem
