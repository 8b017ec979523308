"""`gthfx rules check` for 名特优新 criteria files (`categories-*.yaml`): lint before any data is
read, every finding as `file:line: severity: item: message` (the `Finding` of ruleset lint).

- errors: a file that does not load (YAML, unknown or duplicate key, parameter without unit or
  source, a procedure parameter missing or of the wrong kind, a category without a criterion, …);
  an expression that does not parse or compile (unknown name with a hint, a type mismatch, a
  `when` that is not a condition) — every one of them; a word compared with a coded field
  (`evidence_type == "注册商品"`) that its vocabulary does not hold, which could never match;
  overlapping effective dates of two criteria files;
- warnings: a parameter nothing uses.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from contextlib import suppress
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from gthfx.errors import GthfxError
from gthfx.rules.criteria import (
    BUSINESS_COLUMNS,
    PROCEDURE_PARAMETERS,
    WINDOW_START,
    CriteriaFile,
    criteria_files,
    item_kinds,
    load_criteria,
)
from gthfx.rules.grammar import (
    Binary,
    ExprSyntaxError,
    In,
    ListOf,
    Literal,
    Name,
    Node,
    names_in,
    parse_expression,
    walk,
)
from gthfx.rules.lint import Finding
from gthfx.rules.types import CompileError, Kind, Scope, check_expression
from gthfx.settings.sources import ExtractSpec

# which vocabulary the words compared with a name must come from
CODED_NAMES = {
    "evidence_type": "evidence_type",
    "level": "level",
    "record_type": "record_type",
    "category": "category",
    "route": "route",
    "special_group": "special_group",
}
TIER_WORDS = ("survival", "growth", "development", "excluded")


def _lines(path: Path) -> dict[str, Any]:
    """Top-level keys → (line, node), for pointing at items."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8-sig"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): (k.start_mark.line + 1, v) for k, v in node.value}


def _line(index: dict[str, Any], section: str, item: int | str | None = None) -> int | None:
    if section not in index:
        return None
    line, value = index[section]
    if isinstance(item, int) and isinstance(value, yaml.SequenceNode) and item < len(value.value):
        return int(value.value[item].start_mark.line + 1)
    if isinstance(item, str) and isinstance(value, yaml.MappingNode):
        for key, _ in value.value:
            if key.value == item:
                return int(key.start_mark.line + 1)
    return int(line)


def _words_of(canonical: Mapping[str, str]) -> set[str]:
    return set(canonical.values())


def _word_findings(
    tree: Node, vocab: Mapping[str, set[str]], parameters: Mapping[str, object]
) -> list[str]:
    """Words compared with a coded name that its vocabulary does not hold."""
    out: list[str] = []

    def check(name: str, words: list[object]) -> None:
        allowed = vocab.get(name)
        if allowed is None:
            return
        for word in words:
            if isinstance(word, str) and word not in allowed:
                close = difflib.get_close_matches(word, sorted(allowed), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                out.append(
                    f"{word!r} is not a word of `{name}` (accepted: {', '.join(sorted(allowed))})"
                    f"{hint}: the comparison can never hold"
                )

    for node in walk(tree):
        if isinstance(node, Binary) and node.op in ("==", "!="):
            for a, b in ((node.left, node.right), (node.right, node.left)):
                if isinstance(a, Name) and isinstance(b, Literal):
                    check(a.name, [b.value])
        elif isinstance(node, In) and isinstance(node.operand, Name):
            if isinstance(node.items, ListOf):
                check(
                    node.operand.name,
                    [i.value for i in node.items.items if isinstance(i, Literal)],
                )
            elif isinstance(node.items, Name):
                value = parameters.get(node.items.name)
                if isinstance(value, list):
                    check(node.operand.name, value)
    return out


def lint_criteria_file(path: Path, specs: Mapping[str, ExtractSpec]) -> list[Finding]:
    """Every finding of one criteria file (not the date checks across files)."""
    index = _lines(path)
    try:
        loaded = load_criteria(path)
    except GthfxError as exc:
        return [Finding("error", path, None, None, exc.message.removeprefix(f"{path}: "))]
    crit = loaded.criteria
    findings: list[Finding] = []
    parameters: dict[str, object] = {n: p.value for n, p in crit.parameters.items()}
    vocab = {name: _words_of(crit.vocabulary[v]) for name, v in CODED_NAMES.items()}
    vocab["tier"] = set(TIER_WORDS)
    used: set[str] = set(PROCEDURE_PARAMETERS)

    def add(severity: str, section: str, item: int, rule: str, message: str) -> None:
        findings.append(
            Finding(severity, path, _line(index, section, item), rule, message)  # type: ignore[arg-type]
        )

    broken: set[str] = set()

    def compile_one(
        section: str, item: int, rule: str, text: str, scope: Scope, condition: bool
    ) -> Kind | None:
        where = f"{section}[{item}]"
        try:
            tree = parse_expression(text)
        except ExprSyntaxError as exc:
            add(
                "error",
                section,
                item,
                rule,
                f"{where}: syntax error at column {exc.column}: {exc.message}: {text.strip()}",
            )
            return None
        used.update(n.name for n in names_in(tree) if n.name in parameters)
        if any(n.name in broken for n in names_in(tree)):
            return None
        try:
            typed = check_expression(tree, scope)
        except CompileError as exc:
            column = f" (column {exc.column})" if exc.column else ""
            add("error", section, item, rule, f"{where}{column}: {exc.message}: {text.strip()}")
            return None
        if condition and typed.kind != "bool":
            add(
                "error",
                section,
                item,
                rule,
                f"{where}: `when` must be a condition, found a {typed.kind}: {text.strip()}",
            )
            return None
        for message in _word_findings(tree, vocab, parameters):
            add("error", section, item, rule, f"{where}: {message}")
        return typed.kind

    scopes: dict[str, Scope] = {}
    for extract, section, fields in (
        ("evidence", "evidence_fields", crit.evidence_fields),
        ("records", "record_fields", crit.record_fields),
    ):
        columns = item_kinds(specs[extract]) | {WINDOW_START: "date"}
        scope = Scope(columns=columns, parameters=parameters, run_date=crit.effective_from)
        for i, f in enumerate(fields):
            kind = compile_one(section, i, f.id, f.expr, scope, condition=False)
            if kind is None:
                broken.add(f.id)
            else:
                columns[f.id] = kind
        scopes[extract] = scope
    business: dict[str, Kind] = dict(BUSINESS_COLUMNS)
    for i, ind in enumerate(crit.indicators):
        scope = scopes[ind.source]
        if compile_one("indicators", i, ind.id, ind.when, scope, condition=True) is None:
            broken.add(ind.id)
        if ind.value is not None:
            compile_one("indicators", i, ind.id, ind.value, scope, condition=False)
        business[ind.id] = "bool" if ind.aggregate == "any" else "number"
    scope = Scope(columns=business, parameters=parameters, run_date=crit.effective_from)
    steps: list[tuple[str, int, str, str]] = [
        *(("conditions", i, c.id, c.when) for i, c in enumerate(crit.conditions)),
        *(("exclusions", i, e.id, e.when) for i, e in enumerate(crit.exclusions)),
        *(("criteria", i, c.id, c.when) for i, c in enumerate(crit.criteria)),
    ]
    for section, i, rule, text in steps:
        compile_one(section, i, rule, text, scope, condition=True)
    for name in crit.parameters:
        if name not in used:
            findings.append(
                Finding(
                    "warning",
                    path,
                    _line(index, "parameters", name),
                    name,
                    f"parameter `{name}` is not used by any expression",
                )
            )
    return findings


def lint_criteria(location: Path, specs: Mapping[str, ExtractSpec]) -> list[Finding]:
    """Every finding of the criteria files of a folder (or of one file), with the dates across
    them: two files in force on one day is an error."""
    findings: list[Finding] = []
    loaded: list[CriteriaFile] = []
    for path in criteria_files(location):
        findings += lint_criteria_file(path, specs)
        with suppress(GthfxError):
            loaded.append(load_criteria(path))
    spans = sorted(loaded, key=lambda c: c.criteria.effective_from)
    for i, a in enumerate(spans):
        for b in spans[i + 1 :]:
            a_to = a.criteria.effective_to or date.max
            if b.criteria.effective_from <= a_to:
                findings.append(
                    Finding(
                        "error",
                        b.path,
                        _line(_lines(b.path), "effective_from"),
                        None,
                        f"effective dates overlap: {b.path.name} and {a.path.name} are both in "
                        f"force on {b.criteria.effective_from}",
                    )
                )
    return sorted(findings, key=lambda f: (str(f.file), f.line or 0))
