"""`gthfx export directory`: the labels of a run against the run's own outcome files and a
register (written with the register's own API), business by business; `--since` against an
oracle built from the two runs and the register as of each run's date; the three formats agree."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from gthfx.app.export import ExportOptions, export_directory
from support import outcome_rows, write_register

ENTRIES = [
    # in force on both run dates
    {"category": "known", "valid_from": "2022-12-01", "valid_to": "2025-11-30"},
    # certified between the two runs: changes the labels of 2024 only
    {"category": "quality", "valid_from": "2023-12-01", "valid_to": "2026-11-30"},
    # ended between the two runs
    {"category": "emerging", "valid_from": "2020-12-01", "valid_to": "2023-11-30"},
]


@pytest.fixture(scope="module")
def register(sample_runs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    both = {r["uscc"] for r in outcome_rows(sample_runs / "2023-07-01")} & {
        r["uscc"] for r in outcome_rows(sample_runs / "2024-07-01")
    }
    codes = sorted(both)[:30]
    rows = []
    for index, code in enumerate(codes):
        for entry in ENTRIES[: 1 + index % 3]:
            rows.append({"uscc": code, **entry})
    folder = tmp_path_factory.mktemp("register")
    write_register(folder, rows)
    return folder


def held_on(register: Path, on: date) -> dict[str, list[tuple[str, date, date]]]:
    out: dict[str, list[tuple[str, date, date]]] = {}
    order = ["known", "distinctive", "quality", "emerging"]
    for e in json.loads((register / "entries.json").read_text(encoding="utf-8")):
        start, end = date.fromisoformat(e["valid_from"]), date.fromisoformat(e["valid_to"])
        if start <= on <= end:
            out.setdefault(e["uscc"], []).append((e["category"], start, end))
    return {k: sorted(v, key=lambda t: order.index(t[0])) for k, v in out.items()}


def labels_of(run: Path, register: Path) -> dict[str, tuple[Any, ...]]:
    on = date.fromisoformat(run.name)
    held = held_on(register, on)
    return {r["uscc"]: (r["tier"], tuple(held.get(r["uscc"], ()))) for r in outcome_rows(run)}


def test_full_labels_are_the_runs_outcomes_with_the_register(
    sample_runs: Path, register: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = sample_runs / "2024-07-01"
    result = export_directory(ExportOptions(run=run, out=tmp_path / "e", register=register))
    table = pl.read_parquet(tmp_path / "e/labels.parquet")
    truth = labels_of(run, register)
    assert table.height == len(truth) == result.businesses
    assert table.get_column("uscc").to_list() == sorted(truth)
    for row in table.iter_rows(named=True):
        tier, held = truth[row["uscc"]]
        assert row["tier"] == tier and row["run_date"] == date(2024, 7, 1)
        assert row["ruleset_id"] == "hubei-reference-2024"
        assert list(
            zip(row["categories"], row["valid_from"], row["valid_to"], strict=True)
        ) == list(held)
    assert result.with_category == sum(1 for _, held in truth.values() if held)
    csv = pl.read_csv(tmp_path / "e/labels.csv", infer_schema=False)
    lines = [
        json.loads(x)
        for x in (tmp_path / "e/labels.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    for row, text, record in zip(
        table.iter_rows(named=True), csv.iter_rows(named=True), lines, strict=True
    ):
        assert text["uscc"] == record["uscc"] == row["uscc"]
        assert (
            (text["categories"] or "")
            == ";".join(row["categories"])
            == ";".join(record["categories"])
        )
        assert (text["valid_to"] or "") == ";".join(d.isoformat() for d in row["valid_to"])
        assert record["tier"] == row["tier"] and record["run_date"] == "2024-07-01"


def test_since_writes_new_changed_and_gone_only(
    sample_runs: Path, register: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, after = sample_runs / "2023-07-01", sample_runs / "2024-07-01"
    result = export_directory(
        ExportOptions(run=after, since=before, out=tmp_path / "d", register=register)
    )
    table = pl.read_parquet(tmp_path / "d/labels.parquet")
    old, new = labels_of(before, register), labels_of(after, register)
    expected = {}
    for code in old.keys() | new.keys():
        if code not in old:
            expected[code] = "new"
        elif code not in new:
            expected[code] = "gone"
        elif old[code] != new[code]:
            expected[code] = "changed"
    got = dict(table.select("uscc", "change").iter_rows())
    assert got == expected
    assert result.changes == {
        k: sum(v == k for v in expected.values()) for k in ("new", "changed", "gone")
    }
    # the register alone changes a business whose tier stayed
    assert any(new[c][0] == old[c][0] for c, kind in expected.items() if kind == "changed")
    gone = table.filter(pl.col("change") == "gone")
    assert (
        gone.get_column("tier").is_null().all()
        and gone.get_column("region_code").is_not_null().any()
    )
    assert table.get_column("uscc").to_list() == sorted(got)
    manifest = json.loads((tmp_path / "d/manifest.json").read_text(encoding="utf-8"))
    assert manifest["mode"] == "since" and manifest["since"]["run_date"] == "2023-07-01"


def test_without_a_register_the_changes_are_the_runs_change_log(
    sample_runs: Path, tmp_path: Path
) -> None:
    before, after = sample_runs / "2023-07-01", sample_runs / "2024-07-01"
    export_directory(ExportOptions(run=after, since=before, out=tmp_path / "d"))
    table = pl.read_parquet(tmp_path / "d/labels.parquet")
    log = pl.read_parquet(after / "changes.parquet")
    kinds = {
        "new": "new",
        "gone": "gone",
        "up": "changed",
        "down": "changed",
        "in": "changed",
        "out": "changed",
    }
    assert dict(table.select("uscc", "change").iter_rows()) == {
        u: kinds[c] for u, c in log.select("uscc", "change").iter_rows()
    }
