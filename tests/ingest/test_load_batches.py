"""Batched reading: row numbers continue across batches, typing per batch gives the same result
as typing all at once, whole-file encoding checks, and CSV structure errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gthfx.errors import InputError
from gthfx.ingest import load
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


def test_a_ragged_row_names_the_file(tmp_path: Path) -> None:
    spec = load_sources().extracts["annual"]
    path = write(tmp_path / "a.csv", HEADER + ROWS[0] + "1,2,3,4,5,6,7\n")
    with pytest.raises(InputError) as exc:
        load.load_extract("annual", [path], spec)
    assert str(path) in str(exc.value) and exc.value.exit_code == 2


def test_header_only_file_gives_no_rows(tmp_path: Path) -> None:
    spec = load_sources().extracts["annual"]
    path = write(tmp_path / "a.csv", HEADER)
    raw = load.load_extract("annual", [path], spec, transform=lambda f: type_rows(f, spec))
    assert raw.frame.height == 0 and raw.files[0].rows == 0
    assert "_code_status" in raw.frame.columns
