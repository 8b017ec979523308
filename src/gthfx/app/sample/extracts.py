"""The extracts of the inspection draw (inspections, credit-risk classes, inspectors), read like the
typing extracts.

Any number of CSV (UTF-8, UTF-8 with BOM, GB18030), XLSX or Parquet files, headers matched
through the sources mapping (`sampling_extracts`), messy values cleaned, and every row that
cannot be used rejected with its file, row, field, raw value and reason. For each extract: rows
read = used + rejected + collapsed (exact duplicates).

- inspections: `uscc, inspected_on`; several rows per business are normal (the latest counts);
- risk: `uscc, risk_class` (A–D; `a`, `Ａ`, `A类`, `A级`, `低风险` … accepted); one class per
  business — rows of one business with different classes are all rejected
  (`conflicting_duplicate`) and the business has no class;
- inspectors: `inspector_id, region_code` (a 6-digit code or a district's name) and the codes
  they must not inspect (`recuse`, separated by `;` `；` `,` `，` `、` or spaces); the name is
  personal data and is never read.

Rows of inspections and risk whose code is not in the run are rejected (`orphan`). Cells holding
only `NULL`, `-`, `—`, `/`, `N/A` or `无` are empty. Vectorised: no per-row Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.errors import InputError
from gthfx.ingest import uscc
from gthfx.ingest.items import read_text_columns
from gthfx.ingest.load import FileInfo
from gthfx.ingest.parse import clean
from gthfx.ingest.validate import Accounting, type_rows
from gthfx.report.regions import REGION_NAMES
from gthfx.settings.sources import ExtractSpec
from gthfx.vocab import CONFLICT, ORPHAN, REJECT_SCHEMA

PLACEHOLDERS = ("null", "-", "—", "/", "n/a", "无")
RISK_CLASSES = ("A", "B", "C", "D")
RISK_ALIASES = {"低风险": "A", "一般风险": "B", "较高风险": "C", "高风险": "D"}
SEPARATORS = r"[;；,，、\s]+"
UNKNOWN_VALUE = "unknown_value"


@dataclass
class Extract:
    """The usable rows of one sampling extract, its rejected rows and its accounting."""

    name: str
    rows: pl.DataFrame
    rejects: pl.DataFrame
    accounting: Accounting
    files: list[FileInfo]


def _read(name: str, paths: Sequence[Path], spec: ExtractSpec, encoding: str | None) -> Any:
    """Every file as text columns with canonical names (personal fields left out), `_file` and
    `_row` (the Excel row number: the header is row 1)."""
    seen = [p.resolve() for p in paths]
    twice = sorted({str(p) for p in paths if seen.count(p.resolve()) > 1})
    if twice:
        raise InputError(f"the {name} extract names the same file twice: {', '.join(twice)}")
    names = [n for n, f in spec.fields.items() if not f.personal]
    return read_text_columns(name, paths, spec, encoding, names)


def _text(column: str) -> pl.Expr:
    """A cell cleaned (NFKC, trimmed), with the placeholders of missing values made empty."""
    text = clean(pl.col(column))
    return pl.when(~text.str.to_lowercase().is_in(PLACEHOLDERS)).then(text)


def _rejects(
    frame: pl.DataFrame, name: str, files: list[FileInfo], problems: list[tuple[pl.Expr, str, Any]]
) -> tuple[pl.DataFrame, pl.Series]:
    """The rows with a problem (the first, in the order given: condition, field, reason) as
    rejects, and the mask of the rows without one. The conditions are evaluated once over every
    row; which one comes first, and its words, only over the (few) rows that have one."""
    bad = frame.select(
        pl.any_horizontal(c.fill_null(False) for c, _, _ in problems).alias("bad")
    ).to_series()
    reason: Any = None
    field: Any = None
    raw: Any = None
    for condition, column, why in problems:
        why_expr = why if isinstance(why, pl.Expr) else pl.lit(why)
        hit = condition.fill_null(False)
        reason = (pl.when if reason is None else reason.when)(hit).then(why_expr)
        field = (pl.when if field is None else field.when)(hit).then(pl.lit(column))
        raw = (pl.when if raw is None else raw.when)(hit).then(pl.col(f"_raw_{column}"))
    paths = dict(enumerate(info.path for info in files))
    rejects = (
        frame.filter(bad)
        .select(
            pl.lit(name).alias("extract"),
            pl.col("_file").replace_strict(paths, return_dtype=pl.String).alias("file"),
            pl.col("_row").alias("row"),
            pl.col("uscc") if "uscc" in frame.columns else pl.lit(None, pl.String).alias("uscc"),
            field.alias("field"),
            raw.alias("raw_value"),
            reason.alias("reason"),
        )
        .cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    )
    return rejects, ~bad


def _finish(
    name: str,
    raw: pl.DataFrame,
    kept: pl.DataFrame,
    rejects: pl.DataFrame,
    files: list[FileInfo],
    values: list[str],
) -> Extract:
    """Exact duplicates (equal `values`) collapse to their first row; the accounting holds."""
    rows = kept.filter(pl.struct(values).is_first_distinct())
    accounting = Accounting(
        read=raw.height,
        used=rows.height,
        rejected=rejects.height,
        collapsed=kept.height - rows.height,
    )
    if not accounting.holds():  # a bug: the split above is exhaustive
        raise AssertionError(f"row accounting broken for {name}: {accounting}")
    return Extract(name, rows, rejects, accounting, files)


def _code_problems(name: str, known: pl.Series | None) -> list[tuple[pl.Expr, str, Any]]:
    status = pl.col("_code_status")
    problems: list[tuple[pl.Expr, str, Any]] = [
        (~status.is_in([uscc.OK, uscc.CHECK_MISMATCH]), "uscc", status.cast(pl.String))
    ]
    if known is not None:  # codes compared as 128-bit integers, as the typing extracts do
        keys = known.to_frame("uscc").select(uscc.key(pl.col("uscc")).drop_nulls()).to_series()
        problems.append((~uscc.key(pl.col("uscc")).is_in(keys.implode()), "uscc", ORPHAN))
    return problems


def _placeholder(column: str) -> pl.Expr:
    """True where a cell holds only a placeholder of a missing value (`NULL`, `-`, `无` …)."""
    return pl.col(column).str.strip_chars().str.to_lowercase().is_in(PLACEHOLDERS).fill_null(False)


def _typed(raw: pl.DataFrame, spec: ExtractSpec) -> pl.DataFrame:
    """Placeholders emptied, then the typing extracts' own typing (`validate.type_rows`: tidy
    cells on a fast path, the others parsed in full); the raw text kept as `_raw_<field>`.
    `_bad_mask` bit i: field i of `spec.typed_fields()` held text that did not parse."""
    fields = ["uscc", *spec.typed_fields()]
    emptied = raw.select(
        "_file",
        "_row",
        *(pl.when(~_placeholder(f)).then(pl.col(f)).alias(f) for f in fields),
    )
    typed = type_rows(emptied, spec)
    return typed.with_columns(raw.select(pl.col(f).alias(f"_raw_{f}") for f in fields))


def read_inspections(
    paths: Sequence[Path], spec: ExtractSpec, known: pl.Series, encoding: str | None = None
) -> Extract:
    """Inspection records → `uscc, inspected_on` (one row per distinct record)."""
    raw, files = _read("inspections", paths, spec, encoding)
    frame = _typed(raw, spec)
    bit = 1 << spec.typed_fields().index("inspected_on")
    unparseable = (pl.col("_bad_mask") & bit) != 0
    problems = _code_problems("inspections", known)
    problems += [
        (unparseable, "inspected_on", "unparseable:inspections.inspected_on"),
        (pl.col("inspected_on").is_null(), "inspected_on", "missing:inspected_on"),
    ]
    rejects, ok = _rejects(frame, "inspections", files, problems)
    kept = frame.filter(ok).select("_file", "_row", "uscc", "inspected_on")
    return _finish("inspections", raw, kept, rejects, files, ["uscc", "inspected_on"])


def _risk_words() -> dict[str, str]:
    """Every accepted way of writing a class (after NFKC and trimming) → A–D."""
    words = dict(RISK_ALIASES)
    for klass in RISK_CLASSES:
        for letter in (klass, klass.lower()):
            for suffix in ("", "类", "级", "类别", "级别"):
                words[letter + suffix] = klass
    return words


def read_risk(
    paths: Sequence[Path], spec: ExtractSpec, known: pl.Series, encoding: str | None = None
) -> Extract:
    """Credit-risk classes → `uscc, risk_class` (A–D), one row per business."""
    raw, files = _read("risk", paths, spec, encoding)
    frame = _typed(raw, spec).with_columns(
        pl.col("risk_class")
        .replace_strict(_risk_words(), default=None, return_dtype=pl.String)
        .alias("_class")
    )
    problems = _code_problems("risk", known)
    problems += [
        (pl.col("risk_class").is_null(), "risk_class", "missing:risk_class"),
        (pl.col("_class").is_null(), "risk_class", f"{UNKNOWN_VALUE}:risk.risk_class"),
    ]
    first, ok = _rejects(frame, "risk", files, problems)
    usable = frame.filter(ok)
    # one class per business: rows that disagree are all rejected
    conflict = pl.col("_class").n_unique().over("uscc") > 1
    conflicting = usable.filter(conflict)
    second = conflicting.select(
        pl.lit("risk").alias("extract"),
        pl.col("_file")
        .replace_strict(dict(enumerate(i.path for i in files)), return_dtype=pl.String)
        .alias("file"),
        pl.col("_row").alias("row"),
        pl.col("uscc"),
        pl.lit("risk_class").alias("field"),
        pl.col("_raw_risk_class").alias("raw_value"),
        pl.lit(CONFLICT).alias("reason"),
    ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    kept = usable.filter(~conflict).select(
        "_file", "_row", "uscc", pl.col("_class").alias("risk_class")
    )
    rejects = pl.concat([first, second]).sort("file", "row")
    return _finish("risk", raw, kept, rejects, files, ["uscc", "risk_class"])


def _region(column: str) -> pl.Expr:
    """A district as its 6-digit code: the code itself, or a known district's name."""
    text = _text(column).str.replace_all(r"\s+", "")
    by_name = {name: code for code, name in REGION_NAMES.items()}
    named = text.replace_strict(by_name, default=None, return_dtype=pl.String)
    return pl.when(text.str.contains(r"^\d{6}$")).then(text).otherwise(named)


def read_inspectors(
    paths: Sequence[Path], spec: ExtractSpec, encoding: str | None = None
) -> Extract:
    """Inspectors → `inspector_id, region_code, recuse` (a sorted list of codes), one row per
    inspector."""
    raw, files = _read("inspectors", paths, spec, encoding)
    codes = (
        _text("recuse")
        .str.replace_all(SEPARATORS, "\x1f")
        .str.strip_chars("\x1f")
        .str.split("\x1f")
        .list.eval(uscc.normalise(pl.element()))
        .list.drop_nulls()
    )
    pattern = f"^[{uscc.CHARSET}]{{18}}$"
    frame = raw.with_columns(
        pl.col("inspector_id").alias("_raw_inspector_id"),
        pl.col("region_code").alias("_raw_region_code"),
        pl.col("recuse").alias("_raw_recuse"),
        _text("inspector_id").str.replace_all(r"\s+", "").alias("_id"),
        _text("region_code").is_null().alias("_no_region"),
        _region("region_code").alias("_region"),
        codes.fill_null(pl.lit([], pl.List(pl.String))).alias("_recuse"),
    )
    bad_code = (
        pl.col("_recuse").list.eval(~pl.element().str.contains(pattern)).list.any().fill_null(False)
    )
    problems: list[tuple[pl.Expr, str, Any]] = [
        (pl.col("_id").is_null(), "inspector_id", "missing:inspector_id"),
        (pl.col("_no_region"), "region_code", "missing:region_code"),
        (pl.col("_region").is_null(), "region_code", f"{UNKNOWN_VALUE}:inspectors.region_code"),
        (bad_code, "recuse", uscc.MALFORMED),
    ]
    frame = frame.with_columns(pl.lit(None, pl.String).alias("uscc"))
    first, ok = _rejects(frame, "inspectors", files, problems)
    usable = frame.filter(ok).with_columns(pl.col("_recuse").list.unique().list.sort())
    conflict = pl.struct("_region", "_recuse").n_unique().over("_id") > 1
    second = (
        usable.filter(conflict)
        .select(
            pl.lit("inspectors").alias("extract"),
            pl.col("_file")
            .replace_strict(dict(enumerate(i.path for i in files)), return_dtype=pl.String)
            .alias("file"),
            pl.col("_row").alias("row"),
            pl.lit(None, pl.String).alias("uscc"),
            pl.lit("inspector_id").alias("field"),
            pl.col("_raw_inspector_id").alias("raw_value"),
            pl.lit(CONFLICT).alias("reason"),
        )
        .cast(REJECT_SCHEMA)
    )
    kept = usable.filter(~conflict).select(
        "_file",
        "_row",
        pl.col("_id").alias("inspector_id"),
        pl.col("_region").alias("region_code"),
        pl.col("_recuse").alias("recuse"),
    )
    rejects = pl.concat([first, second]).sort("file", "row")
    return _finish(
        "inspectors", raw, kept, rejects, files, ["inspector_id", "region_code", "recuse"]
    )
