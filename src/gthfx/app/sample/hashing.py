"""SHA-256 for the draw, over whole columns: DuckDB's `sha256()` on a Parquet file of the codes.

Polars has no SHA-256 expression. Measured on the 2-core machine (under load, 5 M codes):
DuckDB's `sha256()` costs about 0.36 µs a code and runs on both cores; Python's hashlib, even
driven from C (`map(methodcaller("digest"), map(sha256, codes))`, no bytecode per code), about
1 µs, on one core, with a Python object per code. DuckDB is already a dependency (the out-of-core
engine), so the draw hands it the codes as a Parquet file in the draw's work folder and reads the
digests back the same way (no pyarrow needed). DuckDB keeps insertion order for a query without
ORDER BY, so digest i belongs to code i.

The messages are exactly those of SPEC §11, UTF-8: `"{seed}|{uscc}"` for a business's ticket and
`"{seed}|{uscc}|{inspector_id}"` for an inspector; the seed is passed as a parameter, never
pasted into SQL.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

DUCKDB_MEMORY = "2GB"


def _connect(work: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    con.execute("SET temp_directory = ?", [str(work / "duckdb.tmp")])
    con.execute("SET preserve_insertion_order = true")
    return con


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def ticket_digests(seed: str, codes: pl.Series, work: Path) -> pl.Series:
    """The 32-byte SHA-256 of `"{seed}|{code}"` for every code, in the same order (Binary)."""
    if codes.len() == 0:
        return pl.Series("digest", [], dtype=pl.Binary)
    source, target = work / "tickets-in.parquet", work / "tickets-out.parquet"
    codes.rename("uscc").to_frame().write_parquet(source, compression="uncompressed")
    con = _connect(work)
    try:
        con.execute(
            f"COPY (SELECT unhex(sha256($seed || '|' || uscc)) AS digest "
            f"FROM read_parquet({_quoted(source)})) TO {_quoted(target)} "
            "(FORMAT parquet, COMPRESSION uncompressed)",
            {"seed": seed},
        )
    finally:
        con.close()
    digests = pl.read_parquet(target).to_series().rename("digest")
    source.unlink()
    target.unlink()
    if digests.len() != codes.len():  # a bug, not a user error
        raise AssertionError("DuckDB returned another number of digests than codes")
    return digests


def inspector_ranking(
    seed: str, drawn: pl.DataFrame, inspectors: pl.DataFrame, wanted: int, work: Path
) -> pl.DataFrame:
    """For each drawn business (`uscc, region_code`), the first `wanted` inspectors of its
    district (`inspector_id, region_code, recuse`) in ascending order of the lowercase hex
    SHA-256 of `"{seed}|{uscc}|{inspector_id}"`, skipping those who recuse themselves from it:
    `uscc, inspectors` (a list, in that order), sorted by uscc.

    DuckDB's `min_by(inspector_id, hash, k)` keeps the k smallest per business without sorting
    every pair (a window with `row_number()` over all pairs took three times as long: 5.3 s
    against 1.7 s for 100 000 businesses × 50 inspectors). Two inspectors of one business could
    only tie on a SHA-256 collision of two different texts."""
    schema: dict[str, pl.DataType] = {"uscc": pl.String(), "inspectors": pl.List(pl.String())}
    if drawn.height == 0 or inspectors.height == 0 or wanted <= 0:
        return pl.DataFrame(schema=schema)
    files = {n: work / f"inspectors-{n}.parquet" for n in ("drawn", "pool", "recuse", "out")}
    drawn.select("uscc", "region_code").write_parquet(files["drawn"])
    inspectors.select("inspector_id", "region_code").write_parquet(files["pool"])
    inspectors.select("inspector_id", pl.col("recuse").alias("uscc")).explode("uscc").drop_nulls(
        "uscc"
    ).unique().write_parquet(files["recuse"])
    con = _connect(work)
    try:
        con.execute(
            f"""COPY (
                SELECT d.uscc, min_by(
                    i.inspector_id, sha256($seed || '|' || d.uscc || '|' || i.inspector_id), $k
                ) AS inspectors
                FROM read_parquet({_quoted(files["drawn"])}) d
                JOIN read_parquet({_quoted(files["pool"])}) i ON d.region_code = i.region_code
                ANTI JOIN read_parquet({_quoted(files["recuse"])}) r
                    ON r.inspector_id = i.inspector_id AND r.uscc = d.uscc
                GROUP BY d.uscc
            ) TO {_quoted(files["out"])} (FORMAT parquet)""",
            {"seed": seed, "k": wanted},
        )
    finally:
        con.close()
    out = pl.read_parquet(files["out"])
    for path in files.values():
        path.unlink()
    return out.sort("uscc").cast(schema)  # type: ignore[arg-type]
