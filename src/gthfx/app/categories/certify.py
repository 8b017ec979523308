"""`gthfx categories certify`: after the publicity and the objections, the eligible entries are
certified (认定) into the register, written to `<cycle>/certification/`. Never prints.

An upheld objection (核查结论 成立) removes its entry, with its reason; an entry already in force
in the register on the date is not certified twice; every other publicized entry is certified
with `valid_from` = the date, `valid_to` = three years later, the day before, and
`evaluation_from` = the start of its last year. An objection not yet concluded stops the
certification (every such row named); an objection naming an entry that was not on the list is
rejected with its file and row.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from gthfx.app.categories.core import sort_entries
from gthfx.app.categories.dates import period_exprs
from gthfx.app.categories.folders import (
    inputs_manifest,
    read_manifest,
    step_folder,
    write_manifest,
)
from gthfx.app.categories.inputs import load_category_extract, recorded_criteria
from gthfx.app.categories.labels import HEADERS, common_text, criterion_words, reason_words, words
from gthfx.app.categories.labels import reject_text as reject_words
from gthfx.app.categories.publicize import PUBLICITY_FILE
from gthfx.app.categories.register import CERTIFIED, EVENT_SCHEMA, Batch, append, as_of, read_events
from gthfx.app.categories.screen import SCREENING_FILE
from gthfx.errors import ConfigError, InputError
from gthfx.ingest.load import sha256_of
from gthfx.report.render import ClerkTables, as_text_table
from gthfx.rules.criteria import UPHELD
from gthfx.settings.sources import load_sources
from gthfx.vocab import REJECT_SCHEMA

CERTIFICATION_FILE = "certification.parquet"
CERTIFIED_RESULT, REMOVED_RESULT, ALREADY = "certified", "removed", "already_certified"
RESULT_WORDS = {CERTIFIED_RESULT: "认定", REMOVED_RESULT: "不予认定", ALREADY: "已在有效期内"}
NOT_PUBLICIZED = "not_publicized"


@dataclass(frozen=True)
class CertifyOptions:
    screening: Path
    objections: tuple[Path, ...]
    on: date
    register: Path
    by: str | None = None
    document: str | None = None
    sources: Path | None = None
    encoding: str | None = None
    force: bool = False
    command: tuple[str, ...] = ()


@dataclass
class CertifyResult:
    folder: Path
    on: date
    counts: dict[str, int]
    segment: int
    head_sha256: str
    repeated: bool

    @property
    def exit_code(self) -> int:
        return 0


def monitoring_facts(frame: pl.DataFrame, party: str, advanced: str) -> list[pl.Expr]:
    """`party_member` and `advanced` from the indicators the criteria name for them."""
    return [
        (pl.col(party) if party in frame.columns else pl.lit(None, pl.Boolean)).alias(
            "party_member"
        ),
        (pl.col(advanced) if advanced in frame.columns else pl.lit(None, pl.Boolean)).alias(
            "advanced"
        ),
    ]


def certify(options: CertifyOptions) -> CertifyResult:
    screening = options.screening
    manifest = read_manifest(screening, "categories-screening")
    cycle = screening.parent
    publicity = read_manifest(cycle / "publicity", "categories-publicity")
    end = date.fromisoformat(publicity["publicity_end"])
    if options.on <= end:
        raise ConfigError(
            f"--date {options.on}: the publicity runs until {end}",
            hint="certify after the publicity has ended and its objections are checked",
        )
    if publicity.get("screening_sha256") != sha256_of(screening / SCREENING_FILE):
        raise InputError(
            f"{screening / SCREENING_FILE}: changed since it was publicized",
            hint="publicize the screening again (--force) before certifying",
        )
    criteria_file = recorded_criteria(manifest["criteria"], screening)
    crit = criteria_file.criteria
    sources = load_sources(options.sources)
    objections = load_category_extract(
        "objections", list(options.objections), sources, crit, options.encoding
    )
    rows = objections.rows
    pending = rows.filter(pl.col("conclusion").is_null())
    if pending.height:
        files = [info.path for info in objections.files]
        where = "; ".join(f"{files[f]}:{r}" for f, r in pending.select("_file", "_row").iter_rows())
        raise InputError(
            f"objections not yet concluded (核查结论 empty): {where}",
            hint="certify once every objection is checked (成立 / 不成立)",
        )
    listed = pl.read_parquet(cycle / "publicity" / PUBLICITY_FILE).select("uscc", "category")
    # an objection without a category concerns every listed entry of its business
    named = rows.with_columns(
        pl.when(pl.col("categories").is_null())
        .then(pl.lit(None, pl.List(pl.String)))
        .otherwise(pl.col("categories"))
        .alias("categories")
    ).explode("categories")
    matched = named.join(listed.rename({"category": "_listed"}), on="uscc", how="inner").filter(
        pl.col("categories").is_null() | (pl.col("categories") == pl.col("_listed"))
    )
    unmatched_rows = rows.join(
        matched.select("_file", "_row").unique(), on=["_file", "_row"], how="anti"
    )
    files = [info.path for info in objections.files]
    not_listed = unmatched_rows.select(
        pl.lit("objections").alias("extract"),
        pl.col("_file")
        .replace_strict(dict(enumerate(files)), return_dtype=pl.String)
        .alias("file"),
        pl.col("_row").alias("row"),
        "uscc",
        pl.lit("categories").alias("field"),
        pl.col("categories").list.join("、").alias("raw_value"),
        pl.lit(NOT_PUBLICIZED).alias("reason"),
    ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    rejects = pl.concat([objections.rejects, not_listed]).sort("extract", "file", "row")
    upheld = (
        matched.filter(pl.col("conclusion") == UPHELD)
        .select("uscc", pl.col("_listed").alias("category"))
        .unique()
        .with_columns(pl.lit(True).alias("_upheld"))
    )
    batch_id = f"certification/{manifest['screening_date']}"
    # entries already in force on the date — by any other batch than this certification's own
    # (when it is written again, its entries must not count as already certified)
    in_force = (
        as_of(read_events(options.register).filter(pl.col("batch") != batch_id), options.on).select(
            "uscc", "category"
        )
        if options.register.exists()
        else pl.DataFrame(schema={"uscc": pl.String, "category": pl.String})
    ).with_columns(pl.lit(True).alias("_in_force"))
    screened = pl.read_parquet(screening / SCREENING_FILE)
    years = int(crit.parameter("validity_years"))
    decided = (
        screened.join(listed, on=["uscc", "category"], how="semi")
        .join(upheld, on=["uscc", "category"], how="left")
        .join(in_force, on=["uscc", "category"], how="left")
        .with_columns(
            pl.when(pl.col("_upheld").fill_null(False))
            .then(pl.lit(REMOVED_RESULT))
            .when(pl.col("_in_force").fill_null(False))
            .then(pl.lit(ALREADY))
            .otherwise(pl.lit(CERTIFIED_RESULT))
            .alias("certification"),
        )
        .with_columns(
            pl.when(pl.col("certification") == REMOVED_RESULT)
            .then(pl.lit(["objection_upheld"], pl.List(pl.String)))
            .when(pl.col("certification") == ALREADY)
            .then(pl.lit(["already_in_register"], pl.List(pl.String)))
            .otherwise(pl.lit([], pl.List(pl.String)))
            .alias("reasons"),
            *(
                pl.when(pl.col("certification") == CERTIFIED_RESULT)
                .then(e)
                .alias(e.meta.output_name())
                for e in period_exprs(pl.lit(options.on), years)
            ),
            *monitoring_facts(screened, crit.monitoring.party_member, crit.monitoring.advanced),
        )
        .drop("_upheld", "_in_force")
    )
    decided = sort_entries(decided)
    events = (
        decided.filter(pl.col("certification") == CERTIFIED_RESULT)
        .with_columns(pl.lit(CERTIFIED).alias("event"), pl.lit(options.on).alias("date"))
        .select([c for c in EVENT_SCHEMA if c != "seq"])
    )
    counts = {
        k: int(decided.filter(pl.col("certification") == k).height)
        for k in (CERTIFIED_RESULT, REMOVED_RESULT, ALREADY)
    }
    screened_on = manifest["screening_date"]
    source_files = [
        (str(screening / SCREENING_FILE), sha256_of(screening / SCREENING_FILE)),
        (
            str(cycle / "publicity" / PUBLICITY_FILE),
            sha256_of(cycle / "publicity" / PUBLICITY_FILE),
        ),
        (str(criteria_file.path), criteria_file.sha256),
        *((info.path, info.sha256) for info in objections.files),
    ]
    batch = Batch(
        kind="certification",
        batch_id=batch_id,
        on=options.on,
        by=options.by,
        document=options.document,
        sources=tuple(source_files),
        command=tuple(options.command or sys.argv),
    )
    with step_folder(cycle, "certification", force=options.force) as staging:
        appended = append(options.register, batch, events)
        keep = [
            "uscc", "category", "certification", "reasons", "valid_from", "valid_to",
            "evaluation_from", "name", "region_code", "industry_code", "tier", "route", "consent",
            "special_group", "criteria_met", "party_member", "advanced",
        ]  # fmt: skip
        decided.select(keep).write_parquet(staging / CERTIFICATION_FILE)
        rejects.write_parquet(staging / "rejects.parquet")
        reject_words(rejects).write_csv(staging / "拒收.csv", include_bom=True)
        shown = [
            "uscc", "name", "district", "category", "certification", "reasons", "valid_from",
            "valid_to", "evaluation_from", "tier", "industry_code", "route", "special_group",
            "criteria_met", "party_member", "advanced",
        ]  # fmt: skip
        headers = {c: HEADERS.get(c, "认定结论") for c in shown}
        text = decided.with_columns(
            *common_text(decided),
            pl.col("certification").replace(RESULT_WORDS),
            words("reasons", reason_words(crit)),
            words("criteria_met", criterion_words(crit)),
        )
        tables = ClerkTables(staging, "认定名单.xlsx")
        tables.add("认定名单", text, lambda f: as_text_table(f, headers))
        tables.close()
        write_manifest(
            staging,
            {
                "kind": "categories-certification",
                "command": list(options.command or sys.argv),
                "certification_date": options.on.isoformat(),
                "screening": str(screening),
                "screening_date": screened_on,
                "publicity_end": end.isoformat(),
                "criteria": manifest["criteria"],
                "inputs": inputs_manifest([objections]),
                "accounting": {"objections": objections.accounting.as_dict()},
                "results": counts,
                "register": {
                    "path": str(options.register),
                    "absolute_path": str(options.register.resolve()),
                    "segment": appended.segment,
                    "head_sha256": appended.head_sha256,
                    "events": appended.events,
                    "already_appended": appended.repeated,
                },
                "by": options.by,
                "document": options.document,
            },
        )
    return CertifyResult(
        cycle / "certification",
        options.on,
        counts,
        appended.segment,
        appended.head_sha256,
        appended.repeated,
    )
