"""Reading delimited text extracts (CSV, TSV, Excel's "Unicode text") into raw text batches.

I/O only. What a department's text file may be: UTF-8 (with or without BOM), GB18030/GBK, or
UTF-16 with a BOM (Excel's "Unicode text"); lines ending in LF, CRLF, or CR alone (Excel for
Mac's "CSV (Macintosh)"); fields separated by commas, or by tabs (`.tsv`, and `.txt`/`.csv`
files whose header row holds tabs and no comma).

The promise: a row never slides. Every record's fields are counted (quote-aware, vectorised over
the bytes a block at a time, in the same pass that hashes the file) and a file with a row of more
or fewer fields than its header is refused, naming the rows — an unquoted comma in `1,500` or in
a name would otherwise move every later value one column along. Messages name rows and counts,
never a row's values.
"""

from __future__ import annotations

import codecs
import hashlib
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from gthfx.errors import InputError

SNIFF_BYTES = 1 << 20
BLOCK = 1 << 22
ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-8-sig": "utf-8",
    "gb18030": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "utf-16": "utf-16",
    "utf16": "utf-16",
    "utf-16le": "utf-16",
    "utf-16be": "utf-16",
}
SHOWN_ROWS = 5  # row numbers listed in a message about ragged rows
BATCH_ROWS = 1_000_000  # CSV rows read (and typed) at a time: the raw text of one batch only
OVERLAP_BYTES = 64 << 20  # a UTF-8 file this large is checked while it is read (`read_checking`)

Pick = Callable[[list[str]], list[str]]


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


@dataclass
class FieldCounter:
    """Counts the fields of every record of delimited text fed a block at a time, vectorised
    with numpy: quotes toggle a parity, separators and line ends outside quotes count. The first
    record is the header; a record with another count is *ragged* (a blank line is not). Works
    on UTF-8 and on GB18030 bytes alike: neither uses the bytes of `"`, `,`, tab, CR or LF
    inside a multi-byte character."""

    separator: int
    eol: int
    carry: bytes = b""
    records: int = 0
    expected: int | None = None
    ragged: list[tuple[int, int]] = field(default_factory=list)  # (Excel row, fields), first few
    ragged_count: int = 0
    unclosed_row: int | None = None

    def feed(self, block: bytes) -> None:
        data = self.carry + block if self.carry else block
        ends, seps = self._outside(data)
        if ends.size == 0:
            self.carry = data
            return
        done = int(ends[-1]) + 1
        self.carry = data[done:]
        self._records(data, ends, seps[seps < done])

    def _outside(self, data: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the line ends and separators outside quotes. Works on the positions of
        the three bytes, not on the whole block: a quote parity is a count of quotes before
        (measured: five times faster than a running parity over every byte)."""
        raw = np.frombuffer(data, np.uint8)
        ends = np.flatnonzero(raw == self.eol)
        seps = np.flatnonzero(raw == self.separator)
        if data.find(b'"') < 0:
            return ends, seps
        quotes = np.flatnonzero(raw == 34)
        ends = ends[(np.searchsorted(quotes, ends) & 1) == 0]
        seps = seps[(np.searchsorted(quotes, seps) & 1) == 0]
        return ends, seps

    def _records(self, data: bytes, ends: np.ndarray, seps: np.ndarray) -> None:
        starts = np.concatenate(([0], ends[:-1] + 1))
        counts = np.searchsorted(seps, ends)
        fields = np.diff(counts, prepend=0) + 1
        if self.expected is None:
            self.expected = int(fields[0])
        bad = np.flatnonzero(fields != self.expected)
        for index in bad:  # rare: a ragged or blank record
            line = data[int(starts[index]) : int(ends[index])]
            if not line.strip(b" \t\r"):
                continue  # a blank line: read as an empty row, not ragged
            self.ragged_count += 1
            if len(self.ragged) < SHOWN_ROWS:
                self.ragged.append((self.records + int(index) + 1, int(fields[index])))
        self.records += int(ends.size)

    def finish(self) -> None:
        """The last record, which may have no line end."""
        if not self.carry:
            return
        data, self.carry = self.carry, b""
        if data.count(b'"') % 2:
            self.unclosed_row = self.records + 1
            return
        _, seps = self._outside(data)
        self._records(data, np.array([len(data)]), seps)


@dataclass(frozen=True)
class TextLayout:
    """How a text file is laid out: encoding as read, separator and line end."""

    encoding: str  # utf-8, utf-8-sig, gb18030 or utf-16
    separator: str
    eol: str


def _sniff(path: Path, forced: str | None) -> tuple[str | None, bytes]:
    """The encoding a BOM or the user names (None: UTF-8 or GB18030, known after the scan), and
    the file's first bytes."""
    encoding = ENCODINGS.get(forced.lower()) if forced else None
    if forced and encoding is None:
        raise InputError(
            f"{path}: unknown encoding {forced!r}",
            hint="use utf-8, gb18030 or utf-16 (gbk is read as gb18030)",
        )
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and encoding in (None, "utf-16"):
        return "utf-16", head
    if encoding == "utf-16":
        raise InputError(
            f"{path}: --encoding {forced} was given, but the file has no UTF-16 byte-order mark",
            hint="leave the encoding to detection, or re-export the file",
        )
    return encoding, head


def _layout_of(path: Path, text: str, encoding: str) -> TextLayout:
    """Separator and line end from the header row: its own line end (a value further on may
    hold a line break of another kind), and a separator it holds."""
    ends = [i for i in (text.find("\r"), text.find("\n")) if i >= 0]
    end = min(ends) if ends else -1
    eol = "\r" if end >= 0 and text[end] == "\r" and text[end + 1 : end + 2] != "\n" else "\n"
    first = text[:end] if end >= 0 else text
    suffix = path.suffix.lower()
    tabs = "\t" in first and "," not in first
    separator = "\t" if suffix == ".tsv" or tabs else ","
    return TextLayout(encoding=encoding, separator=separator, eol=eol)


def _ragged_error(path: Path, counter: FieldCounter) -> InputError:
    if counter.unclosed_row is not None and not counter.ragged:
        return InputError(
            f"{path}: row {counter.unclosed_row}: a quote opens a value that never closes",
            hint='a value with a stray double quote (") is the usual cause; re-export the file',
        )
    row, fields = counter.ragged[0]
    rows = ", ".join(str(r) for r, _ in counter.ragged)
    more = "" if counter.ragged_count <= SHOWN_ROWS else ", …"
    return InputError(
        f"{path}: row {row} has {fields} fields where the header has {counter.expected} "
        f"({counter.ragged_count} such row(s): {rows}{more}); its values would slide into "
        "the wrong columns, so the file is refused",
        hint="a comma inside a value that is not quoted (a name, or an amount such as 1,500) is "
        "the usual cause: quote such values or re-export the file as CSV from Excel",
    )


def scan(path: Path, separator: str, eol: str) -> tuple[str, bool, FieldCounter]:
    """One pass over the file: its SHA-256, whether it is entirely valid UTF-8, and its field
    counts. The digest of each block is computed on a second thread (hashlib releases the GIL)
    while the block is checked and counted."""
    digest = hashlib.sha256()
    valid = True
    carry = b""
    counter = FieldCounter(ord(separator), ord(eol))
    hashing: Future[None] | None = None
    with path.open("rb") as fh, ThreadPoolExecutor(1) as pool:
        for block in iter(lambda: fh.read(BLOCK), b""):
            if hashing is not None:
                hashing.result()
            hashing = pool.submit(digest.update, block)
            if valid:
                text = carry + block if carry else block
                cut = _complete(text)
                valid = _valid_utf8(text[:cut] if cut < len(text) else text)
                carry = text[cut:]
            counter.feed(block)
        if hashing is not None:
            hashing.result()
    counter.finish()
    return digest.hexdigest(), valid and not carry, counter


def _transcode(path: Path, target: Path, encoding: str, counter: FieldCounter | None) -> None:
    """GB18030 or UTF-16 → UTF-8, a block at a time (counting fields of the UTF-8 text when
    `counter` is given)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as src, target.open("wb") as dst:
        for block in iter(lambda: src.read(BLOCK), b""):
            try:
                out = decoder.decode(block).encode("utf-8")
            except UnicodeDecodeError as exc:
                what = "neither UTF-8 nor GB18030" if encoding == "gb18030" else "not UTF-16"
                raise InputError(
                    f"{path}: {what} text (undecodable byte at offset {offset + exc.start})",
                    hint="re-export the file as UTF-8 CSV, or force an encoding with --encoding",
                ) from None
            dst.write(out)
            if counter is not None:
                counter.feed(out)
            offset += len(block)
        tail = decoder.decode(b"", final=True).encode("utf-8")
        dst.write(tail)
        if counter is not None:
            counter.feed(tail)
            counter.finish()


def _options(layout: TextLayout) -> dict[str, object]:
    return {
        "infer_schema": False,
        "glob": False,
        "separator": layout.separator,
        "eol_char": layout.eol,
    }


def _csv_batches(
    path: Path, source: Path, layout: TextLayout, pick: Pick | None, batch_rows: int
) -> Iterator[pl.DataFrame]:
    """The rows of a UTF-8 text file (`source`; `path` names it in messages), a batch at a
    time."""
    try:
        header = pl.read_csv(source, n_rows=0, raise_if_empty=True, **_options(layout))  # type: ignore[arg-type]
    except pl.exceptions.NoDataError:
        raise InputError(f"{path}: the file is empty (no header row)") from None
    except pl.exceptions.PolarsError:
        raise InputError(
            f"{path}: the header row cannot be read as {_kind(layout)}",
            hint="re-export the file as CSV (UTF-8) from Excel",
        ) from None
    columns = pick(header.columns) if pick is not None else header.columns
    if not columns:
        yield header
        return
    scan_ = pl.scan_csv(source, **_options(layout)).select(columns)  # type: ignore[arg-type]
    done = 0
    try:
        for batch in scan_.collect_batches(chunk_size=batch_rows):
            done += batch.height
            yield batch
    except pl.exceptions.PolarsError:
        # Polars' own message may quote the offending row: never shown (personal data)
        raise InputError(
            f"{path}: cannot read as {_kind(layout)} after row {done + 1}: a malformed row",
            hint="an unclosed or misplaced double quote is the usual cause; re-export the file",
        ) from None
    if done == 0:
        yield header.select(columns)


def _kind(layout: TextLayout) -> str:
    return "tab-separated text" if layout.separator == "\t" else "CSV"


def read_text(
    path: Path, forced: str | None, pick: Pick | None, batch_rows: int = BATCH_ROWS
) -> tuple[Iterator[pl.DataFrame], str, str]:
    """A text extract as text batches → (batches, encoding, sha256); `pick` chooses the columns
    to read from the header row. A file with ragged rows is refused before any row is read."""
    encoding, head = _sniff(path, forced)
    if encoding == "utf-16":
        text = head.decode("utf-16", errors="replace")
        layout = _layout_of(path, text, "utf-16")
        sha = sha256_of(path)
        return _transcoded(path, layout, pick, batch_rows), "utf-16", sha
    layout = _layout_of(path, head.decode("latin-1"), "utf-8")
    sha, valid_utf8, counter = scan(path, layout.separator, layout.eol)
    if encoding == "utf-8" and not valid_utf8:
        raise InputError(
            f"{path}: not valid UTF-8 although --encoding {forced} was given",
            hint="try --encoding gb18030, or leave the encoding to detection",
        )
    if encoding == "utf-8" or (encoding is None and valid_utf8):
        if counter.ragged or counter.unclosed_row is not None:
            raise _ragged_error(path, counter)
        label = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
        return _csv_batches(path, path, layout, pick, batch_rows), label, sha
    gb = TextLayout("gb18030", layout.separator, layout.eol)
    return _transcoded(path, gb, pick, batch_rows, counter), "gb18030", sha


class ReadAgain(Exception):
    """A file read while it was checked (`read_checking`) turned out not to be UTF-8 after its
    first MiB: read it again with `read_text`, which checks first and transcodes."""


def read_checking(
    path: Path, forced: str | None, pick: Pick | None, batch_rows: int = BATCH_ROWS
) -> tuple[Iterator[pl.DataFrame], str, Callable[[], str]] | None:
    """`read_text` for a large file that is UTF-8 as far as its first MiB shows: the pass that
    hashes it, checks its UTF-8 and counts its fields (`scan`) runs on a second thread while its
    rows are read and typed, instead of before (10 M rows: ~3 s less). Its verdict comes with
    the last batch, before any result is written: a ragged row refuses the file, exactly as
    `read_text` does (and explains a malformed row Polars stopped at); text that is not UTF-8
    after all raises `ReadAgain`. → (batches, encoding, the SHA-256 once the batches are read);
    None for any other file (read it with `read_text`)."""
    encoding, head = _sniff(path, forced)
    if encoding not in (None, "utf-8") or path.stat().st_size < OVERLAP_BYTES:
        return None
    if not _valid_utf8(head[: _complete(head)]):
        return None
    layout = _layout_of(path, head.decode("latin-1"), "utf-8")
    label = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    pool = ThreadPoolExecutor(1, thread_name_prefix="gthfx-scan")
    scanned = pool.submit(scan, path, layout.separator, layout.eol)
    pool.shutdown(wait=False)

    def verdict() -> str:
        sha, valid_utf8, counter = scanned.result()
        if not valid_utf8 and encoding == "utf-8":
            raise InputError(
                f"{path}: not valid UTF-8 although --encoding {forced} was given",
                hint="try --encoding gb18030, or leave the encoding to detection",
            )
        if not valid_utf8:
            raise ReadAgain(str(path))
        if counter.ragged or counter.unclosed_row is not None:
            raise _ragged_error(path, counter)
        return sha

    def batches() -> Iterator[pl.DataFrame]:
        try:
            yield from _csv_batches(path, path, layout, pick, batch_rows)
        except InputError:
            verdict()  # a ragged row, or text that is not UTF-8, says more than Polars could
            raise
        verdict()

    return batches(), label, verdict


def _transcoded(
    path: Path,
    layout: TextLayout,
    pick: Pick | None,
    batch_rows: int,
    counted: FieldCounter | None = None,
) -> Iterator[pl.DataFrame]:
    """Transcode to a temporary UTF-8 file, then read it. The fields were `counted` on the raw
    bytes already (GB18030), or are counted on the UTF-8 text as it is written (UTF-16)."""
    with tempfile.TemporaryDirectory(prefix="gthfx-") as tmp:
        target = Path(tmp) / "utf8.csv"
        counter = counted or FieldCounter(ord(layout.separator), ord(layout.eol))
        _transcode(path, target, layout.encoding, None if counted else counter)
        if counter.ragged or counter.unclosed_row is not None:
            raise _ragged_error(path, counter)
        yield from _csv_batches(path, target, layout, pick, batch_rows)


def _head_text(path: Path, forced: str | None) -> tuple[str, TextLayout]:
    """The first MiB of a text file, decoded as well as it can be, and its layout."""
    encoding, head = _sniff(path, forced)
    if encoding is None:
        try:
            text = head.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            text = head[: exc.start].decode("utf-8-sig") if exc.start > len(head) - 4 else ""
            if not text:
                text = head.decode("gb18030", errors="replace")
    else:
        text = head.decode(
            "utf-8-sig" if encoding == "utf-8" else encoding, errors="replace"
        ).lstrip("\ufeff")
    return text, _layout_of(path, text, encoding or "utf-8")


def has_data_rows(path: Path, forced: str | None) -> bool | None:
    """Whether a text file holds a non-blank line after its header (None: cannot tell from its
    first MiB, e.g. a header row longer than that)."""
    text, layout = _head_text(path, forced)
    lines = text.split(layout.eol)
    if len(lines) < 2 and path.stat().st_size > SNIFF_BYTES:
        return None
    return any(line.strip() for line in lines[1:])


def read_header(path: Path, forced: str | None) -> list[str] | None:
    """The header row of a text extract from its first bytes (None when it cannot be read
    there: the full read reports why)."""
    text, layout = _head_text(path, forced)
    first = text.split(layout.eol, 1)[0]
    if not first.strip() or ('"' in first and first.count('"') % 2):
        return None
    try:
        frame = pl.read_csv(
            first.encode("utf-8"),
            n_rows=0,
            infer_schema=False,
            separator=layout.separator,
            raise_if_empty=True,
        )
    except pl.exceptions.PolarsError:
        return None
    return frame.columns


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
