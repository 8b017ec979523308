"""Whether a run's inputs look like the right files: warnings when they look wrong.

A run on last year's files, or on the wrong column, types every business without an error —
and a clerk would only notice months later. These checks compare what validation and the rules
found with what a real year gives (the thresholds are the sources mapping's `checks:`) and say
so loudly: far more rows of another year than the report year, far more rows with an unusable
credit code, far more businesses failing a basic condition (`reported` above all), or no
business at all. Counts and shares only, never a row's values. Never prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

from gthfx.ingest import uscc
from gthfx.ingest.load import FileInfo
from gthfx.ingest.validate import Accounting
from gthfx.settings.sources import Checks
from gthfx.vocab import OTHER_YEAR

# code statuses that mean the code column is not usable at all (not_individual is normal in a
# tax or social extract, which hold enterprises too)
_BAD_CODES = {
    "annual": (uscc.MISSING, uscc.MALFORMED, uscc.NOT_INDIVIDUAL, uscc.NUMERIC),
    "tax": (uscc.MISSING, uscc.MALFORMED, uscc.NUMERIC),
    "social": (uscc.MISSING, uscc.MALFORMED, uscc.NUMERIC),
}


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} % ({part:,} of {whole:,})"


def file_warnings(files: Iterable[FileInfo]) -> list[str]:
    """The warnings each input file was read despite (see `load.FileInfo.warnings`)."""
    return [w for info in files for w in info.warnings]


def input_warnings(
    *,
    accounting: Mapping[str, Accounting],
    rejects: pl.LazyFrame,
    outcomes: pl.LazyFrame,
    checks: Checks,
    report_year: int,
) -> list[str]:
    """Warnings about the run as a whole (see the module docstring)."""
    out: list[str] = []
    by_reason = {
        (extract, reason): n
        for extract, reason, n in rejects.group_by("extract", "reason").len().collect().iter_rows()
    }
    for extract, acc in accounting.items():
        if acc.read == 0:
            continue
        other = by_reason.get((extract, OTHER_YEAR), 0)
        if other / acc.read > checks.other_year_share:
            out.append(
                f"{_share(other, acc.read)} of the {extract} rows are of another year than the "
                f"report year {report_year}: are these the files of the right year?"
            )
        bad = sum(by_reason.get((extract, s), 0) for s in _BAD_CODES.get(extract, ()))
        if bad / acc.read > checks.rejected_share:
            out.append(
                f"{_share(bad, acc.read)} of the {extract} rows have no usable credit code "
                "(missing, malformed, stored as a number): is the code column the right one?"
            )
    total = outcomes.select(pl.len()).collect().item()
    if total == 0:
        out.append("no business was typed: the annual extract holds no row with a usable code")
        return out
    for condition, limit in sorted(checks.failed_condition_share.items()):
        failing = outcomes.select(pl.col("reasons").list.contains(condition).sum()).collect().item()
        if failing / total > limit:
            out.append(
                f"{_share(failing, total)} of the businesses fail the basic condition "
                f"`{condition}`: far more than in a real year — are these last year's files, or "
                "is the run date right?"
            )
    return out
