"""Reading and validating the plain review files of SPEC §9 (CSV or XLSX): corrections (复核更正),
decisions (人工认定) and feedback (反馈). Every row is checked; all problems are reported at once,
with file and row, as one `GthfxError` — nothing is applied when anything is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.errors import GthfxError
from gthfx.ingest import uscc
from gthfx.ingest.load import read_table
from gthfx.ingest.parse import parse
from gthfx.settings.sources import MONEY_FACTOR, SourcesMapping, normalise_header
from gthfx.vocab import TIER_LABELS, TIERS

CORRECTION_COLUMNS = ("统一社会信用代码", "字段", "更正值", "复核人", "复核日期", "说明")
DECISION_COLUMNS = ("统一社会信用代码", "认定分型", "理由", "审批人", "日期")
FEEDBACK_COLUMNS = ("统一社会信用代码", "反馈内容", "诉求分型")
MAX_LISTED = 200  # problems listed in one message


class ReviewError(GthfxError):
    """Review files (corrections, decisions, feedback) with problems: every one is listed."""


@dataclass(frozen=True)
class Correction:
    uscc: str
    extract: str
    field: str
    label: str
    raw: str  # the corrected value as written
    value: Any  # typed as the field (money in 元)
    reviewer: str
    reviewed_on: str
    note: str
    file: str
    row: int


@dataclass(frozen=True)
class Decision:
    uscc: str
    tier: str
    reason: str
    approver: str
    decided_on: str
    file: str
    row: int


@dataclass(frozen=True)
class Feedback:
    uscc: str
    content: str
    wanted: str | None  # a tier id, or None when empty / not a tier
    wanted_raw: str
    file: str
    row: int


@dataclass
class ReviewInput:
    corrections: list[Correction] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)


def tier_of(text: str) -> str | None:
    """A tier id from its id or Chinese label (生存型 / survival …), else None."""
    word = normalise_header(text).lower()
    for tier in TIERS:
        if word in (tier, normalise_header(TIER_LABELS[tier]).lower()):
            return tier
    return None


def _rows(path: Path, columns: tuple[str, ...], problems: list[str]) -> list[dict[str, str]]:
    frame, _, _ = read_table(path)
    by_norm = {normalise_header(c): c for c in frame.columns}
    missing = [c for c in columns if normalise_header(c) not in by_norm]
    if missing:
        problems.append(
            f"{path}: missing column(s) {', '.join(missing)} (expected: {', '.join(columns)})"
        )
        return []
    picked = frame.select(pl.col(by_norm[normalise_header(c)]).alias(c) for c in columns)
    return [{k: (v or "").strip() for k, v in row.items()} for row in picked.iter_rows(named=True)]


def _code(text: str) -> str:
    value = pl.select(uscc.normalise(pl.lit(text, pl.String))).item()
    return value or ""


def field_index(sources: SourcesMapping) -> dict[str, tuple[str, str]]:
    """Every way a correction may name a field (canonical name, accepted header, label),
    normalised → (extract, canonical field). The key `uscc` cannot be corrected."""
    out: dict[str, tuple[str, str]] = {}
    for extract, spec in sources.extracts.items():
        for name, fspec in spec.fields.items():
            if name == "uscc":
                continue
            for word in (name, fspec.label, *fspec.headers):
                out.setdefault(normalise_header(word).lower(), (extract, name))
    return out


def _typed_value(raw: str, kind: str, factor: int) -> Any:
    return pl.select(parse(pl.lit(raw, pl.String), kind, factor)).item()  # type: ignore[arg-type]


def read_review(
    sources: SourcesMapping,
    known: set[str],
    corrections: list[Path],
    decisions: list[Path],
    feedback: list[Path],
) -> tuple[ReviewInput, list[str]]:
    """Read and check every row of every review file against the full sources mapping and the
    codes of the base run (`known`). Returns what was read and the problems found (empty: all
    good); the caller raises, after adding the problems it can only find later."""
    problems: list[str] = []
    out = ReviewInput()
    fields = field_index(sources)

    def code_of(path: Path, row: int, text: str) -> str | None:
        if not text:
            problems.append(f"{path}: row {row}: 统一社会信用代码 is empty")
            return None
        code = _code(text)
        if code not in known:
            problems.append(f"{path}: row {row}: unknown code {code} (not in the base run)")
            return None
        return code

    seen: dict[tuple[str, str], Correction] = {}
    for path in corrections:
        for i, row in enumerate(_rows(path, CORRECTION_COLUMNS, problems), start=2):
            code = code_of(path, i, row["统一社会信用代码"])
            where = f"{path}: row {i}"
            named = fields.get(normalise_header(row["字段"]).lower())
            if named is None:
                problems.append(f"{where}: unknown field {row['字段']!r}")
                continue
            extract, name = named
            fspec = sources.extracts[extract].fields[name]
            if fspec.personal:
                problems.append(f"{where}: {name} ({fspec.label}) is personal data: not corrected")
                continue
            raw = row["更正值"]
            factor = MONEY_FACTOR[fspec.unit or "元"]
            value = _typed_value(raw, fspec.type, factor) if raw else None
            if raw and value is None:
                problems.append(
                    f"{where}: {raw!r} is not a valid {fspec.type} for {name} ({fspec.label})"
                )
                continue
            if not row["复核人"]:
                problems.append(f"{where}: 复核人 (reviewer) is empty")
                continue
            if code is None:
                continue
            item = Correction(
                uscc=code, extract=extract, field=name, label=fspec.label, raw=raw, value=value,
                reviewer=row["复核人"], reviewed_on=row["复核日期"], note=row["说明"],
                file=str(path), row=i,
            )  # fmt: skip
            earlier = seen.get((code, name))
            if earlier is not None:
                if earlier.value != value:
                    problems.append(
                        f"{where}: conflicts with {earlier.file} row {earlier.row}: "
                        f"{name} of {code} corrected to {earlier.raw!r} and to {raw!r}"
                    )
                continue
            seen[(code, name)] = item
            out.corrections.append(item)

    decided: dict[str, Decision] = {}
    for path in decisions:
        for i, row in enumerate(_rows(path, DECISION_COLUMNS, problems), start=2):
            code = code_of(path, i, row["统一社会信用代码"])
            where = f"{path}: row {i}"
            tier = tier_of(row["认定分型"])
            bad = False
            if tier is None:
                problems.append(
                    f"{where}: unknown tier {row['认定分型']!r} "
                    "(生存型/成长型/发展型 or survival/growth/development)"
                )
                bad = True
            if not row["审批人"]:
                problems.append(f"{where}: a decision needs its approver (审批人)")
                bad = True
            if not row["理由"]:
                problems.append(f"{where}: a decision needs its reason (理由)")
                bad = True
            if bad or code is None or tier is None:
                continue
            choice = Decision(
                uscc=code, tier=tier, reason=row["理由"], approver=row["审批人"],
                decided_on=row["日期"], file=str(path), row=i,
            )  # fmt: skip
            earlier_d = decided.get(code)
            if earlier_d is not None:
                if earlier_d.tier != tier:
                    problems.append(
                        f"{where}: conflicts with {earlier_d.file} row {earlier_d.row}: "
                        f"{code} decided as {earlier_d.tier} and as {tier}"
                    )
                continue
            decided[code] = choice
            out.decisions.append(choice)

    for path in feedback:
        for i, row in enumerate(_rows(path, FEEDBACK_COLUMNS, problems), start=2):
            code = code_of(path, i, row["统一社会信用代码"])
            if code is None:
                continue
            out.feedback.append(
                Feedback(
                    uscc=code,
                    content=row["反馈内容"],
                    wanted=tier_of(row["诉求分型"]),
                    wanted_raw=row["诉求分型"],
                    file=str(path),
                    row=i,
                )
            )
    return out, problems


def raise_problems(problems: list[str]) -> None:
    if not problems:
        return
    shown = problems[:MAX_LISTED]
    more = len(problems) - len(shown)
    text = "\n  ".join(shown) + (f"\n  … and {more} more" if more else "")
    raise ReviewError(
        f"the review files have {len(problems)} problem(s); nothing was applied:\n  {text}",
        hint="fix the rows listed and run the recheck again",
    )


__all__ = [
    "Correction",
    "Decision",
    "Feedback",
    "ReviewError",
    "ReviewInput",
    "raise_problems",
    "read_review",
    "tier_of",
]
