"""The 双随机 draw (`app.sample.draw`) against an independent oracle: the README's standard-library
redraw script (SPEC §11 written out in plain Python with hashlib), fed eligibility computed here
from generated truth records — compared business by business, rank by rank, inspector by
inspector. Then the properties the issue names: allocation totals and bounds, row order, dropping
an unselected business, inclusion frequencies near n/N over many seeds, and exact decimals."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gthfx.app.sample import draw as draw_module
from gthfx.app.sample.draw import DrawInputs, draw, months_before
from gthfx.app.sample.plan import SamplingPlan, drawn_count, exact_ratio
from support import readme_redraw

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
REGIONS = ("420102", "420103", "420106", None)
TIERS = ("survival", "growth", "development", "excluded")
ORACLE = readme_redraw()


def code_of(number: int, region: str | None) -> str:
    """A valid individual-business code (GB 32100-2015 check character)."""
    body = (
        "92"
        + (region or "420100")
        + "MA"
        + "".join(CHARSET[(number // 31**i) % 31] for i in range(7))
    )
    total = sum(CHARSET.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return body + CHARSET[(31 - total % 31) % 31]


@dataclass
class Truth:
    """Generated businesses with everything the draw reads, as plain Python values."""

    businesses: list[dict[str, Any]] = field(default_factory=list)
    inspectors: list[tuple[str, str, frozenset[str]]] = field(default_factory=list)

    def inputs(self, with_risk: bool = True) -> DrawInputs:
        rows = self.businesses
        population = pl.DataFrame(
            {
                "uscc": [b["uscc"] for b in rows],
                "tier": [b["tier"] for b in rows],
                "region_code": [b["region_code"] for b in rows],
            },
            schema={"uscc": pl.String, "tier": pl.String, "region_code": pl.String},
        )
        risk = pl.DataFrame(
            [(b["uscc"], b["risk"]) for b in rows if b["risk"]],
            schema={"uscc": pl.String, "risk_class": pl.String},
            orient="row",
        )
        inspections = pl.DataFrame(
            [(b["uscc"], d) for b in rows for d in b["inspected"]],
            schema={"uscc": pl.String, "inspected_on": pl.Date},
            orient="row",
        )
        inspectors = pl.DataFrame(
            [(i, r, sorted(rec)) for i, r, rec in self.inspectors],
            schema={
                "inspector_id": pl.String,
                "region_code": pl.String,
                "recuse": pl.List(pl.String),
            },
            orient="row",
        )
        return DrawInputs(
            population=population,
            risk=risk if with_risk else None,
            inspections=inspections,
            inspectors=inspectors,
        )


def generate(seed: int, n: int = 1500) -> Truth:
    rng = random.Random(seed)
    truth = Truth()
    for number in range(n):
        region = rng.choice(REGIONS)
        code = code_of(number * 7919 + seed, region)
        inspected = [
            date(2024, 8, 1) - timedelta(days=rng.choice([10, 200, 365, 366, 367, 800]))
            for _ in range(rng.choice([0, 0, 0, 1, 2]))
        ]
        truth.businesses.append(
            {
                "uscc": code,
                "tier": rng.choices(TIERS, weights=[70, 12, 3, 15])[0],
                "region_code": region,
                "risk": rng.choice([None, None, "A", "B", "C", "D"]),
                "inspected": inspected,
            }
        )
    codes = [b["uscc"] for b in truth.businesses]
    for number in range(12):
        region = REGIONS[number % 3] if number != 11 else "420106"
        recused = frozenset(rng.sample(codes, 40)) if number % 4 == 0 else frozenset()
        truth.inspectors.append((f"WH{number:04d}", region, recused))
    truth.inspectors.append(("WH0099", "420103", frozenset(codes)))  # recuses from everybody
    return truth


PLAN = {
    "id": "2024-H2",
    "ratios": {"survival": "0.03", "growth": "0.05", "development": "0.08", "excluded": "0.10"},
    "risk_ratios": {"A": "0.03", "B": "0.10", "C": "0.40", "D": "0.80"},
    "exclude_inspected_within_months": 12,
    "inspectors_per_business": 2,
}


def oracle_draw(
    truth: Truth, plan: dict[str, Any], seed: str, on: date, with_risk: bool = True
) -> tuple[dict[str, list[str]], list[tuple[Any, ...]], list[tuple[Any, ...]], dict[str, int]]:
    """Eligibility written out by hand (the cut-off, the strata), then the README script."""
    months = plan.get("exclude_inspected_within_months") or 0
    year, month = divmod(on.year * 12 + on.month - 1 - months, 12)
    day = on.day
    while True:
        try:
            cutoff = date(year, month + 1, day)
            break
        except ValueError:
            day -= 1
    eligible: dict[str, list[str]] = {}
    excluded: dict[str, int] = {}
    for b in truth.businesses:
        risk = b["risk"] if with_risk else None
        key = f"{b['region_code'] or '-'}|{b['tier']}|{risk or '-'}"
        recent = months and any(d >= cutoff for d in b["inspected"])
        excluded[key] = excluded.get(key, 0) + bool(recent)
        if not recent:
            eligible.setdefault(key, []).append(b["uscc"])
    record = {
        "ratios": plan.get("ratios", {}),
        "risk_ratios": plan.get("risk_ratios", {}),
        "reserve": plan.get("reserve"),
        "inspectors_per_business": plan.get("inspectors_per_business", 2),
    }
    pool = [(i, r, set(rec)) for i, r, rec in truth.inspectors]
    sample, reserve = ORACLE["redraw"](seed, record, eligible, pool)
    return eligible, sample, reserve, excluded


def rows(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    return sorted(
        (r["stratum"], r["rank"], r["uscc"], r["rank_hash"], list(r["inspectors"]))
        for r in frame.iter_rows(named=True)
    )


@pytest.mark.parametrize(
    ("seed", "plan", "with_risk"),
    [
        (1, PLAN, True),
        (2, PLAN, False),
        (3, {**PLAN, "reserve": 3, "inspectors_per_business": 3}, True),
        (4, {**PLAN, "ratios": {"survival": "0.2"}, "risk_ratios": {"C": "1"}}, True),
        (5, {**PLAN, "exclude_inspected_within_months": None}, True),
    ],
)
def test_draw_matches_the_readme_script_business_by_business(
    tmp_path: Path, seed: int, plan: dict[str, Any], with_risk: bool
) -> None:
    truth = generate(seed)
    on = date(2024, 8, 1)
    text_seed = f"seed-{seed}-公开"
    result = draw(
        truth.inputs(with_risk), SamplingPlan.model_validate(plan), text_seed, on, tmp_path
    )
    eligible, sample, reserve, excluded = oracle_draw(truth, plan, text_seed, on, with_risk)
    assert rows(result.sample) == sorted(sample)
    assert rows(result.reserve) == sorted(reserve)
    assert result.sample.height > 20 and result.reserve.height > 0
    for stratum in result.strata.iter_rows(named=True):
        key = stratum["stratum"]
        assert stratum["eligible"] == len(eligible.get(key, []))
        assert stratum["excluded"] == excluded[key]
        assert stratum["population"] == stratum["eligible"] + stratum["excluded"]
        assert stratum["drawn"] == sum(1 for r in sample if r[0] == key)
        assert stratum["reserve"] == sum(1 for r in reserve if r[0] == key)
        short = sum(
            1 for r in sample if r[0] == key and len(r[4]) < plan["inspectors_per_business"]
        )
        assert stratum["short_of_inspectors"] == short
    assert sorted(result.eligible.iter_rows()) == sorted(
        (k, c) for k, codes in eligible.items() for c in codes
    )
    # every drawn business's tier and class are its stratum's
    for r in result.sample.iter_rows(named=True):
        assert r["stratum"] == f"{r['region_code'] or '-'}|{r['tier']}|{r['risk_class'] or '-'}"


def test_a_stratum_without_a_ratio_draws_nobody_and_says_so(tmp_path: Path) -> None:
    truth = generate(6, 400)
    plan = SamplingPlan.model_validate({"id": "x", "ratios": {"survival": "0.5"}})
    result = draw(truth.inputs(with_risk=False), plan, "s", date(2024, 8, 1), tmp_path)
    silent = result.strata.filter(pl.col("tier") != "survival")
    assert silent.height > 0
    assert silent.get_column("drawn").sum() == 0 and silent.get_column("reserve").sum() == 0
    assert silent.get_column("ratio").is_null().all()
    assert all("no ratio in the plan (ratios." in n for n in silent.get_column("note"))
    assert set(result.sample.get_column("tier")) == {"survival"}


def test_recent_inspections_are_excluded_at_the_cut_off_day(tmp_path: Path) -> None:
    on = date(2024, 8, 31)
    cutoff = date(2024, 2, 29)  # six months before 31 August: the month has no 31st
    assert months_before(on, 6) == cutoff
    assert months_before(date(2024, 3, 31), 1) == date(2024, 2, 29)
    assert months_before(date(2024, 1, 15), 12) == date(2023, 1, 15)
    days = {"on": cutoff, "before": cutoff - timedelta(days=1), "after": on}
    codes = {name: code_of(i, "420102") for i, name in enumerate(days)}
    inputs = DrawInputs(
        population=pl.DataFrame(
            {"uscc": list(codes.values()), "tier": ["survival"] * 3, "region_code": ["420102"] * 3}
        ),
        inspections=pl.DataFrame(
            {"uscc": [codes[n] for n in days], "inspected_on": list(days.values())}
        ),
    )
    plan = SamplingPlan.model_validate(
        {"id": "x", "ratios": {"survival": 1}, "exclude_inspected_within_months": 6}
    )
    result = draw(inputs, plan, "s", on, tmp_path)
    assert result.cutoff == cutoff
    assert set(result.sample.get_column("uscc")) == {codes["before"]}
    assert result.strata.row(0, named=True)["excluded"] == 2


def test_sizes_are_exact_decimals() -> None:
    assert float("0.07") * 100 > 7  # binary floating point would draw 8 of 100
    assert drawn_count(exact_ratio(0.07), 100) == 7
    assert drawn_count(exact_ratio("0.03"), 100) == 3
    assert drawn_count(exact_ratio("3%"), 100) == 3
    assert drawn_count(exact_ratio(0.14), 50) == 7
    assert drawn_count(exact_ratio(0.03), 101) == 4
    assert drawn_count(exact_ratio(0), 10) == 0
    assert drawn_count(exact_ratio(1), 10) == 10
    for bad in (1.5, -0.1, "abc", True, "150%"):
        with pytest.raises(ValueError):
            exact_ratio(bad)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=6),
    ratios=st.lists(st.decimals(min_value=0, max_value=1, places=3), min_size=6, max_size=6),
    reserve=st.one_of(st.none(), st.integers(min_value=0, max_value=5)),
)
def test_allocation_totals_and_bounds(
    tmp_path: Path, sizes: list[int], ratios: list[Decimal], reserve: int | None
) -> None:
    regions = [f"4201{i:02d}" for i in range(len(sizes))]
    codes, region_of = [], []
    for index, (region, size) in enumerate(zip(regions, sizes, strict=True)):
        for i in range(size):
            codes.append(code_of(index * 1000 + i, region))
            region_of.append(region)
    population = pl.DataFrame(
        {"uscc": codes, "tier": ["survival"] * len(codes), "region_code": region_of},
        schema={"uscc": pl.String, "tier": pl.String, "region_code": pl.String},
    )
    # one ratio per stratum: each district's businesses get a class A–D by position
    risk = population.select(
        "uscc",
        pl.int_range(pl.len()).mod(4).replace_strict(dict(enumerate("ABCD"))).alias("risk_class"),
    )
    plan = SamplingPlan.model_validate(
        {
            "id": "p",
            "risk_ratios": dict(zip("ABCD", (str(r) for r in ratios[:4]), strict=True)),
            "reserve": reserve,
        }
    )
    result = draw(DrawInputs(population, risk=risk), plan, "seed", date(2024, 8, 1), tmp_path)
    strata = result.strata
    for s in strata.iter_rows(named=True):
        n = int((Decimal(s["ratio"]) * s["eligible"]).to_integral_value(rounding=ROUND_CEILING))
        assert s["drawn"] == n
        assert 0 <= s["drawn"] <= s["eligible"]
        assert (s["drawn"] >= 1) == (Decimal(s["ratio"]) > 0 and s["eligible"] >= 1)
        wanted = n if reserve is None else reserve
        assert s["reserve"] == min(wanted, s["eligible"] - n)
    assert result.sample.height == strata.get_column("drawn").sum()
    assert result.reserve.height == strata.get_column("reserve").sum()
    both = pl.concat([result.sample, result.reserve]).get_column("uscc")
    assert both.n_unique() == both.len()
    assert strata.get_column("population").sum() == len(codes)


def test_row_order_does_not_matter(tmp_path: Path) -> None:
    truth = generate(7)
    plan = SamplingPlan.model_validate(PLAN)
    first = draw(truth.inputs(), plan, "s", date(2024, 8, 1), tmp_path)
    shuffled = truth.inputs()
    shuffled = DrawInputs(
        population=shuffled.population.sample(fraction=1.0, shuffle=True, seed=1),
        risk=shuffled.risk.sample(fraction=1.0, shuffle=True, seed=2)
        if shuffled.risk is not None
        else None,
        inspections=shuffled.inspections.sample(fraction=1.0, shuffle=True, seed=3)
        if shuffled.inspections is not None
        else None,
        inspectors=shuffled.inspectors.sample(fraction=1.0, shuffle=True, seed=4)
        if shuffled.inspectors is not None
        else None,
    )
    second = draw(shuffled, plan, "s", date(2024, 8, 1), tmp_path)
    for name in ("sample", "reserve", "strata", "eligible"):
        assert getattr(first, name).equals(getattr(second, name)), name


def test_dropping_an_unselected_business_leaves_the_sample_unchanged(tmp_path: Path) -> None:
    truth = generate(8)
    plan = SamplingPlan.model_validate({**PLAN, "reserve": 0})
    on = date(2024, 8, 1)
    before = draw(truth.inputs(), plan, "s", on, tmp_path)
    chosen = set(before.sample.get_column("uscc")) | set(before.reserve.get_column("uscc"))
    rng = random.Random(8)
    unchanged = shrunk = 0
    for _ in range(12):
        gone = rng.choice([b for b in truth.businesses if b["uscc"] not in chosen])
        smaller = Truth([b for b in truth.businesses if b is not gone], truth.inspectors)
        after = draw(smaller.inputs(), plan, "s", on, tmp_path)
        stratum = next(
            s for s in before.strata.iter_rows(named=True)
            if s["stratum"] == f"{gone['region_code'] or '-'}|{gone['tier']}|{gone['risk'] or '-'}"
        )  # fmt: skip
        eligible = stratum["eligible"] - (gone["uscc"] in set(before.eligible.get_column("uscc")))
        n_after = drawn_count(Decimal(stratum["ratio"]), eligible) if stratum["ratio"] else 0
        if n_after == stratum["drawn"]:  # the stratum keeps its size: nothing moves
            assert after.sample.equals(before.sample)
            unchanged += 1
        else:  # one fewer to draw: the same ranking, cut one shorter in that stratum
            kept = before.sample.filter(
                ~((pl.col("stratum") == stratum["stratum"]) & (pl.col("rank") == stratum["drawn"]))
            )
            assert after.sample.equals(kept)
            shrunk += 1
    assert unchanged > 0


def test_inclusion_frequencies_are_near_n_over_n(tmp_path: Path) -> None:
    """Over 200 seeds, each of 50 businesses is drawn about n/N = 5/50 of the time, and each
    of 6 inspectors is about 2/6 of the assignments."""
    codes = [code_of(i, "420102") for i in range(50)]
    inputs = DrawInputs(
        population=pl.DataFrame(
            {"uscc": codes, "tier": ["survival"] * 50, "region_code": ["420102"] * 50}
        ),
        inspectors=pl.DataFrame(
            {
                "inspector_id": [f"WH{i}" for i in range(6)],
                "region_code": ["420102"] * 6,
                "recuse": [[] for _ in range(6)],
            },
            schema={
                "inspector_id": pl.String,
                "region_code": pl.String,
                "recuse": pl.List(pl.String),
            },
        ),
    )
    plan = SamplingPlan.model_validate({"id": "f", "ratios": {"survival": "0.1"}, "reserve": 0})
    seeds = 200
    drawn = dict.fromkeys(codes, 0)
    assigned: dict[str, int] = {}
    for s in range(seeds):
        result = draw(inputs, plan, f"seed-{s}", date(2024, 8, 1), tmp_path)
        assert result.sample.height == 5
        for code, who in result.sample.select("uscc", "inspectors").iter_rows():
            drawn[code] += 1
            for i in who:
                assigned[i] = assigned.get(i, 0) + 1
    expected = seeds * 5 / 50  # 20, standard deviation about 4.2
    chi2 = sum((c - expected) ** 2 / (expected * 0.9) for c in drawn.values())
    assert chi2 < 100  # about 49 on average (49 degrees of freedom); 100 is p ≈ 2·10⁻⁵
    assert all(abs(c - expected) < 6 * 4.25 for c in drawn.values())
    per = seeds * 5 * 2 / 6  # each inspector: a third of the 2 000 assignments
    assert all(abs(c - per) < 6 * (seeds * 5 * (1 / 3) * (2 / 3)) ** 0.5 for c in assigned.values())


def test_equal_leading_bytes_fall_back_to_the_whole_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the ranking's integer prefix cut to one byte, ties are frequent; the order must still
    be that of the whole hex digest (the oracle's)."""
    monkeypatch.setattr(draw_module, "PREFIX_BYTES", 1)
    truth = generate(9, 900)
    plan = {**PLAN, "ratios": {k: "0.5" for k in PLAN["ratios"]}, "risk_ratios": {}}
    result = draw(
        truth.inputs(with_risk=False),
        SamplingPlan.model_validate(plan),
        "t",
        date(2024, 8, 1),
        tmp_path,
    )
    _, sample, reserve, _ = oracle_draw(truth, plan, "t", date(2024, 8, 1), with_risk=False)
    assert rows(result.sample) == sorted(sample)
    assert rows(result.reserve) == sorted(reserve)


def test_readme_test_vectors_are_sha256() -> None:
    from support import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("**Test vectors**") :]
    vectors = []
    for line in section.splitlines():
        if line.startswith("| `2024-H2-demo"):
            cells = line.replace("\\|", "\x00").strip("|").split("|")
            message = cells[0].strip().strip("`").replace("\x00", "|")
            vectors.append((message, cells[1].strip().strip("`")))
    assert len(vectors) == 8
    for message, digest in vectors:
        assert hashlib.sha256(message.encode("utf-8")).hexdigest() == digest, message
    codes = [m.split("|")[1] for m, _ in vectors[:5]]
    ranked = sorted(codes, key=lambda c: ORACLE["sha"](f"2024-H2-demo|{c}"))
    assert ranked[:2] == ["92420106MA2Q8HUX5J", "92420102MA4K1B2C9D"]
    assert "92420106MA2Q8HUX5J, 92420102MA4K1B2C9D, 92420111MA4F0M5K2C" in " ".join(section.split())
