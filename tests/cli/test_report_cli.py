"""`gthfx report` on the command line, through the real entry point: the files it writes, runs
named by folder or by date (gthfx.yaml's runs folder), and the problems a user can fix (exit 2,
one message)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import generated_runs, run_cli


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder: gthfx.yaml whose runs folder holds three yearly runs."""
    base = tmp_path_factory.mktemp("project")
    generated_runs(base, rows=200)
    (base / "gthfx.yaml").write_text("out: runs\n", encoding="utf-8")
    return base


def test_writes_the_page_and_the_workbook(project: Path, tmp_path: Path) -> None:
    done = run_cli(
        ["report", "--run", str(project / "runs" / "2026-07-01"), "--out", str(tmp_path)], tmp_path
    )
    assert done.returncode == 0, done.stderr
    html, xlsx = tmp_path / "监测报告_2026-07-01.html", tmp_path / "监测报告_2026-07-01.xlsx"
    assert html.is_file() and xlsx.is_file()
    assert f"written: {html}" in done.stdout and f"written: {xlsx}" in done.stdout


def test_runs_by_date_from_the_config_and_quiet(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    done = run_cli(
        ["report", "--run", "2026-07-01", "--against", "2024-07-01", "--out", str(out),
         "--config", str(project / "gthfx.yaml"), "-q"],
        tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    page = (out / "监测报告_2026-07-01.html").read_text(encoding="utf-8")
    assert "2024-07-01 → 2026-07-01" in page


def test_from_the_project_folder_without_config(project: Path) -> None:
    done = run_cli(["report", "--run", "2025-07-01", "--out", "reports"], project)
    assert done.returncode == 0, done.stderr
    assert (project / "reports" / "监测报告_2025-07-01.html").is_file()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--run", "nowhere", "--out", "r"], "no such run folder"),
        (["--run", "2026-07-01", "--against", "1999-07-01", "--out", "r"], "no such run folder"),
        (["--run", "2026-07-01", "--out", "gthfx.yaml"], "not a folder"),
        (["--run", "2026-07-01", "--register", "no-register", "--out", "r"], "no such folder"),
    ],
)
def test_problems_a_user_can_fix(project: Path, args: list[str], words: str) -> None:
    done = run_cli(["report", *args], project)
    assert done.returncode == 2
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_out_is_required(project: Path) -> None:
    done = run_cli(["report", "--run", "2026-07-01"], project)
    assert done.returncode == 2
    assert "--out" in done.stderr
