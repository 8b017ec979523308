"""The fast paths of the pipeline give exactly what the straightforward forms give: typing cell by
cell (only the unsure cells parsed in full) against typing whole rows, the check character on
bytes, codes sorted and hashed as 128-bit integers, UTF-8 checked in Rust."""

from __future__ import annotations

import codecs
import hashlib
import random
from pathlib import Path

import polars as pl
import pytest

from gthfx.ingest import load, uscc, validate
from gthfx.ingest.parse import has_text, parse, parse_fast, rules_for
from gthfx.ingest.validate import type_rows
from gthfx.settings.sources import MONEY_FACTOR, ExtractSpec, load_sources
from support import SAMPLES


def rowwise_type_rows(frame: pl.DataFrame, spec: ExtractSpec) -> pl.DataFrame:
    """`type_rows` as it was first written: a row with any unsure cell is parsed in full, every
    cell of it; the check character is computed character by character."""
    fields = spec.typed_fields()
    kinds = {name: spec.fields[name].type for name in fields}
    factors = {name: MONEY_FACTOR[spec.fields[name].unit or "元"] for name in fields}
    rules = {name: rules_for(spec.fields[name]) for name in fields}
    frame = frame.rename({"uscc": "_raw_code"})
    typed = frame.select(
        "_file",
        "_row",
        parse_fast(pl.col("_raw_code"), "code").alias("uscc"),
        *(parse_fast(pl.col(n), kinds[n], factors[n], rules[n]).alias(n) for n in fields),
    )
    unsure = pl.any_horizontal(
        frame.get_column("_raw_code").is_not_null() & typed.get_column("uscc").is_null(),
        *(frame.get_column(n).is_not_null() & typed.get_column(n).is_null() for n in fields),
    )
    index = typed.select(unsure.arg_true()).to_series()
    slow = frame[index]
    parsed = slow.select(
        pl.col("_raw_code"),
        uscc.normalise(pl.col("_raw_code")).alias("uscc"),
        *(parse(pl.col(n), kinds[n], factors[n], rules[n]).alias(n) for n in fields),
    )
    failed = [
        slow.select(has_text(pl.col(n), rules[n])).to_series() & parsed.get_column(n).is_null()
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
    out = typed.with_columns(
        pl.repeat(None, typed.height, dtype=pl.String, eager=True).alias("_raw_code"),
        pl.zeros(typed.height, pl.UInt64, eager=True).alias("_bad_mask"),
        pl.zeros(typed.height, pl.UInt64, eager=True).alias("_bad_raw"),
    )
    if slow.height:
        out = out.with_columns(
            out.get_column(name).scatter(index, slow.get_column(name)) for name in slow.columns
        )
    return out.with_columns(charwise_status(pl.col("uscc")).alias("_code_status"))


def charwise_status(code: pl.Expr) -> pl.Expr:
    well_formed = code.str.contains(f"^[{uscc.CHARSET}]{{18}}$")
    return (
        pl.when(code.is_null())
        .then(pl.lit(uscc.MISSING))
        .when(~well_formed)
        .then(pl.lit(uscc.MALFORMED))
        .when(code.str.slice(0, 2) != uscc.INDIVIDUAL_PREFIX)
        .then(pl.lit(uscc.NOT_INDIVIDUAL))
        .when(code.str.slice(17, 1) != uscc.check_character(code))
        .then(pl.lit(uscc.CHECK_MISMATCH))
        .otherwise(pl.lit(uscc.OK))
    ).cast(uscc.STATUS)


MESSY = {
    "code": [
        "92420102MA4K1B2C9D",
        " 92420102ma4k1b2c9d",
        "９２420102MA4K1B2C9D",
        "92420102MA4K1B2C9E",
        "91420102MA4K1B2C9D",
        "92 4201 02MA4K1B2C9D",
        "924201",
        None,
        "",
        "  ",
        "中文",
    ],
    "date": [
        "2024-07-01",
        "20240701",
        "2024/07/01",
        "2024年07月01日",
        "2024/7/1",
        "2024.7.1",
        "2024-07-01 08:00:00",
        "45474",
        "２０２４-07-01",
        "2024-13-01",
        "坏日期",
        None,
        "",
    ],
    "int": ["12", "012", "1,234", "1 234", "１２", " 7 ", "3.0", "3.5", "三人", "-4", None, ""],
    "decimal": ["1234.5", "1,234.5", " 1.13 ", "１.５", "1e3", "inf", "nan", "abc", None, "-0"],
    "bool": ["是", "否", "Y", "y", "yes", "YES", "Yes", "TRUE", " 是 ", "√", "×", "maybe", None],
    "text": ["存续", "  在营 ", "Ａ公司", "a  b", "abc", "\u3000", "", None, "开业\t"],
}


def messy_frame(spec: ExtractSpec, rows: int, seed: int) -> pl.DataFrame:
    """A raw frame whose every cell is drawn from the messy values of its field's kind, mostly
    tidy ones (as in real extracts)."""
    rng = random.Random(seed)

    def cell(kind: str) -> str | None:
        values = MESSY[kind if kind in MESSY else "text"]
        return values[0] if rng.random() < 0.6 else rng.choice(values)

    data: dict[str, list[str | None]] = {"uscc": [cell("code") for _ in range(rows)]}
    for name in spec.typed_fields():
        data[name] = [cell(spec.fields[name].type) for _ in range(rows)]
    return pl.DataFrame(data, schema=dict.fromkeys(data, pl.String)).select(
        pl.lit(0, pl.UInt16).alias("_file"),
        (pl.int_range(pl.len(), dtype=pl.UInt32) + 2).alias("_row"),
        pl.all(),
    )


@pytest.mark.parametrize("extract", ["annual", "tax", "social"])
def test_typing_cell_by_cell_equals_typing_whole_rows_on_messy_values(extract: str) -> None:
    spec = load_sources().extracts[extract]
    for seed in range(3):
        frame = messy_frame(spec, 2_000, seed)
        assert type_rows(frame, spec).equals(rowwise_type_rows(frame, spec))


def same_but_raw_code(got: pl.DataFrame, want: pl.DataFrame) -> bool:
    """Equal typed rows, `_raw_code` read as its consumers read it (null: the code itself)."""
    code = pl.coalesce("_raw_code", "uscc").alias("_raw_code")
    return got.with_columns(code).equals(want.with_columns(code))


@pytest.mark.parametrize("extract", ["annual", "tax", "social"])
def test_typing_by_distinct_values_equals_typing_whole_rows(
    extract: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every column of few distinct texts typed one distinct text at a time (forced here on
    small frames; on by itself from `DISTINCT_MIN_ROWS` rows)."""
    monkeypatch.setattr(validate, "DISTINCT_MIN_ROWS", 0)
    monkeypatch.setattr(validate, "DISTINCT_SAMPLE", 500)
    spec = load_sources().extracts[extract]
    for seed in range(3):
        frame = messy_frame(spec, 4_000, seed)
        few = [n for n in spec.typed_fields() if validate.distinct_texts(frame[n]) is not None]
        assert few == spec.typed_fields()  # every column took the path under test
        assert same_but_raw_code(type_rows(frame, spec), rowwise_type_rows(frame, spec))
    for year in ("2022", "2023"):
        paths = sorted((SAMPLES / year / extract).iterdir())
        raw = load.load_extract(extract, paths, spec).frame
        assert same_but_raw_code(type_rows(raw, spec), rowwise_type_rows(raw, spec))


@pytest.mark.parametrize("year", ["2022", "2023"])
@pytest.mark.parametrize("extract", ["annual", "tax", "social"])
def test_typing_cell_by_cell_equals_typing_whole_rows_on_the_samples(
    year: str, extract: str
) -> None:
    spec = load_sources().extracts[extract]
    paths = sorted((SAMPLES / year / extract).iterdir())
    raw = load.load_extract(extract, paths, spec)
    assert type_rows(raw.frame, spec).equals(rowwise_type_rows(raw.frame, spec))


def test_typing_an_empty_frame() -> None:
    spec = load_sources().extracts["annual"]
    empty = messy_frame(spec, 0, 0)
    assert type_rows(empty, spec).equals(rowwise_type_rows(empty, spec))


def random_codes(n: int, seed: int) -> list[str | None]:
    rng = random.Random(seed)
    codes: list[str | None] = []
    for _ in range(n):
        body = "".join(rng.choice(uscc.CHARSET) for _ in range(16))
        prefix = "92" if rng.random() < 0.8 else rng.choice(["91", "12", "9Z"])
        code = prefix + body
        if rng.random() < 0.5:  # a valid check character
            check = pl.DataFrame({"c": [code[:17]]}).select(uscc.check_character(pl.col("c")))
            code = code[:17] + check.item()
        codes.append(code)
    return [*codes, None, "", "92", "92é4201020000000000", "9" * 19, "é" * 18, "92" + "é" * 8]


def test_the_status_on_bytes_equals_the_status_character_by_character() -> None:
    frame = pl.DataFrame({"c": random_codes(5_000, 1)}, schema={"c": pl.String})
    fast = frame.select(uscc.status(pl.col("c"))).to_series()
    slow = frame.select(charwise_status(pl.col("c"))).to_series()
    assert fast.equals(slow)
    assert set(fast.drop_nulls().to_list()) == {
        uscc.OK, uscc.CHECK_MISMATCH, uscc.NOT_INDIVIDUAL, uscc.MALFORMED, uscc.MISSING,
    }  # fmt: skip


def test_codes_sort_as_text() -> None:
    individual = [c for c in random_codes(5_000, 2)[:5_000] if c and c.startswith("92")]
    for codes in (individual, [*individual, "91000000000000000X"], ["b", "a", "c"], []):
        series = pl.Series("uscc", codes, dtype=pl.String)
        assert series.gather(uscc.sort_order(series)).to_list() == sorted(codes)


def test_the_key_is_one_to_one_among_individual_codes() -> None:
    codes = [c for c in random_codes(5_000, 3) if c is not None]
    frame = pl.DataFrame({"c": codes}).unique().with_columns(uscc.key(pl.col("c")).alias("k"))
    keyed = frame.filter(pl.col("c").str.starts_with("92") & (pl.col("c").str.len_bytes() == 18))
    assert keyed.get_column("k").null_count() == 0
    assert keyed.get_column("k").n_unique() == keyed.height
    assert frame.filter(pl.col("k").is_null()).height == frame.height - keyed.height


def reference_scan(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(path.read_bytes(), final=True)
    except UnicodeDecodeError:
        return False
    return True


def test_utf8_is_checked_across_block_boundaries(tmp_path: Path) -> None:
    """Characters of 2, 3 and 4 bytes cut by the end of a 4 MiB block, broken ones too."""
    rng = random.Random(4)
    text = "汉字abc€𝄞é".encode()
    block = 1 << 22
    for case in range(40):
        size = block + rng.randint(-6, 6)
        data = bytearray((text * (size // len(text) + 1))[:size])
        if case % 3 == 0:
            data[min(block, size) - rng.randint(1, 4)] = rng.randrange(128, 256)
        if case % 4 == 1:
            data = data[: -rng.randint(1, 3)]
        path = tmp_path / f"{case}.csv"
        path.write_bytes(bytes(data))
        assert load.scan_bytes(path) == (
            hashlib.sha256(data).hexdigest(),
            reference_scan(path),
        ), case
