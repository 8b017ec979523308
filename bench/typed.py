"""Typed Parquet extracts the way a provincial data platform hands them over: the same Chinese
headers as the departments' CSV exports, but dates as dates, amounts and counts as numbers,
flags as booleans — each in the column's own unit (an amount in 万元 stays in 万元).

    python bench/typed.py CSV_FOLDER PARQUET_FOLDER   # <folder>/<year>/<extract>/*.csv

Every typed column is parsed from the CSV text with gthfx's own parser (`ingest.parse.parse`,
no plausible range, factor 1), so a cell the parser reads is the same value in both files; a
cell that does not parse becomes null, as a platform's cast makes it (`mixed_as_text=True`: its
column stays text instead). Row groups of 500 000 rows, zstd: what a Spark or Hive export
looks like.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from gthfx.ingest.headers import map_headers
from gthfx.ingest.parse import POLARS_TYPES, failed, parse
from gthfx.settings.sources import load_sources

ROW_GROUP = 500_000


def typed_frame(
    frame: pl.LazyFrame, extract: str, path: Path, *, mixed_as_text: bool = False
) -> pl.LazyFrame:
    """A text extract (its own headers) → the same table with typed columns; the code, text and
    personal columns stay text. A cell that does not parse becomes null (a platform's cast), or
    with `mixed_as_text` its whole column stays text."""
    spec = load_sources().extracts[extract]
    found, _ = map_headers(path, extract, spec, frame.collect_schema().names())
    typed = {
        header: (parse(pl.col(header), spec.fields[name].type), spec.fields[name].type)
        for name, header in found.items()
        if name != "uscc"
        and not spec.fields[name].personal
        and spec.fields[name].type not in ("text", "code")
    }
    if not typed:
        return frame
    bad = dict.fromkeys(typed, False)
    if mixed_as_text:
        bad = (
            frame.select(failed(pl.col(h), value).any().alias(h) for h, (value, _) in typed.items())
            .collect()
            .row(0, named=True)
        )
    return frame.with_columns(
        value.cast(POLARS_TYPES[kind]).alias(h) for h, (value, kind) in typed.items() if not bad[h]
    )


def convert(csv_folder: Path, out_folder: Path, *, mixed_as_text: bool = False) -> dict[str, Path]:
    """Every `<year>/<extract>/*.csv` under `csv_folder` as typed Parquet under `out_folder`."""
    written: dict[str, Path] = {}
    for path in sorted(csv_folder.glob("*/*/*.csv")):
        extract = path.parent.name
        frame = pl.scan_csv(path, infer_schema=False)
        target = out_folder / path.parent.relative_to(csv_folder) / f"{path.stem}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        typed_frame(frame, extract, path, mixed_as_text=mixed_as_text).sink_parquet(
            target, compression="zstd", row_group_size=ROW_GROUP
        )
        written[extract] = target
    return written


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
