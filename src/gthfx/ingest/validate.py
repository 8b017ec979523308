"""From raw text to typed rows: credit codes, typed values, rejects, duplicates, accounting.

Collects every problem; never stops at the first. For each extract:
rows read = rows used + rows rejected + duplicates collapsed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from gthfx.ingest import uscc
from gthfx.ingest.load import NUMERIC_CODE, RawExtract
from gthfx.ingest.parse import (
    ValueRules,
    fast_steps,
    has_text,
    parse,
    parse_fast,
    parse_typed,
    rules_for,
)
from gthfx.settings.sources import EXTRACTS, MONEY_FACTOR, ExtractSpec
from gthfx.vocab import CONFLICT, ORPHAN, OTHER_YEAR, REJECT_SCHEMA


@dataclass(frozen=True)
class Accounting:
    """Row accounting of one extract (written to the manifest)."""

    read: int
    used: int
    rejected: int
    collapsed: int

    def holds(self) -> bool:
        return self.read == self.used + self.rejected + self.collapsed

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "used": self.used,
            "rejected": self.rejected,
            "collapsed": self.collapsed,
        }


@dataclass
class ValidatedExtract:
    """Typed rows (one per business), rejected rows and the data problems of each business."""

    name: str
    rows: pl.DataFrame  # uscc, typed fields, _code_status, _problem_mask (see problem_reasons)
    rejects: pl.DataFrame
    conflicts: pl.DataFrame  # uscc (+ region/industry for annual) of conflicting duplicate groups
    accounting: Accounting
    per_file: dict[str, Accounting]  # the same accounting for each input file (by path)
    flag_bits: list[tuple[int, str]] = field(default_factory=list)  # see `flag_reasons`


def own_copy(text: pl.Expr) -> pl.Expr:
    """A text column copied into buffers of its own, in its row order. A column filtered or
    gathered out of a larger one only points into that one's buffers (Polars' string views): a
    few rows kept that way hold all of them, and rows gathered in another order are read from
    them at random, slowly once they no longer fit the CPU's caches."""
    return text + ""


def selected(frame: pl.DataFrame, *exprs: pl.Expr | str) -> pl.DataFrame:
    """`frame.select(*exprs)`, each subexpression computed once. An eager `select` skips Polars'
    optimiser, so a subexpression written more than once is computed each time (a date parsed,
    compared with both ends of its plausible range, then kept: three strptimes); run as an
    in-memory query, common subexpressions are computed once. For the parsers (`parse`), whose
    expressions repeat their input: typing a 1 M-row annual batch on one core 1.11 -> 0.79 s.
    (Not the streaming engine: it ran the code checks 3x slower than this.)"""
    return frame.lazy().select(*exprs).collect(engine="in-memory")


def _reject_frame(
    frame: pl.DataFrame,
    extract: str,
    files: list[str],
    field: pl.Expr | str,
    raw: pl.Expr,
    reason: pl.Expr | str,
) -> pl.DataFrame:
    field_expr = pl.lit(field) if isinstance(field, str) else field
    reason_expr = pl.lit(reason) if isinstance(reason, str) else reason
    return frame.select(
        pl.lit(extract).alias("extract"),
        pl.col("_file")
        .replace_strict(dict(enumerate(files)), return_dtype=pl.String)
        .alias("file"),
        pl.col("_row").alias("row"),
        # the few rejected rows must not hold the texts of every row read
        own_copy(pl.col("uscc")),
        field_expr.alias("field"),
        own_copy(raw).alias("raw_value"),
        reason_expr.alias("reason"),
    ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]


MISSING_SHIFT = 32  # problem mask: bit i = field i did not parse; bit 32 + i = required, empty
# the fields validation itself reads (the year rules): a bad value there is always a data problem
YEAR_FIELDS = {"annual": "report_year", "tax": "tax_year"}


def _excludes(extract: str, spec: ExtractSpec, name: str) -> bool:
    """Whether a value of `name` that does not parse (or is implausible) excludes its business:
    when the ruleset reads the field, when it is required, or when validation reads it."""
    return spec.is_read(name) or spec.fields[name].required or YEAR_FIELDS.get(extract) == name


def problem_reasons(extract: str, spec: ExtractSpec) -> list[tuple[int, str]]:
    """(bit, reason) for every data problem a row of this extract can have, in report order:
    unparseable fields in mapping order (those that exclude, see `flag_reasons` for the
    others), then missing required fields."""
    fields = spec.typed_fields()
    out = [
        (1 << i, f"unparseable:{extract}.{name}")
        for i, name in enumerate(fields)
        if _excludes(extract, spec, name)
    ]
    out += [
        (1 << (MISSING_SHIFT + i), f"missing:{name}")
        for i, name in enumerate(fields)
        if spec.fields[name].required
    ]
    return out


def flag_reasons(extract: str, spec: ExtractSpec) -> list[tuple[int, str]]:
    """(bit, flag) for the fields no rule reads (SPEC §6): a value there that does not parse, or
    is implausible, flags the business (`unparseable:<extract>.<field>` in `flags`) instead of
    excluding it. Empty for a mapping not cut for a run (every field then excludes)."""
    return [
        (1 << i, f"unparseable:{extract}.{name}")
        for i, name in enumerate(spec.typed_fields())
        if not _excludes(extract, spec, name)
    ]


def _fill(
    column: pl.Series, raw: pl.Series, steps: list[pl.Expr], full: pl.Expr
) -> tuple[pl.Series, pl.Series, pl.Series, pl.Series]:
    """Complete one column typed by the first fast step: the later fast steps, then the full
    parse, each only on the cells still empty whose raw value is not (a typed raw value is
    parsed as its text). → (column, positions that needed the full parse, their text, their
    full parse)."""
    todo = (raw.is_not_null() & column.is_null()).arg_true()
    text = raw.gather(todo).cast(pl.String)
    for step in steps:
        if todo.len() == 0:
            break
        got = selected(text.to_frame("raw"), step.alias("v")).to_series()
        done = got.is_not_null()
        column = column.scatter(todo.filter(done), got.filter(done))
        todo, text = todo.filter(~done), text.filter(~done)
    parsed = selected(text.to_frame("raw"), full.alias("v")).to_series()
    if todo.len():
        column = column.scatter(todo, parsed)
    return column, todo, text, parsed


# A column with few distinct values (a status, a district, an industry, a date, a flag) is typed
# one distinct value at a time: each parsed in full once, then mapped back. Tried on batches of
# at least DISTINCT_MIN_ROWS rows whose first DISTINCT_SAMPLE cells hold at most a quarter as
# many distinct values.
DISTINCT_MIN_ROWS = 50_000
DISTINCT_SAMPLE = 10_000


def distinct_texts(raw: pl.Series) -> pl.Series | None:
    """The distinct texts of a column that holds few (at most a quarter of its cells), or None."""
    if raw.dtype != pl.String or raw.len() < DISTINCT_MIN_ROWS:
        return None
    if raw.head(DISTINCT_SAMPLE).n_unique() * 4 > min(raw.len(), DISTINCT_SAMPLE):
        return None
    values = raw.unique().drop_nulls()
    return values if values.len() * 4 <= raw.len() else None


def _by_distinct(
    raw: pl.Series, values: pl.Series, full: pl.Expr, rules: ValueRules
) -> tuple[pl.Series, pl.Series, pl.Series, pl.Series]:
    """`_fill`'s result for a column of few distinct texts, each parsed in full once: (column,
    positions of the cells that did not parse, their text, their (null) parse)."""
    table = selected(values.to_frame("raw"), pl.col("raw"), full.alias("v"))
    parsed = table.get_column("v")
    column = raw.replace_strict(values, parsed, default=None, return_dtype=parsed.dtype)
    bad = table.filter(has_text(pl.col("raw"), rules) & pl.col("v").is_null()).get_column("raw")
    todo = raw.is_in(bad.implode()).arg_true()
    text = raw.gather(todo)
    return column, todo, text, pl.repeat(None, todo.len(), dtype=parsed.dtype, eager=True)


def type_rows(frame: pl.DataFrame, spec: ExtractSpec) -> pl.DataFrame:
    """Normalise the code, parse every field, and mark the fields that failed to parse.

    Tidy cells take a fast path (plain casts); only the cells the fast path cannot vouch for
    (full-width digits, `2024/7/1`, `1,234`, bad values, …) are parsed in full — the same
    result, at a fraction of the cost on real extracts, where most cells are tidy. A column of
    few distinct texts is parsed one distinct text at a time (`distinct_texts`). A column
    already typed (a Parquet date, number or flag, see `load.kept_type`) is taken as it is
    (`parse.parse_typed`: the same unit and plausible range); a value of it that is not
    plausible is parsed as its text, and so fails as that text would; a typed column that does
    not fit its field's kind is read as text.

    `_bad_mask` has bit i set when field i of `spec.typed_fields()` held text that did not parse;
    `_bad_raw` joins those texts, so that two rows with different bad values are not taken for
    exact duplicates. `_raw_code` is the code as read, kept only for the rows where some cell
    needed the full parse (elsewhere the code was already tidy, = `uscc`).
    """
    fields = spec.typed_fields()
    if len(fields) >= MISSING_SHIFT:
        raise ValueError(f"at most {MISSING_SHIFT - 1} fields per extract")
    kinds = {name: spec.fields[name].type for name in fields}
    factors = {name: MONEY_FACTOR[spec.fields[name].unit or "元"] for name in fields}
    run_date = spec.usage.run_date if spec.usage is not None else None
    rules = {name: rules_for(spec.fields[name], run_date) for name in fields}
    steps = {
        name: fast_steps(pl.col(name), kinds[name], factors[name], rules[name]) for name in fields
    }
    typed_in = {}  # fields whose column a platform typed, and their typed value
    for name in fields:
        dtype = frame.schema[name]
        if dtype == pl.String:
            continue
        value = parse_typed(pl.col(name), dtype, kinds[name], factors[name], rules[name])
        if value is None:
            frame = frame.with_columns(pl.col(name).cast(pl.String))
        else:
            typed_in[name] = value
            steps[name] = [value]
    numeric = frame.get_column(NUMERIC_CODE) if NUMERIC_CODE in frame.columns else None
    frame = frame.rename({"uscc": "_raw_code"})
    few = {n: v for n in fields if (v := distinct_texts(frame.get_column(n))) is not None}
    # the first fast step of every other column at once (in parallel), on every row
    typed = selected(
        frame,
        "_file",
        "_row",
        parse_fast(pl.col("_raw_code"), "code").alias("uscc"),
        *(steps[n][0].alias(n) for n in fields if n not in few),
    )
    raw_code = frame.get_column("_raw_code")
    code, unsure, _, _ = _fill(
        typed.get_column("uscc"), raw_code, [], uscc.normalise(pl.col("raw"))
    )
    columns = {"uscc": code}
    unsures = [unsure]
    failed: list[pl.DataFrame] = []
    for i, name in enumerate(fields):
        raw = frame.get_column(name)
        rest = fast_steps(pl.col("raw"), kinds[name], factors[name], rules[name])[1:]
        full = parse(pl.col("raw"), kinds[name], factors[name], rules[name])
        if name in few:
            column, todo, text, parsed = _by_distinct(raw, few[name], full, rules[name])
        else:
            column, todo, text, parsed = _fill(
                typed.get_column(name), raw, [] if name in typed_in else rest, full
            )
        columns[name] = column
        unsures.append(todo)
        if todo.len():
            bad = (
                selected(text.to_frame("raw"), has_text(pl.col("raw"), rules[name])).to_series()
            ) & (parsed.is_null())
            failed.append(
                pl.DataFrame({"_at": todo.filter(bad), "_text": text.filter(bad)}).with_columns(
                    pl.lit(i, pl.UInt8).alias("_bit"), pl.lit(1 << i, pl.UInt64).alias("_value")
                )
            )
    # `_raw_code` for every row where some cell was unsure
    rows = pl.concat(unsures).unique().sort()
    height = typed.height
    out = (
        typed.with_columns(*columns.values())
        .select("_file", "_row", "uscc", *fields)
        .with_columns(
            pl.repeat(None, height, dtype=pl.String, eager=True)
            .scatter(rows, raw_code.gather(rows))
            .alias("_raw_code"),
            pl.zeros(height, pl.UInt64, eager=True).alias("_bad_mask"),
            pl.zeros(height, pl.UInt64, eager=True).alias("_bad_raw"),
        )
    )
    cells = pl.concat(failed) if failed else pl.DataFrame()
    if cells.height:
        # per row: the bits of the fields that did not parse, and their texts in field order
        bad_rows = (
            cells.sort("_at", "_bit")
            .group_by("_at", maintain_order=True)
            .agg(
                pl.col("_value").sum().alias("_bad_mask"),
                pl.col("_text").str.join("\x1f").alias("_bad_raw"),
            )
            .with_columns(pl.col("_bad_raw").hash())
        )
        at = bad_rows.get_column("_at")
        out = out.with_columns(
            out.get_column(name).scatter(at, bad_rows.get_column(name))
            for name in ("_bad_mask", "_bad_raw")
        )
    status = uscc.status(pl.col("uscc"))
    if numeric is not None:  # a code a workbook stored as a number: its last digits are lost
        status = (
            pl.when(pl.lit(numeric).fill_null(False))
            .then(pl.lit(uscc.NUMERIC, uscc.STATUS))
            .otherwise(status)
        )
    return out.with_columns(status.alias("_code_status"))


def bit_mask(bits: list[tuple[int, pl.Expr]]) -> pl.Expr:
    """UInt64 with bit b set where its condition holds (null counts as false), for (b, condition)
    pairs with distinct bits. Built a byte at a time — the conditions of one byte as UInt8 (one
    byte a row each), then the bytes shifted into place — rather than one UInt64 column (eight
    bytes a row) per condition, all held at once."""
    by_byte: dict[int, list[pl.Expr]] = {}
    for bit, condition in bits:
        by_byte.setdefault(bit // 8, []).append(
            condition.fill_null(False).cast(pl.UInt8) * pl.lit(1 << (bit % 8), pl.UInt8)
        )
    if not by_byte:
        return pl.lit(0, pl.UInt64)
    parts = [
        pl.sum_horizontal(terms).cast(pl.UInt64) * pl.lit(1 << (8 * byte), pl.UInt64)
        for byte, terms in by_byte.items()
    ]
    return pl.sum_horizontal(parts).cast(pl.UInt64)


def _problem_mask(spec: ExtractSpec) -> pl.Expr:
    """Unparseable bits plus a bit for each required field that is empty (and not unparseable)."""
    fields = spec.typed_fields()
    missing = [
        (MISSING_SHIFT + i, pl.col(name).is_null() & (pl.col("_bad_mask") & (1 << i) == 0))
        for i, name in enumerate(fields)
        if spec.fields[name].required
    ]
    if not missing:
        return pl.col("_bad_mask")
    return pl.col("_bad_mask") | bit_mask(missing)


def validate_extract(
    raw: RawExtract,
    spec: ExtractSpec,
    *,
    report_year: int,
    known_codes: pl.Series | None = None,
    consume: bool = False,
) -> ValidatedExtract:
    """Type one extract and account for every row.

    Order: unusable codes are rejected; rows of another tax year are rejected, and so are the
    annual rows of a business whose rows differ in report year, all but those of the latest
    report year not after the run's (`other_year`); when `known_codes` is given (tax, social:
    codes, or their `known_keys` already),
    rows whose code is not among them are orphans; then exact duplicates collapse to one row and
    conflicting duplicate groups are rejected whole (their business is reported as excluded).

    With `consume`, `raw.frame` is emptied once read, so that the typed rows are copied into the
    kept rows one column at a time, each freed as soon as copied: the extract is then held about
    once, not twice.
    """
    name = raw.name
    files = [info.path for info in raw.files]
    typed = raw.frame if raw.typed else type_rows(raw.frame, spec)
    if consume:
        raw.frame = raw.frame.clear()
    read = typed.height

    # one pass: why a row is rejected (null: it is not), then duplicates among the others
    status = pl.col("_code_status")
    why: Any = pl.when(~status.is_in([uscc.OK, uscc.CHECK_MISMATCH])).then(status.cast(pl.String))
    if "tax_year" in spec.fields:
        other = pl.col("tax_year").is_not_null() & (pl.col("tax_year") != report_year)
        why = why.when(other).then(pl.lit(OTHER_YEAR))
    value_columns = [c for c in typed.columns if c not in ("_file", "_row", "_raw_code")]
    # Codes are compared as 128-bit integers (`uscc.key`, one-to-one among the usable codes, the
    # only ones these tests reach): hashing integers is several times faster than strings.
    code_key = uscc.key(pl.col("uscc"))
    if known_codes is not None:
        known = known_keys(known_codes) if known_codes.dtype == pl.String else known_codes
        why = why.when(~code_key.is_in(known.implode())).then(pl.lit(ORPHAN))
    typed = typed.with_columns(why.alias("_why"))
    candidate = pl.col("_why").is_null()
    year_field = YEAR_FIELDS.get(name)
    # Duplicates are rare: compare whole rows only among the candidate rows whose code occurs
    # more than once, and give every other candidate `_first` and one variant directly. Those
    # rows are found in two steps: a 64-bit hash of the key occurring more than once (fast; it
    # keeps every duplicate and, rarely, a collision), then the code itself among those alone.
    maybe = pl.when(candidate).then(code_key.hash()).is_duplicated() & candidate
    index = typed.select(maybe.arg_true()).to_series()
    if year_field == "report_year" and year_field in typed.columns:
        typed = _other_report_years(typed, index, report_year)
        # rows of another report year are candidates no more: a code repeated among the others
        # is among the rows repeated before (the candidates only shrank)
        index = index.filter(typed.get_column("_why").gather(index).is_null())
    exact = typed.select(pl.col("uscc").gather(index).is_duplicated()).to_series()
    index = index.filter(exact)
    group = (
        typed[index]
        .with_columns(pl.struct(value_columns).is_first_distinct().alias("_first"))
        .with_columns(pl.col("_first").sum().over("uscc").alias("_variants"))
    )
    typed = typed.with_columns(
        pl.repeat(True, typed.height, eager=True)
        .scatter(index, group.get_column("_first"))
        .alias("_first"),
        pl.repeat(1, typed.height, dtype=pl.UInt32, eager=True)
        .scatter(index, group.get_column("_variants"))
        .alias("_variants"),
    )
    del group
    conflict = candidate & (pl.col("_variants") > 1)
    keep = candidate & pl.col("_first") & ~conflict
    reason = pl.coalesce(pl.col("_why"), pl.when(conflict).then(pl.lit(CONFLICT)))
    dropped = typed.filter(~keep)
    rejected = dropped.filter(reason.is_not_null())
    raw_code = pl.coalesce("_raw_code", "uscc")
    has_year = year_field is not None and year_field in typed.columns
    rejects = [
        _reject_frame(
            rejected,
            name,
            files,
            pl.when(reason == OTHER_YEAR).then(pl.lit(year_field)).otherwise(pl.lit("uscc")),
            pl.when(reason == OTHER_YEAR)
            .then(pl.col(year_field or "").cast(pl.String))
            .otherwise(raw_code)
            if has_year
            else raw_code,
            reason,
        )
    ]
    conflicts = (
        rejected.filter(pl.col("_why").is_null())  # rejected only for conflicting
        .sort("_file", "_row")
        .group_by("uscc", maintain_order=True)
        .first()
        .select("uscc", *(c for c in ("region_code", "industry_code") if c in typed.columns))
        .with_columns(own_copy(pl.col(pl.String)))
    )
    collapsed = dropped.height - rejected.height
    del dropped, rejected
    keep_mask = typed.select(keep).to_series()
    typed = typed.with_columns(_problem_mask(spec).alias("_problem_mask")).drop(
        "_first", "_variants", "_why", "_raw_code", "_bad_mask", "_bad_raw", "_known", strict=False
    )
    # column by column, each typed column released as soon as its kept rows are copied
    rows = pl.DataFrame([typed.drop_in_place(name).filter(keep_mask) for name in typed.columns])
    del typed
    reject_frame = pl.concat(rejects, how="vertical")
    accounting = Accounting(
        read=read, used=rows.height, rejected=reject_frame.height, collapsed=collapsed
    )
    if not accounting.holds():  # a bug, not a user error: the arithmetic above is exhaustive
        raise AssertionError(f"row accounting broken for {name}: {accounting}")
    return ValidatedExtract(
        name=name,
        rows=rows,
        rejects=reject_frame,
        conflicts=conflicts,
        accounting=accounting,
        per_file=_per_file(raw, rows, reject_frame),
        flag_bits=flag_reasons(name, spec),
    )


def _other_report_years(typed: pl.DataFrame, index: pl.Series, report_year: int) -> pl.DataFrame:
    """Among the candidate annual rows of one business that differ in report year, only those of
    the latest report year not after the run's stay candidates (or of the earliest, when every
    one is after it); the others get `_why` = other_year. A row without a report year counts as
    older than any. Only the candidate rows at `index` are looked at: every candidate row whose
    code is held by another (and, rarely, one whose code's hash is)."""
    if index.len() == 0:
        return typed
    year = pl.col("report_year")
    group = typed.select("uscc", "report_year")[index].with_columns(
        pl.coalesce(
            pl.when(year <= report_year).then(year).max().over("uscc"), year.min().over("uscc")
        ).alias("_target"),
        year.fill_null(-1).n_unique().over("uscc").alias("_years"),
    )
    other = group.select(
        (pl.col("_years") > 1) & (year.is_null() | (year != pl.col("_target"))).fill_null(True)
    ).to_series()
    at = index.filter(other)
    if at.len() == 0:
        return typed
    return typed.with_columns(
        typed.get_column("_why").scatter(at, pl.repeat(OTHER_YEAR, at.len(), eager=True))
    )


def _per_file(raw: RawExtract, rows: pl.DataFrame, rejects: pl.DataFrame) -> dict[str, Accounting]:
    used = dict(rows.group_by("_file").len().iter_rows())
    rejected = dict(rejects.group_by("file").len().iter_rows())
    out = {}
    for index, info in enumerate(raw.files):
        n_used = used.get(index, 0)
        n_rejected = rejected.get(info.path, 0)
        out[info.path] = Accounting(
            read=info.rows,
            used=n_used,
            rejected=n_rejected,
            collapsed=info.rows - n_used - n_rejected,
        )
    return out


def validate_in_order(
    read: Callable[[str], RawExtract],
    specs: Mapping[str, ExtractSpec],
    *,
    report_year: int,
    consume: bool = False,
    stage: Callable[[str], AbstractContextManager[object]] | None = None,
) -> Iterator[tuple[str, ValidatedExtract]]:
    """Validate every extract in the order of `EXTRACTS`, annual first: the codes annual keeps
    (its used rows and its conflicting groups) are the known codes of tax and social, whose other
    rows are orphans. `read(extract)` is called only when the extract's turn comes, and the raw
    handle it returns is dropped once validated (with `consume`, emptied column by column as it
    goes), so at most one raw extract is in memory at a time. `stage(extract)` wraps each
    validation (progress reporting)."""
    known: pl.Series | None = None
    for extract in EXTRACTS:
        raw = read(extract)
        with stage(extract) if stage is not None else nullcontext():
            checked = validate_extract(
                raw, specs[extract], report_year=report_year, known_codes=known, consume=consume
            )
        del raw
        if extract == "annual":  # keyed once for both tax and social
            known = known_keys(
                pl.concat([checked.rows.get_column("uscc"), checked.conflicts.get_column("uscc")])
            )
        yield extract, checked


def known_keys(codes: pl.Series) -> pl.Series:
    """The distinct `uscc.key`s of a column of codes: what `validate_extract` looks orphans up
    in."""
    return codes.to_frame("uscc").select(uscc.key(pl.col("uscc")).drop_nulls().unique()).to_series()
