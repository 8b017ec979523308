"""Helpers the end-to-end tests share: writing small extracts and running the real entry point.
(Imported as `support`: pytest puts the tests folder on the path.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
