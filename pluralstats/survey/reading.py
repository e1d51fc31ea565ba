"""Reading a bundle's files: paths kept inside the bundle folder, CSV headers and field counts checked by hand,
CSV/TSV/Parquet read as trimmed strings, missing columns reported with a near name, bad rows reported one by one.

Every function adds :class:`~pluralstats.errors.Problem` entries to the list it is given rather than raising, so that
one load reports every problem at once.
"""

from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from pluralstats.errors import Problem

from .survey_config import SurveyConfig

SHOWN_COLUMN_NAME = re.compile(r"[\w .()-]{1,40}")  # header names a message may echo: short, no ":" or "/"
REPORTED_ROWS = 50  # ragged rows reported per file; the rest are counted in one line
CSV_FIELD_LIMIT = 2**31 - 1  # the csv module's default (128 KiB) is below a long LLM response


@dataclass
class _Table:
    """A table in canonical columns plus ``_row`` (its 1-based data row in ``file``).

    ``names``: canonical column -> the column's name in ``file`` (a raw export's names), for messages.
    """

    frame: pd.DataFrame
    file: str
    names: dict[str, str] = field(default_factory=dict)

    def located(self, problems: list[Problem]) -> list[Problem]:
        """Problems found on the canonical frame, renamed to the file's own column names."""
        return [replace(p, column=self.names.get(p.column, p.column), private=p.private or p.column == "participant_id")
                for p in problems]


def _inside(path: Path, root: Path) -> bool:
    # resolved, so that "..", absolute paths and symbolic links leading out all count as outside
    return path.resolve().is_relative_to(root.resolve())


def _bundle_path(config: SurveyConfig, name: str, key: str, problems: list[Problem],
                 allow_outside: bool) -> Path | None:
    """``name`` relative to the bundle folder; refused (a problem, None) when it leads outside that folder."""
    path = config.root / name
    try:
        if allow_outside or _inside(path, config.root):
            return path
    except (OSError, ValueError) as exc:  # a NUL character, a name too long for the file system...
        problems.append(Problem(str(config.root / "survey.toml"), f"{key} is not a usable path: {exc}",
                                value=name))
        return None
    problems.append(Problem(str(config.root / "survey.toml"),
                            f"{key} points outside the bundle folder; bundle files must lie in it (pass "
                            f"--allow-outside-paths to read it anyway)", value=name))
    return None


def _shown_columns(columns) -> str:
    """The header names a message may show: short plain names only, so that no foreign line is echoed."""
    shown = [c for c in columns if SHOWN_COLUMN_NAME.fullmatch(c)][:20]
    rest = len(columns) - len(shown)
    other = f"{rest} {'other ' if shown else ''}column{'s' if rest != 1 else ''}"
    if not shown:
        return f"{other} (none with a short plain name)"
    return ", ".join(shown) + (f" and {other}" if rest else "")


#: delimiters a one-column header may hold when the file is not comma-separated
FOREIGN_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _delimiter_hint(columns: list[str], path_suffix: str) -> str:
    """When the whole header is one column holding another delimiter: say so (a European-locale CSV export)."""
    if len(columns) != 1:
        return ""
    for delimiter, name in FOREIGN_DELIMITERS.items():
        if delimiter in columns[0] and not (delimiter == "\t" and path_suffix == ".tsv"):
            return (f"the header is one column holding {name}: the file is not comma-separated (save it as CSV "
                    f"with commas{', or as .tsv' if delimiter == chr(9) else ''}); ")
    return ""


def _csv_header(path: Path, file: str, sep: str, problems: list[Problem]) -> list[str] | None:
    """The header of a CSV, read by hand: pandas renames a repeated name (``rating.1``) and, when the first
    data row has one field more than the header, silently takes the first column as the index.

    Adds a problem for every repeated name, every row whose field count differs from the header's and the first
    row holding a NUL byte; returns None when there is any.
    """
    limit = csv.field_size_limit()
    csv.field_size_limit(CSV_FIELD_LIMIT)
    found: list[Problem] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            records = (r for r in csv.reader(handle, delimiter=sep, skipinitialspace=True) if r)
            header = next(records, None)
            if header is None:
                problems.append(Problem(file, "file is empty (no header, no rows)"))
                return None
            header = [c.strip() for c in header]
            ragged = 0
            nul = _has_nul(path)
            if nul and any("\x00" in c for c in header):
                found.append(Problem(file, "the header holds a NUL byte (is it a text file?)"))
            for row, record in enumerate(records, start=1):
                if len(record) != len(header):
                    ragged += 1
                    if ragged <= REPORTED_ROWS:
                        found.append(Problem(file, f"row has {len(record)} fields but the header has {len(header)}",
                                             row=row))
                if nul and any("\x00" in f for f in record):
                    found.append(Problem(file, "row holds a NUL byte (is it a text file?)", row=row))
                    nul = False  # one such row is enough to refuse the file
    except (csv.Error, UnicodeDecodeError, OSError) as exc:
        problems.append(Problem(file, f"cannot be read: {type(exc).__name__}: {exc}"))
        return None
    finally:
        csv.field_size_limit(limit)
    if ragged > REPORTED_ROWS:
        found.append(Problem(file, f"... and {ragged - REPORTED_ROWS} more rows whose field count differs from "
                                   f"the header's"))
    found += _repeated_columns(header, file)
    problems += found
    return None if found else header


def _has_nul(path: Path) -> bool:
    """Whether a file holds a NUL byte, which the csv module and pandas both read as part of a value."""
    with path.open("rb") as handle:
        return any(b"\x00" in chunk for chunk in iter(lambda: handle.read(1 << 20), b""))


def _repeated_columns(columns: list[str], file: str) -> list[Problem]:
    counts = pd.Series(columns).value_counts()
    return [Problem(file, f"column name occurs {n} times in the header", column=name)
            for name, n in counts[counts > 1].items()]


def _read_table(path: Path, problems: list[Problem], *, texts: tuple[str, ...] = (),
                missing: tuple[str, ...] = ()) -> pd.DataFrame | None:
    """A CSV/TSV/Parquet file as strings, or None after adding its problems.

    Every value but those of the ``texts`` columns (prompts, responses) is trimmed of surrounding spaces, as the
    header names are, so that ``liberal ,`` is the level ``liberal``. A blank cell is missing, and so is a value
    among ``missing`` (survey.toml ``missing_values``) outside the texts; nothing else is: ``None`` or the
    country code ``NA`` are values like any other.
    """
    file = str(path)
    try:
        kind = "file not found" if not path.exists() else "is not a file" if not path.is_file() else \
            "file is empty (0 bytes)" if path.stat().st_size == 0 else None
    except (OSError, ValueError) as exc:  # a NUL character, a name too long, no permission to look...
        kind = f"cannot be opened: {type(exc).__name__}: {exc}"
    if kind is not None:
        problems.append(Problem(file, kind))
        return None
    parquet = path.suffix.lower() in (".parquet", ".pq")
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    if not parquet and _csv_header(path, file, sep, problems) is None:
        return None
    try:
        if parquet:
            frame = pd.read_parquet(path)
            # strings like a CSV's, so that ids and labels compare alike whichever format holds them
            frame = frame.astype({c: "str" for c in frame.columns})
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, index_col=False,
                                sep=sep)
    except Exception as exc:  # corrupt parquet, a parser's own limits...
        problems.append(Problem(file, f"cannot be read: {type(exc).__name__}: {exc}"))
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    repeated = _repeated_columns(list(frame.columns), file)
    if repeated:
        problems += repeated
        return None
    if frame.empty:
        problems.append(Problem(file, "file has no rows" if parquet else "file has a header but no rows"))
        return None
    return _blank_to_missing(frame, texts, missing).reset_index(drop=True)


def _blank_to_missing(frame: pd.DataFrame, texts: tuple[str, ...], missing: tuple[str, ...]) -> pd.DataFrame:
    """Values trimmed (texts kept as written); blank cells, and ``missing`` markers outside texts, missing."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        trimmed = values.str.strip()
        blank = trimmed.eq("").fillna(False)
        if column not in texts:
            values = trimmed
            blank |= trimmed.isin(missing)
        out[column] = values.mask(blank)
    return pd.DataFrame(out, index=frame.index)


def _require(frame: pd.DataFrame, columns, file: str, problems: list[Problem], what: str = "required column") -> bool:
    """Add a problem per missing column (suggesting a near name); True when none is missing."""
    present = [str(c) for c in frame.columns]
    missing = [c for c in columns if c not in present]
    shown = [c for c in present if SHOWN_COLUMN_NAME.fullmatch(c)]
    foreign = _delimiter_hint(present, Path(file).suffix.lower())
    for col in missing:
        close = difflib.get_close_matches(col, shown, n=1)
        hint = foreign or (f"did you mean '{close[0]}'? " if close else "")
        problems.append(Problem(file, f"{what} is missing; {hint}columns: {_shown_columns(present)}", column=col))
    return not missing


def _report_rows(problems: list[Problem], file: str, message: str, column: str, rows: pd.Series,
                 values: pd.Series, private: bool = False) -> None:
    """One problem per bad row, as the schema checks give (the error prints a few of a kind, counting the rest)."""
    problems += [Problem(file, message, column=column, row=int(row), value=value, private=private)
                 for row, value in zip(rows, values, strict=True)]
