"""The sampling plan (抽查计划) of a 双随机 draw, as strict data (SPEC §11).

    id: 2024-H2                          # written into every file of the draw
    title: 2024年下半年个体工商户双随机抽查     # optional
    ratios: {survival: 0.03, growth: 0.05, development: 0.08, excluded: 0.10}
    risk_ratios: {A: 0.03, B: 0.10, C: 0.40, D: 0.80}   # optional: for businesses with a class
    exclude_inspected_within_months: 12  # optional: inspected on or after D − 12 months → out
    inspectors_per_business: 2           # default 2
    reserve: 5                           # optional: reserve tickets per stratum (default: as
                                         # many as drawn)

Ratios are exact decimals: written as numbers (`0.03`) or strings (`"0.03"`, `"3%"`), kept as
`Decimal` (a number is read back as the shortest decimal that YAML's float rounds to, which is
what was written), between 0 and 1. A tier or class the plan does not name has no ratio: its
strata draw nobody, and say so. Unknown and duplicate keys are errors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from gthfx.errors import InputError
from gthfx.settings.yamlio import load_yaml, pydantic_location

TierKey = Literal["survival", "growth", "development", "excluded"]
RiskKey = Literal["A", "B", "C", "D"]


def exact_ratio(value: object) -> Decimal:
    """A ratio as an exact decimal in [0, 1]: `0.03`, `"0.03"` or `"3%"`."""
    if isinstance(value, bool):
        raise ValueError(f"a ratio is a number between 0 and 1, found {value!r}")
    if isinstance(value, float):
        text = repr(value)  # the shortest decimal that rounds to this float: what was written
    elif isinstance(value, int | str | Decimal):
        text = str(value).strip()
    else:
        raise ValueError(f"a ratio is a number between 0 and 1, found {value!r}")
    percent = text.endswith("%")
    try:
        ratio = Decimal(text.removesuffix("%").strip())
    except InvalidOperation:
        raise ValueError(f"a ratio is a number between 0 and 1, found {value!r}") from None
    if percent:
        ratio = ratio / 100
    if not ratio.is_finite() or not (0 <= ratio <= 1):
        raise ValueError(f"a ratio is between 0 and 1 (or 0% and 100%), found {value!r}")
    return ratio


def drawn_count(ratio: Decimal, eligible: int) -> int:
    """n = ceil(ratio × N), computed exactly: 3 % of 100 is 3, not 4."""
    return int((ratio * eligible).to_integral_value(rounding=ROUND_CEILING))


Ratio = Annotated[Decimal, BeforeValidator(exact_ratio)]


class SamplingPlan(BaseModel):
    """A sampling plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    title: str | None = None
    ratios: dict[TierKey, Ratio] = Field(default_factory=dict)
    risk_ratios: dict[RiskKey, Ratio] = Field(default_factory=dict)
    exclude_inspected_within_months: int | None = Field(default=None, ge=0, le=1200)
    inspectors_per_business: int = Field(default=2, ge=0, le=20)
    reserve: int | None = Field(default=None, ge=0)

    def as_record(self) -> dict[str, Any]:
        """The plan as the manifest records it (ratios as decimal strings)."""
        data = self.model_dump(mode="json")
        data["ratios"] = {k: str(v) for k, v in self.ratios.items()}
        data["risk_ratios"] = {k: str(v) for k, v in self.risk_ratios.items()}
        return data


@dataclass(frozen=True)
class PlanFile:
    path: Path
    sha256: str
    plan: SamplingPlan


def load_plan(path: Path) -> PlanFile:
    """A plan file, strictly; a problem is an `InputError` naming the file and the key."""
    raw = load_yaml(path, InputError)
    if not isinstance(raw, dict):
        raise InputError(f"{path}: a sampling plan is a mapping (id, ratios, …)")
    try:
        plan = SamplingPlan.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{pydantic_location(e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise InputError(
            f"{path}: " + "; ".join(problems),
            hint="ratios: {survival, growth, development, excluded}; risk_ratios: {A, B, C, D}",
        ) from None
    if not plan.ratios and not plan.risk_ratios:
        raise InputError(f"{path}: the plan gives no ratio: it would draw nobody")
    return PlanFile(path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), plan=plan)
