"""Synthetic extracts of the inspection draw for the shipped samples (`samples/sampling/`).

`python -m gthfx.tools.sampling_samples samples` (part of `make samples`) reads the business
codes of the sample annual extract of a report year and writes, deterministically for a seed:

- `inspections.csv` (UTF-8 with BOM) — 检查记录: about one business in eight, dates over the two
  years before the draw in every accepted form, with a lower-case code, an empty date (`NULL`),
  an impossible date and a code that is in no run;
- `risk.xlsx` — 信用风险分类: about one business in three, as A–D in the forms clerks type
  (`b`, `Ｃ`, `D类`, `低风险`), one class outside A–D and one business with two classes;
- `inspectors.csv` (GB18030) — 执法检查人员: four to six per district, the district as a code or a
  name, some recusals, an unknown district and an inspector listed twice with different districts.

Names are invented and denote nobody. The plan (`plan-2024-H2.yaml`) is written by hand.
"""

from __future__ import annotations

import random
import sys
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from gthfx.ingest import uscc
from gthfx.ingest.load import load_extract
from gthfx.report.regions import REGION_NAMES
from gthfx.report.xlsx import write_xlsx
from gthfx.settings.sources import load_sources

DRAW_DATE = date(2024, 8, 1)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"


def _codes(annual: list[Path]) -> list[str]:
    spec = load_sources().extracts["annual"]
    frame = load_extract("annual", annual, spec).frame
    codes = frame.select(uscc.normalise(pl.col("uscc")).alias("c")).filter(
        uscc.status(pl.col("c")).is_in([uscc.OK])
    )
    return sorted(set(codes.get_column("c").to_list()))


def _date_text(day: date, rng: random.Random) -> str:
    forms = [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        day.strftime("%Y%m%d"),
    ]
    return rng.choice(forms)


def write_sampling_samples(folder: Path, annual: list[Path], seed: int = 2024) -> list[Path]:
    """Write the three sampling extracts into `folder` from the codes of `annual`."""
    rng = random.Random(seed)
    codes = _codes(annual)
    folder.mkdir(parents=True, exist_ok=True)

    inspections = ["统一社会信用代码,检查日期,检查事项"]
    for code in rng.sample(codes, len(codes) // 8):
        day = DRAW_DATE - timedelta(days=rng.randrange(20, 730))
        shown = code.lower() if rng.random() < 0.05 else code
        inspections.append(f"{shown},{_date_text(day, rng)},日常监督检查")
    inspections += [
        f"{codes[3]},NULL,日常监督检查",
        f"{codes[5]},2024-02-30,日常监督检查",
        "92420102MA00000019,2024-03-01,日常监督检查",
    ]
    paths = [folder / "inspections.csv"]
    paths[0].write_text("\n".join(inspections) + "\n", encoding="utf-8-sig")

    words = ["A", "A", "B", "B", "b", "Ｃ", "C", "D类", "低风险", "较高风险"]
    risk = [(code, rng.choice(words)) for code in rng.sample(codes, len(codes) // 3)]
    risk += [(codes[7], "E"), (codes[11], "A"), (codes[11], "C")]
    frame = pl.DataFrame(
        risk, schema={"统一社会信用代码": pl.String, "信用风险分类": pl.String}, orient="row"
    )
    paths.append(folder / "risk.xlsx")
    write_xlsx(paths[-1], [("信用风险分类", frame)], title="信用风险分类")

    inspectors = ["执法人员编号,姓名,所属区划,回避统一社会信用代码"]
    number = 0
    for code, name in REGION_NAMES.items():
        if code == "420100":
            continue
        local = [c for c in codes if c[2:8] == code]
        for _ in range(rng.randint(4, 6)):
            number += 1
            person = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            where = name if rng.random() < 0.3 else code
            recuse = ";".join(rng.sample(local, min(2, len(local)))) if rng.random() < 0.2 else ""
            inspectors.append(f"WH{number:04d},{person},{where},{recuse}")
    inspectors += [
        "WH9001,赵某某,光谷区,",
        "WH0001,王某某,420117,",
    ]
    paths.append(folder / "inspectors.csv")
    paths[-1].write_bytes(("\n".join(inspectors) + "\n").encode("gb18030"))
    return paths


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path("samples")
    annual = sorted((root / "2023" / "annual").glob("*.csv"))
    for path in write_sampling_samples(root / "sampling", annual):
        print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
