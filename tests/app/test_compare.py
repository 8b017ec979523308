"""`gthfx diff`: two tiny runs that differ in known ways (one business of each change kind) →
the transition matrix, the by-district counts, the change list and its causes, every format,
`--check` and the exit codes."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from typer.testing import CliRunner

from gthfx.app.classify import classify
from gthfx.app.compare import compare_runs, matrix
from gthfx.cli.main import app
from gthfx.errors import RunError
from gthfx.settings.config import RunOptions
from support import ROOT, run_cli, write_csv_extracts

RULES = ROOT / "rules"

TAX_CSV = (
    "纳税人识别号,所属年度,纳税人类型,销售额,实缴税额\n"
    '92420102MA4K1B2C9D,2023,小规模纳税人,"1,200,000",40000\n'
)
SOCIAL_HEADER = "单位统一社会信用代码,参保人数\n"

D = "92420102MA4K1B2C9D"  # development in both: unchanged
X = "92420103MA4K1B2C9X"  # growth → survival: down
A = "92420104MA4K1B2C9A"  # excluded (abnormal) → survival: in
B = "92420105MA4K1B2C9B"  # survival → growth: up
C = "92420106MA4K1B2C9C"  # excluded in both (unparseable): unchanged
G = "92420111MA4K1B2C9F"  # survival, then no longer in the annual extract: gone
Q = "92420112MA4K1B2C9G"  # survival → excluded (deregistered): out
N = "92420107MA4K1B2C9E"  # only in the second run: new


def row(
    code: str, region: str, *, status: str = "存续", staff: str = "1", abnormal: str = "否"
) -> str:
    return (
        f"{code},店,张三,,,{region},F5211,2018-01-01,{status},2023,2024-02-01,开业,{staff},5,0,"
        f"{abnormal},否,"
    )


RUN_A_ROWS = [
    row(D, "420102", staff="2"),
    row(X, "420103", staff="3"),
    row(A, "420104", abnormal="是"),
    row(B, "420105"),
    row(C, "420106", staff="三人"),
    row(G, "420111"),
    row(Q, "420112"),
]
RUN_B_ROWS = [
    row(D, "420102", staff="2"),
    row(X, "420103", staff="1"),
    row(A, "420104"),
    row(B, "420105", staff="3"),
    row(C, "420106", staff="三人"),
    row(Q, "420112", status="注销"),
    row(N, "420107"),
]


def write_extracts(folder: Path, annual_rows: list[str], social: str = "") -> dict[str, Path]:
    return write_csv_extracts(folder, annual_rows, TAX_CSV, SOCIAL_HEADER + social)


def make_run(folder: Path, out: Path, rows: list[str], *, against: Path | None = None,
             social: str = "") -> Path:  # fmt: skip
    extracts = write_extracts(folder, rows, social)
    options = RunOptions(
        run_date="2024-07-01",  # type: ignore[arg-type]
        inputs={k: (v,) for k, v in extracts.items()},
        out=out,
        rules=RULES,
        against=against,
        excel=False,
    )
    return classify(options).run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """RUN_A, and RUN_B written with --against RUN_A (so its changes.parquet is against A)."""
    base = tmp_path_factory.mktemp("diff")
    run_a = make_run(base / "in-a", base / "a", RUN_A_ROWS, social=f"{X},1\n")
    run_b = make_run(base / "in-b", base / "b", RUN_B_ROWS, against=run_a)
    return run_a, run_b


def tiers(run: Path) -> dict[str, str]:
    frames = [pl.read_parquet(p) for p in run.glob("*.parquet") if p.stem in (
        "survival", "growth", "development", "excluded")]  # fmt: skip
    return dict(pl.concat(frames, how="diagonal_relaxed").select("uscc", "tier").iter_rows())


def test_the_two_runs_are_as_designed(runs: tuple[Path, Path]) -> None:
    run_a, run_b = runs
    assert tiers(run_a) == {
        D: "development", X: "growth", A: "excluded", B: "survival", C: "excluded",
        G: "survival", Q: "survival",
    }  # fmt: skip
    assert tiers(run_b) == {
        D: "development", X: "survival", A: "survival", B: "growth", C: "excluded",
        Q: "excluded", N: "survival",
    }  # fmt: skip


def test_matrix_counts_and_change_list(runs: tuple[Path, Path]) -> None:
    result = compare_runs(*runs)
    cells = {(b, a): n for b, a, n in result.transitions.iter_rows()}
    assert cells == {
        ("development", "development"): 1,
        ("growth", "survival"): 1,
        ("excluded", "survival"): 1,
        ("survival", "growth"): 1,
        ("excluded", "excluded"): 1,
        ("survival", "gone"): 1,
        ("survival", "excluded"): 1,
        ("new", "survival"): 1,
    }
    assert result.counts == {"new": 1, "gone": 1, "up": 1, "down": 1, "in": 1, "out": 1}
    assert result.changed == 6
    kinds = dict(result.changes.select("uscc", "change").iter_rows())
    assert kinds == {X: "down", A: "in", B: "up", G: "gone", Q: "out", N: "new"}
    assert result.changes.get_column("uscc").to_list() == sorted(kinds)

    grid = matrix(result.transitions)
    assert grid.columns == ["上次\\本次", "生存型", "成长型", "发展型", "不参与分型", "消失"]
    assert grid.get_column("上次\\本次").to_list() == [
        "生存型", "成长型", "发展型", "不参与分型", "新增",
    ]  # fmt: skip
    assert grid.row(0) == ("生存型", 0, 1, 0, 1, 1)  # survival → growth, excluded, gone
    assert grid.row(4) == ("新增", 1, 0, 0, 0, 0)
    assert int(grid.drop("上次\\本次").sum_horizontal().sum()) == 8  # every business once


def test_by_district(runs: tuple[Path, Path]) -> None:
    result = compare_runs(*runs)
    rows = {r["region_code"]: r for r in result.districts.iter_rows(named=True)}
    assert set(rows) == {"420102", "420103", "420104", "420105", "420106", "420107", "420111",
                         "420112"}  # fmt: skip
    assert rows["420102"]["district"] == "江岸区"
    assert (rows["420102"]["unchanged"], rows["420102"]["changed"]) == (1, 0)
    assert (rows["420106"]["unchanged"], rows["420106"]["changed"]) == (1, 0)
    for region, kind in (("420103", "down"), ("420104", "in"), ("420105", "up"),
                         ("420111", "gone"), ("420112", "out"), ("420107", "new")):  # fmt: skip
        assert rows[region]["changed"] == 1 and rows[region][kind] == 1, region
        assert rows[region]["unchanged"] == 0
    assert (rows["420111"]["total_before"], rows["420111"]["total_after"]) == (1, 0)
    assert (rows["420107"]["total_before"], rows["420107"]["total_after"]) == (0, 1)
    moves = {(r, b, a): n for r, _, b, a, n in result.district_transitions.iter_rows()}
    assert moves[("420105", "survival", "growth")] == 1
    assert moves[("420107", "new", "survival")] == 1


def test_causes_computed_logged_and_audited(runs: tuple[Path, Path], tmp_path: Path) -> None:
    run_a, run_b = runs
    result = compare_runs(run_a, run_b)
    causes = dict(result.changes.select("uscc", "cause").iter_rows())
    assert causes[B] == "规则 survival.default → growth.standard; 从业人数 1 → 3"
    assert causes[G] == "本次年报数据中无此户"
    assert causes[Q].startswith("不参与分型: 登记状态有效")
    assert set(result.changes.get_column("cause_source")) == {"changes.parquet"}
    assert result.changes.get_column("review").null_count() == result.changed

    # the same runs the other way round: RUN_B's log is not against RUN_A, so causes are computed
    reverse = compare_runs(run_b, run_a)
    assert set(reverse.changes.get_column("cause_source")) == {"diff"}
    assert reverse.notes == []

    # a copy of RUN_B whose log names a cause of its own (as a recheck would) and an audit trail
    copy = run_b.parent / "2024-09-30"
    copy.mkdir()
    for path in run_b.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    logged = pl.read_parquet(copy / "changes.parquet").with_columns(
        pl.when(pl.col("uscc") == A)
        .then(pl.lit("复核更正 abnormal 是 → 否 (李四)"))
        .otherwise(pl.col("cause"))
        .alias("cause")
    )
    logged.write_parquet(copy / "changes.parquet")
    pl.DataFrame(
        {
            "uscc": [A, A, D],
            "kind": ["correction", "correction", "correction"],
            "field": ["abnormal", "employees", "employees"],
            "old": ["是", "1", "2"],
            "new": ["否", "1", "2"],
            "who": ["李四", "李四", "王五"],
            "when": ["2024-09-01", "2024-09-01", "2024-09-02"],
            "why": ["已移出经营异常名录", "核实", "核实"],
        }
    ).write_parquet(copy / "audit.parquet")
    audited = compare_runs(run_a, copy)
    row = audited.changes.filter(pl.col("uscc") == A).row(0, named=True)
    assert row["cause"] == "复核更正 abnormal 是 → 否 (李四)"
    assert row["cause_source"] == "changes.parquet"
    assert row["review"] == (
        "correction abnormal 是 → 否 (李四, 2024-09-01: 已移出经营异常名录); "
        "correction employees 1 → 1 (李四, 2024-09-01: 核实)"
    )
    assert audited.changes.filter(pl.col("uscc") != A).get_column("review").null_count() == 5
    # recheck spells the value columns old_value / new_value: read the same
    audit = pl.read_parquet(copy / "audit.parquet")
    audit.rename({"old": "old_value", "new": "new_value"}).write_parquet(copy / "audit.parquet")
    again = compare_runs(run_a, copy).changes.filter(pl.col("uscc") == A)
    assert again.get_column("review").to_list() == [row["review"]]
    assert D not in audited.changes.get_column("uscc").to_list()  # audited but unchanged

    pl.DataFrame({"uscc": [A]}).write_parquet(copy / "audit.parquet")
    with pytest.raises(RunError, match=r"audit\.parquet: missing column"):
        compare_runs(run_a, copy)


runner = CliRunner()


def invoke(args: list[str]) -> tuple[int, str]:
    result = runner.invoke(app, ["diff", *args], env={"COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_table_format(runs: tuple[Path, Path]) -> None:
    code, out = invoke([str(runs[0]), str(runs[1]), "--limit", "2"])
    assert code == 0
    assert "迁移" in out and "按区" in out and "江岸区" in out and "降型" in out
    assert X in out and A in out and B not in out  # only the first two changes are listed
    assert "4 more" in out


def test_csv_format(runs: tuple[Path, Path], tmp_path: Path) -> None:
    code, out = invoke([str(runs[0]), str(runs[1]), "--format", "csv"])
    assert code == 0
    frame = pl.read_csv(StringIO(out), schema_overrides={"region_code": pl.String})
    assert frame.columns[:6] == ["uscc", "region_code", "district", "tier_before", "tier_after",
                                 "change"]  # fmt: skip
    assert dict(frame.select("uscc", "change").iter_rows()) == {
        X: "down", A: "in", B: "up", G: "gone", Q: "out", N: "new",
    }  # fmt: skip
    target = tmp_path / "changes.csv"
    code, _ = invoke([str(runs[0]), str(runs[1]), "--format", "csv", "--out", str(target)])
    assert code == 0
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM for Excel
    assert pl.read_csv(target).height == 6


def test_json_format(runs: tuple[Path, Path], tmp_path: Path) -> None:
    code, out = invoke([str(runs[0]), str(runs[1]), "--format", "json"])
    assert code == 0
    doc = json.loads(out)
    assert doc["changed"] == 6
    assert doc["counts"] == {"new": 1, "gone": 1, "up": 1, "down": 1, "in": 1, "out": 1}
    assert doc["matrix"]["rows"] == ["survival", "growth", "development", "excluded", "new"]
    assert doc["matrix"]["columns"] == ["survival", "growth", "development", "excluded", "gone"]
    assert doc["matrix"]["cells"][0] == [0, 1, 0, 1, 1]
    assert doc["matrix"]["cells"][4] == [1, 0, 0, 0, 0]
    assert {c["uscc"] for c in doc["changes"]} == {X, A, B, G, Q, N}
    assert len(doc["districts"]) == 8
    target = tmp_path / "diff.json"
    code, _ = invoke([str(runs[0]), str(runs[1]), "--format", "json", "--out", str(target)])
    assert code == 0 and json.loads(target.read_text(encoding="utf-8"))["changed"] == 6


def test_xlsx_format(
    runs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "diff.xlsx"
    code, _ = invoke([str(runs[0]), str(runs[1]), "--format", "xlsx", "--out", str(target)])
    assert code == 0
    book = openpyxl.load_workbook(target, read_only=True)
    assert book.sheetnames == ["迁移", "分区", "变动"]
    grid = list(book["迁移"].iter_rows(values_only=True))
    assert grid[0] == ("上次\\本次", "生存型", "成长型", "发展型", "不参与分型", "消失")
    assert grid[1] == ("生存型", 0, 1, 0, 1, 1)
    listing = list(book["变动"].iter_rows(values_only=True))
    assert listing[0][:3] == ("统一社会信用代码", "行政区划代码", "区划名称")
    assert len(listing) == 7
    assert {r[0]: r[5] for r in listing[1:]}[B] == "升型"
    districts = list(book["分区"].iter_rows(values_only=True))
    assert "区划名称" in districts[0] and len(districts) == 9
    book.close()
    # without --out: diff-<A>-<B>.xlsx in the current folder
    monkeypatch.chdir(tmp_path)
    code, _ = invoke([str(runs[0]), str(runs[1]), "--format", "xlsx"])
    assert code == 0
    assert (tmp_path / f"diff-{runs[0].name}-{runs[1].name}.xlsx").exists()


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_check_exit_codes(runs: tuple[Path, Path], fmt: str, tmp_path: Path) -> None:
    run_a, run_b = runs
    assert invoke([str(run_a), str(run_b), "--check", "--format", fmt])[0] == 1
    code, _ = invoke([str(run_b), str(run_b), "--check", "--format", fmt])
    assert code == 0


def test_check_with_xlsx(runs: tuple[Path, Path], tmp_path: Path) -> None:
    out = str(tmp_path / "d.xlsx")
    assert invoke([str(runs[0]), str(runs[1]), "--check", "--format", "xlsx", "--out", out])[0] == 1
    assert invoke([str(runs[1]), str(runs[1]), "--check", "--format", "xlsx", "--out", out])[0] == 0


def test_bad_format_is_a_usage_problem(runs: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["diff", str(runs[0]), str(runs[1]), "--format", "html"])
    assert result.exit_code != 0
    assert "html" in str(result.exception)


def test_missing_or_incomplete_run_is_exit_2(runs: tuple[Path, Path], tmp_path: Path) -> None:
    proc = run_cli(["diff", str(tmp_path / "nope"), str(runs[1]), "--check"], tmp_path)
    assert proc.returncode == 2
    assert "no such run folder" in proc.stderr and "Traceback" not in proc.stderr
    half = tmp_path / "half"
    half.mkdir()
    (half / "survival.parquet").write_bytes((runs[1] / "survival.parquet").read_bytes())
    proc = run_cli(["diff", str(runs[0]), str(half)], tmp_path)
    assert proc.returncode == 2
    assert "not a complete gthfx run folder" in proc.stderr
    proc = run_cli(["diff", str(runs[0]), str(runs[1]), "--format", "html"], tmp_path)
    assert proc.returncode == 2 and "--format" in proc.stderr
