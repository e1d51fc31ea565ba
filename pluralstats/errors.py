"""Errors that the CLI turns into a clear message and exit code 2.

Every bad-input error carries a list of :class:`Problem` so that a user sees *all* that is wrong
with a file at once (file, column, row, value, what was expected), as pandera does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what was expected."""

    file: str
    message: str
    column: str | None = None
    row: int | None = None  # 1-based data row (the header is row 0)
    value: object = None

    def __str__(self) -> str:
        where = [self.file]
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        text = ", ".join(where) + f": {self.message}"
        if self.value is not None:
            text += f" (value: {self.value!r})"
        return text


class InputError(Exception):
    """Bad user input: the CLI prints it and exits with code 2; nothing is written."""

    exit_code = 2

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = list(problems or [])
        super().__init__(message)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        lines = [f"{head} ({len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class ValidationError(InputError):
    """A survey bundle or dataset failed validation."""


class DiagnosticsError(Exception):
    """A posterior failed its convergence diagnostics (exit code 3 unless overridden)."""

    exit_code = 3
