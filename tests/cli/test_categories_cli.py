"""`gthfx categories …` end to end through the real entry point, as cron runs it, on generated
samples: the whole cycle with its exit codes, and the clear errors (exit 2) in between."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gthfx.tools.samples import generate_samples
from support import ROOT, run_cli


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two years of samples with their category extracts, both years typed."""
    root = tmp_path_factory.mktemp("project")
    generate_samples(800, root / "samples", years=2, categories=True)
    (root / "gthfx.yaml").write_text(
        f"out: runs\nrules: {ROOT / 'rules'}\ncategories: categories\nexcel: false\n"
        "extracts:\n"
        '  annual: ["samples/{report_year}/annual/*.csv"]\n'
        '  tax: ["samples/{report_year}/tax/*.xlsx"]\n'
        '  social: ["samples/{report_year}/social/*.csv"]\n',
        encoding="utf-8",
    )
    for day in ("2023-07-01", "2024-07-01"):
        done = run_cli(["classify", "--date", day, "--quiet"], root)
        assert done.returncode == 0, done.stderr
    return root


def _ok(args: list[str], cwd: Path) -> str:
    done = run_cli(args, cwd)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def _fails(args: list[str], cwd: Path, *words: str) -> None:
    done = run_cli(args, cwd)
    assert done.returncode == 2, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr, (word, done.stderr)


def test_the_whole_cycle(project: Path) -> None:
    c22, c23 = "samples/2022/categories", "samples/2023/categories"
    out = _ok(
        [
            "categories",
            "screen",
            "--run",
            "runs/2023-07-01",
            "--date",
            "2023-10-15",
            "--applications",
            f"{c22}/applications.csv",
            "--evidence",
            f"{c22}/evidence.xlsx",
            "--records",
            f"{c22}/records.csv",
        ],
        project,
    )
    assert "written: categories/2023-10-15/screening" in out
    screening = "categories/2023-10-15/screening"
    _fails(
        [
            "categories",
            "certify",
            screening,
            "--objections",
            f"{c22}/objections.csv",
            "--date",
            "2023-11-28",
        ],
        project,
        "publicity",
    )
    _ok(["categories", "publicize", screening, "--start", "2023-10-23"], project)
    _fails(
        [
            "categories",
            "certify",
            screening,
            "--objections",
            f"{c22}/objections.csv",
            "--date",
            "2023-10-29",
        ],
        project,
        "the publicity runs until 2023-10-29",
    )
    out = _ok(
        [
            "categories",
            "certify",
            screening,
            "--objections",
            f"{c22}/objections.csv",
            "--date",
            "2023-11-28",
            "--by",
            "市局",
            "--document",
            "武市监〔2023〕88号",
        ],
        project,
    )
    assert "register segment 1" in out
    _fails(
        [
            "categories",
            "certify",
            screening,
            "--objections",
            f"{c22}/objections.csv",
            "--date",
            "2023-11-29",
            "--force",
        ],
        project,
        "already in the register",
    )
    entries = json.loads(
        _ok(["categories", "register", "--date", "2023-12-01", "--format", "json"], project)
    )
    assert entries and {"uscc", "category", "valid_from", "valid_to", "evaluation_from"} <= set(
        entries[0]
    )
    assert {e["valid_from"] for e in entries} == {"2023-11-28"}
    assert {e["valid_to"] for e in entries} == {"2026-11-27"}
    assert (
        json.loads(
            _ok(["categories", "register", "--date", "2023-11-27", "--format", "json"], project)
        )
        == []
    )
    out = _ok(
        [
            "categories",
            "evaluate",
            "--date",
            "2024-10-15",
            "--run",
            "runs/2024-07-01",
            "--evidence",
            f"{c23}/evidence.xlsx",
            "--records",
            f"{c23}/records.csv",
        ],
        project,
    )
    assert "evaluation 2024-10-15" in out
    _ok(
        [
            "categories",
            "screen",
            "--run",
            "runs/2024-07-01",
            "--date",
            "2024-10-15",
            "--applications",
            f"{c23}/applications.csv",
            "--evidence",
            f"{c23}/evidence.xlsx",
            "--records",
            f"{c23}/records.csv",
            "--quiet",
        ],
        project,
    )
    _ok(
        ["categories", "publicize", "categories/2024-10-15/screening", "--start", "2024-10-21"],
        project,
    )
    _ok(
        [
            "categories",
            "certify",
            "categories/2024-10-15/screening",
            "--objections",
            f"{c23}/objections.csv",
            "--date",
            "2024-11-28",
        ],
        project,
    )
    table = _ok(["categories", "register", "--date", "2024-12-01"], project)
    assert "hash chain verified" in table
    csv = project / "register.csv"
    _ok(
        ["categories", "register", "--date", "2024-12-01", "--format", "csv", "--out", str(csv)],
        project,
    )
    assert csv.read_bytes().startswith(b"\xef\xbb\xbf")
    numbers = json.loads(_ok(["categories", "numbers", "--date", "2024-12-01", "--json"], project))
    assert numbers["overall"]["entries"] == len(
        json.loads(
            _ok(["categories", "register", "--date", "2024-12-01", "--format", "json"], project)
        )
    )
    assert {"party_share", "advanced_share"} <= set(numbers["overall"])
    assert "党员经营户" in _ok(["categories", "numbers", "--date", "2024-12-01"], project)
    # explain one entry of the screening, criterion by criterion
    screened = json.loads(
        _ok(
            ["categories", "explain", entries[0]["uscc"], "--screening", screening, "--json"],
            project,
        )
    )
    assert screened[0]["consistent"] and screened[0]["checks"]
    text = _ok(["categories", "explain", entries[0]["uscc"], "--screening", screening], project)
    assert "quota: rank" in text and "criterion" in text


def test_clear_errors(project: Path) -> None:
    c23 = "samples/2023/categories"
    _fails(
        [
            "categories",
            "screen",
            "--run",
            "runs/2024-07-01",
            "--date",
            "2024-10-15",
            "--evidence",
            f"{c23}/evidence.xlsx",
            "--records",
            f"{c23}/records.csv",
            "--out",
            "elsewhere",
        ],
        project,
        "--applications is required",
    )
    _fails(
        [
            "categories",
            "screen",
            "--run",
            "runs/2024-07-01",
            "--date",
            "2024-13-01",
            "--applications",
            f"{c23}/applications.csv",
        ],
        project,
        "not a date",
    )
    _fails(
        [
            "categories",
            "screen",
            "--run",
            "runs/2030-07-01",
            "--date",
            "2030-10-15",
            "--applications",
            f"{c23}/applications.csv",
            "--evidence",
            f"{c23}/evidence.xlsx",
            "--records",
            f"{c23}/records.csv",
            "--out",
            "elsewhere",
        ],
        project,
        "no such run folder",
    )
    _fails(
        [
            "categories",
            "screen",
            "--run",
            "runs/2024-07-01",
            "--date",
            "2024-10-15",
            "--applications",
            f"{c23}/evidence.xlsx",
            "--evidence",
            f"{c23}/evidence.xlsx",
            "--records",
            f"{c23}/records.csv",
            "--out",
            "elsewhere",
        ],
        project,
        "evidence.xlsx",
        "申报类别",
    )
    _fails(
        ["categories", "register", "--date", "2024-12-01", "--register", "nowhere"],
        project,
        "no register here",
    )
    _fails(
        ["categories", "register", "--date", "2024-12-01", "--format", "pdf"], project, "--format"
    )
    _fails(
        ["categories", "explain", "92420102MA4K1B2C9D", "--screening", "nowhere"],
        project,
        "no such folder",
    )


@pytest.mark.parametrize(
    "command", ["screen", "publicize", "certify", "evaluate", "register", "numbers", "explain"]
)
def test_every_categories_command_has_help_with_an_example(command: str) -> None:
    done = run_cli(["categories", command, "--help"], ROOT)
    assert done.returncode == 0 and "Example" in done.stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"gthfx categories {command}" in readme
