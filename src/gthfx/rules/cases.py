"""Rule cases as data: given input values per extract and a run date → the expected outcome.

A case file (YAML) holds `defaults` (merged under every case) and `cases`:

    defaults:
      date: "2024-07-01"
      annual: {register_status: 存续, established_on: "2015-03-01", report_year: 2023}
    cases:
      - name: 销售额恰好100万元 → 发展型
        annual: {employees: 2}
        tax: {sales: 1000000, tax_paid: 30000}     # no `tax:` key → the business has no tax row
        parameters: {development_min_sales_yuan: 1000000}   # optional overrides
        expect: {tier: development, rule_id: development.standard}

Values are written as they would appear in an extract (they go through the same parsing); keys
are canonical field names. A value of null removes a default. The case runs through the same
validate → join → rules path as classify, on one business (plus any extra rows a case gives as
lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.errors import RulesError
from gthfx.ingest.load import FileInfo, RawExtract
from gthfx.rules.trace import Trace
from gthfx.settings.sources import EXTRACTS, SourcesMapping
from gthfx.settings.yamlio import load_yaml

DEFAULT_USCC = "92420102MA4K1B2C9D"
EXPECT_KEYS = {"tier", "rule_id", "reasons", "flags"}
CASE_KEYS = {"name", "date", "parameters", "expect", *EXTRACTS}


@dataclass(frozen=True)
class RuleCase:
    file: Path
    name: str
    run_date: date
    given: dict[str, list[dict[str, Any]]]  # extract → rows (canonical field → raw value)
    parameters: dict[str, Any]
    expect: dict[str, Any]


@dataclass(frozen=True)
class CaseResult:
    """A case's outcome, and the trace of what the rules saw (None: the business has no row
    after validation)."""

    case: RuleCase
    actual: dict[str, Any]
    ruleset_id: str
    trace: Trace | None

    @property
    def passed(self) -> bool:
        return all(self.actual.get(k) == v for k, v in self.case.expect.items())


def _rows(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    rows = value if isinstance(value, list) else [value]
    if not all(isinstance(r, dict) for r in rows):
        raise RulesError(f"{where}: expected a mapping of field → value (or a list of them)")
    return rows


def load_cases(path: Path) -> list[RuleCase]:
    raw = load_yaml(path, RulesError)
    if not isinstance(raw, dict) or not isinstance(raw.get("cases"), list):
        raise RulesError(f"{path}: a case file has a list `cases` (and optional `defaults`)")
    defaults = raw.get("defaults") or {}
    unknown_top = set(raw) - {"defaults", "cases"}
    if unknown_top:
        raise RulesError(f"{path}: unknown key(s) {sorted(unknown_top)}")
    out = []
    for index, case in enumerate(raw["cases"]):
        where = f"{path}: cases[{index}]"
        if not isinstance(case, dict):
            raise RulesError(f"{where}: expected a mapping")
        unknown = set(case) - CASE_KEYS
        if unknown:
            raise RulesError(f"{where}: unknown key(s) {sorted(unknown)}")
        expect = case.get("expect")
        if not isinstance(expect, dict) or "tier" not in expect or set(expect) - EXPECT_KEYS:
            raise RulesError(
                f"{where}: `expect` needs `tier` (and may have rule_id, reasons, flags)"
            )
        given: dict[str, list[dict[str, Any]]] = {}
        for extract in EXTRACTS:
            base = defaults.get(extract)
            rows = _rows(case.get(extract, base if extract not in case else None), where)
            if extract in case and isinstance(base, dict) and isinstance(case[extract], dict):
                rows = [{**base, **case[extract]}]
            if extract == "annual" and not rows:
                rows = [dict(base or {})]
            given[extract] = [
                {"uscc": DEFAULT_USCC, **{k: v for k, v in row.items() if v is not None}}
                for row in rows
            ]
        when = case.get("date", defaults.get("date"))
        try:
            run_date = date.fromisoformat(str(when))
        except ValueError:
            raise RulesError(f"{where}: `date` must be YYYY-MM-DD, found {when!r}") from None
        out.append(
            RuleCase(
                file=path,
                name=str(case.get("name", f"case {index}")),
                run_date=run_date,
                given=given,
                parameters={**(defaults.get("parameters") or {}), **(case.get("parameters") or {})},
                expect=expect,
            )
        )
    return out


def raw_extract(
    extract: str, rows: list[dict[str, Any]], sources: SourcesMapping, typing: SourcesMapping
) -> RawExtract:
    """The rows of a case as a raw extract: every field of the mapping may be given, the fields
    a run loads (`typing`) are kept."""
    unknown = sorted({k for row in rows for k in row} - set(sources.extracts[extract].fields))
    spec = typing.extracts[extract]
    fields = ["uscc", *spec.typed_fields()]  # personal data is never loaded
    if unknown:
        raise RulesError(
            f"{extract}: unknown field(s) {', '.join(unknown)}",
            hint=f"fields of {extract}: {', '.join(fields)}",
        )
    data = {f: [None if row.get(f) is None else str(row[f]) for row in rows] for f in fields}
    frame = pl.DataFrame(
        {
            "_file": pl.Series([0] * len(rows), dtype=pl.UInt16),
            "_row": pl.Series(range(2, len(rows) + 2), dtype=pl.UInt32),
            **{f: pl.Series(v, dtype=pl.String) for f, v in data.items()},
        }
    )
    info = FileInfo(
        extract=extract,
        path=f"<case:{extract}>",
        sha256="",
        format="case",
        encoding=None,
        rows=len(rows),
        columns={},
        ignored_columns=(),
    )
    return RawExtract(name=extract, frame=frame, files=[info])
