"""Helpers the tests share: where things are, the shipped samples as run options, writing small
extracts, and running the real entry point. (Imported as `support`: `tests/conftest.py` puts the
tests folder on the path; the fixtures over these helpers live there.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.settings.config import RunOptions
from gthfx.settings.sources import EXTRACTS

ROOT = Path(__file__).resolve().parents[1]  # the repository
SAMPLES = ROOT / "samples"  # the committed samples: <report year>/<extract>/files
RULES = ROOT / "rules"  # the shipped rulesets
FIXTURES = ROOT / "tests" / "fixtures"  # small files made for one test's purpose each


def sample_inputs(report_year: int | str) -> dict[str, tuple[Path, ...]]:
    """The shipped sample files of one report year, per extract, sorted."""
    folder = SAMPLES / str(report_year)
    return {e: tuple(sorted((folder / e).iterdir())) for e in EXTRACTS}


def sample_options(out: Path, run_date: date, engine: str = "polars", **more: Any) -> RunOptions:
    """Options of a classify run of the shipped samples at `run_date` (the report year before it),
    writing into `out` with the shipped rules."""
    settings: dict[str, Any] = {
        "run_date": run_date,
        "inputs": sample_inputs(run_date.year - 1),
        "out": out,
        "rules": RULES,
        "engine": engine,
        "command": ("gthfx", "classify"),
    }
    return RunOptions(**(settings | more))


ANNUAL_HEADER = (
    "统一社会信用代码,个体工商户名称,经营者姓名,经营者身份证号码,联系电话,行政区划代码,行业代码,"
    "成立日期,登记状态,年报年度,年报报送日期,年报经营状态,从业人数,营业额,纳税总额,经营异常标记,"
    "严重违法失信,备注"
)


def write_csv_extracts(
    folder: Path,
    annual_rows: list[str],
    tax_csv: str,
    social_csv: str,
    *,
    social_encoding: str = "utf-8",
) -> dict[str, Path]:
    """annual.csv (UTF-8 with BOM, the header above), tax.csv (UTF-8), social.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {e: folder / f"{e}.csv" for e in ("annual", "tax", "social")}
    text = ANNUAL_HEADER + "\n" + "\n".join(annual_rows) + "\n"
    paths["annual"].write_text(text, encoding="utf-8-sig")
    paths["tax"].write_text(tax_csv, encoding="utf-8")
    paths["social"].write_bytes(social_csv.encode(social_encoding))
    return paths


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process, as cron runs it (exit codes included)."""
    return subprocess.run(
        [sys.executable, "-c", "from gthfx.cli.main import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def generated_runs(
    base: Path, *, rows: int = 600, years: int = 3, last: date = date(2026, 7, 1), seed: int = 11
) -> Path:
    """Synthetic extracts of `years` yearly runs (the last on `last`) generated into
    `base/extracts`, each year classified in order into `base/runs` (each run's change log
    against the one before); the runs folder. The reference ruleset is in force from 2024-07-01."""
    from gthfx.app.classify import classify
    from gthfx.tools.samples import generate_samples

    generated = generate_samples(
        rows, base / "extracts", run_date=last, years=years, seed=seed, fmt="csv"
    )
    runs = base / "runs"
    for k in reversed(range(years)):
        run_date = last.replace(year=last.year - k)
        year = run_date.year - 1
        inputs = {e: tuple(generated.files[f"{year}/{e}"]) for e in EXTRACTS}
        options = RunOptions(
            run_date=run_date,
            inputs=inputs,
            out=runs,
            rules=RULES,
            excel=False,
            command=("gthfx", "classify"),
        )
        classify(options)
    return runs


def readme_block(marker: str) -> str:
    """The fenced code block of README.md that follows the line holding `marker`."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text[text.index(marker) :]
    start = after.index("```python\n") + len("```python\n")
    return after[start : after.index("```\n", start)]


def readme_redraw() -> dict[str, Any]:
    """The standard-library redraw script of the README, loaded (not run): its `redraw`, `sha`
    and `main` are the independent oracle of the draw (SPEC §11 written out in plain Python)."""
    namespace: dict[str, Any] = {"__name__": "redraw"}
    exec(compile(readme_block("<!-- redraw.py"), "README.md:redraw.py", "exec"), namespace)
    return namespace


def classify_samples(out: Path, run_date: date) -> Path:
    """Classify the shipped samples at `run_date` into `out` (no workbooks); the run folder."""
    from gthfx.app.classify import classify

    classify(sample_options(out, run_date, excel=False))
    return out / run_date.isoformat()


def write_register(folder: Path, rows: list[dict[str, Any]]) -> Path:
    """A real 名特优新 register holding `rows` (`uscc, category, valid_from, valid_to` as ISO
    dates), written with the register's own API — certified events, one batch per certification
    date — with `entries.json` beside it: the rows as given, the tests' own truth."""
    from gthfx.app.categories import register as reg

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "entries.json").write_text(json.dumps(rows), encoding="utf-8")
    schema = {k: v for k, v in reg.EVENT_SCHEMA.items() if k != "seq"}
    by_date: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_date.setdefault(row["valid_from"], []).append(row)
    for day in sorted(by_date):
        on = date.fromisoformat(day)
        events = [
            {
                "event": reg.CERTIFIED,
                "uscc": r["uscc"],
                "category": r["category"],
                "date": on,
                "valid_from": on,
                "valid_to": date.fromisoformat(r["valid_to"]),
                "evaluation_from": date.fromisoformat(r["valid_to"]) - timedelta(days=365),
                "reasons": [],
                "criteria_met": [],
                "region_code": None,
                "industry_code": None,
                "tier": "growth",
                "route": "自主申报",
                "consent": None,
                "special_group": None,
                "party_member": False,
                "advanced": False,
            }
            for r in by_date[day]
        ]
        batch = reg.Batch(kind="certification", batch_id=f"certification/{day}", on=on)
        reg.append(folder, batch, pl.DataFrame(events, schema=schema))
    return folder


def outcome_rows(run: Path) -> list[dict[str, Any]]:
    frames = [
        pl.read_parquet(run / f"{t}.parquet")
        for t in ("survival", "growth", "development", "excluded")
    ]
    return pl.concat(frames, how="diagonal_relaxed").to_dicts()
