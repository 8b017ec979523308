"""`gthfx support`, `gthfx policies check | explain` and `gthfx export directory` as a user runs
them (the real entry point, in a child process): runs given by date through `--config`, exit 2
with file and line on a bad library before anything is written, atomic folders, the register
missing from this build, and every option of these commands (and of `gthfx sample`) in the
README."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import typer

from gthfx.cli.main import app
from support import FIXTURES, ROOT, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture
def project(sample_runs: Path, tmp_path: Path) -> Path:
    """A project folder: gthfx.yaml whose runs folder holds the sample runs, and a library."""
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    (tmp_path / "gthfx.yaml").write_text(
        f"out: {sample_runs}\nrules: rules\npolicies: policies\nexcel: false\n", encoding="utf-8"
    )
    return tmp_path


def test_support_by_run_date(project: Path) -> None:
    result = run_cli(["support", "--run", "2024-07-01", "--out", "support/2024"], project)
    assert result.returncode == 0, result.stderr
    assert "get at least one measure" in result.stdout and "survival.market_entry" in result.stdout
    folder = project / "support/2024"
    assert (folder / "measures.parquet").exists() and (folder / "统计.csv").exists()
    assert not list(folder.glob("*.xlsx"))  # excel: false in gthfx.yaml
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run"]["run_date"] == "2024-07-01"
    again = run_cli(["support", "--run", "2024-07-01", "--out", "support/2024"], project)
    assert again.returncode == 2 and "already exists" in again.stderr and "--force" in again.stderr
    forced = run_cli(
        ["support", "--run", "2024-07-01", "--out", "support/2024", "--force", "-q"], project
    )
    assert forced.returncode == 0 and forced.stdout == ""


def test_support_stops_on_a_bad_library_before_writing(project: Path) -> None:
    path = project / "policies/tiers-2024.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            "industry_section in site_cost_sections", "industry_sectio in site_cost_sections"
        ),
        encoding="utf-8",
    )
    line = next(
        i
        for i, t in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "industry_sectio in" in t
    )
    result = run_cli(["support", "--run", "2024-07-01", "--out", "s"], project)
    assert result.returncode == 2
    assert f"tiers-2024.yaml:{line}" in result.stderr and "survival.site_costs" in result.stderr
    assert "did you mean `industry_section`" in result.stderr and "Traceback" not in result.stderr
    assert not (project / "s").exists()
    checked = run_cli(["policies", "check"], project)
    assert checked.returncode == 2
    assert f"tiers-2024.yaml:{line}: error: survival.site_costs:" in checked.stdout


def test_support_with_an_empty_or_a_missing_register(project: Path) -> None:
    """An empty register folder is a register with nothing certified yet: businesses then
    qualify through their tier only; a folder that does not exist is an error."""
    (project / "register").mkdir()
    result = run_cli(
        ["support", "--run", "2024-07-01", "--register", "register", "--out", "s"], project
    )
    assert result.returncode == 0, result.stderr
    measures = pl.read_parquet(next((project / "s").rglob("measures.parquet")))
    assert measures.height > 0
    missing = run_cli(
        ["support", "--run", "2024-07-01", "--register", "nowhere", "--out", "s"], project
    )
    assert missing.returncode == 2 and "nowhere: no such folder" in missing.stderr


def test_support_of_a_folder_that_is_not_a_run(project: Path) -> None:
    result = run_cli(["support", "--run", "2030-01-01", "--out", "s"], project)
    assert result.returncode == 2 and "no such run folder" in result.stderr


def test_policies_check(project: Path, tmp_path: Path) -> None:
    clean = run_cli(["policies", "check"], project)
    assert clean.returncode == 0 and "0 error(s), 0 warning(s)" in clean.stdout
    broken = run_cli(
        ["policies", "check", "--policies", str(FIXTURES / "policies" / "unknown-name.yaml")],
        project,
    )
    assert broken.returncode == 2 and "unknown-name.yaml:" in broken.stdout
    assert "1 error(s)" in broken.stdout
    warned = run_cli(
        ["policies", "check", "--policies", str(FIXTURES / "policies" / "unused-parameter.yaml")],
        project,
    )
    assert warned.returncode == 0 and "warning" in warned.stdout


def test_policies_explain(project: Path, sample_runs: Path) -> None:
    import polars as pl

    code = pl.read_parquet(sample_runs / "2024-07-01/growth.parquet").item(0, "uscc")
    shown = run_cli(["policies", "explain", code, "--run", "2024-07-01"], project)
    assert shown.returncode == 0, shown.stderr
    assert "growth.hiring" in shown.stdout and "适用" in shown.stdout
    data = json.loads(
        run_cli(["policies", "explain", code, "--run", "2024-07-01", "--json"], project).stdout
    )
    assert data["uscc"] == code and "growth.hiring" in data["gets"]
    one = run_cli(
        [
            "policies",
            "explain",
            code,
            "--run",
            "2024-07-01",
            "--measure",
            "growth.social_insurance",
        ],
        project,
    )
    assert one.returncode == 0 and "when" in one.stdout
    unknown = run_cli(["policies", "explain", "92420102MA00000019", "--run", "2024-07-01"], project)
    assert unknown.returncode == 2 and "not a business of the run" in unknown.stderr


def test_export_directory(project: Path) -> None:
    full = run_cli(["export", "directory", "--run", "2024-07-01", "--out", "e1"], project)
    assert full.returncode == 0, full.stderr
    for name in ("labels.parquet", "labels.csv", "labels.jsonl", "manifest.json"):
        assert (project / "e1" / name).exists()
    since = run_cli(
        ["export", "directory", "--run", "2024-07-01", "--since", "2023-07-01", "--out", "e2"],
        project,
    )
    assert since.returncode == 0 and "new" in since.stdout and "gone" in since.stdout
    bad = run_cli(
        ["export", "directory", "--run", "2024-07-01", "--since", "1999-07-01", "--out", "e3"],
        project,
    )
    assert bad.returncode == 2 and not (project / "e3").exists()


def _options(command: object, path: str) -> list[tuple[str, str]]:
    out = []
    for param in command.params:  # type: ignore[attr-defined]
        out += [(path, flag) for flag in param.opts if flag.startswith("--") and flag != "--help"]
    for name, sub in getattr(command, "commands", {}).items():
        out += _options(sub, f"{path} {name}")
    return out


@pytest.mark.parametrize("command", ["support", "policies", "sample", "export"])
def test_every_option_is_in_the_readme(command: str) -> None:
    group = typer.main.get_group(app)
    for path, flag in _options(group.commands[command], command):
        assert f"`{flag}" in README or f" {flag} " in README or f"[{flag}" in README, (path, flag)
    assert f"gthfx {command}" in README


def test_support_when_no_measure_is_in_force(project: Path) -> None:
    """The reference library starts on 2024-07-01: the 2023 baseline run gets nothing, and the
    command says which measures are not in force rather than failing."""
    result = run_cli(["support", "--run", "2023-07-01", "--out", "s2023"], project)
    assert result.returncode == 0, result.stderr
    assert "0 get at least one measure" in result.stdout
    assert (
        "not in force on 2023-07-01" in result.stdout and "survival.market_entry" in result.stdout
    )
    import polars as pl

    assert pl.read_parquet(project / "s2023/measures.parquet").height == 0
    assert not list((project / "s2023").glob("推送清单_*"))
