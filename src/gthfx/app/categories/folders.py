"""The folders the 名特优新 steps write, the same way a run folder is written (`runs.layout`).

One yearly cycle per date under the categories folder, one step per subfolder —

    <categories>/<S>/screening/       screening.parquet, district lists, rejects, manifest.json
    <categories>/<S>/publicity/       公示名单.csv/.xlsx/.html, publicity.parquet, manifest.json
    <categories>/<S>/certification/   certification.parquet, 认定名单, manifest.json
    <categories>/<D>/evaluation/      evaluation.parquet, 评估结果, manifest.json
    <categories>/register/            the register (see `register`)

A step is written into a hidden staging folder under the cycle folder's lock and renamed into
place only when complete; a second writer on the same cycle folder is refused; replacing an
existing step needs `force`. Every manifest records the command, the inputs with their SHA-256
and the SHA-256 of every file written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gthfx import __version__
from gthfx.errors import RunError
from gthfx.ingest.items import Items
from gthfx.ingest.load import sha256_of
from gthfx.runs.layout import commit, run_lock

MANIFEST = "manifest.json"


@contextlib.contextmanager
def step_folder(cycle: Path, step: str, *, force: bool) -> Iterator[Path]:
    """Yield a staging folder for `<cycle>/<step>`; it replaces the step folder when the block
    ends without an error, and is removed otherwise."""
    with run_lock(cycle):
        target = cycle / step
        if target.exists() and not force:
            raise RunError(
                f"{target}: already written",
                hint="pass --force to replace it (the result is identical when nothing changed)",
            )
        staging = cycle / f".staging-{step}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        commit(staging, target)


def write_json(path: Path, data: Any) -> None:
    path.write_text(
        json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n",
        encoding="utf-8",
    )


def write_manifest(staging: Path, manifest: dict[str, Any]) -> None:
    """The manifest of a step folder: what it says, plus the version and the SHA-256 of every
    file written (the manifest itself aside)."""
    files = {p.name: sha256_of(p) for p in sorted(staging.iterdir()) if p.name != MANIFEST}
    write_json(staging / MANIFEST, {"gthfx_version": __version__, **manifest, "files": files})


def read_manifest(folder: Path, kind: str) -> dict[str, Any]:
    """A step folder's manifest; an error when the folder is not a complete step of `kind`."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise RunError(f"{folder}: no such folder")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{folder}: not a complete gthfx {kind} folder (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        found = data.get("kind") if isinstance(data, dict) else None
        raise RunError(f"{folder}: not a {kind} folder (its manifest says {found!r})")
    return data


def inputs_manifest(items: list[Items]) -> list[dict[str, Any]]:
    """Each input file of the item extracts: path, SHA-256, format, encoding, headers used and
    its row accounting."""
    out = []
    for extract in items:
        for info in extract.files:
            out.append(
                {
                    **asdict(info),
                    "absolute_path": str(Path(info.path).resolve()),
                    "ignored_columns": list(info.ignored_columns),
                    "accounting": extract.per_file[info.path].as_dict(),
                }
            )
    return out
