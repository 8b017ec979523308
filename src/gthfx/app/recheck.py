"""The 30 September re-run as one library call: `recheck(options) -> RunResult`. Never prints.

Re-reads the base run's inputs (checked against the SHA-256 in its manifest, or fresh extracts
given explicitly), applies the clerks' corrections over the typed rows, types again with the
ruleset in force on the recheck date, applies manual decisions last, and writes a run folder
whose change log is against the base run, with an audit trail and a feedback report."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from gthfx import engines
from gthfx.app.classify import RunResult, finish_run
from gthfx.app.review_input import Correction, Decision, ReviewInput, raise_problems, read_review
from gthfx.engines.base import Engine, FrameTable
from gthfx.errors import ConfigError, InputError, RunError
from gthfx.ingest.load import personal_values, sha256_of
from gthfx.progress import Reporter
from gthfx.report.labels import cause_words, reason_labels
from gthfx.report.privacy import mask_personal
from gthfx.report.render import ClerkTables, as_text_table
from gthfx.rules.plan import compile_for
from gthfx.runs.changes import diff_outcomes
from gthfx.runs.layout import check_target, run_lock, workspace
from gthfx.runs.reader import Run, open_run
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import EXTRACTS, ExtractSpec, load_sources
from gthfx.vocab import EXCLUDED, OUTCOME_ORDER, TIER_LABELS

AUDIT_SCHEMA = {
    "uscc": pl.String,
    "kind": pl.String,
    "field": pl.String,
    "old_value": pl.String,
    "new_value": pl.String,
    "who": pl.String,
    "when": pl.String,
    "why": pl.String,
    "file": pl.String,
    "row": pl.UInt32,
}
AUDIT_HEADERS = {
    "uscc": "统一社会信用代码",
    "kind": "类型",
    "field": "字段",
    "old_value": "原值",
    "new_value": "新值",
    "who": "经办人",
    "when": "日期",
    "why": "说明",
    "file": "来源文件",
    "row": "行号",
}
FEEDBACK_SCHEMA = {
    "uscc": pl.String,
    "region_code": pl.String,
    "content": pl.String,
    "wanted": pl.String,
    "tier_before": pl.String,
    "tier_after": pl.String,
    "corrected": pl.String,
    "decided": pl.String,
    "reply": pl.String,
}
FEEDBACK_HEADERS = {
    "uscc": "统一社会信用代码",
    "region_code": "行政区划代码",
    "content": "反馈内容",
    "wanted": "诉求分型",
    "tier_before": "原分型",
    "tier_after": "复核后分型",
    "corrected": "更正内容",
    "decided": "人工认定",
    "reply": "答复",
}
UNREADABLE = "无法识别"  # the old value did not parse (its text is not kept)
KIND_LABELS = {"correction": "更正", "decision": "人工认定"}


@dataclass(frozen=True)
class RecheckOptions:
    """Everything one recheck needs, resolved."""

    run_date: date
    base: Path
    out: Path
    rules: Path
    corrections: tuple[Path, ...] = ()
    decisions: tuple[Path, ...] = ()
    feedback: tuple[Path, ...] = ()
    fresh: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    force: bool = False
    excel: bool = True
    command: tuple[str, ...] = ()
    strict: bool = False  # a field the ruleset reads that a file lacks is an error


@dataclass
class RecheckResult(RunResult):
    """A run's result, plus what the review applied."""

    base: Path | None = None
    corrections: int = 0
    decisions: int = 0
    feedback: int = 0


def _show(value: Any) -> str:
    if value is None:
        return "空"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _inputs(base: Run, fresh: dict[str, tuple[Path, ...]]) -> dict[str, tuple[Path, ...]]:
    """Per extract: the fresh files when given, else the base run's files (found and checked
    against their SHA-256 by the run reader)."""
    given = {e for e, paths in fresh.items() if paths}
    recorded = base.inputs(
        skip=given,
        hint="pass the new files of a changed extract (--annual, --tax, --social) to recheck "
        "with fresh data",
    )
    out: dict[str, tuple[Path, ...]] = {}
    for extract in EXTRACTS:
        out[extract] = tuple(fresh[extract]) if extract in given else recorded.get(extract, ())
        if not out[extract]:
            raise InputError(
                f"the base run {base.path} lists no {extract} file, and none was given"
            )
    return out


class _Corrector:
    """Applies corrections to each batch of typed rows; remembers the old values it replaced."""

    def __init__(self, corrections: list[Correction]) -> None:
        self.by_extract: dict[str, list[Correction]] = {}
        for item in corrections:
            self.by_extract.setdefault(item.extract, []).append(item)
        self.old: dict[tuple[str, str], Any] = {}
        self.loaded: set[tuple[str, str]] = set()  # (extract, field) read by this run

    def __call__(self, extract: str, spec: ExtractSpec, rows: pl.DataFrame) -> pl.DataFrame:
        fields = spec.typed_fields()
        self.loaded.update((extract, f) for f in fields)
        per_field: dict[str, list[Correction]] = {}
        for item in self.by_extract.get(extract, []):
            if item.field in fields:  # else not read by this ruleset: recorded, changes nothing
                per_field.setdefault(item.field, []).append(item)
        for name, items in per_field.items():
            dtype = rows.schema[name]
            table = pl.DataFrame(
                {"uscc": [c.uscc for c in items], "_new": [c.value for c in items]},
                schema={"uscc": pl.String, "_new": dtype},
            )
            # one join per field, not one scan per correction
            bit = 1 << fields.index(name)
            marked = rows.select("uscc", name, "_bad_mask").join(
                table.with_columns(pl.lit(True).alias("_hit")),
                on="uscc",
                how="left",
                maintain_order="left",
            )
            hit = marked.get_column("_hit").fill_null(False)
            if not hit.any():
                continue
            for code, old, bad in marked.filter(hit).select("uscc", name, "_bad_mask").iter_rows():
                self.old.setdefault((code, name), UNREADABLE if bad & bit else old)
            rows = rows.with_columns(
                pl.when(hit).then(marked.get_column("_new")).otherwise(pl.col(name)).alias(name),
                pl.when(hit)
                .then(pl.col("_bad_mask") & ~pl.lit(bit, pl.UInt64))
                .otherwise(pl.col("_bad_mask"))
                .alias("_bad_mask"),
            ).with_columns(
                pl.when(pl.col("_bad_mask") == 0)
                .then(pl.lit(0, pl.UInt64))
                .otherwise(pl.col("_bad_raw"))
                .alias("_bad_raw")
            )
        return rows


def _apply_decisions(outcomes: pl.DataFrame, decisions: list[Decision]) -> pl.DataFrame:
    outcomes = outcomes.with_columns(pl.lit(False).alias("decided"))
    if not decisions:
        return outcomes
    table = pl.DataFrame(
        {"uscc": [d.uscc for d in decisions], "_tier": [d.tier for d in decisions]},
        schema={"uscc": pl.String, "_tier": pl.String},
    )
    joined = outcomes.join(table, on="uscc", how="left", maintain_order="left")
    hit = pl.col("_tier").is_not_null()
    reasons_dtype = outcomes.schema["reasons"]
    return joined.with_columns(
        pl.when(hit).then(pl.col("_tier")).otherwise(pl.col("tier")).alias("tier"),
        pl.when(hit)
        .then(pl.col("_tier").replace_strict(TIER_LABELS, default=None, return_dtype=pl.String))
        .otherwise(pl.col("tier_label"))
        .alias("tier_label"),
        pl.when(hit).then(pl.lit("decision")).otherwise(pl.col("rule_id")).alias("rule_id"),
        pl.when(hit)
        .then(pl.lit([], dtype=reasons_dtype))
        .otherwise(pl.col("reasons"))
        .alias("reasons"),
        hit.alias("decided"),
    ).select(outcomes.columns)


def _correction_words(item: Correction, old: Any) -> str:
    return f"更正{item.label} {_show(old)} → {_show(item.value)}(复核人 {item.reviewer})"


def _decision_words(item: Decision) -> str:
    return f"人工认定{TIER_LABELS[item.tier]}(审批人 {item.approver},理由:{item.reason})"


def _correcting_engine() -> Engine:
    """The default engine when it applies corrections, else the first that does."""
    engine = engines.get(engines.DEFAULT)
    if engine.supports_corrections:
        return engine
    capable = engines.capable("supports_corrections")
    if not capable:  # the registry always holds one: a bug
        raise AssertionError("no registered engine applies corrections")
    return capable[0]


def recheck(options: RecheckOptions, reporter: Reporter | None = None) -> RecheckResult:
    """The Q3 re-run of a base run with the review's corrections and decisions."""
    reporter = reporter or Reporter(quiet=True)
    engine = _correcting_engine()
    base = options.base
    base_run = open_run(base)
    settings = base_run.manifest.settings
    sources_path = Path(settings.sources) if settings.sources else None
    base_date = base_run.manifest.run_date
    if options.run_date < base_date:
        raise ConfigError(f"--date {options.run_date} is before the base run's date {base_date}")
    with run_lock(options.out):
        target = check_target(options.out, options.run_date, options.force)
        if target.resolve() == base.resolve():
            raise RunError(f"{base}: a recheck cannot replace its own base run")
        before = base_run.outcomes().collect()
        inputs = _inputs(base_run, options.fresh)
        with reporter.stage("review", "读取复核 reading the review files"):
            review, problems = read_review(
                load_sources(sources_path),
                set(before.get_column("uscc").to_list()),
                list(options.corrections),
                list(options.decisions),
                list(options.feedback),
            )
        corrector = _Corrector(review.corrections)
        run_options = RunOptions(
            run_date=options.run_date,
            inputs=inputs,
            out=options.out,
            rules=options.rules,
            sources=sources_path,
            encoding=settings.encoding,
            force=options.force,
            excel=options.excel,
            command=options.command,
            engine=engine.name,
            strict=options.strict,
        )
        with reporter.stage("rules", "读取规则 reading rules"):
            sources, compiled = compile_for(run_options)
        with workspace(options.out, options.run_date) as work:
            run = engine.type_run(run_options, compiled, sources, reporter, work, corrector)
            for item in review.corrections:
                loaded = (item.extract, item.field) in corrector.loaded
                if loaded and (item.uscc, item.field) not in corrector.old:
                    label = sources.extracts[item.extract].label
                    problems.append(
                        f"{item.file}: row {item.row}: {item.uscc} has no {label} "
                        f"({item.extract}) row whose {item.field} ({item.label}) could be corrected"
                    )
            raise_problems(problems)
            outcomes = _apply_decisions(run.all_outcomes().collect(), review.decisions)
            run = replace(
                run,
                outcomes={
                    tier: FrameTable(outcomes.lazy().filter(pl.col("tier") == tier))
                    for tier in OUTCOME_ORDER
                },
                everything=FrameTable(outcomes),
            )
            with reporter.stage("changes", "对比基准 comparing with the base run"):
                changes = diff_outcomes(
                    before, outcomes, compiled.indicators, cause_words(compiled, sources)
                )
                words = _words_per_business(review, corrector.old)
                changes = _with_causes(changes, words, bool(options.fresh))
            audit = _audit(review, corrector.old)
            personal = personal_values(  # only to mask a business's own words that repeat them
                "annual",
                list(inputs["annual"]),
                load_sources(sources_path).extracts["annual"],
                {fb.uscc for fb in review.feedback},
                settings.encoding,
            )
            labels = reason_labels(compiled, sources)
            reply = _feedback_report(review, before, outcomes, words, labels, personal)

            def extra(staging: Path, tables: ClerkTables) -> None:
                audit.write_parquet(staging / "audit.parquet", compression="zstd")
                tables.add(
                    "复核记录",
                    audit,
                    lambda f: as_text_table(
                        f.with_columns(pl.col("kind").replace(KIND_LABELS)), AUDIT_HEADERS
                    ),
                )
                reply.write_parquet(staging / "feedback.parquet", compression="zstd")
                tables.add(
                    "反馈答复",
                    reply,
                    lambda f: as_text_table(
                        f.with_columns(
                            pl.col("tier_before").replace(TIER_LABELS),
                            pl.col("tier_after").replace(TIER_LABELS),
                        ),
                        FEEDBACK_HEADERS,
                    ),
                )

            result = finish_run(
                run,
                FrameTable(changes),
                target=target,
                previous=base,
                run_date=options.run_date,
                command=options.command or tuple(sys.argv),
                excel=options.excel,
                # a recheck runs on an engine that applies corrections, whatever engine typed
                # its base run
                settings={**settings.model_dump(), "engine": engine.name, "memory_limit": None},
                reporter=reporter,
                extra=extra,
                manifest_extra={
                    "kind": "recheck",
                    "base_run": str(base),
                    "base_run_absolute": str(base.resolve()),
                    "fresh_extracts": sorted(e for e, p in options.fresh.items() if p),
                    "review": {
                        "corrections": [str(p) for p in options.corrections],
                        "decisions": [str(p) for p in options.decisions],
                        "feedback": [str(p) for p in options.feedback],
                        "corrections_sha256": [sha256_of(p) for p in options.corrections],
                        "decisions_sha256": [sha256_of(p) for p in options.decisions],
                        "feedback_sha256": [sha256_of(p) for p in options.feedback],
                        "applied": {
                            "corrections": len(review.corrections),
                            "decisions": len(review.decisions),
                            "feedback": len(review.feedback),
                        },
                    },
                },
            )
    return RecheckResult(
        **{f.name: getattr(result, f.name) for f in fields(RunResult)},
        base=base,
        corrections=len(review.corrections),
        decisions=len(review.decisions),
        feedback=len(review.feedback),
    )


def _words_per_business(
    review: ReviewInput, old: dict[tuple[str, str], Any]
) -> dict[str, list[str]]:
    words: dict[str, list[str]] = {}
    for item in review.corrections:
        words.setdefault(item.uscc, []).append(
            _correction_words(item, old.get((item.uscc, item.field)))
        )
    for d in review.decisions:
        words.setdefault(d.uscc, []).append(_decision_words(d))
    return words


def _with_causes(changes: pl.DataFrame, words: dict[str, list[str]], fresh: bool) -> pl.DataFrame:
    """Each change's cause names its corrections and decision; else it came from the data
    read again (fresh extracts) or the ruleset in force."""
    if changes.height == 0:
        return changes
    review = pl.DataFrame(
        {"uscc": list(words), "_words": ["; ".join(w) for w in words.values()]},
        schema={"uscc": pl.String, "_words": pl.String},
    )
    other = "新数据 fresh data" if fresh else "重新分型 retyped"
    return (
        changes.join(review, on="uscc", how="left", maintain_order="left")
        .with_columns(
            (pl.coalesce(pl.col("_words"), pl.lit(other)) + pl.lit("; ") + pl.col("cause")).alias(
                "cause"
            )
        )
        .select(changes.columns)
    )


def _audit(review: ReviewInput, old: dict[tuple[str, str], Any]) -> pl.DataFrame:
    rows = [
        {
            "uscc": c.uscc, "kind": "correction", "field": c.field,
            "old_value": _show(old.get((c.uscc, c.field))), "new_value": _show(c.value),
            "who": c.reviewer, "when": c.reviewed_on, "why": c.note, "file": c.file, "row": c.row,
        }
        for c in review.corrections
    ] + [
        {
            "uscc": d.uscc, "kind": "decision", "field": "tier", "old_value": None,
            "new_value": d.tier, "who": d.approver, "when": d.decided_on, "why": d.reason,
            "file": d.file, "row": d.row,
        }
        for d in review.decisions
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=AUDIT_SCHEMA).sort("uscc", "kind", "field", "file", "row")


def _feedback_report(
    review: ReviewInput,
    before: pl.DataFrame,
    after: pl.DataFrame,
    words: dict[str, list[str]],
    reasons: dict[str, str],
    personal: dict[str, list[str]] | None = None,
) -> pl.DataFrame:
    # only the businesses that gave feedback (a few) leave Polars
    asked = pl.DataFrame(
        {"uscc": sorted({fb.uscc for fb in review.feedback})}, schema={"uscc": pl.String}
    )
    tier_before = dict(before.join(asked, on="uscc", how="semi").select("uscc", "tier").iter_rows())
    info = {
        r["uscc"]: r
        for r in after.join(asked, on="uscc", how="semi")
        .select("uscc", "tier", "reasons", "region_code", "decided")
        .iter_rows(named=True)
    }
    rows = []
    for fb in review.feedback:
        now = info.get(fb.uscc)
        was = tier_before.get(fb.uscc)
        is_ = now["tier"] if now else None
        why = "、".join(w for w in words.get(fb.uscc, []))
        rows.append(
            {
                "uscc": fb.uscc,
                "region_code": now["region_code"] if now else None,
                "content": mask_personal(fb.content, (personal or {}).get(fb.uscc, ())),
                "wanted": TIER_LABELS.get(fb.wanted, fb.wanted_raw) if fb.wanted else fb.wanted_raw,
                "tier_before": was,
                "tier_after": is_,
                "corrected": "、".join(w for w in words.get(fb.uscc, []) if w.startswith("更正")),
                "decided": "、".join(w for w in words.get(fb.uscc, []) if w.startswith("人工认定")),
                "reply": _sentence(was, is_, why, now["reasons"] if now else [], reasons),
            }
        )
    return pl.DataFrame(rows, schema=FEEDBACK_SCHEMA).sort("uscc", maintain_order=True)


def _sentence(
    was: str | None, now: str | None, why: str, reasons: list[str], labels: dict[str, str]
) -> str:
    if now is None:
        return "经复核,本次数据中未找到您的年报记录,请联系所在区市场监管部门。"
    because = f",原因:{why}" if why else ""
    if now == EXCLUDED:
        listed = "、".join(labels.get(r, r) for r in reasons) or "数据不全"
        if was == EXCLUDED:
            return f"经复核,您暂不参与分型,原因:{listed}{',已' + why if why else ''}。"
        return f"经复核,您暂不参与分型,原因:{listed}。"
    label = TIER_LABELS[now]
    if was == now:
        done = f"(已{why})" if why else ""
        return f"经复核,您的分型维持{label}{done}。"
    if was is None or was == EXCLUDED:
        return f"经复核,您纳入分型,分型为{label}{because}。"
    return f"经复核,您的分型由{TIER_LABELS[was]}调整为{label}{because}。"
