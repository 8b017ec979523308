"""`gthfx recheck` (SPEC §9): the Q3 re-run of a base run with the review's corrections,
decisions and feedback — reproduction, causes, the audit trail, the feedback report, and every
problem of the review files listed at once."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from gthfx.app.classify import classify
from gthfx.app.recheck import RecheckOptions, mask_personal, recheck
from gthfx.app.review_input import ReviewError, tier_of
from gthfx.cli.main import app
from gthfx.runs.reader import read_outcomes
from gthfx.settings.config import RunOptions
from support import ROOT, run_cli, write_csv_extracts

RULES = ROOT / "rules"
FIXTURES = ROOT / "tests" / "fixtures" / "review"

DEV, GROWTH, SURVIVAL, ABNORMAL, LATE = (
    "92420102MA4K1B2C9D",
    "92420103MA4K1B2C9X",
    "92420105MA4K1B2C9B",
    "92420104MA4K1B2C9A",
    "92420106MA4K1B2C9C",
)
ANNUAL_ROWS = [
    f"{DEV},甲店,张三丰,420102198001011234,13912345678,420102,F5211,2015-03-01,存续,2023,"
    "2024/3/1,开业,2,50,1,否,否,",
    f"{GROWTH},乙店,李四,,,420103,H6210,2019-05-01,在营,2023,2024-03-01,开业,3,20,0,否,否,",
    # survival with 2 employees: a correction to 5 makes it growth
    f"{SURVIVAL},丁店,赵六,,,420105,O8051,2022-01-01,开业,2023,2024-02-01,开业,2,5,0,否,否,",
    f"{ABNORMAL},丙店,王五,,,420104,F5224,2018-01-01,存续,2023,2024-02-01,开业,1,5,0,是,否,",
    # no 2023 annual report at the 1 July run: excluded (reported)
    f"{LATE},戊店,钱七,,,420106,F5211,2016-01-01,存续,2022,2023-03-01,开业,1,5,0,否,否,",
]
LATE_REPORT = f"{LATE},戊店,钱七,,,420106,F5211,2016-01-01,存续,2023,2024-08-15,开业,1,5,0,否,否,"
TAX_CSV = (
    f'纳税人识别号,所属年度,纳税人类型,销售额,实缴税额\n{DEV},2023,小规模纳税人,"1,200,000",40000\n'
)
SOCIAL_CSV = f"单位统一社会信用代码,参保人数\n{GROWTH},1\n"


def write_extracts(folder: Path, annual_rows: list[str] | None = None) -> dict[str, Path]:
    rows = ANNUAL_ROWS if annual_rows is None else annual_rows
    return write_csv_extracts(folder, rows, TAX_CSV, SOCIAL_CSV, social_encoding="gb18030")


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A 1 July classify run of the tiny extracts; returns its run folder."""
    paths = write_extracts(tmp_path / "in")
    result = classify(
        RunOptions(
            run_date=date(2024, 7, 1),
            inputs={k: (v,) for k, v in paths.items()},
            out=tmp_path / "runs",
            rules=RULES,
            excel=False,
        )
    )
    return result.run_dir


def options(base: Path, **kw: object) -> RecheckOptions:
    settings: dict[str, object] = {
        "run_date": date(2024, 9, 30),
        "base": base,
        "out": base.parent,
        "rules": RULES,
        "excel": False,
        **kw,
    }
    return RecheckOptions(**settings)  # type: ignore[arg-type]


def outcomes(run: Path) -> dict[str, tuple[str, str, list[str]]]:
    frame = read_outcomes(run)
    return {
        r["uscc"]: (r["tier"], r["rule_id"], r["reasons"])
        for r in frame.select("uscc", "tier", "rule_id", "reasons").iter_rows(named=True)
    }


def test_recheck_without_review_reproduces_the_base_run(base: Path) -> None:
    before = outcomes(base)
    assert before[SURVIVAL][0] == "survival" and before[LATE][0] == "excluded"
    result = recheck(options(base))
    assert outcomes(result.run_dir) == before
    # not only tiers: every column of every outcome file, `decided` false in both
    for name in ("survival", "growth", "development", "excluded"):
        assert pl.read_parquet(result.run_dir / f"{name}.parquet").equals(
            pl.read_parquet(base / f"{name}.parquet")
        ), name
    assert pl.read_parquet(result.run_dir / "changes.parquet").height == 0
    assert pl.read_parquet(result.run_dir / "audit.parquet").height == 0
    manifest = json.loads((result.run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "recheck"
    assert manifest["base_run"] == str(base)
    assert manifest["ruleset"]["id"] == "hubei-reference-2024"


def test_correction_moves_a_business_up_with_its_cause(base: Path) -> None:
    args = [
        "recheck", "--date", "2024-09-30", "--base", base.name, "--out", str(base.parent),
        "--rules", str(RULES), "--corrections", str(FIXTURES / "corrections.csv"),
        "--feedback", str(FIXTURES / "feedback.csv"), "--no-excel",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run = base.parent / "2024-09-30"
    assert outcomes(run)[SURVIVAL][:2] == ("growth", "growth.standard")
    changes = pl.read_parquet(run / "changes.parquet")
    change = changes.filter(pl.col("uscc") == SURVIVAL).row(0, named=True)
    assert change["change"] == "up"
    assert "更正从业人数 2 → 5" in change["cause"] and "王某" in change["cause"]
    assert changes.height == 1  # nothing else moved

    audit = pl.read_parquet(run / "audit.parquet")
    assert audit.select("uscc", "kind", "field", "old_value", "new_value", "who").rows() == [
        (SURVIVAL, "correction", "employees", "2", "5", "王某")
    ]
    assert audit.row(0, named=True)["when"] == "2024-08-20"
    assert audit.row(0, named=True)["why"] == "现场核实从业人员5人"
    clerk = pl.read_csv(run / "复核记录.csv")
    assert clerk.columns[:4] == ["统一社会信用代码", "类型", "字段", "原值"]
    assert clerk.row(0, named=True)["类型"] == "更正"

    report = pl.read_csv(run / "反馈答复.csv").sort("统一社会信用代码")
    rows = {r["统一社会信用代码"]: r for r in report.iter_rows(named=True)}
    assert rows[SURVIVAL]["答复"] == (
        "经复核,您的分型由生存型调整为成长型,原因:更正从业人数 2 → 5(复核人 王某)。"
    )
    assert rows[SURVIVAL]["原分型"] == "生存型" and rows[SURVIVAL]["复核后分型"] == "成长型"
    assert rows[DEV]["答复"] == "经复核,您的分型维持发展型。"
    text = (run / "反馈答复.csv").read_text(encoding="utf-8-sig")
    assert "13912345678" not in text and "139****5678" in text
    for secret in ("张三丰", "420102198001011234", "赵六"):
        assert secret not in text
    assert pl.read_parquet(run / "feedback.parquet").height == 2


def test_decision_sets_the_tier_by_hand(base: Path) -> None:
    result = recheck(options(base, decisions=(FIXTURES / "decisions.csv",)))
    development = pl.read_parquet(result.run_dir / "development.parquet")
    row = development.filter(pl.col("uscc") == GROWTH).row(0, named=True)
    assert (row["tier"], row["tier_label"], row["rule_id"], row["decided"]) == (
        "development", "发展型", "decision", True,
    )  # fmt: skip
    others = read_outcomes(result.run_dir).filter(pl.col("uscc") != GROWTH)
    assert not others.get_column("decided").any()
    assert not read_outcomes(base).get_column("decided").any()  # classify: false, same schema
    clerk = pl.read_csv(result.run_dir / "发展型.csv")
    assert dict(zip(clerk["统一社会信用代码"], clerk["人工认定"], strict=True))[GROWTH] == "是"
    cause = pl.read_parquet(result.run_dir / "changes.parquet").row(0, named=True)
    assert cause["uscc"] == GROWTH and cause["rule_after"] == "decision"
    assert "人工认定发展型" in cause["cause"] and "李科长" in cause["cause"]
    audit = pl.read_parquet(result.run_dir / "audit.parquet").row(0, named=True)
    assert (audit["kind"], audit["new_value"], audit["who"]) == (
        "decision",
        "development",
        "李科长",
    )


def test_a_changed_input_file_stops_the_recheck(base: Path, tmp_path: Path) -> None:
    tax = tmp_path / "in" / "tax.csv"
    tax.write_text(TAX_CSV + f"{SURVIVAL},2023,小规模纳税人,10,1\n", encoding="utf-8")
    args = ["recheck", "--date", "2024-09-30", "--base", str(base), "--out", str(base.parent),
            "--rules", str(RULES)]  # fmt: skip
    proc = run_cli(args, tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "tax.csv" in proc.stderr and "changed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (base.parent / "2024-09-30").exists()


def test_fresh_extracts_are_accepted_and_late_reports_count(base: Path, tmp_path: Path) -> None:
    rows = [r for r in ANNUAL_ROWS if not r.startswith(LATE)] + [LATE_REPORT]
    fresh = write_extracts(tmp_path / "fresh", rows)
    # the base run's annual file changed too: given fresh, it is not read
    (tmp_path / "in" / "annual.csv").write_text("changed", encoding="utf-8")
    result = recheck(options(base, fresh={"annual": (fresh["annual"],)}))
    assert outcomes(result.run_dir)[LATE][:2] == ("survival", "survival.default")
    change = pl.read_parquet(result.run_dir / "changes.parquet").row(0, named=True)
    assert (change["uscc"], change["change"]) == (LATE, "in")
    assert "新数据" in change["cause"]
    manifest = json.loads((result.run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["fresh_extracts"] == ["annual"]
    assert {Path(i["path"]).parent.name for i in manifest["inputs"]} == {"fresh", "in"}


def test_every_bad_row_is_listed_at_once(base: Path) -> None:
    bad = FIXTURES / "corrections_bad.csv"
    bad_decisions = FIXTURES / "decisions_bad.csv"
    with pytest.raises(ReviewError) as caught:
        recheck(options(base, corrections=(bad,), decisions=(bad_decisions,)))
    message = str(caught.value)
    expected = [
        f"{bad}: row 2: unknown code 92420199MA4K1B2C9Z",
        f"{bad}: row 3: unknown field '颜色'",
        f"{bad}: row 4: '很多' is not a valid decimal for revenue",
        f"{bad}: row 5: phone (联系电话) is personal data",
        f"{bad}: row 7: conflicts with {bad} row 6",
        f"{bad}: row 8: {SURVIVAL} has no 税务 (tax) row",
        f"{bad_decisions}: row 2: unknown tier '超级型'",
        f"{bad_decisions}: row 3: a decision needs its approver",
        f"{bad_decisions}: row 3: a decision needs its reason",
    ]
    for line in expected:
        assert line in message, line
    assert "9 problem(s)" in message and "nothing was applied" in message
    assert not (base.parent / "2024-09-30").exists()
    assert caught.value.exit_code == 2


def test_tier_words_and_masking() -> None:
    assert tier_of("发展型") == tier_of("development") == tier_of(" Development ") == "development"
    assert tier_of("超级型") is None
    masked = mask_personal("电话13912345678,身份证420102198001011234,座机027-87654321")
    assert "13912345678" not in masked and "420102198001011234" not in masked
    assert "87654321" not in masked


def test_correcting_an_unparseable_value_brings_the_business_in(tmp_path: Path) -> None:
    rows = [
        *ANNUAL_ROWS[:4],
        ANNUAL_ROWS[4].replace(",2022,2023-03-01,开业,1,", ",2023,2024-03-01,开业,三人,"),
    ]
    paths = write_extracts(tmp_path / "in", rows)
    run = classify(
        RunOptions(
            run_date=date(2024, 7, 1),
            inputs={k: (v,) for k, v in paths.items()},
            out=tmp_path / "runs",
            rules=RULES,
            excel=False,
        )
    ).run_dir
    assert outcomes(run)[LATE][2] == ["unparseable:annual.employees"]
    fix = tmp_path / "fix.csv"
    fix.write_text(
        "统一社会信用代码,字段,更正值,复核人,复核日期,说明\n"
        f"{LATE},从业人数,１,王某,2024-08-20,三人为笔误\n",
        encoding="gb18030",
    )
    result = recheck(options(run, corrections=(fix,)))
    assert outcomes(result.run_dir)[LATE][:2] == ("survival", "survival.default")
    audit = pl.read_parquet(result.run_dir / "audit.parquet").row(0, named=True)
    assert (audit["old_value"], audit["new_value"]) == ("无法识别", "1")
    change = pl.read_parquet(result.run_dir / "changes.parquet").row(0, named=True)
    assert change["change"] == "in" and "更正从业人数 无法识别 → 1(复核人 王某)" in change["cause"]
