"""The rule expression grammar: text → tree, with 1-based error columns; never Python's eval."""

from __future__ import annotations

import builtins

import pytest

from gthfx.rules.grammar import (
    Binary,
    Call,
    ExprSyntaxError,
    In,
    IsMissing,
    ListOf,
    Literal,
    Name,
    Unary,
    names_in,
    parse_expression,
    tokenize,
)


def n(name: str, column: int) -> Name:
    return Name(name, column)


# ---- precedence ---------------------------------------------------------------------------------


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    assert parse_expression("not a or b and c") == Binary(
        "or", Unary("not", n("a", 5)), Binary("and", n("b", 10), n("c", 16))
    )


def test_and_or_are_left_associative() -> None:
    assert parse_expression("a or b or c") == Binary(
        "or", Binary("or", n("a", 1), n("b", 6)), n("c", 11)
    )


def test_not_applies_to_a_whole_comparison() -> None:
    assert parse_expression("not x > 1") == Unary("not", Binary(">", n("x", 5), Literal(1)))


def test_arithmetic_precedence_and_unary_minus() -> None:
    assert parse_expression("-a * 2 + b / 4 - 1") == Binary(
        "-",
        Binary(
            "+",
            Binary("*", Unary("-", n("a", 2)), Literal(2)),
            Binary("/", n("b", 10), Literal(4)),
        ),
        Literal(1),
    )


def test_comparison_binds_looser_than_arithmetic() -> None:
    assert parse_expression("a + 1 >= b * 2") == Binary(
        ">=", Binary("+", n("a", 1), Literal(1)), Binary("*", n("b", 10), Literal(2))
    )


def test_parentheses_override_precedence() -> None:
    assert parse_expression("(a or b) and c") == Binary(
        "and", Binary("or", n("a", 2), n("b", 7)), n("c", 14)
    )


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_every_comparison_operator(op: str) -> None:
    assert parse_expression(f"a {op} 3") == Binary(op, n("a", 1), Literal(3))


# ---- in, is missing, calls, literals ------------------------------------------------------------


def test_in_a_written_list() -> None:
    assert parse_expression("status in [\"存续\", '在营']") == In(
        n("status", 1), ListOf((Literal("存续"), Literal("在营"))), negated=False
    )


def test_not_in_a_written_list() -> None:
    assert parse_expression("x not in [1, 2.5]") == In(
        n("x", 1), ListOf((Literal(1), Literal(2.5))), negated=True
    )


def test_in_an_empty_list() -> None:
    assert parse_expression("x in []") == In(n("x", 1), ListOf(()), negated=False)


def test_in_a_parameter_name() -> None:
    assert parse_expression("register_status in active_statuses") == In(
        n("register_status", 1), n("active_statuses", 20), negated=False
    )


def test_not_in_a_parameter_name() -> None:
    assert parse_expression("a not in allowed") == In(n("a", 1), n("allowed", 10), negated=True)


def test_is_missing_and_is_not_missing() -> None:
    assert parse_expression("report_status is missing") == IsMissing(
        n("report_status", 1), negated=False
    )
    assert parse_expression("report_status is not missing") == IsMissing(
        n("report_status", 1), negated=True
    )


def test_is_missing_combines_with_or() -> None:
    assert parse_expression("a is missing or a == 'x'") == Binary(
        "or", IsMissing(n("a", 1), negated=False), Binary("==", n("a", 17), Literal("x"))
    )


def test_function_calls_with_zero_one_and_several_arguments() -> None:
    assert parse_expression("f()") == Call("f", (), 1)
    assert parse_expression("year(established_on)") == Call("year", (n("established_on", 6),), 1)
    assert parse_expression("x + coalesce(a, b * 2, 0)") == Binary(
        "+",
        n("x", 1),
        Call("coalesce", (n("a", 14), Binary("*", n("b", 17), Literal(2)), Literal(0)), 5),
    )


def test_nested_calls() -> None:
    assert parse_expression('complete_years(d, date("2024-07-01"))') == Call(
        "complete_years", (n("d", 16), Call("date", (Literal("2024-07-01"),), 19)), 1
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1_000_000", 1_000_000),
        ("30_000", 30_000),
        ("0", 0),
        ("2.5", 2.5),
        ("1_000.5", 1000.5),
        ('"一般纳税人"', "一般纳税人"),
        ("'一般纳税人'", "一般纳税人"),
        ('"it\'s"', "it's"),
        ("'say \"hi\"'", 'say "hi"'),
        ('""', ""),
        ("true", True),
        ("false", False),
    ],
)
def test_literals(text: str, value: object) -> None:
    node = parse_expression(text)
    assert node == Literal(value)  # type: ignore[arg-type]
    assert isinstance(node, Literal)
    assert type(node.value) is type(value)


def test_keywords_are_not_names() -> None:
    kinds = [(t.kind, t.text) for t in tokenize("a and not b")]
    assert kinds == [
        ("name", "a"),
        ("keyword", "and"),
        ("keyword", "not"),
        ("name", "b"),
        ("end", ""),
    ]


def test_names_in_lists_every_name_in_order() -> None:
    node = parse_expression("coalesce(sales, revenue) >= p and x in allowed or y is missing")
    assert [name.name for name in names_in(node)] == ["sales", "revenue", "p", "x", "allowed", "y"]


# ---- syntax errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "keyword"),
    [
        ("(a", 3, "')'"),
        ("(a or b", 8, "')'"),
        ("a +", 4, "end of expression"),
        ("a and", 6, "end of expression"),
        ("a ==", 5, "end of expression"),
        ("a @ b", 3, "@"),
        ("x > 1 # comment", 7, "#"),
        ("a.b", 2, "."),
        ("", 1, "end of expression"),
        ("a b", 3, "b"),
        ("a == b == c", 8, "=="),
        ("a < b < c", 7, "<"),
        ("a in", 5, "["),
        ("a is", 5, "missing"),
        ("a is b", 6, "missing"),
        ("[1, 2", 6, "]"),
        ("f(a,)", 5, ")"),
        ("'abc", 1, "'"),
        ("a not b", 3, "not"),
        ("营业额 > 1", 1, "营"),
        ("a = 1", 3, "="),
        ("a && b", 3, "&"),
    ],
)
def test_syntax_error_has_the_right_one_based_column(text: str, column: int, keyword: str) -> None:
    with pytest.raises(ExprSyntaxError) as exc:
        parse_expression(text)
    assert exc.value.column == column
    assert keyword in exc.value.message


def test_syntax_error_is_a_value_error_with_its_message() -> None:
    with pytest.raises(ValueError, match="unexpected character"):
        parse_expression("a @ b")


# ---- never Python -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '__import__("os").system("x")',
        "open('/etc/passwd').read()",
        "a if b else c",
        "lambda: 1",
        "[x for x in y]",
        "a; b",
        "a ** 2",
        "{'a': 1}",
        "f(*args)",
    ],
)
def test_python_syntax_is_not_accepted(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the grammar must never call eval/exec/compile")

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    with pytest.raises(ExprSyntaxError):
        parse_expression(text)


def test_a_python_builtin_call_is_only_a_tree() -> None:
    """`__import__("os")` parses as a call node (the compiler rejects it as unknown)."""
    assert parse_expression('__import__("os")') == Call("__import__", (Literal("os"),), 1)
