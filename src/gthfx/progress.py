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
        if self.console is not None:
            with self.console.status(f"{label}…"):
                yield
        else:
            self.info(f"stage={name} start")
            yield
        elapsed = time.perf_counter() - start
        self.timings[name] = self.timings.get(name, 0.0) + elapsed
        rss = _rss_mib()
        memory = f" rss_mib={rss}" if rss is not None else ""
        self.info(
            f"stage={name} done seconds={elapsed:.2f}{memory}"
            if self.console is None
            else f"{label} ({elapsed:.1f} s)"
        )


def _rss_mib() -> int | None:
    """Resident memory of this process now, in MiB (Linux; None elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") // (1 << 20)
