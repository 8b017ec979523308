"""The change log as a pure function of two runs' outcomes."""

from __future__ import annotations

import polars as pl

from gthfx.runs.changes import diff_outcomes


def outcomes(rows: list[tuple[str, str, str, list[str], float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "uscc": [r[0] for r in rows],
            "tier": [r[1] for r in rows],
            "rule_id": [r[2] for r in rows],
            "reasons": [r[3] for r in rows],
            "region_code": ["420102"] * len(rows),
            "sales_yuan": [r[4] for r in rows],
        },
        schema_overrides={"reasons": pl.List(pl.String)},
    )


BEFORE = outcomes(
    [
        ("A", "growth", "growth.standard", [], 800_000.0),  # up
        ("B", "development", "development.standard", [], 2e6),  # down
        ("C", "excluded", "reported", ["reported"], None),  # in
        ("D", "survival", "survival.default", [], 1.0),  # out
        ("E", "survival", "survival.default", [], 1.0),  # gone
        ("F", "excluded", "registered", ["registered"], None),  # excluded both: no change
        ("G", "survival", "survival.default", [], 5.0),  # same tier, other values: no change
    ]
)
AFTER = outcomes(
    [
        ("A", "development", "development.standard", [], 1_200_000.0),
        ("B", "growth", "growth.standard", [], 2e6),
        ("C", "survival", "survival.default", [], 7.5),
        ("D", "excluded", "not_abnormal", ["not_abnormal", "reported"], None),
        ("F", "excluded", "operating", ["operating"], None),
        ("G", "survival", "survival.default", [], 6.0),
        ("H", "growth", "growth.standard", [], 3.0),  # new
    ]
)


def test_every_kind_of_change_with_its_cause() -> None:
    changes = diff_outcomes(BEFORE, AFTER, ["sales_yuan"])
    got = {r["uscc"]: r for r in changes.iter_rows(named=True)}
    assert {k: v["change"] for k, v in got.items()} == {
        "A": "up", "B": "down", "C": "in", "D": "out", "E": "gone", "H": "new",
    }  # fmt: skip
    assert got["A"]["cause"] == (
        "规则 growth.standard → development.standard; sales_yuan 800000 → 1200000"
    )
    assert got["B"]["cause"] == "规则 development.standard → growth.standard"
    assert got["C"]["cause"] == "规则 reported → survival.default; sales_yuan 空 → 7.5"
    assert got["D"]["cause"] == "不参与分型: not_abnormal, reported"
    assert got["E"]["tier_after"] is None and got["E"]["region_code"] == "420102"
    assert got["H"]["tier_before"] is None
    assert changes.get_column("uscc").to_list() == sorted(got)


def test_first_run_is_all_new() -> None:
    changes = diff_outcomes(None, AFTER, ["sales_yuan"])
    assert set(changes.get_column("change")) == {"new"}
    assert changes.height == AFTER.height


def test_identical_runs_have_no_changes() -> None:
    assert diff_outcomes(AFTER, AFTER, ["sales_yuan"]).height == 0
