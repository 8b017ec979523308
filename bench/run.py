"""`make bench`: type 1 M, 5 M and 10 M synthetic businesses with gthfx (both engines) and with a
bare hand-written Polars query on the same files — CSV exports and typed Parquet with Chinese
headers — and print wall time, peak memory, the ratio to the bare query and seconds per million.

    python bench/run.py                       # 1 M, 5 M, 10 M; CSV and Parquet; both engines
    python bench/run.py --sizes 200000        # a quick look
    python bench/run.py --input parquet --engine polars
    python bench/run.py --excel               # gthfx with the Excel workbook too
    python bench/run.py --engine duckdb --input parquet --sizes 50000000 --no-bare
                                              # the out-of-core engine (2 GB cap) at 50 M

Generated extracts are cached under bench/data/<rows>/ (CSV, `gthfx samples`) and
bench/data/<rows>-parquet/ (the same rows as typed Parquet, `bench/typed.py`); delete a folder
to regenerate it. Each measurement is a separate process; peak memory is that process's maximum
resident set size. The bare query runs once per input kind and size (it is the same for both
engines). Figures depend on the machine: compare the ratio, not the seconds, across machines.
Each line also gives both processes' user and system CPU seconds, and the ratio of their user
time: the system time is mostly the kernel handing out fresh memory (the bare query's 10 GB at
10 M), and it moves with the machine's memory state (10.7–18.6 s between two runs of the bare
query on the same files), which moves the wall ratio with it.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
OUT = HERE / "out"
RUN_DATE = "2024-07-01"
SEED = 20240701


@dataclass(frozen=True)
class Measure:
    seconds: float
    peak_mib: float
    user: float = 0.0  # CPU seconds in the process itself, on all cores
    system: float = 0.0  # CPU seconds in the kernel for it: mostly page faults (fresh memory)


def measure(cmd: list[str]) -> Measure:
    """Run one command as a child process; wall time and its own peak RSS (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    return Measure(
        seconds=elapsed,
        peak_mib=usage.ru_maxrss / 1024,
        user=usage.ru_utime,
        system=usage.ru_stime,
    )


def extracts(rows: int, kind: str = "csv") -> dict[str, Path]:
    """The cached synthetic extracts for `rows` businesses (generated on first use): CSV, or
    the same rows as typed Parquet."""
    if kind == "parquet":
        csv = extracts(rows)
        folder = DATA / f"{rows}-parquet"
        stamp = folder / ".complete"
        if not stamp.exists():
            shutil.rmtree(folder, ignore_errors=True)
            print(f"converting {rows:,} businesses to typed Parquet into {folder} …", flush=True)
            conv = measure(
                [sys.executable, str(HERE / "typed.py"), str(csv["annual"].parents[2]),
                 str(folder)]
            )  # fmt: skip
            print(f"  converted in {conv.seconds:.1f} s, peak {conv.peak_mib:,.0f} MiB", flush=True)
            stamp.write_text("ok\n")
        year = folder / str(int(RUN_DATE[:4]) - 1)
        return {e: next((year / e).glob("*.parquet")) for e in ("annual", "tax", "social")}
    folder = DATA / str(rows)
    stamp = folder / ".complete"
    if not stamp.exists():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"generating {rows:,} businesses into {folder} …", flush=True)
        gen = measure(
            [sys.executable, "-m", "gthfx.cli.main", "samples", "--rows", str(rows), "--out",
             str(folder), "--date", RUN_DATE, "--format", "csv", "--seed", str(SEED),
             "--no-categories"]
        )  # fmt: skip
        print(f"  generated in {gen.seconds:.1f} s, peak {gen.peak_mib:,.0f} MiB", flush=True)
        stamp.write_text("ok\n")
    year = folder / str(int(RUN_DATE[:4]) - 1)
    return {e: next((year / e).glob("*.csv")) for e in ("annual", "tax", "social")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--sizes", default="1000000,5000000,10000000", help="comma-separated row counts"
    )
    ap.add_argument("--excel", action="store_true", help="let gthfx write the Excel workbook")
    ap.add_argument(
        "--engine", default="polars,duckdb", help="gthfx's engines: polars, duckdb or both"
    )
    ap.add_argument("--input", default="csv,parquet", help="input kinds: csv, parquet or both")
    ap.add_argument("--memory-limit", default="2GB", help="the DuckDB engine's cap")
    ap.add_argument(
        "--no-bare", action="store_true", help="skip the bare query (it needs ~1 GB per million)"
    )
    args = ap.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    engines = args.engine.split(",")
    kinds = args.input.split(",")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; figures are for this machine only"
    )
    rows_out = []
    for rows in sizes:
        for kind in kinds:
            files = extracts(rows, kind)
            inputs = ["--annual", str(files["annual"]), "--tax", str(files["tax"]),
                      "--social", str(files["social"])]  # fmt: skip
            out = OUT / str(rows)
            bare = None
            if not args.no_bare:
                shutil.rmtree(out / "bare", ignore_errors=True)
                bare = measure(
                    [sys.executable, str(HERE / "bare.py"), "--date", RUN_DATE, *inputs,
                     "--out", str(out / "bare")]
                )  # fmt: skip
                shutil.rmtree(out / "bare", ignore_errors=True)
            for engine in engines:
                shutil.rmtree(out / "gthfx", ignore_errors=True)
                cap = ["--memory-limit", args.memory_limit] if engine == "duckdb" else []
                gthfx = measure(
                    [sys.executable, "-m", "gthfx.cli.main", "classify", "--date", RUN_DATE,
                     *inputs, "--out", str(out / "gthfx"), "--rules", str(HERE.parent / "rules"),
                     "--quiet", "--force", "--excel" if args.excel else "--no-excel",
                     "--engine", engine, *cap]
                )  # fmt: skip
                shutil.rmtree(out / "gthfx", ignore_errors=True)  # 50 M: ~14 GB of outputs
                rows_out.append((rows, kind, engine, gthfx, bare))
                print(_line(rows, kind, engine, gthfx, bare), flush=True)
    cap = f"; the DuckDB engine capped at {args.memory_limit}" if "duckdb" in engines else ""
    print(f"\nExcel {'on' if args.excel else 'off'}{cap}")
    print(
        "| businesses | input | engine | gthfx s | gthfx peak MiB | bare s | bare peak MiB "
        "| ratio | gthfx s/M |"
    )
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for rows, kind, engine, g, b in rows_out:
        bare_cells = (
            f"{b.seconds:.1f} | {b.peak_mib:,.0f} | {g.seconds / b.seconds:.2f}"
            if b is not None
            else "— | — | —"
        )
        print(
            f"| {rows:,} | {kind} | {engine} | {g.seconds:.1f} | {g.peak_mib:,.0f} | "
            f"{bare_cells} | {g.seconds / rows * 1e6:.1f} |"
        )


def _line(rows: int, kind: str, engine: str, gthfx: Measure, bare: Measure | None) -> str:
    line = (
        f"{rows:>12,} {kind:>8} {engine:>7}  gthfx {gthfx.seconds:8.1f} s "
        f"(user {gthfx.user:.1f}, sys {gthfx.system:.1f}) {gthfx.peak_mib:9,.0f} MiB   "
    )
    if bare is not None:
        line += (
            f"bare {bare.seconds:8.1f} s (user {bare.user:.1f}, sys {bare.system:.1f}) "
            f"{bare.peak_mib:9,.0f} MiB   ratio {gthfx.seconds / bare.seconds:5.2f} "
            f"(user {gthfx.user / bare.user:4.2f})   "
        )
    return line + f"{gthfx.seconds / rows * 1e6:6.1f} s per million"


if __name__ == "__main__":
    main()
