"""Reading extract files (CSV in UTF-8 / UTF-8-BOM / GB18030, XLSX, Parquet) into raw text frames.

I/O only: every value stays the text the department sent (typed parsing is `validate`'s job).
Each frame gets the canonical column names of the sources mapping, plus `_file` (index into the
list of files read) and `_row` (the row number a clerk sees in Excel: the header is row 1).
"""

from __future__ import annotations

import codecs
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from gthfx.errors import InputError
from gthfx.sources import ExtractSpec, normalise_header

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


def _read_csv(path: Path, forced: str | None, pick: Pick | None) -> tuple[pl.DataFrame, str]:
    """Read a CSV as text; `pick` chooses, from the header row, the columns to read."""
    encoding = ENCODINGS.get(forced.lower()) if forced else None
    if forced and encoding is None:
        raise InputError(
            f"{path}: unknown encoding {forced!r}",
            hint="use utf-8 or gb18030 (gbk is read as gb18030)",
        )
    detected = encoding or _detect_encoding(path)
    if detected in ("utf-8", "utf-8-sig"):
        try:
            columns = None
            if pick is not None:
                header = pl.read_csv(path, n_rows=0, encoding="utf8", **_csv_options())  # type: ignore[arg-type]
                columns = pick(header.columns)
            return pl.read_csv(path, encoding="utf8", columns=columns, **_csv_options()), detected  # type: ignore[arg-type]
        except pl.exceptions.ComputeError as exc:
            if "utf-8" not in str(exc).lower() and "utf8" not in str(exc).lower():
                raise InputError(f"{path}: cannot read as CSV: {_first_line(exc)}") from None
            if forced:
                raise InputError(
                    f"{path}: not valid UTF-8 although --encoding {forced} was given",
                    hint="try --encoding gb18030, or leave the encoding to detection",
                ) from None
            detected = "gb18030"
        except pl.exceptions.NoDataError:
            raise InputError(f"{path}: the file is empty (no header row)") from None
    try:
        text = path.read_bytes().decode("gb18030")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: neither UTF-8 nor GB18030 text (undecodable byte at offset {exc.start})",
            hint="re-export the file as UTF-8 CSV, or force an encoding with --encoding",
        ) from None
    data = text.encode("utf-8")
    del text
    try:
        columns = None
        if pick is not None:
            header = pl.read_csv(io.BytesIO(data), n_rows=0, **_csv_options())  # type: ignore[arg-type]
            columns = pick(header.columns)
        return pl.read_csv(io.BytesIO(data), columns=columns, **_csv_options()), "gb18030"  # type: ignore[arg-type]
    except pl.exceptions.NoDataError:
        raise InputError(f"{path}: the file is empty (no header row)") from None
    except pl.exceptions.ComputeError as exc:
        raise InputError(f"{path}: cannot read as CSV: {_first_line(exc)}") from None


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
    """One file as text columns with its own headers → (frame, format, encoding). For CSV,
    `pick` may choose the columns to read from the header row (the others are never parsed)."""
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return _read_xlsx(path), "xlsx", None
    if suffix == ".parquet":
        return _read_parquet(path), "parquet", None
    if suffix in (".csv", ".txt", ".tsv"):
        frame, enc = _read_csv(path, encoding, pick)
        return frame, "csv", enc
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


def check_files(extract: str, paths: list[Path], spec: ExtractSpec) -> None:
    """Before any data is read: every file exists, is not empty, and (CSV) has the required
    columns. The same checks run again on load; this only makes them fail early."""
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: file not found")
        if path.is_dir():
            raise InputError(f"{path}: is a folder, not a file")
        if path.stat().st_size == 0:
            raise InputError(f"{path}: the file is empty (0 bytes)")
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
    extract: str, paths: list[Path], spec: ExtractSpec, encoding: str | None = None
) -> RawExtract:
    """Read and stack every file of one extract; the result has one text column per field."""
    frames: list[pl.DataFrame] = []
    infos: list[FileInfo] = []
    seen = [p.resolve() for p in paths]
    twice = sorted({str(p) for p in paths if seen.count(p.resolve()) > 1})
    if twice:
        raise InputError(f"the {extract} extract names the same file twice: {', '.join(twice)}")
    wanted = ["uscc", *spec.typed_fields()]
    for index, path in enumerate(paths):
        pick = _HeaderPick(path, extract, spec, wanted)
        frame, fmt, enc = read_table(path, encoding, pick)
        found, ignored = pick.mapped or map_headers(path, extract, spec, frame.columns)
        columns = [
            (pl.col(found[name]) if name in found else pl.lit(None, pl.String)).alias(name)
            for name in wanted
        ]
        frame = frame.select(
            pl.lit(index, pl.UInt16).alias("_file"),
            (pl.int_range(pl.len(), dtype=pl.UInt32) + 2).alias("_row"),
            *columns,
        )
        frames.append(frame)
        infos.append(
            FileInfo(
                extract=extract,
                path=str(path),
                sha256=sha256_of(path),
                format=fmt,
                encoding=enc,
                rows=frame.height,
                columns=found,
                ignored_columns=ignored,
            )
        )
    if frames:
        stacked = pl.concat(frames, how="vertical")
    else:
        stacked = pl.DataFrame(
            schema={"_file": pl.UInt16, "_row": pl.UInt32, **dict.fromkeys(wanted, pl.String)}
        )
    return RawExtract(name=extract, frame=stacked, files=infos)
