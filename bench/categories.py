"""名特优新 benchmark: screening N applications against an M-business run, and replaying ten
years of register events. Prints wall time and peak memory; not a test.

    python bench/categories.py                                  # 200 000 against 5 M
    python bench/categories.py --businesses 1000000 --applications 50000   # a quick look

The run folder (the four outcome files, a manifest and its annual extract as Parquet), the
applications, evidence and records are generated directly (vectorised, cached under
bench/data/categories-<M>-<N>/) — the benchmark measures screening, not typing. Screening runs
as `gthfx categories screen --no-excel --quiet` in its own process (peak memory is that
process's maximum resident set size). The register is built from `--years` yearly batches of
`--events` certified entries, then replayed in a child process: from the Parquet projection
(the usual path) and from the JSON-lines log alone (the projection removed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
OUT = HERE / "out"
RUN_DATE = date(2024, 7, 1)
S = date(2024, 10, 15)
DISTRICTS = (
    "420102",
    "420103",
    "420104",
    "420105",
    "420106",
    "420107",
    "420111",
    "420112",
    "420113",
    "420114",
    "420115",
    "420116",
    "420117",
)
TYPES = (
    "注册商标",
    "荣誉称号",
    "连锁门店",
    "地理标志",
    "绿色有机认证",
    "非遗工坊",
    "老字号",
    "管理体系认证",
    "职业技能等级",
    "新业态",
    "专利",
    "党员经营户",
)


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak MiB of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode('utf-8', 'replace')}")
    return elapsed, usage.ru_maxrss / 1024


def codes(n: int, rng: np.random.Generator) -> pl.Series:
    """n distinct valid 92… codes (check character by gthfx's own vectorised rule)."""
    from gthfx.ingest.uscc import check_character

    region = np.array(DISTRICTS)[rng.integers(0, len(DISTRICTS), n)]
    body = pl.Series(region) + "MA" + pl.Series(np.arange(n)).cast(pl.String).str.zfill(7)
    frame = pl.DataFrame({"b": "92" + body})
    return frame.select(pl.col("b") + check_character(pl.col("b") + "0")).to_series()


def generate(folder: Path, businesses: int, applications: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    run = folder / "runs" / RUN_DATE.isoformat()
    run.mkdir(parents=True)
    code = codes(businesses, rng)
    tier = np.array(["survival", "growth", "development", "excluded"])[
        rng.choice(4, businesses, p=[0.68, 0.065, 0.005, 0.25])
    ]
    outcomes = pl.DataFrame(
        {
            "uscc": code,
            "tier": tier,
            "tier_label": tier,
            "rule_id": tier,
            "reasons": pl.Series([[]] * businesses, dtype=pl.List(pl.String)),
            "flags": pl.Series([[]] * businesses, dtype=pl.List(pl.String)),
            "region_code": code.str.slice(2, 6),
            "industry_code": pl.Series(["F5211"] * businesses),
            "years_in_business": rng.integers(0, 20, businesses),
            "insured_staff": rng.integers(0, 8, businesses),
        }
    ).sort("uscc")
    for name in ("survival", "growth", "development", "excluded"):
        outcomes.filter(pl.col("tier") == name).write_parquet(run / f"{name}.parquet")
    annual = folder / "annual.parquet"
    pl.DataFrame(
        {
            "统一社会信用代码": code,
            "个体工商户名称": "商店" + code.str.slice(10),
            "经营者姓名": pl.Series(["张三"] * businesses),
            "经营者身份证号码": pl.Series(["420102199001011234"] * businesses),
            "联系电话": pl.Series(["13812345678"] * businesses),
            "成立日期": pl.Series(["2015-01-01"] * businesses),
            "登记状态": pl.Series(["存续"] * businesses),
        }
    ).write_parquet(annual)
    from gthfx.ingest.load import sha256_of

    (run / "manifest.json").write_text(
        json.dumps(
            {
                "run_date": RUN_DATE.isoformat(),
                "ruleset": {"id": "bench"},
                "inputs": [{"extract": "annual", "path": str(annual), "sha256": sha256_of(annual)}],
            }
        ),
        encoding="utf-8",
    )
    # applicants: mostly growth and development businesses
    strong = np.flatnonzero(np.isin(tier, ["growth", "development"]))
    weak = np.flatnonzero(~np.isin(tier, ["growth", "development"]))
    n_strong = min(len(strong), int(applications * 0.8))
    who = np.concatenate(
        [
            rng.choice(strong, n_strong, replace=False),
            rng.choice(weak, applications - n_strong, replace=False),
        ]
    )
    words = np.array(["知名", "特色", "优质", "新兴", "知名、特色", "优质;新兴"])
    pl.DataFrame(
        {
            "统一社会信用代码": code.gather(who),
            "申报类别": words[rng.integers(0, len(words), applications)],
            "申报途径": np.where(rng.random(applications) < 0.15, "部门推荐", "自主申报"),
            "经营者同意": np.where(rng.random(applications) < 0.9, "是", "否"),
            "特殊群体": np.where(rng.random(applications) < 0.03, "退役军人", ""),
            "申报日期": pl.Series(["2024/9/1"] * applications),
            "经营者姓名": pl.Series(["李四"] * applications),
            "联系电话": pl.Series(["13912345678"] * applications),
        }
    ).write_parquet(folder / "applications.parquet")
    m = applications * 2
    holder = rng.choice(who, m)
    obtained = np.datetime64(S) - rng.integers(-10, 3000, m).astype("timedelta64[D]")
    until = np.datetime64(S) + rng.integers(-400, 2000, m).astype("timedelta64[D]")
    pl.DataFrame(
        {
            "统一社会信用代码": code.gather(holder),
            "佐证类型": np.array(TYPES)[rng.integers(0, len(TYPES), m)],
            "级别": np.array(["国家级", "省级", "市级", "区县"])[rng.integers(0, 4, m)],
            "数量": rng.integers(1, 6, m).astype(str),
            "取得日期": pl.Series(obtained).cast(pl.Date).dt.strftime("%Y-%m-%d"),
            "有效期至": pl.Series(until).cast(pl.Date).dt.strftime("%Y/%-m/%-d"),
        }
    ).write_parquet(folder / "evidence.parquet")
    r = applications // 2
    decided = np.datetime64(S) - rng.integers(0, 900, r).astype("timedelta64[D]")
    pl.DataFrame(
        {
            "统一社会信用代码": code.gather(rng.choice(who, r)),
            "记录类型": np.array(["行政处罚", "重大安全事故", "失信被执行人"])[
                rng.choice(3, r, p=[0.85, 0.05, 0.10])
            ],
            "处罚种类": np.array(["警告", "通报批评", "罚款", "没收违法所得"])[
                rng.integers(0, 4, r)
            ],
            "决定日期": pl.Series(decided).cast(pl.Date).dt.strftime("%Y-%m-%d"),
        }
    ).write_parquet(folder / "records.parquet")
    (folder / ".complete").write_text("ok\n")


def register(folder: Path, years: int, per_year: int) -> None:
    from gthfx.app.categories.register import CERTIFIED, EVENT_SCHEMA, Batch, append

    if (folder / "head.json").exists():
        return
    rng = np.random.default_rng(11)
    schema = {k: v for k, v in EVENT_SCHEMA.items() if k != "seq"}
    for k in range(years):
        on = date(2024 - years + 1 + k, 11, 28)
        events = (
            pl.DataFrame(
                {
                    "event": [CERTIFIED] * per_year,
                    "uscc": codes(per_year, rng).str.replace(r"^92", f"9{k % 10}"),
                    "category": np.array(["known", "distinctive", "quality", "emerging"])[
                        rng.integers(0, 4, per_year)
                    ],
                    "date": [on] * per_year,
                    "valid_from": [on] * per_year,
                    "valid_to": [on.replace(year=on.year + 3) - timedelta(days=1)] * per_year,
                    "evaluation_from": [on.replace(year=on.year + 2)] * per_year,
                    "region_code": np.array(DISTRICTS)[rng.integers(0, len(DISTRICTS), per_year)],
                    "party_member": rng.random(per_year) < 0.1,
                    "advanced": rng.random(per_year) < 0.05,
                }
            )
            .with_columns(
                [
                    pl.lit(None, dtype).alias(c)
                    for c, dtype in schema.items()
                    if c
                    not in (
                        "event",
                        "uscc",
                        "category",
                        "date",
                        "valid_from",
                        "valid_to",
                        "evaluation_from",
                        "region_code",
                        "party_member",
                        "advanced",
                    )
                ]
            )
            .select(list(schema))
        )
        append(folder, Batch("bench", f"bench/{on}", on), events.cast(schema))


REPLAY = """
import time, sys
from datetime import date
from pathlib import Path
from gthfx.app.categories.register import category_numbers, entries_in_force
start = time.perf_counter()
entries = entries_in_force(Path(sys.argv[1]), date(2024, 12, 1))
numbers = category_numbers(Path(sys.argv[1]), date(2024, 12, 1))
print(entries.height, numbers.overall["entries"], f"{time.perf_counter() - start:.2f}")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--businesses", type=int, default=5_000_000)
    ap.add_argument("--applications", type=int, default=200_000)
    ap.add_argument("--years", type=int, default=10, help="register: yearly batches")
    ap.add_argument("--events", type=int, default=100_000, help="register: events per batch")
    args = ap.parse_args()
    folder = DATA / f"categories-{args.businesses}-{args.applications}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"generating into {folder} …", flush=True)
        start = time.perf_counter()
        generate(folder, args.businesses, args.applications)
        print(f"  generated in {time.perf_counter() - start:.1f} s", flush=True)
    out = OUT / "categories"
    shutil.rmtree(out, ignore_errors=True)
    seconds, peak = measure(
        [
            sys.executable,
            "-m",
            "gthfx.cli.main",
            "categories",
            "screen",
            "--run",
            str(folder / "runs" / RUN_DATE.isoformat()),
            "--date",
            S.isoformat(),
            "--applications",
            str(folder / "applications.parquet"),
            "--evidence",
            str(folder / "evidence.parquet"),
            "--records",
            str(folder / "records.parquet"),
            "--criteria",
            str(HERE.parent / "rules"),
            "--out",
            str(out),
            "--no-excel",
            "--quiet",
        ]
    )
    entries = pl.scan_parquet(out / S.isoformat() / "screening" / "screening.parquet")
    n = entries.select(pl.len()).collect().item()
    print(
        f"screening: {args.applications:,} applications ({n:,} entries) against "
        f"{args.businesses:,} businesses: {seconds:.1f} s, peak {peak:,.0f} MiB"
    )
    reg = DATA / f"register-{args.years}x{args.events}"
    register(reg, args.years, args.events)
    projection = reg / "events.parquet"
    aside = reg.parent / f"{reg.name}-events.parquet"
    for label in ("projection", "log only"):
        if label == "log only":
            shutil.copy(projection, aside)
            projection.unlink()
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", REPLAY, str(reg)], capture_output=True, text=True, check=True
        )
        wall = time.perf_counter() - start
        in_force, _, inner = done.stdout.split()
        print(
            f"register replay ({label}): {args.years * args.events:,} events, {int(in_force):,} "
            f"in force on 2024-12-01: {float(inner):.2f} s in process, {wall:.2f} s with start-up"
        )
    aside.replace(projection)  # as it was


if __name__ == "__main__":
    main()
