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
        if self.value is not None and self.column == "participant_id":
            text += " (value withheld: participant ids are never printed)"
        elif self.value is not None:
            text += f" (value: {self.value!r})"
        return text


class InputError(Exception):
    """Bad user input: the CLI prints it and exits with code 2; nothing is written."""

    exit_code = 2
    SHOWN_PER_KIND = 5  # rows printed per (file, column, message); the rest are counted

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = list(problems or [])
        super().__init__(message)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        lines = [f"{head} ({len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}):"]
        shown: dict[tuple, int] = {}
        for p in self.problems:
            key = (p.file, p.column, p.message)
            shown[key] = shown.get(key, 0) + 1
            if shown[key] <= self.SHOWN_PER_KIND:
                lines.append(f"  - {p}")
        for (file, column, message), n in shown.items():
            if n > self.SHOWN_PER_KIND:
                lines.append(f"  - ... and {n - self.SHOWN_PER_KIND} more rows of {file}, column '{column}': {message}")
        return "\n".join(lines)


class ValidationError(InputError):
    """A survey bundle or dataset failed validation."""


class DiagnosticsError(Exception):
    """A posterior failed its convergence diagnostics (exit code 3 unless overridden)."""

    exit_code = 3
