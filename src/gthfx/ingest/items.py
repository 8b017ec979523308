"""Item extracts — several rows per business (名特优新 applications, evidence, records, objections):
read, typed, checked and accounted for, with every unusable row rejected with its file and row.

Like the typing extracts (`load` + `validate`), and vectorised the same way, but an item is a
row, not a business: there are no conflicting duplicates, only exact duplicates (equal after
parsing), which collapse to one and are counted. A row is rejected, with the first problem in
field order, when its code is missing, malformed or not a `92…` code; when a non-empty value does
not parse as its type; when a required field is empty; or when a coded field (`申报类别`, `级别`, …)
holds a word its vocabulary does not list. Personal data is read only to be masked at once
(`<field>_masked`); the unmasked value is never kept. For every extract and file:
rows read = rows used + rows rejected + duplicates collapsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.errors import InputError
from gthfx.ingest import uscc
from gthfx.ingest.load import FileInfo, iter_table, map_headers
from gthfx.ingest.masking import MASKS
from gthfx.ingest.parse import clean, failed, parse
from gthfx.ingest.validate import Accounting
from gthfx.settings.sources import MONEY_FACTOR, ExtractSpec
from gthfx.vocab import REJECT_SCHEMA

# words of a multi-valued field are separated by any of these (知名、特色 / 知名,特色 / 知名;特色)
SEPARATORS = r"[、,，;；/／\s]+"
UNKNOWN_VALUE = "unknown_value"
# cells holding only these are missing values, not words (SPEC §3); bool fields keep 无 = false
PLACEHOLDERS = ("null", "-", "—", "/", "n/a", "无")


@dataclass
class Items:
    """The typed rows of one item extract (`_file`, `_row`, `uscc`, `_code_status`, the fields),
    its rejected rows (REJECT_SCHEMA) and its accounting."""

    name: str
    rows: pl.DataFrame
    rejects: pl.DataFrame
    accounting: Accounting
    per_file: dict[str, Accounting]
    files: list[FileInfo]


def word_key(expr: pl.Expr) -> pl.Expr:
    """How coded words are compared: NFKC, no white space, lower case."""
    return expr.str.normalize("NFKC").str.replace_all(r"\s+", "").str.to_lowercase()


def _lookup(words: Mapping[str, str]) -> dict[str, str]:
    return {
        pl.select(word_key(pl.lit(word))).item(): canonical for word, canonical in words.items()
    }


def _read(extract: str, paths: list[Path], spec: ExtractSpec, encoding: str | None) -> Any:
    """Every file of the extract as text columns (canonical names), `_file` and `_row`."""
    names = list(spec.fields)
    frames: list[pl.DataFrame] = []
    infos: list[FileInfo] = []
    for index, path in enumerate(paths):
        batches, fmt, enc, sha = iter_table(path, encoding)
        rows = 0
        found: dict[str, str] = {}
        ignored: tuple[str, ...] = ()
        for batch in batches:
            found, ignored = map_headers(path, extract, spec, batch.columns)
            frames.append(
                batch.select(
                    pl.lit(index, pl.UInt16).alias("_file"),
                    (pl.int_range(pl.len(), dtype=pl.UInt32) + rows + 2).alias("_row"),
                    *(
                        (
                            pl.col(found[n]).cast(pl.String)
                            if n in found
                            else pl.lit(None, pl.String)
                        ).alias(n)
                        for n in names
                    ),
                )
            )
            rows += batch.height
        infos.append(FileInfo(extract, str(path), sha, fmt, enc, rows, found, ignored))
    if frames:
        return pl.concat(frames, how="vertical"), infos
    schema = {"_file": pl.UInt16, "_row": pl.UInt32, **dict.fromkeys(names, pl.String)}
    return pl.DataFrame(schema=schema), infos


def load_items(
    extract: str,
    paths: list[Path],
    spec: ExtractSpec,
    vocabulary: Mapping[str, Mapping[str, str]],
    *,
    multi: frozenset[str] = frozenset(),
    encoding: str | None = None,
) -> Items:
    """Read, type and check the files of one item extract. `vocabulary` maps a coded field to
    its accepted words (word → canonical word); `multi` names the fields that hold several words
    (each must be accepted; the column becomes a sorted list of canonical words, order of first
    appearance in the vocabulary)."""
    seen = [p.resolve() for p in paths]
    twice = sorted({str(p) for p in paths if seen.count(p.resolve()) > 1})
    if twice:
        raise InputError(f"the {extract} extract names the same file twice: {', '.join(twice)}")
    raw, infos = _read(extract, paths, spec, encoding)
    return check_items(extract, raw, spec, vocabulary, multi=multi, files=infos)


def check_items(
    extract: str,
    raw: pl.DataFrame,
    spec: ExtractSpec,
    vocabulary: Mapping[str, Mapping[str, str]],
    *,
    multi: frozenset[str] = frozenset(),
    files: list[FileInfo],
) -> Items:
    """Type and check raw text rows (`_file`, `_row` and one text column per field of `spec`)."""
    fields = [n for n in spec.fields if n != "uscc"]
    personal = [n for n in fields if spec.fields[n].personal]
    plain = [n for n in fields if n not in personal]
    code = uscc.normalise(pl.col("uscc"))
    typed_exprs: list[pl.Expr] = []
    problems: list[tuple[pl.Expr, str, str]] = []  # (condition, field, reason), in field order
    status = uscc.status(pl.col("_code"))
    problems.append(
        (
            ~status.is_in([uscc.OK, uscc.CHECK_MISMATCH]),
            "uscc",
            "",  # the code status itself
        )
    )
    for name in plain:
        fspec = spec.fields[name]
        raw_col = pl.col(name)
        value: pl.Expr
        if name in vocabulary:
            words = _lookup(vocabulary[name])
            order = {w: i for i, w in enumerate(dict.fromkeys(vocabulary[name].values()))}
            if name in multi:
                rank = {key: order[canonical] for key, canonical in words.items()}
                back = {i: w for w, i in order.items()}
                split = clean(raw_col).str.replace_all(SEPARATORS, "\x1f").str.split("\x1f")
                keys = split.list.eval(word_key(pl.element())).list.eval(
                    pl.element().filter(pl.element().str.len_chars() > 0)
                )
                ranks = keys.list.eval(
                    pl.element().replace_strict(rank, default=None, return_dtype=pl.Int32)
                )
                bad = ranks.list.eval(pl.element().is_null()).list.any().fill_null(False)
                value = pl.when(~bad & (ranks.list.len() > 0)).then(
                    ranks.list.unique()
                    .list.sort()
                    .list.eval(pl.element().replace_strict(back, return_dtype=pl.String))
                )
                problems.append((bad, name, f"{UNKNOWN_VALUE}:{extract}.{name}"))
            else:
                text = clean(raw_col)
                value = word_key(text).replace_strict(words, default=None, return_dtype=pl.String)
                problems.append(
                    (
                        text.is_not_null() & value.is_null(),
                        name,
                        f"{UNKNOWN_VALUE}:{extract}.{name}",
                    )
                )
            typed_exprs.append(value.alias(name))
        else:
            factor = MONEY_FACTOR[fspec.unit or "元"]
            value = parse(raw_col, fspec.type, factor)
            typed_exprs.append(value.alias(name))
            if fspec.type != "text":
                problems.append((failed(raw_col, value), name, f"unparseable:{extract}.{name}"))
        if fspec.required:
            problems.append((clean(raw_col).is_null(), name, f"missing:{name}"))
    # problems in field order: the code, then each field (unparseable/unknown before missing)
    order = {"uscc": -1, **{n: i for i, n in enumerate(fields)}}
    problems.sort(key=lambda p: (order[p[1]], p[2].startswith("missing:")))
    reason: Any = None
    field: Any = None
    raw_value: Any = None
    for condition, name, why in problems:
        word = status.cast(pl.String) if name == "uscc" else pl.lit(why)
        reason = (pl.when if reason is None else reason.when)(condition).then(word)
        field = (pl.when if field is None else field.when)(condition).then(pl.lit(name))
        raw_value = (pl.when if raw_value is None else raw_value.when)(condition).then(pl.col(name))
    frame = raw.with_columns(
        code.alias("_code"),
        *(
            pl.when(word_key(pl.col(n)).is_in(PLACEHOLDERS))
            .then(None)
            .otherwise(pl.col(n))
            .alias(n)
            for n in plain
            if spec.fields[n].type != "bool"
        ),
    )
    checked = frame.with_columns(
        reason.alias("_reason"), field.alias("_field"), raw_value.alias("_raw_value")
    )
    bad_rows = checked.filter(pl.col("_reason").is_not_null())
    paths = [info.path for info in files]
    rejects = bad_rows.select(
        pl.lit(extract).alias("extract"),
        pl.col("_file")
        .replace_strict(dict(enumerate(paths)), return_dtype=pl.String)
        .alias("file"),
        pl.col("_row").alias("row"),
        pl.col("_code").alias("uscc"),
        pl.col("_field").alias("field"),
        pl.col("_raw_value").alias("raw_value"),
        pl.col("_reason").alias("reason"),
    ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    good = checked.filter(pl.col("_reason").is_null())
    typed = good.select(
        "_file",
        "_row",
        pl.col("_code").alias("uscc"),
        status.alias("_code_status"),
        *typed_exprs,
        *(MASKS[n](pl.col(n)).alias(f"{n}_masked") for n in personal if n in MASKS),
        # a hash of the personal values, only to tell rows apart (never written)
        pl.struct(personal).hash().alias("_personal")
        if personal
        else pl.lit(0, pl.UInt64).alias("_personal"),
    )
    value_columns = [c for c in typed.columns if c not in ("_file", "_row")]
    first = typed.select(pl.struct(value_columns).is_first_distinct()).to_series()
    rows = typed.filter(first).drop("_personal")
    collapsed = typed.height - rows.height
    accounting = Accounting(
        read=raw.height, used=rows.height, rejected=rejects.height, collapsed=collapsed
    )
    if not accounting.holds():  # a bug: the split above is exhaustive
        raise AssertionError(f"row accounting broken for {extract}: {accounting}")
    per_file: dict[str, Accounting] = {}
    used = dict(rows.group_by("_file").len().iter_rows())
    rejected = dict(rejects.group_by("file").len().iter_rows())
    for index, info in enumerate(files):
        n_used, n_rej = used.get(index, 0), rejected.get(info.path, 0)
        per_file[info.path] = Accounting(info.rows, n_used, n_rej, info.rows - n_used - n_rej)
    return Items(extract, rows, rejects, accounting, per_file, files)
