"""Generated truth for the 名特优新 tests: businesses of a run, applications, evidence and records
as typed values (the truth), rendered into messy extract files, and an independent oracle — plain
Python over the truth, written from SPEC §10 and rules/categories-2024.yaml, calling nothing of
gthfx — that says what the screening must find for every entry.

(Imported as `categories_truth`: pytest puts the tests folder on the path.)
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CATEGORIES = ("known", "distinctive", "quality", "emerging")
WORDS = {
    "known": ("知名", "知名类"),
    "distinctive": ("特色", "特色类"),
    "quality": ("优质", "优质类"),
    "emerging": ("新兴", "新兴类"),
}
DISTRICTS = ("420102", "420106", "420111")
TIER_LABELS = {
    "survival": "生存型",
    "growth": "成长型",
    "development": "发展型",
    "excluded": "不参与分型",
}
GROUPS = ("退役军人", "高校毕业生", "残疾人", "返乡入乡创业人员")
TYPES = (
    "注册商标",
    "老字号",
    "非遗代表性传承人",
    "非遗工坊",
    "地理标志",
    "绿色有机认证",
    "荣誉称号",
    "管理体系认证",
    "职业技能等级",
    "连锁门店",
    "新业态",
    "专利",
    "党员经营户",
    "先进个体工商户",
)
TYPE_ALIASES = {"注册商标": "商标", "老字号": "中华老字号", "绿色有机认证": "有机产品认证"}
LEVELS = {
    "国家": ("国家", "国家级", "全国"),
    "省": ("省", "省级"),
    "市": ("市", "市级"),
    "区县": ("区县", "区级", "县级"),
}
PENALTIES = ("警告", "通报批评", "罚款", "没收违法所得", "责令停产停业", None)
S = date(2024, 10, 15)
WINDOW_START = date(2023, 10, 15)
RUN_DATE = date(2024, 7, 1)


def code(number: int, district: str = "420102") -> str:
    """A valid 92… code (GB 32100-2015 check character computed here, independently)."""
    body = f"92{district}MA{number:07d}"
    weights = [pow(3, i, 31) for i in range(17)]
    total = sum(CHARSET.index(c) * w for c, w in zip(body, weights, strict=True))
    return body + CHARSET[(31 - total % 31) % 31]


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if 0x21 <= ord(c) <= 0x7E else c for c in text)


def write_date(rng: random.Random, day: date | None) -> str:
    if day is None:
        return rng.choice(["", "", "无", "-"])
    form = rng.randrange(4)
    if form == 0:
        return day.isoformat()
    if form == 1:
        return f"{day.year}/{day.month}/{day.day}"
    if form == 2:
        return f"{day.year}年{day.month}月{day.day}日"
    return day.strftime("%Y%m%d")


def write_code(rng: random.Random, value: str) -> str:
    roll = rng.random()
    if roll < 0.1:
        return full_width(value)
    if roll < 0.2:
        return value.lower()
    if roll < 0.25:
        return f" {value} "
    return value


@dataclass
class Truth:
    businesses: list[dict[str, Any]] = field(default_factory=list)  # the run (and not)
    applications: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    bad_rows: list[tuple[str, int, str]] = field(default_factory=list)  # (extract, row, reason)
    personal: list[str] = field(default_factory=list)  # raw personal values written to files


def generate(seed: int, n: int = 300) -> Truth:
    rng = random.Random(seed)
    truth = Truth()
    for i in range(n):
        district = rng.choice((*DISTRICTS, DISTRICTS[0]))
        in_run = rng.random() < 0.92
        tier = rng.choices(("survival", "growth", "development", "excluded"), (30, 40, 12, 18))[0]
        reasons = []
        if tier == "excluded":
            reasons = rng.choice(
                [["reported"], ["not_dishonest"], ["not_abnormal", "not_dishonest"]]
            )
        truth.businesses.append(
            {
                "uscc": code(i + 1, district),
                "in_run": in_run,
                "tier": tier,
                "reasons": reasons,
                "years": rng.choice([None, 0, 1, 2, 2, 3, 4, 5, 5, 6, 9, 12]),
                "insured": rng.choice([None, None, 0, 1, 4, 5, 6]),
                "region": district if rng.random() > 0.03 else None,
                "name": f"测试商店{i:04d}",
                "operator": rng.choice("张王李赵刘陈") + rng.choice(("伟", "芳", "建国", "秀英")),
                "phone": f"13{rng.randrange(10**8, 10**9)}",
                "id": f"420102199{rng.randrange(10)}0101{rng.randrange(1000, 9999)}",
            }
        )
    # the rest of the run: growth and development businesses that did not apply (quota base)
    for i in range(n, n + 260):
        truth.businesses.append(
            {
                "uscc": code(i + 1, DISTRICTS[i % 3]),
                "in_run": True,
                "tier": rng.choice(("growth", "development", "survival")),
                "reasons": [],
                "years": 3,
                "insured": 0,
                "region": DISTRICTS[i % 3],
                "name": f"其他{i}",
                "operator": "孙某某",
                "phone": "13900000000",
                "id": "420102199001011234",
                "filler": True,
            }
        )
    row = {"applications": 1, "evidence": 1, "records": 1}

    def next_row(extract: str) -> int:
        row[extract] += 1
        return row[extract]

    for b in truth.businesses[:n]:
        if rng.random() > 0.6:
            continue
        for _ in range(rng.choice((1, 1, 1, 2))):
            cats = rng.sample(CATEGORIES, rng.choice((1, 1, 2)))
            rec_route = rng.random() < 0.25
            consent = rng.choice([True, True, False, None]) if rec_route else None
            group = rng.choice(GROUPS) if rng.random() < 0.12 else None
            truth.applications.append(
                {
                    "uscc": b["uscc"],
                    "categories": set(cats),
                    "route": "部门推荐" if rec_route else "自主申报",
                    "consent": consent,
                    "group": group,
                    "applied_on": S - timedelta(days=rng.randrange(5, 60)),
                    "row": next_row("applications"),
                    "file": 0,
                    "words": [rng.choice(WORDS[c]) for c in cats],
                }
            )
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            kind = rng.choice(TYPES)
            obtained = rng.choice(
                [S - timedelta(days=800), S - timedelta(days=1), S, S + timedelta(days=1)]
            )
            until = rng.choice(
                [None, None, S - timedelta(days=1), S, S + timedelta(days=1), date(2030, 1, 1)]
            )
            truth.evidence.append(
                {
                    "uscc": b["uscc"],
                    "type": kind,
                    "level": rng.choice(list(LEVELS))
                    if kind in ("荣誉称号", "先进个体工商户")
                    else None,
                    "quantity": rng.choice((2, 3, 4)) if kind == "连锁门店" else None,
                    "obtained": obtained,
                    "until": until,
                    "row": next_row("evidence"),
                }
            )
        for _ in range(rng.choice((0, 0, 0, 1, 2))):
            rtype = rng.choice(("行政处罚", "行政处罚", "重大安全事故", "失信被执行人"))
            decided = rng.choice(
                [
                    WINDOW_START - timedelta(days=1),
                    WINDOW_START,
                    S,
                    S + timedelta(days=1),
                    S - timedelta(days=100),
                    date(2020, 5, 1),
                ]
            )
            truth.records.append(
                {
                    "uscc": b["uscc"],
                    "type": rtype,
                    "kind": rng.choice(PENALTIES) if rtype == "行政处罚" else None,
                    "decided": decided,
                    "repaired": rng.choice([None, None, S, S + timedelta(days=1)])
                    if rtype == "行政处罚"
                    else None,
                    "removed": rng.choice([None, S, S + timedelta(days=1)])
                    if rtype == "失信被执行人"
                    else None,
                    "row": next_row("records"),
                    "bad": rng.random() < 0.05,
                }
            )
    if truth.records and not any(r["bad"] for r in truth.records):
        truth.records[0]["bad"] = True
    return truth


def write_files(truth: Truth, folder: Path, rng_seed: int) -> dict[str, Path]:
    """The run folder (outcome files + manifest + its annual extract) and the three category
    extracts, rendered messy. Broken rows are added and remembered in `truth.bad_rows`."""
    rng = random.Random(rng_seed)
    folder.mkdir(parents=True, exist_ok=True)
    annual = folder / "annual.csv"
    lines = [
        "统一社会信用代码,个体工商户名称,经营者姓名,经营者身份证号码,联系电话,成立日期,登记状态"
    ]
    for b in truth.businesses:
        lines.append(
            f"{b['uscc']},{b['name']},{b['operator']},{b['id']},{b['phone']},2015-01-01,存续"
        )
        truth.personal += [b["operator"], b["phone"], b["id"]]
    annual.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    run = folder / "runs" / RUN_DATE.isoformat()
    run.mkdir(parents=True)
    in_run = [b for b in truth.businesses if b["in_run"]]
    for tier, name in (
        ("survival", "survival"),
        ("growth", "growth"),
        ("development", "development"),
        ("excluded", "excluded"),
    ):
        rows = [b for b in in_run if b["tier"] == tier]
        pl.DataFrame(
            {
                "uscc": [b["uscc"] for b in rows],
                "tier": [tier] * len(rows),
                "tier_label": [TIER_LABELS[tier]] * len(rows),
                "rule_id": [f"{tier}.x"] * len(rows),
                "reasons": [b["reasons"] for b in rows],
                "flags": [[] for _ in rows],
                "region_code": [b["region"] for b in rows],
                "industry_code": ["F5211"] * len(rows),
                "years_in_business": [b["years"] for b in rows],
                "insured_staff": [b["insured"] for b in rows],
            },
            schema={
                "uscc": pl.String,
                "tier": pl.String,
                "tier_label": pl.String,
                "rule_id": pl.String,
                "reasons": pl.List(pl.String),
                "flags": pl.List(pl.String),
                "region_code": pl.String,
                "industry_code": pl.String,
                "years_in_business": pl.Int64,
                "insured_staff": pl.Int64,
            },
        ).sort("uscc").write_parquet(run / f"{name}.parquet")
    sha = hashlib.sha256(annual.read_bytes()).hexdigest()
    (run / "manifest.json").write_text(
        json.dumps(
            {
                "kind": "classify",
                "run_date": RUN_DATE.isoformat(),
                "ruleset": {"id": "truth"},
                "inputs": [{"extract": "annual", "path": str(annual), "sha256": sha}],
            }
        ),
        encoding="utf-8",
    )
    # applications: one CSV (UTF-8 with BOM)
    head = (
        "统一社会信用代码,申报类别,申报途径,推荐部门,经营者同意,特殊群体,申报日期,"
        "经营者姓名,联系电话"
    )
    lines = [head]
    by_code = {b["uscc"]: b for b in truth.businesses}
    for a in truth.applications:
        sep = rng.choice(["、", ",", "；", " "])
        words = sep.join(a["words"])
        words = f'"{words}"' if sep == "," else words
        consent = {
            True: rng.choice(["是", "Y", "1"]),
            False: rng.choice(["否", "N", "0"]),
            None: "",
        }[a["consent"]]
        route = (
            a["route"]
            if rng.random() < 0.8
            else {"部门推荐": "推荐", "自主申报": "自主"}[a["route"]]
        )
        group = a["group"] or rng.choice(["", "无"])
        b = by_code[a["uscc"]]
        lines.append(
            f"{write_code(rng, a['uscc'])},{words},{route},,{consent},{group},"
            f"{write_date(rng, a['applied_on'])},{b['operator']},{b['phone']}"
        )
    bad = len(lines) + 1
    lines.append("9242010X,知名,自主申报,,,,2024-09-01,某某,13800000000")
    truth.bad_rows.append(("applications", bad, "malformed_code"))
    lines.append(
        f"{truth.businesses[0]['uscc']},知名、名人,自主申报,,,,2024-09-01,某某,13800000000"
    )
    truth.bad_rows.append(("applications", bad + 1, "unknown_value:applications.categories"))
    apps = folder / "applications.csv"
    apps.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    # evidence: Parquet, every column text
    cols: dict[str, list[str | None]] = {
        h: [] for h in ("统一社会信用代码", "佐证类型", "级别", "数量", "取得日期", "有效期至")
    }
    for e in truth.evidence:
        cols["统一社会信用代码"].append(write_code(rng, e["uscc"]))
        kind = TYPE_ALIASES.get(e["type"], e["type"]) if rng.random() < 0.3 else e["type"]
        cols["佐证类型"].append(kind)
        cols["级别"].append(rng.choice(LEVELS[e["level"]]) if e["level"] else None)
        cols["数量"].append(
            full_width(str(e["quantity"]))
            if e["quantity"] and rng.random() < 0.3
            else (str(e["quantity"]) if e["quantity"] else None)
        )
        cols["取得日期"].append(write_date(rng, e["obtained"]))
        cols["有效期至"].append(write_date(rng, e["until"]))
    for key, value in zip(
        cols, [truth.businesses[1]["uscc"], "锦旗", None, None, "2020-01-01", None], strict=True
    ):
        cols[key].append(value)
    truth.bad_rows.append(
        ("evidence", len(truth.evidence) + 2, "unknown_value:evidence.evidence_type")
    )
    evidence = folder / "evidence.parquet"
    pl.DataFrame(cols, schema=dict.fromkeys(cols, pl.String)).write_parquet(evidence)
    # records: GB18030 CSV
    lines = ["统一社会信用代码,记录类型,处罚种类,决定日期,信用修复日期,移出日期,文书号"]
    for r in truth.records:
        decided = "2024-13-45" if r["bad"] else write_date(rng, r["decided"])
        if r["bad"]:
            truth.bad_rows.append(("records", r["row"], "unparseable:records.decided_on"))
        lines.append(
            f"{write_code(rng, r['uscc'])},{r['type']},{r['kind'] or ''},{decided},"
            f"{write_date(rng, r['repaired']) if r['repaired'] else ''},"
            f"{write_date(rng, r['removed']) if r['removed'] else ''},文{r['row']}号"
        )
    records = folder / "records.csv"
    records.write_bytes(("\r\n".join(lines) + "\r\n").encode("gb18030"))
    return {
        "run": run,
        "applications": apps,
        "evidence": evidence,
        "records": records,
        "annual": annual,
    }


# ---- the oracle ---------------------------------------------------------------------------------


def oracle(truth: Truth) -> dict[tuple[str, str], dict[str, Any]]:
    """(uscc, category) → result, reasons, criteria_met, rank — from SPEC §10 and the reference
    criteria, by hand."""
    by_code = {b["uscc"]: b for b in truth.businesses}
    valid = {}
    for e in truth.evidence:
        if e["obtained"] <= S and (e["until"] is None or e["until"] >= S):
            valid.setdefault(e["uscc"], []).append(e)
    unreadable = {r["uscc"] for r in truth.records if r["bad"]}
    heavy, accident, debtor = set(), set(), set()
    for r in truth.records:
        if r["bad"]:
            continue
        in_window = WINDOW_START <= r["decided"] <= S
        light = r["kind"] in ("警告", "通报批评")
        repaired = r["repaired"] is not None and r["repaired"] <= S
        if r["type"] == "行政处罚" and in_window and not light and not repaired:
            heavy.add(r["uscc"])
        if r["type"] == "重大安全事故" and in_window:
            accident.add(r["uscc"])
        removed = r["removed"] is not None and r["removed"] <= S
        if r["type"] == "失信被执行人" and r["decided"] <= S and not removed:
            debtor.add(r["uscc"])
    # one entry per business and category: a valid recommendation first, then a special group,
    # then the earliest date, then file order
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for a in truth.applications:
        key = (
            a["route"] != "部门推荐" or a["consent"] is not True,
            a["group"] is None,
            a["applied_on"],
            a["file"],
            a["row"],
        )
        for c in a["categories"]:
            current = best.get((a["uscc"], c))
            if current is None or key < current["_key"]:
                best[(a["uscc"], c)] = {**a, "_key": key}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for (uscc, category), a in best.items():
        b = by_code[uscc]
        tier = b["tier"] if b["in_run"] else None
        years = b["years"] if b["in_run"] else None
        insured = b["insured"] if b["in_run"] else None
        types = {e["type"] for e in valid.get(uscc, [])}
        honours = {e["level"] for e in valid.get(uscc, []) if e["type"] == "荣誉称号"}
        chain = max(
            (e["quantity"] for e in valid.get(uscc, []) if e["type"] == "连锁门店"), default=None
        )
        valid_rec = a["route"] == "部门推荐" and a["consent"] is True
        reasons = []
        if tier not in ("survival", "growth", "development"):
            reasons.append("not_typed")
        if a["route"] == "部门推荐" and a["consent"] is not True:
            reasons.append("no_consent")
        if not (tier in ("growth", "development") or valid_rec or a["group"] is not None):
            reasons.append("below_gate")
        if category != "emerging" and not (years is not None and years >= 2):
            reasons.append("years")
        if uscc in unreadable:
            reasons.append("records_unreadable")
        if uscc in heavy:
            reasons.append("exclusion.penalty")
        if uscc in accident:
            reasons.append("exclusion.accident")
        if uscc in debtor:
            reasons.append("exclusion.dishonest_debtor")
        if tier == "excluded" and "not_dishonest" in b["reasons"]:
            reasons.append("exclusion.serious_dishonest")
        five = years is not None and years >= 5
        criteria = {
            "known": [
                ("known.trademark", "注册商标" in types),
                ("known.honour", bool(honours & {"国家", "省", "市"})),
                ("known.chain", chain is not None and chain >= 3),
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
        }[category]
        met = [cid for cid, holds in criteria if holds]
        if not met:
            reasons += [cid for cid, _ in criteria]
        out[(uscc, category)] = {
            "reasons": reasons,
            "criteria_met": met,
            "tier": tier,
            "years": years,
            "region": b["region"] if b["in_run"] else None,
        }
    # the quota: ⌊5 % of growth + development in the district⌋, at least 1
    base: dict[str | None, int] = {}
    for b in truth.businesses:
        if b["in_run"] and b["tier"] in ("growth", "development"):
            base[b["region"]] = base.get(b["region"], 0) + 1
    tier_rank = {"development": 2, "growth": 1, "survival": 0}
    passed = sorted(
        (k for k, v in out.items() if not v["reasons"]),
        key=lambda k: (
            -len(out[k]["criteria_met"]),
            -tier_rank.get(out[k]["tier"], -1),
            out[k]["years"] is None,
            -(out[k]["years"] or 0),
            k[0],
            CATEGORIES.index(k[1]),
        ),
    )
    seen: dict[str | None, int] = {}
    for key in passed:
        region = out[key]["region"]
        seen[region] = seen.get(region, 0) + 1
        quota = max(1, base.get(region, 0) * 5 // 100)
        out[key]["rank"] = seen[region]
        if seen[region] <= quota:
            out[key]["result"] = "eligible"
        else:
            out[key]["result"] = "over_quota"
            out[key]["reasons"] = ["over_quota"]
    for value in out.values():
        value.setdefault("result", "ineligible")
        value.setdefault("rank", None)
    return out
