"""What the 名特优新 steps read: a typed run, the category extracts and the run's annual extract.

A typed run (its facts per business and its quota base), the category extracts (checked against
the criteria's vocabulary), and the business names and masked operator details of the run's
annual extract. Reads only; never writes.

The run is read through `runs.reader` (its outcome files) and one small function of this module
(`run_ref`, the few manifest fields needed), so that a new manifest model is a change here only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.errors import InputError, RulesError, RunError
from gthfx.ingest import uscc
from gthfx.ingest.items import Items, load_items
from gthfx.ingest.load import iter_table, map_headers, sha256_of
from gthfx.ingest.masking import MASKS
from gthfx.ingest.parse import clean
from gthfx.rules.criteria import CODED_FIELDS, Criteria, CriteriaFile, load_criteria
from gthfx.runs.reader import outcome_paths
from gthfx.settings.sources import CATEGORY_EXTRACTS, SourcesMapping
from gthfx.vocab import EXCLUDED

# the run's facts an entry carries (SPEC §10: never asked of the business again)
FACT_COLUMNS = ("tier", "years_in_business", "insured_staff", "region_code", "industry_code")
MULTI = {"applications": frozenset({"categories"}), "objections": frozenset({"categories"})}


@dataclass(frozen=True)
class RunRef:
    """The few facts of a run folder's manifest the category steps use."""

    path: Path
    run_date: date
    ruleset_id: str
    annual: tuple[tuple[str, str, str], ...]  # (recorded path, absolute path, sha256)


def run_ref(run_dir: Path) -> RunRef:
    """The run folder's date, ruleset and annual input files, from its manifest."""
    manifest = run_dir / "manifest.json"
    if not run_dir.is_dir():
        raise RunError(
            f"{run_dir}: no such run folder", hint="runs are folders like runs/2024-07-01"
        )
    if not manifest.is_file():
        raise RunError(f"{run_dir}: not a gthfx run folder (no manifest.json)")
    try:
        data: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
        run_date = date.fromisoformat(data["run_date"])
        ruleset_id = str(data["ruleset"]["id"])
        annual = tuple(
            (str(i["path"]), str(i.get("absolute_path") or i["path"]), str(i["sha256"]))
            for i in data.get("inputs", [])
            if i.get("extract") == "annual"
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunError(f"{manifest}: not a readable gthfx run manifest ({exc})") from None
    outcome_paths(run_dir)  # a complete run folder, or an error naming the missing file
    return RunRef(run_dir, run_date, ruleset_id, annual)


def _outcomes(run: RunRef) -> pl.LazyFrame:
    scan = pl.scan_parquet(outcome_paths(run.path))
    have = set(scan.collect_schema().names())
    missing = [c for c in (*FACT_COLUMNS, "uscc", "reasons") if c not in have]
    if missing:
        raise RunError(
            f"{run.path}: the run's outcome files have no column(s) {', '.join(missing)}",
            hint="screening reads the facts the reference ruleset derives (years_in_business, "
            "insured_staff): type the run with such a ruleset",
        )
    return scan


def run_facts(run: RunRef, codes: pl.Series, serious_dishonest_reasons: list[str]) -> pl.DataFrame:
    """The run's facts for the businesses `codes`: `uscc`, `in_run` (true), FACT_COLUMNS and
    `serious_dishonest` (excluded there for one of `serious_dishonest_reasons`)."""
    wanted = codes.unique().implode()
    return (
        _outcomes(run)
        .filter(pl.col("uscc").is_in(wanted))
        .select(
            "uscc",
            pl.lit(True).alias("in_run"),
            *(pl.col(c) for c in FACT_COLUMNS),
            (
                (pl.col("tier") == EXCLUDED)
                & pl.col("reasons")
                .list.eval(pl.element().is_in(serious_dishonest_reasons))
                .list.any()
                .fill_null(False)
            ).alias("serious_dishonest"),
        )
        .with_columns(
            pl.col("years_in_business").cast(pl.Int64),
            pl.col("insured_staff").cast(pl.Int64),
        )
        .collect()
        .unique("uscc", keep="first", maintain_order=True)
    )


def quota_base(run: RunRef, tiers: list[str]) -> pl.DataFrame:
    """Per district (`region_code`) of the run: `base`, its businesses of the quota tiers."""
    return (
        _outcomes(run)
        .filter(pl.col("tier").is_in(tiers))
        .group_by("region_code")
        .agg(pl.len().cast(pl.Int64).alias("base"))
        .collect()
    )


def load_category_extract(
    extract: str,
    paths: list[Path],
    sources: SourcesMapping,
    criteria: Criteria,
    encoding: str | None = None,
) -> Items:
    """One category extract, its coded fields checked against the criteria's vocabulary."""
    if extract not in CATEGORY_EXTRACTS:  # a bug: the callers name the extract
        raise ValueError(extract)
    spec = sources.category_extracts[extract]
    vocabulary = {
        fname: criteria.vocabulary[vocab]
        for (ext, fname), vocab in CODED_FIELDS.items()
        if ext == extract and fname in spec.fields
    }
    return load_items(
        extract, paths, spec, vocabulary, multi=MULTI.get(extract, frozenset()), encoding=encoding
    )


def annual_files(run: RunRef, given: list[Path] | None) -> list[Path]:
    """The annual extract files to read names from: `given`, else the run's own (each checked
    against its SHA-256 in the manifest)."""
    if given:
        return given
    out: list[Path] = []
    for recorded, absolute, sha in run.annual:
        candidates = [Path(absolute), Path(recorded), run.path.parent.parent / recorded]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise InputError(
                f"{recorded}: annual extract of the run {run.path} not found",
                hint="pass the annual files with --annual to read business names from them",
            )
        if sha256_of(path) != sha:
            raise InputError(
                f"{path}: changed since the run {run.path} (SHA-256 differs from the manifest)",
                hint="pass the annual files the run read with --annual",
            )
        out.append(path)
    return out


def annual_names(
    paths: list[Path], codes: pl.Series, sources: SourcesMapping, encoding: str | None = None
) -> pl.DataFrame:
    """For the businesses `codes`: `name`, and the operator's name, ID number and phone from the
    annual extract, masked at once (`*_masked`). The first row of a code (in file order) with a
    value wins, field by field.

    Only the rows that may belong to one of `codes` are normalised: a tidy code (18 characters
    of digits and capitals) is compared as it is, anything else (full-width, lower case,
    spaces) is normalised first — a province's annual extract is read in seconds. Parquet files
    are scanned for the needed columns only."""
    spec = sources.extracts["annual"]
    fields = ["name", "operator_name", "operator_id", "phone"]
    wanted = codes.unique().implode()
    frames: list[pl.DataFrame] = []

    def candidates(
        batch: pl.LazyFrame | pl.DataFrame, chosen: dict[str, str], index: int, offset: int
    ) -> pl.DataFrame:
        raw = pl.col(chosen["uscc"]).cast(pl.String)
        tidy = raw.str.contains(r"^[0-9A-Z]{18}$").fill_null(False)
        picked = (
            batch.lazy()
            .with_row_index("_at", offset=offset)
            .filter(raw.is_in(wanted) | (~tidy & raw.is_not_null()))
            .select(
                uscc.normalise(raw).alias("uscc"),
                pl.lit(index, pl.UInt32).alias("_file"),
                pl.col("_at").cast(pl.UInt64),
                *(
                    (
                        pl.col(chosen[n]).cast(pl.String)
                        if n in chosen
                        else pl.lit(None, pl.String)
                    ).alias(n)
                    for n in fields
                ),
            )
            .filter(pl.col("uscc").is_in(wanted))
        )
        return picked.collect()

    for index, path in enumerate(paths):
        chosen: dict[str, str] = {}

        def pick(
            headers: list[str], path: Path = path, chosen: dict[str, str] = chosen
        ) -> list[str]:
            found, _ = map_headers(path, "annual", spec, headers)
            chosen.update({n: found[n] for n in ("uscc", *fields) if n in found})
            return list(dict.fromkeys(chosen.values()))

        if path.suffix.lower() == ".parquet" and path.is_file():
            try:
                headers = list(pl.read_parquet_schema(path))
            except Exception as exc:  # polars/arrow raise several unrelated types
                raise InputError(f"{path}: cannot read as Parquet: {exc}") from None
            columns = pick(headers)
            frames.append(candidates(pl.scan_parquet(path).select(columns), chosen, index, 0))
            continue
        batches, _, _, _ = iter_table(path, encoding, pick)
        offset = 0
        for batch in batches:
            if not chosen:
                pick(batch.columns)
            frames.append(candidates(batch, chosen, index, offset))
            offset += batch.height
    if not frames:
        return pl.DataFrame(
            schema={"uscc": pl.String, "name": pl.String}
            | {f"{n}_masked": pl.String for n in fields[1:]}
        )
    rows = pl.concat(frames).sort("_file", "_at")
    return rows.group_by("uscc", maintain_order=True).agg(
        clean(pl.col("name")).drop_nulls().first().alias("name"),
        *(MASKS[n](pl.col(n)).drop_nulls().first().alias(f"{n}_masked") for n in fields[1:]),
    )


def recorded_criteria(recorded: dict[str, Any], folder: Path) -> CriteriaFile:
    """The criteria file a step folder's manifest names, checked against its SHA-256."""
    candidates = [Path(str(recorded.get("absolute_path", ""))), Path(str(recorded.get("path", "")))]
    path = next((p for p in candidates if str(p) and p.is_file()), None)
    if path is None:
        raise RulesError(f"{recorded.get('path')}: criteria file of {folder} not found")
    loaded = load_criteria(path)
    if loaded.sha256 != recorded.get("sha256"):
        raise RulesError(
            f"{path}: changed since {folder} was written (SHA-256 differs from its manifest, "
            f"criteria {recorded.get('id')})",
            hint="certify with the criteria the screening used (restore the file)",
        )
    return loaded
