"""`gthfx categories evaluate`: the yearly check of the register (动态管理) with a new run, new
evidence and new records, written to `<out>/<D>/evaluation/` and appended to the register. Never
prints.

Every entry in force on D is judged with the criteria in force on D:
- `removed` (with its reasons) when its business is gone from the run (`gone`), excluded there
  (`not_typed`), below the tier gate unless its application was exempt (`below_gate`), or hit by
  an exclusion in the window;
- otherwise, in its last year (`evaluation_from` ≤ D ≤ `valid_to`): `renewed` for three more
  years from the day after `valid_to` when a criterion of its category still holds (evidence
  valid on D), else `expired` (it ends at `valid_to`, with the criteria that failed);
- otherwise `kept` (no event). An entry whose next period was already decided is kept too.

A business whose negative records cannot all be read (rows rejected for their values) is
`deferred` (reason `records_unreadable`, no event) unless another reason removes it anyway: a
removal or a renewal must not rest on, nor miss, a record nobody could read. Correct the records
and evaluate again on a later date: decided entries are not decided twice.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from gthfx.app.categories.core import (
    business_frame,
    indicator_values,
    judge,
    records_rejected,
    sort_entries,
)
from gthfx.app.categories.dates import period_exprs
from gthfx.app.categories.folders import inputs_manifest, step_folder, write_manifest
from gthfx.app.categories.inputs import load_category_extract, run_facts, run_ref
from gthfx.app.categories.labels import HEADERS, common_text, criterion_words, reason_words, words
from gthfx.app.categories.labels import reject_text as reject_words
from gthfx.app.categories.register import (
    EVENT_SCHEMA,
    EXPIRED,
    REMOVED,
    RENEWED,
    Batch,
    append,
    as_of,
    read_events,
)
from gthfx.app.categories.screen import criteria_manifest
from gthfx.errors import ConfigError
from gthfx.ingest.load import sha256_of
from gthfx.report.render import ClerkTables, as_text_table
from gthfx.rules.criteria import CompiledCriteria, compile_criteria, criteria_in_force
from gthfx.settings.sources import load_sources

EVALUATION_FILE = "evaluation.parquet"
KEPT, DEFERRED = "kept", "deferred"
UNREADABLE = "records_unreadable"
DECISIONS = (KEPT, RENEWED, EXPIRED, REMOVED, DEFERRED)
DECISION_WORDS = {
    KEPT: "保留",
    RENEWED: "续期",
    EXPIRED: "到期不续",
    REMOVED: "移出",
    DEFERRED: "暂缓(负面记录待更正)",
}
RECORDED = ("region_code", "industry_code", "tier")  # facts of the period: replaced by the run's


@dataclass(frozen=True)
class EvaluateOptions:
    on: date
    run: Path
    evidence: tuple[Path, ...]
    records: tuple[Path, ...]
    register: Path
    criteria: Path
    out: Path
    by: str | None = None
    document: str | None = None
    sources: Path | None = None
    encoding: str | None = None
    force: bool = False
    command: tuple[str, ...] = ()


@dataclass
class EvaluateResult:
    folder: Path
    on: date
    counts: dict[str, int]
    segment: int | None
    head_sha256: str | None

    @property
    def exit_code(self) -> int:
        return 0


def decide(
    entries: pl.DataFrame,
    events: pl.DataFrame,
    evidence: pl.DataFrame,
    records: pl.DataFrame,
    rejected: pl.DataFrame,
    facts: pl.DataFrame,
    compiled: CompiledCriteria,
) -> pl.DataFrame:
    """Judge the entries in force (`as_of`) — pure; see the module docstring. Adds `decision`,
    `reasons`, `criteria_met` and, for renewals, the new period as `new_valid_from`,
    `new_valid_to`, `new_evaluation_from`."""
    on = compiled.on
    crit = compiled.criteria_file
    criteria_ids = {c.id for c in crit.criteria}
    # a later period already decided (renewed or expired after the current period's event)
    later = (
        events.filter(pl.col("event").is_in([RENEWED, EXPIRED]) & (pl.col("date") <= on))
        .group_by("uscc", "category")
        .agg(pl.col("seq").max().alias("_later_seq"))
    )
    codes = entries.get_column("uscc").unique().implode()
    values = indicator_values(
        evidence.filter(pl.col("uscc").is_in(codes)),
        records.filter(pl.col("uscc").is_in(codes)),
        compiled,
    )
    base = entries.select(
        "uscc", "category", "route", "consent", "special_group", "valid_from", "valid_to",
        "evaluation_from", "seq",
    )  # fmt: skip
    frame = business_frame(base, facts, values, rejected, compiled)
    judged = judge(frame, compiled, evaluation=True).join(
        later, on=["uscc", "category"], how="left"
    )
    removal_reasons = pl.col("reasons").list.eval(
        pl.element().filter(~pl.element().is_in([*sorted(criteria_ids), UNREADABLE]))
    )
    unreadable = pl.col("reasons").list.contains(UNREADABLE)
    last_year = (pl.col("evaluation_from") <= on) & (pl.col("valid_to") >= on)
    decided_before = pl.col("_later_seq").is_not_null() & (pl.col("_later_seq") > pl.col("seq"))
    years = int(crit.parameter("validity_years"))
    renewal = period_exprs(pl.col("valid_to") + pl.duration(days=1), years)
    return sort_entries(
        judged.with_columns(
            pl.when(removal_reasons.list.len() > 0)
            .then(pl.lit(REMOVED))
            .when(unreadable)
            .then(pl.lit(DEFERRED))
            .when(last_year & ~decided_before & (pl.col("criteria_count") > 0))
            .then(pl.lit(RENEWED))
            .when(last_year & ~decided_before)
            .then(pl.lit(EXPIRED))
            .otherwise(pl.lit(KEPT))
            .alias("decision"),
        )
        .with_columns(
            pl.when(pl.col("decision") == REMOVED)
            .then(removal_reasons)
            .when(pl.col("decision") == DEFERRED)
            .then(pl.lit([UNREADABLE], pl.List(pl.String)))
            .when(pl.col("decision") == EXPIRED)
            .then(pl.col("reasons"))
            .otherwise(pl.lit([], pl.List(pl.String)))
            .alias("reasons"),
            *(
                pl.when(pl.col("decision") == RENEWED)
                .then(e)
                .alias("new_" + str(e.meta.output_name()))
                for e in renewal
            ),
        )
        .drop("_later_seq")
    )


def evaluate(options: EvaluateOptions) -> EvaluateResult:
    on = options.on
    sources = load_sources(options.sources)
    source = criteria_in_force(options.criteria, on)
    compiled = compile_criteria(source, sources.category_extracts, on)
    crit = source.criteria
    run = run_ref(options.run)
    if on < run.run_date:
        raise ConfigError(f"--date {on} is before the run's date {run.run_date}")
    all_events = read_events(options.register)
    entries = as_of(all_events, on)
    evidence = load_category_extract(
        "evidence", list(options.evidence), sources, crit, options.encoding
    )
    records = load_category_extract(
        "records", list(options.records), sources, crit, options.encoding
    )
    facts = run_facts(
        run, entries.get_column("uscc"), list(crit.parameter("serious_dishonest_reasons"))
    )
    decided = decide(
        entries,
        all_events,
        evidence.rows,
        records.rows,
        records_rejected(records.rejects),
        facts,
        compiled,
    )
    party, advanced = crit.monitoring.party_member, crit.monitoring.advanced
    events = _events(decided, entries, on, party, advanced)
    counts = {d: int(decided.filter(pl.col("decision") == d).height) for d in DECISIONS}
    batch = Batch(
        kind="evaluation",
        batch_id=f"evaluation/{on.isoformat()}",
        on=on,
        by=options.by,
        document=options.document,
        sources=(
            (str(run.path / "manifest.json"), sha256_of(run.path / "manifest.json")),
            (str(source.path), source.sha256),
            *((i.path, i.sha256) for i in (*evidence.files, *records.files)),
        ),
        command=tuple(options.command or sys.argv),
    )
    cycle = options.out / on.isoformat()
    segment: int | None = None
    head: str | None = None
    rejects = pl.concat([evidence.rejects, records.rejects]).sort("extract", "file", "row")
    with step_folder(cycle, "evaluation", force=options.force) as staging:
        if events.height:
            appended = append(options.register, batch, events)
            segment, head = appended.segment, appended.head_sha256
        out = decided.select(
            "uscc", "category", "decision", "reasons", "criteria_met", "valid_from", "valid_to",
            "evaluation_from", "new_valid_from", "new_valid_to", "new_evaluation_from", "in_run",
            "tier", "years_in_business", "insured_staff", "region_code", "industry_code", "route",
            "consent", "special_group", *(i.id for i in compiled.indicators),
        )  # fmt: skip
        out.write_parquet(staging / EVALUATION_FILE)
        rejects.write_parquet(staging / "rejects.parquet")
        reject_words(rejects).write_csv(staging / "拒收.csv", include_bom=True)
        text = out.with_columns(
            *common_text(out),
            pl.col("decision").replace(DECISION_WORDS),
            words("reasons", reason_words(crit)),
            words("criteria_met", criterion_words(crit)),
        )
        shown = [
            "uscc", "district", "category", "decision", "reasons", "criteria_met", "valid_from",
            "valid_to", "new_valid_from", "new_valid_to", "tier", "years_in_business",
            "insured_staff", "industry_code",
        ]  # fmt: skip
        headers = {c: HEADERS.get(c, c) for c in shown} | {
            "new_valid_from": "续期有效期起",
            "new_valid_to": "续期有效期至",
        }
        tables = ClerkTables(staging, "评估结果.xlsx")
        tables.add("评估结果", text, lambda f: as_text_table(f, headers))
        tables.close()
        write_manifest(
            staging,
            {
                "kind": "categories-evaluation",
                "command": list(options.command or sys.argv),
                "evaluation_date": on.isoformat(),
                "run": {
                    "path": str(run.path),
                    "run_date": run.run_date.isoformat(),
                    "ruleset_id": run.ruleset_id,
                },
                "criteria": criteria_manifest(compiled),
                "inputs": inputs_manifest([evidence, records]),
                "accounting": {
                    "evidence": evidence.accounting.as_dict(),
                    "records": records.accounting.as_dict(),
                },
                "results": counts,
                "register": {
                    "path": str(options.register),
                    "absolute_path": str(options.register.resolve()),
                    "segment": segment,
                    "head_sha256": head,
                },
                "by": options.by,
                "document": options.document,
            },
        )
    return EvaluateResult(cycle / "evaluation", on, counts, segment, head)


def _events(
    decided: pl.DataFrame, entries: pl.DataFrame, on: date, party: str, advanced: str
) -> pl.DataFrame:
    """The register events of an evaluation: removals and expiries of the current period, and
    renewals with the new period and the facts of the new run."""
    kept = (*RECORDED, "party_member", "advanced", "criteria_met")
    recorded = entries.select("uscc", "category", *kept).rename({c: f"_rec_{c}" for c in kept})
    frame = decided.filter(~pl.col("decision").is_in([KEPT, DEFERRED])).join(
        recorded, on=["uscc", "category"], how="left"
    )
    renewed = pl.col("decision") == RENEWED

    def fact(name: str, new: pl.Expr) -> pl.Expr:
        return pl.when(renewed).then(new).otherwise(pl.col(f"_rec_{name}")).alias(name)

    return frame.select(
        pl.col("decision").alias("event"),
        "uscc",
        "category",
        pl.lit(on).alias("date"),
        pl.when(renewed)
        .then(pl.col("new_valid_from"))
        .otherwise(pl.col("valid_from"))
        .alias("valid_from"),
        pl.when(renewed)
        .then(pl.col("new_valid_to"))
        .otherwise(pl.col("valid_to"))
        .alias("valid_to"),
        pl.when(renewed)
        .then(pl.col("new_evaluation_from"))
        .otherwise(pl.col("evaluation_from"))
        .alias("evaluation_from"),
        "reasons",
        pl.when(renewed)
        .then(pl.col("criteria_met"))
        .otherwise(pl.col("_rec_criteria_met"))
        .alias("criteria_met"),
        fact("region_code", pl.col("region_code")),
        fact("industry_code", pl.col("industry_code")),
        fact("tier", pl.col("tier")),
        "route",
        "consent",
        "special_group",
        fact("party_member", pl.col(party)),
        fact("advanced", pl.col(advanced)),
    ).select([c for c in EVENT_SCHEMA if c != "seq"])
