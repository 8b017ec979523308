"""Synthetic 名特优新 extracts for a sample population (`gthfx samples`).

Applications, evidence, negative records and objections, with the headers of the shipped sources
mapping, the messiness of SPEC §3 and every boundary of SPEC §10.

Applicants are drawn mostly among the businesses whose clean values look like growth or
development (an estimate from the sample's own numbers, the reference thresholds of SPEC §5),
with a few others, recommendations with and without consent and special groups; each applies
for one or two categories and usually holds evidence for them. In the first chunk of a sizeable
sample (see `samples.generate_samples`) a fixed set of applicants carries the boundaries: a
trademark valid until the day before S and one until S, one obtained the day after S, a fine on
the first day of the exclusion window and one the day before it, a warning (light), a fine
repaired on S and one repaired the day after, a dishonest-debtor listing removed on S, chain
stores 3 and 2, a district-level and a city-level honour, a business applying for 知名 and 特色
with one criterion each (a quota tie broken by the category order), a record whose date cannot
be read; and rows that must be rejected (a malformed code, an unknown category, an unknown
evidence type) and an exact duplicate. Vectorised (numpy + polars); deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

CATEGORY_WORDS = (("知名", "知名类"), ("特色", "特色类"), ("优质", "优质类"), ("新兴", "新兴类"))
CATEGORY_WEIGHTS = (0.4, 0.2, 0.25, 0.15)
SEPARATORS = ("、", ",", ";", " ", "，")
# evidence that supports each category (type, level or None)
SUPPORT: tuple[tuple[tuple[str, str | None], ...], ...] = (
    (
        ("注册商标", None),
        ("商标", None),
        ("荣誉称号", "市级"),
        ("荣誉称号", "省"),
        ("连锁门店", None),
    ),
    (("地理标志", None), ("绿色有机认证", None), ("绿色食品认证", None), ("非遗工坊", None)),
    (("老字号", None), ("非遗代表性传承人", None), ("管理体系认证", None), ("职业技能等级", None)),
    (("新业态", None), ("专利", None)),
)
PENALTIES = ("警告", "通报批评", "罚款", "罚款", "没收违法所得", "暂扣许可证件", "责令停产停业")
GROUPS = ("退役军人", "高校毕业生", "残疾人", "返乡入乡创业人员")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%-m/%-d", "%Y年%-m月%-d日", "%Y%m%d")
DEPARTMENTS = ("市商务局", "市文化和旅游局", "市农业农村局", "区市场监管局", "市退役军人事务局")
SOURCES = {
    "注册商标": "知识产权局",
    "商标": "知识产权局",
    "专利": "知识产权局",
    "地理标志": "知识产权局",
    "荣誉称号": "市场监管局",
    "连锁门店": "商务局",
    "老字号": "商务局",
    "新业态": "商务局",
    "非遗工坊": "文化和旅游局",
    "非遗代表性传承人": "文化和旅游局",
    "绿色有机认证": "农业农村局",
    "绿色食品认证": "农业农村局",
    "管理体系认证": "市场监管局",
    "职业技能等级": "人社局",
    "党员经营户": "个私协会党委",
    "先进个体工商户": "市场监管局",
}

HEADERS = {
    "applications": {
        "uscc": "统一社会信用代码",
        "categories": "申报类别",
        "route": "申报途径",
        "recommender": "推荐部门",
        "consent": "经营者同意",
        "special_group": "特殊群体",
        "applied_on": "申报日期",
        "operator_name": "经营者姓名",
        "phone": "联系电话",
    },
    "evidence": {
        "uscc": "统一社会信用代码",
        "evidence_type": "佐证类型",
        "title": "名称",
        "level": "级别",
        "quantity": "数量",
        "obtained_on": "取得日期",
        "valid_until": "有效期至",
        "source_unit": "数源单位",
    },
    "records": {
        "uscc": "统一社会信用代码",
        "record_type": "记录类型",
        "penalty_kind": "处罚种类",
        "decided_on": "决定日期",
        "repaired_on": "信用修复日期",
        "removed_on": "移出日期",
        "document_no": "文书号",
    },
    "objections": {
        "uscc": "统一社会信用代码",
        "categories": "申报类别",
        "content": "异议内容",
        "conclusion": "核查结论",
        "checker": "核查人",
        "checked_on": "核查日期",
    },
}


@dataclass
class CategoryRows:
    """Rows of the four extracts (every value a string, canonical column names)."""

    applications: list[pl.DataFrame] = field(default_factory=list)
    evidence: list[pl.DataFrame] = field(default_factory=list)
    records: list[pl.DataFrame] = field(default_factory=list)
    objections: list[pl.DataFrame] = field(default_factory=list)

    def frames(self) -> dict[str, pl.DataFrame]:
        out = {}
        for name in HEADERS:
            parts = getattr(self, name)
            schema = dict.fromkeys(HEADERS[name], pl.String)
            frame = pl.concat(parts, how="diagonal") if parts else pl.DataFrame(schema=schema)
            out[name] = frame.select(
                [
                    (pl.col(c) if c in frame.columns else pl.lit(None)).cast(pl.String).alias(c)
                    for c in HEADERS[name]
                ]
            )
        return out


def _dates(values: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Dates (datetime64[D], NaT = empty) written in one of the accepted forms each."""
    series = pl.Series(values.astype("datetime64[ms]")).cast(pl.Date)
    pick = rng.integers(0, len(DATE_FORMATS), len(values))
    texts = [series.dt.strftime(f) for f in DATE_FORMATS]
    frame = pl.DataFrame({f"f{i}": t for i, t in enumerate(texts)} | {"k": pick})
    return frame.select(
        pl.coalesce(
            [pl.when(pl.col("k") == i).then(pl.col(f"f{i}")) for i in range(len(DATE_FORMATS))]
        )
    ).to_series()


_ASCII = [chr(c) for c in range(0x21, 0x7F)]
_WIDE = [chr(c + 0xFEE0) for c in range(0x21, 0x7F)]


def _codes(codes: pl.Series, rng: np.random.Generator) -> pl.Series:
    """A few codes full-width, lower-case or with spaces, as real exports have them."""
    roll = pl.Series(rng.random(len(codes)))
    code = pl.col("c")
    return (
        pl.DataFrame({"c": codes, "r": roll})
        .select(
            pl.when(pl.col("r") < 0.04)
            .then(code.str.replace_many(_ASCII, _WIDE))
            .when(pl.col("r") < 0.07)
            .then(code.str.to_lowercase())
            .when(pl.col("r") < 0.09)
            .then(pl.lit(" ") + code + pl.lit(" "))
            .otherwise(code)
        )
        .to_series()
    )


def _d64(d: date) -> np.datetime64:
    return np.datetime64(d.isoformat(), "D")


def _years_before(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year - n)
    except ValueError:
        return d.replace(year=d.year - n, day=28)


def category_rows(
    annual: pl.DataFrame,
    tax: pl.DataFrame,
    social: pl.DataFrame,
    run_date: date,
    screening_date: date,
    rng: np.random.Generator,
    force: bool,
) -> CategoryRows:
    """The category rows of one chunk of one year's clean businesses (see the module doc)."""
    out = CategoryRows()
    s_day = screening_date
    s64 = _d64(s_day)
    frame = (
        annual.select(
            "uscc",
            "operator_name",
            "phone",
            "established_on",
            "register_status",
            "employees",
            "revenue",
            "tax_total",
            "abnormal",
            "serious_dishonest",
            "_protected",
        )
        .join(tax.select("uscc", "sales", "tax_paid", "taxpayer_type"), on="uscc", how="left")
        .join(social.select("uscc", "insured_count"), on="uscc", how="left")
        .unique("uscc", keep="first", maintain_order=True)
    )
    n = frame.height
    if n == 0:
        return out
    est = frame.get_column("established_on").to_numpy().astype("datetime64[D]")
    years = ((_d64(run_date) - est).astype(np.int64) / 365.25).astype(np.int64)
    sales = frame.select(pl.coalesce("sales", pl.col("revenue") * 10_000)).to_series()
    tax_y = frame.select(pl.coalesce("tax_paid", pl.col("tax_total") * 10_000)).to_series()
    insured = frame.get_column("insured_count").fill_null(0).to_numpy()
    employees = frame.get_column("employees").fill_null(0).to_numpy()
    sales_np = sales.fill_null(0).to_numpy()
    tax_np = tax_y.fill_null(0).to_numpy()
    general = (frame.get_column("taxpayer_type") == "一般纳税人").fill_null(False).to_numpy()
    active = (
        frame.get_column("register_status").is_in(["存续", "在营", "开业"]).fill_null(False)
        & ~frame.get_column("abnormal").fill_null(False)
        & ~frame.get_column("serious_dishonest").fill_null(False)
    ).to_numpy()
    dev = (years >= 3) & (sales_np >= 1e6) & ((tax_np >= 3e4) | (insured >= 5) | general)
    growth = (years >= 1) & ((tax_np > 0) | (insured >= 1) | (employees >= 3))
    strong = (dev | growth) & active
    roll = rng.random(n)
    applies = np.where(strong, roll < 0.45, roll < 0.006)
    boundary: dict[str, int] = {}
    if force:
        pool = np.flatnonzero(strong)
        rng.shuffle(pool)
        names = [
            "exp_before",
            "exp_on",
            "obtained_after",
            "fine_first_day",
            "fine_day_before",
            "warning",
            "repaired_on",
            "repaired_after",
            "debtor_removed",
            "chain_3",
            "chain_2",
            "honour_district",
            "honour_city",
            "tie",
            "unreadable",
            "no_consent",
            "objection_upheld",
            "objection_rejected",
        ]
        for name, index in zip(names, pool, strict=False):
            boundary[name] = int(index)
            applies[index] = True
        weak = np.flatnonzero(~strong & active)
        if len(weak):
            boundary["special_group"] = int(weak[0])
            applies[weak[0]] = True
    at = np.flatnonzero(applies)
    m = len(at)
    if m == 0:
        return out
    codes = frame.get_column("uscc").gather(at)
    # categories: one, sometimes two
    first = rng.choice(4, m, p=CATEGORY_WEIGHTS)
    second = np.where(rng.random(m) < 0.2, (first + rng.integers(1, 4, m)) % 4, -1)
    # positions of the boundary businesses among the applicants (`at` is sorted)
    place = {role: int(np.searchsorted(at, index)) for role, index in boundary.items()}
    for role, i in place.items():
        first[i] = 1 if role == "objection_rejected" else 0
        second[i] = 1 if role == "tie" else -1
    alias = rng.integers(0, 2, (m, 2))
    words = np.array(CATEGORY_WORDS)
    seps = np.array(SEPARATORS)[rng.integers(0, len(SEPARATORS), m)]
    one = words[first, alias[:, 0]]
    two = np.where(second >= 0, words[np.maximum(second, 0), alias[:, 1]], "")
    cat_text = pl.Series(one) + pl.Series(np.where(second >= 0, seps, "")) + pl.Series(two)
    recommended = rng.random(m) < 0.15
    consent_roll = rng.random(m)
    consent = np.where(consent_roll < 0.85, "是", np.where(consent_roll < 0.95, "否", ""))
    group_roll = rng.random(m)
    groups = np.where(
        group_roll < 0.04,
        np.array(GROUPS)[rng.integers(0, 4, m)],
        np.where(group_roll < 0.2, "无", ""),
    )
    for role, i in place.items():
        recommended[i] = role == "no_consent"
        consent[i] = "否" if role == "no_consent" else consent[i]
        groups[i] = "退役军人" if role == "special_group" else ""
    route = np.where(
        recommended,
        np.where(rng.random(m) < 0.8, "部门推荐", "推荐"),
        np.where(rng.random(m) < 0.9, "自主申报", "自主"),
    )
    applied = s64 - rng.integers(10, 70, m).astype("timedelta64[D]")
    apps = pl.DataFrame(
        {
            "uscc": _codes(codes, rng),
            "categories": pl.Series(cat_text),
            "route": pl.Series(route),
            "recommender": pl.Series(
                np.where(recommended, np.array(DEPARTMENTS)[rng.integers(0, 5, m)], "")
            ),
            "consent": pl.Series(np.where(recommended, consent, "")),
            "special_group": pl.Series(groups),
            "applied_on": _dates(applied, rng),
            "operator_name": frame.get_column("operator_name").gather(at),
            "phone": frame.get_column("phone").gather(at),
        }
    ).with_columns(pl.all().replace("", None))
    out.applications.append(apps)

    # evidence: support for the categories applied for (sometimes expired); party members,
    # honours — drawn as whole columns
    nat = np.datetime64("NaT")
    is_special = np.zeros(m, dtype=bool)
    is_special[list(place.values())] = True
    slot_cat = np.concatenate([first, second])
    slot_app = np.concatenate([np.arange(m), np.arange(m)])
    take = (slot_cat >= 0) & (rng.random(2 * m) <= 0.75) & ~is_special[slot_app]
    slot_cat, slot_app = slot_cat[take], slot_app[take]
    flat = [kind for kinds in SUPPORT for kind in kinds]
    offsets = np.cumsum([0] + [len(k) for k in SUPPORT])[:-1]
    counts = np.array([len(k) for k in SUPPORT])
    chosen = offsets[slot_cat] + (rng.random(len(slot_cat)) * counts[slot_cat]).astype(np.int64)
    k = len(chosen)
    r = rng.random(k)
    until = np.where(
        r < 0.6,
        nat,
        np.where(
            r < 0.9,
            s64 + rng.integers(1, 2000, k).astype("timedelta64[D]"),
            s64 - rng.integers(1, 400, k).astype("timedelta64[D]"),
        ),
    )
    kinds = [flat[i][0] for i in chosen]
    parts = [
        pl.DataFrame(
            {
                "uscc": codes.gather(slot_app),
                "evidence_type": pl.Series(kinds, dtype=pl.String),
                "level": pl.Series([flat[i][1] for i in chosen], dtype=pl.String),
                "quantity": pl.Series(
                    np.where(np.array(kinds) == "连锁门店", rng.integers(2, 9, k).astype(str), ""),
                    dtype=pl.String,
                ).replace("", None),
                "obtained": pl.Series(s64 - rng.integers(30, 4000, k).astype("timedelta64[D]")),
                "until": pl.Series(until.astype("datetime64[D]")),
            }
        )
    ]
    for kind, share, levels in (
        ("党员经营户", 0.08, (None,)),
        ("先进个体工商户", 0.04, ("国家级", "省级", "市级")),
    ):
        who = np.flatnonzero(rng.random(m) < share)
        parts.append(
            pl.DataFrame(
                {
                    "uscc": codes.gather(who),
                    "evidence_type": pl.Series([kind] * len(who), dtype=pl.String),
                    "level": pl.Series(
                        [levels[i] for i in rng.integers(0, len(levels), len(who))], dtype=pl.String
                    ),
                    "quantity": pl.Series([None] * len(who), dtype=pl.String),
                    "obtained": pl.Series(
                        s64 - rng.integers(30, 3000, len(who)).astype("timedelta64[D]")
                    ),
                    "until": pl.Series(np.full(len(who), nat, dtype="datetime64[D]")),
                }
            )
        )
    # boundary evidence (first chunk): each boundary business also holds what it needs
    one_day = np.timedelta64(1, "D")
    fixed: list[tuple[str, str, str | None, str | None, np.datetime64, np.datetime64]] = []

    def give(
        role: str,
        kind: str,
        level: str | None,
        qty: str | None,
        got: np.datetime64,
        until: np.datetime64,
    ) -> None:
        if role in boundary:
            fixed.append((str(frame["uscc"][boundary[role]]), kind, level, qty, got, until))

    long_ago = s64 - np.timedelta64(1500, "D")
    give("exp_before", "注册商标", None, None, long_ago, s64 - one_day)
    give("exp_on", "注册商标", None, None, long_ago, s64)
    give("obtained_after", "注册商标", None, None, s64 + one_day, nat)
    for role in (
        "fine_first_day",
        "fine_day_before",
        "warning",
        "repaired_on",
        "repaired_after",
        "debtor_removed",
        "unreadable",
        "no_consent",
        "objection_upheld",
        "special_group",
    ):
        give(role, "注册商标", None, None, long_ago, nat)
    give("objection_rejected", "地理标志", None, None, long_ago, nat)
    give("chain_3", "连锁门店", None, "３", long_ago, nat)
    give("chain_2", "连锁门店", None, "2", long_ago, nat)
    give("honour_district", "荣誉称号", "区级", None, long_ago, nat)
    give("honour_city", "荣誉称号", "市级", None, long_ago, nat)
    give("tie", "注册商标", None, None, long_ago, nat)
    give("tie", "地理标志", None, None, long_ago, nat)
    if fixed:
        parts.append(
            pl.DataFrame(
                {
                    "uscc": [f[0] for f in fixed],
                    "evidence_type": [f[1] for f in fixed],
                    "level": pl.Series([f[2] for f in fixed], dtype=pl.String),
                    "quantity": pl.Series([f[3] for f in fixed], dtype=pl.String),
                    "obtained": pl.Series(np.array([f[4] for f in fixed], dtype="datetime64[D]")),
                    "until": pl.Series(np.array([f[5] for f in fixed], dtype="datetime64[D]")),
                }
            )
        )
    # shared evidence of businesses that did not apply
    others = np.flatnonzero(~applies & (rng.random(n) < 0.015))
    kinds_o = np.array(["党员经营户", "注册商标", "荣誉称号", "专利"])[
        rng.integers(0, 4, len(others))
    ]
    parts.append(
        pl.DataFrame(
            {
                "uscc": frame.get_column("uscc").gather(others),
                "evidence_type": pl.Series(kinds_o, dtype=pl.String),
                "level": pl.Series(
                    np.where(kinds_o == "荣誉称号", "区县", ""), dtype=pl.String
                ).replace("", None),
                "quantity": pl.Series([None] * len(others), dtype=pl.String),
                "obtained": pl.Series(
                    s64 - rng.integers(30, 3000, len(others)).astype("timedelta64[D]")
                ),
                "until": pl.Series(np.full(len(others), nat, dtype="datetime64[D]")),
            }
        )
    )
    ev = pl.concat(parts, how="vertical_relaxed")
    if ev.height:
        blank = pl.Series(rng.random(ev.height) < 0.1)
        evidence = pl.DataFrame(
            {
                "uscc": _codes(ev.get_column("uscc"), rng),
                "evidence_type": ev.get_column("evidence_type"),
                "title": ev.get_column("evidence_type") + "证书",
                "level": ev.get_column("level"),
                "quantity": ev.get_column("quantity"),
                "obtained_on": _dates(ev.get_column("obtained").to_numpy(), rng),
                "valid_until": _dates(ev.get_column("until").to_numpy(), rng),
                "source_unit": ev.get_column("evidence_type").replace_strict(
                    SOURCES, default="市场监管局", return_dtype=pl.String
                ),
            }
        ).with_columns(
            # an empty 有效期至 is sometimes written as 无
            pl.when(pl.col("valid_until").is_null() & pl.lit(blank))
            .then(pl.lit("无"))
            .otherwise(pl.col("valid_until"))
            .alias("valid_until")
        )
        out.evidence.append(evidence)

    # records: penalties, accidents, dishonest debtors (applicants and some others)
    hit = (applies & (rng.random(n) < 0.08)) | (rng.random(n) < 0.01)
    hit[list(boundary.values())] = False
    who = np.flatnonzero(hit)
    q = len(who)
    r = rng.random(q)
    decided = s64 - rng.integers(0, 800, q).astype("timedelta64[D]")
    rtype = np.where(r < 0.85, "行政处罚", np.where(r < 0.95, "失信被执行人", "重大安全事故"))
    penalty = np.where(
        rtype == "行政处罚", np.array(PENALTIES)[rng.integers(0, len(PENALTIES), q)], ""
    )
    repaired = np.where(
        (rtype == "行政处罚") & (rng.random(q) < 0.3),
        decided + rng.integers(30, 400, q).astype("timedelta64[D]"),
        nat,
    )
    removed = np.where(
        (rtype == "失信被执行人") & (rng.random(q) < 0.5),
        decided + rng.integers(30, 900, q).astype("timedelta64[D]"),
        nat,
    )
    rec: list[tuple[str, str, str | None, np.datetime64, np.datetime64, np.datetime64]] = []
    window = _d64(_years_before(s_day, 1))
    roles = {
        "fine_first_day": ("行政处罚", "罚款", window, nat, nat),
        "fine_day_before": ("行政处罚", "罚款", window - one_day, nat, nat),
        "warning": ("行政处罚", "警告", s64 - np.timedelta64(60, "D"), nat, nat),
        "repaired_on": ("行政处罚", "罚款", s64 - np.timedelta64(90, "D"), s64, nat),
        "repaired_after": ("行政处罚", "罚款", s64 - np.timedelta64(90, "D"), s64 + one_day, nat),
        "debtor_removed": ("失信被执行人", None, s64 - np.timedelta64(700, "D"), nat, s64),
    }
    for role, (r_type, r_kind, r_decided, r_repaired, r_removed) in roles.items():
        if role in boundary:
            code = str(frame["uscc"][boundary[role]])
            rec.append((code, r_type, r_kind, r_decided, r_repaired, r_removed))
    fixed_rec = pl.DataFrame(
        {
            "uscc": [x[0] for x in rec],
            "record_type": [x[1] for x in rec],
            "penalty_kind": pl.Series([x[2] for x in rec], dtype=pl.String),
            "decided": pl.Series(np.array([x[3] for x in rec], dtype="datetime64[D]")),
            "repaired": pl.Series(np.array([x[4] for x in rec], dtype="datetime64[D]")),
            "removed": pl.Series(np.array([x[5] for x in rec], dtype="datetime64[D]")),
        },
        schema={
            "uscc": pl.String,
            "record_type": pl.String,
            "penalty_kind": pl.String,
            "decided": pl.Date,
            "repaired": pl.Date,
            "removed": pl.Date,
        },
    )
    drawn = pl.DataFrame(
        {
            "uscc": frame.get_column("uscc").gather(who),
            "record_type": pl.Series(rtype, dtype=pl.String),
            "penalty_kind": pl.Series(penalty, dtype=pl.String).replace("", None),
            "decided": pl.Series(decided.astype("datetime64[D]")),
            "repaired": pl.Series(repaired.astype("datetime64[D]")),
            "removed": pl.Series(removed.astype("datetime64[D]")),
        }
    )
    all_rec = pl.concat([drawn.cast(fixed_rec.schema), fixed_rec])
    if all_rec.height:
        out.records.append(
            pl.DataFrame(
                {
                    "uscc": _codes(all_rec.get_column("uscc"), rng),
                    "record_type": all_rec.get_column("record_type"),
                    "penalty_kind": all_rec.get_column("penalty_kind"),
                    "decided_on": _dates(all_rec.get_column("decided").to_numpy(), rng),
                    "repaired_on": _dates(all_rec.get_column("repaired").to_numpy(), rng),
                    "removed_on": _dates(all_rec.get_column("removed").to_numpy(), rng),
                    "document_no": all_rec.select(
                        pl.when(pl.col("record_type") == "行政处罚").then(
                            pl.lit(f"武市监罚〔{s_day.year - 1}〕")
                            + pl.int_range(1000, 1000 + pl.len()).cast(pl.String)
                            + pl.lit("号")
                        )
                    ).to_series(),
                }
            )
        )
    if force:
        _broken_rows(out, frame, boundary, s_day)
    return out


def _broken_rows(
    out: CategoryRows, frame: pl.DataFrame, boundary: dict[str, int], s_day: date
) -> None:
    """Rows a screening must reject or collapse, and the objections (first chunk only)."""

    def code(role: str) -> str | None:
        return str(frame["uscc"][boundary[role]]) if role in boundary else None

    some = str(frame["uscc"][0])
    out.applications.append(
        pl.DataFrame(
            {
                "uscc": ["9242010X", some, code("exp_on") or some],
                "categories": ["知名", "名人", "知名"],
                "route": ["自主申报", "自主申报", "自主申报"],
                "applied_on": [(s_day - timedelta(days=20)).isoformat()] * 3,
            }
        )
    )
    if "exp_on" in boundary:  # an exact duplicate of a boundary application (collapsed)
        out.applications.append(
            out.applications[0]
            .filter(pl.col("uscc").str.strip_chars().str.to_uppercase() == code("exp_on"))
            .head(1)
        )
    out.evidence.append(
        pl.DataFrame({"uscc": [some], "evidence_type": ["锦旗"], "obtained_on": ["2020-01-01"]})
    )
    if "unreadable" in boundary:
        out.records.append(
            pl.DataFrame(
                {
                    "uscc": [code("unreadable")],
                    "record_type": ["行政处罚"],
                    "penalty_kind": ["罚款"],
                    "decided_on": [f"{s_day.year}-13-45"],
                }
            )
        )
    checked = (s_day + timedelta(days=12)).isoformat()
    rows = []
    if "objection_upheld" in boundary:
        rows.append(
            {
                "uscc": code("objection_upheld"),
                "categories": "知名",
                "content": "该户存在虚假宣传",
                "conclusion": "成立",
                "checker": "区市场监管局",
                "checked_on": checked,
            }
        )
    if "objection_rejected" in boundary:
        rows.append(
            {
                "uscc": code("objection_rejected"),
                "categories": None,
                "content": "质疑地理标志",
                "conclusion": "不成立",
                "checker": "区市场监管局",
                "checked_on": checked,
            }
        )
    rows.append(
        {
            "uscc": some,
            "categories": "新兴",
            "content": "不在公示名单的异议",
            "conclusion": "不属实",
            "checker": "区市场监管局",
            "checked_on": checked,
        }
    )
    out.objections.append(
        pl.DataFrame(rows, schema=dict.fromkeys(HEADERS["objections"], pl.String))
    )
