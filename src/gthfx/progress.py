"""Telling the user how a run goes: a rich status line on a terminal, plain greppable log lines
(no colours, no bars) otherwise — as under cron — and nothing but errors with --quiet.

Messages never carry record values: counts, stages, file names and timings only.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TextIO

from rich.console import Console


class Reporter:
    """Stage timings plus human output; the pipeline calls it, the CLI chooses the mode."""

    def __init__(self, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.interactive = not quiet and self.stream.isatty()
        self.console = Console(file=self.stream, highlight=False) if self.interactive else None
        self.timings: dict[str, float] = {}
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        """A problem the run went on despite: shown even with --quiet (cron mails it), once."""
        if message in self.warnings:
            return
        self.warnings.append(message)
        if self.console is not None:
            self.console.print("warning:", style="bold yellow", end=" ")
            self.console.print(message, markup=False)
        else:
            stamp = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
            print(f"{stamp} gthfx WARNING {message}", file=self.stream, flush=True)

    def info(self, message: str) -> None:
        if self.quiet:
            return
        if self.console is not None:
            self.console.print("·", style="dim", end=" ")
            self.console.print(message, markup=False)  # a path may hold [ ]
        else:
            stamp = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
            print(f"{stamp} gthfx INFO {message}", file=self.stream, flush=True)

    @contextlib.contextmanager
    def stage(self, name: str, label: str) -> Iterator[None]:
        """Time one stage; show a spinner on a terminal, a start and an end line otherwise."""
        start = time.perf_counter()
        cpu = time.process_time()
        if STAGE_PEAKS:
            _reset_peak()
        if self.console is not None:
            with self.console.status(f"{label}…"):
                yield
        else:
            self.info(f"stage={name} start")
            yield
        elapsed = time.perf_counter() - start
        self.timings[name] = self.timings.get(name, 0.0) + elapsed
        rss, peak = _rss_mib(), _peak_mib() if STAGE_PEAKS else None
        memory = f" rss_mib={rss}" if rss is not None else ""
        memory += f" peak_mib={peak}" if peak is not None else ""
        memory += f" cpu_seconds={time.process_time() - cpu:.2f}" if STAGE_PEAKS else ""
        self.info(
            f"stage={name} done seconds={elapsed:.2f}{memory}"
            if self.console is None
            else f"{label} ({elapsed:.1f} s)"
        )


# GTHFX_STAGE_PEAKS=1: each stage's line also says the most memory it held and the CPU time it
# took on all cores (for profiling: CPU seconds far below 2 × wall on two cores is a stage that
# leaves a core idle). Off
# by default: it starts the process's peak afresh at each stage, which is also the peak that
# `time -v` and `make bench` read (wait4's ru_maxrss) once the process ends.
STAGE_PEAKS = os.environ.get("GTHFX_STAGE_PEAKS") == "1"


def _reset_peak() -> None:
    """Start this process's peak resident memory afresh (Linux: `clear_refs` 5), so that each
    stage's line says the most it held."""
    with (
        contextlib.suppress(OSError),
        open("/proc/self/clear_refs", "w", encoding="ascii") as fh,
    ):
        fh.write("5")


def _peak_mib() -> int | None:
    """The most resident memory this process held since `_reset_peak`, in MiB (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _rss_mib() -> int | None:
    """Resident memory of this process now, in MiB (Linux; None elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") // (1 << 20)
