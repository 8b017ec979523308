"""The rule expression grammar: text → a small tree. Never evaluated as Python.

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | test
    test    := sum [ cmpop sum | ["not"] "in" (list | NAME) | "is" ["not"] "missing" ]
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary   := "-" unary | atom
    atom    := NUMBER | STRING | "true" | "false" | NAME | NAME "(" [expr ("," expr)*] ")"
             | "(" expr ")" | list
    list    := "[" [expr ("," expr)*] "]"
    cmpop   := "==" | "!=" | "<" | "<=" | ">" | ">="

Strings are in double or single quotes; NAME is a field, a derived field, a parameter, or one of
the built-ins `run_date` and `run_year`. Numbers may use `_` as a digit separator (1_000_000) and
fit in 64 bits. An expression nests at most MAX_DEPTH levels (deeper is a syntax error: split
it into derived fields), so that no later step runs out of stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

KEYWORDS = {"and", "or", "not", "in", "is", "missing", "true", "false"}
MAX_DEPTH = 64  # levels of nesting an expression may have (a chain `a + b + c` nests too)
MAX_INT = 2**63 - 1
COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d[\d_]*(?:\.\d[\d_]*)?)
  | (?P<string>"[^"]*"|'[^']*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)|\[|\]|,)
    """,
    re.VERBOSE,
)


class ExprSyntaxError(ValueError):
    """A syntax error at a column of the expression text (1-based)."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


# ---- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: float | int | str | bool


@dataclass(frozen=True)
class Name:
    name: str
    column: int


@dataclass(frozen=True)
class ListOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "not"
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / and or, or a comparison
    left: Node
    right: Node


@dataclass(frozen=True)
class In:
    operand: Node
    items: ListOf | Name  # a literal list, or a parameter whose value is a list
    negated: bool


@dataclass(frozen=True)
class IsMissing:
    operand: Node
    negated: bool


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]
    column: int


Node = Literal | Name | ListOf | Unary | Binary | In | IsMissing | Call


@dataclass(frozen=True)
class Token:
    kind: str  # number string name op keyword end
    text: str
    column: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExprSyntaxError(f"unexpected character {text[pos]!r}", pos + 1)
        kind = match.lastgroup or ""
        value = match.group()
        if kind != "ws":
            if kind == "name" and value in KEYWORDS:
                kind = "keyword"
            tokens.append(Token(kind, value, pos + 1))
        pos = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    def nest(self) -> None:
        """One level deeper (brackets, `not`, unary minus): refused beyond MAX_DEPTH."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprSyntaxError(
                f"the expression nests more than {MAX_DEPTH} levels deep: split it into "
                "derived fields",
                self.tok.column,
            )

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def at(self, *texts: str) -> bool:
        return self.tok.kind in ("op", "keyword") and self.tok.text in texts

    def expect(self, text: str) -> Token:
        if not self.at(text):
            found = self.tok.text or "end of expression"
            raise ExprSyntaxError(f"expected {text!r}, found {found!r}", self.tok.column)
        return self.take()

    def parse(self) -> Node:
        node = self.or_()
        if self.tok.kind != "end":
            raise ExprSyntaxError(f"unexpected {self.tok.text!r}", self.tok.column)
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.at("or"):
            self.take()
            node = Binary("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.at("and"):
            self.take()
            node = Binary("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.at("not"):
            self.take()
            self.nest()
            node = Unary("not", self.not_())
            self.depth -= 1
            return node
        return self.test()

    def test(self) -> Node:
        node = self.sum()
        if self.tok.kind == "op" and self.tok.text in COMPARISONS:
            op = self.take().text
            return Binary(op, node, self.sum())
        if self.at("in"):
            self.take()
            return In(node, self.in_items(), negated=False)
        if self.at("not") and self.tokens[self.pos + 1].text == "in":
            self.take()
            self.take()
            return In(node, self.in_items(), negated=True)
        if self.at("is"):
            self.take()
            negated = False
            if self.at("not"):
                self.take()
                negated = True
            self.expect("missing")
            return IsMissing(node, negated)
        return node

    def sum(self) -> Node:
        node = self.product()
        while self.at("+", "-"):
            op = self.take().text
            node = Binary(op, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.at("*", "/"):
            op = self.take().text
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("-"):
            self.take()
            self.nest()
            node = Unary("-", self.unary())
            self.depth -= 1
            return node
        return self.atom()

    def in_items(self) -> ListOf | Name:
        if self.tok.kind == "name":
            tok = self.take()
            return Name(tok.text, tok.column)
        return self.list_()

    def list_(self) -> ListOf:
        self.nest()
        self.expect("[")
        items: list[Node] = []
        if not self.at("]"):
            items.append(self.or_())
            while self.at(","):
                self.take()
                items.append(self.or_())
        self.expect("]")
        self.depth -= 1
        return ListOf(tuple(items))

    def atom(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.take()
            text = tok.text.replace("_", "")
            value = float(text) if "." in text else int(text)
            if abs(value) > MAX_INT:
                raise ExprSyntaxError(
                    "the number does not fit in 64 bits (at most 9_223_372_036_854_775_807)",
                    tok.column,
                )
            return Literal(value)
        if tok.kind == "string":
            self.take()
            return Literal(tok.text[1:-1])
        if tok.kind == "keyword" and tok.text in ("true", "false"):
            self.take()
            return Literal(tok.text == "true")
        if tok.kind == "name":
            self.take()
            if self.at("("):
                self.take()
                self.nest()
                args: list[Node] = []
                if not self.at(")"):
                    args.append(self.or_())
                    while self.at(","):
                        self.take()
                        args.append(self.or_())
                self.expect(")")
                self.depth -= 1
                return Call(tok.text, tuple(args), tok.column)
            return Name(tok.text, tok.column)
        if self.at("("):
            self.take()
            self.nest()
            node = self.or_()
            self.expect(")")
            self.depth -= 1
            return node
        if self.at("["):
            return self.list_()
        found = tok.text or "end of expression"
        raise ExprSyntaxError(f"expected a value, a name or '(', found {found!r}", tok.column)


def parse_expression(text: str) -> Node:
    """Parse one rule expression; raises ExprSyntaxError with a 1-based column."""
    node = _Parser(text).parse()
    if depth(node) > MAX_DEPTH:  # a long chain (`a + a + … + a`) nests without brackets
        raise ExprSyntaxError(
            f"the expression nests more than {MAX_DEPTH} levels deep (a chain of operators "
            "nests too): split it into derived fields",
            1,
        )
    return node


def depth(node: Node) -> int:
    """How many levels the tree nests (a leaf is 1), counted without recursion."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(current))
    return deepest


def children(node: Node) -> tuple[Node, ...]:
    """A node's direct sub-expressions, in the order they are written."""
    if isinstance(node, ListOf):
        return node.items
    if isinstance(node, Unary | IsMissing):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, In):
        return (node.operand, node.items)
    if isinstance(node, Call):
        return node.args
    return ()


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children, in the order they are written."""
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def names_in(node: Node) -> list[Name]:
    """Every name the expression reads, in order of appearance."""
    return [n for n in walk(node) if isinstance(n, Name)]


_PREC = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4}
_PREC.update({"+": 5, "-": 5, "*": 6, "/": 6})


def expression_text(node: Node, parent: int = 0) -> str:
    """The tree written back as rule text (parentheses only where needed); parsing the text
    gives the same tree."""
    prec = 8
    if isinstance(node, Literal):
        value = node.value
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = f'"{value}"'
        else:
            text = str(value)
    elif isinstance(node, Name):
        text = node.name
    elif isinstance(node, ListOf):
        text = "[" + ", ".join(expression_text(i) for i in node.items) + "]"
    elif isinstance(node, Unary):
        prec = 3 if node.op == "not" else 7
        sep = " " if node.op == "not" else ""
        text = f"{node.op}{sep}{expression_text(node.operand, prec)}"
    elif isinstance(node, Binary):
        prec = _PREC[node.op]
        left_min = 5 if prec == 4 else prec
        right_min = 5 if prec == 4 else prec + 1
        left = expression_text(node.left, left_min)
        right = expression_text(node.right, right_min)
        text = f"{left} {node.op} {right}"
    elif isinstance(node, In):
        prec = 4
        op = "not in" if node.negated else "in"
        text = f"{expression_text(node.operand, 5)} {op} {expression_text(node.items)}"
    elif isinstance(node, IsMissing):
        prec = 4
        op = "is not missing" if node.negated else "is missing"
        text = f"{expression_text(node.operand, 5)} {op}"
    elif isinstance(node, Call):
        text = f"{node.function}(" + ", ".join(expression_text(a) for a in node.args) + ")"
    else:  # pragma: no cover — exhaustive
        raise TypeError(node)
    return f"({text})" if prec < parent else text
