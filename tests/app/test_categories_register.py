"""The 名特优新 register: replay as of any date against an oracle, append-only segments, the hash
chain catching every alteration, one writer at a time, and a write killed at each step losing
nothing."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from gthfx.app.categories.register import (
    CERTIFIED,
    EXPIRED,
    REMOVED,
    RENEWED,
    Batch,
    append,
    category_numbers,
    entries_in_force,
    read_log,
)
from gthfx.errors import RunError
from gthfx.runs.layout import run_lock

CATS = ("known", "distinctive", "quality", "emerging")


def _anniversary(day: date, years: int) -> date:
    """n complete years after `day` (29 February → 1 March in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def _event(
    kind: str, uscc: str, category: str, on: date, start: date | None = None, **facts: Any
) -> dict[str, Any]:
    start = start or on
    end = _anniversary(start, 3) - timedelta(days=1)
    return {
        "event": kind,
        "uscc": uscc,
        "category": category,
        "date": on,
        "valid_from": start if kind in (CERTIFIED, RENEWED) else None,
        "valid_to": end if kind in (CERTIFIED, RENEWED) else None,
        "evaluation_from": _anniversary(start, 2) if kind in (CERTIFIED, RENEWED) else None,
        "reasons": [] if kind != REMOVED else ["exclusion.penalty"],
        "criteria_met": ["known.trademark"],
        "region_code": facts.get("region", "420102"),
        "industry_code": "F5211",
        "tier": "growth",
        "route": "自主申报",
        "consent": None,
        "special_group": None,
        "party_member": facts.get("party", False),
        "advanced": facts.get("advanced", False),
    }


def _frame(events: list[dict[str, Any]]) -> pl.DataFrame:
    from gthfx.app.categories.register import EVENT_SCHEMA

    schema = {k: v for k, v in EVENT_SCHEMA.items() if k != "seq"}
    return pl.DataFrame(events, schema=schema)


def _history(seed: int) -> list[tuple[date, list[dict[str, Any]]]]:
    """Yearly batches over six years: certifications, renewals, removals, expiries, and entries
    certified again after a removal."""
    rng = random.Random(seed)
    batches: list[tuple[date, list[dict[str, Any]]]] = []
    live: dict[tuple[str, str], date] = {}  # entry → valid_from of its current period
    for year in range(2020, 2026):
        cert = date(year, 11, 28) if year != 2024 else date(2024, 2, 29)
        evaluation = date(year, 10, 15)
        events = []
        for (uscc, cat), start in sorted(live.items()):
            if rng.random() < 0.2:
                events.append(_event(REMOVED, uscc, cat, evaluation))
                del live[(uscc, cat)]
            elif _anniversary(start, 2) <= evaluation:
                if rng.random() < 0.6:
                    new = _anniversary(start, 3)
                    events.append(_event(RENEWED, uscc, cat, evaluation, new))
                    live[(uscc, cat)] = new
                else:
                    events.append(_event(EXPIRED, uscc, cat, evaluation, None))
                    del live[(uscc, cat)]
        if events:
            batches.append((evaluation, events))
        events = []
        for _ in range(rng.randrange(8, 15)):
            uscc = f"92420102MA{rng.randrange(40):07d}X"
            cat = rng.choice(CATS)
            if (uscc, cat) in live:
                continue
            events.append(
                _event(
                    CERTIFIED,
                    uscc,
                    cat,
                    cert,
                    region=rng.choice(["420102", "420106"]),
                    party=rng.random() < 0.3,
                    advanced=rng.random() < 0.2,
                )
            )
            live[(uscc, cat)] = cert
        batches.append((cert, events))
    return batches


def _oracle(
    history: list[tuple[date, list[dict[str, Any]]]], on: date
) -> set[tuple[str, str, date]]:
    """Entries in force on `on` (with their valid_from), by walking the events in order."""
    periods: dict[tuple[str, str], list[tuple[date, date]]] = {}
    for _, events in history:
        for e in events:
            if e["date"] > on:
                continue
            key = (e["uscc"], e["category"])
            if e["event"] == REMOVED:
                periods[key] = []
            elif e["event"] in (CERTIFIED, RENEWED):
                periods.setdefault(key, []).append((e["valid_from"], e["valid_to"]))
    out = set()
    for (uscc, cat), spans in periods.items():
        covering = [s for s in spans if s[0] <= on <= s[1]]
        if covering:
            out.add((uscc, cat, covering[-1][0]))
    return out


def _build(register: Path, history: list[tuple[date, list[dict[str, Any]]]]) -> None:
    for on, events in history:
        append(register, Batch("test", f"test/{on.isoformat()}", on, by="测试"), _frame(events))


@pytest.mark.parametrize("seed", [1, 2])
def test_register_as_of_any_date_matches_the_oracle(tmp_path: Path, seed: int) -> None:
    register = tmp_path / "register"
    history = _history(seed)
    _build(register, history)
    day = date(2020, 1, 1)
    checked = 0
    while day <= date(2029, 12, 31):
        got = entries_in_force(register, day)
        assert got.columns[:5] == ["uscc", "category", "valid_from", "valid_to", "evaluation_from"]
        assert set(got.select("uscc", "category", "valid_from").iter_rows()) == _oracle(
            history, day
        )
        keys = got.select("uscc", "category").rows()
        assert keys == sorted(keys, key=lambda k: (k[0], CATS.index(k[1])))
        checked += got.height
        day += timedelta(days=23)
    assert checked > 100
    # the boundaries of one period: the day before it, its first day, its last, the day after
    first = next(e for _, events in history for e in events if e["event"] == CERTIFIED)
    key = (first["uscc"], first["category"])

    def has(on: date) -> bool:
        rows = entries_in_force(register, on).select("uscc", "category").rows()
        return key in rows

    assert not has(first["valid_from"] - timedelta(days=1))
    assert has(first["valid_from"])


def test_json_lines_are_readable_and_segments_append_only(tmp_path: Path) -> None:
    register = tmp_path / "register"
    history = _history(3)
    before: dict[str, bytes] = {}
    for on, events in history:
        append(register, Batch("test", f"test/{on}", on), _frame(events))
        segments = sorted(register.glob("segment-*.jsonl"))
        for name, data in before.items():
            assert (register / name).read_bytes() == data, "an earlier segment changed"
        before = {p.name: p.read_bytes() for p in segments}
        assert len(segments) == len(before)
    last = sorted(register.glob("segment-*.jsonl"))[-1].read_text(encoding="utf-8").splitlines()
    header = json.loads(last[0])
    assert header["events"] == len(last) - 1 and header["prev_sha256"]
    event = json.loads(last[1])
    assert {"seq", "event", "uscc", "category", "date", "valid_from", "valid_to"} <= set(event)
    head = json.loads((register / "head.json").read_text(encoding="utf-8"))
    assert head["segments"] == len(history)


def _tamper(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))


@pytest.mark.parametrize("how", ["edit_first", "edit_last", "delete_middle", "swap", "head"])
def test_the_hash_chain_catches_tampering(tmp_path: Path, how: str) -> None:
    register = tmp_path / "register"
    _build(register, _history(4))
    segments = sorted(register.glob("segment-*.jsonl"))
    assert len(segments) >= 3
    if how == "edit_first":
        _tamper(segments[0], b'"valid_to":"20', b'"valid_to":"21')
    elif how == "edit_last":
        _tamper(segments[-1], b'"uscc":"92', b'"uscc":"93')
    elif how == "delete_middle":
        segments[1].unlink()
    elif how == "swap":
        a, b = segments[0].read_bytes(), segments[1].read_bytes()
        segments[0].write_bytes(b)
        segments[1].write_bytes(a)
    else:
        head = json.loads((register / "head.json").read_text(encoding="utf-8"))
        head["head_sha256"] = "0" * 64
        (register / "head.json").write_text(json.dumps(head), encoding="utf-8")
    with pytest.raises(RunError, match="hash chain is broken"):
        entries_in_force(register, date(2025, 1, 1))
    with pytest.raises(RunError, match="hash chain is broken"):
        append(register, Batch("test", "test/more", date(2026, 1, 1)), _frame([]))


def test_a_rewritten_segment_with_its_own_header_fixed_still_breaks_the_chain(
    tmp_path: Path,
) -> None:
    """A forger who edits an early segment and recomputes its events hash still breaks the next
    segment's link."""
    import hashlib

    register = tmp_path / "register"
    _build(register, _history(5))
    first = sorted(register.glob("segment-*.jsonl"))[0]
    header, _, body = first.read_bytes().partition(b"\n")
    body = body.replace(b'"region_code":"420102"', b'"region_code":"420106"', 1)
    meta = json.loads(header)
    meta["events_sha256"] = hashlib.sha256(body).hexdigest()
    line = json.dumps(meta, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    first.write_bytes(line.encode() + b"\n" + body)
    with pytest.raises(RunError, match=r"segment-000002\.jsonl follows a segment"):
        read_log(register)


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    register = tmp_path / "register"
    with run_lock(register), pytest.raises(RunError, match="another gthfx run"):
        append(register, Batch("test", "test/x", date(2024, 1, 1)), _frame([]))


def test_the_same_batch_is_appended_once(tmp_path: Path) -> None:
    register = tmp_path / "register"
    events = _frame([_event(CERTIFIED, "92420102MA0000001X", "known", date(2024, 11, 28))])
    first = append(
        register, Batch("certification", "certification/2024-10-15", date(2024, 11, 28)), events
    )
    again = append(
        register, Batch("certification", "certification/2024-10-15", date(2024, 11, 28)), events
    )
    assert again.repeated and again.segment == first.segment == 1
    other = _frame([_event(CERTIFIED, "92420102MA0000001X", "known", date(2024, 11, 29))])
    with pytest.raises(RunError, match="already in the register"):
        append(
            register, Batch("certification", "certification/2024-10-15", date(2024, 11, 29)), other
        )
    assert len(list(register.glob("segment-*.jsonl"))) == 1


KILL = """
import os, sys
from datetime import date
from pathlib import Path
import polars as pl
sys.path[:0] = [{tests!r}, str(Path({tests!r}).parent)]  # this folder, and tests/
from test_categories_register import _event, _frame
from gthfx.app.categories.register import Batch, append, CERTIFIED

real = Path.replace
def dying(self, target):
    if Path(target).name.startswith({when!r}):
        if {half!r}:
            data = Path(self).read_bytes()
            Path(self).write_bytes(data[: len(data) // 2])
        os._exit(137)
    return real(self, target)
Path.replace = dying
append(Path({register!r}), Batch("test", "test/killed", date(2027, 1, 1)),
       _frame([_event(CERTIFIED, "92420102MA9999999X", "known", date(2027, 1, 1))]))
"""


@pytest.mark.parametrize(
    ("when", "half", "lands"),
    [
        ("segment-", True, False),
        ("segment-", False, False),
        ("events.parquet", False, True),
        ("head.json", False, True),
    ],
)
def test_a_killed_write_loses_nothing(tmp_path: Path, when: str, half: bool, lands: bool) -> None:
    register = tmp_path / "register"
    _build(register, _history(6))
    before = read_log(register).events
    script = KILL.format(
        tests=str(Path(__file__).parent), when=when, half=half, register=str(register)
    )
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=False)
    assert done.returncode == 137
    log = read_log(register)  # readable, chain intact
    if lands:  # the segment was in place: the batch is committed; the head catches up later
        assert log.events.height == before.height + 1
        assert log.notes
    else:  # killed before its segment was in place: the register is as it was
        assert log.events.equals(before)
        assert list(register.glob(".staging-segment-*"))
    # the next writer cleans up and appends; nothing earlier is lost
    append(
        register,
        Batch("test", "test/after", date(2027, 6, 1)),
        _frame([_event(CERTIFIED, "92420102MA8888888X", "known", date(2027, 6, 1))]),
    )
    after = read_log(register)
    assert not after.notes
    assert after.events.height == log.events.height + 1
    assert not list(register.glob(".staging-*"))
    assert (
        after.events.head(before.height).select("seq", "uscc").equals(before.select("seq", "uscc"))
    )


def test_category_numbers(tmp_path: Path) -> None:
    register = tmp_path / "register"
    on = date(2024, 11, 28)
    events = [
        _event(CERTIFIED, "A", "known", on, region="420102", party=True),
        _event(CERTIFIED, "A", "quality", on, region="420102", party=True, advanced=True),
        _event(CERTIFIED, "B", "known", on, region="420106"),
        _event(CERTIFIED, "C", "emerging", on, region="420106", advanced=True),
    ]
    append(register, Batch("test", "t", on), _frame(events))
    numbers = category_numbers(register, date(2024, 12, 1))
    assert numbers.overall == {
        "entries": 4,
        "businesses": 3,
        "party_member": 1,
        "advanced": 2,
        "party_share": 1 / 3,
        "advanced_share": 2 / 3,
    }
    by_cat = {r["category"]: r for r in numbers.by_category.iter_rows(named=True)}
    assert by_cat["known"]["entries"] == 2 and by_cat["known"]["party_share"] == 0.5
    assert by_cat["distinctive"]["entries"] == 0 and by_cat["distinctive"]["party_share"] is None
    assert numbers.by_category_district.rows() == [
        ("known", "420102", "江岸区", 1),
        ("known", "420106", "武昌区", 1),
        ("quality", "420102", "江岸区", 1),
        ("emerging", "420106", "武昌区", 1),
    ]
    assert category_numbers(register, date(2024, 11, 27)).overall["entries"] == 0
    assert set(numbers.definitions) >= {"party_share", "advanced_share"}


def test_replaying_ten_years_of_events(tmp_path: Path) -> None:
    """Ten yearly segments of 2 000 events each replay into the same answer from the log as from
    the projection."""
    register = tmp_path / "register"
    for year in range(2015, 2025):
        on = date(year, 11, 28)
        events = [
            _event(CERTIFIED, f"92420102MA{year}{i:03d}X", CATS[i % 4], on) for i in range(2000)
        ]
        append(register, Batch("test", f"t/{year}", on), _frame(events))
    fast = entries_in_force(register, date(2024, 12, 1))
    (register / "events.parquet").unlink()  # the log alone
    slow = entries_in_force(register, date(2024, 12, 1))
    assert fast.equals(slow) and fast.height == 6000
