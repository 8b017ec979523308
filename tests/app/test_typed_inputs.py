"""A data platform's typed Parquet extracts and CSV exports with the same content give the same run
folder data, on both engines: the shipped (messy) samples, re-exported the way a platform does —
every column whose cells all parse typed (dates as dates, amounts in their own unit, counts,
flags), a column holding any cell that does not parse left as text — and the same tables written
as CSV."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from gthfx.app.classify import classify
from gthfx.ingest.headers import map_headers
from gthfx.ingest.load import read_table
from gthfx.ingest.parse import POLARS_TYPES, failed, parse
from gthfx.settings.sources import EXTRACTS, load_sources
from gthfx.vocab import OUTCOME_FILES
from support import sample_inputs

RUN = date(2024, 7, 1)


def _platform_table(path: Path, extract: str) -> tuple[pl.DataFrame, int]:
    """A sample file as a platform exports it → (table with its own headers, typed columns)."""
    frame, _, _ = read_table(path)
    spec = load_sources().extracts[extract]
    found, _ = map_headers(path, extract, spec, list(frame.columns))
    typed = 0
    for name, header in found.items():
        kind = spec.fields[name].type
        if name == "uscc" or kind in ("text", "code"):
            continue
        value = parse(pl.col(header), kind)
        if not frame.select(failed(pl.col(header), value).any()).item():
            frame = frame.with_columns(value.cast(POLARS_TYPES[kind]).alias(header))
            typed += 1
    return frame, typed


def _exports(folder: Path) -> dict[str, dict[str, list[Path]]]:
    """The 2023 samples as typed Parquet and as CSV from the same tables."""
    out: dict[str, dict[str, list[Path]]] = {"parquet": {}, "csv": {}}
    typed_columns = 0
    for extract in EXTRACTS:
        for kind in out:
            out[kind][extract] = []
        for index, path in enumerate(sample_inputs(2023)[extract]):
            table, typed = _platform_table(path, extract)
            typed_columns += typed
            for kind in out:
                target = folder / kind / f"{extract}_{index}.{kind}"
                target.parent.mkdir(parents=True, exist_ok=True)
                if kind == "parquet":
                    table.write_parquet(target, row_group_size=500)
                else:
                    table.write_csv(target)
                out[kind][extract].append(target)
    assert typed_columns >= 5  # the samples' tidy columns did become typed
    return out


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_parquet_and_csv_with_the_same_content_give_the_same_run(
    tmp_path: Path, sample_options, engine: str
) -> None:
    exports = _exports(tmp_path / "in")
    runs = {}
    for kind, inputs in exports.items():
        options = sample_options(tmp_path / kind, RUN, engine, excel=False).model_copy(
            update={"inputs": {e: tuple(paths) for e, paths in inputs.items()}}
        )
        classify(options)
        runs[kind] = tmp_path / kind / RUN.isoformat()
    for name in [*OUTCOME_FILES.values(), "changes.parquet"]:
        got, want = (pl.read_parquet(runs[k] / name) for k in ("parquet", "csv"))
        assert got.height > 0 or name == "development.parquet"
        assert_frame_equal(got, want, check_exact=True)
    # rejects name their file: the same rows, rows numbered alike, in files of the same stem
    got, want = (
        pl.read_parquet(runs[k] / "rejects.parquet").with_columns(
            pl.col("file").str.replace(r"\.(csv|parquet)$", "")
        )
        for k in ("parquet", "csv")
    )
    assert got.height > 0
    assert_frame_equal(
        got.with_columns(pl.col("file").str.replace("/parquet/", "/csv/")), want, check_exact=True
    )
