"""The ruleset as strict data: parameters, derived fields, basic conditions and ordered tier rules.

Unknown and duplicate keys are errors; dates are ISO `YYYY-MM-DD` strings, never guessed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gthfx.errors import RulesError
from gthfx.rules.types import value_kind
from gthfx.settings.yamlio import load_yaml, pydantic_location
from gthfx.vocab import TierId

ID_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
# files named categories-*.yaml in a rules folder hold 名特优新 criteria (`rules.criteria`), not
# typing rulesets
CRITERIA_PREFIX = "categories-"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Parameter(_Strict):
    """A named threshold with its unit and the document it comes from."""

    label: str
    value: int | float | str | bool | list[str] | list[int]
    unit: str = Field(min_length=1)
    source: str = Field(min_length=1)


class Derived(_Strict):
    """A field computed from others before the conditions run."""

    id: str = Field(pattern=ID_PATTERN)
    label: str
    expr: str


class Condition(_Strict):
    """A basic condition (基础条件): every one must hold for a business to be typed."""

    id: str = Field(pattern=ID_PATTERN)
    label: str
    when: str


class TierRule(_Strict):
    """One rule giving a tier; the first that matches wins, the last is the default."""

    id: str = Field(pattern=ID_PATTERN)
    tier: TierId
    label: str
    when: str | None = None
    default: bool = False

    @model_validator(mode="after")
    def _when_or_default(self) -> TierRule:
        if self.default == (self.when is not None):
            raise ValueError(
                "a tier rule has either `when` or `default: true`, not both or neither"
            )
        return self


class NearThreshold(_Strict):
    """A near-threshold check of the review workbooks: a business one tier below `tier` whose
    `indicator` lies just under the threshold `parameter` — within `share` of it (0.10: the
    10 % below), or within `units` of it (1: one year short) — is listed for review."""

    indicator: str
    parameter: str
    tier: Literal["growth", "development"]  # the tier the threshold admits to
    share: float | None = Field(default=None, gt=0, lt=1)
    units: int | float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _share_or_units(self) -> NearThreshold:
        if (self.share is None) == (self.units is None):
            raise ValueError("a review check has either `share` or `units`, not both or neither")
        return self


class Ruleset(_Strict):
    """One dated ruleset file."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str
    effective_from: date
    effective_to: date | None = None
    source: str
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    derived: list[Derived] = Field(default_factory=list)
    basic_conditions: list[Condition] = Field(min_length=1)
    tiers: list[TierRule] = Field(min_length=1)
    review: list[NearThreshold] = Field(default_factory=list)

    @field_validator("effective_from", "effective_to", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        if isinstance(value, str) and not (
            len(value) == 10 and value[4] == "-" and value[7] == "-"
        ):
            raise ValueError(f"dates are written YYYY-MM-DD, found {value!r}")
        return value

    @model_validator(mode="after")
    def _check(self) -> Ruleset:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        if not self.tiers[-1].default:
            raise ValueError("the last tier rule must be the default (`default: true`)")
        if any(rule.default for rule in self.tiers[:-1]):
            raise ValueError("only the last tier rule may be the default")
        ids = [d.id for d in self.derived] + [c.id for c in self.basic_conditions]
        ids += [t.id for t in self.tiers]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"ids used twice: {', '.join(dupes)}")
        return self

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


@dataclass(frozen=True)
class RulesetFile:
    """A ruleset with the file it came from and that file's hash (for the manifest)."""

    path: Path
    sha256: str
    ruleset: Ruleset


def read_with_base(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict[str, Any], bytes]:
    """The ruleset mapping of `path`, with `extends: OTHER.yaml` resolved: the file's own
    top-level keys replace the base's, except `parameters`, which are merged name by name."""
    if path.resolve() in chain:
        names = " → ".join(p.name for p in (*chain, path))
        raise RulesError(f"{path}: `extends` goes round in a circle ({names})")
    raw = load_yaml(path, RulesError)
    if not isinstance(raw, dict):
        raise RulesError(f"{path}: a ruleset is a mapping (id, title, effective_from, …)")
    content = path.read_bytes()
    base_name = raw.pop("extends", None)
    if base_name is None:
        return raw, content
    base, base_content = read_with_base(path.parent / str(base_name), (*chain, path.resolve()))
    merged = {**base, **raw}
    merged["parameters"] = {**(base.get("parameters") or {}), **(raw.get("parameters") or {})}
    return merged, base_content + content


def load_ruleset(path: Path) -> RulesetFile:
    raw, content = read_with_base(path)
    try:
        ruleset = Ruleset.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{pydantic_location(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise RulesError(f"{path}: " + "; ".join(problems)) from None
    return RulesetFile(path=path, sha256=hashlib.sha256(content).hexdigest(), ruleset=ruleset)


def ruleset_files(location: Path) -> list[Path]:
    if location.is_file():
        return [location]
    if location.is_dir():
        return sorted(
            p for p in location.glob("*.yaml") if not p.name.startswith(("_", CRITERIA_PREFIX))
        )
    raise RulesError(f"{location}: no such ruleset file or folder")


def ruleset_in_force(location: Path, on: date) -> RulesetFile:
    """The one ruleset in `location` (file or folder of *.yaml) in force on `on`."""
    loaded = [load_ruleset(p) for p in ruleset_files(location)]
    if not loaded:
        raise RulesError(f"{location}: no ruleset files (*.yaml) found")
    active = [r for r in loaded if r.ruleset.in_force(on)]
    if not active:
        spans = ", ".join(
            f"{r.path.name} {r.ruleset.effective_from}…{r.ruleset.effective_to or ''}"
            for r in loaded
        )
        raise RulesError(f"no ruleset in {location} is in force on {on} (found: {spans})")
    if len(active) > 1:
        names = ", ".join(r.path.name for r in active)
        raise RulesError(
            f"several rulesets are in force on {on}: {names}",
            hint="effective dates must not overlap",
        )
    return active[0]


def with_parameters(source: RulesetFile, overrides: dict[str, object]) -> RulesetFile:
    """The same ruleset with some parameter values replaced (rule cases, what-if)."""
    rs = source.ruleset
    unknown = sorted(set(overrides) - set(rs.parameters))
    if unknown:
        raise RulesError(
            f"{source.path}: unknown parameter(s) {', '.join(unknown)}",
            hint=f"known: {', '.join(rs.parameters)}",
        )
    params = dict(rs.parameters)
    for name, value in overrides.items():
        old = params[name]
        if value_kind(value) != value_kind(old.value):
            raise RulesError(
                f"parameter {name}: {value!r} is a {value_kind(value)}, but {name} is a "
                f"{value_kind(old.value)} (now {old.value!r})"
            )
        params[name] = old.model_copy(update={"value": value})
    return RulesetFile(
        path=source.path, sha256=source.sha256, ruleset=rs.model_copy(update={"parameters": params})
    )
