"""`gthfx policies check`: lint a policy library before any run is read, as `rules check` lints
rulesets — every finding as `file:line: error|warning: measure: message`.

The names a measure's `when` may read are those of the runs it will meet: the outcome columns of
the rulesets in force while its file is (see `policies.scope_columns`). Checks:

- a file that does not load (YAML syntax, duplicate or unknown key, a missing `source`, a
  `delivery` other than 免申即享 / 快申快享 / 申报, an unknown tier or category, a measure with
  neither tiers nor categories, dates not YYYY-MM-DD or reversed) — error;
- a measure id used in two files — error;
- a `when` that does not parse or type-check (unknown name with a "did you mean" hint, a text
  compared with a number, not a condition), or reads a field that runs under one of the rulesets
  in force do not carry — error, one per measure and ruleset;
- a parameter named like a field — error; a parameter no measure uses — warning;
- a measure whose own dates fall outside its file's (never in force, or cut short) — warning;
- a file during which no ruleset is in force — warning (its conditions are then checked against
  every ruleset's columns).
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from gthfx.errors import GthfxError
from gthfx.rules.grammar import ExprSyntaxError, names_in, parse_expression
from gthfx.rules.lint import Finding
from gthfx.rules.model import RulesetFile, load_ruleset, ruleset_files
from gthfx.rules.plan import build_plan
from gthfx.rules.policies import (
    Library,
    PolicyDocument,
    duplicate_measures,
    item_lines,
    policy_files,
    read_policy_file,
    scope_columns,
)
from gthfx.rules.policies import check_library as check_policies
from gthfx.rules.types import Kind
from gthfx.settings.sources import SourcesMapping


@dataclass(frozen=True)
class RunShape:
    """The columns runs under one ruleset carry, and when that ruleset is in force."""

    ruleset: RulesetFile
    columns: dict[str, Kind]

    def overlaps(self, start: date, end: date | None) -> bool:
        rs = self.ruleset.ruleset
        return (end is None or rs.effective_from <= end) and (
            rs.effective_to is None or start <= rs.effective_to
        )


def run_shapes(rules: Path, sources: SourcesMapping) -> tuple[list[RunShape], list[Finding]]:
    """The run shape of every ruleset in `rules` that loads and compiles (the others are
    `rules check`'s to report: a warning here)."""
    shapes: list[RunShape] = []
    findings: list[Finding] = []
    try:
        paths = ruleset_files(rules)
    except GthfxError as exc:
        return [], [Finding("warning", rules, None, None, f"no rulesets to check against: {exc}")]
    for path in paths:
        try:
            ruleset = load_ruleset(path)
            plan = build_plan(ruleset, sources, ruleset.ruleset.effective_from)
        except GthfxError:
            message = "does not load or compile (see gthfx rules check): its fields are unknown"
            findings.append(Finding("warning", path, None, None, message))
            continue
        shapes.append(RunShape(ruleset, scope_columns(plan.outcome_schema)))
    return shapes, findings


def _load(path: Path) -> tuple[PolicyDocument | None, list[Finding]]:
    doc, problems = read_policy_file(path)
    return doc, [Finding("error", path, p.line, p.rule, p.message) for p in problems]


def _condition_findings(
    doc: PolicyDocument, shapes: list[RunShape], every: list[RunShape], fields: set[str]
) -> list[Finding]:
    """Each measure's `when` checked against the columns of every run shape in `shapes`."""
    library = Library(location=doc.path, documents=(doc,))
    seen: set[tuple[int | str, str]] = set()
    out: list[Finding] = []
    used: set[str] = set()
    for shape in shapes:
        on = max(doc.policy.effective_from, shape.ruleset.ruleset.effective_from)
        plan, problems = check_policies(library, shape.columns, on)
        used |= plan.used_parameters
        for problem in problems:
            key = (problem.item, problem.message)
            if key in seen:
                continue
            seen.add(key)
            message = problem.message
            unknown = re.match(r"unknown name `(\w+)`", message)
            if unknown and any(unknown[1] in s.columns for s in every):
                carried = [s.ruleset.ruleset.id for s in every if unknown[1] in s.columns]
                message = (
                    f"`{unknown[1]}` is not in the outcome files of runs under ruleset "
                    f"{shape.ruleset.ruleset.id} (only under {', '.join(carried)})"
                )
            elif unknown and unknown[1] in fields:
                message = (
                    f"`{unknown[1]}` is a field of the extracts, but not in a run's outcome "
                    "files (they carry the fields the tier rules read)"
                )
            column = f" (column {problem.column})" if problem.column else ""
            text = f": {problem.text.strip()}" if problem.text else ""
            where = f"{problem.section}[{problem.item}]"
            out.append(
                Finding(
                    "error",
                    doc.path,
                    problem.line,
                    problem.rule,
                    f"{where}{column}: {message}{text}",
                )
            )
    for measure in doc.policy.measures:  # a name in a condition that fails still counts as used
        with suppress(ExprSyntaxError):
            used |= {n.name for n in names_in(parse_expression(measure.when or "true"))}
    if shapes:
        lines = item_lines(doc.path)
        for name in doc.policy.parameters:
            if name not in used:
                out.append(
                    Finding(
                        "warning",
                        doc.path,
                        lines.get(("parameters", name)),
                        name,
                        f"parameter `{name}` is not used by any measure",
                    )
                )
    return out


def _date_findings(doc: PolicyDocument) -> list[Finding]:
    policy = doc.policy
    lines = item_lines(doc.path)
    out = []
    for index, m in enumerate(policy.measures):
        start, end = m.effective_from, m.effective_to
        line = lines.get(("measures.effective_from", index)) or lines.get(("measures", index))
        never = (end is not None and end < policy.effective_from) or (
            start is not None and policy.effective_to is not None and start > policy.effective_to
        )
        if never:
            out.append(
                Finding(
                    "warning",
                    doc.path,
                    line,
                    m.id,
                    "the measure's dates lie outside its file's: it is never in force",
                )
            )
        elif (start is not None and start < policy.effective_from) or (
            end is not None and policy.effective_to is not None and end > policy.effective_to
        ):
            out.append(
                Finding(
                    "warning",
                    doc.path,
                    line,
                    m.id,
                    "the measure's dates reach beyond its file's: it is in force only while the "
                    "file is",
                )
            )
    return out


def lint_library(location: Path, rules: Path, sources: SourcesMapping) -> list[Finding]:
    """Every finding of a policy library (a file or a folder), for the runs of the rulesets in
    `rules` read with `sources`."""
    try:
        paths = policy_files(location)
    except GthfxError as exc:
        return [Finding("error", location, None, None, exc.message)]
    if not paths:
        return [Finding("error", location, None, None, "no policy files (*.yaml) found")]
    shapes, findings = run_shapes(rules, sources)
    documents: list[PolicyDocument] = []
    for path in paths:
        doc, problems = _load(path)
        findings += problems
        if doc is not None:
            documents.append(doc)
    for measure, first, second in duplicate_measures(documents):
        doc = next(d for d in documents if d.path == second)
        index = next(i for i, m in enumerate(doc.policy.measures) if m.id == measure)
        line = item_lines(second).get(("measures", index))
        message = f"measure id `{measure}` is already used in {first}"
        findings.append(Finding("error", second, line, measure, message))
    for doc in documents:
        policy = doc.policy
        during = [s for s in shapes if s.overlaps(policy.effective_from, policy.effective_to)]
        if shapes and not during:
            lines = item_lines(doc.path)
            findings.append(
                Finding(
                    "warning",
                    doc.path,
                    lines.get(("effective_from", None)),
                    None,
                    f"no ruleset in {rules} is in force while this file is: its conditions are "
                    "checked against every ruleset's fields",
                )
            )
            during = shapes
        findings += _condition_findings(doc, during, shapes, set(sources.field_types()))
        findings += _date_findings(doc)
    return findings
