"""The run folder as a versioned contract: the manifest model round-trips what the writer writes,
`open_run` reads every manifest version this gthfx knows (a version-0 folder from before
versioning, read by explain, diff and recheck) and refuses a newer or a damaged one, and a run's
recorded files are found by one rule and checked by their SHA-256."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from polars.testing import assert_frame_equal

from gthfx import __version__
from gthfx.app.classify import classify
from gthfx.app.compare import compare_runs
from gthfx.app.explain import explain_run
from gthfx.app.recheck import RecheckOptions, recheck
from gthfx.errors import InputError, RulesError, RunError
from gthfx.ingest.load import sha256_of
from gthfx.rules.model import ruleset_in_force
from gthfx.runs.manifest import MANIFEST_VERSION, Manifest, upgrade
from gthfx.runs.reader import DATA_FILES, open_run, read_outcomes
from gthfx.settings.config import RunOptions
from gthfx.settings.sources import EXTRACTS
from gthfx.vocab import OUTCOME_ORDER
from support import ROOT, run_cli, sample_inputs, sample_options

V0 = ROOT / "tests" / "data" / "run-v0"  # see its README.md
V0_DATE = date(2024, 7, 1)
V0_RUN = Path("runs") / V0_DATE.isoformat()
V0_CODES = {  # the fixture's businesses and their outcomes (README.md there)
    "92420102MA4K1B2C9D": "growth",
    "92420103MA4K1B2C9X": "survival",
    "92420104MA4K1B2C9A": "excluded",
    "92420105MA4K1B2C9B": "survival",
}


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples typed on 2023-07-01 and on 2024-07-01 (with a change log against the first)."""
    out = tmp_path_factory.mktemp("runs")
    for run_date in (date(2023, 7, 1), date(2024, 7, 1)):
        classify(sample_options(out, run_date, excel=False))
    return out


# ---- round trip ------------------------------------------------------------------------------


def test_a_written_run_reads_back_as_what_it_holds(sample_runs: Path) -> None:
    path = sample_runs / "2024-07-01"
    run = open_run(path)
    m = run.manifest
    text = (path / "manifest.json").read_text(encoding="utf-8")
    # the model describes exactly what the writer wrote: dumped again, byte for byte the file
    assert m.to_json() == text
    assert Manifest.model_validate_json(text) == m
    assert (m.manifest_version, m.gthfx_version, m.kind) == (
        MANIFEST_VERSION,
        __version__,
        "classify",
    )
    assert (m.run_date, m.report_year, m.command) == (date(2024, 7, 1), 2023, ("gthfx", "classify"))
    assert m.previous_run == str(sample_runs / "2023-07-01")
    assert m.base_run is None and m.review is None and "base_run" not in json.loads(text)

    ruleset = ruleset_in_force(ROOT / "rules", m.run_date)
    assert (m.ruleset.id, m.ruleset.sha256) == (ruleset.ruleset.id, ruleset.sha256)
    assert m.ruleset.effective_from == ruleset.ruleset.effective_from
    assert {k: p.value for k, p in m.ruleset.parameters.items()} == {
        k: p.value for k, p in ruleset.ruleset.parameters.items()
    }

    files = sample_inputs(m.run_date.year - 1)
    assert {(i.extract, i.path) for i in m.inputs} == {
        (e, str(p)) for e, paths in files.items() for p in paths
    }
    for record in m.inputs:
        assert record.sha256 == sha256_of(Path(record.path))
        acc = record.accounting
        assert acc.read == acc.used + acc.rejected + acc.collapsed
    for extract, acc in m.accounting.items():  # the files add up to their extract
        per_file = [i.accounting for i in m.inputs if i.extract == extract]
        assert acc.read == sum(a.read for a in per_file)
        assert acc.used == sum(a.used for a in per_file)

    # the counts agree with the tables the reader gives
    outcomes = run.outcomes().collect()
    assert_frame_equal(outcomes, read_outcomes(path))
    tiers = dict(outcomes.group_by("tier").len().iter_rows())
    assert m.outcomes == {t: tiers.get(t, 0) for t in OUTCOME_ORDER}
    assert m.businesses == outcomes.height
    changes = run.changes().collect()
    assert m.changes == dict(changes.group_by("change").len().iter_rows())
    rejects = run.rejects().collect()
    assert m.rejects_by_reason == {
        f"{e}:{r}": n for e, r, n in rejects.group_by("extract", "reason").len().iter_rows()
    }
    for name, digest in m.files.items():
        assert sha256_of(path / name) == digest, name
    assert set(DATA_FILES) <= set(m.files)


def test_a_run_is_found_where_the_manifest_says(sample_runs: Path) -> None:
    run = open_run(sample_runs / "2024-07-01")
    inputs = run.inputs()
    assert inputs == sample_inputs(run.manifest.run_date.year - 1)
    assert run.ruleset().sha256 == run.manifest.ruleset.sha256
    assert run.compared_with(sample_runs / "2023-07-01")
    assert not run.compared_with(sample_runs / "2024-07-01")
    assert not open_run(sample_runs / "2023-07-01").compared_with(sample_runs / "2024-07-01")


# ---- version 0: a folder written before manifests had a version ------------------------------


def v0_project(where: Path) -> Path:
    """A copy of the version-0 fixture with the data files beside its manifest (the same run,
    written by this gthfx from the same inputs); returns the run folder."""
    project = where / "project"
    shutil.copytree(V0, project)
    fresh = classify(
        RunOptions(
            run_date=V0_DATE,
            inputs={e: (project / "in" / f"{e}.csv",) for e in EXTRACTS},
            out=where / "fresh",
            rules=project / "rules.yaml",
            excel=False,
        )
    )
    for name in DATA_FILES:
        shutil.copy(fresh.run_dir / name, project / V0_RUN / name)
    return project / V0_RUN


@pytest.fixture
def v0_run(tmp_path: Path) -> Path:
    return v0_project(tmp_path)


def test_the_fixture_is_an_unversioned_manifest() -> None:
    data = json.loads((V0 / V0_RUN / "manifest.json").read_text(encoding="utf-8"))
    assert "manifest_version" not in data and data["gthfx_version"] == "0.1.0"
    for record in data["inputs"]:  # its absolute paths are dead: only the relative ones help
        assert not Path(record["absolute_path"]).exists()
        assert sha256_of(V0 / record["path"]) == record["sha256"]


def test_version_0_is_read_with_the_keys_of_today(v0_run: Path) -> None:
    run = open_run(v0_run)
    m = run.manifest
    assert (m.manifest_version, m.gthfx_version, m.kind) == (0, "0.1.0", "classify")
    assert m.run_date == V0_DATE and m.ruleset.id == "minimal-2024"
    assert [i.path for i in m.inputs] == ["in/annual.csv", "in/tax.csv", "in/social.csv"]
    assert m.outcomes == {"survival": 2, "growth": 1, "development": 0, "excluded": 1}
    assert dict(run.outcomes().select("uscc", "tier").collect().iter_rows()) == V0_CODES
    # upgraded, version 0 has the very keys this gthfx writes (only the version itself added)
    old = upgrade(json.loads((v0_run / "manifest.json").read_text(encoding="utf-8")), v0_run)
    new = json.loads(
        (v0_run.parents[2] / "fresh" / V0_RUN.name / "manifest.json").read_text("utf-8")
    )
    assert set(old) == set(new)
    for key in ("ruleset", "settings"):
        assert set(old[key]) == set(new[key]), key
    assert set(old["inputs"][0]) == set(new["inputs"][0])


def test_explain_reads_a_version_0_run(v0_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # from elsewhere: the inputs are found beside the runs folder (their absolute paths are dead)
    monkeypatch.chdir(v0_run.parents[2])
    for code, tier in V0_CODES.items():
        explanation = explain_run(code, v0_run)
        assert explanation.outcome.tier == tier and explanation.warnings == []
        assert explanation.run_outcome is not None and explanation.run_outcome.tier == tier
    # and from where the run was started: the recorded relative paths
    monkeypatch.chdir(v0_run.parents[1])
    assert explain_run("92420102MA4K1B2C9D", V0_RUN).outcome.tier == "growth"
    assert open_run(V0_RUN).inputs()["annual"] == (Path("in/annual.csv"),)


def test_recheck_and_diff_read_a_version_0_run(v0_run: Path, tmp_path: Path) -> None:
    corrections = tmp_path / "corrections.csv"
    corrections.write_text(
        "统一社会信用代码,字段,更正值,复核人,复核日期,说明\n"
        "92420105MA4K1B2C9B,从业人数,5,王某,2024-09-01,核实\n",
        encoding="utf-8",
    )
    result = recheck(
        RecheckOptions(
            run_date=date(2024, 9, 30),
            base=v0_run,
            out=tmp_path / "rechecks",
            rules=v0_run.parents[1] / "rules.yaml",
            corrections=(corrections,),
            excel=False,
        )
    )
    again = open_run(result.run_dir)
    m = again.manifest
    assert (m.manifest_version, m.kind, m.base_run) == (MANIFEST_VERSION, "recheck", str(v0_run))
    assert m.review is not None and m.review.applied.corrections == 1
    assert m.fresh_extracts == () and m.settings.engine == "polars"
    assert again.compared_with(v0_run)
    tiers = dict(again.outcomes().select("uscc", "tier").collect().iter_rows())
    # corrected to 5 employees: growth; founded 2023-08-01, a year old by 30 September: growth
    assert tiers == {**V0_CODES, "92420105MA4K1B2C9B": "growth", "92420103MA4K1B2C9X": "growth"}

    forward = compare_runs(v0_run, result.run_dir)  # version 0 as RUN_A
    assert forward.counts["up"] == 2
    assert set(forward.changes.get_column("cause_source")) == {"changes.parquet"}
    backward = compare_runs(result.run_dir, v0_run)  # version 0 as RUN_B: its manifest read
    assert backward.counts["down"] == 2
    assert set(backward.changes.get_column("cause_source")) == {"diff"}
    proc = run_cli(["diff", str(v0_run), str(result.run_dir), "--format", "json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["counts"]["up"] == 2


def test_the_cli_reads_a_version_0_run(v0_run: Path, tmp_path: Path) -> None:
    proc = run_cli(["explain", "92420104MA4K1B2C9A", "--run", str(v0_run), "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"]["tier"] == "excluded"


# ---- refused: a newer version, a damaged or missing manifest ---------------------------------


Change = Callable[[dict[str, Any]], object]  # the manifest's mapping → new text, or new JSON


def rewrite(run: Path, change: Change) -> None:
    path = run / "manifest.json"
    replaced = change(json.loads(path.read_text(encoding="utf-8")))
    path.write_text(replaced if isinstance(replaced, str) else json.dumps(replaced), "utf-8")


def _with(**keys: object) -> Change:
    return lambda data: {**data, **keys}


def _without(key: str) -> Change:
    return lambda data: {k: v for k, v in data.items() if k != key}


def test_a_newer_version_is_refused_with_who_wrote_it(v0_run: Path, tmp_path: Path) -> None:
    newer = MANIFEST_VERSION + 1
    rewrite(v0_run, _with(manifest_version=newer, gthfx_version="9.1.0", new_key=[1]))
    message = (
        f"{v0_run}: written by gthfx 9.1.0 (manifest version {newer}), which this version "
        f"(gthfx {__version__}) cannot read"
    )
    with pytest.raises(RunError) as refused:
        open_run(v0_run)
    assert refused.value.message == message
    for args in (
        ["explain", "92420104MA4K1B2C9A", "--run", str(v0_run)],
        ["diff", str(v0_run), str(v0_run)],
        ["recheck", "--date", "2024-09-30", "--base", str(v0_run), "--out", str(tmp_path / "r"),
         "--rules", str(v0_run.parents[1] / "rules.yaml")],
    ):  # fmt: skip
        proc = run_cli(args, tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert message in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr


BROKEN: dict[str, tuple[Change, tuple[str, ...]]] = {
    "not json": (lambda data: '{"run_date": "2024-07-01",', ("cannot be read as a manifest",)),
    "not an object": (lambda data: [data], ("not a gthfx manifest", "JSON object")),
    "version as text": (_with(manifest_version="1"), ("manifest_version is '1'", "not a version")),
    "negative version": (_with(manifest_version=-1), ("not a version number",)),
    "no inputs": (_without("inputs"), ("not a valid gthfx manifest", "version 0", "inputs")),
    "bad date": (_with(run_date="2024-13-01"), ("not a valid gthfx manifest", "run_date")),
    "unknown key": (_with(note="added by hand"), ("not a valid gthfx manifest", "note")),
    "classify with a base run": (
        _with(base_run="runs/2024-06-30"),
        ("only a recheck's manifest records base_run",),
    ),
    "recheck without its review": (
        _with(kind="recheck", base_run="r", base_run_absolute="/r", fresh_extracts=[]),
        ("a recheck's manifest records review",),
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_damaged_manifest_is_named(v0_run: Path, case: str) -> None:
    change, words = BROKEN[case]
    rewrite(v0_run, change)
    with pytest.raises(RunError) as refused:
        open_run(v0_run)
    assert str(v0_run / "manifest.json") in refused.value.message
    for word in words:
        assert word in refused.value.message, (word, refused.value.message)


def test_no_manifest_or_no_folder_is_named(v0_run: Path, tmp_path: Path) -> None:
    with pytest.raises(RunError, match="no such run folder"):
        open_run(tmp_path / "2099-07-01")
    (v0_run / "growth.parquet").unlink()
    with pytest.raises(RunError, match=r"growth\.parquet: missing; .* not a complete gthfx run"):
        open_run(v0_run)
    (v0_run / "manifest.json").unlink()
    with pytest.raises(RunError) as none:
        open_run(v0_run)
    assert none.value.message == f"{v0_run}: not a complete gthfx run folder (no manifest.json)"
    proc = run_cli(["explain", "92420104MA4K1B2C9A", "--run", str(v0_run)], tmp_path)
    assert proc.returncode == 2 and "no manifest.json" in proc.stderr


# ---- one rule for finding a run's files ------------------------------------------------------


def tiny_run(project: Path, *, relative: bool) -> Path:
    """The fixture's inputs and ruleset copied to `project` and typed by this gthfx into
    `project/runs`: started in `project` with relative paths, or with absolute ones."""
    shutil.copytree(V0, project, ignore=shutil.ignore_patterns("runs"))
    with contextlib.chdir(project):
        base = Path() if relative else project
        run_dir = classify(
            RunOptions(
                run_date=V0_DATE,
                inputs={e: (base / "in" / f"{e}.csv",) for e in EXTRACTS},
                out=base / "runs",
                rules=base / "rules.yaml",
                excel=False,
            )
        ).run_dir
    return project / "runs" / run_dir.name


def test_an_input_is_found_by_its_absolute_path(tmp_path: Path) -> None:
    run_dir = tiny_run(tmp_path / "project", relative=False)
    moved = tmp_path / "elsewhere" / "runs"
    moved.parent.mkdir()
    run_dir.parent.rename(moved)  # the runs folder moved away from its inputs
    run = open_run(moved / run_dir.name)
    folder = tmp_path / "project" / "in"
    assert [i.path for i in run.manifest.inputs] == [str(folder / f"{e}.csv") for e in EXTRACTS]
    assert run.inputs() == {e: (folder / f"{e}.csv",) for e in EXTRACTS}
    assert run.ruleset().path == tmp_path / "project" / "rules.yaml"


def test_an_input_is_found_by_its_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    run_dir = tiny_run(project, relative=True)
    run = open_run(run_dir)
    assert [i.path for i in run.manifest.inputs] == [f"in/{e}.csv" for e in EXTRACTS]
    assert run.inputs()["tax"] == (project / "in" / "tax.csv",)  # the absolute path first
    # the project folder moved whole: the absolute paths are dead, the relative ones hold —
    # relative to the working directory, or else to the folder that holds the runs folder
    moved = tmp_path / "moved"
    project.rename(moved)
    monkeypatch.chdir(moved)
    run = open_run(Path("runs") / run_dir.name)
    assert not Path(run.manifest.inputs[0].absolute_path).exists()
    assert run.inputs() == {e: (Path("in") / f"{e}.csv",) for e in EXTRACTS}
    assert run.ruleset().path == Path("rules.yaml")
    monkeypatch.chdir(tmp_path)
    run = open_run(moved / "runs" / run_dir.name)
    assert run.inputs() == {e: (moved / "in" / f"{e}.csv",) for e in EXTRACTS}
    assert run.ruleset().path == moved / "rules.yaml"


def test_the_file_with_the_recorded_hash_is_the_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The absolute path holds a changed file, the relative path an unchanged copy: the copy
    is the run's input (equal content decides, not the place)."""
    project = tmp_path / "project"
    run_dir = tiny_run(project, relative=True)
    shutil.copytree(project, tmp_path / "copy")
    (project / "in" / "tax.csv").write_text("changed", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "copy")
    run = open_run(run_dir)
    assert run.inputs()["tax"] == (Path("in/tax.csv"),)
    assert run.inputs()["annual"] == (project / "in" / "annual.csv",)


def test_every_missing_or_changed_input_is_named(tmp_path: Path) -> None:
    run_dir = tiny_run(tmp_path / "project", relative=False)
    folder = tmp_path / "project" / "in"
    tax, social = folder / "tax.csv", folder / "social.csv"
    tax.write_text(tax.read_text(encoding="utf-8") + "92420105MA4K1B2C9B,2023,,1,1\n", "utf-8")
    social.unlink()
    run = open_run(run_dir)
    with pytest.raises(InputError) as both:
        run.inputs(hint="do this")
    message = str(both.value)
    assert message.startswith(f"2 input files of the run {run_dir} are missing or changed")
    assert f"{tax}: tax input changed since the run {run_dir}" in message
    assert f"{social}: social input of the run {run_dir} not found (looked at {social}" in message
    assert message.endswith("hint: do this")
    # an extract given afresh is neither looked for nor checked
    assert run.inputs(skip={"tax", "social"}) == {"annual": (folder / "annual.csv",)}
    with pytest.raises(InputError, match="tax input changed") as one:
        run.inputs(skip={"social"})
    assert "2 input files" not in str(one.value)


def test_a_changed_or_missing_ruleset_is_named(tmp_path: Path) -> None:
    run_dir = tiny_run(tmp_path / "project", relative=False)
    rules = tmp_path / "project" / "rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    with pytest.raises(
        RulesError, match=r"rules\.yaml: ruleset minimal-2024 changed since the run"
    ):
        open_run(run_dir).ruleset()
    rules.unlink()
    with pytest.raises(RulesError, match=r"ruleset minimal-2024 of the run .* not found"):
        open_run(run_dir).ruleset()
