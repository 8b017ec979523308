"""The yearly typing run as one library call: `classify(options) -> RunResult`. Never prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import polars as pl

from gthfx.engines.base import Correct, Typed
from gthfx.ingest import uscc
from gthfx.ingest.join import data_problem_checks, join_extracts
from gthfx.ingest.load import FileInfo, RawExtract, check_files, load_extract
from gthfx.ingest.validate import Accounting, ValidatedExtract, type_rows, validate_extract
from gthfx.progress import Reporter
from gthfx.rules.engine import CompiledRuleset, apply_ruleset, reason_names, with_reasons
from gthfx.rules.plan import compile_for
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import EXTRACTS, ExtractSpec, SourcesMapping
from gthfx.vocab import BASE_COLUMNS

if TYPE_CHECKING:
    pass


@dataclass
class Prepared:
    """Extracts validated and joined, not yet typed: everything a ruleset needs."""

    joined: pl.DataFrame  # one row per business (see `join.join_extracts`)
    rejects: pl.DataFrame
    accounting: dict[str, Accounting]
    files: list[FileInfo]
    per_file: dict[str, Accounting]


def _typed_batch(
    frame: pl.DataFrame, *, extract: str, spec: ExtractSpec, correct: Correct | None
) -> pl.DataFrame:
    rows = type_rows(frame, spec)
    return correct(extract, spec, rows) if correct is not None else rows


def load_prepared(
    options: RunOptions, reporter: Reporter, correct: Correct | None = None
) -> tuple[Prepared, CompiledRuleset, SourcesMapping]:
    """The ruleset in force on the run date, compiled, then the extracts loaded, validated and
    joined for it. `correct` (recheck) may change each batch of typed rows of an extract before
    validation (duplicates, join)."""
    with reporter.stage("rules", "读取规则 reading rules"):
        sources, compiled = compile_for(options)
    reporter.info(f"ruleset={compiled.source.ruleset.id} file={compiled.source.path}")
    # every file's existence and header row first: a bad social file should not wait for the
    # annual extract to be typed
    for extract in EXTRACTS:
        check_files(extract, list(options.inputs[extract]), sources.extracts[extract])

    def reader(extract: str) -> Callable[[], RawExtract]:
        def read() -> RawExtract:
            spec = sources.extracts[extract]
            with reporter.stage(f"load_{extract}", f"读取 {spec.label} loading {extract}"):
                return load_extract(
                    extract,
                    list(options.inputs[extract]),
                    spec,
                    options.encoding,
                    transform=partial(_typed_batch, extract=extract, spec=spec, correct=correct),
                )

        return read

    readers = {e: reader(e) for e in EXTRACTS}
    return prepare_extracts(readers, compiled, sources, reporter), compiled, sources


def type_businesses(options: RunOptions, reporter: Reporter) -> Typed:
    """Load, validate, join and type: everything but writing."""
    prepared, compiled, sources = load_prepared(options, reporter)
    return type_prepared(prepared, compiled, sources, reporter)


def load_joined(
    options: RunOptions, reporter: Reporter
) -> tuple[pl.DataFrame, CompiledRuleset, SourcesMapping]:
    """Load, validate and join the extracts exactly as `type_businesses` does, without typing:
    the joined frame, the ruleset in force on the run date compiled, and the sources mapping
    the frame was loaded with. `type_joined` types it, under that ruleset or any other (what-if),
    as often as needed."""
    prepared, compiled, sources = load_prepared(options, reporter)
    return prepared.joined, compiled, sources


def type_extracts(
    readers: dict[str, Callable[[], RawExtract]],
    compiled: CompiledRuleset,
    sources: SourcesMapping,
    reporter: Reporter | None = None,
) -> Typed:
    """Validate, join and type extracts (read from files, or built by rule cases)."""
    reporter = reporter or Reporter(quiet=True)
    return type_prepared(
        prepare_extracts(readers, compiled, sources, reporter), compiled, sources, reporter
    )


def type_prepared(
    prepared: Prepared, compiled: CompiledRuleset, sources: SourcesMapping, reporter: Reporter
) -> Typed:
    with reporter.stage("type", "分型 typing"):
        outcomes = type_joined(prepared.joined, compiled, sources, consume=True)
    return Typed(
        compiled=compiled,
        sources=sources,
        outcomes=outcomes,
        rejects=prepared.rejects,
        accounting=prepared.accounting,
        files=prepared.files,
        per_file=prepared.per_file,
    )


def prepare_extracts(
    readers: dict[str, Callable[[], RawExtract]],
    compiled: CompiledRuleset,
    sources: SourcesMapping,
    reporter: Reporter | None = None,
) -> Prepared:
    """Validate and join extracts. Each extract is read only when its turn comes and its raw text
    is dropped once typed, so at most one raw extract is in memory at a time."""
    reporter = reporter or Reporter(quiet=True)
    year = compiled.run_date.year - 1
    validated: dict[str, ValidatedExtract] = {}
    files: list[FileInfo] = []
    known: pl.Series | None = None
    for extract in EXTRACTS:
        spec = sources.extracts[extract]
        raw = readers[extract]()
        # a handle of our own, which validation empties as it goes (the reader's is left as it
        # is): the typed rows are then freed column by column unless the reader keeps them
        own = RawExtract(name=raw.name, frame=raw.frame, files=raw.files, typed=raw.typed)
        files.extend(raw.files)
        del raw
        with reporter.stage(f"validate_{extract}", f"校验 {spec.label} validating {extract}"):
            checked = validate_extract(own, spec, report_year=year, known_codes=known, consume=True)
        del own
        validated[extract] = checked
        acc = checked.accounting
        reporter.info(
            f"extract={extract} files={len(checked.per_file)} read={acc.read} "
            f"used={acc.used} rejected={acc.rejected} collapsed={acc.collapsed}"
        )
        if extract == "annual":
            known = pl.concat(
                [checked.rows.get_column("uscc"), checked.conflicts.get_column("uscc")]
            )
    with reporter.stage("join", "归集 joining"):
        rejects = pl.concat([v.rejects for v in validated.values()]).sort("extract", "file", "row")
        accounting = {name: v.accounting for name, v in validated.items()}
        # keyed by FileInfo.key (extract:path): one file may serve two extracts
        per_file = {
            f"{v.name}:{p}": acc for v in validated.values() for p, acc in v.per_file.items()
        }
        del known  # annual's codes for the orphan check: not to be held through the join
        joined = join_extracts(
            validated.pop("annual"), validated.pop("tax"), validated.pop("social"), consume=True
        )
    return Prepared(
        joined=joined, rejects=rejects, accounting=accounting, files=files, per_file=per_file
    )


def type_joined(
    joined: pl.DataFrame,
    compiled: CompiledRuleset,
    sources: SourcesMapping,
    *,
    consume: bool = False,
) -> pl.DataFrame:
    """The outcome of every business of a joined frame (see `join.join_extracts`) under one
    compiled ruleset: BASE_COLUMNS and the indicators, sorted by `uscc`. The joined frame is left
    as it is, so several rulesets can be applied to one (what-if) — unless `consume`, which
    empties it as soon as it is no longer needed, to free its memory during the sort."""
    problems = data_problem_checks(sources)
    typed = apply_ruleset(joined, compiled, problems)
    if consume:
        for name in joined.columns:
            joined.drop_in_place(name)
    masks = [c for c in typed.columns if c.startswith("_rmask_")]
    columns = [*BASE_COLUMNS, *(c for c in compiled.indicators if c not in BASE_COLUMNS)]
    narrow = typed.select([c for c in columns if c != "reasons"] + masks)
    del typed
    # gathered in `uscc` order column by column, each unsorted column freed once gathered
    order = uscc.sort_order(narrow.get_column("uscc"))
    narrow = pl.DataFrame([narrow.drop_in_place(name).gather(order) for name in narrow.columns])
    return with_reasons(narrow, reason_names(compiled, problems)).select(columns)
