"""Reading extract files (CSV/TSV/Unicode text, XLSX, Parquet) into raw text frames.

I/O only: every value stays the text the department sent (typed parsing is `validate`'s job).
Each frame gets the canonical column names of the sources mapping, plus `_file` (index into the
list of files read) and `_row` (the row number a clerk sees in Excel: the header is row 1, or
the sheet's own row numbers). What a file cannot be read as the mapping says is an `InputError`
naming the file (and row); what it can be read despite is a warning kept with the file
(`FileInfo.warnings`: a field the ruleset reads that no header provides, merged cells filled,
an .xls whose cell types cannot be checked, a file without data rows).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from gthfx.errors import InputError
from gthfx.ingest import csvread, xlsxread
from gthfx.ingest.csvread import SNIFF_BYTES, sha256_of
from gthfx.ingest.headers import map_headers, unread_field_warnings
from gthfx.settings.sources import ExtractSpec

__all__ = [
    "SNIFF_BYTES",
    "FileInfo",
    "RawExtract",
    "check_files",
    "iter_table",
    "load_extract",
    "map_headers",
    "read_table",
    "scan_bytes",
    "sha256_of",
]

ENCODINGS = csvread.ENCODINGS
BATCH_ROWS = 1_000_000  # CSV rows read (and typed) at a time: the raw text of one batch only
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
XLSX_SUFFIXES = (".xlsx", ".xlsm", ".xls")
NUMERIC_CODE = "_numeric_code"  # marks rows whose code cell was a number (see `validate`)
# Batches typed at once (`transform`, on threads: Polars releases the GIL). Typing a batch is a
# chain of small queries, most on one core; two batches at a time keep both cores of a small
# server busy while the next batch is read. One more batch is held while it is typed.
TYPING_THREADS = 2


@dataclass(frozen=True)
class FileInfo:
    """What the manifest records of one input file."""

    extract: str
    path: str
    sha256: str
    format: str
    encoding: str | None
    rows: int
    columns: dict[str, str]  # canonical field → header found in the file
    ignored_columns: tuple[str, ...]  # headers carried by the file but not in the mapping
    sheet: str | None = None  # the workbook sheet read
    warnings: tuple[str, ...] = ()  # what the file could be read despite (see module docstring)

    @property
    def key(self) -> str:
        """The file in per-file accounting: one file may serve two extracts."""
        return f"{self.extract}:{self.path}"


@dataclass
class RawExtract:
    """All files of one extract, stacked: canonical text columns + `_file` + `_row`."""

    name: str
    frame: pl.DataFrame
    files: list[FileInfo] = field(default_factory=list)
    typed: bool = False  # true when `load_extract` already ran `validate.type_rows` per batch


def scan_bytes(path: Path) -> tuple[str, bool]:
    """One pass over the file: its SHA-256, and whether it is entirely valid UTF-8."""
    sha, valid, _ = csvread.scan(path, ",", "\n")
    return sha, valid


Pick = Callable[[list[str]], list[str]]
_IGNORED_CHARS = 64  # an ignored header is kept in the manifest cut to this many characters


def kept_type(dtype: pl.DataType) -> bool:
    """The Parquet types a column keeps on load (`load_extract` with a transform): numbers,
    dates, date-times and flags, which `type_rows` takes as they are instead of parsing their
    text. Any other type is read as text."""
    return dtype.is_numeric() or dtype == pl.Date or dtype == pl.Boolean or dtype == pl.Datetime


def _damaged(path: Path) -> InputError:
    return InputError(
        f"{path}: cannot read as Parquet (a damaged or not a Parquet file)",
        hint="write the file again",
    )


def _read_parquet(
    path: Path, pick: Pick | None, keep: Callable[[str], bool] | None = None
) -> Iterator[pl.DataFrame]:
    """A Parquet file in batches of `BATCH_ROWS` rows (whole row groups are skipped, so only one
    batch is ever in memory), every column as text — or, for the columns `keep` names, in its
    own type where `kept_type` says so."""
    try:
        schema = pl.read_parquet_schema(path)
        height = pl.scan_parquet(path, glob=False).select(pl.len()).collect().item()
    except Exception:  # polars/arrow raise several unrelated types for corrupt files
        raise _damaged(path) from None
    names = list(schema)
    columns = pick(names) if pick is not None else names
    nested = [c for c in columns if schema[c].is_nested()]
    if nested:
        raise InputError(
            f"{path}: the column `{nested[0]}` holds nested values (a {schema[nested[0]]}), "
            "not plain values",
            hint="flatten the column before exporting the extract",
        )
    as_read = [
        pl.col(c)
        if keep is not None and keep(c) and kept_type(schema[c])
        else pl.col(c).cast(pl.String)
        for c in columns
    ]

    def batches() -> Iterator[pl.DataFrame]:
        for start in range(0, max(height, 1), BATCH_ROWS):
            try:
                frame = (
                    pl.scan_parquet(path, glob=False)
                    .select(as_read)
                    .slice(start, BATCH_ROWS)
                    .collect()
                )
            except Exception:
                raise _damaged(path) from None
            yield frame

    return batches()


def read_table(
    path: Path, encoding: str | None = None, pick: Pick | None = None
) -> tuple[pl.DataFrame, str, str | None]:
    """One whole file as text columns with its own headers → (frame, format, encoding)."""
    batches, fmt, enc, _ = iter_table(path, encoding, pick)
    return pl.concat(list(batches), how="vertical"), fmt, enc


def iter_table(
    path: Path, encoding: str | None = None, pick: Pick | None = None
) -> tuple[Iterator[pl.DataFrame], str, str | None, str]:
    """One file as text batches with its own headers → (batches, format, encoding, sha256).
    For CSV and Parquet, `pick` may choose the columns to read from the header row. A workbook
    is read from its active (else first visible) sheet, header in its first row."""
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        sheet = xlsxread.read_sheet(path, lambda headers: True)
        return iter([sheet.frame]), "xlsx", None, sha256_of(path)
    if suffix == ".parquet":
        return _read_parquet(path, pick), "parquet", None, sha256_of(path)
    if suffix in TEXT_SUFFIXES:
        batches, enc, sha = csvread.read_text(path, encoding, pick, BATCH_ROWS)
        return batches, "csv", enc, sha
    raise InputError(
        f"{path}: unknown file type {suffix or '(none)'}",
        hint="extracts are .csv, .tsv, .txt, .xlsx or .parquet",
    )


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")
    if path.name.startswith("~$"):
        raise InputError(
            f"{path}: an Excel owner (lock) file of an open workbook, not an extract",
            hint="close the workbook in Excel, or leave the ~$ file out",
        )


def _has_data_rows(path: Path, encoding: str | None) -> bool | None:
    """Whether a file holds at least one data row (None: cannot tell cheaply)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            return bool(pl.scan_parquet(path, glob=False).select(pl.len()).collect().item())
        except Exception:
            return None
    if suffix in TEXT_SUFFIXES:
        return csvread.has_data_rows(path, encoding)
    return None


def check_files(
    extract: str, paths: list[Path], spec: ExtractSpec, encoding: str | None = None
) -> None:
    """Before any data is read: every file exists, is not empty, and (text) has the required
    columns; the annual extract holds at least one data row. The same checks run again on
    load; this only makes them fail early."""
    for path in paths:
        _check_file(path)
        if path.suffix.lower() in TEXT_SUFFIXES:
            header = csvread.read_header(path, encoding)
            if header is not None:
                map_headers(path, extract, spec, header)
    if extract == "annual" and paths:
        found = [_has_data_rows(p, encoding) for p in paths]
        if all(f is False for f in found):
            raise InputError(
                f"the annual extract has no data rows ({', '.join(str(p) for p in paths)}): "
                "there is no business to type",
                hint="check that the right file was exported (a header row alone is empty)",
            )


class _HeaderPick:
    """Maps a file's header row (checking required fields) and names the columns to read."""

    def __init__(self, path: Path, extract: str, spec: ExtractSpec, wanted: list[str]) -> None:
        self.path, self.extract, self.spec, self.wanted = path, extract, spec, wanted
        self.mapped: tuple[dict[str, str], tuple[str, ...]] | None = None

    def __call__(self, headers: list[str]) -> list[str]:
        self.mapped = map_headers(self.path, self.extract, self.spec, headers)
        found = self.mapped[0]
        return [found[name] for name in self.wanted if name in found]

    def typed_column(self, header: str) -> bool:
        """Whether a column may keep its own (Parquet) type: every field but the code, which is
        always read as text (a code stored as a number has lost its letters or digits)."""
        return self.mapped is None or self.mapped[0].get("uscc") != header


@dataclass
class _Opened:
    """One file opened for reading: its batches (own headers) and what is known of it."""

    batches: Iterator[pl.DataFrame]
    fmt: str
    encoding: str | None
    sha: Callable[[], str]  # the file's SHA-256, once its batches are read
    pick: _HeaderPick
    rows: Iterator[pl.Series] | None = None  # Excel row numbers per batch (workbooks)
    numeric_rows: np.ndarray | None = None  # Excel rows whose code cell was a number
    sheet: str | None = None
    warnings: list[str] = field(default_factory=list)


def _open_workbook(path: Path, extract: str, spec: ExtractSpec, pick: _HeaderPick) -> _Opened:
    def maps(headers: list[str]) -> bool:
        try:
            map_headers(path, extract, spec, headers)
        except InputError:
            return False
        return True

    def fail(headers: list[str]) -> None:
        map_headers(path, extract, spec, headers)

    sheet = xlsxread.read_sheet(path, maps, spec.sheet, spec.header_row, fail)
    pick(list(sheet.frame.columns))
    found = pick.mapped[0] if pick.mapped else {}
    warnings = list(sheet.warnings)
    numeric = None
    code_header = found.get("uscc")
    if code_header is not None:
        numeric = sheet.big_numbers.get(sheet.columns[code_header])
        if not sheet.numbers_checked:
            warnings.append(
                f"{path}: the workbook's cell types cannot be checked (an .xls, or cells without "
                "references): a credit code stored as a number would go unnoticed; save the "
                "file as .xlsx with the code column formatted as text"
            )
    return _Opened(
        batches=iter([sheet.frame]),
        fmt="xlsx",
        encoding=None,
        sha=_known(sha256_of(path)),
        pick=pick,
        rows=iter([sheet.rows]),
        numeric_rows=numeric,
        sheet=sheet.sheet,
        warnings=warnings,
    )


def _known(sha: str) -> Callable[[], str]:
    return lambda: sha


def _open(
    path: Path,
    extract: str,
    spec: ExtractSpec,
    encoding: str | None,
    wanted: list[str],
    keep_types: bool = False,
    checking: bool = False,
) -> _Opened:
    """A file opened for reading; with `checking`, a large UTF-8 text file is checked while it
    is read (`csvread.read_checking`, which may raise `csvread.ReadAgain` at its end)."""
    _check_file(path)
    pick = _HeaderPick(path, extract, spec, wanted)
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return _open_workbook(path, extract, spec, pick)
    if suffix == ".parquet":
        keep = pick.typed_column if keep_types else None
        sha = _known(sha256_of(path))
        return _Opened(_read_parquet(path, pick, keep), "parquet", None, sha, pick)
    if suffix in TEXT_SUFFIXES:
        checked = csvread.read_checking(path, encoding, pick, BATCH_ROWS) if checking else None
        if checked is not None:
            return _Opened(checked[0], "csv", checked[1], checked[2], pick)
        batches, enc, digest = csvread.read_text(path, encoding, pick, BATCH_ROWS)
        return _Opened(batches, "csv", enc, _known(digest), pick)
    raise InputError(
        f"{path}: unknown file type {suffix or '(none)'}",
        hint="extracts are .csv, .tsv, .txt, .xlsx or .parquet",
    )


def load_extract(
    extract: str,
    paths: list[Path],
    spec: ExtractSpec,
    encoding: str | None = None,
    transform: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    in_order: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    restart: Callable[[int], None] | None = None,
) -> RawExtract:
    """Read and stack every file of one extract: one text column per field, plus `_file` and
    `_row`. With `transform`, each batch is transformed as soon as it is read (the pipeline types
    it: `validate.type_rows`), so the raw text of a large extract is never all in memory at once;
    a typed Parquet column (a date, a number, a flag: `kept_type`) then reaches it in its own
    type, for `type_rows` takes typed columns as they are. A code cell a workbook stored as a
    number is marked (`_numeric_code`, only where there is one). Batches are transformed two at
    a time on threads (`TYPING_THREADS`): `transform` must not depend on the order it sees them
    in; `in_order` (a step that remembers what it saw first, like recheck's corrections) is
    then applied to each transformed batch in file order, on the calling thread. `restart` is
    called with a file's index before that file is read again from its start (found not to be
    UTF-8 at its end: `csvread.ReadAgain`): a transform that wrote batches elsewhere removes
    that file's (the batches read again may be cut elsewhere)."""
    frames: list[pl.DataFrame] = []
    infos: list[FileInfo] = []
    seen = [p.resolve() for p in paths]
    twice = sorted({str(p) for p in paths if seen.count(p.resolve()) > 1})
    if twice:
        raise InputError(f"the {extract} extract names the same file twice: {', '.join(twice)}")
    wanted = ["uscc", *spec.typed_fields()]
    for index, path in enumerate(paths):
        try:
            info = _load_file(
                index, path, extract, spec, encoding, wanted, transform, frames, True, in_order
            )
        except csvread.ReadAgain:  # not UTF-8 after its first MiB: checked first, transcoded
            if restart is not None:
                restart(index)
            info = _load_file(
                index, path, extract, spec, encoding, wanted, transform, frames, False, in_order
            )
        infos.append(info)
    if frames:
        same = all(f.columns == frames[0].columns for f in frames)
        stacked = pl.concat(frames, how="vertical" if same else "diagonal_relaxed")
        frames.clear()
        # one chunk per column, a column at a time: columns cut differently (a Parquet file's
        # row groups inside a batch, a constant column) would otherwise make the first query on
        # the frame copy all of it at once to line them up (1.3 GB at 10 M annual rows)
        stacked = pl.DataFrame([stacked.drop_in_place(c).rechunk() for c in stacked.columns])
        if NUMERIC_CODE in stacked.columns:
            stacked = stacked.with_columns(pl.col(NUMERIC_CODE).fill_null(False))
    else:
        empty = pl.DataFrame(
            schema={"_file": pl.UInt16, "_row": pl.UInt32, **dict.fromkeys(wanted, pl.String)}
        )
        stacked = transform(empty) if transform is not None else empty
        stacked = in_order(stacked) if in_order is not None else stacked  # an empty frame
    return RawExtract(name=extract, frame=stacked, files=infos, typed=transform is not None)


def _load_file(
    index: int,
    path: Path,
    extract: str,
    spec: ExtractSpec,
    encoding: str | None,
    wanted: list[str],
    transform: Callable[[pl.DataFrame], pl.DataFrame] | None,
    frames: list[pl.DataFrame],
    checking: bool = False,
    in_order: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> FileInfo:
    """Read one file of an extract into `frames` (nothing of it stays there when it raises);
    `transform` and `in_order` as `load_extract` says."""

    def then(frame: pl.DataFrame) -> pl.DataFrame:
        return in_order(frame) if in_order is not None else frame

    opened = _open(path, extract, spec, encoding, wanted, transform is not None, checking)
    mark = len(frames)
    rows = 0
    found: dict[str, str] = {}
    ignored: tuple[str, ...] = ()
    pool = ThreadPoolExecutor(TYPING_THREADS, thread_name_prefix="gthfx-type")
    typing: deque[Future[pl.DataFrame]] = deque()  # batches being typed, in file order
    try:
        for batch in opened.batches:
            found, ignored = opened.pick.mapped or map_headers(path, extract, spec, batch.columns)
            numbers = (
                pl.lit(next(opened.rows))
                if opened.rows is not None
                else pl.int_range(pl.len(), dtype=pl.UInt32) + rows + 2
            )
            frame = batch.select(
                pl.lit(index, pl.UInt16).alias("_file"),
                numbers.cast(pl.UInt32).alias("_row"),
                *(
                    (pl.col(found[name]) if name in found else pl.lit(None, pl.String)).alias(name)
                    for name in wanted
                ),
            )
            if opened.numeric_rows is not None and opened.numeric_rows.size:
                marked = pl.Series(opened.numeric_rows, dtype=pl.UInt32)
                frame = frame.with_columns(
                    pl.col("_row").is_in(marked.implode()).alias(NUMERIC_CODE)
                )
            rows += frame.height
            if transform is None:
                frames.append(then(frame))
                continue
            if len(typing) == TYPING_THREADS:
                frames.append(then(typing.popleft().result()))
            typing.append(pool.submit(transform, frame))
            del batch, frame  # held by the task alone: freed once typed
        while typing:
            frames.append(then(typing.popleft().result()))
        sha = opened.sha()
    except BaseException:
        for task in typing:
            task.cancel()
        del frames[mark:]
        raise
    finally:
        pool.shutdown(wait=True)
    warnings = [*opened.warnings, *unread_field_warnings(path, extract, spec, found, ignored)]
    if rows == 0:
        warnings.append(f"{path}: the {extract} file has a header row but no data rows")
    return FileInfo(
        extract=extract,
        path=str(path),
        sha256=sha,
        format=opened.fmt,
        encoding=opened.encoding,
        rows=rows,
        columns=found,
        ignored_columns=tuple(_cut(h) for h in ignored),
        sheet=opened.sheet,
        warnings=tuple(warnings),
    )


def personal_values(
    extract: str,
    paths: list[Path],
    spec: ExtractSpec,
    codes: set[str],
    encoding: str | None = None,
) -> dict[str, list[str]]:
    """The personal values (operator names, ID numbers, phones) the files hold for `codes`,
    per normalised code: only so that a business's own words that repeat them can be masked.
    Never written anywhere, never logged."""
    from gthfx.ingest.uscc import normalise

    fields = spec.personal_fields()
    if not fields or not codes:
        return {}
    wanted = ["uscc", *fields]
    out: dict[str, list[str]] = {}
    for path in paths:
        opened = _open(path, extract, spec, encoding, wanted)
        for batch in opened.batches:
            found = opened.pick.mapped[0] if opened.pick.mapped else {}
            if "uscc" not in found:
                continue
            frame = batch.select(
                normalise(pl.col(found["uscc"])).alias("uscc"),
                *(pl.col(found[f]).alias(f) for f in fields if f in found),
            ).filter(pl.col("uscc").is_in(sorted(codes)))
            for values in frame.iter_rows():
                out.setdefault(values[0], []).extend(v for v in values[1:] if v)
    return out


def _cut(header: str) -> str:
    return header if len(header) <= _IGNORED_CHARS else header[: _IGNORED_CHARS - 1] + "…"
