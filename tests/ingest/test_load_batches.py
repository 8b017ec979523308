"""Batched reading: row numbers continue across batches, typing per batch gives the same result
as typing all at once, whole-file encoding checks, and CSV structure errors — each both ways a
text file is read: checked first (`csvread.read_text`), and checked on a second thread while it
is read (`csvread.read_checking`, every file here forced down that path), which must end the
same: the same rows, the same digest, the same refusals."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from gthfx.errors import InputError
from gthfx.ingest import csvread, load
from gthfx.ingest.validate import type_rows, validate_extract
from gthfx.settings.sources import load_sources

HEADER = "统一社会信用代码,成立日期,登记状态,从业人数\n"
ROWS = [f"9242010{i % 10}MA4K1B2C9D,2020-01-0{1 + i % 9},存续,{i}\n" for i in range(23)]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "BATCH_ROWS", 5)


@pytest.fixture(autouse=True, params=["checked first", "checked while read"])
def checking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "checked while read":
        monkeypatch.setattr(csvread, "OVERLAP_BYTES", 0)
    return str(request.param)


@pytest.mark.usefixtures("small_batches")
def test_rows_are_numbered_across_batches(tmp_path: Path) -> None:
    spec = load_sources().extracts["annual"]
    path = write(tmp_path / "a.csv", HEADER + "".join(ROWS))
    raw = load.load_extract("annual", [path], spec)
    assert raw.frame.get_column("_row").to_list() == list(range(2, 25))
    assert raw.files[0].rows == 23


@pytest.mark.usefixtures("small_batches")
def test_typing_per_batch_equals_typing_at_once(tmp_path: Path) -> None:
    spec = load_sources().extracts["annual"]
    messy = [r.replace("2020-01-0", "2020/1/") if i % 3 == 0 else r for i, r in enumerate(ROWS)]
    path = write(
        tmp_path / "a.csv", HEADER + "".join(messy) + "92420102MA4K1B2C9D,坏日期,存续,三人\n"
    )
    whole = load.load_extract("annual", [path], spec)
    batched = load.load_extract("annual", [path], spec, transform=lambda f: type_rows(f, spec))
    assert batched.typed and not whole.typed
    a = validate_extract(whole, spec, report_year=2023)
    b = validate_extract(batched, spec, report_year=2023)
    assert a.accounting == b.accounting
    assert a.rows.sort("_file", "_row").equals(b.rows.sort("_file", "_row"))
    assert a.rejects.equals(b.rejects)


@pytest.mark.usefixtures("small_batches")
def test_batches_typed_at_once_keep_the_file_order(tmp_path: Path) -> None:
    """Batches are typed two at a time on threads (`TYPING_THREADS`); a batch that takes longer
    does not let the next one overtake it."""
    spec = load_sources().extracts["annual"]
    path = write(tmp_path / "a.csv", HEADER + "".join(ROWS))
    seen: list[int] = []

    def slow_first(frame: pl.DataFrame) -> pl.DataFrame:
        first = frame.get_column("_row")[0]
        seen.append(first)
        if first == 2:  # the first batch finishes last
            time.sleep(0.3)
        return type_rows(frame, spec)

    after: list[int] = []

    def remember(frame: pl.DataFrame) -> pl.DataFrame:  # like recheck's corrections
        after.append(frame.get_column("_row")[0])
        return frame

    raw = load.load_extract("annual", [path], spec, transform=slow_first, in_order=remember)
    assert load.TYPING_THREADS == 2
    assert raw.frame.get_column("_row").to_list() == list(range(2, 25))
    assert sorted(seen) == [2, 7, 12, 17, 22]
    assert after == [2, 7, 12, 17, 22]  # in file order, whichever batch was typed first


@pytest.mark.usefixtures("small_batches")
def test_a_batch_that_fails_to_type_stops_the_file(tmp_path: Path) -> None:
    """The error of the first failing batch is raised, the batches after it are not typed, and
    nothing of the file is kept."""
    spec = load_sources().extracts["annual"]
    path = write(tmp_path / "a.csv", HEADER + "".join(ROWS))
    typed: list[int] = []

    def fails_at_row_7(frame: pl.DataFrame) -> pl.DataFrame:
        first = frame.get_column("_row")[0]
        if first == 7:
            raise ValueError("batch from row 7")
        typed.append(first)
        return type_rows(frame, spec)

    with pytest.raises(ValueError, match="batch from row 7"):
        load.load_extract("annual", [path], spec, transform=fails_at_row_7)
    # typed two at a time: the batch after the failing one may have been, none later
    assert 2 in typed and 17 not in typed and 22 not in typed


@pytest.mark.usefixtures("small_batches")
def test_gb18030_is_transcoded_in_batches(tmp_path: Path) -> None:
    spec = load_sources().extracts["annual"]
    path = write(tmp_path / "a.csv", HEADER + "".join(ROWS), "gb18030")
    raw = load.load_extract("annual", [path], spec)
    assert raw.files[0].encoding == "gb18030"
    assert raw.frame.get_column("register_status").unique().to_list() == ["存续"]
    assert raw.frame.height == 23


def test_invalid_utf8_far_into_the_file_is_found(tmp_path: Path) -> None:
    """Detection reads the whole file, not only its first MiB: a file that turns into GB18030
    after 2 MiB of UTF-8 is neither, and says where."""
    filler = HEADER + "".join(ROWS) * 3000  # well over 1 MiB of valid UTF-8
    path = tmp_path / "a.csv"
    path.write_bytes(filler.encode("utf-8") + "9242,存续经营\n".encode("gb18030"))
    assert load.scan_bytes(path)[1] is False
    with pytest.raises(InputError, match="not valid UTF-8"):
        load.read_table(path, encoding="utf-8")
    with pytest.raises(InputError, match="neither UTF-8 nor GB18030"):
        load.read_table(path)


@pytest.mark.parametrize("ragged", ["1,2,3,4,5,6,7", "92420102MA4K1B2C9D,2020-01-01"])
def test_a_ragged_row_names_the_file_and_row(tmp_path: Path, ragged: str) -> None:
    """Too many fields (Polars stops there) or too few (Polars would fill them with nothing):
    refused with the row, wherever it is in the file."""
    spec = load_sources().extracts["annual"]
    path = write(tmp_path / "a.csv", HEADER + "".join(ROWS) + ragged + "\n" + ROWS[0])
    with pytest.raises(InputError, match=r"row 25 has \d fields where the header has 4") as exc:
        load.load_extract("annual", [path], spec, transform=lambda f: type_rows(f, spec))
    assert str(path) in str(exc.value) and exc.value.exit_code == 2


def test_gb18030_after_a_first_mib_of_ascii_is_read_as_gb18030(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first MiB says UTF-8, the rest is GB18030: checked while read, the file is found
    out at its end (`ReadAgain`); checked first, it is transcoded and read whole."""
    monkeypatch.setattr(csvread, "OVERLAP_BYTES", 0)
    rows = [f"9242010{i % 10}MA4K1B2C9D,2020-01-01,1,{i}\n" for i in range(40_000)]
    text = "code,day,status,n\n" + "".join(rows) + "92420102MA4K1B2C9D,2020-01-01,存续,1\n"
    path = write(tmp_path / "a.csv", text, "gb18030")
    checked = csvread.read_checking(path, None, None, 7_000)
    assert checked is not None  # its first MiB is plain ASCII
    with pytest.raises(csvread.ReadAgain):
        list(checked[0])
    batches, encoding, digest = csvread.read_text(path, None, None)
    frame = pl.concat(list(batches))
    assert (encoding, frame.height, digest) == ("gb18030", 40_001, load.sha256_of(path))
    assert frame.get_column("status").to_list()[-2:] == ["1", "存续"]


def test_a_file_found_out_at_its_end_is_read_again_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever was read of a file before `ReadAgain` is dropped, and the file read again the
    careful way: its rows once, numbered from 2."""
    spec = load_sources().extracts["annual"]
    path = write(tmp_path / "a.csv", HEADER + "".join(ROWS))
    original = csvread.read_checking

    def found_out(*args: Any, **kwargs: Any) -> Any:
        batches, encoding, verdict = original(*args, **kwargs)  # type: ignore[misc]

        def then_not_utf8() -> Iterator[pl.DataFrame]:
            yield from batches
            raise csvread.ReadAgain(str(path))

        return then_not_utf8(), encoding, verdict

    monkeypatch.setattr(csvread, "OVERLAP_BYTES", 0)
    monkeypatch.setattr(csvread, "read_checking", found_out)
    restarted: list[int] = []
    raw = load.load_extract(
        "annual", [path], spec, transform=lambda f: type_rows(f, spec), restart=restarted.append
    )
    assert raw.frame.get_column("_row").to_list() == list(range(2, 2 + len(ROWS)))
    assert raw.files[0].rows == len(ROWS)
    assert restarted == [0]  # told, so that batches written elsewhere can be removed


def test_a_file_forced_as_utf8_that_is_not_is_refused(tmp_path: Path) -> None:
    spec = load_sources().extracts["annual"]
    filler = HEADER + "".join(ROWS) * 3000  # well over 1 MiB of valid UTF-8
    path = tmp_path / "a.csv"
    path.write_bytes(filler.encode("utf-8") + "9242,存续经营\n".encode("gb18030"))
    with pytest.raises(InputError, match="not valid UTF-8 although --encoding utf-8"):
        load.load_extract("annual", [path], spec, encoding="utf-8")


def test_the_digest_is_the_files_own(tmp_path: Path) -> None:
    spec = load_sources().extracts["annual"]
    path = write(tmp_path / "a.csv", "\ufeff" + HEADER + "".join(ROWS))
    raw = load.load_extract("annual", [path], spec, transform=lambda f: type_rows(f, spec))
    assert raw.files[0].sha256 == load.sha256_of(path)
    assert (raw.files[0].encoding, raw.files[0].rows) == ("utf-8-sig", len(ROWS))


def test_header_only_file_gives_no_rows(tmp_path: Path) -> None:
    spec = load_sources().extracts["annual"]
    path = write(tmp_path / "a.csv", HEADER)
    raw = load.load_extract("annual", [path], spec, transform=lambda f: type_rows(f, spec))
    assert raw.frame.height == 0 and raw.files[0].rows == 0
    assert "_code_status" in raw.frame.columns
