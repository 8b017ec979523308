"""The out-of-core engine: `gthfx classify --engine duckdb --memory-limit 2GB`.

For national-scale file sets (tens of millions of businesses) on one machine. The run is the
Polars engine's run with the whole-population steps moved into an embedded DuckDB that keeps to
a memory cap and spills to disk:

1. **load** (Polars, a batch at a time): each extract's files are read and typed exactly as by
   the Polars engine (`validate.type_rows`), and each typed batch is written to Parquet in a work
   folder beside the run folder, split into *buckets* by a hash of the code (every row of one
   code, in every extract, in one bucket; as many buckets as the annual files' size needs for
   one bucket's work to fit the cap) — the raw text of one batch only is ever in memory;
2. **validate, join, type** (DuckDB, out of core, one bucket after the other): the SQL of
   `sqlprep` (rejects, duplicates, orphans, the join) and of `rules.to_sql` (the plan of the
   ruleset in force) — the same SQL `gthfx compile-sql` emits; the outcome and reject files then
   come out of DuckDB's external sort in the column types of the plan's outcome schema (the
   Polars engine's), and the accounting from its counts;
3. **changes** (Polars, a range of codes at a time): `diff.diff_outcomes` on each range of both
   runs' outcome files, so the change log is the Polars engine's own;
4. **write**: `outputs.write_run` takes the files as they are and renders the clerk tables one
   Excel-sheet-sized piece at a time.

Nothing holds the whole population in Python memory except when Excel workbooks are asked for
(`--excel`: the review workbooks select from every outcome in memory; leave them off at national
scale). The work folder is `.staging-work-<date>-<pid>` in the output folder (removed at the end,
and by the next run after a kill); DuckDB spills into it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import polars as pl

from gthfx.engines.base import Correct, FileTable, TypedRun
from gthfx.errors import ConfigError, RunError
from gthfx.ingest.load import RawExtract, check_files, load_extract
from gthfx.ingest.sqlprep import prepare_ctes, sql_name, sql_path
from gthfx.ingest.validate import Accounting, type_rows
from gthfx.progress import Reporter
from gthfx.rules.plan import RulePlan
from gthfx.rules.to_sql import ruleset_ctes
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import EXTRACTS, ExtractSpec, SourcesMapping
from gthfx.vocab import BASE_COLUMNS, OUTCOME_FILES, REJECT_SCHEMA, TIER_LABELS

# steps read more than once are stored; the others stay views
_STORED = (
    "_checked",
    "_codes",
    "_shared",
    "_variants",
    "_nvar",
    "_kept",
    "_rejected",
    "_conflicts",
)

_DUCK_TYPES: dict[type[pl.DataType], str] = {
    pl.String: "VARCHAR",
    pl.Boolean: "BOOLEAN",
    pl.Date: "DATE",
    pl.Float64: "DOUBLE",
    pl.Float32: "FLOAT",
    pl.Int64: "BIGINT",
    pl.Int32: "INTEGER",
    pl.Int16: "SMALLINT",
    pl.Int8: "TINYINT",
    pl.UInt64: "UBIGINT",
    pl.UInt32: "UINTEGER",
    pl.UInt16: "USMALLINT",
    pl.UInt8: "UTINYINT",
}


def duck_type(dtype: Any) -> str:
    """The DuckDB type a Polars column type is written as (and read back as)."""
    if isinstance(dtype, pl.List):
        return f"{duck_type(dtype.inner)}[]"
    try:
        return _DUCK_TYPES[dtype if isinstance(dtype, type) else type(dtype)]
    except KeyError:
        raise AssertionError(f"no DuckDB type for the Polars type {dtype}") from None


def connect(work: Path, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB database in the work folder, capped at `memory_limit`, spilling into the folder."""
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": memory_limit,
        "temp_directory": str(work / "spill"),
        "preserve_insertion_order": False,
    }
    try:
        # an in-memory database: DuckDB still spills to `temp_directory` beyond the cap, and
        # skips writing tables it will drop anyway (about twice as fast as a database file)
        return duckdb.connect(":memory:", config=config)
    except (duckdb.InvalidInputException, duckdb.ParserException) as exc:
        raise ConfigError(
            f"--memory-limit {memory_limit!r}: {str(exc).splitlines()[0]}",
            hint="write it like 2GB, 512MB or 80%",
        ) from None


def bucket_of(code: pl.Expr, buckets: int) -> pl.Expr:
    """The bucket of a code: every row of one code, in every extract, lands in the same one."""
    return (code.hash(seed=20240701) % buckets).cast(pl.UInt32)


def _spill(frame: pl.DataFrame, *, spec: ExtractSpec, folder: Path, buckets: int) -> pl.DataFrame:
    """Type one batch and write it to Parquet, one file per bucket of codes. Batches are typed
    two at a time (`load.TYPING_THREADS`): each file is named after its batch's own first row
    (file index, row number), never after a count shared between them, so no two batches write
    one file, whichever finishes first."""
    rows = type_rows(frame, spec).with_columns(pl.col("_code_status").cast(pl.String))
    if rows.height == 0:
        return rows
    name = f"part-{rows.get_column('_file')[0]:05d}-{rows.get_column('_row')[0]:010d}.parquet"
    parts = rows.with_columns(bucket_of(pl.col("uscc"), buckets).alias("_bucket")).partition_by(
        "_bucket", as_dict=True, include_key=False
    )
    for (bucket,), part in parts.items():
        target = folder / f"b{bucket:04d}"
        target.mkdir(exist_ok=True)
        part.write_parquet(target / name, compression="lz4")
    return rows.clear()


def _unspill(index: int, *, folder: Path) -> None:
    """Remove the batches `_spill` wrote of the extract's file `index` (before it is read again
    from its start)."""
    for part in folder.glob(f"b*/part-{index:05d}-*.parquet"):
        part.unlink()


def _load(
    options: RunOptions, sources: SourcesMapping, work: Path, buckets: int, reporter: Reporter
) -> dict[str, RawExtract]:
    loaded = {}
    for extract in EXTRACTS:
        spec = sources.extracts[extract]
        folder = work / "extracts" / extract
        folder.mkdir(parents=True)
        with reporter.stage(f"load_{extract}", f"读取 {spec.label} loading {extract}"):
            loaded[extract] = load_extract(
                extract,
                list(options.inputs[extract]),
                spec,
                options.encoding,
                transform=partial(_spill, spec=spec, folder=folder, buckets=buckets),
                restart=partial(_unspill, folder=folder),
            )
        # an empty batch still leaves every bucket a typed (empty) file
        empty = type_rows(_empty_text(spec), spec).with_columns(
            pl.col("_code_status").cast(pl.String)
        )
        for bucket in range(buckets):
            (folder / f"b{bucket:04d}").mkdir(exist_ok=True)
            empty.write_parquet(folder / f"b{bucket:04d}" / "empty.parquet")
    return loaded


def _empty_text(spec: ExtractSpec) -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "_file": pl.UInt16,
            "_row": pl.UInt32,
            "uscc": pl.String,
            **dict.fromkeys(spec.typed_fields(), pl.String),
        }
    )


ROW_BYTES = 400  # DuckDB memory per annual row a bucket may need (measured: ~2 GB for 5 M)
CSV_ROW_BYTES = 150  # bytes per annual CSV row, at the least (for the estimate of rows)


def bucket_count(annual: list[Path], memory_bytes: int) -> int:
    """How many buckets of codes the work is cut into so that each fits the memory cap, from
    the rows of the annual files: a Parquet file's own row count (its footer), else an
    estimate from the file's size on the high side (more buckets only cost time)."""
    rows = sum(_annual_rows(p) for p in annual if p.exists())
    per_bucket = max(1, memory_bytes // ROW_BYTES)
    return max(1, -(-rows // per_bucket))


def _annual_rows(path: Path) -> int:
    if path.suffix.lower() == ".parquet":
        try:
            return int(pl.scan_parquet(path, glob=False).select(pl.len()).collect().item())
        except Exception:  # a damaged file: reading it names it (`load`)
            return 0
    return path.stat().st_size // CSV_ROW_BYTES


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def memory_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """DuckDB's memory cap in bytes, as it understood `--memory-limit` (e.g. '1.8 GiB')."""
    ((text,),) = con.execute("SELECT current_setting('memory_limit')").fetchall()
    number, _, unit = str(text).strip().partition(" ")
    return int(float(number) * _UNITS.get(unit.strip().upper(), 1))


def _execute(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    try:
        con.execute(sql).fetchall()
    except duckdb.OutOfMemoryException as exc:
        raise RunError(
            f"DuckDB ran out of memory: {str(exc).splitlines()[0]}",
            hint="raise --memory-limit, or free disk space in the output folder for spilling",
        ) from None


class OutOfCoreEngine:
    """The DuckDB engine: keeps to a memory cap, spilling to disk (a nation on one machine)."""

    name: ClassVar[str] = "duckdb"
    label: ClassVar[str] = "DuckDB"
    supports_corrections: ClassVar[bool] = False
    memory_capped: ClassVar[bool] = True

    def type_run(
        self,
        options: RunOptions,
        compiled: RulePlan,
        sources: SourcesMapping,
        reporter: Reporter,
        work: Path,
        correct: Correct | None = None,
    ) -> TypedRun:
        if correct is not None:  # callers ask `supports_corrections` first: this is a bug
            raise AssertionError("the out-of-core engine applies no corrections")
        return type_out_of_core(options, compiled, sources, reporter, work)


def type_out_of_core(
    options: RunOptions,
    compiled: RulePlan,
    sources: SourcesMapping,
    reporter: Reporter,
    work: Path,
) -> TypedRun:
    """Load, validate, join and type with DuckDB under `options.memory_limit`; the outcome and
    reject files land in `work`. The work is cut into buckets of codes that each fit the cap."""
    reporter.info(f"ruleset={compiled.source.ruleset.id} file={compiled.source.path}")
    for extract in EXTRACTS:
        check_files(extract, list(options.inputs[extract]), sources.extracts[extract])
    con = connect(work, options.duckdb_memory_limit)  # checks the cap first
    try:
        buckets = bucket_count(list(options.inputs["annual"]), memory_bytes(con))
        reporter.info(f"engine=duckdb memory_limit_bytes={memory_bytes(con)} buckets={buckets}")
        loaded = _load(options, sources, work, buckets, reporter)

        def views(bucket: int) -> None:
            for extract in EXTRACTS:
                files = sql_path(work / "extracts" / extract / f"b{bucket:04d}" / "*.parquet")
                _execute(
                    con,
                    f"CREATE OR REPLACE VIEW {sql_name(extract)} AS "
                    f"SELECT * FROM read_parquet({files})",
                )

        return type_tables(con, compiled, sources, loaded, work, reporter, buckets, views)
    finally:
        con.close()


def type_tables(
    con: duckdb.DuckDBPyConnection,
    compiled: RulePlan,
    sources: SourcesMapping,
    loaded: dict[str, RawExtract],
    work: Path,
    reporter: Reporter,
    buckets: int = 1,
    views: Callable[[int], None] | None = None,
) -> TypedRun:
    """Validate, join and type the typed rows in the tables `annual`, `tax` and `social` of
    `con` (the files of `loaded`, which give the files' names and row counts); the outcome and
    reject files are written into `work`. With `buckets`, `views(k)` points those tables at
    bucket k, and the buckets are done one after the other — every row of a code is in one
    bucket, so duplicates, orphans and the join are whole within it."""
    run_date = compiled.run_date
    schema = {c: t for c, t in compiled.outcome_schema.items() if c != "decided"}
    derived = {item.id for item in compiled.derived}
    extra = [c for c in schema if c in ("flags", "region_code", "industry_code")]
    extra += [c for c in compiled.indicators if c not in derived and c not in BASE_COLUMNS]
    steps, final = ruleset_ctes(compiled, "duckdb", source="joined", extra=extra)
    label = "CASE tier " + " ".join(
        f"WHEN '{tier}' THEN '{text}'" for tier, text in TIER_LABELS.items()
    )
    columns = [
        f"CAST({label} END AS VARCHAR) AS tier_label"
        if name == "tier_label"
        else f"CAST({sql_name(name)} AS {duck_type(dtype)}) AS {sql_name(name)}"
        for name, dtype in schema.items()
    ]
    columns.append("FALSE AS decided")
    _register_file_names(con, loaded)
    counts: list[dict[str, dict[str, dict[int, int]]]] = []
    typed_parts, reject_parts = work / "typed", work / "rejected"
    typed_parts.mkdir()
    reject_parts.mkdir()
    for bucket in range(buckets):
        if views is not None:
            views(bucket)
        with reporter.stage(
            f"validate_b{bucket}", f"校验 validating (DuckDB, {bucket + 1}/{buckets})"
        ):
            for name, query in prepare_ctes(sources, run_date.year - 1, loaded=True):
                kind = "TABLE" if name.endswith(_STORED) else "VIEW"
                _execute(con, f"CREATE OR REPLACE {kind} {sql_name(name)} AS {query.sql('duckdb')}")
            counts.append(_bucket_counts(con, loaded))
            _execute(
                con,
                f"COPY ({_rejects_query(loaded)}) TO "
                f"{sql_path(reject_parts / f'b{bucket:04d}.parquet')} (FORMAT parquet)",
            )
        with reporter.stage(f"type_b{bucket}", f"分型 typing (DuckDB, {bucket + 1}/{buckets})"):
            for name, query in steps:
                _execute(con, f"CREATE OR REPLACE VIEW {sql_name(name)} AS {query.sql('duckdb')}")
            _execute(
                con,
                f"COPY (SELECT {', '.join(columns)} FROM ({final.sql(dialect='duckdb')}) "
                f"AS _typed) TO {sql_path(typed_parts / f'b{bucket:04d}.parquet')} "
                "(FORMAT parquet)",
            )
    accounting, per_file = _accounting(counts, loaded)
    for extract, acc in accounting.items():
        reporter.info(
            f"extract={extract} files={len(loaded[extract].files)} read={acc.read} "
            f"used={acc.used} rejected={acc.rejected} collapsed={acc.collapsed}"
        )
    with reporter.stage("sort", "排序 sorting by code (DuckDB)"):
        rejects = work / "rejects.parquet"
        _execute(
            con,
            f"COPY (SELECT * FROM read_parquet({sql_path(reject_parts / '*.parquet')}) "
            f'ORDER BY extract, file, "row") TO {sql_path(rejects)} '
            "(FORMAT parquet, COMPRESSION zstd)",
        )
        outcomes = {}
        typed_files = sql_path(typed_parts / "*.parquet")
        for tier, file_name in OUTCOME_FILES.items():
            path = work / file_name
            _execute(
                con,
                f"COPY (SELECT * FROM read_parquet({typed_files}) WHERE tier = '{tier}' "
                f"ORDER BY uscc) TO {sql_path(path)} (FORMAT parquet, COMPRESSION zstd)",
            )
            outcomes[tier] = path
        ((businesses,),) = con.execute(
            f"SELECT COUNT(*) FROM read_parquet({typed_files})"
        ).fetchall()
    return TypedRun(
        compiled=compiled,
        sources=sources,
        outcomes={tier: FileTable(path) for tier, path in outcomes.items()},
        rejects=FileTable(rejects),
        accounting=accounting,
        files=[info for raw in loaded.values() for info in raw.files],
        per_file=per_file,
        businesses=int(businesses),
    )


def _counts(con: duckdb.DuckDBPyConnection, sql: str) -> dict[int, int]:
    return {int(k): int(v) for k, v in con.execute(sql).fetchall()}


def _bucket_counts(
    con: duckdb.DuckDBPyConnection, loaded: dict[str, RawExtract]
) -> dict[str, dict[str, dict[int, int]]]:
    """Rows used and rejected per file, and rows collapsed, of each extract in one bucket.
    Collapsed rows are counted on their own (candidate rows of duplicate groups with one
    variant, less one per group), so that read = used + rejected + collapsed is a check."""
    out = {}
    for extract in loaded:
        ((collapsed,),) = con.execute(
            f"SELECT (SELECT COUNT(*) FROM {extract}_checked WHERE _why IS NULL AND uscc IN "
            f"(SELECT uscc FROM {extract}_nvar WHERE _n = 1)) - "
            f"(SELECT COUNT(*) FROM {extract}_nvar WHERE _n = 1)"
        ).fetchall()
        out[extract] = {
            "used": _counts(con, f"SELECT _file, COUNT(*) FROM {extract}_kept GROUP BY _file"),
            "rejected": _counts(
                con, f"SELECT _file, COUNT(*) FROM {extract}_rejected GROUP BY _file"
            ),
            "collapsed": {0: int(collapsed)},
        }
    return out


def _accounting(
    counts: list[dict[str, dict[str, dict[int, int]]]], loaded: dict[str, RawExtract]
) -> tuple[dict[str, Accounting], dict[str, Accounting]]:
    """Rows read, used, rejected and collapsed, per extract and per file, over all buckets."""

    def total(extract: str, what: str, file: int | None = None) -> int:
        return sum(
            n
            for bucket in counts
            for index, n in bucket[extract][what].items()
            if file is None or index == file
        )

    totals: dict[str, Accounting] = {}
    per_file: dict[str, Accounting] = {}
    for extract, raw in loaded.items():
        acc = Accounting(
            read=sum(info.rows for info in raw.files),
            used=total(extract, "used"),
            rejected=total(extract, "rejected"),
            collapsed=total(extract, "collapsed"),
        )
        if not acc.holds():  # a bug, not a user error
            raise AssertionError(f"row accounting broken for {extract}: {acc}")
        totals[extract] = acc
        for index, info in enumerate(raw.files):
            n_used, n_rejected = total(extract, "used", index), total(extract, "rejected", index)
            per_file[info.key] = Accounting(
                read=info.rows,
                used=n_used,
                rejected=n_rejected,
                collapsed=info.rows - n_used - n_rejected,
            )
    return totals, per_file


def _register_file_names(con: duckdb.DuckDBPyConnection, loaded: dict[str, RawExtract]) -> None:
    """The input file of each (extract, file index), as a DuckDB table. Inserted as bound
    parameters: a Polars frame would need pyarrow to cross into DuckDB, and pyarrow is no runtime
    dependency (a file name with a quote in it stays a file name, too)."""
    _execute(
        con,
        "CREATE OR REPLACE TABLE _file_names (extract VARCHAR, _file BIGINT, file VARCHAR)",
    )
    rows = [
        (extract, index, info.path)
        for extract, raw in loaded.items()
        for index, info in enumerate(raw.files)
    ]
    if rows:
        con.executemany("INSERT INTO _file_names VALUES (?, ?, ?)", rows)


def _rejects_query(loaded: dict[str, RawExtract]) -> str:
    """Every rejected row of every extract of the current bucket, with the reject columns."""
    parts = " UNION ALL ".join(
        f"SELECT '{extract}' AS extract, _file, _row AS \"row\", uscc, field, raw_value, reason "
        f"FROM {extract}_rejected"
        for extract in loaded
    )
    columns = ", ".join(
        f"CAST({sql_name(name)} AS {duck_type(dtype)}) AS {sql_name(name)}"
        for name, dtype in REJECT_SCHEMA.items()
    )
    return f"SELECT {columns} FROM ({parts}) r JOIN _file_names n USING (extract, _file)"
