"""From raw text to typed rows: credit codes, typed values, rejects, duplicates, accounting.

Collects every problem; never stops at the first. For each extract:
rows read = rows used + rows rejected + duplicates collapsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from gthfx import uscc
from gthfx.load import RawExtract
from gthfx.parse import has_text, parse, parse_fast
from gthfx.sources import MONEY_FACTOR, ExtractSpec

# reject reasons beyond the code statuses of `uscc`
OTHER_YEAR = "other_year"
ORPHAN = "orphan"
CONFLICT = "conflicting_duplicate"

REJECT_SCHEMA = {
    "extract": pl.String,
    "file": pl.String,
    "row": pl.UInt32,
    "uscc": pl.String,
    "field": pl.String,
    "raw_value": pl.String,
    "reason": pl.String,
}


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
        pl.col("uscc"),
        field_expr.alias("field"),
        raw.alias("raw_value"),
        reason_expr.alias("reason"),
    ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]


MISSING_SHIFT = 32  # problem mask: bit i = field i did not parse; bit 32 + i = required, empty


def problem_reasons(extract: str, spec: ExtractSpec) -> list[tuple[int, str]]:
    """(bit, reason) for every data problem a row of this extract can have, in report order:
    unparseable fields in mapping order, then missing required fields."""
    fields = spec.typed_fields()
    out = [(1 << i, f"unparseable:{extract}.{name}") for i, name in enumerate(fields)]
    out += [
        (1 << (MISSING_SHIFT + i), f"missing:{name}")
        for i, name in enumerate(fields)
        if spec.fields[name].required
    ]
    return out


def type_rows(frame: pl.DataFrame, spec: ExtractSpec) -> pl.DataFrame:
    """Normalise the code, parse every field, and mark the fields that failed to parse.

    Tidy rows take a fast path (plain casts); only rows with some value the fast path cannot
    vouch for (full-width digits, `2024/7/1`, `1,234`, bad values, …) are parsed in full — the
    same result, at a fraction of the cost on real extracts, where most rows are tidy.

    `_bad_mask` has bit i set when field i of `spec.typed_fields()` held text that did not parse;
    `_bad_raw` joins those texts, so that two rows with different bad values are not taken for
    exact duplicates.
    """
    fields = spec.typed_fields()
    if len(fields) >= MISSING_SHIFT:
        raise ValueError(f"at most {MISSING_SHIFT - 1} fields per extract")
    kinds = {name: spec.fields[name].type for name in fields}
    factors = {name: MONEY_FACTOR[spec.fields[name].unit or "元"] for name in fields}
    frame = frame.rename({"uscc": "_raw_code"})
    typed = frame.select(
        "_file",
        "_row",
        parse_fast(pl.col("_raw_code"), "code").alias("uscc"),
        *(parse_fast(pl.col(n), kinds[n], factors[n]).alias(n) for n in fields),
    )
    # a row is unsure when some cell holds text the fast path did not turn into a value
    unsure = pl.any_horizontal(
        frame.get_column("_raw_code").is_not_null() & typed.get_column("uscc").is_null(),
        *(frame.get_column(n).is_not_null() & typed.get_column(n).is_null() for n in fields),
    )
    index = typed.select(unsure.arg_true()).to_series()
    slow = frame[index]
    parsed = slow.select(
        pl.col("_raw_code"),
        uscc.normalise(pl.col("_raw_code")).alias("uscc"),
        *(parse(pl.col(n), kinds[n], factors[n]).alias(n) for n in fields),
    )
    failed = [
        slow.select(has_text(pl.col(n))).to_series() & parsed.get_column(n).is_null()
        for n in fields
    ]
    slow = parsed.with_columns(
        pl.sum_horizontal(
            pl.when(cond).then(pl.lit(1 << i, pl.UInt64)).otherwise(pl.lit(0, pl.UInt64))
            for i, cond in enumerate(failed)
        ).alias("_bad_mask"),
        pl.concat_str(
            [
                pl.when(cond).then(slow.get_column(n))
                for n, cond in zip(fields, failed, strict=True)
            ],
            separator="\x1f",
            ignore_nulls=True,
        ).alias("_bad_raw"),
    ).with_columns(
        pl.when(pl.col("_bad_mask") != 0)
        .then(pl.col("_bad_raw").hash())
        .otherwise(pl.lit(0, pl.UInt64))
        .alias("_bad_raw")
    )
    # Put the fully parsed rows back in place, one column at a time (no copy of the frame).
    # `_raw_code` is kept only for those rows: elsewhere the code was already tidy (= `uscc`).
    # `_bad_raw` is a hash of the text that did not parse (0: none).
    out = typed.with_columns(
        pl.repeat(None, typed.height, dtype=pl.String, eager=True).alias("_raw_code"),
        pl.zeros(typed.height, pl.UInt64, eager=True).alias("_bad_mask"),
        pl.zeros(typed.height, pl.UInt64, eager=True).alias("_bad_raw"),
    )
    if slow.height:
        out = out.with_columns(
            out.get_column(name).scatter(index, slow.get_column(name)) for name in slow.columns
        )
    return out.with_columns(uscc.status(pl.col("uscc")).alias("_code_status"))


def _problem_mask(spec: ExtractSpec) -> pl.Expr:
    """Unparseable bits plus a bit for each required field that is empty (and not unparseable)."""
    fields = spec.typed_fields()
    missing = [
        pl.when(pl.col(name).is_null() & (pl.col("_bad_mask") & (1 << i) == 0))
        .then(pl.lit(1 << (MISSING_SHIFT + i), pl.UInt64))
        .otherwise(pl.lit(0, pl.UInt64))
        for i, name in enumerate(fields)
        if spec.fields[name].required
    ]
    if not missing:
        return pl.col("_bad_mask")
    return pl.col("_bad_mask") | pl.sum_horizontal(missing)


def validate_extract(
    raw: RawExtract,
    spec: ExtractSpec,
    *,
    report_year: int,
    known_codes: pl.Series | None = None,
) -> ValidatedExtract:
    """Type one extract and account for every row.

    Order: unusable codes are rejected; rows of another tax year are rejected; when `known_codes`
    is given (tax, social), rows whose code is not among them are orphans; then exact duplicates
    collapse to one row and conflicting duplicate groups are rejected whole (their business is
    reported as excluded).
    """
    name = raw.name
    files = [info.path for info in raw.files]
    typed = raw.frame if raw.typed else type_rows(raw.frame, spec)
    read = typed.height

    # one pass: why a row is rejected (null: it is not), then duplicates among the others
    status = pl.col("_code_status")
    why: Any = pl.when(~status.is_in([uscc.OK, uscc.CHECK_MISMATCH])).then(status.cast(pl.String))
    if "tax_year" in spec.fields:
        other = pl.col("tax_year").is_not_null() & (pl.col("tax_year") != report_year)
        why = why.when(other).then(pl.lit(OTHER_YEAR))
    value_columns = [c for c in typed.columns if c not in ("_file", "_row", "_raw_code")]
    if known_codes is not None:
        # joins, not `is_in`: several times faster against millions of annual codes. The semi
        # join keeps the codes of this extract that annual knows; the left join is then small.
        found = (
            typed.select(pl.col("uscc").drop_nulls().unique())
            .join(known_codes.to_frame("uscc"), on="uscc", how="semi")
            .with_columns(pl.lit(True).alias("_known"))
        )
        typed = typed.join(found, on="uscc", how="left", maintain_order="left")
        why = why.when(pl.col("_known").is_null()).then(pl.lit(ORPHAN))
    typed = typed.with_columns(why.alias("_why"))
    candidate = pl.col("_why").is_null()
    # Duplicates are rare: compare whole rows only among the candidate rows whose code occurs
    # more than once, and give every other candidate `_first` and one variant directly.
    shared = pl.when(candidate).then(pl.col("uscc")).is_duplicated() & candidate
    index = typed.select(shared.arg_true()).to_series()
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
    has_year = "tax_year" in typed.columns
    rejects = [
        _reject_frame(
            rejected,
            name,
            files,
            pl.when(reason == OTHER_YEAR).then(pl.lit("tax_year")).otherwise(pl.lit("uscc")),
            pl.when(reason == OTHER_YEAR)
            .then(pl.col("tax_year").cast(pl.String))
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
    )
    collapsed = dropped.height - rejected.height
    del dropped, rejected
    keep_mask = typed.select(keep).to_series()
    typed = typed.with_columns(_problem_mask(spec).alias("_problem_mask")).drop(
        "_first", "_variants", "_why", "_raw_code", "_bad_mask", "_bad_raw", "_known", strict=False
    )
    rows = typed.filter(keep_mask)
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
