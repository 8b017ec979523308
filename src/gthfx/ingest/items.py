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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.errors import InputError
from gthfx.ingest import uscc
from gthfx.ingest.load import FileInfo, iter_table, map_headers
from gthfx.ingest.masking import MASKS
from gthfx.ingest.validate import Accounting, type_rows
from gthfx.settings.sources import ExtractSpec
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


def read_text_columns(
    extract: str,
    paths: Sequence[Path],
    spec: ExtractSpec,
    encoding: str | None,
    names: Sequence[str] | None = None,
) -> tuple[pl.DataFrame, list[FileInfo]]:
    """Every file of an item extract as text columns with canonical names — `names`, by default
    every field of `spec` — plus `_file` and `_row` (the Excel row number: the header is row 1),
    and what the manifest records of each file."""
    names = list(spec.fields) if names is None else list(names)
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
        found = {k: v for k, v in found.items() if k in names}
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
    raw, infos = read_text_columns(extract, paths, spec, encoding)
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
    """Type and check raw text rows (`_file`, `_row` and one text column per field of `spec`).

    Values are typed by `validate.type_rows` (the fast path for tidy cells, the full parse for
    the others — the same typing as the typing extracts); coded fields are then looked up in
    their vocabulary, and each row's first problem, in field order, decides its rejection."""
    fields = [n for n in spec.fields if n != "uscc"]
    personal = [n for n in fields if spec.fields[n].personal]
    plain = spec.typed_fields()  # every field but the code and personal data, in mapping order
    # placeholders are empty cells (yes/no fields keep 无 = 否)
    frame = raw.with_columns(
        pl.when(word_key(pl.col(n)).is_in(PLACEHOLDERS)).then(None).otherwise(pl.col(n)).alias(n)
        for n in plain
        if spec.fields[n].type != "bool"
    )
    typed = type_rows(frame.select("_file", "_row", "uscc", *plain), spec)
    typed = typed.with_columns(
        frame.select(
            pl.col("uscc").alias("_raw_uscc"), *(pl.col(n).alias(f"_raw_{n}") for n in plain)
        )
    )
    values: list[pl.Expr] = []
    problems: list[tuple[pl.Expr, str, pl.Expr]] = []  # (condition, field, reason), field order
    status = pl.col("_code_status")
    problems.append((~status.is_in([uscc.OK, uscc.CHECK_MISMATCH]), "uscc", status.cast(pl.String)))
    for bit, name in enumerate(plain):
        fspec = spec.fields[name]
        bad = (pl.col("_bad_mask") & (1 << bit)) != 0
        problems.append((bad, name, pl.lit(f"unparseable:{extract}.{name}")))
        if name in vocabulary:
            value: pl.Expr
            words = _lookup(vocabulary[name])
            order = {w: i for i, w in enumerate(dict.fromkeys(vocabulary[name].values()))}
            unknown = pl.lit(f"{UNKNOWN_VALUE}:{extract}.{name}")
            if name in multi:
                rank = {key: order[canonical] for key, canonical in words.items()}
                back = {i: w for w, i in order.items()}
                split = pl.col(name).str.replace_all(SEPARATORS, "\x1f").str.split("\x1f")
                keys = split.list.eval(word_key(pl.element())).list.eval(
                    pl.element().filter(pl.element().str.len_chars() > 0)
                )
                ranks = keys.list.eval(
                    pl.element().replace_strict(rank, default=None, return_dtype=pl.Int32)
                )
                wrong = ranks.list.eval(pl.element().is_null()).list.any().fill_null(False)
                value = pl.when(~wrong & (ranks.list.len() > 0)).then(
                    ranks.list.unique()
                    .list.sort()
                    .list.eval(pl.element().replace_strict(back, return_dtype=pl.String))
                )
                problems.append((wrong, name, unknown))
            else:
                value = word_key(pl.col(name)).replace_strict(
                    words, default=None, return_dtype=pl.String
                )
                problems.append((pl.col(name).is_not_null() & value.is_null(), name, unknown))
            values.append(value.alias(f"_v_{name}"))
        if fspec.required:
            problems.append((pl.col(name).is_null() & ~bad, name, pl.lit(f"missing:{name}")))
    reason: Any = None
    field: Any = None
    raw_value: Any = None
    for condition, name, why in problems:
        source = pl.col(f"_raw_{name}")
        reason = (pl.when if reason is None else reason.when)(condition).then(why)
        field = (pl.when if field is None else field.when)(condition).then(pl.lit(name))
        raw_value = (pl.when if raw_value is None else raw_value.when)(condition).then(source)
    checked = typed.with_columns(values).with_columns(
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
        pl.col("uscc"),
        pl.col("_field").alias("field"),
        pl.col("_raw_value").alias("raw_value"),
        pl.col("_reason").alias("reason"),
    ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    keep = checked.select(pl.col("_reason").is_null()).to_series()
    if personal:
        masked = raw.filter(keep).select(
            *(MASKS[n](pl.col(n)).alias(f"{n}_masked") for n in personal if n in MASKS),
            # a hash of the personal values, only to tell rows apart (never written)
            pl.struct(personal).hash().alias("_personal"),
        )
    else:
        masked = pl.DataFrame({"_personal": pl.zeros(int(keep.sum()), pl.UInt64, eager=True)})
    coded = {n for n in plain if n in vocabulary}
    good = checked.filter(keep).select(
        "_file",
        "_row",
        "uscc",
        "_code_status",
        *(pl.col(f"_v_{n}").alias(n) if n in coded else pl.col(n) for n in plain),
    )
    typed_rows = pl.concat([good, masked], how="horizontal")
    value_columns = [c for c in typed_rows.columns if c not in ("_file", "_row")]
    first = typed_rows.select(pl.struct(value_columns).is_first_distinct()).to_series()
    rows = typed_rows.filter(first).drop("_personal")
    collapsed = typed_rows.height - rows.height
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
