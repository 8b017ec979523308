"""`gthfx rules check`: lint ruleset files before any data is read.

Every finding names the file, the rule id and the YAML line. The checks use the same grammar and
compiler as classify (one tree, one meaning):

- a file that does not load (YAML syntax, duplicate or unknown key, parameter without unit or
  source, last tier not the default, …) — error;
- an expression that does not parse or compile (unknown name with a close-match hint, a text
  compared with a number, …) — one error per expression, all of them, not only the first;
- a parameter no expression uses — warning;
- a tier rule that can never be reached because an earlier one always wins — warning: an earlier
  condition that is always true, a condition identical to an earlier one, or (a sampled check)
  a rule that is never the first match over a few thousand synthetic businesses built from the
  values the ruleset mentions;
- across the files of a folder: overlapping effective dates (error), gaps (warning).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import ValidationError

from gthfx.errors import GthfxError, RulesError
from gthfx.rules.compiler import BUILTINS, FIELD_KINDS, CompileError, Kind, Scope, compile_node
from gthfx.rules.engine import compile_ruleset
from gthfx.rules.grammar import (
    Binary,
    Call,
    ExprSyntaxError,
    In,
    IsMissing,
    ListOf,
    Name,
    Node,
    Unary,
    names_in,
    parse_expression,
    walk,
)
from gthfx.rules.grammar import Literal as Lit
from gthfx.rules.model import Ruleset, RulesetFile, load_ruleset, read_with_base, ruleset_files

Severity = Literal["error", "warning"]
SAMPLE_ROWS = 4000
SECTIONS = ("derived", "basic_conditions", "tiers")


@dataclass(frozen=True)
class Finding:
    severity: Severity
    file: Path
    line: int | None  # 1-based
    rule: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        rule = f" {self.rule}:" if self.rule else ""
        return f"{where}: {self.severity}:{rule} {self.message}"


# ---- YAML lines ---------------------------------------------------------------------------------


class _Lines:
    """Where items are in a ruleset file and the files it extends: `tiers[i]`,
    `basic_conditions[i]`, `derived[i]`, `parameters.<name>` and top-level keys → (file, line)."""

    def __init__(self, path: Path) -> None:
        self.chain: list[tuple[Path, dict[str, tuple[int, Any]]]] = []
        seen: set[Path] = set()
        current: Path | None = path
        while current is not None and current.resolve() not in seen:
            seen.add(current.resolve())
            index, base = self._index(current)
            self.chain.append((current, index))
            current = current.parent / base if base else None

    @staticmethod
    def _index(path: Path) -> tuple[dict[str, tuple[int, Any]], str | None]:
        try:
            node = yaml.compose(path.read_text(encoding="utf-8-sig"), Loader=yaml.SafeLoader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return {}, None
        out: dict[str, tuple[int, Any]] = {}
        base: str | None = None
        if not isinstance(node, yaml.MappingNode):
            return out, None
        for key, value in node.value:
            name = str(key.value)
            out[name] = (key.start_mark.line + 1, value)
            if name == "extends" and isinstance(value, yaml.ScalarNode):
                base = str(value.value)
        return out, base

    def find(self, section: str, item: int | str | None = None) -> tuple[Path, int | None]:
        """The file and line of a top-level key, a list item or a parameter; the first file of
        the `extends` chain that has the key wins (its value replaces the base's)."""
        for path, index in self.chain:
            if section not in index:
                continue
            line, value = index[section]
            if item is None:
                return path, line
            if isinstance(item, int) and isinstance(value, yaml.SequenceNode):
                if 0 <= item < len(value.value):
                    return path, value.value[item].start_mark.line + 1
                return path, line
            if isinstance(item, str) and isinstance(value, yaml.MappingNode):
                for key, _ in value.value:
                    if key.value == item:
                        return path, key.start_mark.line + 1
                continue  # parameters merge by name: look in the base
            return path, line
        return self.chain[0][0], None


# ---- one file -----------------------------------------------------------------------------------


def _rule_of(raw: Mapping[str, Any], section: str, index: int) -> str:
    items = raw.get(section)
    if isinstance(items, list) and 0 <= index < len(items) and isinstance(items[index], dict):
        return str(items[index].get("id", f"{section}[{index}]"))
    return f"{section}[{index}]"


def _validation_findings(
    path: Path, raw: dict[str, Any], exc: ValidationError, lines: _Lines
) -> list[Finding]:
    out = []
    for err in exc.errors():
        loc = err["loc"]
        msg = err["msg"].removeprefix("Value error, ")
        where = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc).replace(".[", "[")
        rule: str | None = None
        file, line = path, None
        if len(loc) >= 2 and loc[0] in SECTIONS and isinstance(loc[1], int):
            rule = _rule_of(raw, str(loc[0]), loc[1])
            file, line = lines.find(str(loc[0]), loc[1])
        elif len(loc) >= 2 and loc[0] == "parameters":
            rule = str(loc[1])
            file, line = lines.find("parameters", str(loc[1]))
        elif loc:
            file, line = lines.find(str(loc[0]))
        else:  # a check of the whole ruleset: point at what it is about
            tiers: list[Any] = raw["tiers"] if isinstance(raw.get("tiers"), list) else []
            if "last tier rule must" in msg and tiers:
                rule = _rule_of(raw, "tiers", len(tiers) - 1)
                file, line = lines.find("tiers", len(tiers) - 1)
            elif "only the last tier" in msg:
                index = next(
                    (
                        i
                        for i, t in enumerate(tiers[:-1])
                        if isinstance(t, dict) and t.get("default")
                    ),
                    0,
                )
                rule = _rule_of(raw, "tiers", index)
                file, line = lines.find("tiers", index)
            elif "effective_to" in msg:
                file, line = lines.find("effective_to")
            elif "ids used twice" in msg:
                dupes = msg.split(":", 1)[1].strip().split(", ")
                rule = dupes[0]
                seen = 0
                for section in SECTIONS:
                    for i, item in enumerate(raw.get(section) or []):
                        if isinstance(item, dict) and item.get("id") == rule:
                            seen += 1
                            if seen == 2:
                                file, line = lines.find(section, i)
        prefix = f"{where}: " if where else ""
        out.append(Finding("error", file, line, rule, f"{prefix}{msg}"))
    return out


def _load_findings(path: Path, lines: _Lines) -> list[Finding]:
    """Why a file does not load, as findings with lines where the problem has one."""
    try:
        raw, _ = read_with_base(path)
    except GthfxError as exc:
        match = re.search(r"^(.*?):(\d+):\d+: ", exc.message)
        if match:
            return [
                Finding("error", Path(match[1]), int(match[2]), None, exc.message[match.end() :])
            ]
        return [Finding("error", path, None, None, exc.message.removeprefix(f"{path}: "))]
    try:
        Ruleset.model_validate(raw)
    except ValidationError as exc:
        return _validation_findings(path, raw, exc, lines)
    return []


@dataclass
class _Expr:
    section: str
    index: int
    rule: str
    text: str
    tree: Node | None = None


def _expressions(rs: Ruleset) -> list[_Expr]:
    out = [_Expr("derived", i, d.id, d.expr) for i, d in enumerate(rs.derived)]
    out += [_Expr("basic_conditions", i, c.id, c.when) for i, c in enumerate(rs.basic_conditions)]
    out += [_Expr("tiers", i, t.id, t.when) for i, t in enumerate(rs.tiers) if t.when is not None]
    return out


def lint_file(path: Path, field_types: Mapping[str, str]) -> list[Finding]:
    """Every finding of one ruleset file (not the folder-level date checks)."""
    lines = _Lines(path)
    try:
        ruleset_file = load_ruleset(path)
    except GthfxError:
        return _load_findings(path, lines) or [
            Finding("error", path, None, None, "the ruleset does not load")
        ]
    rs = ruleset_file.ruleset
    findings: list[Finding] = []

    def add(severity: Severity, section: str, item: int | str | None, rule: str | None, msg: str):
        file, line = lines.find(section, item)
        findings.append(Finding(severity, file, line, rule, msg))

    columns: dict[str, Kind] = {name: FIELD_KINDS[kind] for name, kind in field_types.items()}
    for name in rs.parameters:
        if name in columns or name in BUILTINS:
            add("error", "parameters", name, name, f"parameter `{name}` is named like a field")
    scope = Scope(
        columns=columns,
        parameters={n: p.value for n, p in rs.parameters.items() if n not in columns},
        run_date=rs.effective_from,
        personal=frozenset(getattr(field_types, "personal", ())),
    )
    broken: set[str] = set()  # derived fields that failed: expressions reading them are skipped
    exprs = _expressions(rs)
    for item in exprs:
        where = f"{item.section}[{item.index}]"
        try:
            item.tree = parse_expression(item.text)
        except ExprSyntaxError as exc:
            add(
                "error",
                item.section,
                item.index,
                item.rule,
                f"{where}: syntax error at column {exc.column}: {exc.message}: {item.text.strip()}",
            )
            broken.add(item.rule)
            continue
        if item.section == "derived" and item.rule in field_types:
            add("error", "derived", item.index, item.rule, f"`{item.rule}` is already a field")
            broken.add(item.rule)
            continue
        if any(n.name in broken for n in names_in(item.tree)):
            broken.add(item.rule)
            continue
        try:
            typed = compile_node(item.tree, scope)
        except CompileError as exc:
            column = f" (column {exc.column})" if exc.column else ""
            add(
                "error",
                item.section,
                item.index,
                item.rule,
                f"{where}{column}: {exc.message}: {item.text.strip()}",
            )
            broken.add(item.rule)
            continue
        if item.section == "derived":
            columns[item.rule] = typed.kind
        elif typed.kind != "bool":
            add(
                "error",
                item.section,
                item.index,
                item.rule,
                f"{where}: `when` must be a condition, found a {typed.kind}: {item.text.strip()}",
            )
            broken.add(item.rule)
    used = {n.name for e in exprs if e.tree is not None for n in names_in(e.tree)}
    for name in rs.parameters:
        if name not in used:
            add("warning", "parameters", name, name, f"parameter `{name}` is not used by any rule")
    if any(f.severity == "error" for f in findings):
        return findings
    findings += _reachability(ruleset_file, field_types, exprs, lines)
    return findings


# ---- reachability -------------------------------------------------------------------------------


def _canon(node: Node) -> str:
    """The tree as text, without columns: two conditions written differently compare equal."""
    if isinstance(node, Lit):
        return repr(node.value)
    if isinstance(node, Name):
        return node.name
    if isinstance(node, ListOf):
        return "[" + ",".join(_canon(i) for i in node.items) + "]"
    if isinstance(node, Unary):
        return f"({node.op} {_canon(node.operand)})"
    if isinstance(node, Binary):
        return f"({_canon(node.left)} {node.op} {_canon(node.right)})"
    if isinstance(node, In):
        return f"({_canon(node.operand)} {'not in' if node.negated else 'in'} {_canon(node.items)})"
    if isinstance(node, IsMissing):
        return f"({_canon(node.operand)} is {'not ' if node.negated else ''}missing)"
    return f"{node.function}(" + ",".join(_canon(a) for a in node.args) + ")"


def always_true(node: Node) -> bool:
    """A condition that holds for every business, recognised from its form: `true`,
    `x is missing or x is not missing`, `a or <always true>`, `not <always false>`, …"""
    if isinstance(node, Lit):
        return node.value is True
    if isinstance(node, Unary) and node.op == "not":
        return always_false(node.operand)
    if isinstance(node, Binary) and node.op == "and":
        return always_true(node.left) and always_true(node.right)
    if isinstance(node, Binary) and node.op == "or":
        if always_true(node.left) or always_true(node.right):
            return True
        tests = _or_terms(node)
        for a in tests:
            for b in tests:
                if (
                    isinstance(a, IsMissing)
                    and isinstance(b, IsMissing)
                    and a.negated != b.negated
                    and _canon(a.operand) == _canon(b.operand)
                ):
                    return True
                if isinstance(a, Unary) and a.op == "not" and _canon(a.operand) == _canon(b):
                    return True
    return False


def always_false(node: Node) -> bool:
    if isinstance(node, Lit):
        return node.value is False
    if isinstance(node, Unary) and node.op == "not":
        return always_true(node.operand)
    if isinstance(node, Binary) and node.op == "or":
        return always_false(node.left) and always_false(node.right)
    if isinstance(node, Binary) and node.op == "and":
        return always_false(node.left) or always_false(node.right)
    return False


def _or_terms(node: Node) -> list[Node]:
    if isinstance(node, Binary) and node.op == "or":
        return _or_terms(node.left) + _or_terms(node.right)
    return [node]


def _constants(
    trees: list[Node], parameters: Mapping[str, object]
) -> tuple[list[float], list[str], list[date]]:
    """The numbers, texts and dates a ruleset mentions: literals, `date("…")` and the
    parameters it reads."""
    numbers: set[float] = set()
    texts: set[str] = set()
    dates: set[date] = set()

    def take(value: object) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int | float):
            numbers.add(float(value))
        elif isinstance(value, str):
            texts.add(value)
        elif isinstance(value, list | tuple):
            for v in value:
                take(v)

    for tree in trees:
        nodes = list(walk(tree))
        # a date("…") literal is a date, not a text value
        in_date = {
            id(arg)
            for n in nodes
            if isinstance(n, Call) and n.function == "date" and len(n.args) == 1
            for arg in n.args
        }
        for node in nodes:
            if isinstance(node, Lit) and id(node) in in_date:
                with suppress(ValueError):
                    dates.add(date.fromisoformat(str(node.value)))
            elif isinstance(node, Lit):
                take(node.value)
            elif isinstance(node, Name) and node.name in parameters:
                take(parameters[node.name])
    return sorted(numbers), sorted(texts), sorted(dates)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _candidates(
    kind: str, numbers: list[float], texts: list[str], dates: list[date], run_date: date
) -> pl.Series:
    if kind in ("int", "decimal"):
        values: set[float] = {0.0, 1.0, -1.0, 2.0, 10.0, 100.0, 10_000.0, 1_000_000.0, 1e9}
        for n in numbers:
            values.update({n, n - 1, n + 1, n - 0.01, n + 0.01, n * 10_000})
        if kind == "int":
            return pl.Series(
                [None, *sorted({int(v) for v in values if v == int(v)})], dtype=pl.Int64
            )
        return pl.Series([None, *sorted(values)], dtype=pl.Float64)
    if kind == "date":
        years = sorted({0, 1, 2, 3, 5, 10, *(int(n) for n in numbers if 0 <= n <= 50)})
        days: set[date] = {date(run_date.year, 1, 1), date(run_date.year - 1, 12, 31)}
        for d in dates:
            days.update({d, d - timedelta(days=1), d + timedelta(days=1)})
        for y in years:
            for back in (y - 1, y, y + 1):
                if back < 0:
                    continue
                anniversary = _add_years(run_date, back)
                days.update(
                    {anniversary, anniversary - timedelta(days=1), anniversary + timedelta(1)}
                )
        return pl.Series([None, *sorted(days)], dtype=pl.Date)
    if kind == "bool":
        return pl.Series([None, True, False], dtype=pl.Boolean)
    return pl.Series([None, *texts, "其他"], dtype=pl.String)


def _reachability(
    ruleset_file: RulesetFile,
    field_types: Mapping[str, str],
    exprs: list[_Expr],
    lines: _Lines,
) -> list[Finding]:
    rs = ruleset_file.ruleset
    findings: list[Finding] = []
    flagged: set[int] = set()

    def warn(index: int, msg: str) -> None:
        flagged.add(index)
        file, line = lines.find("tiers", index)
        findings.append(Finding("warning", file, line, rs.tiers[index].id, msg))

    trees = {e.index: e.tree for e in exprs if e.section == "tiers" and e.tree is not None}
    for i in range(len(rs.tiers)):
        tree = trees.get(i)
        for j in range(i):
            earlier = trees.get(j)
            if earlier is None or j in flagged:
                continue
            if always_true(earlier):
                warn(i, f"can never be reached: the earlier rule `{rs.tiers[j].id}` always matches")
                break
            if tree is not None and _canon(tree) == _canon(earlier):
                warn(
                    i,
                    f"can never be reached: its condition is the same as the earlier rule "
                    f"`{rs.tiers[j].id}`'s",
                )
                break
    # the sampled check: synthetic businesses from the values the ruleset mentions
    compiled = compile_ruleset(ruleset_file, field_types, rs.effective_from)
    derived_reads = {
        e.rule: [n.name for n in names_in(e.tree)]
        for e in exprs
        if e.section == "derived" and e.tree
    }
    needed: list[str] = []
    pending = [n.name for t in trees.values() if t is not None for n in names_in(t)]
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        if name in field_types:
            needed.append(name)
        elif name in derived_reads:
            pending.extend(derived_reads[name])
    numbers, texts, dates = _constants(
        [e.tree for e in exprs if e.tree is not None],
        {n: p.value for n, p in rs.parameters.items()},
    )
    run_date = rs.effective_from
    columns = {}
    for k, name in enumerate(sorted(needed)):
        values = _candidates(field_types[name], numbers, texts, dates, run_date)
        columns[name] = values.sample(SAMPLE_ROWS, with_replacement=True, seed=20240701 + k)
    frame = pl.DataFrame(columns) if columns else pl.DataFrame({"_row": range(SAMPLE_ROWS)})
    # every derived expression, in order (they may read fields the tiers do not): missing
    missing = {
        name: pl.lit(None, dtype=_DTYPES[kind]).alias(name)
        for name, kind in field_types.items()
        if name not in frame.columns
    }
    frame = frame.with_columns(missing.values()).with_columns(e for _, e in compiled.derived)
    matched: list[pl.Expr] = []
    counts: list[pl.Expr] = []
    for index, (_, _, condition) in enumerate(compiled.tier_rules):
        test = pl.lit(True) if condition is None else condition
        before = pl.any_horizontal(matched) if matched else pl.lit(False)
        counts.append((test & ~before).sum().alias(f"first_{index}"))
        counts.append(test.sum().alias(f"any_{index}"))
        matched.append(test)
    result = frame.select(counts).row(0, named=True)
    for index in range(len(rs.tiers)):
        if index in flagged or result[f"first_{index}"]:
            continue
        if result[f"any_{index}"]:
            why = "an earlier rule always matched first"
        else:
            why = "its condition was never true"
        warn(
            index,
            f"never matched in {SAMPLE_ROWS} sampled cases ({why}); this is a sampled check "
            f"over values the ruleset mentions, not a proof — check the rule's conditions",
        )
    return findings


_DTYPES: dict[str, Any] = {
    "code": pl.String,
    "text": pl.String,
    "int": pl.Int64,
    "decimal": pl.Float64,
    "date": pl.Date,
    "bool": pl.Boolean,
}


# ---- a folder -----------------------------------------------------------------------------------


def _date_findings(loaded: list[tuple[RulesetFile, _Lines]]) -> list[Finding]:
    out: list[Finding] = []
    spans = sorted(loaded, key=lambda item: item[0].ruleset.effective_from)
    for i, (a, _) in enumerate(spans):
        for b, b_lines in spans[i + 1 :]:
            a_to, b_to = a.ruleset.effective_to, b.ruleset.effective_to
            if b.ruleset.effective_from <= (a_to or date.max) and a.ruleset.effective_from <= (
                b_to or date.max
            ):
                file, line = b_lines.find("effective_from")
                out.append(
                    Finding(
                        "error",
                        b.path,
                        line if file == b.path else None,
                        None,
                        f"effective dates overlap: {b.path.name} "
                        f"({b.ruleset.effective_from}…{b_to or ''}) and {a.path.name} "
                        f"({a.ruleset.effective_from}…{a_to or ''}) are both in force from "
                        f"{max(a.ruleset.effective_from, b.ruleset.effective_from)}",
                    )
                )
    for (a, _), (b, b_lines) in pairwise(spans):
        a_to = a.ruleset.effective_to
        if a_to is not None and b.ruleset.effective_from > a_to + timedelta(days=1):
            start, end = a_to + timedelta(days=1), b.ruleset.effective_from - timedelta(days=1)
            file, line = b_lines.find("effective_from")
            out.append(
                Finding(
                    "warning",
                    b.path,
                    line if file == b.path else None,
                    None,
                    f"no ruleset is in force from {start} to {end} (a gap between "
                    f"{a.path.name} and {b.path.name}): a run on those dates fails",
                )
            )
    return out


def lint_rules(location: Path, field_types: Mapping[str, str]) -> list[Finding]:
    """Every finding of a ruleset file or of every ruleset file of a folder."""
    files = ruleset_files(location)
    if not files:
        raise RulesError(f"{location}: no ruleset files (*.yaml) found")
    findings: list[Finding] = []
    loaded: list[tuple[RulesetFile, _Lines]] = []
    for path in files:
        findings += lint_file(path, field_types)
        with suppress(GthfxError):
            loaded.append((load_ruleset(path), _Lines(path)))
    findings += _date_findings(loaded)
    return sorted(findings, key=lambda f: (str(f.file), f.line or 0))


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)
