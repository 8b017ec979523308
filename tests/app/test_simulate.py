"""`gthfx simulate`: what-if results checked against full classify runs with the changed ruleset,
one load for several scenarios, errors, the workbook, and nothing written into the runs folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from test_classify import ANNUAL_ROWS, RULES, run_cli, write_extracts
from typer.testing import CliRunner

from gthfx.app import simulate
from gthfx.app.classify import classify
from gthfx.app.simulate import (
    Scenario,
    parse_scenario,
    parse_value,
    scenarios_from_arguments,
)
from gthfx.cli.main import app
from gthfx.engines import memory
from gthfx.errors import ConfigError, RulesError
from gthfx.settings.config import RunOptions

DATE = "2024-07-01"
# the development business of the test extracts has 1.2 M sales and 40 k tax
ANNUAL_EXTRA = [
    # growth by tax: 2020, sales 60 万 (600 000), tax 0.5 万 (5 000)
    "92420107MA4K1B2C9E,辛店,吴十,,,420107,F5211,2020-01-01,存续,2023,2024-02-01,开业,2,60,0.5,"
    "否,否,",
    # survival, 2 employees: growth when growth_min_employees drops to 2
    "92420111MA4K1B2C9F,壬店,郑十一,,,420111,F5211,2020-01-01,存续,2023,2024-02-01,开业,2,10,0,"
    "否,否,",
]


def options(paths: dict[str, Path], out: Path, rules: Path = RULES) -> RunOptions:
    return RunOptions(
        run_date=DATE,  # type: ignore[arg-type]
        inputs={k: (v,) for k, v in paths.items()},
        out=out,
        rules=rules,
        excel=False,
    )


def changed_ruleset(folder: Path, **values: int) -> Path:
    """A ruleset file that extends the reference one and changes some parameter values."""
    folder.mkdir(parents=True, exist_ok=True)
    params = "".join(
        f"  {name}: {{label: changed, value: {value}, unit: 元, source: test}}\n"
        for name, value in values.items()
    )
    path = folder / "changed.yaml"
    path.write_text(
        f"extends: {RULES / 'reference-2024.yaml'}\n"
        "id: changed\n"
        f'effective_from: "{DATE}"\n'
        f"parameters:\n{params}",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    return write_extracts(tmp_path / "in", ANNUAL_ROWS + ANNUAL_EXTRA)


def _tiers(run: Path) -> dict[str, str]:
    frames = [
        pl.read_parquet(run / f"{t}.parquet").select("uscc", "tier")
        for t in ("survival", "growth", "development", "excluded")
    ]
    return dict(pl.concat(frames).iter_rows())


def _after(result: simulate.ScenarioResult, before: dict[str, str]) -> dict[str, str]:
    moved = dict(result.movers.select("uscc", "tier_after").iter_rows())
    return {uscc: moved.get(uscc, tier) for uscc, tier in before.items()}


@pytest.mark.parametrize(
    "values",
    [
        {"development_min_sales_yuan": 2_000_000},
        {"growth_min_employees": 2, "development_min_tax_yuan": 50_000},
        {"development_min_sales_yuan": 500_000, "development_min_tax_yuan": 5_000},
    ],
)
def test_simulate_equals_classify_with_the_changed_ruleset(
    tmp_path: Path, paths: dict[str, Path], values: dict[str, int]
) -> None:
    classify(options(paths, tmp_path / "runs"))
    before = _tiers(tmp_path / "runs" / DATE)
    changed = changed_ruleset(tmp_path / "changed", **values)
    classify(options(paths, tmp_path / "runs-changed", rules=changed))
    expected = _tiers(tmp_path / "runs-changed" / DATE)
    assert expected != before  # the change matters for these extracts

    result = simulate.simulate(
        options(paths, tmp_path / "runs"), [Scenario("s", overrides=dict(values))]
    )
    (s,) = result.scenarios
    assert _after(s, before) == expected
    assert result.total == len(before)
    counts = {r["outcome"]: (r["before"], r["after"]) for r in s.counts.iter_rows(named=True)}
    for outcome, (n_before, n_after) in counts.items():
        assert n_before == sum(t == outcome for t in before.values())
        assert n_after == sum(t == outcome for t in expected.values())
    assert s.transitions.get_column("count").sum() == len(before)
    # movers: sorted by uscc, the changed parameters' indicators alongside
    assert s.movers.get_column("uscc").to_list() == sorted(s.movers.get_column("uscc").to_list())
    assert s.moved == sum(before[k] != expected[k] for k in before)
    if "development_min_sales_yuan" in values:
        assert "sales_yuan" in s.indicators
    # a whole other ruleset (--rules) gives the same
    other = simulate.simulate(
        options(paths, tmp_path / "runs"), [Scenario("file", rules=changed)]
    ).scenarios[0]
    assert _after(other, before) == expected
    assert sorted(other.changes.get_column("parameter")) == sorted(values)


def test_no_change_no_movers(tmp_path: Path, paths: dict[str, Path]) -> None:
    result = simulate.simulate(
        options(paths, tmp_path / "runs"),
        [Scenario("same", overrides={"development_min_sales_yuan": 1_000_000})],
    )
    (s,) = result.scenarios
    assert s.moved == 0
    assert s.changes.height == 0
    assert s.counts.get_column("before").to_list() == s.counts.get_column("after").to_list()
    assert s.counts.get_column("share_before").equals(s.counts.get_column("share_after"))
    diagonal = s.transitions.filter(pl.col("tier_before") == pl.col("tier_after"))
    assert diagonal.get_column("count").sum() == result.total


def test_two_scenarios_load_the_data_once(
    tmp_path: Path, paths: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"load_joined": 0, "load_extract": 0}
    real_joined, real_extract = simulate.load_joined, memory.load_extract

    def counting_joined(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["load_joined"] += 1
        return real_joined(*args, **kwargs)

    def counting_extract(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["load_extract"] += 1
        return real_extract(*args, **kwargs)

    monkeypatch.setattr(simulate, "load_joined", counting_joined)
    monkeypatch.setattr(memory, "load_extract", counting_extract)
    result = simulate.simulate(
        options(paths, tmp_path / "runs"),
        [
            Scenario("strict", overrides={"development_min_sales_yuan": 2_000_000}),
            Scenario("loose", overrides={"growth_min_employees": 2}),
        ],
    )
    assert calls == {"load_joined": 1, "load_extract": 3}  # one per extract, not per scenario
    strict, loose = result.scenarios
    assert strict.movers.get_column("uscc").to_list() == ["92420102MA4K1B2C9D"]
    assert loose.movers.get_column("uscc").to_list() == ["92420111MA4K1B2C9F"]
    assert loose.movers.row(0, named=True)["employees"] == 2


def test_scenario_syntax() -> None:
    assert parse_value("2000000") == 2_000_000
    assert parse_value("1_500_000") == 1_500_000
    assert parse_value("0.5") == 0.5
    assert parse_value("2e6") == 2_000_000
    assert parse_value("１２") == 12
    assert parse_value("一般纳税人") == "一般纳税人"
    assert parse_value("[存续, 在营]") == ["存续", "在营"]
    s = parse_scenario("严: development_min_sales_yuan=2_000_000, x=[a, b]", "方案1")
    assert s == Scenario("严", {"development_min_sales_yuan": 2_000_000, "x": ["a", "b"]})
    assert parse_scenario("a=1，b=2", "方案3") == Scenario("方案3", {"a": 1, "b": 2})
    both = scenarios_from_arguments(["a=1", "b=2"], ["c=3"], [Path("other.yaml")])
    assert [s.name for s in both] == ["方案1", "方案2", "other"]
    assert both[0].overrides == {"a": 1, "b": 2}
    with pytest.raises(ConfigError):
        scenarios_from_arguments([], [], [])
    with pytest.raises(ConfigError):
        scenarios_from_arguments(["a=1", "a=2"], [], [])
    with pytest.raises(ConfigError):
        parse_value("")


def test_wrong_kind_is_a_rules_error(tmp_path: Path, paths: dict[str, Path]) -> None:
    with pytest.raises(RulesError, match="development_min_sales_yuan"):
        simulate.simulate(
            options(paths, tmp_path / "runs"),
            [Scenario("s", overrides={"development_min_sales_yuan": "很多"})],
        )


def _cli_args(paths: dict[str, Path], *extra: str) -> list[str]:
    return [
        "simulate", "--date", DATE,
        "--annual", str(paths["annual"]), "--tax", str(paths["tax"]),
        "--social", str(paths["social"]), "--baseline", str(RULES), *extra,
    ]  # fmt: skip


def test_cli_workbook_and_nothing_in_runs(
    tmp_path: Path, paths: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "gthfx.yaml").write_text("out: runs\n", encoding="utf-8")
    monkeypatch.chdir(work)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    extra = [
        "--set", "development_min_sales_yuan=2_000_000",
        "--scenario", "宽: growth_min_employees=2, development_min_tax_yuan=20000",
    ]  # fmt: skip
    result = CliRunner().invoke(app, _cli_args(paths, *extra), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "发展型" in result.output and "方案2 宽" in result.output
    book = work / f"simulate-{DATE}.xlsx"
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert set(after) - set(before) == {book.relative_to(tmp_path)}  # no runs/ folder, no temp
    wb = openpyxl.load_workbook(book, read_only=True)
    assert wb.sheetnames == ["汇总", "分区汇总", "分区迁移", "迁移1", "名单1", "迁移2", "名单2"]
    headers = {name: next(wb[name].iter_rows(values_only=True)) for name in wb.sheetnames}
    assert headers["汇总"][:4] == ("方案", "规则", "参数变动", "分型")
    assert headers["迁移1"] == ("现行\\方案", "生存型", "成长型", "发展型", "不参与分型", "合计")
    assert headers["名单1"][:6] == (
        "统一社会信用代码",
        "行政区划代码",
        "区",
        "行业代码",
        "现行分型",
        "方案分型",
    )
    assert "年销售额" in headers["名单1"]
    movers = list(wb["名单1"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[4], r[5]) for r in movers] == [("92420102MA4K1B2C9D", "发展型", "成长型")]
    matrix = {r[0]: r[1:] for r in wb["迁移2"].iter_rows(min_row=2, values_only=True)}
    assert matrix["生存型"][1] == 1  # survival → growth: the business with 2 employees
    wb.close()


def test_unknown_parameter_exits_2_with_a_hint(tmp_path: Path, paths: dict[str, Path]) -> None:
    proc = run_cli(_cli_args(paths, "--set", "development_min_sale_yuan=2000000"), tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "unknown parameter development_min_sale_yuan" in proc.stderr
    assert "did you mean development_min_sales_yuan?" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*.xlsx"))
    proc = run_cli(_cli_args(paths, "--set", "development_min_sales_yuan=很多"), tmp_path)
    assert proc.returncode == 2
    assert "development_min_sales_yuan is a number" in proc.stderr


def test_parameters_are_checked_before_any_data_is_read(
    tmp_path: Path, paths: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(simulate, "load_joined", lambda *a, **k: calls.append(1))
    result = CliRunner().invoke(app, _cli_args(paths, "--set", "development_min_sale_yuan=1"))
    assert isinstance(result.exception, RulesError)
    assert result.exception.exit_code == 2
    assert calls == []


def test_alternative_ruleset_reading_unloaded_fields_is_refused(
    tmp_path: Path, paths: dict[str, Path]
) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(
        textwrap.dedent(
            f"""\
            extends: {RULES / "reference-2024.yaml"}
            id: other
            effective_from: "{DATE}"
            tiers:
              - {{id: growth.named, tier: growth, label: x, when: "name == '甲店'"}}
              - {{id: survival.default, tier: survival, label: y, default: true}}
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(RulesError, match="name"):
        simulate.simulate(options(paths, tmp_path / "runs"), [Scenario("o", rules=other)])


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(app, ["simulate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "--scenario" in result.output


def test_cli_list_parameter_and_no_excel(
    tmp_path: Path, paths: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    extra = ["--scenario", "[窄]: active_register_statuses=[存续, 在营]", "--no-excel"]
    result = CliRunner().invoke(app, _cli_args(paths, *extra), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "[存续, 在营, 开业, 歇业] → [存续, 在营]" in result.output  # not eaten as markup
    assert "[窄]" in result.output
    assert not list(tmp_path.glob("*.xlsx"))
