"""The 名特优新 steps after screening: publicity (masked, escaped, CSV with BOM, XLSX, HTML),
certification after objections (periods, upheld objections, pending ones, dates, twice), and
the yearly evaluation against an oracle (removed, renewed, expired, kept)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from categories_truth import CATEGORIES, S, Truth, generate, write_files
from gthfx.app.categories.certify import CertifyOptions, certify
from gthfx.app.categories.evaluate import EvaluateOptions, evaluate
from gthfx.app.categories.publicize import PublicizeOptions, publicize
from gthfx.app.categories.register import (
    CERTIFIED,
    EVENT_SCHEMA,
    Batch,
    append,
    entries_in_force,
    read_events,
)
from gthfx.app.categories.screen import ScreenOptions, screen
from gthfx.errors import ConfigError, InputError, RunError
from support import ROOT

OBJECTION_HEAD = "统一社会信用代码,申报类别,异议内容,核查结论,核查人,核查日期\n"


def _screened(tmp_path: Path, seed: int, **extra: Any) -> tuple[Truth, dict[str, Path], Path]:
    truth = generate(seed)
    files = write_files(truth, tmp_path / "in", seed)
    folder = screen(
        ScreenOptions(
            run=files["run"],
            on=S,
            applications=(files["applications"],),
            evidence=(files["evidence"],),
            records=(files["records"],),
            criteria=ROOT / "rules",
            out=tmp_path / "categories",
            **extra,
        )
    ).folder
    return truth, files, folder


def test_publicity_lists_the_eligible_entries_masked(tmp_path: Path) -> None:
    truth, _, folder = _screened(tmp_path, 11)
    result = publicize(PublicizeOptions(folder, date(2024, 10, 21)))
    assert result.end == date(2024, 10, 27)  # 7 days, the first included
    eligible = pl.read_parquet(folder / "screening.parquet").filter(pl.col("result") == "eligible")
    out = result.folder
    listed = pl.read_parquet(out / "publicity.parquet")
    assert sorted(listed.select("uscc", "category").rows()) == sorted(
        eligible.select("uscc", "category").rows()
    )
    raw = (out / "公示名单.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = pl.read_csv(out / "公示名单.csv", infer_schema=False)
    assert table.columns == [
        "序号",
        "区划",
        "个体工商户名称",
        "统一社会信用代码",
        "认定类别",
        "经营者",
        "联系电话",
        "经营者身份证号码",
        "公示开始日期",
        "公示结束日期",
    ]
    assert table.height == eligible.height > 0
    assert table.get_column("经营者").str.contains(r"^.\*+$").all()
    assert table.get_column("联系电话").str.contains(r"^\d{3}\*{4}\d{4}$").all()
    assert table.get_column("经营者身份证号码").str.contains(r"^\d{6}\*{8}\d{3}[\dX]$").all()
    assert set(table.get_column("公示结束日期")) == {"2024-10-27"}
    book = pl.read_excel(out / "公示名单.xlsx", engine="calamine")
    assert book.height == table.height
    html = (out / "公示名单.html").read_text(encoding="utf-8")
    assert html.count("<tr><td>") == table.height and "@media print" in html
    for path in out.iterdir():
        text = path.read_bytes().decode("utf-8", errors="ignore")
        if path.suffix == ".parquet":
            text = pl.read_parquet(path).write_ndjson()
        for value in set(truth.personal):
            assert value not in text, (path.name, "personal data published")
    with pytest.raises(ConfigError, match="before the screening date"):
        publicize(PublicizeOptions(folder, date(2024, 10, 1), force=True))
    again = publicize(PublicizeOptions(folder, date(2024, 10, 21), days=10, force=True))
    assert again.end == date(2024, 10, 30)


def test_the_html_page_escapes_every_text(tmp_path: Path) -> None:
    _, files, folder = _screened(tmp_path, 12)
    eligible = pl.read_parquet(folder / "screening.parquet").filter(pl.col("result") == "eligible")
    target = eligible.get_column("uscc")[0]
    nasty = '<script>alert("x")</script>&\'店'
    annual = tmp_path / "annual_named.csv"
    quoted = nasty.replace('"', '""')
    annual.write_text(
        f'统一社会信用代码,个体工商户名称,成立日期,登记状态\n{target},"{quoted}",2015-01-01,存续\n',
        encoding="utf-8",
    )
    folder = screen(
        ScreenOptions(
            run=files["run"],
            on=S,
            applications=(files["applications"],),
            evidence=(files["evidence"],),
            records=(files["records"],),
            criteria=ROOT / "rules",
            out=tmp_path / "categories",
            annual=(annual,),
            force=True,
        )
    ).folder
    out = publicize(PublicizeOptions(folder, date(2024, 10, 21))).folder
    html = (out / "公示名单.html").read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;店" in html
    csv = pl.read_csv(out / "公示名单.csv", infer_schema=False)
    assert nasty in csv.get_column("个体工商户名称").to_list()


def _objections(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = [OBJECTION_HEAD] + [
        f"{code},{cat},内容,{conclusion},王某,2024-10-28\n" for code, cat, conclusion in rows
    ]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_certification_after_objections(tmp_path: Path) -> None:
    _, _, folder = _screened(tmp_path, 13)
    publicize(PublicizeOptions(folder, date(2024, 10, 21)))
    eligible = (
        pl.read_parquet(folder / "screening.parquet")
        .filter(pl.col("result") == "eligible")
        .select("uscc", "category")
        .rows()
    )
    assert len(eligible) >= 3
    words = {"known": "知名", "distinctive": "特色", "quality": "优质", "emerging": "新兴"}
    upheld = eligible[0]
    objections = _objections(
        tmp_path / "objections.csv",
        [
            (upheld[0], words[upheld[1]], "成立"),
            (eligible[1][0], "", "不成立"),  # no category: every listed entry of the business
            ("92420102MA9999999X", "知名", "成立"),  # not on the list
        ],
    )
    register = tmp_path / "categories" / "register"
    options = CertifyOptions(folder, (objections,), date(2024, 10, 27), register)
    with pytest.raises(ConfigError, match="the publicity runs until 2024-10-27"):
        certify(options)
    pending = _objections(tmp_path / "pending.csv", [(eligible[2][0], "", "")])
    with pytest.raises(InputError, match="not yet concluded"):
        certify(CertifyOptions(folder, (pending,), date(2024, 11, 28), register))
    on = date(2024, 11, 28)
    result = certify(
        CertifyOptions(folder, (objections,), on, register, by="市局", document="文1号")
    )
    assert result.counts == {"certified": len(eligible) - 1, "removed": 1, "already_certified": 0}
    out = pl.read_parquet(result.folder / "certification.parquet")
    removed = out.filter(pl.col("certification") == "removed")
    assert removed.select("uscc", "category").rows() == [upheld]
    assert removed.get_column("reasons").to_list() == [["objection_upheld"]]
    rejects = pl.read_parquet(result.folder / "rejects.parquet")
    assert rejects.get_column("reason").to_list() == ["not_publicized"]
    assert rejects.get_column("row").to_list() == [4]
    entries = entries_in_force(register, date(2024, 12, 1))
    assert sorted(entries.select("uscc", "category").rows()) == sorted(set(eligible) - {upheld})
    assert set(entries.get_column("valid_from")) == {on}
    assert set(entries.get_column("valid_to")) == {date(2027, 11, 27)}
    assert set(entries.get_column("evaluation_from")) == {date(2026, 11, 28)}
    assert set(entries.get_column("document")) == {"文1号"}
    assert entries_in_force(register, date(2024, 11, 27)).height == 0
    events = read_events(register)
    assert set(events.get_column("by")) == {"市局"}
    # certifying again needs --force, and then adds nothing; another date is refused
    with pytest.raises(RunError, match="already written"):
        certify(options.__class__(folder, (objections,), on, register))
    again = certify(
        CertifyOptions(folder, (objections,), on, register, force=True, by="市局", document="文1号")
    )
    assert again.repeated and read_events(register).height == events.height
    with pytest.raises(RunError, match="already in the register"):
        certify(CertifyOptions(folder, (objections,), date(2024, 11, 29), register, force=True))


# ---- the yearly evaluation ---------------------------------------------------------------------


def _certified(truth: Truth, seed: int) -> list[dict[str, Any]]:
    """Register entries for some of the truth's businesses, in every position of their period."""
    rng = random.Random(seed)
    starts = [
        date(2021, 11, 30),
        date(2021, 10, 16),
        date(2022, 11, 30),
        date(2023, 11, 28),
        date(2021, 10, 15),
    ]
    out = []
    for b in truth.businesses[:200]:
        if rng.random() < 0.5:
            continue
        start = rng.choice(starts)
        route = rng.choice(["自主申报", "部门推荐"])
        out.append(
            {
                "event": CERTIFIED,
                "uscc": b["uscc"],
                "category": rng.choice(CATEGORIES),
                "date": start,
                "valid_from": start,
                "valid_to": date(start.year + 3, start.month, start.day) - timedelta(days=1),
                "evaluation_from": date(start.year + 2, start.month, start.day),
                "reasons": [],
                "criteria_met": [],
                "region_code": b["region"],
                "industry_code": "F5211",
                "tier": "growth",
                "route": route,
                "consent": rng.choice([True, False]) if route == "部门推荐" else None,
                "special_group": "残疾人" if rng.random() < 0.1 else None,
                "party_member": False,
                "advanced": False,
            }
        )
    return out


def _evaluation_oracle(truth: Truth, entries: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    from categories_truth import WINDOW_START

    by_code = {b["uscc"]: b for b in truth.businesses}
    valid: dict[str, set[str]] = {}
    honours: dict[str, set[str]] = {}
    chains: dict[str, int] = {}
    for e in truth.evidence:
        if e["obtained"] <= S and (e["until"] is None or e["until"] >= S):
            valid.setdefault(e["uscc"], set()).add(e["type"])
            if e["type"] == "荣誉称号":
                honours.setdefault(e["uscc"], set()).add(e["level"])
            if e["type"] == "连锁门店":
                chains[e["uscc"]] = max(chains.get(e["uscc"], 0), e["quantity"])
    hit: dict[str, list[str]] = {}
    for r in truth.records:
        in_window = WINDOW_START <= r["decided"] <= S
        light = r["kind"] in ("警告", "通报批评")
        repaired = r["repaired"] is not None and r["repaired"] <= S
        removed = r["removed"] is not None and r["removed"] <= S
        if r["type"] == "行政处罚" and in_window and not light and not repaired:
            hit.setdefault(r["uscc"], []).append("exclusion.penalty")
        if r["type"] == "重大安全事故" and in_window:
            hit.setdefault(r["uscc"], []).append("exclusion.accident")
        if r["type"] == "失信被执行人" and r["decided"] <= S and not removed:
            hit.setdefault(r["uscc"], []).append("exclusion.dishonest_debtor")
    out = {}
    for e in entries:
        if not (e["valid_from"] <= S <= e["valid_to"]):
            continue
        b = by_code[e["uscc"]]
        tier = b["tier"] if b["in_run"] else None
        reasons = []
        if not b["in_run"]:
            reasons.append("gone")
        elif tier == "excluded":
            reasons.append("not_typed")
        exempt = (e["route"] == "部门推荐" and e["consent"] is True) or e["special_group"]
        if not (tier in ("growth", "development") or exempt):
            reasons.append("below_gate")
        order = ("exclusion.penalty", "exclusion.accident", "exclusion.dishonest_debtor")
        reasons += [x for x in order if x in hit.get(e["uscc"], [])]
        if tier == "excluded" and "not_dishonest" in b["reasons"]:
            reasons.append("exclusion.serious_dishonest")
        types = valid.get(e["uscc"], set())
        five = b["in_run"] and b["years"] is not None and b["years"] >= 5
        insured = b["insured"] if b["in_run"] else None
        criteria = {
            "known": [
                ("known.trademark", "注册商标" in types),
                ("known.honour", bool(honours.get(e["uscc"], set()) & {"国家", "省", "市"})),
                ("known.chain", chains.get(e["uscc"], 0) >= 3),
            ],
            "distinctive": [
                ("distinctive.geo", "地理标志" in types),
                ("distinctive.green", "绿色有机认证" in types),
                ("distinctive.workshop", "非遗工坊" in types),
            ],
            "quality": [
                ("quality.time_honoured", five and "老字号" in types),
                ("quality.inheritor", five and "非遗代表性传承人" in types),
                ("quality.management", five and "管理体系认证" in types),
                ("quality.skills", five and "职业技能等级" in types),
                ("quality.jobs", insured is not None and insured >= 5),
            ],
            "emerging": [
                ("emerging.new_format", "新业态" in types),
                ("emerging.patent", "专利" in types),
            ],
        }[e["category"]]
        met = [c for c, holds in criteria if holds]
        if reasons:
            out[(e["uscc"], e["category"])] = ("removed", reasons)
        elif e["evaluation_from"] <= S:
            out[(e["uscc"], e["category"])] = (
                ("renewed", []) if met else ("expired", [c for c, _ in criteria])
            )
        else:
            out[(e["uscc"], e["category"])] = ("kept", [])
    return out


@pytest.mark.parametrize("seed", [21, 22])
def test_evaluation_matches_the_oracle(tmp_path: Path, seed: int) -> None:
    truth = generate(seed)
    for r in truth.records:  # unreadable records stop an evaluation (tested below)
        r["bad"] = False
    files = write_files(truth, tmp_path / "in", seed)
    entries = _certified(truth, seed)
    register = tmp_path / "register"
    schema = {k: v for k, v in EVENT_SCHEMA.items() if k != "seq"}
    append(
        register,
        Batch("certification", "certification/test", date(2023, 11, 28)),
        pl.DataFrame(entries, schema=schema),
    )
    options = EvaluateOptions(
        on=S,
        run=files["run"],
        evidence=(files["evidence"],),
        records=(files["records"],),
        register=register,
        criteria=ROOT / "rules",
        out=tmp_path / "categories",
    )
    result = evaluate(options)
    got = pl.read_parquet(result.folder / "evaluation.parquet")
    expected = _evaluation_oracle(truth, entries)
    assert got.height == len(expected)
    for row in got.iter_rows(named=True):
        assert (row["decision"], row["reasons"]) == expected[(row["uscc"], row["category"])], row
    decisions = set(got.get_column("decision"))
    assert decisions == {"kept", "renewed", "expired", "removed"}
    # the register after: removals are gone from D on, renewals run on, expiries end at valid_to
    after = {(u, c) for u, c in entries_in_force(register, S).select("uscc", "category").rows()}
    removed = {k for k, v in expected.items() if v[0] == "removed"}
    assert not (after & removed) and after == set(expected) - removed
    renewed = got.filter(pl.col("decision") == "renewed")
    later = entries_in_force(register, date(2024, 11, 30)).join(
        renewed.select("uscc", "category"), on=["uscc", "category"], how="semi"
    )
    assert later.height == renewed.height > 0
    periods = {(r["uscc"], r["category"]): r for r in later.iter_rows(named=True)}
    for row in renewed.iter_rows(named=True):
        new = periods[(row["uscc"], row["category"])]
        assert new["valid_from"] == row["valid_to"] + timedelta(days=1)
        start = new["valid_from"]
        assert new["valid_to"] == date(start.year + 3, start.month, start.day) - timedelta(days=1)
        assert new["evaluation_from"] == date(start.year + 2, start.month, start.day)
        assert new["last_event"] == "renewed"
    expired = got.filter(pl.col("decision") == "expired").select("uscc", "category")
    beyond = entries_in_force(register, date(2024, 11, 30)).join(
        expired, on=["uscc", "category"], how="semi"
    )
    assert beyond.height == 0
    # a second evaluation later in the same last year decides nothing again
    again = evaluate(EvaluateOptions(**{**options.__dict__, "on": S + timedelta(days=20)}))
    assert again.counts["renewed"] == again.counts["expired"] == 0


def test_unreadable_records_defer_an_entry(tmp_path: Path) -> None:
    """An entry whose business has a record nobody could read is neither removed nor renewed on
    its strength: it is deferred (no event); corrected records decide it at a later date."""
    truth = generate(23)
    bad = sorted({r["uscc"] for r in truth.records if r["bad"]})
    by_code = {b["uscc"]: b for b in truth.businesses}
    code = next(c for c in bad if by_code[c]["in_run"] and by_code[c]["tier"] != "excluded")
    # the business's only records are unreadable ones: nothing else can remove it
    truth.records = [r for r in truth.records if r["uscc"] != code or r["bad"]]
    files = write_files(truth, tmp_path / "in", 23)
    entry = {
        **_certified(truth, 23)[0],
        "uscc": code,
        "route": "部门推荐",
        "consent": True,
        "valid_from": date(2021, 11, 30),
        "valid_to": date(2024, 11, 29),
        "evaluation_from": date(2023, 11, 30),
    }
    register = tmp_path / "register"
    schema = {k: v for k, v in EVENT_SCHEMA.items() if k != "seq"}
    append(
        register,
        Batch("certification", "c", date(2021, 11, 30)),
        pl.DataFrame([entry], schema=schema),
    )
    options = EvaluateOptions(
        on=S,
        run=files["run"],
        evidence=(files["evidence"],),
        records=(files["records"],),
        register=register,
        criteria=ROOT / "rules",
        out=tmp_path / "categories",
    )
    result = evaluate(options)
    got = pl.read_parquet(result.folder / "evaluation.parquet")
    assert got.select("decision", "reasons").row(0) == ("deferred", ["records_unreadable"])
    assert read_events(register).height == 1 and result.segment is None
    # the records corrected, a later evaluation decides the entry
    for r in truth.records:
        r["bad"] = False
    fixed = write_files(truth, tmp_path / "fixed", 23)
    later = evaluate(
        EvaluateOptions(
            **{**options.__dict__, "on": S + timedelta(days=7), "records": (fixed["records"],)}
        )
    )
    decision = pl.read_parquet(later.folder / "evaluation.parquet").get_column("decision")[0]
    assert decision in ("renewed", "expired", "removed")
