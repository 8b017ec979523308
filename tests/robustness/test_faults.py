"""Faults end in one clear message (exit 2) and nothing is lost (issue 13, items 13–14): a full
disk or a read-only folder while writing, a kill at every stage, a damaged earlier run, odd
files and paths, rule texts that are too deep or too big, a console that is not UTF-8, one file
serving two extracts, a cell longer than a spreadsheet holds."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from test_messy_inputs import RULES, SOCIAL, TAX, code, csv_text, options, row, write

from gthfx.app.classify import classify
from gthfx.errors import InputError, RulesError, RunError
from gthfx.ingest import load
from gthfx.progress import Reporter
from gthfx.rules.grammar import MAX_DEPTH
from gthfx.runs import layout
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import load_sources
from support import run_cli

PROGRAM = """
import contextlib, os, signal, sys
from pathlib import Path
from gthfx import progress
from gthfx.runs import writer, layout
at = os.environ.get("GTHFX_KILL_AT", "")
original = progress.Reporter.stage

@contextlib.contextmanager
def stage(self, name, label):
    if name == at:
        os.kill(os.getpid(), signal.SIGKILL)
    with original(self, name, label):
        yield

progress.Reporter.stage = stage
renames = [0]
real_rename = Path.rename

def rename(self, target):
    renames[0] += 1
    if at == f"rename{renames[0]}":
        os.kill(os.getpid(), signal.SIGKILL)
    return real_rename(self, target)

Path.rename = rename
if at in ("enospc", "erofs"):  # the disk fills up, or the folder turns read-only, mid-write
    import polars as pl
    real = pl.DataFrame.write_parquet
    def full(self, file, *a, **k):
        if ".staging" in str(file):
            raise OSError(28 if at == "enospc" else 30, at, str(file))
        return real(self, file, *a, **k)
    pl.DataFrame.write_parquet = full
from gthfx.cli.main import main
sys.argv = ["gthfx", *sys.argv[1:]]
main()
"""


def run_program(args: list[str], cwd: Path, at: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "GTHFX_KILL_AT": at, "COLUMNS": "200"},
        check=False,
    )


def digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.name != "manifest.json"
    }


def complete(folder: Path) -> bool:
    """Every file the manifest lists is there with its SHA-256."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return all(
        hashlib.sha256((folder / name).read_bytes()).hexdigest() == sha
        for name, sha in manifest["files"].items()
    )


@pytest.fixture
def inputs(tmp_path: Path) -> list[str]:
    annual = write(tmp_path / "in", "annual.csv", csv_text([row(1), row(2, 从业人数="3")]))
    tax = TAX + f"{code(1)},2023,小规模纳税人,1000,10\n"
    opts = options(tmp_path, annual, tax=tax, social=SOCIAL + f"{code(2)},1\n")
    return [
        "--annual", str(annual), "--tax", str(opts.inputs["tax"][0]),
        "--social", str(opts.inputs["social"][0]), "--rules", str(RULES),
    ]  # fmt: skip


# ---- a kill, a full disk, a read-only folder: the previous run stays whole -----------------


def test_a_kill_at_every_stage_leaves_the_previous_run_whole(
    tmp_path: Path, inputs: list[str]
) -> None:
    args = ["classify", "--date", "2024-07-01", "--out", str(tmp_path / "runs"), *inputs]
    first = run_cli(args, tmp_path)
    assert first.returncode == 0, first.stderr
    run = tmp_path / "runs" / "2024-07-01"
    before = digests(run)
    stages = [
        "rules", "load_annual", "validate_tax", "join", "type", "changes", "write",
        "rename1", "rename2",
    ]  # fmt: skip
    for at in stages:
        killed = run_program([*args, "--force"], tmp_path, at)
        assert killed.returncode == -signal.SIGKILL, (at, killed.stderr)
        assert run.is_dir() or any((tmp_path / "runs").glob(".replaced-*")), at
        again = run_cli([*args, "--force"], tmp_path)  # recovers, then runs
        assert again.returncode == 0, (at, again.stderr)
        assert digests(run) == before, at
        assert complete(run), at
        assert not list((tmp_path / "runs").glob(".staging-*")), at
        assert not list((tmp_path / "runs").glob(".replaced-*")), at


@pytest.mark.parametrize(
    ("fault", "words"), [("enospc", "no space left"), ("erofs", "read-only file system")]
)
def test_a_full_disk_while_writing_is_one_message_and_nothing_is_replaced(
    tmp_path: Path, inputs: list[str], fault: str, words: str
) -> None:
    args = ["classify", "--date", "2024-07-01", "--out", str(tmp_path / "runs"), *inputs]
    assert run_cli(args, tmp_path).returncode == 0
    run = tmp_path / "runs" / "2024-07-01"
    before = digests(run)
    full = run_program([*args, "--force", "--quiet"], tmp_path, fault)
    assert full.returncode == 2
    assert "Traceback" not in full.stderr
    (line, hint) = full.stderr.strip().splitlines()
    assert line.startswith("error:") and words in line and str(run) in line
    assert "hint:" in hint
    assert digests(run) == before and complete(run)
    assert not list((tmp_path / "runs").glob(".staging-*"))


def test_a_read_only_output_folder_is_a_run_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(*args: object, **kwargs: object) -> int:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(layout.os, "open", read_only)
    opts = options(tmp_path, write(tmp_path / "in", "annual.csv", csv_text([row(1)])))
    with pytest.raises(RunError, match="cannot write in the output folder"):
        classify(opts, Reporter(quiet=True))


def test_a_damaged_earlier_run_is_named(tmp_path: Path, inputs: list[str]) -> None:
    args = ["--out", str(tmp_path / "runs"), *inputs]
    assert run_cli(["classify", "--date", "2023-07-01", *args], tmp_path).returncode == 0
    earlier = tmp_path / "runs" / "2023-07-01"
    damaged = earlier / "survival.parquet"
    damaged.write_bytes(damaged.read_bytes()[:50])
    proc = run_cli(["classify", "--date", "2024-07-01", *args], tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert str(earlier) in proc.stderr and "survival.parquet" in proc.stderr
    assert "SHA-256" in proc.stderr
    duck = run_cli(["classify", "--date", "2024-07-01", "--engine", "duckdb", *args], tmp_path)
    assert duck.returncode == 2 and str(earlier) in duck.stderr and "Traceback" not in duck.stderr
    diff = run_cli(["diff", str(earlier), str(earlier)], tmp_path)
    assert diff.returncode == 2 and "damaged" in diff.stderr


# ---- odd files and paths -------------------------------------------------------------------


def test_a_nested_parquet_column_no_field_uses_is_ignored(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "统一社会信用代码": [code(1)],
            "成立日期": ["2020-01-01"],
            "登记状态": ["存续"],
            "附加": [{"a": 1, "b": [1, 2]}],
        }
    )
    path = tmp_path / "a.parquet"
    frame.write_parquet(path)
    raw = load.load_extract("annual", [path], load_sources().extracts["annual"])
    assert raw.frame.get_column("uscc").to_list() == [code(1)]
    used = tmp_path / "b.parquet"
    frame.rename({"附加": "从业人数"}).write_parquet(used)
    with pytest.raises(InputError, match="nested"):
        load.load_extract("annual", [used], load_sources().extracts["annual"])


def test_paths_with_brackets_and_braces_and_owner_files_in_a_glob(tmp_path: Path) -> None:
    """Input files are read under the names as written, whatever they hold; an output folder
    with [ ] is refused clearly; a glob never picks Excel's owner files."""
    folder = tmp_path / "区[1]{2024}"
    annual = write(folder, "annual[江岸].csv", csv_text([row(1)]))
    opts = options(tmp_path, annual)
    args = [
        "classify", "--date", "2024-07-01", "--annual", str(annual),
        "--tax", str(opts.inputs["tax"][0]), "--social", str(opts.inputs["social"][0]),
        "--rules", str(RULES), "--no-excel",
    ]  # fmt: skip
    proc = run_cli([*args, "--out", str(tmp_path / "runs")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    bad_out = run_cli([*args, "--out", str(tmp_path / "runs[2]")], tmp_path)
    assert bad_out.returncode == 2 and "Traceback" not in bad_out.stderr
    assert "[ ]" in bad_out.stderr
    plain = tmp_path / "plain"
    write(plain, "annual.csv", csv_text([row(1)]))
    openpyxl.Workbook().save(plain / "~$annual.xlsx")  # a lock file beside, as Excel leaves it
    (tmp_path / "gthfx.yaml").write_text(
        f"rules: {RULES}\nout: runs3\nexcel: false\nextracts:\n  annual: ['plain/*']\n"
        f"  tax: ['{opts.inputs['tax'][0]}']\n  social: ['{opts.inputs['social'][0]}']\n",
        encoding="utf-8",
    )
    by_glob = run_cli(["classify", "--date", "2024-07-01", "--quiet"], tmp_path)
    assert by_glob.returncode == 0, by_glob.stderr
    written = json.loads((tmp_path / "runs3" / "2024-07-01" / "manifest.json").read_text())
    assert [i["path"] for i in written["inputs"] if i["extract"] == "annual"] == [
        "plain/annual.csv"
    ]
    owner = [*args[:4], str(plain / "~$annual.xlsx"), *args[5:], "--out", "runs4"]
    explicit = run_cli(owner, tmp_path)
    assert explicit.returncode == 2 and "owner" in explicit.stderr


# ---- rule texts ----------------------------------------------------------------------------


def ruleset_with(tmp_path: Path, expression: str, parameter: str = "1") -> Path:
    text = (RULES / "reference-2024.yaml").read_text(encoding="utf-8")
    text = text.replace("    when: not abnormal", f"    when: not abnormal and ({expression})")
    text = text.replace(
        "parameters:\n",
        f"parameters:\n  huge: {{label: x, value: {parameter}, unit: 元, source: x}}\n",
    )
    path = tmp_path / "rules" / "r.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("expression", "parameter", "words"),
    [
        ("(" * 300 + "employees > 1" + ")" * 300, "1", "levels"),
        (" + ".join(["employees"] * 400) + " > 1", "1", "levels"),
        ("not " * 300 + "abnormal", "1", "levels"),
        ("employees > 99999999999999999999999", "1", "64 bits"),
        ("employees > huge", "99999999999999999999999", "64 bits"),
    ],
)
def test_too_deep_or_too_big_rule_texts_are_rules_errors(
    tmp_path: Path, expression: str, parameter: str, words: str
) -> None:
    path = ruleset_with(tmp_path, expression, parameter)
    check = run_cli(["rules", "check", "--rules", str(path)], tmp_path)
    assert check.returncode == 2 and "Traceback" not in check.stderr, check.stderr
    assert words in check.stdout + check.stderr
    opts = options(tmp_path, write(tmp_path / "in", "annual.csv", csv_text([row(1)])))
    with pytest.raises(RulesError, match=words):
        classify(RunOptions(**{**opts.model_dump(), "rules": path}), Reporter(quiet=True))
    assert sys.getrecursionlimit() // 10 > MAX_DEPTH


def test_a_rule_reading_personal_data_is_refused_by_check_and_classify(tmp_path: Path) -> None:
    path = ruleset_with(tmp_path, 'phone != "1"')
    check = run_cli(["rules", "check", "--rules", str(path)], tmp_path)
    assert check.returncode == 2
    assert "`phone` is personal data and cannot be used in rules" in check.stdout
    opts = options(tmp_path, write(tmp_path / "in", "annual.csv", csv_text([row(1)])))
    with pytest.raises(RulesError, match="personal data"):
        classify(RunOptions(**{**opts.model_dump(), "rules": path}), Reporter(quiet=True))


# ---- a console that is not UTF-8 -----------------------------------------------------------


def test_a_gbk_console_shows_what_it_can(tmp_path: Path, inputs: list[str]) -> None:
    env = {**os.environ, "PYTHONIOENCODING": "gbk", "COLUMNS": "200"}

    def gthfx(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from gthfx.cli.main import main; main()", *args],
            cwd=tmp_path, capture_output=True, env=env, check=False, text=True,
            encoding="gbk", errors="replace",
        )  # fmt: skip

    tested = gthfx("rules", "test", "--rules", str(RULES))
    assert tested.returncode == 0 and "Traceback" not in tested.stderr, tested.stderr
    assert gthfx("classify", "--date", "2024-07-01", "--out", "runs", *inputs).returncode == 0
    explained = gthfx("explain", code(2), "--run", "runs/2024-07-01")
    assert explained.returncode == 0 and "Traceback" not in explained.stderr
    assert "成长型" in explained.stdout


# ---- accounting per file, cells Excel cannot hold -----------------------------------------


def test_one_file_serving_two_extracts_keeps_both_accountings(tmp_path: Path) -> None:
    header = "统一社会信用代码,成立日期,登记状态,年报年度,所属年度,参保人数"
    both = write(
        tmp_path / "in",
        "all.csv",
        header + "\n" + "".join(f"{code(i)},2020-01-01,存续,2023,2023,{i}\n" for i in (1, 2)),
    )
    opts = options(tmp_path, both)
    opts = RunOptions(**{**opts.model_dump(), "inputs": {**opts.inputs, "social": (both,)}})
    result = classify(opts, Reporter(quiet=True))
    inputs = json.loads((result.run_dir / "manifest.json").read_text(encoding="utf-8"))["inputs"]
    accounting = {(i["extract"], i["path"]): i["accounting"] for i in inputs}
    assert accounting[("annual", str(both))]["used"] == 2
    assert accounting[("social", str(both))]["used"] == 2


def test_a_cell_longer_than_excel_holds_is_cut_in_workbooks(tmp_path: Path) -> None:
    from gthfx.report.privacy import CUT_MARK, EXCEL_CELL_CHARS
    from gthfx.report.xlsx import write_xlsx

    path = tmp_path / "t.xlsx"
    write_xlsx(path, [("s", pl.DataFrame({"a": ["x" * 40_000, "=1+1"]}))])
    sheet = openpyxl.load_workbook(path).active
    long = sheet["A2"].value
    assert len(long) == EXCEL_CELL_CHARS and long.endswith(CUT_MARK)
    assert sheet["A3"].value == "=1+1" and sheet["A3"].data_type == "s"  # text, not a formula


# ---- formula injection ---------------------------------------------------------------------


def test_values_starting_like_formulas_stay_text_in_every_rendering(tmp_path: Path) -> None:
    """A district code `=HYPERLINK(…)` from an extract: text in the review workbook and the
    result workbook, an apostrophe in front in the clerk CSV; numbers stay numbers."""
    from gthfx.report.privacy import neutralise_formulas

    link = '=HYPERLINK("http://example.com","点我")'
    quoted = '"' + link.replace('"', '""') + '"'  # as a CSV cell
    rows = [row(1, 行政区划代码=quoted, 从业人数="三人"), row(2, 行政区划代码="+420102")]
    opts = options(tmp_path, write(tmp_path / "in", "annual.csv", csv_text(rows)))
    result = classify(RunOptions(**{**opts.model_dump(), "excel": True}), Reporter(quiet=True))
    books = [*result.run_dir.glob("复核_*.xlsx"), result.run_dir / "分型结果.xlsx"]
    seen = 0
    for path in books:
        for sheet in openpyxl.load_workbook(path).worksheets:
            for cells in sheet.iter_rows():
                for cell in cells:
                    assert cell.data_type != "f", (path.name, cell.coordinate)
                    seen += cell.value == link
    assert seen >= 2  # the review workbook and the result workbook show it, as text
    text = (result.run_dir / "不参与分型.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    frame = pl.DataFrame({"t": ["-3", "=1+1", "@x", "+86", "ok", None], "n": [-3.0] * 6})
    done = neutralise_formulas(frame)
    assert done.get_column("t").to_list() == ["-3", "'=1+1", "'@x", "+86", "ok", None]
    assert done.get_column("n").to_list() == [-3.0] * 6
    # a column of gthfx's own words is not looked at (the outcome files' codes, tiers, reasons)
    assert neutralise_formulas(frame, plain=["t"]).equals(frame)
