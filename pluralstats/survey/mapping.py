"""A bundle's files as the canonical tables: a raw export (and its side files) split and renamed through
survey.toml's ``[mapping]``, or the three canonical files named under ``[files]``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pluralstats.errors import InputError, Problem, shorten, shown_value

from .reading import _bundle_path, _read_table, _report_rows, _require, _Table
from .survey_config import SideTable, SurveyConfig

RATING_COLUMNS = ("participant_id", "item_id", "dimension", "rating")


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
