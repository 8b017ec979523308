"""Reading extract files (CSV in UTF-8 / UTF-8-BOM / GB18030, XLSX, Parquet) into raw text frames.

I/O only: every value stays the text the department sent (typed parsing is `validate`'s job).
Each frame gets the canonical column names of the sources mapping, plus `_file` (index into the
list of files read) and `_row` (the row number a clerk sees in Excel: the header is row 1).
"""

from __future__ import annotations

import codecs
import hashlib
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from gthfx.errors import InputError
from gthfx.settings.sources import ExtractSpec, normalise_header

SNIFF_BYTES = 1 << 20
ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-8-sig": "utf-8",
    "gb18030": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
}


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


@dataclass
class RawExtract:
    """All files of one extract, stacked: canonical text columns + `_file` + `_row`."""

    name: str
    frame: pl.DataFrame
    files: list[FileInfo] = field(default_factory=list)
    typed: bool = False  # true when `load_extract` already ran `validate.type_rows` per batch


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the first MiB decodes as UTF-8, else GB18030."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < SNIFF_BYTES)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def _csv_options() -> dict[str, object]:
    return {
        "infer_schema": False,
        "empty_string_is_null": True,
        "raise_if_empty": True,
        "glob": False,
    }


Pick = Callable[[list[str]], list[str]]
BATCH_ROWS = 1_000_000  # CSV rows read (and typed) at a time: the raw text of one batch only


def _complete(block: bytes) -> int:
    """The length of `block` without a UTF-8 character cut off at its end (one that a following
    block may complete); the whole length when its end is not such a start."""
    size = len(block)
    for back in range(1, min(4, size) + 1):
        byte = block[size - back]
        if byte & 0xC0 != 0x80:  # not a continuation byte: ASCII or the lead of a character
            need = (
                2
                if byte >> 5 == 0b110
                else 3
                if byte >> 4 == 0b1110
                else 4
                if byte >> 3 == 0b11110
                else 1
            )
            return size - back if need > back else size
    return size


def _valid_utf8(block: bytes) -> bool:
    """Whether `block` is entirely valid UTF-8 (checked in Rust by Polars: several times faster
    than decoding it in Python)."""
    try:
        pl.Series([block], dtype=pl.Binary).cast(pl.String)
    except pl.exceptions.ComputeError:
        return False
    return True


def scan_bytes(path: Path) -> tuple[str, bool]:
    """One pass over the file: its SHA-256, and whether it is entirely valid UTF-8. The digest of
    each block is computed on a second thread (hashlib releases the GIL) while the block is
    checked."""
    digest = hashlib.sha256()
    valid = True
    carry = b""
    hashing: Future[None] | None = None
    with path.open("rb") as fh, ThreadPoolExecutor(1) as pool:
        for block in iter(lambda: fh.read(1 << 22), b""):
            if hashing is not None:
                hashing.result()
            hashing = pool.submit(digest.update, block)
            if valid:
                text = carry + block if carry else block
                cut = _complete(text)
                valid = _valid_utf8(text[:cut] if cut < len(text) else text)
                carry = text[cut:]
        if hashing is not None:
            hashing.result()
    return digest.hexdigest(), valid and not carry


def _transcode(path: Path, target: Path) -> None:
    """GB18030 → UTF-8, a block at a time."""
    decoder = codecs.getincrementaldecoder("gb18030")()
    offset = 0
    with path.open("rb") as src, target.open("wb") as dst:
        for block in iter(lambda: src.read(1 << 22), b""):
            try:
                dst.write(decoder.decode(block).encode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path}: neither UTF-8 nor GB18030 text (undecodable byte at offset "
                    f"{offset + exc.start})",
                    hint="re-export the file as UTF-8 CSV, or force an encoding with --encoding",
                ) from None
            offset += len(block)
        dst.write(decoder.decode(b"", final=True).encode("utf-8"))


def _csv_batches(path: Path, source: Path, pick: Pick | None) -> Iterator[pl.DataFrame]:
    """The rows of a UTF-8 CSV (`source`; `path` names it in messages), a batch at a time."""
    try:
        header = pl.read_csv(source, n_rows=0, **_csv_options())  # type: ignore[arg-type]
    except pl.exceptions.NoDataError:
        raise InputError(f"{path}: the file is empty (no header row)") from None
    except pl.exceptions.ComputeError as exc:
        raise InputError(f"{path}: cannot read as CSV: {_first_line(exc)}") from None
    columns = pick(header.columns) if pick is not None else header.columns
    if not columns:
        yield header
        return
    scan = pl.scan_csv(source, infer_schema=False, glob=False).select(columns)
    done = 0
    try:
        for batch in scan.collect_batches(chunk_size=BATCH_ROWS):
            done += batch.height
            yield batch
    except pl.exceptions.PolarsError as exc:
        raise InputError(
            f"{path}: cannot read as CSV after row {done + 1}: {_first_line(exc)}",
            hint="a row with more fields than the header, or an unclosed quote, is the usual cause",
        ) from None
    if done == 0:
        yield header.select(columns)


def _read_csv(
    path: Path, forced: str | None, pick: Pick | None
) -> tuple[Iterator[pl.DataFrame], str, str]:
    """A CSV as text batches → (batches, encoding, sha256); `pick` chooses the columns to read
    from the header row."""
    encoding = ENCODINGS.get(forced.lower()) if forced else None
    if forced and encoding is None:
        raise InputError(
            f"{path}: unknown encoding {forced!r}",
            hint="use utf-8 or gb18030 (gbk is read as gb18030)",
        )
    sha, valid_utf8 = scan_bytes(path)
    if encoding == "utf-8" and not valid_utf8:
        raise InputError(
            f"{path}: not valid UTF-8 although --encoding {forced} was given",
            hint="try --encoding gb18030, or leave the encoding to detection",
        )
    if encoding == "utf-8" or (encoding is None and valid_utf8):
        with path.open("rb") as fh:
            bom = fh.read(3) == codecs.BOM_UTF8
        return _csv_batches(path, path, pick), "utf-8-sig" if bom else "utf-8", sha

    def transcoded() -> Iterator[pl.DataFrame]:
        with tempfile.TemporaryDirectory(prefix="gthfx-") as tmp:
            target = Path(tmp) / "utf8.csv"
            _transcode(path, target)
            yield from _csv_batches(path, target, pick)

    return transcoded(), "gb18030", sha


def _read_xlsx(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_excel(
            path, engine="calamine", infer_schema_length=0, sheet_id=1, drop_empty_rows=False
        )
    except Exception as exc:  # fastexcel raises its own family, not exported stably
        raise InputError(f"{path}: cannot read as an Excel workbook: {_first_line(exc)}") from None
    return frame


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars/arrow raise several unrelated types for corrupt files
        raise InputError(f"{path}: cannot read as Parquet: {_first_line(exc)}") from None
    return frame.select(pl.all().cast(pl.String))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


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
    For CSV, `pick` may choose the columns to read from the header row."""
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return iter([_read_xlsx(path)]), "xlsx", None, sha256_of(path)
    if suffix == ".parquet":
        return iter([_read_parquet(path)]), "parquet", None, sha256_of(path)
    if suffix in (".csv", ".txt", ".tsv"):
        batches, enc, sha = _read_csv(path, encoding, pick)
        return batches, "csv", enc, sha
    raise InputError(
        f"{path}: unknown file type {suffix or '(none)'}",
        hint="extracts are .csv, .xlsx or .parquet",
    )


def map_headers(
    path: Path, extract: str, spec: ExtractSpec, headers: list[str]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """canonical field → header in the file; a missing required field is an error."""
    by_norm: dict[str, str] = {}
    for header in headers:
        by_norm.setdefault(normalise_header(header), header)
    found: dict[str, str] = {}
    for name, fspec in spec.fields.items():
        for accepted in fspec.headers:
            match = by_norm.get(normalise_header(accepted))
            if match is not None:
                found[name] = match
                break
        else:
            if fspec.required:
                raise InputError(
                    f"{path}: the {extract} extract needs the field `{name}` ({fspec.label}), "
                    f"but none of the accepted headers is there: {', '.join(fspec.headers)}",
                    hint=f"the file's headers are: {', '.join(headers) or '(none)'}; add the "
                    "one it uses to the sources mapping (gthfx.yaml `sources:`)",
                )
    used = set(found.values())
    ignored = tuple(h for h in headers if h not in used)
    return found, ignored


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")


def check_files(extract: str, paths: list[Path], spec: ExtractSpec) -> None:
    """Before any data is read: every file exists, is not empty, and (CSV) has the required
    columns. The same checks run again on load; this only makes them fail early."""
    for path in paths:
        _check_file(path)
        if path.suffix.lower() == ".csv" and _detect_encoding(path) != "gb18030":
            try:
                header = pl.read_csv(path, n_rows=0, encoding="utf8-lossy", **_csv_options())  # type: ignore[arg-type]
            except (pl.exceptions.ComputeError, pl.exceptions.NoDataError):
                continue  # the full read reports it, with its own message
            map_headers(path, extract, spec, header.columns)


class _HeaderPick:
    """Maps a file's header row (checking required fields) and names the columns to read."""

    def __init__(self, path: Path, extract: str, spec: ExtractSpec, wanted: list[str]) -> None:
        self.path, self.extract, self.spec, self.wanted = path, extract, spec, wanted
        self.mapped: tuple[dict[str, str], tuple[str, ...]] | None = None

    def __call__(self, headers: list[str]) -> list[str]:
        self.mapped = map_headers(self.path, self.extract, self.spec, headers)
        found = self.mapped[0]
        return [found[name] for name in self.wanted if name in found]


def load_extract(
    extract: str,
    paths: list[Path],
    spec: ExtractSpec,
    encoding: str | None = None,
    transform: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> RawExtract:
    """Read and stack every file of one extract: one text column per field, plus `_file` and
    `_row`. With `transform`, each batch is transformed as soon as it is read (the pipeline types
    it), so the raw text of a large extract is never all in memory at once."""
    frames: list[pl.DataFrame] = []
    infos: list[FileInfo] = []
    seen = [p.resolve() for p in paths]
    twice = sorted({str(p) for p in paths if seen.count(p.resolve()) > 1})
    if twice:
        raise InputError(f"the {extract} extract names the same file twice: {', '.join(twice)}")
    wanted = ["uscc", *spec.typed_fields()]
    for index, path in enumerate(paths):
        pick = _HeaderPick(path, extract, spec, wanted)
        batches, fmt, enc, sha = iter_table(path, encoding, pick)
        rows = 0
        found: dict[str, str] = {}
        ignored: tuple[str, ...] = ()
        for batch in batches:
            found, ignored = pick.mapped or map_headers(path, extract, spec, batch.columns)
            frame = batch.select(
                pl.lit(index, pl.UInt16).alias("_file"),
                (pl.int_range(pl.len(), dtype=pl.UInt32) + rows + 2).alias("_row"),
                *(
                    (pl.col(found[name]) if name in found else pl.lit(None, pl.String)).alias(name)
                    for name in wanted
                ),
            )
            rows += frame.height
            frames.append(transform(frame) if transform is not None else frame)
        infos.append(
            FileInfo(
                extract=extract,
                path=str(path),
                sha256=sha,
                format=fmt,
                encoding=enc,
                rows=rows,
                columns=found,
                ignored_columns=ignored,
            )
        )
    if frames:
        stacked = pl.concat(frames, how="vertical")
    else:
        empty = pl.DataFrame(
            schema={"_file": pl.UInt16, "_row": pl.UInt32, **dict.fromkeys(wanted, pl.String)}
        )
        stacked = transform(empty) if transform is not None else empty
    return RawExtract(name=extract, frame=stacked, files=infos, typed=transform is not None)
