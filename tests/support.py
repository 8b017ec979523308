"""Helpers the tests share: where things are, the shipped samples as run options, writing small
extracts, and running the real entry point. (Imported as `support`: `tests/conftest.py` puts the
tests folder on the path; the fixtures over these helpers live there.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from gthfx.app.register_entries import REGISTER_MODULE
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import EXTRACTS
from gthfx.vocab import CATEGORIES

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


def fake_register(monkeypatch: Any) -> None:
    """Issue 10's register module, as its API promises: `entries_in_force(register_dir, on)`
    replays `entries.json` of the folder — the entries valid on `on` — with more columns than
    support reads."""

    def entries_in_force(register_dir: Path, on: date) -> pl.DataFrame:
        rows = json.loads((register_dir / "entries.json").read_text(encoding="utf-8"))
        frame = pl.DataFrame(
            rows,
            schema={
                "uscc": pl.String,
                "category": pl.String,
                "valid_from": pl.String,
                "valid_to": pl.String,
            },
        ).with_columns(pl.col("valid_from", "valid_to").str.to_date())
        order = {c: i for i, c in enumerate(CATEGORIES)}
        return (
            frame.filter((pl.col("valid_from") <= on) & (on <= pl.col("valid_to")))
            .with_columns(
                (pl.col("valid_to") - pl.duration(days=365)).alias("evaluation_from"),
                pl.lit("certified").alias("last_event"),
                pl.col("category").replace_strict(order).alias("_o"),
            )
            .sort("uscc", "_o")
            .drop("_o")
        )

    module = types.ModuleType(REGISTER_MODULE)
    module.entries_in_force = entries_in_force  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, REGISTER_MODULE, module)


def outcome_rows(run: Path) -> list[dict[str, Any]]:
    frames = [
        pl.read_parquet(run / f"{t}.parquet")
        for t in ("survival", "growth", "development", "excluded")
    ]
    return pl.concat(frames, how="diagonal_relaxed").to_dicts()
