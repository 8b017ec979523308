"""The one error family of gthfx: every problem a user can fix ends as a `GthfxError`.

    GthfxError            exit code 2, caught only by the CLI, printed as one clear message
    ├── ConfigError       gthfx.yaml, command-line arguments, paths
    ├── SourcesError      the sources mapping (field → accepted headers)
    ├── InputError        an extract: unreadable file, wrong encoding, missing column
    ├── RulesError        a ruleset: YAML syntax, unknown field, duplicate key, bad expression
    └── RunError          the run folder: already exists, locked by another run

Bugs are not caught: they stay tracebacks (shown without local variables, which may hold
personal data). A full disk, a read-only or forbidden folder is not a bug: `os_problem` tells
such an error (an OSError, or a Polars/DuckDB error wrapping one) from the rest.
"""

from __future__ import annotations

import errno
import os
import re

# what the user (or the operator) fixes: space, permissions, a read-only mount, quotas
USER_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}
_OS_ERROR = re.compile(r"\(os error (\d+)\)|\[Errno (\d+)\]")


def os_problem(exc: BaseException) -> str | None:
    """The words for an error of the file system the user can fix (no space left, read-only,
    permission denied), wherever it was raised; None for anything else."""
    number = exc.errno if isinstance(exc, OSError) else None
    if number is None:
        match = _OS_ERROR.search(str(exc))
        number = int(match[1] or match[2]) if match else None
    if number not in USER_ERRNOS:
        return None
    return os.strerror(number).lower()


class GthfxError(Exception):
    """A problem the user can fix; the CLI prints it and exits with `exit_code`."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\n  hint: {self.hint}"


class ConfigError(GthfxError):
    """gthfx.yaml, the command-line arguments, or a path they name."""


class SourcesError(GthfxError):
    """The sources mapping."""


class InputError(GthfxError):
    """An extract file that cannot be read as the mapping says."""


class RulesError(GthfxError):
    """A ruleset file or an expression in it."""


class RunError(GthfxError):
    """The run folder: exists without --force, or another run holds its lock."""
