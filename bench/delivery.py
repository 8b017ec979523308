"""Support delivery and the 双随机 draw at scale: 10 M businesses by default.

    python bench/delivery.py                      # 10 M businesses, 100 districts
    python bench/delivery.py --sizes 200000       # a quick look

For each size it builds (and caches under bench/data/delivery-<rows>/) a synthetic run folder —
the outcome files of a province-sized classify run, with the reference ruleset's columns and the
published tier shares, over 100 districts — beside extracts for the draw (risk classes for 30 %
of the businesses: A 50 %, B 35 %, C 12 %, D 3 % of them; inspections for 10 %; 50 inspectors
per district, some recusing themselves), then:

1. **support**: `gthfx support --no-excel` as a child process (wall time, peak memory): the run
   read, the library compiled, every measure evaluated, `measures.parquet`, the counts, the
   notices and the per-district push lists (CSV);
2. **sample**: `gthfx sample --no-excel` as a child process: the extracts read, the draw and every
   file of the draw folder;
3. **match**, in this process, stage by stage: the run read, the library compiled, every measure
   evaluated (`app.support.match`), `measures.parquet` built and written, the counts;
4. **draw**, in this process: the tickets' SHA-256 (DuckDB), then the whole draw with the
   inspectors' hashes.

The children run first: Linux counts a child's peak memory from before it exec'd, so a child of a
parent that already holds gigabytes would report the parent's.

The run folder is synthetic because matching and drawing read only a run's outcome files; typing
10 M businesses is `bench/run.py`'s job. Figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
RUN_DATE = date(2024, 7, 1)
CHARSET = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))
SECTIONS = np.array(list("FFFFFHHHOOCEGIKLMP"))
TIERS = np.array(["survival", "growth", "development", "excluded"])
LABELS = {
    "survival": "生存型",
    "growth": "成长型",
    "development": "发展型",
    "excluded": "不参与分型",
}
PLAN = """\
id: bench
ratios: {survival: 0.03, growth: 0.05, development: 0.08, excluded: 0.10}
risk_ratios: {A: 0.03, B: 0.10, C: 0.40, D: 0.80}
exclude_inspected_within_months: 12
inspectors_per_business: 2
"""


def _seed_run(folder: Path) -> Path:
    """A real (small) run of the shipped samples: its manifest, rejects and change log make the
    synthetic run a valid run folder."""
    out = folder / "seed-runs"
    if not (out / RUN_DATE.isoformat() / "manifest.json").exists():
        subprocess.run(
            [sys.executable, "-m", "gthfx.cli.main", "classify", "--date", RUN_DATE.isoformat(),
             "--out", str(out), "--no-excel", "--quiet", "--force"],
            cwd=ROOT, check=True,
        )  # fmt: skip
    return out / RUN_DATE.isoformat()


def build(rows: int) -> Path:
    """The cached synthetic run and draw extracts for `rows` businesses."""
    folder = DATA / f"delivery-{rows}"
    stamp = folder / ".complete"
    if stamp.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    start = time.perf_counter()
    rng = np.random.default_rng(14)
    regions = np.array([f"42{i // 10 + 1:02d}{i % 10 + 1:02d}" for i in range(100)])
    region = regions[rng.integers(0, 100, rows)]
    org = np.char.add("MA", np.array(["".join(x) for x in CHARSET[rng.integers(0, 31, (rows, 7))]]))
    uscc = np.char.add(
        np.char.add(np.char.add("92", region), org), CHARSET[rng.integers(0, 31, rows)]
    )
    tier = TIERS[rng.choice(4, rows, p=[0.685, 0.063, 0.002, 0.25])]
    years = rng.integers(0, 30, rows)
    insured = rng.integers(0, 8, rows).astype(float)
    insured[rng.random(rows) < 0.6] = np.nan
    frame = pl.DataFrame(
        {
            "uscc": uscc,
            "tier": tier,
            "region_code": region,
            "industry_code": np.char.add(SECTIONS[rng.integers(0, len(SECTIONS), rows)], "5261"),
            "years_in_business": years,
            "sales_yuan": rng.lognormal(12, 1.2, rows).round(2),
            "tax_yuan": np.where(rng.random(rows) < 0.3, rng.lognormal(8, 1.5, rows).round(2), 0.0),
            "insured_staff": pl.Series(insured, nan_to_null=True),
            "taxpayer_type": np.where(rng.random(rows) < 0.05, "一般纳税人", "小规模纳税人"),
            "employees": rng.integers(0, 12, rows),
        }
    ).unique("uscc", keep="first")
    frame = frame.with_columns(
        pl.col("tier").replace_strict(LABELS, return_dtype=pl.String).alias("tier_label"),
        pl.when(pl.col("tier") == "excluded")
        .then(pl.lit("reported"))
        .otherwise(pl.col("tier") + ".standard")
        .alias("rule_id"),
        pl.when(pl.col("tier") == "excluded")
        .then(pl.lit(["reported"]))
        .otherwise(pl.lit([], pl.List(pl.String)))
        .alias("reasons"),
        pl.lit([], pl.List(pl.String)).alias("flags"),
        pl.col("insured_staff").cast(pl.Int64),
        (pl.lit(RUN_DATE) - pl.duration(days=pl.col("years_in_business") * 365 + 30)).alias(
            "established_on"
        ),
        pl.col("sales_yuan").alias("sales"),
        (pl.col("sales_yuan") / 10_000).alias("revenue"),
        pl.col("tax_yuan").alias("tax_paid"),
        (pl.col("tax_yuan") / 10_000).alias("tax_total"),
        pl.col("insured_staff").cast(pl.Int64).alias("insured_count"),
        pl.lit(False).alias("decided"),
    )
    seed = _seed_run(folder)
    run = folder / "runs" / RUN_DATE.isoformat()
    run.mkdir(parents=True)
    columns = pl.read_parquet_schema(seed / "survival.parquet")
    for name in ("survival", "growth", "development", "excluded"):
        part = frame.filter(pl.col("tier") == name).select(list(columns)).sort("uscc")
        part.cast(columns).write_parquet(run / f"{name}.parquet")  # type: ignore[arg-type]
    for name in ("rejects.parquet", "changes.parquet", "manifest.json"):
        shutil.copy2(seed / name, run / name)
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    counts = dict(frame.group_by("tier").len().iter_rows())
    manifest["outcomes"] = {t: int(counts.get(t, 0)) for t in TIERS}
    manifest["businesses"] = frame.height
    (run / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")

    n = frame.height
    codes = frame.get_column("uscc")
    pick = rng.random(n)
    pl.DataFrame(
        {
            "统一社会信用代码": codes.filter(pl.Series(pick < 0.3)),
            "信用风险分类": np.array(list("ABCD"))[
                rng.choice(4, int((pick < 0.3).sum()), p=[0.5, 0.35, 0.12, 0.03])
            ],
        }
    ).write_parquet(folder / "risk.parquet")
    inspected = codes.filter(pl.Series(pick > 0.9))
    days = pl.Series(rng.integers(10, 900, inspected.len()))
    pl.DataFrame({"统一社会信用代码": inspected, "d": days}).select(
        "统一社会信用代码",
        (pl.lit(date(2024, 8, 1)) - pl.duration(days=pl.col("d")))
        .cast(pl.String)
        .alias("检查日期"),
    ).write_parquet(folder / "inspections.parquet")
    who = [f"ZF{i:05d}" for i in range(100 * 50)]
    recuse = [
        ";".join(codes.sample(2, seed=i).to_list()) if i % 10 == 0 else "" for i in range(len(who))
    ]
    pl.DataFrame(
        {
            "执法人员编号": who,
            "姓名": ["某某"] * len(who),
            "所属区划": [regions[i // 50] for i in range(len(who))],
            "回避统一社会信用代码": recuse,
        }
    ).write_parquet(folder / "inspectors.parquet")
    (folder / "plan.yaml").write_text(PLAN, encoding="utf-8")
    stamp.write_text("ok\n")
    print(f"  built {n:,} businesses in {time.perf_counter() - start:.1f} s", flush=True)
    return folder


def child(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak MiB of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stderr is not None
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def stages(folder: Path) -> dict[str, float]:
    """Matching and drawing in this process, stage by stage (seconds)."""
    from gthfx.app.sample.draw import DrawInputs, draw
    from gthfx.app.sample.hashing import ticket_digests
    from gthfx.app.sample.plan import load_plan
    from gthfx.app.support.deliver import compile_for_run
    from gthfx.app.support.match import attach_categories, counts, long_table, match, population
    from gthfx.runs.reader import open_run

    out: dict[str, float] = {}
    work = folder / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()

    def timed(name: str, start: float) -> float:
        now = time.perf_counter()
        out[name] = now - start
        return now

    t = time.perf_counter()
    run = open_run(folder / "runs" / RUN_DATE.isoformat())
    plan = compile_for_run(run, ROOT / "policies")
    frame = attach_categories(population(run, plan.reads()), None)
    t = timed("match: read the run", t)
    matched = match(frame, plan.in_force())
    t = timed("match: every measure", t)
    table = long_table(matched)
    t = timed("match: measures table", t)
    table.write_parquet(work / "measures.parquet")
    t = timed("match: write measures.parquet", t)
    counts(matched)
    t = timed("match: counts", t)
    out["match: rows"] = table.height
    del table, matched
    pop = frame.select("uscc", "tier", "region_code")
    del frame
    t = time.perf_counter()
    ticket_digests("bench-seed", pop.get_column("uscc"), work)
    t = timed("draw: tickets' SHA-256 (DuckDB)", t)
    inspectors = pl.read_parquet(folder / "inspectors.parquet").select(
        pl.col("执法人员编号").alias("inspector_id"),
        pl.col("所属区划").alias("region_code"),
        pl.col("回避统一社会信用代码")
        .str.split(";")
        .list.eval(pl.element().filter(pl.element() != ""))
        .alias("recuse"),
    )
    risk = pl.read_parquet(folder / "risk.parquet").select(
        pl.col("统一社会信用代码").alias("uscc"), pl.col("信用风险分类").alias("risk_class")
    )
    t = time.perf_counter()
    result = draw(
        DrawInputs(pop, risk=risk, inspectors=inspectors),
        load_plan(folder / "plan.yaml").plan,
        "bench-seed",
        date(2024, 8, 1),
        work,
    )
    t = timed("draw: whole draw (tickets, ranking, inspectors)", t)
    out["draw: drawn"] = result.sample.height
    out["draw: reserve"] = result.reserve.height
    shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10000000", help="comma-separated numbers of businesses")
    ap.add_argument("--no-children", action="store_true", help="only the in-process stages")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)
    for rows in (int(s) for s in args.sizes.split(",")):
        built = not (DATA / f"delivery-{rows}" / ".complete").exists()
        folder = build(rows)
        print(f"\n{rows:,} businesses ({folder})", flush=True)
        if built:
            print("  (built in this process: the children's peaks below include it; run again)")
        if not args.no_children:  # first: a child's peak RSS counts its parent's before exec
            gthfx = [sys.executable, "-m", "gthfx.cli.main"]
            run = str(folder / "runs" / RUN_DATE.isoformat())
            seconds, peak = child(
                [*gthfx, "support", "--run", run, "--out", str(folder / "support"), "--no-excel",
                 "--force", "--quiet", "--policies", str(ROOT / "policies")]
            )  # fmt: skip
            print(
                f"  {'gthfx support --no-excel':<48} {seconds:.1f} s, peak {peak:,.0f} MiB",
                flush=True,
            )
            seconds, peak = child(
                [*gthfx, "sample", "--run", run, "--plan", str(folder / "plan.yaml"), "--date",
                 "2024-08-01", "--seed", "bench-seed", "--risk", str(folder / "risk.parquet"),
                 "--inspections", str(folder / "inspections.parquet"), "--inspectors",
                 str(folder / "inspectors.parquet"), "--out", str(folder / "draw"), "--no-excel",
                 "--force", "--quiet"]
            )  # fmt: skip
            print(
                f"  {'gthfx sample --no-excel':<48} {seconds:.1f} s, peak {peak:,.0f} MiB",
                flush=True,
            )

        for name, value in stages(folder).items():
            shown = (
                f"{value:,.0f}" if name.endswith(("rows", "drawn", "reserve")) else f"{value:.1f} s"
            )
            print(f"  {name:<48} {shown}", flush=True)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  {'(in-process peak RSS)':<48} {peak:,.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
