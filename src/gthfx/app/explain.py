"""Why a business got its outcome: `explain_run(code, run_dir)` / `explain_fresh(code, …)` build an
`Explanation` (never print).

The same path as classify: the extracts are read as raw text, cut down to the rows of this one
code, then validated, joined and typed by the Polars engine's own functions under the plan of the
ruleset. On top of that, the tracer (`rules.trace`, the one `gthfx rules test` uses) evaluates
each basic condition and each clause of each tier rule (the typed tree of `when` split on its
`and` / `or`) on the business's one joined row.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.engines.memory import prepare_extracts, type_joined
from gthfx.errors import ConfigError
from gthfx.ingest import uscc
from gthfx.ingest.load import RawExtract, load_extract
from gthfx.ingest.validate import ValidatedExtract, validate_in_order
from gthfx.report.labels import FLAGS, REJECT_REASONS, reason_labels
from gthfx.report.regions import REGION_NAMES
from gthfx.rules.grammar import names_in
from gthfx.rules.model import RulesetFile, ruleset_in_force
from gthfx.rules.plan import RulePlan, build_plan
from gthfx.rules.trace import ClauseTrace, trace
from gthfx.rules.types import Typed
from gthfx.runs.reader import Run, open_run
from gthfx.settings.sources import EXTRACTS, SourcesMapping, load_sources
from gthfx.vocab import TIER_LABELS

CODE_STATUS_WORDS = {
    uscc.OK: "代码有效",
    uscc.MISSING: REJECT_REASONS[uscc.MISSING],
    uscc.MALFORMED: REJECT_REASONS[uscc.MALFORMED],
    uscc.NOT_INDIVIDUAL: REJECT_REASONS[uscc.NOT_INDIVIDUAL],
    uscc.CHECK_MISMATCH: FLAGS[uscc.CHECK_MISMATCH],
}
BUILTIN_LABELS = {"run_date": "运行日期", "run_year": "运行年度"}
NO_ROW = {"annual": "无登记与年报记录", "tax": "无税务记录", "social": "无社保记录"}


# ---- the explanation ---------------------------------------------------------------------------


@dataclass
class FieldValue:
    """One field of one extract row: the typed value and the text the department sent."""

    field: str
    label: str
    value: Any
    raw: str | None
    changed: bool  # parsing changed the text (format, full width, unit …)
    unit: str | None = None


@dataclass
class SourceRow:
    """A row of an extract for this code, by file and Excel row number."""

    file: str
    row: int
    status: str  # used / collapsed / rejected
    reason: str | None = None
    reason_label: str | None = None
    field: str | None = None
    raw_value: str | None = None


@dataclass
class ExtractValues:
    extract: str
    label: str
    present: bool
    note: str | None
    fields: list[FieldValue]
    rows: list[SourceRow]


@dataclass
class NamedValue:
    """A value an expression reads: a field, a derived field, a built-in or a parameter."""

    name: str
    label: str
    value: Any
    unit: str | None = None


@dataclass
class DerivedValue:
    id: str
    label: str
    expr: str
    value: Any
    reads: list[NamedValue]


@dataclass
class Clause:
    """One part of a condition, with what it reads and the thresholds it compares with."""

    text: str
    result: bool
    values: list[NamedValue]
    thresholds: list[NamedValue]
    op: str | None = None  # "and" / "or" when the clause is itself split into `parts`
    parts: list[Clause] = field(default_factory=list)


@dataclass
class ConditionResult:
    id: str
    label: str
    expr: str
    passed: bool | None  # None: not evaluated (the business's annual rows conflict)
    values: list[NamedValue]
    thresholds: list[NamedValue]


@dataclass
class TierResult:
    id: str
    tier: str
    tier_label: str
    label: str
    expr: str | None  # None for the default rule
    result: bool
    matched: bool  # the first rule that holds (only for a typed business)
    op: str | None
    clauses: list[Clause]


@dataclass
class Outcome:
    tier: str
    tier_label: str
    rule_id: str
    reasons: list[str]
    reason_labels: list[str]
    flags: list[str]
    flag_labels: list[str]


@dataclass
class Explanation:
    uscc: str
    code_status: str
    code_status_label: str
    region_code: str | None
    district: str
    industry_code: str | None
    run_date: str
    ruleset_id: str
    ruleset_title: str
    ruleset_path: str
    run_dir: str | None  # None: computed fresh from the extracts
    extracts: list[ExtractValues]
    derived: list[DerivedValue]
    conditions: list[ConditionResult]
    tiers: list[TierResult]
    outcome: Outcome
    run_outcome: Outcome | None
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2, default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# ---- the computation ---------------------------------------------------------------------------


def normalise_code(text: str) -> str:
    """As `uscc.normalise` does for a column: NFKC, no white space, upper case."""
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()


def code_status(code: str) -> str:
    frame = pl.DataFrame({"c": [code or None]}, schema={"c": pl.String})
    return str(frame.select(uscc.status(pl.col("c"))).item())


@dataclass
class _Context:
    code: str
    run_date: date
    plan: RulePlan
    sources: SourcesMapping  # cut down to what a run loads (the plan's)
    full_sources: SourcesMapping
    raws: dict[str, RawExtract]  # the rows of this code only, raw text


def _load_raws(
    code: str, inputs: dict[str, list[Path]], sources: SourcesMapping, encoding: str | None
) -> dict[str, RawExtract]:
    raws: dict[str, RawExtract] = {}
    for extract in EXTRACTS:
        raw = load_extract(extract, inputs[extract], sources.extracts[extract], encoding)
        mine = raw.frame.filter(uscc.normalise(pl.col("uscc")) == code)
        raws[extract] = RawExtract(name=extract, frame=mine, files=raw.files)
    return raws


def _plain(value: Any) -> str:
    """A value as a clerk would type it (and as the raw text compares with it)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _labels(ctx: _Context) -> tuple[dict[str, str], dict[str, str | None]]:
    labels: dict[str, str] = dict(BUILTIN_LABELS)
    units: dict[str, str | None] = {}
    for spec in ctx.full_sources.extracts.values():
        for name, fspec in spec.fields.items():
            labels.setdefault(name, fspec.label)
            units.setdefault(name, "元" if fspec.unit else None)  # money is read into 元
    for item in ctx.plan.derived:
        labels[item.id] = item.label
    for pname, param in ctx.plan.source.ruleset.parameters.items():
        labels[pname] = param.label
        units[pname] = param.unit
    return labels, units


def _reads(
    tree: Typed, row: Mapping[str, Any], ctx: _Context
) -> tuple[list[NamedValue], list[NamedValue]]:
    """(values, thresholds) an expression reads, each name once, in order of appearance."""
    labels, units = _labels(ctx)
    params = ctx.plan.source.ruleset.parameters
    values: list[NamedValue] = []
    thresholds: list[NamedValue] = []
    seen: set[str] = set()
    for name in names_in(tree.source):
        if name.name in seen:
            continue
        seen.add(name.name)
        label = labels.get(name.name, name.name)
        if name.name in params:
            value = params[name.name].value
            thresholds.append(NamedValue(name.name, label, value, units.get(name.name)))
        elif name.name == "run_date":
            values.append(NamedValue(name.name, label, ctx.run_date))
        elif name.name == "run_year":
            values.append(NamedValue(name.name, label, ctx.run_date.year))
        else:
            values.append(NamedValue(name.name, label, row.get(name.name), units.get(name.name)))
    return values, thresholds


def _clause(clause: ClauseTrace, row: Mapping[str, Any], ctx: _Context) -> Clause:
    values, thresholds = _reads(clause.tree, row, ctx)
    return Clause(
        text=clause.text,
        result=clause.result,
        values=values,
        thresholds=thresholds,
        op=clause.op,
        parts=[_clause(p, row, ctx) for p in clause.parts],
    )


def _validate(ctx: _Context) -> dict[str, ValidatedExtract]:
    """Exactly as the engine validates (`ingest.validate.validate_in_order`)."""
    return dict(
        validate_in_order(
            ctx.raws.__getitem__, ctx.sources.extracts, report_year=ctx.run_date.year - 1
        )
    )


def _outcome(row: dict[str, Any], words: dict[str, str]) -> Outcome:
    reasons = list(row.get("reasons") or [])
    flags = list(row.get("flags") or [])
    return Outcome(
        tier=row["tier"],
        tier_label=TIER_LABELS.get(row["tier"], row["tier"]),
        rule_id=row["rule_id"],
        reasons=reasons,
        reason_labels=[words.get(r, r) for r in reasons],
        flags=flags,
        flag_labels=[FLAGS.get(f, f) for f in flags],
    )


def _extract_values(
    extract: str, ctx: _Context, checked: ValidatedExtract, rejects: pl.DataFrame
) -> ExtractValues:
    spec = ctx.sources.extracts[extract]
    raw = ctx.raws[extract]
    files = [info.path for info in raw.files]
    used = checked.rows.filter(pl.col("uscc") == ctx.code)
    mine = rejects.filter(pl.col("extract") == extract)
    rows: list[SourceRow] = []
    rejected_at: set[tuple[str, int]] = set()
    for rej in mine.iter_rows(named=True):
        rejected_at.add((rej["file"], rej["row"]))
        rows.append(
            SourceRow(
                file=rej["file"],
                row=rej["row"],
                status="rejected",
                reason=rej["reason"],
                reason_label=REJECT_REASONS.get(rej["reason"], rej["reason"]),
                field=rej["field"],
                raw_value=rej["raw_value"],
            )
        )
    used_at: tuple[int, int] | None = None
    if used.height:
        used_at = (used.item(0, "_file"), used.item(0, "_row"))
    for file_index, row_no in raw.frame.select("_file", "_row").iter_rows():
        where = (files[file_index], row_no)
        if (file_index, row_no) == used_at:
            rows.append(SourceRow(file=where[0], row=row_no, status="used"))
        elif where not in rejected_at:
            rows.append(
                SourceRow(
                    file=where[0],
                    row=row_no,
                    status="collapsed",
                    reason_label="与采用的行相同,已合并",
                )
            )
    rows.sort(key=lambda r: (r.file, r.row))
    fields: list[FieldValue] = []
    note: str | None = None
    if used_at is None:
        conflict = any(r.reason == "conflicting_duplicate" for r in rows)
        note = f"{spec.label}数据重复且不一致,全部拒收" if conflict else NO_ROW.get(extract)
    else:
        typed = used.row(0, named=True)
        raw_row = raw.frame.filter(
            (pl.col("_file") == used_at[0]) & (pl.col("_row") == used_at[1])
        ).row(0, named=True)
        for name in spec.typed_fields():
            fspec = spec.fields[name]
            value = typed.get(name)
            text = raw_row.get(name)
            cleaned = unicodedata.normalize("NFKC", text).strip() if text is not None else ""
            changed = text is not None and cleaned != _plain(value)
            fields.append(
                FieldValue(
                    field=name,
                    label=fspec.label,
                    value=value,
                    raw=text,
                    changed=changed or (text is not None and text != cleaned),
                    unit="元" if fspec.unit else None,
                )
            )
        raw_code = raw_row.get("uscc")
        if raw_code is not None and raw_code != ctx.code:
            fields.insert(
                0,
                FieldValue(field="uscc", label=spec.fields["uscc"].label, value=ctx.code,
                           raw=raw_code, changed=True),
            )  # fmt: skip
    return ExtractValues(
        extract=extract,
        label=spec.label,
        present=used_at is not None,
        note=note,
        fields=fields,
        rows=rows,
    )


def _unknown_code(code: str, status: str, rejects: pl.DataFrame, where: str) -> ConfigError:
    lines = []
    if status != uscc.OK and status != uscc.CHECK_MISMATCH:
        lines.append(f"{code or '(empty)'}: {status} — {CODE_STATUS_WORDS[status]}")
    else:
        lines.append(f"{code}: no such business in {where} (未找到该户)")
    if rejects.height:
        lines.append("rejected rows (拒收的记录):")
        for r in rejects.iter_rows(named=True):
            lines.append(
                f"  {r['extract']} {r['file']} row {r['row']}: {r['reason']} "
                f"({REJECT_REASONS.get(r['reason'], r['reason'])}), {r['field']}={r['raw_value']}"
            )
    hint = None
    if status == uscc.MALFORMED:
        hint = "a credit code has 18 characters from 0-9 and A-Z without I, O, S, V, Z"
    elif status == uscc.NOT_INDIVIDUAL:
        hint = "individual businesses' codes start with 92"
    elif not rejects.height:
        hint = "check the code; the annual extract of the run has no row with it"
    return ConfigError("\n".join(lines), hint=hint)


def _explain(ctx: _Context, run: Run | None, where: str) -> Explanation:
    readers = {e: _reader(ctx.raws[e]) for e in EXTRACTS}
    prepared = prepare_extracts(readers, ctx.plan, ctx.sources)
    outcomes = type_joined(prepared.joined, ctx.plan, ctx.sources)
    status = code_status(ctx.code)
    mine = outcomes.filter(pl.col("uscc") == ctx.code)
    if mine.height == 0:
        raise _unknown_code(ctx.code, status, prepared.rejects, where)
    words = reason_labels(ctx.plan, ctx.sources)
    outcome_row = mine.row(0, named=True)
    outcome = _outcome(outcome_row, words)

    validated = _validate(ctx)
    extracts = [_extract_values(e, ctx, validated[e], prepared.rejects) for e in EXTRACTS]
    [traced] = trace(ctx.plan, prepared.joined.filter(pl.col("uscc") == ctx.code))
    row = traced.values

    derived = [
        DerivedValue(d.id, d.label, d.text, row.get(d.id), _reads(d.tree, row, ctx)[0])
        for d in ctx.plan.derived
    ]
    conditions = [
        ConditionResult(
            cond.id,
            cond.label,
            " ".join(cond.text.split()),
            seen.holds,
            *_reads(cond.tree, row, ctx),
        )
        for cond, seen in zip(ctx.plan.conditions, traced.conditions, strict=True)
    ]

    typed_business = outcome.tier != "excluded"
    first = traced.first_match.id
    tiers = []
    for rule, seen in zip(ctx.plan.tiers, traced.tiers, strict=True):
        clause = seen.clause
        # the top-level `and` / `or` chain's parts (each split further), or the whole condition
        parts = [] if clause is None else (list(clause.parts) if clause.op else [clause])
        tiers.append(
            TierResult(
                id=rule.id,
                tier=rule.tier,
                tier_label=TIER_LABELS[rule.tier],
                label=rule.label,
                expr=None if clause is None else clause.text,
                result=seen.holds is not False,
                matched=typed_business and rule.id == first,
                op=None if clause is None else clause.op,
                clauses=[_clause(p, row, ctx) for p in parts],
            )
        )

    warnings: list[str] = []
    if typed_business and first != outcome.rule_id:
        warnings.append(f"逐条计算得到的规则 {first} 与分型结果的规则 {outcome.rule_id} 不一致")
    run_outcome: Outcome | None = None
    run_dir = run.path if run is not None else None
    if run is not None:
        before = run.outcomes().filter(pl.col("uscc") == ctx.code).collect()
        if before.height == 0:
            warnings.append(f"运行结果 {run_dir} 中没有该户,而按原输入重新计算有结果")
        else:
            run_outcome = _outcome(before.row(0, named=True), words)
            if (run_outcome.tier, run_outcome.rule_id, run_outcome.reasons, run_outcome.flags) != (
                outcome.tier, outcome.rule_id, outcome.reasons, outcome.flags,
            ):  # fmt: skip
                warnings.append(
                    f"重新计算的结果({outcome.tier_label} {outcome.rule_id})与运行结果"
                    f"({run_outcome.tier_label} {run_outcome.rule_id})不一致"
                )
    region = outcome_row.get("region_code")
    return Explanation(
        uscc=ctx.code,
        code_status=status,
        code_status_label=CODE_STATUS_WORDS[status],
        region_code=region,
        district=REGION_NAMES.get(region, region) if region else "未知",
        industry_code=outcome_row.get("industry_code"),
        run_date=ctx.run_date.isoformat(),
        ruleset_id=ctx.plan.source.ruleset.id,
        ruleset_title=ctx.plan.source.ruleset.title,
        ruleset_path=str(ctx.plan.source.path),
        run_dir=str(run_dir) if run_dir is not None else None,
        extracts=extracts,
        derived=derived,
        conditions=conditions,
        tiers=tiers,
        outcome=outcome,
        run_outcome=run_outcome,
        warnings=warnings,
    )


def _reader(raw: RawExtract) -> Callable[[], RawExtract]:
    return lambda: raw


def _context(
    code: str,
    run_date: date,
    ruleset: RulesetFile,
    inputs: dict[str, list[Path]],
    sources_path: Path | None,
    encoding: str | None,
) -> _Context:
    full = load_sources(sources_path)
    plan = build_plan(ruleset, full, run_date)
    sources = plan.sources
    raws = _load_raws(code, inputs, sources, encoding)
    return _Context(code, run_date, plan, sources, full, raws)


def explain_fresh(
    code: str,
    *,
    run_date: date,
    inputs: dict[str, tuple[Path, ...]] | dict[str, list[Path]],
    rules: Path,
    sources: Path | None = None,
    encoding: str | None = None,
) -> Explanation:
    """The outcome of one business computed fresh from the extracts (nothing is written)."""
    norm = normalise_code(code)
    ruleset = ruleset_in_force(rules, run_date)
    files = {e: list(inputs[e]) for e in EXTRACTS}
    ctx = _context(norm, run_date, ruleset, files, sources, encoding)
    return _explain(ctx, None, "the extracts")


def explain_run(
    code: str,
    run_dir: Path,
    *,
    sources: Path | None = None,
    encoding: str | None = None,
) -> Explanation:
    """The outcome of one business in a run, recomputed from the run's own inputs and ruleset
    (both checked against the SHA-256 in the manifest) and compared with the run's result."""
    norm = normalise_code(code)
    run = open_run(run_dir)
    found = run.inputs(
        hint="run explain from the folder where classify ran, or explain against the current "
        "files with --date instead of --run"
    )
    inputs = {e: list(found.get(e, ())) for e in EXTRACTS}
    ruleset = run.ruleset(
        hint="explain against the ruleset in force now with --date instead of --run"
    )
    run_date = run.manifest.run_date
    ctx = _context(norm, run_date, ruleset, inputs, sources, encoding)
    return _explain(ctx, run, f"the run {run_dir}")


__all__ = ["Explanation", "explain_fresh", "explain_run"]
