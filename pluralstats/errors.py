"""Errors that the CLI turns into a clear message and exit code 2.

Every bad-input error carries a list of :class:`Problem` so that a user sees *all* that is wrong
with a file at once (file, column, row, value, what was expected), as pandera does.
"""

from __future__ import annotations

from dataclasses import dataclass

SHOWN_CHARS = 200  # longest value (or file, column name) a message shows; hostile inputs can be megabytes
SHOWN_MESSAGE_CHARS = 400  # a message may embed another library's error text, itself quoting input
SHOWN_HEAD_CHARS = 2000  # an error's headline may list known levels, which come from the data


def shorten(text: object, limit: int = SHOWN_CHARS) -> str:
    """``str(text)`` cut to ``limit`` characters, saying how much was left out, control characters escaped (a
    file name or column from a hostile file could otherwise move the cursor or hide text)."""
    text = str(text)
    cut = text[:limit]
    if not cut.isprintable():
        cut = "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)
    return cut if len(text) <= limit else f"{cut}... ({len(text) - limit} more characters)"


def shown_value(value: object, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` cut to about ``limit`` characters (the repr of a long string is only built cut)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value) - limit} more characters)"
    return shorten(repr(value), limit)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what was expected.

    ``private``: the value is a participant id under another name (a raw export's rater column), so it is
    withheld like a value of ``participant_id``.
    """

    file: str
    message: str
    column: str | None = None
    row: int | None = None  # 1-based data row (the header is row 0)
    value: object = None
    private: bool = False

    def __str__(self) -> str:
        where = [shorten(self.file)]
        if self.column is not None:
            where.append(f"column '{shorten(self.column)}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        text = ", ".join(where) + f": {shorten(self.message, SHOWN_MESSAGE_CHARS)}"
        if self.value is not None and (self.private or self.column == "participant_id"):
            text += " (value withheld: participant ids are never printed)"
        elif self.value is not None:
            text += f" (value: {shown_value(self.value)})"
        return text


class InputError(Exception):
    """Bad user input: the CLI prints it and exits with code 2; nothing is written."""

    exit_code = 2
    SHOWN_PER_KIND = 5  # rows printed per (file, column, message); the rest are counted

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = list(problems or [])
        super().__init__(message)

    def __str__(self) -> str:
        head = shorten(super().__str__(), SHOWN_HEAD_CHARS)
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
                where = shorten(file) if column is None else f"{shorten(file)}, column '{shorten(column)}'"
                lines.append(f"  - ... and {n - self.SHOWN_PER_KIND} more rows of {where}: "
                             f"{shorten(message, SHOWN_MESSAGE_CHARS)}")
        return "\n".join(lines)


class ValidationError(InputError):
    """A survey bundle or dataset failed validation."""


class DiagnosticsError(Exception):
    """A posterior failed its convergence diagnostics (exit code 3 unless overridden)."""

    exit_code = 3
