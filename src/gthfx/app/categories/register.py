"""The 名特优新 register: an append-only, hash-chained event log, and the register as of any date
derived from it (SPEC §10). Nothing is ever updated in place.

Storage, in the register folder:

    segment-000001.jsonl   one segment per batch (a certification, an evaluation): a header line,
    segment-000002.jsonl   then one JSON line per event (certified / renewed / removed / expired)
    …
    head.json              the last segment's number and SHA-256, events count, projection hash
    events.parquet         every event, typed, with its segment's header fields (a projection)
    .gthfx.lock            held by the one writer

Each segment's header carries the SHA-256 of the previous segment's bytes (`prev_sha256`), the
batch (kind, id, date, who, document number, the SHA-256 of its source files) and its events
count: altering, removing or reordering any earlier byte breaks the chain, and `head.json` anchors
the last segment. A segment is written whole to a hidden file, flushed, and renamed into place —
a killed write leaves the log as it was (the next writer removes the leftover). A second writer is
refused (the folder's lock). The same batch appended twice is recognised and not repeated.

Why JSON lines: one line per event is readable and diffable by an auditor with any tool, appends
never rewrite a byte, and Polars reads a decade of events in well under a second; the Parquet
projection is for fast reading and for other tools, and is rebuilt from the log whenever its hash
does not match.

Derived views (`entries_in_force`, `category_numbers`) replay the events known on a date: a
certified or renewed event opens a period `valid_from … valid_to`; a removal closes every earlier
period of its entry from its date on; an expiry records the decision not to renew (the period
ends at its `valid_to` anyway).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from gthfx import __version__
from gthfx.app.categories.core import CATEGORY_ORDER
from gthfx.errors import RunError
from gthfx.report.regions import region_name
from gthfx.runs.layout import run_lock

CERTIFIED, RENEWED, REMOVED, EXPIRED = "certified", "renewed", "removed", "expired"
EVENT_LABELS = {CERTIFIED: "认定", RENEWED: "续期", REMOVED: "移出", EXPIRED: "到期"}
HEAD = "head.json"
PROJECTION = "events.parquet"
GENESIS = "0" * 64
SEGMENT_GLOB = "segment-*.jsonl"

# one event, in the order of its JSON keys
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "seq": pl.Int64(),
    "event": pl.String(),
    "uscc": pl.String(),
    "category": pl.String(),
    "date": pl.Date(),
    "valid_from": pl.Date(),
    "valid_to": pl.Date(),
    "evaluation_from": pl.Date(),
    "reasons": pl.List(pl.String()),
    "criteria_met": pl.List(pl.String()),
    "region_code": pl.String(),
    "industry_code": pl.String(),
    "tier": pl.String(),
    "route": pl.String(),
    "consent": pl.Boolean(),
    "special_group": pl.String(),
    "party_member": pl.Boolean(),
    "advanced": pl.Boolean(),
}
# the segment header fields every event carries once read
BATCH_SCHEMA: dict[str, pl.DataType] = {
    "segment": pl.Int64(),
    "batch": pl.String(),
    "kind": pl.String(),
    "by": pl.String(),
    "document": pl.String(),
}


@dataclass(frozen=True)
class Batch:
    """What is appended at once, and what its header says."""

    kind: str  # certification | evaluation
    batch_id: str  # e.g. certification/2024-10-15: appended at most once
    on: date  # the decision date
    by: str | None = None  # who decided (office or clerk)
    document: str | None = None  # 文号, where given
    sources: tuple[tuple[str, str], ...] = ()  # (file, sha256) of the files it was made from
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class Segment:
    path: Path
    number: int
    sha256: str
    header: dict[str, Any]


@dataclass
class Appended:
    """The outcome of an append: the segment written (or found, for a batch appended before)."""

    segment: int
    head_sha256: str
    events: int
    repeated: bool = False
    first_seq: int = 0


@dataclass
class Log:
    """A verified register: its segments and every event (EVENT_SCHEMA + BATCH_SCHEMA)."""

    segments: list[Segment]
    events: pl.DataFrame
    head_sha256: str = GENESIS
    notes: list[str] = field(default_factory=list)


def segment_name(number: int) -> str:
    return f"segment-{number:06d}.jsonl"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tampered(register: Path, what: str) -> RunError:
    return RunError(
        f"{register}: the register's hash chain is broken: {what}",
        hint="the log is append-only: restore the register folder from a backup; "
        "the manifests of the certification and evaluation folders record each head SHA-256",
    )


def _read_segment(path: Path, number: int, prev: str, register: Path) -> tuple[Segment, bytes]:
    data = path.read_bytes()
    first, _, body = data.partition(b"\n")
    try:
        header = json.loads(first)
    except ValueError:
        raise _tampered(register, f"{path.name}: its header line is not JSON") from None
    if not isinstance(header, dict) or header.get("segment") != number:
        raise _tampered(register, f"{path.name}: its header does not say segment {number}")
    if header.get("prev_sha256") != prev:
        raise _tampered(
            register,
            f"{path.name} follows a segment whose SHA-256 is not the one it recorded "
            f"(an earlier segment was altered, removed or replaced)",
        )
    if _sha256(body) != header.get("events_sha256"):
        raise _tampered(register, f"{path.name}: its events differ from its header's SHA-256")
    return Segment(path, number, _sha256(data), header), body


def _parse_events(segment: Segment, body: bytes, seq: int, register: Path) -> pl.DataFrame:
    """One segment's events, checked against its header (count, consecutive numbers)."""
    frame = (
        pl.read_ndjson(io.BytesIO(body), schema=EVENT_SCHEMA)
        if body.strip()
        else pl.DataFrame(schema=EVENT_SCHEMA)
    )
    expected = pl.int_range(seq + 1, seq + 1 + frame.height, eager=True)
    count = int(segment.header.get("events", -1))
    if frame.height != count or not frame.get_column("seq").equals(expected, check_names=False):
        raise _tampered(register, f"{segment.path.name}: events missing, added or out of order")
    header = segment.header
    return frame.with_columns(
        pl.lit(segment.number, pl.Int64).alias("segment"),
        pl.lit(header.get("batch"), pl.String).alias("batch"),
        pl.lit(header.get("kind"), pl.String).alias("kind"),
        pl.lit(header.get("by"), pl.String).alias("by"),
        pl.lit(header.get("document"), pl.String).alias("document"),
    )


def read_log(register: Path) -> Log:
    """Every segment, verified (the chain, each segment's events against its header's SHA-256,
    the head), and every event. An empty or missing register folder is an empty log.

    The events are read from the Parquet projection when `head.json` vouches for it (same last
    segment, same projection SHA-256, same number of events), else parsed from the log."""
    paths = sorted(register.glob(SEGMENT_GLOB)) if register.is_dir() else []
    expected = [segment_name(i + 1) for i in range(len(paths))]
    if [p.name for p in paths] != expected:
        missing = sorted(set(expected) - {p.name for p in paths})
        raise _tampered(register, f"segments are missing or misnamed ({', '.join(missing)})")
    segments: list[Segment] = []
    bodies: list[bytes] = []
    prev = GENESIS
    for number, path in enumerate(paths, start=1):
        segment, body = _read_segment(path, number, prev, register)
        segments.append(segment)
        bodies.append(body)
        prev = segment.sha256
    total = sum(int(s.header.get("events", 0)) for s in segments)
    notes: list[str] = []
    head = _read_head(register, segments)
    if head is None and segments:
        notes.append(f"{HEAD} is missing or behind (a write was interrupted after its segment)")
    events: pl.DataFrame | None = None
    projection = register / PROJECTION
    if head is not None and head.get("segments") == len(segments) and projection.is_file():
        data = projection.read_bytes()
        if _sha256(data) == head.get("projection_sha256"):
            events = pl.read_parquet(io.BytesIO(data))
            if events.height != total:
                events = None
    if events is None:
        parts = []
        seq = 0
        for segment, body in zip(segments, bodies, strict=True):
            parts.append(_parse_events(segment, body, seq, register))
            seq += parts[-1].height
        events = pl.concat(parts) if parts else pl.DataFrame(schema=EVENT_SCHEMA | BATCH_SCHEMA)
    return Log(segments, events, prev, notes)


def _read_head(register: Path, segments: list[Segment]) -> dict[str, Any] | None:
    """head.json, checked against the log: it may be behind it (a write killed after renaming
    its segment into place), never ahead of it nor different from it."""
    path = register / HEAD
    if not path.is_file():
        return None
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
        recorded, recorded_sha = int(head["segments"]), str(head["head_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        raise _tampered(register, f"{HEAD} cannot be read") from None
    if recorded > len(segments):
        raise _tampered(register, f"{HEAD} records {recorded} segments, {len(segments)} found")
    if recorded and segments[recorded - 1].sha256 != recorded_sha:
        raise _tampered(register, f"segment {recorded} differs from the SHA-256 in {HEAD}")
    return head if recorded == len(segments) else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a hidden file beside `path`, flush it to disk, rename it into place."""
    temp = path.parent / f".staging-{path.name}-{os.getpid()}"
    with temp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    temp.replace(path)
    _fsync_dir(path.parent)


def _event_lines(events: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    events.select(list(EVENT_SCHEMA)).cast(EVENT_SCHEMA).write_ndjson(buffer)  # type: ignore[arg-type]
    return buffer.getvalue()


def _content_sha(events: pl.DataFrame) -> str:
    """The events of a batch without their sequence numbers (which depend on what came first)."""
    buffer = io.BytesIO()
    columns = [c for c in EVENT_SCHEMA if c != "seq"]
    events.select(columns).cast({c: EVENT_SCHEMA[c] for c in columns}).write_ndjson(buffer)
    return _sha256(buffer.getvalue())


def append(register: Path, batch: Batch, events: pl.DataFrame) -> Appended:
    """Append one batch of events (EVENT_SCHEMA without `seq`) as a new segment, under the
    register's lock. The same batch id with the same events returns the segment written before;
    with other events it is an error (the register is append-only)."""
    with run_lock(register):
        for leftover in register.glob(".staging-*"):  # a write killed before its rename
            if leftover.is_file():
                leftover.unlink()
        log = read_log(register)
        content = _content_sha(events)
        for segment in log.segments:
            if segment.header.get("batch") == batch.batch_id:
                if segment.header.get("content_sha256") == content:
                    _write_head(register, log)
                    return Appended(
                        segment.number,
                        log.head_sha256,
                        int(segment.header["events"]),
                        repeated=True,
                        first_seq=int(segment.header["first_seq"]),
                    )
                raise RunError(
                    f"{register}: {batch.batch_id} is already in the register (segment "
                    f"{segment.number}) with other entries",
                    hint="the register is append-only: a certification is recorded once; "
                    "later changes go through the yearly evaluation",
                )
        first_seq = log.events.height + 1
        numbered = events.with_columns(
            pl.int_range(first_seq, first_seq + events.height, dtype=pl.Int64).alias("seq")
        )
        body = _event_lines(numbered)
        number = len(log.segments) + 1
        header = {
            "segment": number,
            "prev_sha256": log.head_sha256,
            "kind": batch.kind,
            "batch": batch.batch_id,
            "date": batch.on.isoformat(),
            "by": batch.by,
            "document": batch.document,
            "sources": [{"file": f, "sha256": s} for f, s in batch.sources],
            "command": list(batch.command),
            "gthfx_version": __version__,
            "events": events.height,
            "first_seq": first_seq,
            "events_sha256": _sha256(body),
            "content_sha256": content,
        }
        line = json.dumps(header, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        data = line.encode() + b"\n" + body
        _write_atomic(register / segment_name(number), data)
        segment = Segment(register / segment_name(number), number, _sha256(data), header)
        added = _parse_events(segment, body, first_seq - 1, register)
        log = Log(
            [*log.segments, segment],
            pl.concat([log.events, added], how="vertical_relaxed"),
            segment.sha256,
        )
        _write_head(register, log)
        return Appended(number, log.head_sha256, events.height, first_seq=first_seq)


def _write_head(register: Path, log: Log) -> None:
    """The projection and the head, each replaced atomically (the log is already complete)."""
    buffer = io.BytesIO()
    log.events.write_parquet(buffer, compression="zstd", statistics=True)
    projection = buffer.getvalue()
    _write_atomic(register / PROJECTION, projection)
    head = {
        "segments": len(log.segments),
        "head_sha256": log.head_sha256,
        "events": log.events.height,
        "projection_sha256": _sha256(projection),
    }
    text = json.dumps(head, sort_keys=True, indent=2) + "\n"
    _write_atomic(register / HEAD, text.encode())


def read_events(register: Path) -> pl.DataFrame:
    """Every event of a verified register (EVENT_SCHEMA + BATCH_SCHEMA), by `seq`."""
    if not register.exists():
        raise RunError(
            f"{register}: no register here",
            hint="the register is created by the first `gthfx categories certify`",
        )
    return read_log(register).events


def as_of(events: pl.DataFrame, on: date) -> pl.DataFrame:
    """The entries in force on `on`, from the events known then (dated on or before it): the
    period of each entry that covers `on` and that no later removal closed. One row per entry,
    sorted by `uscc` and category."""
    known = events.filter(pl.col("date") <= on)
    removed = (
        known.filter(pl.col("event") == REMOVED)
        .group_by("uscc", "category")
        .agg(pl.col("seq").max().alias("_removed_seq"))
    )
    periods = (
        known.filter(pl.col("event").is_in([CERTIFIED, RENEWED]))
        .join(removed, on=["uscc", "category"], how="left")
        .filter(pl.col("_removed_seq").is_null() | (pl.col("seq") > pl.col("_removed_seq")))
        .filter((pl.col("valid_from") <= on) & (pl.col("valid_to") >= on))
        .sort("seq")
        .group_by("uscc", "category", maintain_order=True)
        .last()
        .drop("_removed_seq")
        .rename({"event": "last_event", "date": "event_date"})
    )
    return (
        periods.with_columns(pl.col("category").cast(CATEGORY_ORDER).alias("_c"))
        .sort("uscc", "_c")
        .drop("_c")
    )


ENTRY_COLUMNS = (
    "uscc", "category", "valid_from", "valid_to", "evaluation_from", "last_event", "event_date",
    "region_code", "industry_code", "tier", "route", "consent", "special_group", "party_member",
    "advanced", "criteria_met", "segment", "batch", "document",
)  # fmt: skip


def entries_in_force(register_dir: Path, on: date) -> pl.DataFrame:
    """The 名特优新 entries in force on `on`, replayed from the register's verified event log.

    One row per entry (business × category), sorted by `uscc` then category (known,
    distinctive, quality, emerging). Columns: `uscc, category, valid_from, valid_to,
    evaluation_from` (the period covering `on`), `last_event` (certified | renewed) and
    `event_date` (when it was decided), the facts recorded with it (`region_code`,
    `industry_code`, `tier`, `route`, `consent`, `special_group`, `party_member`, `advanced`,
    `criteria_met`) and where it is written (`segment`, `batch`, `document`).

    For any past date the answer is the same as it was then: only events dated on or before `on`
    count. A broken hash chain raises `RunError` (exit 2). Stable API for the monitoring report,
    the support list and the directory export.
    """
    return as_of(read_events(register_dir), on).select(ENTRY_COLUMNS)


@dataclass(frozen=True)
class CategoryNumbers:
    """The 名特优新 figures for the monitoring report (seed 二(五), 二(六)), on one date.

    - `by_category_district`: `category, region_code, district, entries` — entries in force;
    - `by_category`: `category, entries, party_member, party_share, advanced, advanced_share` —
      per category, among its entries;
    - `overall`: `entries` (business × category), `businesses` (distinct), `party_member` and
      `advanced` (businesses), `party_share`, `advanced_share` (among the distinct businesses).

    Shares are fractions in [0, 1] (None when there is no entry). `definitions` words each
    figure in Chinese, for the report's footnotes.
    """

    on: date
    by_category_district: pl.DataFrame
    by_category: pl.DataFrame
    overall: dict[str, Any]
    definitions: dict[str, str]


DEFINITIONS = {
    "entries": "认定户次:在该日有效的名特优新认定(一户认定多个类别计多次)",
    "businesses": "认定户数:在该日至少有一个有效认定类别的个体工商户数",
    "party_share": "党员经营户比例:认定户中,认定或续期时有有效“党员经营户”佐证的户数占比",
    "advanced_share": "先进个体工商户比例:认定户中,认定或续期时有有效的全国或省级“先进个体工商户”"
    "佐证的户数占比",
}


def category_numbers(register_dir: Path, on: date) -> CategoryNumbers:
    """Certified counts per category and district, and the shares of 党员经营户 and of 全国/省级
    先进个体工商户 among the entries in force on `on` (see `CategoryNumbers`). Party membership
    and honours are the facts recorded with each entry's current period (certification or
    renewal). Stable API for the monitoring report."""
    entries = entries_in_force(register_dir, on)
    by_district = (
        entries.group_by("category", "region_code")
        .agg(pl.len().cast(pl.Int64).alias("entries"))
        .with_columns(
            region_name(pl.col("region_code")).alias("district"),
            pl.col("category").cast(CATEGORY_ORDER).alias("_c"),
        )
        .sort("_c", "region_code", nulls_last=True)
        .select("category", "region_code", "district", "entries")
    )

    def share(part: str) -> pl.Expr:
        return pl.when(pl.col("entries") > 0).then(pl.col(part) / pl.col("entries"))

    categories = pl.DataFrame({"category": list(CATEGORY_ORDER.categories)})
    by_category = (
        categories.join(
            entries.group_by("category").agg(
                pl.len().cast(pl.Int64).alias("entries"),
                pl.col("party_member").fill_null(False).sum().cast(pl.Int64).alias("party_member"),
                pl.col("advanced").fill_null(False).sum().cast(pl.Int64).alias("advanced"),
            ),
            on="category",
            how="left",
        )
        .with_columns(pl.col("entries", "party_member", "advanced").fill_null(0))
        .with_columns(
            share("party_member").alias("party_share"), share("advanced").alias("advanced_share")
        )
    )
    firms = entries.group_by("uscc").agg(
        pl.col("party_member").fill_null(False).any(), pl.col("advanced").fill_null(False).any()
    )
    n = firms.height
    party = int(firms.get_column("party_member").sum())
    advanced = int(firms.get_column("advanced").sum())
    overall = {
        "entries": entries.height,
        "businesses": n,
        "party_member": party,
        "advanced": advanced,
        "party_share": party / n if n else None,
        "advanced_share": advanced / n if n else None,
    }
    return CategoryNumbers(on, by_district, by_category, overall, dict(DEFINITIONS))
