"""The sources mapping: for each extract, the canonical fields, the headers accepted for them, and
what their values may look like (placeholders, aliases, unit words, plausible ranges).

Pure data and checks, no I/O beyond reading the YAML. A mapping cut down for one run
(`SourcesMapping.for_typing`) also knows how the run uses it: the fields the ruleset reads, the
run date (for date bounds such as `run_date`) and whether a read field missing from a file is an
error (`--strict`) or a warning.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from gthfx.errors import SourcesError
from gthfx.settings.yamlio import load_yaml, pydantic_location

FieldType = Literal["code", "text", "int", "decimal", "date", "bool"]
EXTRACTS: tuple[str, ...] = ("annual", "tax", "social")
# the extracts of the 名特优新 procedure (SPEC §10): items, several rows per business; kept apart
# from the typing extracts so that no ruleset can read them and typing never loads them
CATEGORY_EXTRACTS: tuple[str, ...] = ("applications", "evidence", "records", "objections")
# the extracts of the inspection draw (双随机, SPEC §11): kept apart from the typing extracts so
# that no ruleset can read them and typing never loads them
SAMPLING_EXTRACTS: tuple[str, ...] = ("inspections", "risk", "inspectors")


class _Factors(dict[str, int]):
    """元 per unit of a money column; any other unit (人, 年) scales by 1."""

    def __missing__(self, key: str) -> int:
        return 1


MONEY_FACTOR: dict[str, int] = _Factors({"元": 1, "万元": 10_000})
# the words a money unit may be written as, in a header bracket or after a value (50万元, 50万)
MONEY_WORDS = {"元": ("元",), "万元": ("万元", "万")}
# every word gthfx takes for a unit when it stands in a header's brackets (营业额（万元）): a
# bracket holding one of these is a unit, checked against the field's; any other bracket is part
# of the header's name
UNIT_WORDS = frozenset(
    {"元", "万元", "万", "千元", "亿元", "人", "名", "个", "户", "家", "年", "年度", "%", "％"}
)
# values that mean "no value" in every field (SPEC §3), compared after NFKC, trimmed, upper case;
# a field may add its own (`missing:`). A bool field's own words win: 无 there is false.
PLACEHOLDERS: tuple[str, ...] = ("NULL", "-", "--", "—", "——", "/", "N/A", "无")
# the bound words of a plausible range: the run date (dates), the run's year and report year (ints)
BOUND_WORDS = ("run_date", "run_year", "report_year")

Bound = int | float | str


class Plausible(BaseModel):
    """The plausible range of a field's values, both ends included; either end may be left out.
    Numbers for int and decimal fields (money in the field's own unit), ISO dates for dates, or
    a bound word: `run_date`, `run_year`, `report_year` (the year before the run's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: Bound | None = None
    max: Bound | None = None


class FieldSpec(BaseModel):
    """One canonical field of an extract."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    type: FieldType
    headers: tuple[str, ...]
    required: bool = False
    personal: bool = False
    unit: Literal["元", "万元"] | None = None
    # unit words a value or a header bracket may carry for a count or a year: 3人, 2023年度,
    # 从业人数（人）. Money fields take theirs from `unit`.
    suffixes: tuple[str, ...] = ()
    aliases: dict[str, str] = Field(default_factory=dict)  # text values: written → canonical
    missing: tuple[str, ...] = ()  # placeholders of this field beyond PLACEHOLDERS
    plausible: Plausible | None = None

    @model_validator(mode="after")
    def _check(self) -> FieldSpec:
        if not self.headers:
            raise ValueError("headers must list at least one accepted header")
        if self.unit is not None and self.type != "decimal":
            raise ValueError("unit is only for decimal (money) fields")
        if self.suffixes and self.type != "int":
            raise ValueError("suffixes are for int fields (counts, years); money takes `unit`")
        if self.aliases and self.type != "text":
            raise ValueError("aliases are for text fields")
        if self.plausible is not None:
            _check_plausible(self.type, self.plausible)
        return self

    def unit_words(self) -> tuple[str, ...]:
        """The unit words this field's values and header brackets may carry."""
        if self.unit is not None:
            return MONEY_WORDS[self.unit]
        return self.suffixes

    def bounds(self, run_date: date | None) -> tuple[object, object]:
        """The plausible range resolved for a run (None: open end, or a bound word without a
        run date to resolve it)."""
        if self.plausible is None:
            return None, None
        return (
            _resolve(self.type, self.plausible.min, run_date),
            _resolve(self.type, self.plausible.max, run_date),
        )


def _check_plausible(kind: FieldType, plausible: Plausible) -> None:
    for end in (plausible.min, plausible.max):
        if end is None:
            continue
        if kind == "date":
            if end == "run_date":
                continue
            if not isinstance(end, str):
                raise ValueError("a date's plausible bound is YYYY-MM-DD or run_date")
            try:
                date.fromisoformat(end)
            except ValueError:
                raise ValueError(f"plausible bound {end!r} is not a date (YYYY-MM-DD)") from None
        elif kind in ("int", "decimal"):
            if isinstance(end, bool) or not (
                isinstance(end, int | float) or (kind == "int" and end in BOUND_WORDS[1:])
            ):
                raise ValueError(f"plausible bound {end!r} is not a number")
        else:
            raise ValueError("plausible ranges are for int, decimal and date fields")
    lo, hi = plausible.min, plausible.max
    if lo is None or hi is None or lo in BOUND_WORDS or hi in BOUND_WORDS:
        return
    if _resolve(kind, lo, None) > _resolve(kind, hi, None):  # type: ignore[operator]
        raise ValueError("plausible min is above max")


def _resolve(kind: FieldType, end: Bound | None, run_date: date | None) -> object:
    if end is None:
        return None
    if end in BOUND_WORDS:
        if run_date is None:
            return None
        return {
            "run_date": run_date,
            "run_year": run_date.year,
            "report_year": run_date.year - 1,
        }[str(end)]
    if kind == "date":
        return date.fromisoformat(str(end))
    return end


@dataclass(frozen=True)
class Usage:
    """How one run uses an extract's mapping (see `SourcesMapping.for_typing`)."""

    reads: frozenset[str]  # fields the ruleset reads, directly or through a derived field
    run_date: date | None
    strict: bool  # a read field missing from a file is an error, not a warning


class ExtractSpec(BaseModel):
    """One extract: a label and its fields; `key` names the field that identifies a row's
    subject — `uscc` (of type code) for every extract of businesses, another field for an extract
    of something else (the inspectors of the draw: `inspector_id`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    fields: dict[str, FieldSpec]
    sheet: str | None = None  # a workbook's sheet to read (default: the active or first visible)
    header_row: int | None = Field(default=None, ge=1)  # its header row as Excel numbers it
    # set by `SourcesMapping.for_typing` only (never from YAML): how a run uses this extract
    _usage: Usage | None = PrivateAttr(default=None)
    key: str = "uscc"

    @model_validator(mode="after")
    def _check(self) -> ExtractSpec:
        key = self.fields.get(self.key)
        if self.key == "uscc" and (key is None or key.type != "code"):
            raise ValueError("every extract needs a field `uscc` of type code")
        if key is None:
            raise ValueError(f"the key `{self.key}` is not among the fields")
        return self

    @property
    def usage(self) -> Usage | None:
        """How the run uses this extract; None for a mapping not cut for a run (then every
        field counts as read: a value that does not parse excludes its business)."""
        return self._usage

    def is_read(self, name: str) -> bool:
        """Whether the ruleset reads `name` (true when the run is not known)."""
        return self._usage is None or name in self._usage.reads

    def with_usage(self, usage: Usage) -> ExtractSpec:
        copy = self.model_copy()
        copy._usage = usage
        return copy

    def personal_fields(self) -> list[str]:
        return [name for name, spec in self.fields.items() if spec.personal]

    def typed_fields(self) -> list[str]:
        """The fields a run reads and types, in mapping order: all but the key and personal
        data (which typing never needs, so it is never loaded)."""
        return [n for n, spec in self.fields.items() if n != "uscc" and not spec.personal]


class Checks(BaseModel):
    """When a run's inputs look wrong enough to warn (shares between 0 and 1): far more rows
    of another year, rejected rows, or businesses failing one basic condition than a real year
    gives — the files of the wrong year, or the wrong files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    other_year_share: float = Field(default=0.5, ge=0, le=1)  # of an extract's rows
    rejected_share: float = Field(default=0.5, ge=0, le=1)  # of an extract's rows
    # basic condition id → share of the businesses failing it
    failed_condition_share: dict[str, float] = Field(default_factory=lambda: {"reported": 0.5})

    @field_validator("failed_condition_share")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if not 0 <= v <= 1]
        if bad:
            raise ValueError(f"shares are between 0 and 1: {', '.join(bad)}")
        return value


class SourcesMapping(BaseModel):
    """All extracts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    extracts: dict[str, ExtractSpec]
    category_extracts: dict[str, ExtractSpec] = {}
    checks: Checks = Field(default_factory=Checks)
    sampling_extracts: dict[str, ExtractSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> SourcesMapping:
        missing = [e for e in EXTRACTS if e not in self.extracts]
        if missing:
            raise ValueError(f"missing extract(s): {', '.join(missing)}")
        missing = [e for e in CATEGORY_EXTRACTS if e not in self.category_extracts]
        if self.category_extracts and missing:
            raise ValueError(f"missing category extract(s): {', '.join(missing)}")
        missing = [e for e in SAMPLING_EXTRACTS if e not in self.sampling_extracts]
        if self.sampling_extracts and missing:
            raise ValueError(f"missing sampling extract(s): {', '.join(missing)}")
        return self

    def for_typing(
        self, reads: set[str], *, run_date: date | None = None, strict: bool = False
    ) -> SourcesMapping:
        """The mapping cut down to what a run must load: every field that can fail to parse
        (all but text), required fields, the district and industry codes the outputs carry, and
        the text fields the ruleset reads. Personal data is never among them. Each extract
        remembers the run's use of it (`ExtractSpec.usage`): what the ruleset `reads`, the
        `run_date` (for bounds such as `run_date`) and `strict` (--strict)."""
        keep_text = {"region_code", "industry_code"} | reads
        usage = Usage(reads=frozenset(reads), run_date=run_date, strict=strict)
        extracts = {}
        for name, spec in self.extracts.items():
            fields = {
                f: fs
                for f, fs in spec.fields.items()
                if f == "uscc"
                or (not fs.personal and (fs.type != "text" or fs.required or f in keep_text))
            }
            extracts[name] = spec.model_copy(update={"fields": fields}).with_usage(usage)
        return self.model_copy(update={"extracts": extracts})

    def field_types(self) -> FieldTypes:
        """Every canonical field of every extract with its type (names are unique across extracts
        except the key) — personal data left out, for no rule may read it; their names are in
        `.personal`, so that a rule naming one is told why."""
        out = FieldTypes()
        for spec in self.extracts.values():
            for name, field in spec.fields.items():
                if field.personal:
                    out.personal.add(name)
                else:
                    out[name] = field.type
        return out

    def personal_fields(self) -> frozenset[str]:
        return frozenset(n for spec in self.extracts.values() for n in spec.personal_fields())


class FieldTypes(dict[str, FieldType]):
    """Field name → type, plus the names of personal fields (which no rule may read)."""

    def __init__(self) -> None:
        super().__init__()
        self.personal: set[str] = set()


def normalise_header(text: str) -> str:
    """How headers are compared: NFKC, no white space, no BOM."""
    return "".join(unicodedata.normalize("NFKC", text).replace("\ufeff", "").split())


def _parse(raw: object, path: Path) -> SourcesMapping:
    try:
        return SourcesMapping.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = pydantic_location(first["loc"])
        raise SourcesError(
            f"{path}: {where}: {first['msg']} ({exc.error_count()} problem(s) in all)"
        ) from None


# the top-level sections of a mapping file, each merged field by field over the shipped one
SECTIONS = ("extracts", "category_extracts", "sampling_extracts")


def default_sources_path() -> Path:
    return Path(str(resources.files("gthfx") / "defaults" / "sources.yaml"))


def load_sources(override: Path | None = None) -> SourcesMapping:
    """The shipped mapping, with the fields of `override` replacing or adding to it."""
    base_path = default_sources_path()
    base = load_yaml(base_path, SourcesError)
    if override is None:
        return _parse(base, base_path)
    user = load_yaml(override, SourcesError)
    if not isinstance(user, dict) or not any(isinstance(user.get(k), dict) for k in SECTIONS):
        raise SourcesError(f"{override}: expected a mapping with a top-level key `extracts`")
    unknown_top = set(user) - {*SECTIONS, "checks"}
    if unknown_top:
        raise SourcesError(f"{override}: unknown key(s) {sorted(unknown_top)}")
    out: dict[str, Any] = {}
    for section in SECTIONS:
        merged = {name: dict(spec) for name, spec in (base.get(section) or {}).items()}
        for name, spec in (user.get(section) or {}).items():
            if not isinstance(spec, dict):
                raise SourcesError(f"{override}: {section}.{name}: expected a mapping")
            target = merged.setdefault(name, {"label": spec.get("label", name), "fields": {}})
            for key in ("label", "sheet", "header_row", "key"):
                if key in spec:
                    target[key] = spec[key]
            target["fields"] = {**target.get("fields", {}), **(spec.get("fields") or {})}
            unknown = set(spec) - {"label", "fields", "sheet", "header_row", "key"}
            if unknown:
                raise SourcesError(
                    f"{override}: {section}.{name}: unknown key(s) {sorted(unknown)}"
                )
        out[section] = merged
    out["checks"] = {**(base.get("checks") or {}), **(user.get("checks") or {})}
    return _parse(out, override)
