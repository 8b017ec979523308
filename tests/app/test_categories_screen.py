"""名特优新 screening against an independent oracle: generated truth records (a run, messy
applications, evidence and records with every boundary), the expected result of every entry
computed by `categories_truth.oracle` (plain Python from SPEC §10), compared entry by entry; the
accounting and the rejected rows; no personal data in anything written."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from categories_truth import S, generate, oracle, write_files
from gthfx.app.categories.screen import ScreenOptions, screen
from gthfx.errors import ConfigError, InputError, RunError
from support import ROOT


def _screen(files: dict[str, Path], out: Path, **extra: object) -> Path:
    result = screen(
        ScreenOptions(
            run=files["run"],
            on=S,
            applications=(files["applications"],),
            evidence=(files["evidence"],),
            records=(files["records"],),
            criteria=ROOT / "rules",
            out=out,
            **extra,  # type: ignore[arg-type]
        )
    )
    return result.folder


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_entry_matches_the_oracle(tmp_path: Path, seed: int) -> None:
    truth = generate(seed)
    files = write_files(truth, tmp_path / "in", seed)
    folder = _screen(files, tmp_path / "categories")
    got = pl.read_parquet(folder / "screening.parquet")
    expected = oracle(truth)
    assert got.height == len(expected)
    seen = set()
    for row in got.iter_rows(named=True):
        key = (row["uscc"], row["category"])
        seen.add(key)
        want = expected[key]
        assert row["result"] == want["result"], (key, row["reasons"], want)
        assert row["reasons"] == want["reasons"], key
        assert row["criteria_met"] == want["criteria_met"], key
        assert row["rank"] == want["rank"], key
    assert seen == set(expected)
    # every outcome and every reason kind shows up (the generator covers the boundaries)
    assert set(got.get_column("result")) == {"eligible", "ineligible", "over_quota"}
    reasons = set(got.get_column("reasons").explode().drop_nulls())
    for reason in (
        "not_typed",
        "no_consent",
        "below_gate",
        "years",
        "records_unreadable",
        "exclusion.penalty",
        "exclusion.accident",
        "exclusion.dishonest_debtor",
        "exclusion.serious_dishonest",
        "over_quota",
    ):
        assert reason in reasons, reason
    # sorted by uscc, then category order
    order = got.with_columns(
        pl.col("category").replace_strict(
            {"known": 0, "distinctive": 1, "quality": 2, "emerging": 3}
        )
    ).select("uscc", "category")
    assert order.rows() == sorted(order.rows())


def test_rejects_and_accounting(tmp_path: Path) -> None:
    truth = generate(7)
    files = write_files(truth, tmp_path / "in", 7)
    folder = _screen(files, tmp_path / "categories")
    rejects = pl.read_parquet(folder / "rejects.parquet")
    got = {(r["extract"], r["row"], r["reason"]) for r in rejects.iter_rows(named=True)}
    assert got == set(truth.bad_rows)
    assert all(
        Path(f).name in ("applications.csv", "evidence.parquet", "records.csv")
        for f in rejects.get_column("file")
    )
    import json

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for extract, acc in manifest["accounting"].items():
        assert acc["read"] == acc["used"] + acc["rejected"] + acc["collapsed"], extract
    assert manifest["accounting"]["records"]["read"] == len(truth.records)
    assert manifest["accounting"]["evidence"]["read"] == len(truth.evidence) + 1
    assert manifest["accounting"]["applications"]["read"] == len(truth.applications) + 2
    assert all(i["sha256"] for i in manifest["inputs"])
    assert manifest["criteria"]["sha256"] and manifest["run"]["run_date"] == "2024-07-01"


def test_no_personal_data_in_anything_written(tmp_path: Path) -> None:
    truth = generate(4)
    files = write_files(truth, tmp_path / "in", 4)
    folder = _screen(files, tmp_path / "categories")
    for path in folder.iterdir():
        data = path.read_bytes()
        if path.suffix == ".parquet":
            data = pl.read_parquet(path).write_ndjson().encode()
        text = data.decode("utf-8", errors="ignore")
        for value in set(truth.personal):
            assert value not in text, (path.name, "personal data written")
    masked = pl.read_parquet(folder / "screening.parquet")
    names = masked.get_column("operator_name_masked").drop_nulls()
    assert names.len() and names.str.contains(r"^.\*+$").all()
    phones = masked.get_column("phone_masked").drop_nulls()
    assert phones.str.contains(r"^\d{3}\*{4}\d{4}$").all()
    ids = masked.get_column("operator_id_masked").drop_nulls()
    assert ids.str.contains(r"^\d{6}\*{8}\d{3}[\dX]$").all()


def test_district_lists_are_csv_with_bom_and_xlsx(tmp_path: Path) -> None:
    truth = generate(5)
    files = write_files(truth, tmp_path / "in", 5)
    folder = _screen(files, tmp_path / "categories")
    csvs = sorted(folder.glob("筛选结果_*.csv"))
    assert {p.stem for p in csvs} >= {"筛选结果_江岸区", "筛选结果_武昌区", "筛选结果_洪山区"}
    total = 0
    for path in csvs:
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
        table = pl.read_csv(path)
        assert table.columns[:4] == ["统一社会信用代码", "个体工商户名称", "区划名称", "申报类别"]
        total += table.height
        book = pl.read_excel(path.with_suffix(".xlsx"), engine="calamine")
        assert book.height == table.height
    assert total == pl.read_parquet(folder / "screening.parquet").height


def test_names_come_from_the_run_annual_extract_checked_by_hash(tmp_path: Path) -> None:
    truth = generate(6)
    files = write_files(truth, tmp_path / "in", 6)
    folder = _screen(files, tmp_path / "categories")
    got = pl.read_parquet(folder / "screening.parquet")
    names = {b["uscc"]: b["name"] for b in truth.businesses}
    assert all(names[u] == n for u, n in got.select("uscc", "name").iter_rows())
    files["annual"].write_text("统一社会信用代码,成立日期,登记状态\n", encoding="utf-8")
    with pytest.raises(InputError, match="changed since the run"):
        _screen(files, tmp_path / "other")
    # with --annual, those files are read instead
    other = tmp_path / "annual2.csv"
    other.write_text("统一社会信用代码,个体工商户名称,成立日期,登记状态\n", encoding="utf-8")
    folder = _screen(files, tmp_path / "third", annual=(other,))
    assert pl.read_parquet(folder / "screening.parquet").get_column("name").null_count() > 0


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    truth = generate(8, n=40)
    files = write_files(truth, tmp_path / "in", 8)
    missing = tmp_path / "no_code.csv"
    missing.write_text("编号,申报类别,申报途径\n1,知名,自主申报\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        _screen({**files, "applications": missing}, tmp_path / "a")
    assert "no_code.csv" in str(caught.value) and "uscc" in str(caught.value)
    assert "统一社会信用代码" in str(caught.value)
    with pytest.raises(RunError, match="no such run folder"):
        _screen({**files, "run": tmp_path / "nowhere"}, tmp_path / "b")
    early = ScreenOptions(
        run=files["run"],
        on=S.replace(year=2024, month=6, day=1),
        applications=(files["applications"],),
        evidence=(files["evidence"],),
        records=(files["records"],),
        criteria=ROOT / "rules",
        out=tmp_path / "c",
    )
    with pytest.raises(ConfigError, match="before the run's date"):
        screen(early)
    # nothing half-written: a failed screening leaves no step folder
    assert not (tmp_path / "a" / S.isoformat() / "screening").exists()


def test_rescreening_needs_force_and_is_identical(tmp_path: Path) -> None:
    truth = generate(9, n=80)
    files = write_files(truth, tmp_path / "in", 9)
    folder = _screen(files, tmp_path / "categories")
    first = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "manifest.json"}
    with pytest.raises(RunError, match="already written"):
        _screen(files, tmp_path / "categories")
    _screen(files, tmp_path / "categories", force=True)
    again = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "manifest.json"}
    assert first == again
