"""`gthfx sample`, `sample verify` and `sample commit` as a user runs them (the real entry point
in a child process): generated extracts with messy values and known truth, the README script run
on the folder, the oracle fed the truth, rejects by file and row, byte-identical folders whatever
the threads or row order, verification of every kind of tampering, commit–reveal, and bad input
(exit 2, naming what and where)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from gthfx.report.xlsx import write_xlsx
from support import readme_block, readme_redraw, run_cli

ORACLE = readme_redraw()
PLAN = """\
id: 2024-H2
ratios: {survival: 0.03, growth: 0.05, development: 0.08, excluded: 0.10}
risk_ratios: {A: 0.03, B: 0.10, C: 0.40, D: "80%"}
exclude_inspected_within_months: 12
inspectors_per_business: 2
"""
NAMES = ("欧阳锋", "黄药师", "段智兴", "洪七公")  # inspectors' names: must never be written
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass
class Extracts:
    """Files written with messy values, and what they mean."""

    folder: Path
    last_inspected: dict[str, date] = field(default_factory=dict)
    risk: dict[str, str] = field(default_factory=dict)
    inspectors: list[tuple[str, str, set[str]]] = field(default_factory=list)
    rejects: set[tuple[str, int, str, str]] = field(default_factory=set)  # file, row, field, reason

    def args(self) -> list[str]:
        """The extract options, as paths relative to the folder holding the extracts' folder
        (the working directory of the draw)."""
        name = self.folder.name
        return [
            "--inspections", f"{name}/检查记录.csv",
            "--risk", f"{name}/风险分类.xlsx",
            "--inspectors", f"{name}/执法人员.csv",
        ]  # fmt: skip


def write_extracts(folder: Path, codes: list[str], seed: int = 1, clean: bool = False) -> Extracts:
    """Inspections (GB18030), risk classes (XLSX) and inspectors (UTF-8 with BOM) for the run's
    codes; unless `clean`, with a row of every problem each file can have."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth = Extracts(folder)
    on = date(2024, 8, 1)
    lines = ["统一社会信用代码,检查日期,检查人员"]
    for code in rng.sample(codes, 300):
        day = on - timedelta(days=rng.choice([5, 100, 365, 366, 367, 500]))
        shown = rng.choice([code, code.lower(), f" {code} ", code.translate(FULLWIDTH)])
        when = rng.choice(
            [
                day.isoformat(),
                f"{day.year}/{day.month}/{day.day}",
                f"{day.year}年{day.month}月{day.day}日",
            ]
        )
        lines.append(f"{shown},{when},张三")
        truth.last_inspected[code] = max(truth.last_inspected.get(code, day), day)
    if not clean:
        file = f"{folder.name}/检查记录.csv"
        bad = [
            (f"{codes[0]},2024-13-45,张三", "inspected_on", "unparseable:inspections.inspected_on"),
            (f"{codes[1]},NULL,张三", "inspected_on", "missing:inspected_on"),
            ("92420102MA00000019,2024-01-01,张三", "uscc", "orphan"),
            ("ABC,2024-01-01,张三", "uscc", "malformed_code"),
            ("91420102MA4K1B2C9D,2024-01-01,张三", "uscc", "not_individual"),
        ]
        for text, name, reason in bad:
            lines.append(text)
            truth.rejects.add((file, len(lines), name, reason))
    (folder / "检查记录.csv").write_bytes(("\n".join(lines) + "\n").encode("gb18030"))

    words = {
        "A": ["A", "a", "Ａ", "A类"],
        "B": ["B", "b级"],
        "C": ["C", "较高风险"],
        "D": ["D", "高风险"],
    }
    pool = codes[4:]
    risk_rows: list[tuple[str, str]] = []
    for code in rng.sample(pool, 700):
        klass = rng.choice("ABCD")
        risk_rows.append((code, rng.choice(words[klass])))
        truth.risk[code] = klass
    if not clean:
        file = f"{folder.name}/风险分类.xlsx"
        spare = next(c for c in pool if c not in truth.risk)  # one business, two classes
        for code, word, reason in [
            (codes[2], "E", "unknown_value:risk.risk_class"),
            (codes[3], "-", "missing:risk_class"),
            (spare, "A", "conflicting_duplicate"),
            (spare, "B", "conflicting_duplicate"),
        ]:
            risk_rows.append((code, word))
            truth.rejects.add((file, len(risk_rows) + 1, "risk_class", reason))
    write_xlsx(
        folder / "风险分类.xlsx",
        [
            (
                "信用风险分类",
                pl.DataFrame(
                    risk_rows,
                    schema={"统一社会信用代码": pl.String, "信用风险分类": pl.String},
                    orient="row",
                ),
            )
        ],
    )

    by_region: dict[str, list[str]] = {}
    for code in codes:
        by_region.setdefault(code[2:8], []).append(code)
    district_names = {"420102": "江岸区", "420106": "武昌区", "420111": "洪山区"}
    lines = ["执法人员编号,姓名,所属区划,回避统一社会信用代码"]
    number = 0
    for region in sorted(by_region):
        for _ in range(3):
            number += 1
            recused = set(rng.sample(by_region[region], 3)) if number % 3 == 0 else set()
            where = district_names.get(region, region) if number % 2 else region
            joined = rng.choice(["; ", "；", "、", " "]).join(sorted(recused))
            lines.append(f"WH{number:04d},{NAMES[number % 4]},{where},{joined}")
            truth.inspectors.append((f"WH{number:04d}", region, recused))
    if not clean:
        file = f"{folder.name}/执法人员.csv"
        for text, name, reason in [
            (f"WH8001,{NAMES[0]},光谷区,", "region_code", "unknown_value:inspectors.region_code"),
            (f"WH8002,{NAMES[1]},,", "region_code", "missing:region_code"),
            (f"WH8003,{NAMES[2]},420102,92420102MA4K1B2C9", "recuse", "malformed_code"),
            (f",{NAMES[3]},420102,", "inspector_id", "missing:inspector_id"),
            (f"WH8004,{NAMES[0]},420102,", "inspector_id", "conflicting_duplicate"),
            (f"WH8004,{NAMES[0]},420106,", "inspector_id", "conflicting_duplicate"),
        ]:
            lines.append(text)
            truth.rejects.add((file, len(lines), name, reason))
    (folder / "执法人员.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return truth


@pytest.fixture(scope="module")
def run_2024(sample_runs: Path) -> Path:
    return sample_runs / "2024-07-01"


def outcomes(run: Path) -> pl.DataFrame:
    return pl.concat(
        [
            pl.read_parquet(run / f"{t}.parquet")
            for t in ("survival", "growth", "development", "excluded")
        ]
    ).select("uscc", "tier", "region_code")


def oracle(run: Path, truth: Extracts, seed: str) -> tuple[list[Any], list[Any]]:
    cutoff = date(2023, 8, 1)  # 2024-08-01 minus 12 months
    eligible: dict[str, list[str]] = {}
    for code, tier, region in outcomes(run).iter_rows():
        recent = truth.last_inspected.get(code)
        if recent is not None and recent >= cutoff:
            continue
        klass = truth.risk.get(code)
        eligible.setdefault(f"{region or '-'}|{tier}|{klass or '-'}", []).append(code)
    plan = {
        "ratios": {"survival": "0.03", "growth": "0.05", "development": "0.08", "excluded": "0.1"},
        "risk_ratios": {"A": "0.03", "B": "0.1", "C": "0.4", "D": "0.8"},
        "reserve": None,
        "inspectors_per_business": 2,
    }
    return ORACLE["redraw"](seed, plan, eligible, truth.inspectors)


def draw_rows(path: Path) -> list[Any]:
    return sorted(
        (r["stratum"], r["rank"], r["uscc"], r["rank_hash"], list(r["inspectors"]))
        for r in pl.read_parquet(path).iter_rows(named=True)
    )


def gthfx(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    if env is None:
        return run_cli(args, cwd)
    return subprocess.run(
        [sys.executable, "-c", "from gthfx.cli.main import main; main()", *args],
        cwd=cwd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200", **env},
        check=False,
    )  # fmt: skip


def draw_args(run: Path, out: str, *more: str) -> list[str]:
    return [
        "sample",
        "--run",
        str(run),
        "--plan",
        "plan.yaml",
        "--date",
        "2024-08-01",
        "--out",
        out,
        *more,
    ]


@pytest.fixture(scope="module")
def drawn(run_2024: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Extracts]:
    work = tmp_path_factory.mktemp("draw")
    (work / "plan.yaml").write_text(PLAN, encoding="utf-8")
    codes = outcomes(run_2024).get_column("uscc").to_list()
    truth = write_extracts(work / "extracts", codes)
    result = gthfx(
        [*draw_args(run_2024, "draws/2024-H2", "--seed", "公开-2024-H2"), *truth.args()], work
    )
    assert result.returncode == 0, result.stderr
    return work, truth


def test_the_draw_is_the_oracles_business_by_business(
    drawn: tuple[Path, Extracts], run_2024: Path
) -> None:
    work, truth = drawn
    folder = work / "draws/2024-H2"
    sample, reserve = oracle(run_2024, truth, "公开-2024-H2")
    assert draw_rows(folder / "sample.parquet") == sorted(sample)
    assert draw_rows(folder / "reserve.parquet") == sorted(reserve)
    assert len(sample) > 50


def test_rejects_name_file_row_field_and_reason(drawn: tuple[Path, Extracts]) -> None:
    work, truth = drawn
    rejects = pl.read_parquet(work / "draws/2024-H2/rejects.parquet")
    found = {(r["file"], r["row"], r["field"], r["reason"]) for r in rejects.iter_rows(named=True)}
    assert found == truth.rejects
    manifest = json.loads((work / "draws/2024-H2/manifest.json").read_text(encoding="utf-8"))
    for name, acc in manifest["accounting"].items():
        assert acc["read"] == acc["used"] + acc["rejected"] + acc["collapsed"], name
    for record in manifest["inputs"]:
        data = (work / record["path"]).read_bytes()
        assert record["sha256"] == hashlib.sha256(data).hexdigest()
        a = record["accounting"]
        assert a["read"] == a["used"] + a["rejected"] + a["collapsed"]
    assert manifest["seed"] == "公开-2024-H2" and manifest["seed_source"] == "given"
    assert manifest["plan"]["risk_ratios"]["D"] == "0.8"
    assert manifest["run"]["manifest_sha256"]


def test_the_readme_script_redraws_the_folder(drawn: tuple[Path, Extracts], tmp_path: Path) -> None:
    work, _ = drawn
    script = tmp_path / "redraw.py"
    script.write_text(readme_block("<!-- redraw.py"), encoding="utf-8")
    folder = tmp_path / "copy"
    shutil.copytree(work / "draws/2024-H2", folder)
    ok = subprocess.run(
        [sys.executable, "-I", str(script), str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and ok.stdout.startswith("OK:"), ok.stdout + ok.stderr
    lines = (folder / "sample.csv").read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5].replace(lines[5].rsplit(",", 1)[1], "WH9999;WH9998")
    (folder / "sample.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-I", str(script), str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1 and "sample.csv: differs" in bad.stdout


def test_published_lists_hold_no_risk_class_tier_or_personal_data(
    drawn: tuple[Path, Extracts],
) -> None:
    work, _ = drawn
    folder = work / "draws/2024-H2"
    lists = sorted(folder.glob("抽查名单_*.csv"))
    assert lists and sorted(folder.glob("抽查名单_*.xlsx"))
    sample = pl.read_parquet(folder / "sample.parquet")
    listed = []
    for path in lists:
        table = pl.read_csv(path, encoding="utf8-lossy", infer_schema=False)
        assert set(table.columns) == {
            "序号",
            "统一社会信用代码",
            "区划名称",
            "行政区划代码",
            "检查人员编号",
            "抽查计划",
            "抽取日期",
        }
        listed += table.get_column("统一社会信用代码").to_list()
    assert sorted(listed) == sorted(sample.get_column("uscc").to_list())
    for path in folder.iterdir():
        data = path.read_bytes()
        for name in NAMES:
            assert name.encode("utf-8") not in data and name.encode("gb18030") not in data, path


def test_no_seed_draws_one_from_a_secure_source_and_records_it(
    run_2024: Path, tmp_path: Path
) -> None:
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    seeds = []
    for out in ("a", "b"):
        result = gthfx(draw_args(run_2024, out, "--no-excel"), tmp_path)
        assert result.returncode == 0, result.stderr
        manifest = json.loads((tmp_path / out / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["seed_source"] == "generated" and len(manifest["seed"]) == 32
        int(manifest["seed"], 16)
        seeds.append(manifest["seed"])
        assert gthfx(["sample", "verify", out], tmp_path).returncode == 0
    assert seeds[0] != seeds[1]


def test_byte_identical_whatever_the_threads_or_row_order(run_2024: Path, tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    codes = outcomes(run_2024).get_column("uscc").to_list()
    truth = write_extracts(tmp_path / "x", codes, seed=5, clean=True)
    shuffled = tmp_path / "y"
    shuffled.mkdir()
    for name in ("检查记录.csv", "执法人员.csv"):
        encoding = "gb18030" if name == "检查记录.csv" else "utf-8-sig"
        head, *body = (truth.folder / name).read_text(encoding=encoding).splitlines()
        random.Random(9).shuffle(body)
        (shuffled / name).write_text("\n".join([head, *body]) + "\n", encoding=encoding)
    risk = pl.read_excel(truth.folder / "风险分类.xlsx").sample(fraction=1.0, shuffle=True, seed=3)
    write_xlsx(shuffled / "风险分类.xlsx", [("信用风险分类", risk)])
    first = gthfx(
        [*draw_args(run_2024, "one", "--seed", "s"), *truth.args()],
        tmp_path,
        {"POLARS_MAX_THREADS": "1"},
    )
    moved = Extracts(shuffled)
    second = gthfx(
        [*draw_args(run_2024, "two", "--seed", "s"), *moved.args()],
        tmp_path,
        {"POLARS_MAX_THREADS": "2"},
    )
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    names = sorted(p.name for p in (tmp_path / "one").iterdir() if p.name != "manifest.json")
    assert names == sorted(
        p.name for p in (tmp_path / "two").iterdir() if p.name != "manifest.json"
    )
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), (
            name
        )


@pytest.fixture
def copy(drawn: tuple[Path, Extracts], tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the draw and its inputs (the same relative layout)."""
    work, _ = drawn
    root = tmp_path / "w"
    shutil.copytree(work, root)
    folder = root / "draws/2024-H2"
    # as if the draw had been made in the copy: its recorded absolute paths point there
    text = (folder / "manifest.json").read_text(encoding="utf-8")
    (folder / "manifest.json").write_text(text.replace(str(work), str(root)), encoding="utf-8")
    return root, folder


def _verify(root: Path) -> subprocess.CompletedProcess[str]:
    return gthfx(["sample", "verify", "draws/2024-H2"], root)


def test_verify_finds_nothing_in_an_untouched_draw(copy: tuple[Path, Path]) -> None:
    result = _verify(copy[0])
    assert result.returncode == 0, result.stderr
    assert "the same as a redraw" in result.stdout


def test_verify_names_an_output_changed_since_the_draw(copy: tuple[Path, Path]) -> None:
    root, folder = copy
    path = folder / "strata.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",0.4,", ",0.5,", 1), encoding="utf-8")
    result = _verify(root)
    assert result.returncode == 1
    assert "strata.csv: changed since the draw" in result.stderr


def test_verify_redraws_a_forged_sample_whose_hash_was_updated(copy: tuple[Path, Path]) -> None:
    root, folder = copy
    sample = pl.read_parquet(folder / "sample.parquet")
    forged = sample.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit(["WH0001", "WH0002"]))
        .otherwise(pl.col("inspectors"))
        .alias("inspectors")
    )
    forged.write_parquet(folder / "sample.parquet")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["sample.parquet"] = hashlib.sha256(
        (folder / "sample.parquet").read_bytes()
    ).hexdigest()
    (folder / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False), encoding="utf-8"
    )
    result = _verify(root)
    assert result.returncode == 1
    assert "sample.parquet: differs from the redraw: row 4" in result.stderr
    assert "inspectors" in result.stderr


def test_verify_names_an_input_changed_since_the_draw(copy: tuple[Path, Path]) -> None:
    root, _ = copy
    path = root / "extracts/执法人员.csv"
    path.write_bytes(path.read_bytes() + "WH7777,某,420102,\n".encode())
    result = _verify(root)
    assert result.returncode == 1
    assert "执法人员.csv: inspectors input changed since the draw" in result.stderr


def test_verify_notices_another_seed(copy: tuple[Path, Path]) -> None:
    root, folder = copy
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["seed"] = "another"
    (folder / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False), encoding="utf-8"
    )
    result = _verify(root)
    assert result.returncode == 1 and "differs from the redraw" in result.stderr


def test_verify_cannot_verify_without_an_input(copy: tuple[Path, Path]) -> None:
    root, _ = copy
    (root / "plan.yaml").unlink()
    result = _verify(root)
    assert result.returncode == 2
    assert "plan.yaml: the plan of the draw" in result.stderr and "not found" in result.stderr


def test_commit_reveal(run_2024: Path, tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    made = gthfx(["sample", "commit", "--out", "seed.json"], tmp_path)
    assert made.returncode == 0, made.stderr
    secret = json.loads((tmp_path / "seed.json").read_text(encoding="utf-8"))
    assert secret["commitment"] in made.stdout.replace("\n", "").replace(" ", "").replace("│", "")
    assert (
        hashlib.sha256(f"{secret['salt']}|{secret['seed']}".encode()).hexdigest()
        == secret["commitment"]
    )
    again = gthfx(["sample", "commit", "--out", "seed.json"], tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    result = gthfx(draw_args(run_2024, "d", "--seed-file", "seed.json", "--no-excel"), tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "d/manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == secret["seed"] and manifest["seed_source"] == "committed"
    assert manifest["commitment"] == {"salt": secret["salt"], "sha256": secret["commitment"]}
    assert gthfx(["sample", "verify", "d"], tmp_path).returncode == 0
    manifest["commitment"]["salt"] = "0" * 32
    (tmp_path / "d/manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    broken = gthfx(["sample", "verify", "d"], tmp_path)
    assert broken.returncode == 1 and "not the one committed" in broken.stderr
    secret["seed"] = "chosen-after"
    (tmp_path / "altered.json").write_text(json.dumps(secret), encoding="utf-8")
    refused = gthfx(draw_args(run_2024, "e", "--seed-file", "altered.json"), tmp_path)
    assert refused.returncode == 2 and "altered" in refused.stderr


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        ("id: x\nratios: {survival: 1.5}\n", ["plan.yaml", "ratios.survival", "between 0 and 1"]),
        ("id: x\nratio: {survival: 0.1}\n", ["plan.yaml", "ratio", "Extra inputs"]),
        ("id: x\nratios: {surviving: 0.1}\n", ["plan.yaml", "ratios.surviving"]),
        ("id: x\nrisk_ratios: {E: 0.1}\n", ["plan.yaml", "risk_ratios.E"]),
        ("id: x\n", ["plan.yaml", "no ratio"]),
        ("id: x\nid: y\nratios: {survival: 0.1}\n", ["plan.yaml:2", "duplicate key"]),
    ],
)
def test_a_bad_plan_stops_with_exit_2(
    run_2024: Path, tmp_path: Path, plan: str, words: list[str]
) -> None:
    (tmp_path / "plan.yaml").write_text(plan, encoding="utf-8")
    result = gthfx(draw_args(run_2024, "d"), tmp_path)
    assert result.returncode == 2
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "d").exists()


def test_bad_arguments_and_files_stop_with_exit_2(run_2024: Path, tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    missing = gthfx(["sample", "--run", str(run_2024), "--out", "d"], tmp_path)
    assert missing.returncode == 2 and "--plan" in missing.stderr and "--date" in missing.stderr
    both = gthfx(draw_args(run_2024, "d", "--seed", "a", "--seed-file", "s.json"), tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr
    (tmp_path / "risk.csv").write_text(
        "统一社会信用代码,等级\n92420102MA4K1B2C9D,A\n", encoding="utf-8"
    )
    column = gthfx(draw_args(run_2024, "d", "--risk", "risk.csv"), tmp_path)
    assert column.returncode == 2
    assert (
        "risk.csv" in column.stderr
        and "risk_class" in column.stderr
        and "信用风险分类" in column.stderr
    )
    bad_date = gthfx(
        [
            "sample",
            "--run",
            str(run_2024),
            "--plan",
            "plan.yaml",
            "--date",
            "2024-8-1",
            "--out",
            "d",
        ],
        tmp_path,
    )
    assert bad_date.returncode == 2 and "--date" in bad_date.stderr
    assert not (tmp_path / "d").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".staging")]
    ok = gthfx(draw_args(run_2024, "d", "--no-excel"), tmp_path)
    assert ok.returncode == 0
    exists = gthfx(draw_args(run_2024, "d"), tmp_path)
    assert (
        exists.returncode == 2 and "already exists" in exists.stderr and "--force" in exists.stderr
    )
    assert gthfx(draw_args(run_2024, "d", "--force", "--no-excel"), tmp_path).returncode == 0


def test_a_stratum_without_a_ratio_is_warned_about(run_2024: Path, tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text("id: x\nratios: {survival: 0.05}\n", encoding="utf-8")
    result = gthfx(draw_args(run_2024, "d", "--no-excel"), tmp_path)
    assert result.returncode == 0
    assert (
        "warning: stratum 420102|growth|-: no ratio in the plan (ratios.growth): draws nobody"
        in result.stderr
    )
    strata = pl.read_csv(tmp_path / "d/分层统计.csv", encoding="utf8-lossy", infer_schema=False)
    assert "抽查计划未设比例,本层不抽取" in strata.get_column("说明").to_list()
