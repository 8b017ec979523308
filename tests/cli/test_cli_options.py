"""Where command-line arguments become options (`gthfx.cli.params`, `settings.config.
resolve_settings`): the date type, the enums of engines, dialects and formats, `--config` on every
command, and one reading of gthfx.yaml that every command shares."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gthfx import engines
from gthfx.cli import params
from gthfx.cli.main import app, main
from gthfx.errors import ConfigError, RulesError
from gthfx.rules.to_sql import DIALECTS
from gthfx.settings.config import resolve_settings
from support import ROOT

runner = CliRunner()


def run_main(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """The real entry point in this process: (exit code, stdout + stderr, white space folded)."""
    monkeypatch.setattr(sys, "argv", ["gthfx", *args])
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as stopped:
        main()
    captured = capsys.readouterr()
    code = stopped.value.code
    return (code if isinstance(code, int) else 0), " ".join((captured.out + captured.err).split())


# ---- the date type ------------------------------------------------------------------------------


def test_parse_date_reads_iso_dates_and_refuses_the_rest() -> None:
    assert params.parse_date("2024-07-01") == date(2024, 7, 1)
    assert params.parse_date(date(2024, 9, 30)) == date(2024, 9, 30)
    for bad in ("2024-13-01", "2024/07/01", "1 July", ""):
        with pytest.raises(ConfigError) as caught:
            params.parse_date(bad)
        assert str(caught.value) == f"--date {bad!r} is not a date (YYYY-MM-DD)"


# every command that takes --date, with what else it needs to get as far as reading the date
DATED = [
    ["classify"],
    ["samples", "--rows", "10", "--out", "nowhere"],
    ["rules", "show"],
    ["explain", "92420102MA4K1B2C9D"],
    ["simulate", "--set", "development_min_sales_yuan=1"],
    ["recheck", "--base", "nowhere"],
    ["compile-sql", "--dialect", "duckdb"],
]


@pytest.mark.parametrize("command", DATED, ids=lambda c: " ".join(c[:2]))
def test_a_bad_date_is_exit_2_with_one_message(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, text = run_main([*command, "--date", "2024-13-01"], monkeypatch, capsys)
    assert code == 2, text
    assert "error: --date '2024-13-01' is not a date (YYYY-MM-DD)" in text
    assert "Traceback" not in text
    assert list(tmp_path.iterdir()) == []  # stopped before anything was read or written


@pytest.mark.parametrize(
    "command",
    [
        ["rules", "show", "--date", "2024-07-01"],
        ["compile-sql", "--dialect", "duckdb", "--date", "2024-07-01"],
    ],
    ids=lambda c: c[0],
)
def test_a_good_date_is_used(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    code, text = run_main(command, monkeypatch, capsys)
    assert code == 0, text
    assert "hubei-reference-2024" in text and "2024-07-01" in text


# ---- enums -------------------------------------------------------------------------------------


def test_the_engine_enum_is_the_registry() -> None:
    assert tuple(params.EngineName) == engines.names()
    assert tuple(params.SqlDialect) == DIALECTS


@pytest.mark.parametrize(
    ("args", "words", "choices"),
    [
        (
            ["classify", "--date", "2024-07-01", "--engine", "spark"],
            "unknown engine 'spark' (--engine)",
            engines.names(),
        ),
        (
            ["compile-sql", "--dialect", "oracle", "--date", "2024-07-01"],
            "unknown SQL dialect 'oracle' (--dialect)",
            DIALECTS,
        ),
        (
            ["compile-sql", "--dialect", "duckdb", "--date", "2024-07-01", "--from", "x"],
            "unknown input 'x' (--from)",
            ("extracts", "joined"),
        ),
        (
            ["diff", "a", "b", "--format", "html"],
            "unknown format 'html' (--format)",
            ("table", "csv", "json", "xlsx"),
        ),
        (
            ["samples", "--rows", "5", "--out", "x", "--format", "xml"],
            "unknown format 'xml' (--format)",
            ("mixed", "csv", "parquet"),
        ),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else None,
)
def test_an_unknown_choice_is_refused_with_the_choices(
    args: list[str],
    words: str,
    choices: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, text = run_main(args, monkeypatch, capsys)
    assert code == 2, text
    assert words in text
    assert f"hint: one of {', '.join(choices)}" in text
    assert list(tmp_path.iterdir()) == []


def test_the_help_lists_the_choices() -> None:
    result = runner.invoke(app, ["classify", "--help"], env={"COLUMNS": "200"})
    assert "[" + "|".join(engines.names()) + "]" in result.output
    result = runner.invoke(app, ["compile-sql", "--help"], env={"COLUMNS": "200"})
    assert "[" + "|".join(DIALECTS) + "]" in result.output


# ---- --config on every command ------------------------------------------------------------------


def _leaf_commands(group: object, prefix: str = "") -> list[tuple[str, object]]:
    found = []
    for name, command in sorted(group.commands.items()):  # type: ignore[attr-defined]
        if hasattr(command, "commands"):
            found += _leaf_commands(command, f"{prefix}{name} ")
        else:
            found.append((f"{prefix}{name}", command))
    return found


LEAVES = _leaf_commands(typer.main.get_group(app))


def test_the_walk_finds_every_command() -> None:
    names = {name for name, _ in LEAVES}
    assert {"classify", "samples", "rules show", "rules check", "rules test", "explain"} <= names
    assert {"simulate", "diff", "recheck", "review import", "compile-sql"} <= names


@pytest.mark.parametrize(("name", "command"), LEAVES, ids=[n for n, _ in LEAVES])
def test_every_command_takes_config(name: str, command: object) -> None:
    flags = {flag for param in command.params for flag in param.opts}  # type: ignore[attr-defined]
    assert "--config" in flags, name
    result = runner.invoke(app, [*name.split(), "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--config" in result.output


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project config in its own folder, pointing at the shipped rules; run from a folder
    without gthfx.yaml, so that nothing is found unless --config is read."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "gthfx.yaml").write_text(f"out: runs\nrules: {ROOT / 'rules'}\n", encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return project / "gthfx.yaml"


@pytest.mark.parametrize(
    "command",
    [
        ["rules", "show", "--date", "2024-07-01"],
        ["rules", "check"],
        ["compile-sql", "--dialect", "duckdb", "--date", "2024-07-01"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_config_is_read_by_the_rules_commands(command: list[str], elsewhere: Path) -> None:
    without = runner.invoke(app, command)
    assert without.exit_code != 0  # ./rules does not exist here
    with_config = runner.invoke(app, [*command, "--config", str(elsewhere)])
    assert with_config.exit_code == 0, with_config.output


# ---- rules check / rules test read sources: of gthfx.yaml ---------------------------------------

SOURCES = """\
extracts:
  annual:
    fields:
      shop_area: {label: 经营面积, type: decimal, headers: [经营面积]}
"""

RULESET = (ROOT / "tests" / "fixtures" / "rules" / "valid.yaml").read_text(encoding="utf-8")
# the growth rule also reads the field only the custom mapping declares
RULESET = RULESET.replace(
    "when: years_in_business >= min_years and employees >= 3",
    "when: years_in_business >= min_years and employees >= 3 and shop_area >= 50",
)

CASES = """\
defaults:
  date: "2024-07-01"
  annual:
    uscc: 92420102MA4K1B2C9D
    established_on: "2015-03-01"
    register_status: 存续
    abnormal: 否
    employees: 5
cases:
  - name: 面积 80 → 成长型
    annual: {shop_area: 80}
    expect: {tier: growth, rule_id: growth.standard}
  - name: 面积 20 → 生存型
    annual: {shop_area: 20}
    expect: {tier: survival, rule_id: survival.default}
"""


@pytest.fixture
def custom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose ruleset reads `shop_area`, a field declared only in its sources mapping;
    returns its gthfx.yaml. The working folder has no gthfx.yaml of its own."""
    project = tmp_path / "project"
    (project / "rules" / "cases").mkdir(parents=True)
    (project / "rules" / "area.yaml").write_text(RULESET, encoding="utf-8")
    (project / "rules" / "cases" / "area.yaml").write_text(CASES, encoding="utf-8")
    (project / "my-sources.yaml").write_text(SOURCES, encoding="utf-8")
    (project / "gthfx.yaml").write_text(
        "rules: rules\nsources: my-sources.yaml\n", encoding="utf-8"
    )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("COLUMNS", "200")
    return project / "gthfx.yaml"


def test_rules_check_reads_sources_of_the_config(custom: Path) -> None:
    rules = custom.parent / "rules"
    with_config = runner.invoke(app, ["rules", "check", "--config", str(custom)])
    assert with_config.exit_code == 0, with_config.output
    assert "0 error(s)" in with_config.output
    without = runner.invoke(app, ["rules", "check", "--rules", str(rules)])
    assert without.exit_code == 2, without.output
    assert "shop_area" in without.output
    flag = runner.invoke(
        app,
        [
            "rules",
            "check",
            "--rules",
            str(rules),
            "--sources",
            str(custom.parent / "my-sources.yaml"),
        ],
    )
    assert flag.exit_code == 0, flag.output


def test_rules_test_reads_sources_of_the_config(custom: Path) -> None:
    with_config = runner.invoke(app, ["rules", "test", "--config", str(custom)])
    assert with_config.exit_code == 0, with_config.output
    assert "2 passed, 0 failed" in with_config.output
    without = runner.invoke(app, ["rules", "test", "--rules", str(custom.parent / "rules")])
    assert isinstance(without.exception, RulesError)  # exit 2 through main
    assert "unknown name `shop_area`" in str(without.exception)


# ---- resolve_settings: a flag, else gthfx.yaml, else the default --------------------------------


def test_resolve_settings_without_a_config_gives_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = resolve_settings(None)
    assert settings.out == Path("runs") and settings.rules == Path("rules")
    assert settings.sources is None and settings.encoding is None and settings.excel is True
    assert settings.inputs == {}


def test_resolve_settings_flags_win_over_the_config(tmp_path: Path) -> None:
    (tmp_path / "a-2023.csv").write_text("x\n", encoding="utf-8")
    (tmp_path / "t.csv").write_text("x\n", encoding="utf-8")
    config = tmp_path / "gthfx.yaml"
    config.write_text(
        "out: o\nrules: r\nsources: s.yaml\nencoding: gb18030\nexcel: false\n"
        "extracts:\n  annual: ['a-{report_year}.csv']\n  tax: ['t.csv']\n  social: ['t.csv']\n",
        encoding="utf-8",
    )
    from_config = resolve_settings(config)
    assert from_config.out == tmp_path / "o" and from_config.rules == tmp_path / "r"
    assert from_config.sources == tmp_path / "s.yaml"
    assert from_config.encoding == "gb18030" and from_config.excel is False
    flags = resolve_settings(
        config,
        out=Path("O"),
        rules=Path("R"),
        sources=Path("S.yaml"),
        encoding="utf-8",
        excel=True,
        run_date=date(2024, 7, 1),
        extracts={"annual": None, "tax": [Path("given.csv")], "social": []},
    )
    assert (flags.out, flags.rules, flags.sources) == (Path("O"), Path("R"), Path("S.yaml"))
    assert flags.encoding == "utf-8" and flags.excel is True
    assert flags.inputs == {
        "annual": (tmp_path / "a-2023.csv",),  # gthfx.yaml, template filled
        "tax": (Path("given.csv"),),  # the flag
        "social": (tmp_path / "t.csv",),
    }
    fresh = resolve_settings(
        config,
        run_date=date(2024, 9, 30),
        extracts={"annual": [Path("late-{report_year}.csv")], "tax": None, "social": None},
        every_extract=False,
    )
    assert fresh.inputs == {"annual": (Path("late-2023.csv"),)}


def test_resolve_settings_needs_every_extract_for_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no annual extract given"):
        resolve_settings(
            None, run_date=date(2024, 7, 1), extracts={"annual": None, "tax": None, "social": None}
        )


# ---- runs named by their date -------------------------------------------------------------------


def test_run_folder_is_a_folder_or_a_name_in_the_runs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    (runs / "2024-07-01").mkdir(parents=True)
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path)
    assert params.run_folder(Path("here"), runs) == Path("here")
    assert params.run_folder(Path("2024-07-01"), runs) == runs / "2024-07-01"
    assert params.run_folder(Path("2023-07-01"), runs) == Path("2023-07-01")  # for the reader
    assert params.run_folder(tmp_path / "nope", runs) == tmp_path / "nope"


def test_diff_finds_runs_by_date_in_the_runs_folder_of_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gthfx.cli.diff as diff_cli

    for run in ("2023-07-01", "2024-07-01"):
        (tmp_path / "project" / "data" / run).mkdir(parents=True)
    config = tmp_path / "project" / "gthfx.yaml"
    config.write_text("out: data\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    seen: list[tuple[Path, Path]] = []

    def compare_runs(run_a: Path, run_b: Path) -> None:
        seen.append((run_a, run_b))
        raise ConfigError("stop here")

    monkeypatch.setattr(diff_cli, "compare_runs", compare_runs)
    result = runner.invoke(app, ["diff", "2023-07-01", "2024-07-01", "--config", str(config)])
    assert isinstance(result.exception, ConfigError) and "stop here" in str(result.exception)
    data = tmp_path / "project" / "data"
    assert seen == [(data / "2023-07-01", data / "2024-07-01")]
