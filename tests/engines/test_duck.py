"""The out-of-core engine (`classify --engine duckdb`, `gthfx.engines.outofcore`) and the SQL
of validation and the join (`gthfx.ingest.sqlprep`) against the Polars engine: the same run
folder on the samples, the same outcomes, rejects and accounting on generated extracts full of
the problems of SPEC §6."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from gthfx.app.classify import classify
from gthfx.app.review_input import CORRECTION_COLUMNS
from gthfx.engines import outofcore as duck
from gthfx.engines.memory import type_extracts
from gthfx.ingest import csvread, load, uscc
from gthfx.ingest.load import FileInfo, RawExtract, load_extract
from gthfx.ingest.sqlprep import platform_readers, platform_tables
from gthfx.ingest.validate import type_rows
from gthfx.progress import Reporter
from gthfx.rules.plan import compile_for
from gthfx.rules.to_sql import outcomes_sql
from gthfx.runs import changes
from gthfx.settings.sources import EXTRACTS
from gthfx.vocab import OUTCOME_FILES
from support import ROOT, run_cli, sample_inputs, sample_options

# ---- the same run folder ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def both_engines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two yearly runs (the second with a change log) by each engine."""
    out = {}
    for engine in ("polars", "duckdb"):
        folder = tmp_path_factory.mktemp(engine)
        for run_date in (date(2023, 7, 1), date(2024, 7, 1)):
            classify(sample_options(folder, run_date, engine))
        out[engine] = folder
    return out


@pytest.mark.parametrize("run", ["2023-07-01", "2024-07-01"])
def test_both_engines_write_the_same_run_folder(both_engines: dict[str, Path], run: str) -> None:
    polars_run, duck_run = both_engines["polars"] / run, both_engines["duckdb"] / run
    names = sorted(p.name for p in polars_run.iterdir())
    assert names == sorted(p.name for p in duck_run.iterdir())
    assert any(n.startswith("复核_") for n in names)  # the review workbooks too
    for name in names:
        a, b = polars_run / name, duck_run / name
        if name.endswith(".parquet"):  # the same data; the bytes differ by writer
            assert_frame_equal(pl.read_parquet(a), pl.read_parquet(b))
        elif name != "manifest.json":  # clerk renderings and workbooks: byte for byte
            assert a.read_bytes() == b.read_bytes(), name
    first = json.loads((polars_run / "manifest.json").read_text(encoding="utf-8"))
    second = json.loads((duck_run / "manifest.json").read_text(encoding="utf-8"))
    assert first["settings"]["engine"] == "polars"
    assert second["settings"] == {**first["settings"], "engine": "duckdb", "memory_limit": "2GB"}
    for key in ("accounting", "outcomes", "rejects_by_reason", "changes", "ruleset"):
        assert first[key] == second[key], key
    strip = [{k: v for k, v in i.items() if "path" not in k} for i in first["inputs"]]
    assert strip == [{k: v for k, v in i.items() if "path" not in k} for i in second["inputs"]]
    assert second["changes"] if run == "2024-07-01" else second["changes"] == {"new": 1930}


def test_outcome_files_are_sorted_by_code(both_engines: dict[str, Path]) -> None:
    for name in OUTCOME_FILES.values():
        codes = pl.read_parquet(both_engines["duckdb"] / "2024-07-01" / name).get_column("uscc")
        assert codes.is_sorted() and codes.len() > 0


def test_many_buckets_and_ranges_give_the_same_run(
    both_engines: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Work cut into many buckets of codes (as for a national file set under a small cap), and
    the change log built over many ranges of codes: the same files as the Polars engine's."""
    monkeypatch.setattr(duck, "ROW_BYTES", 10**7)  # ~200 businesses per bucket under 2 GB
    monkeypatch.setattr(changes, "CHANGE_CHUNK", 150)
    assert duck.bucket_count(list(sample_inputs(2023)["annual"]), 2 * 10**9) >= 5
    for run_date in (date(2023, 7, 1), date(2024, 7, 1)):
        classify(sample_options(tmp_path, run_date, "duckdb", excel=False))
    for run in ("2023-07-01", "2024-07-01"):
        want = both_engines["polars"] / run
        for name in [*OUTCOME_FILES.values(), "changes.parquet", "rejects.parquet"]:
            assert_frame_equal(pl.read_parquet(tmp_path / run / name), pl.read_parquet(want / name))
        names = ["拒收.csv", "生存型.csv", "不参与分型.csv"]
        # the first run has no clerk rendering of its change log, the second has
        assert (tmp_path / run / "变动.csv").exists() == (run != "2023-07-01")
        for name in [*names, "变动.csv"] if run != "2023-07-01" else names:
            assert (tmp_path / run / name).read_bytes() == (want / name).read_bytes(), name
        got = json.loads((tmp_path / run / "manifest.json").read_text("utf-8"))["accounting"]
        assert got == json.loads((want / "manifest.json").read_text("utf-8"))["accounting"]


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_many_batches_typed_two_at_a_time_give_the_same_run(
    both_engines: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    """Extracts read in many small batches, typed two at a time on threads (as 10 M rows are in
    1 M-row batches): the same outcomes, rejects and accounting as read in one batch. (The
    DuckDB engine once named its batch files by a count the two threads shared: batches
    overwrote each other and rows were lost.)"""
    monkeypatch.setattr(load, "BATCH_ROWS", 97)
    assert load.TYPING_THREADS == 2
    for run_date in (date(2023, 7, 1), date(2024, 7, 1)):
        classify(sample_options(tmp_path, run_date, engine, excel=False))
    for run in ("2023-07-01", "2024-07-01"):
        want = both_engines["polars"] / run
        for name in [*OUTCOME_FILES.values(), "changes.parquet", "rejects.parquet"]:
            assert_frame_equal(pl.read_parquet(tmp_path / run / name), pl.read_parquet(want / name))
        manifest = json.loads((tmp_path / run / "manifest.json").read_text("utf-8"))
        expected = json.loads((want / "manifest.json").read_text("utf-8"))
        assert manifest["accounting"] == expected["accounting"]
        assert manifest["accounting"]["annual"]["read"] > 10 * 97  # many batches indeed


def test_a_file_read_again_keeps_nothing_of_its_first_reading(
    both_engines: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text file found not to be UTF-8 at its end is read again from its start
    (`csvread.ReadAgain`). The batches the DuckDB engine had already written of it are removed
    first, even where the second reading cuts its batches elsewhere: every row once."""
    monkeypatch.setattr(load, "BATCH_ROWS", 97)
    monkeypatch.setattr(csvread, "OVERLAP_BYTES", 0)
    original = csvread.read_checking
    found: list[str] = []

    def found_out(path: Path, *args: Any, **kwargs: Any) -> Any:
        checked = original(path, *args, **kwargs)
        if checked is None:
            return None
        batches, encoding, verdict = checked

        def then_not_utf8() -> Iterator[pl.DataFrame]:
            whole = pl.concat(list(batches))  # cut unlike the second reading's batches
            for start in range(0, whole.height, 61):
                yield whole.slice(start, 61)
            found.append(str(path))
            raise csvread.ReadAgain(str(path))

        return then_not_utf8(), encoding, verdict

    monkeypatch.setattr(csvread, "read_checking", found_out)
    classify(sample_options(tmp_path, date(2024, 7, 1), "duckdb", excel=False))
    assert found  # a sample file was read twice
    want = both_engines["polars"] / "2024-07-01"
    for name in [*OUTCOME_FILES.values(), "rejects.parquet"]:
        got = pl.read_parquet(tmp_path / "2024-07-01" / name)
        assert_frame_equal(got, pl.read_parquet(want / name))
    manifest = json.loads((tmp_path / "2024-07-01" / "manifest.json").read_text("utf-8"))
    expected = json.loads((want / "manifest.json").read_text("utf-8"))
    assert manifest["accounting"] == expected["accounting"]


def test_work_folder_is_removed_and_a_killed_runs_leftovers_too(tmp_path: Path) -> None:
    leftover = tmp_path / ".staging-work-2024-07-01-999999"
    (leftover / "spill").mkdir(parents=True)
    classify(
        sample_options(tmp_path, date(2024, 7, 1), "duckdb", memory_limit="256MB", excel=False)
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".staging")) == []
    manifest = json.loads((tmp_path / "2024-07-01" / "manifest.json").read_text("utf-8"))
    assert manifest["settings"]["memory_limit"] == "256MB"


def test_a_recheck_of_a_duckdb_run_records_its_own_engine(
    both_engines: dict[str, Path], tmp_path: Path
) -> None:
    """A recheck runs on the Polars engine: its manifest says so, not its base run's engine."""
    corrections = tmp_path / "corrections.csv"
    corrections.write_text(",".join(CORRECTION_COLUMNS) + "\n", encoding="utf-8")
    base = both_engines["duckdb"] / "2024-07-01"
    args = ["recheck", "--date", "2024-09-30", "--base", str(base), "--corrections"]
    args += [str(corrections), "--rules", str(ROOT / "rules"), "--out", str(tmp_path / "runs")]
    done = run_cli([*args, "--no-excel", "--quiet"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((tmp_path / "runs" / "2024-09-30" / "manifest.json").read_text("utf-8"))
    assert manifest["settings"]["engine"] == "polars"
    assert manifest["settings"]["memory_limit"] is None


# ---- the command line ------------------------------------------------------------------------


def _cli(tmp_path: Path, *more: str) -> tuple[int, str]:
    args = ["classify", "--date", "2024-07-01", "--out", str(tmp_path / "runs"), "--no-excel"]
    args += ["--rules", str(ROOT / "rules")]
    for extract, paths in sample_inputs(2023).items():
        for path in paths:
            args += [f"--{extract}", str(path)]
    done = run_cli([*args, *more], cwd=tmp_path)
    return done.returncode, done.stdout + done.stderr


def test_cli_runs_the_duckdb_engine(tmp_path: Path) -> None:
    code, text = _cli(tmp_path, "--engine", "duckdb", "--memory-limit", "512MB", "--quiet")
    assert code == 0, text
    assert (tmp_path / "runs" / "2024-07-01" / "survival.parquet").exists()


@pytest.mark.parametrize(
    ("more", "words"),
    [
        (["--engine", "spark"], "unknown engine 'spark'"),
        (["--memory-limit", "2GB"], "--memory-limit applies to the DuckDB engine only"),
        (["--engine", "duckdb", "--memory-limit", "lots"], "--memory-limit 'lots'"),
    ],
)
def test_cli_refuses_bad_enginesample_options(tmp_path: Path, more: list[str], words: str) -> None:
    code, text = _cli(tmp_path, *more)
    assert code == 2, text
    assert words in " ".join(text.split())
    assert not (tmp_path / "runs" / "2024-07-01").exists()


# ---- the platform form of the SQL (compile-sql) ----------------------------------------------


def test_platform_sql_over_extract_tables_agrees_with_polars(tmp_path: Path) -> None:
    """`outcomes_sql` over tables named after the extracts (the data platform's typed tables)
    against the Polars engine fed the very same typed rows."""
    options = sample_options(tmp_path, date(2024, 7, 1), "polars")
    sources, compiled = compile_for(options)
    raw = {
        e: load_extract(
            e,
            list(options.inputs[e]),
            sources.extracts[e],
            transform=partial(type_rows, spec=sources.extracts[e]),
        )
        for e in EXTRACTS
    }
    tables = platform_tables(raw, sources)
    sql = outcomes_sql(compiled, "duckdb")
    assert 'FROM "annual"' in sql and 'FROM "tax"' in sql and 'FROM "social"' in sql
    con = duckdb.connect()
    for extract, table in tables.items():
        con.register(extract, table.to_arrow())
    columns = ["uscc", "tier", "rule_id", "reasons", "flags", "region_code", "industry_code"]
    got = con.sql(sql).pl().select(columns).sort("uscc")
    want = type_extracts(platform_readers(tables, sources), compiled, sources).outcomes
    assert got.height > 1900
    assert_frame_equal(got, want.select(columns))
    # the platform's codes are checked in SQL: mismatching check characters are flagged
    assert got.filter(pl.col("flags").list.len() > 0).height > 0


# ---- generated extracts: validation, duplicates, orphans, the join ----------------------------


def _code(body: str) -> str:
    total = sum(uscc.VALUE[ch] * w for ch, w in zip(body, uscc.WEIGHTS, strict=True))
    return body + uscc.CHARSET[(31 - total % 31) % 31]


GOOD = [_code(f"92420102MA4K1B2C{i}") for i in range(5)]
MISMATCH = GOOD[0][:-1] + ("1" if GOOD[0][-1] != "1" else "2")
CODES = [*GOOD, MISMATCH, "", "XYZ", _code("91420102MA4K1B2C0"), GOOD[1].lower()]
VALUES: dict[str, list[str]] = {
    "date": ["2020-02-29", "2021-07-01", "2024/7/1", "2023-06-30", "", "2024-13-45"],
    "int": ["0", "1", "3", "5", "２０２３", "2023", "2022", "", "x"],
    "decimal": ["0", "1,000", "30000", "1000000", "", "abc"],
    "bool": ["是", "否", "", "maybe"],
    "text": ["存续", "歇业", "开业", "一般纳税人", "420102", "F5212", ""],
}


def _rows(extract: str, fields: dict[str, str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.fixed_dictionaries(
        {
            "uscc": st.sampled_from(CODES),
            "_file": st.integers(0, 1),
            **{name: st.sampled_from(VALUES[kind]) for name, kind in fields.items()},
        }
    )
    # each row may come again, in the other file (an exact duplicate), or with its first value
    # changed (a conflicting duplicate)
    how = st.sampled_from(["once", "twice", "changed"])
    return st.lists(st.tuples(row, how), max_size=14 if extract == "annual" else 10).map(
        lambda pairs: [r for base, kind in pairs for r in _copies(base, kind, fields)]
    )


def _copies(base: dict[str, Any], kind: str, fields: dict[str, str]) -> list[dict[str, Any]]:
    if kind == "once":
        return [base]
    if kind == "twice":
        return [base, {**base, "_file": 1 - base["_file"]}]
    name = next(iter(fields))
    pool = VALUES[fields[name]]
    return [base, {**base, name: pool[0] if base[name] != pool[0] else pool[1]}]


def _raw(extract: str, rows: list[dict[str, Any]], fields: list[str], spec: Any) -> RawExtract:
    files = [f"{extract}_{i}.csv" for i in range(2)]
    frame = pl.DataFrame(
        {
            "_file": [r["_file"] for r in rows],
            "uscc": [r["uscc"] or None for r in rows],
            **{f: [r[f] or None for r in rows] for f in fields},
        },
        schema={"_file": pl.UInt16, "uscc": pl.String, **dict.fromkeys(fields, pl.String)},
    ).with_columns((pl.int_range(pl.len(), dtype=pl.UInt32) + 2).over("_file").alias("_row"))
    frame = frame.sort("_file", "_row")  # as the loader stacks them: file by file, row by row
    counts = [frame.filter(pl.col("_file") == i).height for i in range(2)]
    infos = [
        FileInfo(extract, p, "", "csv", "utf-8", n, {}, ())
        for p, n in zip(files, counts, strict=True)
    ]
    return RawExtract(extract, type_rows(frame, spec), infos, typed=True)


_OPTIONS = sample_options(Path(tempfile.gettempdir()), date(2024, 7, 1), "polars")
_SOURCES, _COMPILED = compile_for(_OPTIONS)
_FIELDS = {
    e: {f: _SOURCES.extracts[e].fields[f].type for f in _SOURCES.extracts[e].typed_fields()}
    for e in EXTRACTS
}


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    annual=_rows("annual", _FIELDS["annual"]),
    tax=_rows("tax", _FIELDS["tax"]),
    social=_rows("social", _FIELDS["social"]),
)
def test_sql_validation_agrees_with_polars(
    annual: list[dict[str, Any]], tax: list[dict[str, Any]], social: list[dict[str, Any]]
) -> None:
    """Every outcome, reject and count of the DuckDB engine equals the Polars engine's on
    extracts with bad, missing and mismatching codes, other tax years, orphans, exact and
    conflicting duplicates across files, unparseable and missing values."""
    raw = {
        e: _raw(e, rows, list(_FIELDS[e]), _SOURCES.extracts[e])
        for e, rows in (("annual", annual), ("tax", tax), ("social", social))
    }
    want = type_extracts({e: partial(lambda r: r, r) for e, r in raw.items()}, _COMPILED, _SOURCES)
    con = duckdb.connect()
    for extract, r in raw.items():
        con.register(extract, r.frame.with_columns(pl.col("_code_status").cast(pl.String)))
    with tempfile.TemporaryDirectory() as work:
        got = duck.type_tables(con, _COMPILED, _SOURCES, raw, Path(work), Reporter(quiet=True))
        outcomes = pl.concat([t.lazy().collect() for t in got.outcomes.values()]).sort("uscc")
        rejects = got.rejects.lazy().collect()
    assert_frame_equal(outcomes, want.outcomes.with_columns(pl.lit(False).alias("decided")))
    assert_frame_equal(rejects, want.rejects)
    assert got.accounting == want.accounting
    assert got.per_file == want.per_file
    assert got.businesses == want.outcomes.height
