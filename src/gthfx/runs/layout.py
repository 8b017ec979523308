"""The run folder's mechanics: one run at a time per output folder (a lock), and atomic
replacement (write into a hidden staging folder, then rename into place)."""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from gthfx.errors import RunError, os_problem

LOCK_NAME = ".gthfx.lock"


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on `out` for the whole run; a second run refuses at once."""
    if glob.has_magic(str(out)):  # run files are read back by path: a [ ] would be a pattern
        raise RunError(
            f"{out}: an output folder whose path holds [ ], * or ? is not supported",
            hint="choose an --out without those characters",
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    path = out / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # a read-only or forbidden folder
        raise RunError(
            f"{out}: cannot write in the output folder ({exc.strerror})",
            hint="choose another --out, or make the folder writable",
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise RunError(
                f"{out}: another gthfx run is using this folder (pid {holder})",
                hint="wait for it to finish; runs on one folder never overlap",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        _recover(out)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _recover(out: Path) -> None:
    """Undo what a killed run left: staging folders go; a run folder moved aside is put back."""
    for leftover in out.glob(".staging-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for aside in sorted(out.glob(".replaced-*")):
        name = aside.name.removeprefix(".replaced-").rsplit("-", 1)[0]
        target = out / name
        if target.exists():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            aside.rename(target)


def run_path(out: Path, run_date: date) -> Path:
    return out / run_date.isoformat()


def check_target(out: Path, run_date: date, force: bool) -> Path:
    target = run_path(out, run_date)
    if target.exists() and not force:
        raise RunError(
            f"{target}: a run for {run_date} already exists",
            hint="pass --force to replace it (the result is identical when nothing changed)",
        )
    return target


def staging_folder(out: Path, run_date: date) -> Path:
    path = out / f".staging-{run_date.isoformat()}-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def writing(target: Path, run_date: date) -> Iterator[None]:
    """Around the writing of a run folder: a full disk or a read-only folder (`os_problem`)
    becomes one clear RunError, and the half-written staging folder goes at once — the
    previous run folder is never touched before the final rename."""
    try:
        yield
    except Exception as exc:
        problem = os_problem(exc)
        if problem is None:
            raise
        shutil.rmtree(
            target.parent / f".staging-{run_date.isoformat()}-{os.getpid()}", ignore_errors=True
        )
        raise RunError(
            f"{target}: the run folder could not be written ({problem}); nothing was replaced",
            hint="free disk space or fix the folder's permissions, then run again",
        ) from None


def commit(staging: Path, target: Path) -> None:
    """Put a finished staging folder in place of `target` (two renames; see `_recover`)."""
    for item in staging.iterdir():
        with item.open("rb") as fh:
            os.fsync(fh.fileno())
    aside = None
    if target.exists():
        aside = target.parent / f".replaced-{target.name}-{os.getpid()}"
        target.rename(aside)
    staging.rename(target)
    if aside is not None:
        shutil.rmtree(aside)


def previous_run(out: Path, run_date: date) -> Path | None:
    """The latest run folder in `out` dated before `run_date`."""
    earlier: list[tuple[date, Path]] = []
    if out.is_dir():
        for child in out.iterdir():
            try:
                when = date.fromisoformat(child.name)
            except ValueError:
                continue
            if when < run_date and (child / "manifest.json").exists():
                earlier.append((when, child))
    return max(earlier)[1] if earlier else None


@contextlib.contextmanager
def workspace(out: Path, run_date: date) -> Iterator[Path]:
    """The work folder of one run (inside the locked output folder), removed afterwards; a
    killed run's is removed by the next run's lock (`.staging-*`). Engines spill into it."""
    work = out / f".staging-work-{run_date.isoformat()}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
