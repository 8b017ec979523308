"""名特优新 rule cases as data (`rules/cases/categories/*.yaml`, run by `gthfx rules test`): given
a run's facts, applications, evidence and records → the expected screening result per entry.

    defaults:
      date: "2024-10-15"                     # the screening date S
      run: {tier: growth, years_in_business: 3, insured_staff: 0, region_code: "420102"}
      application: {categories: 知名, route: 自主申报}
    cases:
      - name: 注册商标有效期至S前一日 → 不计
        evidence: [{evidence_type: 注册商标, obtained_on: "2020-01-01", valid_until: "2024-10-14"}]
        expect: {known: {result: ineligible, reasons: [known.trademark, known.honour, known.chain]}}
      - name: 名额并列
        quota_base: {"420102": 20}           # growth + development businesses per district
        businesses:                          # several businesses; each like a single case
          - {uscc: 92420102MA4K1B2C9D, evidence: [...], expect: {known: {result: eligible}}}

`run` gives the run's facts (typed; `run: null` — the business is not in the run; `reasons` of
an excluded business may be given); `application`, `evidence` and `records` are written as in an
extract, by canonical field name, and go through the same parsing and checks as the files.
`expect` maps a category to any of `result`, `reasons`, `criteria_met`, `rank`. The quota base
defaults to the given businesses of the quota tiers per district.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.app.categories.core import (
    entries_from_applications,
    quota_table,
    records_rejected,
    screen_entries,
)
from gthfx.app.categories.inputs import MULTI
from gthfx.errors import RulesError
from gthfx.ingest import uscc
from gthfx.ingest.items import Items, check_items
from gthfx.ingest.load import FileInfo
from gthfx.rules.criteria import CODED_FIELDS, CriteriaFile, compile_criteria, criteria_in_force
from gthfx.settings.sources import SourcesMapping
from gthfx.settings.yamlio import load_yaml

CASE_KEYS = {
    "name",
    "date",
    "run",
    "application",
    "evidence",
    "records",
    "expect",
    "businesses",
    "quota_base",
    "uscc",
}
BUSINESS_KEYS = {"uscc", "run", "application", "evidence", "records", "expect"}
EXPECT_KEYS = {"result", "reasons", "criteria_met", "rank"}
RUN_KEYS = {"tier", "years_in_business", "insured_staff", "region_code", "industry_code", "reasons"}


def case_code(number: int) -> str:
    """A valid individual-business code for the n-th business of a case (GB 32100 check)."""
    body = f"92420102MA{number:07d}"
    total = sum(uscc.VALUE[ch] * w for ch, w in zip(body, uscc.WEIGHTS, strict=True))
    return body + uscc.CHARSET[(31 - total % 31) % 31]


@dataclass(frozen=True)
class CategoryCase:
    file: Path
    name: str
    on: date
    businesses: list[dict[str, Any]]  # uscc, run, application, evidence, records, expect
    quota_base: dict[str, int] | None


@dataclass(frozen=True)
class CategoryCaseResult:
    case: CategoryCase
    expected: dict[tuple[str, str], dict[str, Any]]
    actual: dict[tuple[str, str], dict[str, Any]]

    @property
    def passed(self) -> bool:
        return all(
            self.actual.get(key, {}).get(k) == v
            for key, want in self.expected.items()
            for k, v in want.items()
        )


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **over}
    return over


def load_category_cases(path: Path) -> list[CategoryCase]:
    raw = load_yaml(path, RulesError)
    if not isinstance(raw, dict) or not isinstance(raw.get("cases"), list):
        raise RulesError(f"{path}: a case file has a list `cases` (and optional `defaults`)")
    unknown = set(raw) - {"defaults", "cases"}
    if unknown:
        raise RulesError(f"{path}: unknown key(s) {sorted(unknown)}")
    defaults = raw.get("defaults") or {}
    out = []
    for index, case in enumerate(raw["cases"]):
        where = f"{path}: cases[{index}]"
        if not isinstance(case, dict) or set(case) - CASE_KEYS:
            raise RulesError(f"{where}: unknown key(s) {sorted(set(case) - CASE_KEYS)}")
        try:
            on = date.fromisoformat(str(case.get("date", defaults.get("date"))))
        except ValueError:
            raise RulesError(f"{where}: `date` must be YYYY-MM-DD") from None
        # the case's own keys are the defaults of its businesses
        base = {k: defaults.get(k) for k in ("run", "application", "evidence", "records")}
        for key in ("run", "application", "evidence", "records"):
            if key in case:
                base[key] = _merge(base[key], case[key]) if key != "run" or case[key] else None
        listed = case.get("businesses") or [{k: case[k] for k in ("uscc", "expect") if k in case}]
        businesses = []
        for number, given in enumerate(listed, start=1):
            if not isinstance(given, dict) or set(given) - BUSINESS_KEYS:
                raise RulesError(f"{where}: businesses[{number - 1}]: unknown key(s)")
            run = base["run"]
            if "run" in given:
                run = _merge(run, given["run"]) if given["run"] is not None else None
            if run is not None and (not isinstance(run, dict) or set(run) - RUN_KEYS):
                raise RulesError(f"{where}: `run` takes {', '.join(sorted(RUN_KEYS))}")
            expect = given.get("expect") or {}
            if any(set(v) - EXPECT_KEYS for v in expect.values()):
                raise RulesError(f"{where}: `expect` takes {', '.join(sorted(EXPECT_KEYS))}")
            application = given.get("application", base["application"])
            rows = application if isinstance(application, list) else [application]
            businesses.append(
                {
                    "uscc": str(given.get("uscc") or case_code(number)),
                    "run": run,
                    "applications": [
                        _merge(defaults.get("application"), row) for row in rows if row
                    ],
                    "evidence": given.get("evidence", base["evidence"]) or [],
                    "records": given.get("records", base["records"]) or [],
                    "expect": expect,
                }
            )
        out.append(
            CategoryCase(
                path, str(case.get("name", f"case {index}")), on, businesses, case.get("quota_base")
            )
        )
    return out


def _items(
    extract: str, rows: list[dict[str, Any]], sources: SourcesMapping, source: CriteriaFile
) -> Items:
    spec = sources.category_extracts[extract]
    unknown = sorted({k for r in rows for k in r} - set(spec.fields))
    if unknown:
        raise RulesError(
            f"{extract}: unknown field(s) {', '.join(unknown)}",
            hint=f"fields: {', '.join(spec.fields)}",
        )
    data = {
        name: pl.Series(
            [None if r.get(name) is None else str(r[name]) for r in rows], dtype=pl.String
        )
        for name in spec.fields
    }
    raw = pl.DataFrame(
        {
            "_file": pl.Series([0] * len(rows), dtype=pl.UInt16),
            "_row": pl.Series(range(2, len(rows) + 2), dtype=pl.UInt32),
            **data,
        }
    )
    vocabulary = {
        f: source.criteria.vocabulary[v]
        for (e, f), v in CODED_FIELDS.items()
        if e == extract and f in spec.fields
    }
    info = FileInfo(extract, f"<case:{extract}>", "", "case", None, len(rows), {}, ())
    return check_items(
        extract, raw, spec, vocabulary, multi=MULTI.get(extract, frozenset()), files=[info]
    )


def run_category_case(
    case: CategoryCase, criteria: Path, sources: SourcesMapping
) -> CategoryCaseResult:
    source = criteria_in_force(criteria, case.on)
    compiled = compile_criteria(source, sources.category_extracts, case.on)
    crit = source.criteria
    apps, evidence, records = [], [], []
    facts = []
    for b in case.businesses:
        apps += [{"uscc": b["uscc"], **a} for a in b["applications"]]
        evidence += [{"uscc": b["uscc"], **e} for e in b["evidence"]]
        records += [{"uscc": b["uscc"], **r} for r in b["records"]]
        if b["run"] is not None:
            facts.append({"uscc": b["uscc"], "reasons": [], **b["run"]})
    app_items = _items("applications", apps, sources, source)
    ev_items = _items("evidence", evidence, sources, source)
    rec_items = _items("records", records, sources, source)
    schema: dict[str, pl.DataType] = {
        "uscc": pl.String(),
        "tier": pl.String(),
        "years_in_business": pl.Int64(),
        "insured_staff": pl.Int64(),
        "region_code": pl.String(),
        "industry_code": pl.String(),
        "reasons": pl.List(pl.String()),
    }
    run = pl.DataFrame([{k: f.get(k) for k in schema} for f in facts], schema=schema)
    serious = list(crit.parameter("serious_dishonest_reasons"))
    fact_frame = run.select(
        "uscc",
        pl.lit(True).alias("in_run"),
        "tier",
        "years_in_business",
        "insured_staff",
        "region_code",
        "industry_code",
        (
            (pl.col("tier") == "excluded")
            & pl.col("reasons").list.eval(pl.element().is_in(serious)).list.any()
        ).alias("serious_dishonest"),
    )
    if case.quota_base is not None:
        base = pl.DataFrame(
            {"region_code": list(case.quota_base), "base": list(case.quota_base.values())},
            schema={"region_code": pl.String, "base": pl.Int64},
        )
    else:
        base = (
            run.filter(pl.col("tier").is_in(list(crit.parameter("quota_tiers"))))
            .group_by("region_code")
            .agg(pl.len().cast(pl.Int64).alias("base"))
        )
    quotas = quota_table(
        base, float(crit.parameter("quota_share")), int(crit.parameter("quota_minimum"))
    )
    entries = entries_from_applications(app_items.rows, str(crit.parameter("recommended_route")))
    screened = screen_entries(
        entries,
        ev_items.rows,
        rec_items.rows,
        records_rejected(rec_items.rejects),
        fact_frame,
        quotas,
        compiled,
    )
    actual = {
        (r["uscc"], r["category"]): {
            "result": r["result"],
            "reasons": list(r["reasons"]),
            "criteria_met": list(r["criteria_met"]),
            "rank": r["rank"],
        }
        for r in screened.iter_rows(named=True)
    }
    expected = {
        (b["uscc"], category): dict(want)
        for b in case.businesses
        for category, want in b["expect"].items()
    }
    rejected = [*app_items.rejects.iter_rows(named=True)]
    for row in rejected:  # an application a case gives must be readable
        actual[(str(row["uscc"]), "<rejected>")] = {"result": row["reason"]}
    return CategoryCaseResult(case, expected, actual)
