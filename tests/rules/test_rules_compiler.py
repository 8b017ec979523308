"""Rule expressions compiled to Polars: missing-value semantics, type errors, built-in functions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gthfx.rules.grammar import parse_expression
from gthfx.rules.to_polars import expression
from gthfx.rules.types import CompileError, Kind, Scope, check_expression

RUN_DATE = date(2024, 7, 1)
COLUMNS: dict[str, Kind] = {
    "x": "number",
    "y": "number",
    "employees": "number",
    "name": "text",
    "status": "text",
    "flag": "bool",
    "d": "date",
    "e": "date",
}
PARAMETERS: dict[str, object] = {
    "min_x": 1,
    "allowed": ["存续", "在营"],
    "numbers": [0, 2],
    "closed": "歇业",
    "strict": True,
}
# Three rows: everything missing; small values; larger values.
FRAME = pl.DataFrame(
    {
        "x": [None, 0, 2],
        "y": [None, 1, 0],
        "employees": [None, 1, 5],
        "name": [None, "a", "b"],
        "status": [None, "存续", "歇业"],
        "flag": [None, True, False],
        "d": [None, date(2020, 2, 29), date(2021, 7, 1)],
        "e": [None, None, date(2022, 1, 1)],
    },
    schema={
        "x": pl.Int64,
        "y": pl.Float64,
        "employees": pl.Int64,
        "name": pl.String,
        "status": pl.String,
        "flag": pl.Boolean,
        "d": pl.Date,
        "e": pl.Date,
    },
)


def scope(run_date: date = RUN_DATE) -> Scope:
    return Scope(columns=dict(COLUMNS), parameters=dict(PARAMETERS), run_date=run_date)


def kind_of(text: str) -> Kind:
    return check_expression(parse_expression(text), scope()).kind


def evaluate(text: str, frame: pl.DataFrame = FRAME, run_date: date = RUN_DATE) -> list[Any]:
    typed = check_expression(parse_expression(text), scope(run_date))
    # with_columns, so that an expression of literals only is broadcast to every row
    return frame.with_columns(expression(typed).alias("out"))["out"].to_list()


# ---- missing values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x > 1", [False, False, True]),
        ("x >= 0", [False, True, True]),
        ("x < 1", [False, True, False]),
        ("x <= 2", [False, True, True]),
        ("x == 0", [False, True, False]),
        ("x != 0", [False, False, True]),  # missing is not "different from 0"
        ("name == 'a'", [False, True, False]),
        ("name != 'a'", [False, False, True]),
        ("d < date('2021-01-01')", [False, True, False]),
        ("x >= min_x", [False, False, True]),
    ],
)
def test_a_comparison_with_a_missing_value_is_false(text: str, expected: list[bool]) -> None:
    assert evaluate(text) == expected


def test_not_of_a_comparison_with_a_missing_value_is_true() -> None:
    assert evaluate("not (x > 1)") == [True, True, False]
    assert evaluate("not x > 1") == [True, True, False]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x in [0, 2]", [False, True, True]),
        ("x not in [0, 2]", [False, False, False]),
        ("x not in [0]", [False, False, True]),
        ("x in numbers", [False, True, True]),
        ("x in [2.0]", [False, False, True]),
        ("status in allowed", [False, True, False]),
        ("status not in allowed", [False, False, True]),
        ("status in ['歇业']", [False, False, True]),
        ("name in []", [False, False, False]),
        ("name not in []", [False, True, True]),
    ],
)
def test_in_and_not_in_are_both_false_for_a_missing_operand(
    text: str, expected: list[bool]
) -> None:
    assert evaluate(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("flag and true", [False, True, False]),
        ("flag or false", [False, True, False]),
        ("not flag", [True, False, True]),
        ("flag == true", [False, True, False]),
        ("flag == false", [False, False, True]),
        ("flag == strict", [False, True, False]),
    ],
)
def test_a_missing_bool_used_as_a_condition_is_false(text: str, expected: list[bool]) -> None:
    assert evaluate(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x + 1 > 0", [False, True, True]),
        ("x * 2 >= 0", [False, True, True]),
        ("x - y < 100", [False, True, True]),
        ("-x <= 0", [False, True, True]),
        ("x / 2 > 0.5", [False, False, True]),
        ("not (x + 1 > 0)", [True, False, False]),
    ],
)
def test_arithmetic_with_a_missing_value_makes_comparisons_false(
    text: str, expected: list[bool]
) -> None:
    assert evaluate(text) == expected


def test_arithmetic_with_a_missing_value_is_missing() -> None:
    assert evaluate("x + 1") == [None, 1, 3]
    assert evaluate("(x + 1) is missing") == [True, False, False]


def test_division_by_zero_is_missing_so_comparisons_with_it_are_false() -> None:
    """x / y with y = 0 has no value (as in SQL); 0 / 0 must not pass `> 1`."""
    frame = pl.DataFrame({"x": [0, 2, 4], "y": [0.0, 0.0, 2.0]})
    assert evaluate("x / y > 1", frame) == [False, False, True]
    assert evaluate("x / y is missing", frame) == [True, True, False]


def test_is_missing_and_is_not_missing() -> None:
    assert evaluate("x is missing") == [True, False, False]
    assert evaluate("x is not missing") == [False, True, True]
    assert evaluate("e is missing") == [True, True, False]
    assert evaluate("status is missing or status == '存续'") == [True, True, False]


def test_and_or_with_missing_operands_are_two_valued() -> None:
    assert evaluate("x > 1 or name == 'a'") == [False, True, True]
    assert evaluate("x > 1 and flag") == [False, False, False]
    assert evaluate("x is missing or x > 1") == [True, False, True]


def test_parameters_and_builtins_are_values() -> None:
    s = scope()
    typed = check_expression(parse_expression("x >= min_x and status != closed"), s)
    assert FRAME.select(expression(typed).alias("o"))["o"].to_list() == [False, False, False]
    assert s.used_parameters == {"min_x", "closed"}
    assert evaluate("run_year == 2024") == [True, True, True]
    assert evaluate("d <= run_date") == [False, True, True]
    assert evaluate("run_year - 1", pl.DataFrame({"a": [1]})) == [2023]


# ---- type errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "keywords"),
    [
        ("name == 1", ["text", "number"]),
        ("x == 'a'", ["number", "text"]),
        ("status == min_x", ["text", "number"]),
        ("flag == 1", ["bool", "number"]),
        ("d > 2024", ["date", "number"]),
        ("name < 'b'", ["<", "text"]),
        ("name >= 'b'", [">=", "text"]),
        ("flag > false", [">", "bool"]),
        ("x and true", ["and", "condition", "number"]),
        ("true or name", ["or", "condition", "text"]),
        ("not x", ["not", "condition"]),
        ("x + name", ["+", "number", "text"]),
        ("d - 1", ["-", "date"]),
        ("-name", ["negate", "text"]),
        ("x in name", ["in", "list"]),
        ("x in ['a']", ["in", "number", "'a'"]),
        ("name in [1, 2]", ["in", "text", "1"]),
        ("status in allowed or x in allowed", ["in", "number"]),
        ("x in [y]", ["list"]),
        ("x == numbers", ["list", "`in`"]),
    ],
)
def test_type_errors_are_compile_errors(text: str, keywords: list[str]) -> None:
    with pytest.raises(CompileError) as exc:
        check_expression(parse_expression(text), scope())
    for keyword in keywords:
        assert keyword in exc.value.message, exc.value.message


def test_unknown_name_has_a_did_you_mean_hint_and_its_column() -> None:
    with pytest.raises(CompileError) as exc:
        check_expression(parse_expression("x > 1 and employes >= 3"), scope())
    assert "employes" in exc.value.message
    assert "did you mean `employees`" in exc.value.message
    assert exc.value.column == 11


def test_unknown_name_hint_covers_parameters_and_builtins() -> None:
    with pytest.raises(CompileError, match="did you mean `min_x`"):
        check_expression(parse_expression("x > min_xx"), scope())
    with pytest.raises(CompileError, match="did you mean `run_date`"):
        check_expression(parse_expression("d < run_dat"), scope())


def test_unknown_name_without_a_close_match_has_no_hint() -> None:
    with pytest.raises(CompileError) as exc:
        check_expression(parse_expression("zzzzzzzz > 1"), scope())
    assert "did you mean" not in exc.value.message


@pytest.mark.parametrize("text", ['__import__("os")', "eval('1')", "sum(x, y)", "len(name)"])
def test_unknown_functions_are_compile_errors(text: str) -> None:
    with pytest.raises(CompileError) as exc:
        check_expression(parse_expression(text), scope())
    assert "unknown function" in exc.value.message
    assert "complete_years" in exc.value.message  # lists the known ones
    assert exc.value.column == 1


@pytest.mark.parametrize(
    ("text", "keywords"),
    [
        ("complete_years(d)", ["complete_years", "date, date"]),
        ("complete_years(d, e, d)", ["complete_years"]),
        ("complete_years(d, x)", ["complete_years", "number"]),
        ("year(d, e)", ["year"]),
        ("year()", ["year", "nothing"]),
        ("year(x)", ["year", "number"]),
        ("date()", ["date", "one string"]),
        ("date('2024-07-01', '2024-07-02')", ["date"]),
        ("date(name)", ["date", "one string"]),
        ("date('2024/07/01')", ["YYYY-MM-DD"]),
        ("date('2023-02-29')", ["YYYY-MM-DD"]),
        ("date('20240701')", ["YYYY-MM-DD"]),  # dates are not guessed (STYLE habit 4)
        ("date('2024-W27-1')", ["YYYY-MM-DD"]),  # an ISO week date is not YYYY-MM-DD
        ("coalesce(x)", ["coalesce", "two or more"]),
        ("coalesce(x, name)", ["coalesce", "one kind"]),
        ("min(x)", ["min", "two or more"]),
        ("max(name, name)", ["max", "numbers"]),
        ("min(d, e)", ["min", "numbers"]),
    ],
)
def test_wrong_arity_or_argument_kind_is_a_compile_error(text: str, keywords: list[str]) -> None:
    with pytest.raises(CompileError) as exc:
        check_expression(parse_expression(text), scope())
    for keyword in keywords:
        assert keyword in exc.value.message, exc.value.message


@pytest.mark.parametrize("text", ["allowed is missing", "allowed == numbers"])
def test_a_list_parameter_is_only_usable_after_in(text: str) -> None:
    """A list has no row value: `allowed is missing` would silently be true for every row."""
    with pytest.raises(CompileError):
        check_expression(parse_expression(text), scope())


# ---- functions ----------------------------------------------------------------------------------


def test_coalesce_takes_the_first_present_value() -> None:
    assert evaluate("coalesce(x, employees, 7)") == [7, 0, 2]
    assert evaluate("coalesce(name, status)") == [None, "a", "b"]
    assert evaluate("coalesce(e, d)") == [None, date(2020, 2, 29), date(2022, 1, 1)]
    assert kind_of("coalesce(name, 'x')") == "text"
    frame = pl.DataFrame({"x": [None, 0.0], "y": [5.0, 9.0]})
    assert evaluate("coalesce(x, y)", frame) == [5.0, 0.0]  # a declared 0 is a value


def test_min_and_max_of_numbers_missing_when_any_is_missing() -> None:
    assert evaluate("min(x, employees)") == [None, 0, 2]
    assert evaluate("max(x, employees, 3)") == [None, 3, 5]
    assert evaluate("min(x, 1) > -1") == [False, True, True]
    assert kind_of("max(x, y)") == "number"


def test_year_and_date() -> None:
    assert evaluate("year(d)") == [None, 2020, 2021]
    assert evaluate("year(d) == run_year - 3") == [False, False, True]
    assert evaluate("date('2024-07-01') == run_date") == [True, True, True]
    assert kind_of("date('2024-07-01')") == "date"
    assert evaluate("d >= date('2021-07-01')") == [False, False, True]


@pytest.mark.parametrize(
    ("start", "end", "years"),
    [
        (date(2021, 7, 1), date(2024, 7, 1), 3),  # SPEC §5
        (date(2021, 7, 2), date(2024, 7, 1), 2),
        (date(2024, 7, 1), date(2024, 7, 1), 0),
        (date(2023, 12, 31), date(2024, 1, 1), 0),
        (date(2020, 2, 29), date(2021, 2, 28), 0),
        (date(2020, 2, 29), date(2021, 3, 1), 1),
        (date(2020, 2, 29), date(2024, 2, 28), 3),
        (date(2020, 2, 29), date(2024, 2, 29), 4),
    ],
)
def test_complete_years_examples(start: date, end: date, years: int) -> None:
    frame = pl.DataFrame({"d": [start], "e": [end]})
    assert evaluate("complete_years(d, e)", frame) == [years]


def test_complete_years_to_the_run_date_and_missing_dates() -> None:
    assert evaluate("complete_years(d, run_date)") == [None, 4, 3]
    assert evaluate("complete_years(d, e)") == [None, None, 0]
    assert evaluate("complete_years(d, run_date) >= 1") == [False, True, True]


def anniversary(start: date, years: int) -> date:
    """The n-th anniversary; a 29 February start has it on 1 March in non-leap years."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return date(start.year + years, 3, 1)


def complete_years_oracle(start: date, end: date) -> int:
    """How many anniversaries of `start` have been reached on `end`, counted one by one."""
    count = 0
    while anniversary(start, count + 1) <= end:
        count += 1
    return count


DATES = st.one_of(
    st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)),
    st.sampled_from([date(y, 2, 29) for y in range(1992, 2029, 4)]),
    st.sampled_from([date(y, 3, 1) for y in range(1990, 2031)]),
    st.sampled_from([date(y, 2, 28) for y in range(1990, 2031)]),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(DATES, DATES), min_size=1, max_size=50))
def test_complete_years_agrees_with_counting_anniversaries(pairs: list[tuple[date, date]]) -> None:
    ordered = [(min(a, b), max(a, b)) for a, b in pairs]
    frame = pl.DataFrame(
        {"d": [a for a, _ in ordered], "e": [b for _, b in ordered]},
        schema={"d": pl.Date, "e": pl.Date},
    )
    assert evaluate("complete_years(d, e)", frame) == [
        complete_years_oracle(a, b) for a, b in ordered
    ]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(DATES, min_size=1, max_size=30),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
)
def test_complete_years_to_run_date_agrees_with_the_oracle(starts: list[date], run: date) -> None:
    starts = [s if s <= run else run - timedelta(days=1) for s in starts]
    frame = pl.DataFrame({"d": starts}, schema={"d": pl.Date})
    assert evaluate("complete_years(d, run_date)", frame, run_date=run) == [
        complete_years_oracle(s, run) for s in starts
    ]
