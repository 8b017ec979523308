"""The sources mapping: for each extract, the canonical fields and the headers accepted for them."""

from __future__ import annotations

import unicodedata
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gthfx.errors import SourcesError
from gthfx.settings.yamlio import load_yaml, pydantic_location

FieldType = Literal["code", "text", "int", "decimal", "date", "bool"]
EXTRACTS: tuple[str, ...] = ("annual", "tax", "social")
# the extracts of the inspection draw (双随机, SPEC §11): kept apart from the typing extracts so
# that no ruleset can read them and typing never loads them
SAMPLING_EXTRACTS: tuple[str, ...] = ("inspections", "risk", "inspectors")
MONEY_FACTOR = {"元": 1, "万元": 10_000}


class FieldSpec(BaseModel):
    """One canonical field of an extract."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    type: FieldType
    headers: tuple[str, ...]
    required: bool = False
    personal: bool = False
    unit: Literal["元", "万元"] | None = None

    @model_validator(mode="after")
    def _check(self) -> FieldSpec:
        if not self.headers:
            raise ValueError("headers must list at least one accepted header")
        if self.unit is not None and self.type != "decimal":
            raise ValueError("unit is only for decimal (money) fields")
        return self


class ExtractSpec(BaseModel):
    """One extract: a label and its fields; `key` names the field that identifies a row's
    subject — `uscc` (of type code) for every extract of businesses, another field for an extract
    of something else (the inspectors of the draw: `inspector_id`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    fields: dict[str, FieldSpec]
    key: str = "uscc"

    @model_validator(mode="after")
    def _check(self) -> ExtractSpec:
        key = self.fields.get(self.key)
        if self.key == "uscc" and (key is None or key.type != "code"):
            raise ValueError("every extract needs a field `uscc` of type code")
        if key is None:
            raise ValueError(f"the key `{self.key}` is not among the fields")
        return self

    def personal_fields(self) -> list[str]:
        return [name for name, spec in self.fields.items() if spec.personal]

    def typed_fields(self) -> list[str]:
        """The fields a run reads and types, in mapping order: all but the key and personal
        data (which typing never needs, so it is never loaded)."""
        return [n for n, spec in self.fields.items() if n != "uscc" and not spec.personal]


class SourcesMapping(BaseModel):
    """All extracts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    extracts: dict[str, ExtractSpec]
    sampling_extracts: dict[str, ExtractSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> SourcesMapping:
        missing = [e for e in EXTRACTS if e not in self.extracts]
        if missing:
            raise ValueError(f"missing extract(s): {', '.join(missing)}")
        missing = [e for e in SAMPLING_EXTRACTS if e not in self.sampling_extracts]
        if self.sampling_extracts and missing:
            raise ValueError(f"missing sampling extract(s): {', '.join(missing)}")
        return self

    def for_typing(self, reads: set[str]) -> SourcesMapping:
        """The mapping cut down to what a run must load: every field that can fail to parse
        (all but text), required fields, the district and industry codes the outputs carry, and
        the text fields the ruleset reads. Personal data is never among them."""
        keep_text = {"region_code", "industry_code"} | reads
        extracts = {}
        for name, spec in self.extracts.items():
            fields = {
                f: fs
                for f, fs in spec.fields.items()
                if f == "uscc"
                or (not fs.personal and (fs.type != "text" or fs.required or f in keep_text))
            }
            extracts[name] = spec.model_copy(update={"fields": fields})
        return self.model_copy(update={"extracts": extracts})

    def field_types(self) -> dict[str, FieldType]:
        """Every canonical field of every extract with its type (names are unique across extracts
        except the key)."""
        out: dict[str, FieldType] = {}
        for spec in self.extracts.values():
            for name, field in spec.fields.items():
                out[name] = field.type
        return out


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
SECTIONS = ("extracts", "sampling_extracts")


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
    out: dict[str, Any] = {}
    for section in SECTIONS:
        merged = {name: dict(spec) for name, spec in (base.get(section) or {}).items()}
        for name, spec in (user.get(section) or {}).items():
            if not isinstance(spec, dict):
                raise SourcesError(f"{override}: {section}.{name}: expected a mapping")
            target = merged.setdefault(name, {"label": spec.get("label", name), "fields": {}})
            for key in ("label", "key"):
                if key in spec:
                    target[key] = spec[key]
            target["fields"] = {**target.get("fields", {}), **(spec.get("fields") or {})}
            unknown = set(spec) - {"label", "fields", "key"}
            if unknown:
                raise SourcesError(
                    f"{override}: {section}.{name}: unknown key(s) {sorted(unknown)}"
                )
        out[section] = merged
    return _parse(out, override)
