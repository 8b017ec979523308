"""`gthfx support` and `gthfx policies explain` against an independent oracle: a policy library
made for the test, whose every `when` is written a second time here in plain Python (the rule
grammar's missing-value rules spelled out), run on the shipped samples' 2024 run with a 名特优新
register written with the register's own API (`tests/support.write_register`) —
compared business by business and measure by measure."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from gthfx.app.support.deliver import SupportOptions, support
from gthfx.app.support.explain import explain_support
from gthfx.vocab import CATEGORIES
from support import SAMPLES, outcome_rows, write_register

RUN_DATE = date(2024, 7, 1)
LIBRARY_A = """\
id: test-a
title: 测试政策库 A
effective_from: "2024-01-01"
source: test
parameters:
  min_sales: {label: 最低销售额, value: 500_000, unit: 元, source: test}
measures:
  - {id: m.section, title: 门类措施, department: 甲, tiers: [survival],
     when: 'industry_section in ["F", "H"]',
     source: s, delivery: 免申即享, benefit: b, how_to_apply: h, contact: c}
  - {id: m.insured, title: 参保措施, department: 乙, tiers: [growth], categories: [known],
     when: insured_staff is missing or employees > insured_staff,
     source: s, delivery: 申报, benefit: b, how_to_apply: h, contact: c}
  - {id: m.sales, title: 销售措施, department: 丙, tiers: [growth, development],
     when: 'sales_yuan >= min_sales and not (taxpayer_type == "一般纳税人")',
     source: s, delivery: 快申快享, benefit: b, how_to_apply: h, contact: c}
  - {id: m.reported, title: 年报措施, department: 丁, tiers: [excluded],
     when: rule_id == "reported",
     source: s, delivery: 免申即享, benefit: b, how_to_apply: h, contact: c}
  - {id: m.cats, title: 类别措施, department: 戊, categories: [quality, emerging],
     source: s, delivery: 申报, benefit: b, how_to_apply: h, contact: c}
  - {id: m.old, title: 过期措施, department: 己, tiers: [survival], effective_to: "2024-06-30",
     source: s, delivery: 申报, benefit: b, how_to_apply: h, contact: c}
  - {id: m.region, title: 区域措施, department: 庚, tiers: [survival, growth],
     when: 'years_in_business >= 3 and region_code in ["420102", "420106"]',
     source: s, delivery: 申报, benefit: b, how_to_apply: h, contact: c}
  - {id: m.dates, title: 老店措施, department: 辛, tiers: [survival, growth, development],
     when: established_on < date("2015-01-01") or years_in_business is missing,
     source: s, delivery: 免申即享, benefit: b, how_to_apply: h, contact: c}
"""
LIBRARY_B = """\
id: test-b
title: 测试政策库 B
effective_from: "2025-01-01"
source: test
measures:
  - {id: m.future, title: 未来措施, department: 壬, tiers: [survival],
     source: s, delivery: 申报, benefit: b, how_to_apply: h, contact: c}
"""


def _gt(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a > b


ORACLE: dict[str, tuple[set[str], set[str], Callable[[dict[str, Any]], bool]]] = {
    "m.section": (
        {"survival"},
        set(),
        lambda r: (r["industry_code"] or "").strip()[:1].upper() in {"F", "H"},
    ),
    "m.insured": (
        {"growth"},
        {"known"},
        lambda r: r["insured_staff"] is None or _gt(r["employees"], r["insured_staff"]),
    ),
    "m.sales": (
        {"growth", "development"},
        set(),
        lambda r: (
            (r["sales_yuan"] is not None and r["sales_yuan"] >= 500_000)
            and not (r["taxpayer_type"] == "一般纳税人")  # noqa: SIM201 — as the rule reads
        ),
    ),
    "m.reported": ({"excluded"}, set(), lambda r: r["rule_id"] == "reported"),
    "m.cats": (set(), {"quality", "emerging"}, lambda r: True),
    "m.region": (
        {"survival", "growth"},
        set(),
        lambda r: (
            (r["years_in_business"] is not None and r["years_in_business"] >= 3)
            and r["region_code"] in {"420102", "420106"}
        ),
    ),
    "m.dates": (
        {"survival", "growth", "development"},
        set(),
        lambda r: (
            (r["established_on"] is not None and r["established_on"] < date(2015, 1, 1))
            or r["years_in_business"] is None
        ),
    ),
}  # m.old and m.future are not in force on the run date: nobody gets them


@pytest.fixture(scope="module")
def setting(sample_runs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("support")
    library = root / "policies"
    library.mkdir()
    (library / "a.yaml").write_text(LIBRARY_A, encoding="utf-8")
    (library / "b.yaml").write_text(LIBRARY_B, encoding="utf-8")
    run = sample_runs / "2024-07-01"
    rows = outcome_rows(run)
    rng = random.Random(14)
    entries, held = [], {}
    for r in rng.sample(rows, 60):
        for category in rng.sample(CATEGORIES, rng.choice([1, 1, 2])):
            valid = rng.random() < 0.8  # else the entry ended before the run date
            span = ("2023-12-01", "2026-11-30") if valid else ("2020-12-01", "2023-11-30")
            entries.append(
                {
                    "uscc": r["uscc"],
                    "category": category,
                    "valid_from": span[0],
                    "valid_to": span[1],
                }
            )
            if valid:
                held.setdefault(r["uscc"], set()).add(category)
    entries.append(
        {
            "uscc": "92420102MA00000019",
            "category": "known",
            "valid_from": "2023-12-01",
            "valid_to": "2026-11-30",
        }
    )
    register = root / "register"
    write_register(register, entries)
    expected: set[tuple[str, str]] = set()
    for r in rows:
        cats = held.get(r["uscc"], set())
        for measure, (tiers, categories, when) in ORACLE.items():
            if (r["tier"] in tiers or cats & categories) and when(r):
                expected.add((r["uscc"], measure))
    patch = pytest.MonkeyPatch()
    result = support(
        SupportOptions(run=run, policies=library, out=root / "out", register=register, excel=True)
    )
    patch.undo()
    return {
        "root": root, "run": run, "library": library, "register": register, "rows": rows,
        "held": held, "expected": expected, "result": result, "out": root / "out",
    }  # fmt: skip


def test_measures_are_the_oracles_business_by_business(setting: dict[str, Any]) -> None:
    table = pl.read_parquet(setting["out"] / "measures.parquet")
    got = {(u, str(m)) for u, m in table.iter_rows()}
    assert got == setting["expected"]
    assert table.columns == ["uscc", "measure_id"]
    plain = table.with_columns(pl.col("measure_id").cast(pl.String))
    assert plain.equals(plain.sort("uscc", "measure_id"))  # sorted by code, then measure
    ids = {m for _, m in setting["expected"]}
    assert ids == set(ORACLE)  # every measure in force reaches someone in this run
    assert setting["result"].rows == len(setting["expected"])


def test_counts_per_measure_and_district(setting: dict[str, Any]) -> None:
    counts = pl.read_parquet(setting["out"] / "counts.parquet")
    region = {r["uscc"]: r["region_code"] for r in setting["rows"]}
    expected: dict[tuple[str, str | None], int] = {}
    for uscc, measure in setting["expected"]:
        key = (measure, region[uscc])
        expected[key] = expected.get(key, 0) + 1
    districts = set(region.values())
    for measure_id, region_code, n in counts.iter_rows():
        assert n == expected.get((measure_id, region_code), 0)
    assert counts.height == len(ORACLE) * len(districts)  # zeros included
    stats = pl.read_csv(setting["out"] / "统计.csv", encoding="utf8-lossy")
    totals = dict(zip(stats["措施编号"], stats["合计"], strict=True))
    for measure in ORACLE:
        assert totals[measure] == sum(1 for _, m in setting["expected"] if m == measure)


def test_notices_and_push_lists(setting: dict[str, Any]) -> None:
    notices = pl.read_parquet(setting["out"] / "notices.parquet")
    per: dict[str, set[str]] = {}
    for uscc, measure in setting["expected"]:
        per.setdefault(uscc, set()).add(measure)
    assert set(notices.get_column("uscc")) == set(per)
    titles = {
        "m.section": "门类措施", "m.insured": "参保措施", "m.sales": "销售措施",
        "m.reported": "年报措施", "m.cats": "类别措施", "m.region": "区域措施",
        "m.dates": "老店措施",
    }  # fmt: skip
    for row in notices.iter_rows(named=True):
        text = str(row["notice"])
        assert text.startswith("【政策告知】") and "2024年7月1日" in text
        for measure, title in titles.items():
            assert (title in text) == (measure in per[row["uscc"]]), (row["uscc"], measure)
        assert row["measures"] == len(per[row["uscc"]])
        held = setting["held"].get(row["uscc"])
        assert ("名特优新" in text) == bool(held)
    region = {r["uscc"]: r["region_code"] for r in setting["rows"]}
    listed = 0
    for path in setting["out"].glob("推送清单_*.csv"):
        table = pl.read_csv(path, encoding="utf8-lossy", infer_schema=False)
        assert table.columns[:2] == ["统一社会信用代码", "区划名称"] and "政策告知" in table.columns
        codes = table.get_column("统一社会信用代码").to_list()
        assert codes == sorted(codes)
        districts = {region[c] for c in codes}
        assert len(districts) == 1
        code = districts.pop()
        assert path.name.endswith(f"_{code}.csv") if code else path.name == "推送清单_未知区划.csv"
        listed += len(codes)
        assert path.with_suffix(".xlsx").exists()
    assert listed == len(per)


def test_the_manifest_records_inputs_and_what_is_not_in_force(setting: dict[str, Any]) -> None:
    manifest = json.loads((setting["out"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "support" and manifest["run_date"] == "2024-07-01"
    assert manifest["measures_not_in_force"] == ["m.future", "m.old"]
    assert sorted(manifest["measures_in_force"]) == sorted(ORACLE)
    import hashlib

    for record in manifest["policies"]:
        assert record["sha256"] == hashlib.sha256(Path(record["path"]).read_bytes()).hexdigest()
    assert manifest["register"]["entries_in_force"] > 0
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((setting["out"] / name).read_bytes()).hexdigest() == digest


def test_no_personal_data_in_any_file(setting: dict[str, Any]) -> None:
    names: set[str] = set()
    for path in (SAMPLES / "2023" / "annual").glob("*.csv"):
        data = path.read_bytes()
        text = (
            data.decode("utf-8-sig")
            if path.name.startswith("annual_江岸")
            else data.decode("gb18030")
        )
        header, *lines = text.splitlines()
        columns = header.split(",")
        for column in ("经营者姓名", "经营者", "联系电话", "经营者身份证号码", "身份证号码"):
            if column in columns:
                index = columns.index(column)
                names |= {line.split(",")[index] for line in lines if len(line.split(",")) > index}
    names = {n for n in names if len(n) >= 2}
    assert len(names) > 100
    for path in setting["out"].iterdir():
        if path.suffix in (".csv", ".json"):
            text = path.read_text(encoding="utf-8-sig")
            assert not [n for n in names if n in text], path


def test_explain_agrees_with_the_table_and_says_why(
    setting: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(3)
    rows = setting["rows"]
    chosen = rng.sample(rows, 25) + [r for r in rows if r["uscc"] in setting["held"]][:10]
    for row in chosen:
        e = explain_support(
            row["uscc"].lower(), setting["run"], setting["library"], register=setting["register"]
        )
        assert e.uscc == row["uscc"] and e.tier == row["tier"]
        gets = {m for u, m in setting["expected"] if u == row["uscc"]}
        assert set(e.gets) == gets
        for m in e.measures:
            if m.id in ("m.old", "m.future"):
                assert not m.in_force and "不在有效期内" in m.why
            elif m.gets:
                assert m.why.startswith("适用")
            else:
                assert m.why.startswith("不适用")
                if m.via_tier or m.via_categories:
                    assert m.when_holds is False and "适用条件不成立" in m.why
        assert {c.category for c in e.categories} == setting["held"].get(row["uscc"], set())
    one = explain_support(rows[0]["uscc"], setting["run"], setting["library"], measure="m.sales")
    assert [m.id for m in one.measures] == ["m.sales"]
    clause = one.measures[0].clause
    assert clause is not None and clause.op == "and" and len(clause.parts) == 2
    assert {v.name for v in clause.parts[0].values} == {"sales_yuan"}
    assert clause.parts[0].thresholds[0].value == 500_000
    json.loads(one.to_json())


def test_explain_refuses_a_code_not_in_the_run_and_an_unknown_measure(
    setting: dict[str, Any],
) -> None:
    from gthfx.errors import GthfxError

    with pytest.raises(GthfxError, match="not a business of the run"):
        explain_support("92420102MA00000019", setting["run"], setting["library"])
    with pytest.raises(GthfxError, match=r"did you mean `m\.sales`"):
        explain_support(
            setting["rows"][0]["uscc"], setting["run"], setting["library"], measure="m.sale"
        )


def test_a_second_support_needs_force_and_gives_the_same_files(
    setting: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gthfx.errors import RunError

    options = SupportOptions(
        run=setting["run"],
        policies=setting["library"],
        out=setting["out"],
        register=setting["register"],
    )
    with pytest.raises(RunError, match="already exists"):
        support(options)
    again = setting["root"] / "again"
    support(
        SupportOptions(
            run=setting["run"], policies=setting["library"], out=again, register=setting["register"]
        )
    )
    for path in setting["out"].iterdir():
        if path.name != "manifest.json":
            assert path.read_bytes() == (again / path.name).read_bytes(), path.name
