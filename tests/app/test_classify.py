"""`gthfx classify` end to end through the CLI: the run folder, accounting, determinism,
atomicity, the lock, the change log, the config file, exit codes and privacy."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from gthfx.app.classify import classify
from gthfx.cli.main import app
from gthfx.report import render
from gthfx.settings.config import RunOptions
from support import ROOT, run_cli, write_csv_extracts

RULES = ROOT / "rules"

# name, code, operator, id number, phone: personal data that must never leave the run
ANNUAL_ROWS = [
    # development: 2015, tax row with 1.2 M sales and 40 k tax
    "92420102MA4K1B2C9D,甲店,张三丰,420102198001011234,13912345678,420102,F5211,2015-03-01,"
    "存续,2023,2024/3/1,开业,2,50,1,否,否,",
    # growth via employees, full-width code
    "９２４２０１０３ＭＡ４Ｋ１Ｂ２Ｃ９Ｘ,乙店,李四,,,420103,H6210,2019年5月1日,在营,2023,20240301,"
    "开业,3,20,0,N,N,备注文字",
    # excluded: abnormal
    "92420104MA4K1B2C9A,丙店,王五,,,420104,F5224,2018-01-01,存续,2023,2024-02-01,开业,1,5,0,是,否,",
    # survival
    "92420105MA4K1B2C9B,丁店,赵六,,,420105,O8051,2022-01-01,开业,2023,2024-02-01,开业,1,5,0,否,否,",
    # excluded: unparseable employees
    "92420106MA4K1B2C9C,戊店,钱七,,,420106,F5211,2016-01-01,存续,2023,2024-02-01,开业,三人,5,0,否,否,",
    # rejected: malformed code
    "9242010,己店,孙八,,,420102,F5211,2016-01-01,存续,2023,2024-02-01,开业,1,5,0,否,否,",
    # rejected: enterprise code (91…)
    "91420102MA4K1B2C9D,庚公司,周九,,,420102,F5211,2016-01-01,存续,2023,2024-02-01,开业,1,5,0,否,否,",
    # exact duplicate of the survival row (collapsed)
    "92420105MA4K1B2C9B,丁店,赵六,,,420105,O8051,2022/1/1,开业,2023,2024-02-01,开业,1,5,0,否,否,",
]
TAX_CSV = (
    "纳税人识别号,所属年度,纳税人类型,销售额,实缴税额\n"
    '92420102MA4K1B2C9D,2023,小规模纳税人,"1,200,000",40000\n'
    "92429999MA4K1B2C9D,2023,小规模纳税人,100,1\n"  # orphan
)
SOCIAL_CSV = "单位统一社会信用代码,参保人数\n92420103MA4K1B2C9X,1\n"


def write_extracts(folder: Path, annual_rows: list[str] | None = None) -> dict[str, Path]:
    rows = ANNUAL_ROWS if annual_rows is None else annual_rows
    return write_csv_extracts(folder, rows, TAX_CSV, SOCIAL_CSV, social_encoding="gb18030")


def classify_args(paths: dict[str, Path], out: Path, date: str = "2024-07-01") -> list[str]:
    return [
        "classify", "--date", date,
        "--annual", str(paths["annual"]), "--tax", str(paths["tax"]),
        "--social", str(paths["social"]), "--out", str(out), "--rules", str(RULES),
    ]  # fmt: skip


@pytest.fixture
def extracts(tmp_path: Path) -> dict[str, Path]:
    return write_extracts(tmp_path / "in")


def test_run_folder_outcomes_and_accounting(tmp_path: Path, extracts: dict[str, Path]) -> None:
    proc = run_cli(classify_args(extracts, tmp_path / "runs"), tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "runs" / "2024-07-01"
    expected = {
        "survival.parquet", "growth.parquet", "development.parquet", "excluded.parquet",
        "rejects.parquet", "changes.parquet", "manifest.json", "分型结果.xlsx",
        "生存型.csv", "成长型.csv", "发展型.csv", "不参与分型.csv", "拒收.csv",
    }  # fmt: skip
    # a first run: its change log lists every business as new, and has no clerk rendering
    names = {p.name for p in run.iterdir()}
    reviews = {n for n in names if n.startswith("复核_") and n.endswith(".xlsx")}
    assert names - reviews == expected
    # one review workbook per district of the typed businesses
    assert reviews == {
        f"复核_{d}.xlsx"
        for d in (
            "江岸区_420102",
            "江汉区_420103",
            "硚口区_420104",
            "汉阳区_420105",
            "武昌区_420106",
        )
    }
    tiers = {
        t: pl.read_parquet(run / f"{t}.parquet").get_column("uscc").to_list()
        for t in ("survival", "growth", "development", "excluded")
    }
    assert tiers["development"] == ["92420102MA4K1B2C9D"]
    assert tiers["growth"] == ["92420103MA4K1B2C9X"]
    assert tiers["survival"] == ["92420105MA4K1B2C9B"]
    assert tiers["excluded"] == ["92420104MA4K1B2C9A", "92420106MA4K1B2C9C"]
    excluded = pl.read_parquet(run / "excluded.parquet")
    assert excluded.get_column("reasons").to_list() == [
        ["not_abnormal"],
        ["unparseable:annual.employees"],
    ]
    rejects = pl.read_parquet(run / "rejects.parquet")
    assert sorted(rejects.get_column("reason").to_list()) == [
        "malformed_code",
        "not_individual",
        "orphan",
    ]
    malformed = rejects.filter(pl.col("reason") == "malformed_code").row(0, named=True)
    assert malformed["file"] == str(extracts["annual"])
    assert malformed["row"] == 7  # header is row 1
    assert malformed["raw_value"] == "9242010"
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["accounting"]["annual"] == {
        "read": 8,
        "used": 5,
        "rejected": 2,
        "collapsed": 1,
    }
    assert manifest["accounting"]["tax"] == {"read": 2, "used": 1, "rejected": 1, "collapsed": 0}
    assert manifest["outcomes"] == {"survival": 1, "growth": 1, "development": 1, "excluded": 2}
    encodings = {i["extract"]: i["encoding"] for i in manifest["inputs"]}
    assert encodings == {"annual": "utf-8-sig", "tax": "utf-8", "social": "gb18030"}
    for info in manifest["inputs"]:
        acc = info["accounting"]
        assert acc["read"] == acc["used"] + acc["rejected"] + acc["collapsed"]
    assert manifest["ruleset"]["id"] == "hubei-reference-2024"
    assert manifest["ruleset"]["parameters"]["development_min_sales_yuan"]["unit"] == "元"


def test_outputs_are_sorted_with_fixed_columns(tmp_path: Path, extracts: dict[str, Path]) -> None:
    assert run_cli(classify_args(extracts, tmp_path / "runs"), tmp_path).returncode == 0
    run = tmp_path / "runs" / "2024-07-01"
    frames = [pl.read_parquet(run / f"{t}.parquet") for t in ("survival", "excluded")]
    assert frames[0].columns == frames[1].columns
    assert frames[0].columns[:8] == [
        "uscc", "tier", "tier_label", "rule_id", "reasons", "flags", "region_code", "industry_code",
    ]  # fmt: skip
    for frame in frames:
        codes = frame.get_column("uscc").to_list()
        assert codes == sorted(codes)
    assert "sales_yuan" in frames[0].columns  # the indicators the tier rules read


def test_personal_data_stays_out_of_outputs_and_logs(
    tmp_path: Path, extracts: dict[str, Path]
) -> None:
    proc = run_cli(classify_args(extracts, tmp_path / "runs"), tmp_path)
    assert proc.returncode == 0
    secrets = ["张三丰", "420102198001011234", "13912345678", "李四"]
    for secret in secrets:
        assert secret not in proc.stdout
        assert secret not in proc.stderr
    for path in (tmp_path / "runs" / "2024-07-01").iterdir():
        if path.suffix in (".csv", ".json"):
            text = path.read_text(encoding="utf-8-sig")
            assert not any(s in text for s in secrets), path.name
        elif path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            assert not {"operator_name", "operator_id", "phone"} & set(frame.columns)


def test_rerun_needs_force_and_is_byte_identical(tmp_path: Path, extracts: dict[str, Path]) -> None:
    args = classify_args(extracts, tmp_path / "runs")
    assert run_cli(args, tmp_path).returncode == 0
    run = tmp_path / "runs" / "2024-07-01"
    first = {p.name: p.read_bytes() for p in run.iterdir() if p.name != "manifest.json"}
    again = run_cli(args, tmp_path)
    assert again.returncode == 2
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert run_cli([*args, "--force"], tmp_path).returncode == 0
    second = {p.name: p.read_bytes() for p in run.iterdir() if p.name != "manifest.json"}
    assert first.keys() == second.keys()
    assert first == second
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    for name, digest in manifest["files"].items():
        import hashlib

        assert hashlib.sha256((run / name).read_bytes()).hexdigest() == digest


def test_change_log_against_previous_run(tmp_path: Path, extracts: dict[str, Path]) -> None:
    out = tmp_path / "runs"
    # last year: the development business was only a growth one, the abnormal one was typed
    earlier = write_extracts(
        tmp_path / "in2023",
        [
            ANNUAL_ROWS[0]
            .replace("2023,2024/3/1", "2022,2023/3/1")
            .replace(",2,50,1,", ",3,10,0,"),
            ANNUAL_ROWS[2]
            .replace("2023,2024-02-01", "2022,2023-02-01")
            .replace(",是,否", ",否,否"),
            "92420107MA4K1B2C9E,辛店,吴十,,,420107,F5211,2010-01-01,存续,2022,2023-02-01,开业,1,5,0,"
            "否,否,",
        ],
    )
    earlier["tax"].write_text("纳税人识别号,所属年度\n", encoding="utf-8")
    assert run_cli(classify_args(earlier, out, "2023-07-01"), tmp_path).returncode == 0
    proc = run_cli(classify_args(extracts, out), tmp_path)
    assert proc.returncode == 0, proc.stderr
    changes = pl.read_parquet(out / "2024-07-01" / "changes.parquet")
    by_code = {r["uscc"]: r for r in changes.iter_rows(named=True)}
    assert by_code["92420102MA4K1B2C9D"]["change"] == "up"
    assert by_code["92420102MA4K1B2C9D"]["tier_before"] == "growth"
    # in the clerk's words: the indicator's label, not its id
    assert (
        "年销售额(元,税务优先,否则年报营业额) 100000 → 1200000"
        in by_code["92420102MA4K1B2C9D"]["cause"]
    )
    assert by_code["92420104MA4K1B2C9A"]["change"] == "out"
    assert "未列入经营异常状态" in by_code["92420104MA4K1B2C9A"]["cause"]
    assert by_code["92420107MA4K1B2C9E"]["change"] == "gone"
    assert by_code["92420105MA4K1B2C9B"]["change"] == "new"
    manifest = json.loads((out / "2024-07-01" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["previous_run"] == str(out / "2023-07-01")
    # against a previous run the clerks get the change log in Chinese, one row per change
    lines = (out / "2024-07-01" / "变动.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + changes.height
    assert any(line.startswith("92420102MA4K1B2C9D,") and "升型" in line for line in lines)


def test_first_run_change_log_is_all_new(tmp_path: Path, extracts: dict[str, Path]) -> None:
    assert run_cli(classify_args(extracts, tmp_path / "runs"), tmp_path).returncode == 0
    run = tmp_path / "runs" / "2024-07-01"
    changes = pl.read_parquet(run / "changes.parquet")
    assert changes.height == 5
    assert set(changes.get_column("change")) == {"new"}
    # nothing to review against: no clerk rendering that would repeat the outcome lists
    assert not (run / "变动.csv").exists()
    assert json.loads((run / "manifest.json").read_text(encoding="utf-8"))["previous_run"] is None


def test_second_run_on_a_locked_folder_refuses(tmp_path: Path, extracts: dict[str, Path]) -> None:
    out = tmp_path / "runs"
    out.mkdir()
    with (out / ".gthfx.lock").open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        proc = run_cli(classify_args(extracts, out), tmp_path)
    assert proc.returncode == 2
    assert "another gthfx run" in proc.stderr
    assert not (out / "2024-07-01").exists()


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from gthfx.runs import layout
    from gthfx.cli.main import main
    mode = os.environ["KILL_MODE"]
    original = layout.commit
    def commit(staging, target):
        if mode == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        # between the two renames: the old run moved aside, the new one not yet in place
        target.rename(target.parent / f".replaced-{target.name}-{os.getpid()}")
        os.kill(os.getpid(), signal.SIGKILL)
    layout.commit = commit
    import gthfx.runs.writer
    gthfx.runs.writer.commit = commit
    sys.argv = ["gthfx", *sys.argv[1:]]
    main()
    """
)


@pytest.mark.parametrize("mode", ["before", "between"])
def test_killed_run_leaves_previous_run_intact(
    tmp_path: Path, extracts: dict[str, Path], mode: str
) -> None:
    out = tmp_path / "runs"
    args = classify_args(extracts, out)
    assert run_cli(args, tmp_path).returncode == 0
    run = out / "2024-07-01"
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    # change the data so that a completed re-run would differ
    extracts["social"].write_bytes(SOCIAL_CSV.replace(",1\n", ",9\n").encode("gb18030"))
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, *args, "--force"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "KILL_MODE": mode},
        check=False,
    )
    assert proc.returncode == -9
    if mode == "before":
        assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    # the next run (or any run on the folder) recovers and cleans up
    assert run_cli(args, tmp_path).returncode == 2  # the run exists again: it needs --force
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert not list(out.glob(".staging-*")) and not list(out.glob(".replaced-*"))


def test_config_file_templates(tmp_path: Path) -> None:
    write_extracts(tmp_path / "data" / "2023")
    (tmp_path / "gthfx.yaml").write_text(
        textwrap.dedent(
            f"""
            out: output
            rules: {RULES}
            extracts:
              annual: ["data/{{report_year}}/annual*.csv"]
              tax: ["data/{{report_year}}/tax.csv"]
              social: ["data/{{report_year}}/social.csv"]
            """
        ),
        encoding="utf-8",
    )
    proc = run_cli(["classify", "--date", "2024-07-01", "--quiet"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    assert (tmp_path / "output" / "2024-07-01" / "manifest.json").exists()
    missing = run_cli(["classify", "--date", "2025-07-01"], tmp_path)
    assert missing.returncode == 2
    assert "no file matches" in missing.stderr and "2024" in missing.stderr


def test_plain_log_lines_when_not_a_terminal(tmp_path: Path, extracts: dict[str, Path]) -> None:
    proc = run_cli(classify_args(extracts, tmp_path / "runs"), tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert lines and all(" gthfx INFO " in line for line in lines)
    assert "\x1b[" not in proc.stderr  # no colours, no bars
    assert "stage=type done" in proc.stderr
    assert "分型结果" in proc.stdout and "江岸区" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2024-13-01"], "not a date"),
        (["--annual", "nope.csv"], "file not found"),
        (["--rules", "nowhere"], "no such ruleset"),
        (["--date", "2023-06-30"], "no ruleset"),
        (["--encoding", "latin-1"], "unknown encoding"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    tmp_path: Path, extracts: dict[str, Path], args: list[str], message: str
) -> None:
    base = classify_args(extracts, tmp_path / "runs")
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag in base:
            base[base.index(flag) + 1] = value
        else:
            base += [flag, value]
    proc = run_cli(base, tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_column_names_file_field_and_headers(
    tmp_path: Path, extracts: dict[str, Path]
) -> None:
    extracts["annual"].write_text("统一社会信用代码,登记状态\n92420102MA4K1B2C9D,存续\n", "utf-8")
    proc = run_cli(classify_args(extracts, tmp_path / "runs"), tmp_path)
    assert proc.returncode == 2
    assert str(extracts["annual"]) in proc.stderr
    assert (
        "established_on" in proc.stderr and "成立日期" in proc.stderr and "注册日期" in proc.stderr
    )


def test_long_tables_split_at_the_sheet_limit(
    tmp_path: Path, extracts: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Excel's row limit, made small: every sheet and CSV part holds at most that many rows."""
    monkeypatch.setattr(render, "EXCEL_MAX_ROWS", 3)  # header + 2 rows
    rows = [
        f"9242011{i}MA4K1B2C9D,店,某,,,420102,F5211,2015-03-01,存续,2023,2024-02-01,开业,1,5,0,否,否,"
        for i in range(6)
    ]
    write_extracts(tmp_path / "in", rows)
    options = RunOptions(
        run_date="2024-07-01",  # type: ignore[arg-type]
        inputs={k: (v,) for k, v in extracts.items()},
        out=tmp_path / "runs",
        rules=RULES,
    )
    result = classify(options)
    assert result.counts["survival"] == 6
    run = result.run_dir
    parts = sorted(p.name for p in run.glob("生存型*.csv"))
    assert parts == ["生存型.csv", "生存型_2.csv", "生存型_3.csv"]
    assert sum(pl.read_csv(run / p).height for p in parts) == 6
    import openpyxl

    book = openpyxl.load_workbook(run / "分型结果.xlsx", read_only=True)
    survival_sheets = [n for n in book.sheetnames if n.startswith("生存型")]
    assert survival_sheets == ["生存型", "生存型(2)", "生存型(3)"]
    assert all(book[n].max_row <= 3 for n in survival_sheets)
    first = list(book["生存型"].iter_rows(values_only=True))
    assert first[0][0] == "统一社会信用代码"


def test_help_has_an_example() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["classify", "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and "--date" in result.output
