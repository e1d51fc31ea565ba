"""The survey bundle: read, map, validate, write. Its currency is :class:`Survey`.

``load_survey`` returns three validated DataFrames or raises :class:`ValidationError` listing
every problem (file, column, row, value). Small group cells are warnings, not errors.

Input is treated as hostile: CSV headers and field counts are read by hand (pandas would rename a repeated
column or take a column as the index), files survey.toml names must lie inside the bundle folder unless
``allow_outside_paths``, a raw export's rows are reported by their row in that file and its own column
names, and no message shows a participant id or a line of a file it could not make sense of.
"""

from __future__ import annotations

import csv
import difflib
import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from pluralstats.errors import InputError, Problem, ValidationError, shorten, shown_value
from pluralstats.schemas import validate_frame
from pluralstats.schemas.survey import (
    ITEM_DEFAULTS,
    ITEM_REQUIRED,
    PARTICIPANT_REQUIRED,
    items_schema,
    participants_schema,
    ratings_schema,
)

from .config import SideTable, SurveyConfig, load_config

RATING_COLUMNS = ("participant_id", "item_id", "dimension", "rating")


def match_level(levels_of: dict[str, list[str]], attribute: str, level: str) -> str:
    """The level of ``attribute`` that ``level`` names: exactly, else case-insensitively. Unknown or
    ambiguous (two levels differing only in case) names raise :class:`InputError` listing the candidates."""
    known = levels_of[attribute]
    if level in known:
        return level
    hits = [v for v in known if v.casefold() == level.casefold()]
    if len(hits) > 1:
        raise InputError(f"Level '{level}' of '{attribute}' is ambiguous: it matches {', '.join(hits)} "
                         "(levels differing only in case); write it exactly")
    if not hits:
        raise InputError(f"Unknown level '{level}' of '{attribute}'; known: {', '.join(known)}")
    return hits[0]


def resolve_level(levels_of: dict[str, list[str]], spec: str) -> tuple[str, str]:
    """Find ``"attribute=level"`` or a bare level among ``levels_of``, matching names case-insensitively
    when nothing matches exactly; unknown or ambiguous specs raise :class:`InputError` listing the
    candidates or every known level (used for --group, --jury and compare --groups)."""
    listing = "; ".join(f"{a}: {', '.join(v)}" for a, v in levels_of.items())
    if "=" in spec:
        attribute, level = (s.strip() for s in spec.split("=", 1))
        if attribute not in levels_of:
            folded = [a for a in levels_of if a.casefold() == attribute.casefold()]
            if len(folded) != 1:
                raise InputError(f"Unknown attribute '{attribute}'. Known levels: {listing}")
            attribute = folded[0]
        try:
            return attribute, match_level(levels_of, attribute, level)
        except InputError as exc:
            raise InputError(f"{exc}. Known levels: {listing}") from None
    holders = [(a, spec) for a, levels in levels_of.items() if spec in levels]
    if not holders:
        holders = [(a, v) for a, levels in levels_of.items() for v in levels if v.casefold() == spec.casefold()]
    if not holders:
        raise InputError(f"Unknown group '{spec}'. Known levels: {listing}")
    if len(holders) > 1:
        raise InputError(f"Group '{spec}' is ambiguous: it matches {', '.join(f'{a}={v}' for a, v in holders)}; "
                         f"write it as attribute=level. Known levels: {listing}")
    return holders[0]


class SmallGroupWarning(UserWarning):
    """A demographic cell has fewer raters than the survey's ``min_group_size`` (k)."""


@dataclass
class Survey:
    """A loaded survey: its survey.toml settings and three tables in canonical columns (ratings in long
    form, one row per participant, one row per rated item), with the files read and any load warnings."""

    config: SurveyConfig
    ratings: pd.DataFrame  # participant_id, item_id, dimension, rating (int)
    participants: pd.DataFrame  # participant_id, country?, language?, attribute columns...
    items: pd.DataFrame  # item_id, prompt_id, prompt, response, language, source_model
    sources: list[Path] = field(default_factory=list)  # files read, for manifests
    warnings: list[str] = field(default_factory=list)

    @property
    def dimensions(self) -> list[str]:
        """The rated dimensions in survey.toml's order (the order every table and figure uses)."""
        return list(self.config.dimensions)

    @property
    def attributes(self) -> list[str]:
        """survey.toml's rater attributes that the participants table has, in survey.toml's order."""
        return [a for a in self.config.attributes if a in self.participants.columns]

    def levels(self, attribute: str) -> list[str]:
        """The attribute's levels among the participants, as strings, sorted (missing values left out)."""
        return sorted(self.participants[attribute].dropna().astype(str).unique())

    def resolve_level(self, spec: str) -> tuple[str, str]:
        """``"political=liberal"`` or ``"liberal"`` -> ``("political", "liberal")``; clear error otherwise."""
        return resolve_level({a: self.levels(a) for a in self.attributes}, spec)

    def ratings_with_attributes(self) -> pd.DataFrame:
        """Ratings joined with the raters' attributes and the items' prompt ids (one merge, reused)."""
        cols = ["participant_id", *self.attributes]
        merged = self.ratings.merge(self.participants[cols], on="participant_id", how="left")
        return merged.merge(self.items[["item_id", "prompt_id", "language"]], on="item_id", how="left")

    def group_sizes(self, attribute: str) -> pd.Series:
        """Raters per level of ``attribute``, counting only participants with at least one rating; smallest first."""
        # unique() first: isin over an arrow-backed column converts every value it is given one by one
        rated = self.participants[self.participants.participant_id.isin(self.ratings.participant_id.unique())]
        return rated.groupby(attribute).participant_id.nunique().sort_values()


# ---------------------------------------------------------------- reading

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


def _recode(values: pd.Series, recoding: dict[str, int], file: str, column: str, rows: pd.Series,
            problems: list[Problem]) -> tuple[pd.Series, pd.Series]:
    """Raw rating values through ``mapping.rating_values``: the recoded ratings (as text, like a CSV's) and the
    rows holding an unmapped value, which are reported here (so they are not reported again as bad ratings).
    A blank cell stays a missing value."""
    text = values.str.strip().replace("", None)
    coded = text.map(recoding)
    unmapped = text.notna() & coded.isna()
    _report_rows(problems, file, f"value is not in mapping.rating_values (known: {_listing(recoding)})", column,
                 rows[unmapped], values[unmapped])
    return coded.map(lambda v: str(int(v)), na_action="ignore"), unmapped


def _listing(recoding: dict[str, int]) -> str:
    return shorten(", ".join(repr(k) for k in recoding), 120)


def _one_row_per_key(table: pd.DataFrame, key: str, file: str, names: dict[str, str], label: str,
                     problems: list[Problem]) -> pd.DataFrame:
    """Collapse rows repeating one key (a rater's demographics on each of their ratings) into one row.

    A blank cell is a missing value, not a conflict: the key's filled cells count. Two different filled values
    in one column are a conflict, reported at the row where the value first changes (never with the key).
    """
    for column in [c for c in table.columns if c not in (key, "_row")]:
        filled = table.loc[table[column].notna(), [key, column, "_row"]]
        first = filled.drop_duplicates(key).rename(columns={column: "_first", "_row": "_first_row"})
        paired = filled.merge(first, on=key)
        clash = paired[paired[column] != paired["_first"]].drop_duplicates(key)
        # each message names its own pair of rows, so the error's per-kind limit does not apply: cut here
        shown = InputError.SHOWN_PER_KIND
        for row, value, first_row, first_value in zip(clash["_row"].head(shown), clash[column],
                                                      clash["_first_row"], clash["_first"], strict=False):
            problems.append(Problem(file, f"conflicting values for one {label}: row {int(first_row)} has "
                                          f"{shown_value(first_value, 60)}", column=names.get(column, column),
                                    row=int(row), value=value))
        if len(clash) > shown:
            problems.append(Problem(file, f"... and {len(clash) - shown} more {label}s with conflicting values",
                                    column=names.get(column, column)))
    # groupby's first() takes each column's first filled value: a blank cell in one row is filled from another
    return table.groupby(key, sort=False, dropna=True).first().reset_index()


def _side_table(spec: SideTable, path: Path, canonical_key: str, wanted: pd.Series, label: str,
                problems: list[Problem], missing: tuple[str, ...]) -> _Table | None:
    """The items (or raters) of a second raw file, one row per key, restricted to the keys the ratings name."""
    raw = _read_table(path, problems, texts=_text_columns(spec.columns), missing=missing)
    file = str(path)
    if raw is None or not _require(raw, dict.fromkeys([spec.key, *spec.columns.values()]), file, problems):
        return None
    raw = raw.assign(_row=raw.index + 1)
    raw = raw[raw[spec.key].isin(wanted.unique())]
    frame = raw[[spec.key, *spec.columns.values(), "_row"]].set_axis([canonical_key, *spec.columns, "_row"], axis=1)
    names = {canonical_key: spec.key, **spec.columns}
    return _Table(_one_row_per_key(frame, canonical_key, file, names, label, problems), file, names)


#: canonical columns holding free text, kept as written (not trimmed, never a missing-value marker)
TEXT_COLUMNS = ("prompt", "response")


def _text_columns(columns: dict[str, str]) -> tuple[str, ...]:
    """The file's own names of the text columns among ``columns`` (canonical -> file column)."""
    return tuple(v for k, v in columns.items() if k in TEXT_COLUMNS)


def _from_mapping(config: SurveyConfig, problems: list[Problem], source: Path | None, allow_outside: bool):
    """Split a raw export (and its side files) into the canonical tables, renaming through the mapping."""
    m = config.mapping
    path = source
    if path is None and m.source:
        path = _bundle_path(config, m.source, "mapping.source", problems, allow_outside)
    elif path is None:
        problems.append(Problem(str(config.root / "survey.toml"), "mapping.source names no file (set it, or "
                                                                    "pass --source)"))
    sides = {name: _bundle_path(config, spec.file, f"mapping.{name}.file", problems, allow_outside)
             for name, spec in (("items_source", m.items_source), ("participants_source", m.participants_source))
             if spec is not None}
    if path is None or None in sides.values():
        return None
    item_texts = {} if m.items_source else m.item_columns
    raw = _read_table(Path(path), problems, texts=_text_columns(item_texts), missing=config.missing_values)
    if raw is None:
        return None
    file = str(path)
    rating_columns = m.rating_columns if m.layout == "wide" else {None: m.rating}
    participant_columns = {} if m.participants_source else m.participant_columns
    item_columns = {} if m.items_source else m.item_columns
    needed = [m.participant_id, m.item_id, *participant_columns.values(), *item_columns.values(),
              *rating_columns.values()]
    if m.layout == "long" and m.dimension_value is None:
        needed.append(m.dimension)
    if not _require(raw, dict.fromkeys(needed), file, problems, "column named in [mapping]"):
        return None
    rows = pd.Series(raw.index + 1, index=raw.index)
    base = pd.DataFrame({"participant_id": raw[m.participant_id], "item_id": raw[m.item_id], "_row": rows})
    ratings = []
    for dim, column in rating_columns.items():
        values, unmapped = raw[column], pd.Series(False, index=raw.index)
        if m.rating_values is not None:
            values, unmapped = _recode(values, m.rating_values, file, column, rows, problems)
        dimension = dim or (m.dimension_value if m.dimension_value is not None else raw[m.dimension])
        names = {"participant_id": m.participant_id, "item_id": m.item_id, "rating": column,
                 **({"dimension": m.dimension} if m.layout == "long" and m.dimension_value is None else {})}
        part = base.assign(dimension=dimension, rating=values)
        ratings.append(_Table(part[~unmapped], file, names))
    tables = {}
    for label, key, own, spec, side in (
            ("participant", "participant_id", participant_columns, m.participants_source, "participants_source"),
            ("item", "item_id", item_columns, m.items_source, "items_source")):
        if spec is not None:
            tables[label] = _side_table(spec, sides[side], key, base[key], label, problems, config.missing_values)
            continue
        names = {key: getattr(m, key), **own}
        frame = raw[[names[key], *own.values()]].set_axis([key, *own], axis=1).assign(_row=rows)
        tables[label] = _Table(_one_row_per_key(frame, key, file, names, label, problems), file, names)
    if None in tables.values():
        return None
    return ratings, tables["participant"], tables["item"], [Path(path), *sides.values()]


def _from_files(config: SurveyConfig, problems: list[Problem], allow_outside: bool):
    """The three canonical tables named under ``[files]``."""
    paths = {k: _bundle_path(config, v, f"files.{k}", problems, allow_outside) for k, v in config.files.items()}
    if None in paths.values():
        return None
    frames = {k: _read_table(p, problems, texts=TEXT_COLUMNS if k == "items" else (), missing=config.missing_values)
              for k, p in paths.items()}
    if any(f is None for f in frames.values()):
        return None
    tables = {k: _Table(f.assign(_row=f.index + 1), str(paths[k])) for k, f in frames.items()}
    if not _require(frames["ratings"], RATING_COLUMNS, tables["ratings"].file, problems):
        return None
    return [tables["ratings"]], tables["participants"], tables["items"], list(paths.values())


def load_survey(path: str | Path, *, source: str | Path | None = None, strict: bool = False,
                allow_outside_paths: bool = False) -> Survey:
    """Read and validate a bundle (a folder with ``survey.toml``, or the toml itself).

    ``source`` overrides ``mapping.source``. With ``strict``, small-group warnings become errors. Files that
    survey.toml names must lie inside the bundle folder unless ``allow_outside_paths``.
    """
    config = load_config(path)
    problems: list[Problem] = []
    loaded = _from_mapping(config, problems, Path(source) if source else None, allow_outside_paths) \
        if config.mapping else _from_files(config, problems, allow_outside_paths)
    if loaded is None:
        raise ValidationError("Invalid survey bundle", problems)
    ratings, participants, items, sources = loaded
    ratings, participants, items = _validate(config, ratings, participants, items, problems)
    if problems:
        raise ValidationError("Invalid survey bundle", problems)
    survey = Survey(config, ratings, participants, items, sources)
    survey.warnings = small_group_warnings(survey)
    for message in survey.warnings:
        if strict:
            raise ValidationError("Invalid survey bundle", [Problem(str(sources[0]), message)])
        warnings.warn(message, SmallGroupWarning, stacklevel=2)
    return survey


def _validate(config: SurveyConfig, rating_parts: list[_Table], participants: _Table, items: _Table,
              problems: list[Problem]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Check the tables and the keys between them; return them without ``_row`` when nothing is wrong."""
    for part in rating_parts:
        schema = ratings_schema(config.dimensions, config.scale_max)
        _, found = validate_frame(schema, part.frame, part.file, part.frame["_row"])
        problems += part.located(found)
    ratings = pd.concat([part.frame for part in rating_parts], ignore_index=True)
    people = participants.frame
    if _require(people, PARTICIPANT_REQUIRED, participants.file, problems):
        for attr in config.attributes:
            if attr not in people.columns:
                problems.append(Problem(participants.file, "demographic attribute named in survey.toml is missing",
                                        column=participants.names.get(attr, attr)))
        schema = participants_schema(config.attributes, list(people.columns))
        _, found = validate_frame(schema, people, participants.file, people["_row"])
        problems += participants.located(found)
        ids = set(people["participant_id"].dropna().astype(str))
        for attr, reference in config.attributes.items():
            levels = set(people[attr].dropna().astype(str)) if attr in people.columns else set()
            column = participants.names.get(attr, attr)
            if _looks_like_ids(people, attr, config.min_group_size):
                problems.append(Problem(participants.file, "every rater has a value of their own: the column looks "
                                        "like an id, not a demographic attribute (its values are never shown)",
                                        column=column, private=True))
            elif levels and reference not in levels:
                # a level that is some rater's id is left out of the listing, whatever the column holds
                problems.append(Problem(participants.file, f"reference level '{reference}' (survey.toml "
                                        f"[attributes]) does not occur; levels: {_levels(levels - ids)}",
                                        column=column))
    texts = items.frame
    if _require(texts, ITEM_REQUIRED, items.file, problems):
        texts = texts.copy()
        for col, default in ITEM_DEFAULTS.items():
            if col not in texts.columns:
                texts[col] = texts["item_id"] if col == "prompt_id" else default
        texts["prompt"] = texts["prompt"].fillna("")
        _, found = validate_frame(items_schema(), texts, items.file, texts["_row"])
        problems += items.located(found)
    first = rating_parts[0]
    for table, col, label in ((participants, "participant_id", "participant"), (items, "item_id", "item")):
        if col not in table.frame.columns:
            continue
        unknown = ratings[col].notna() & ~ratings[col].isin(table.frame[col].unique())
        unknown_rows = ratings.loc[unknown].drop_duplicates("_row")
        _report_rows(problems, first.file, f"rating for an unknown {label} (not in {table.file})",
                     first.names.get(col, col), unknown_rows["_row"], unknown_rows[col],
                     private=col == "participant_id")
    if problems:
        return ratings, people, texts
    ratings = ratings.drop(columns="_row").reset_index(drop=True)
    ratings["rating"] = pd.to_numeric(ratings["rating"]).astype("int64")
    return (ratings, people.drop(columns="_row").reset_index(drop=True),
            texts.drop(columns="_row").reset_index(drop=True))


def _looks_like_ids(people: pd.DataFrame, attribute: str, k: int) -> bool:
    """Whether an attribute column holds the raters' ids (or something as identifying): its value is the rater's
    own id on every row, or, where groups must have k > 1 raters, every rater has a level of their own (such an
    attribute has nothing but small groups to show, and its listing would be a list of identifiers)."""
    if attribute not in people.columns or len(people) < 2:
        return False
    values = people[attribute]
    if values.isna().any():
        return False
    own = (values.astype(str) == people["participant_id"].astype(str)).all()
    return bool(own or (k > 1 and values.nunique() == len(people)))


def _levels(levels: set[str]) -> str:
    return shorten(", ".join(sorted(map(repr, levels))), 300)


def small_group_warnings(survey: Survey) -> list[str]:
    """A warning per attribute level with fewer than ``min_group_size`` raters (the count itself not shown)."""
    k = survey.config.min_group_size
    messages = []
    for attr in survey.attributes:
        sizes = survey.group_sizes(attr)
        for level in sizes[sizes < k].index:  # the count itself is a small cell: not printed
            messages.append(f"group {attr}={level} has fewer than k={k} raters; its level effect rests largely "
                            "on the prior (fit-survey --pooled-levels shrinks it toward the attribute's mean), "
                            "and it is suppressed in reports")
    return messages


def save_survey(survey: Survey, folder: str | Path, extra_files: dict[str, str] | None = None) -> Path:
    """Write a canonical bundle (CSV + survey.toml + any ``extra_files`` name -> text) atomically."""
    from pluralstats.io import atomic_path

    folder = Path(folder)
    canonical = SurveyConfig(**{**survey.config.__dict__, "mapping": None,
                                "files": {"ratings": "ratings.csv", "participants": "participants.csv",
                                          "items": "items.csv"}})
    with atomic_path(folder, is_dir=True) as tmp:
        survey.ratings.to_csv(tmp / "ratings.csv", index=False)
        survey.participants.to_csv(tmp / "participants.csv", index=False)
        survey.items.to_csv(tmp / "items.csv", index=False)
        (tmp / "survey.toml").write_text(canonical.to_toml())
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)
    return folder
