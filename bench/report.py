"""The monitoring report at scale: `gthfx report` of a 1 M-business run, with transitions
against the run before, the trend over both, and every table — timed as its own process.

    python bench/report.py                  # 1 M businesses (two yearly runs)
    python bench/report.py --rows 200000    # a quick look

Extracts (two yearly runs of one evolving population, Parquet) are cached under
bench/data/report-<rows>/, the two classify runs under bench/out/report-<rows>/runs/ (delete
either to regenerate). Prints the report's wall time and peak memory (best and median of
`--repeat` runs) and the sizes of the page and the workbook. Not a test: no timing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from run import DATA, HERE, OUT, SEED, measure

YEARS = ("2023-07-01", "2024-07-01")


def runs_for(rows: int) -> Path:
    """Two classify runs of `rows` businesses (cached), the later one compared with the first."""
    data = DATA / f"report-{rows}"
    if not (data / ".complete").exists():
        print(f"generating {rows:,} businesses × 2 years into {data} …", flush=True)
        gen = measure(
            [sys.executable, "-m", "gthfx.cli.main", "samples", "--rows", str(rows), "--years",
             "2", "--date", YEARS[-1], "--format", "parquet", "--seed", str(SEED), "--out",
             str(data)]
        )  # fmt: skip
        print(f"  generated in {gen.seconds:.1f} s", flush=True)
        (data / ".complete").write_text("ok\n")
    runs = OUT / f"report-{rows}" / "runs"
    for day in YEARS:
        if (runs / day / "manifest.json").exists():
            continue
        year = str(int(day[:4]) - 1)
        files = []
        for extract in ("annual", "tax", "social"):
            for path in sorted((data / year / extract).glob("*.parquet")):
                files += [f"--{extract}", str(path)]
        print(f"classify {day} …", flush=True)
        done = measure(
            [sys.executable, "-m", "gthfx.cli.main", "classify", "--date", day, "--out",
             str(runs), "--rules", str(HERE.parent / "rules"), "--no-excel", "--quiet", "--force",
             *files]
        )  # fmt: skip
        print(f"  {done.seconds:.1f} s, peak {done.peak_mib:,.0f} MiB", flush=True)
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="businesses in the later run")
    ap.add_argument("--repeat", type=int, default=3, help="report runs to time")
    args = ap.parse_args()
    runs = runs_for(args.rows)
    out = OUT / f"report-{args.rows}" / "report"
    command = [sys.executable, "-m", "gthfx.cli.main", "report", "--run", str(runs / YEARS[-1]),
               "--out", str(out), "--quiet"]  # fmt: skip
    times = [measure(command) for _ in range(args.repeat)]
    seconds = [m.seconds for m in times]
    html = out / f"监测报告_{YEARS[-1]}.html"
    xlsx = out / f"监测报告_{YEARS[-1]}.xlsx"
    print(
        f"gthfx report, {args.rows:,} businesses (and {YEARS[0]} before them): "
        f"best {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s, "
        f"peak {max(m.peak_mib for m in times):,.0f} MiB; page {html.stat().st_size / 1024:,.0f} "
        f"KiB, workbook {xlsx.stat().st_size / 1024:,.0f} KiB"
    )


if __name__ == "__main__":
    main()
