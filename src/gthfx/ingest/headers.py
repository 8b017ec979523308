"""Matching a file's header row to the canonical fields of the sources mapping.

Headers are compared after NFKC with white space removed; a trailing bracket that holds a unit
word (`营业额（万元）`, `从业人数(人)`) is set aside and checked against the field's unit — a
different unit is an error, never a silent factor of 10 000. A required field no header provides
is an error; a field the ruleset reads that no header provides is a warning naming the closest
header the file does carry (an error under `--strict`). Messages never echo long header text, nor
a header row that looks like data (a headerless file's first row may hold personal data).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from gthfx.errors import InputError
from gthfx.settings.sources import UNIT_WORDS, ExtractSpec, FieldSpec, normalise_header

SHOWN_HEADERS = 12  # at most this many of a file's headers in a hint
SHOWN_CHARS = 24  # and each cut to this many characters
_UNIT_BRACKET = re.compile(
    r"^(?P<name>.+?)[(\[【〔](?:单位[:：]?)?(?P<unit>[^()\[\]【】〔〕]+)[)\]】〕]$"
)
# a header cell that looks like a value: a credit code, or a run of six digits or more (an ID
# number, a phone): then the "header row" is data, and is never shown
_DATA_LIKE = re.compile(r"[0-9A-Z]{18}|\d{6,}")
# unit words that mean the same (a header may say 万 for 万元, 名 for 人)
_SAME_UNIT = {"万": "万元", "名": "人", "年度": "年", "％": "%"}


def split_unit(header: str) -> tuple[str, str | None]:
    """A normalised header → (name, unit word in its trailing bracket or None)."""
    match = _UNIT_BRACKET.match(header)
    if match is None or match["unit"] not in UNIT_WORDS:
        return header, None
    return match["name"], match["unit"]


def _same_unit(word: str) -> str:
    return _SAME_UNIT.get(word, word)


def shown(header: str) -> str:
    """One header as a message may show it: cut to SHOWN_CHARS characters."""
    text = "".join(header.split())
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def looks_like_data(headers: list[str]) -> bool:
    """Whether a header row holds values rather than names (a credit code, a long number)."""
    return any(_DATA_LIKE.search(normalise_header(h).upper()) for h in headers)


def describe_headers(headers: list[str]) -> str:
    """A file's headers for a hint: a few, each cut short; none when they look like data."""
    if not headers:
        return "the file has no headers"
    if looks_like_data(headers):
        return (
            "the first row holds values (a credit code or a long number), not headers: "
            "the file seems to have no header row"
        )
    listed = ", ".join(shown(h) for h in headers[:SHOWN_HEADERS])
    more = f" and {len(headers) - SHOWN_HEADERS} more" if len(headers) > SHOWN_HEADERS else ""
    return f"the file's headers are: {listed}{more}"


def _unit_error(
    path: Path, extract: str, name: str, field: FieldSpec, header: str, unit: str
) -> InputError:
    words = field.unit_words()
    return InputError(
        f"{path}: the {extract} header `{shown(header)}` gives the unit {unit}, but the field "
        f"`{name}` ({field.label}) is in {'/'.join(words)}",
        hint="re-export the column in the field's unit, or declare the file's unit for the field "
        "in your sources mapping (gthfx.yaml `sources:`)",
    )


def map_headers(
    path: Path, extract: str, spec: ExtractSpec, headers: list[str]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """canonical field → header in the file, and the headers no field took. A missing required
    field, or a header whose bracketed unit is not the field's, is an error."""
    exact: dict[str, str] = {}
    by_name: dict[str, tuple[str, str]] = {}  # name without its unit bracket → (header, unit)
    for header in headers:
        norm = normalise_header(header)
        exact.setdefault(norm, header)
        name, unit = split_unit(norm)
        if unit is not None:
            by_name.setdefault(name, (header, unit))
    found: dict[str, str] = {}
    for name, fspec in spec.fields.items():
        for accepted in fspec.headers:
            key = normalise_header(accepted)
            match = exact.get(key)
            if match is None and key in by_name:
                match, unit = by_name[key]
                words = fspec.unit_words()
                if words and _same_unit(unit) not in {_same_unit(w) for w in words}:
                    raise _unit_error(path, extract, name, fspec, match, unit)
            if match is not None:
                found[name] = match
                break
        else:
            if fspec.required:
                raise InputError(
                    f"{path}: the {extract} extract needs the field `{name}` ({fspec.label}), "
                    f"but none of the accepted headers is there: {', '.join(fspec.headers)}",
                    hint=f"{describe_headers(headers)}; add the one it uses to the sources "
                    "mapping (gthfx.yaml `sources:`)",
                )
    used = set(found.values())
    ignored = tuple(h for h in headers if h not in used)
    return found, ignored


def closest_header(fspec: FieldSpec, ignored: tuple[str, ...]) -> str | None:
    """The ignored header most like one of the field's accepted headers (None: none is close)."""
    best, score = None, 0.0
    for header in ignored:
        norm, _ = split_unit(normalise_header(header))
        for accepted in fspec.headers:
            ratio = difflib.SequenceMatcher(None, normalise_header(accepted), norm).ratio()
            if ratio > score:
                best, score = header, ratio
    return best if score >= 0.5 else None


def unread_field_warnings(
    path: Path, extract: str, spec: ExtractSpec, found: dict[str, str], ignored: tuple[str, ...]
) -> list[str]:
    """A warning for every field the ruleset reads that no header of the file provides (its
    values are taken as missing); under `--strict` the first is an error instead."""
    usage = spec.usage
    if usage is None:
        return []
    out = []
    for name, fspec in spec.fields.items():
        if name in found or name not in usage.reads:
            continue
        close = None if looks_like_data(list(ignored)) else closest_header(fspec, ignored)
        near = f"; the closest header in the file is `{shown(close)}`" if close else ""
        message = (
            f"{path}: the ruleset reads `{name}` ({fspec.label}), but no header of this "
            f"{extract} file is one of {', '.join(fspec.headers)}{near}"
        )
        if usage.strict:
            raise InputError(
                message,
                hint="add the file's header to the sources mapping (gthfx.yaml `sources:`), or "
                "leave out --strict to run with the field missing (a warning)",
            )
        out.append(f"{message}: its values are taken as missing")
    return out
