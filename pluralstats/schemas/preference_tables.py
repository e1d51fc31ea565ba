"""Schema of the preference dataset (TRL's prompt/chosen/rejected form plus weight and provenance).

The columns are declared in ``preferences.json`` and ``pairs.json`` (Frictionless Table Schema, read by
:mod:`pluralstats.schemas.table`). The ``strategy`` column takes the names of the installed strategies, which the
caller passes from the strategy registry (:mod:`pluralstats.prefs.strategy_registry`).

``prompt``, ``chosen`` and ``rejected`` are non-empty plain strings so that ``datasets.Dataset.from_parquet``
gives a dataset TRL's DPOTrainer takes as is; ``weight`` is a per-pair weight in (0, 1] (a pair of
weight 0 carries no preference, so it is never written and never trained on).

Two schemas share these column rules: :func:`prefs_schema` (everything ``pluralstats prefs`` writes,
strict) and :func:`pairs_schema` (just the TRL columns, any others allowed: what training needs).
:func:`cell_type_problems` checks each cell's Python type first, since pandera reports a wrong column
dtype (say, weights stored as strings) once for the column, without the rows.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import pandas as pd
import pandera.pandas as pa

from pluralstats.errors import Problem

from .table import pandera_schema

TEXT_COLUMNS = ("prompt", "chosen", "rejected")
PAIR_COLUMNS = (*TEXT_COLUMNS, "weight")
WEIGHT_RULE = "weight in (0, 1]"  # a weight of 0 carries no preference


def _different_items(frame: pd.DataFrame) -> pd.Series:
    return frame["chosen_item_id"] != frame["rejected_item_id"]


def pairs_schema() -> pa.DataFrameSchema:
    """Training pairs (``pairs.json``): prompt, chosen, rejected and weight; other columns are allowed and ignored."""
    return pandera_schema("pairs")


def prefs_schema(strategies: Sequence[str]) -> pa.DataFrameSchema:
    """A preference dataset as ``pluralstats prefs`` writes it (``preferences.json``): the TRL columns plus
    provenance, ``strategy`` one of ``strategies`` (the installed ones: the caller asks the strategy registry)."""
    return pandera_schema("preferences", checks={"strategy": [pa.Check.isin(list(strategies))]},
                          frame_checks=[pa.Check(_different_items, name="chosen and rejected are different responses")])


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)  # NaN != NaN


def cell_type_problems(frame: pd.DataFrame, file: str) -> list[Problem]:
    """Every cell of the TRL columns that is missing or of the wrong type, with its 1-based row.

    Text cells must be strings; weights real numbers (not booleans, not numeric strings such as
    ``"0.5"``: a string column is a sign the file was not written as intended).
    """
    problems: list[Problem] = []
    for column in PAIR_COLUMNS:
        if column not in frame.columns:
            continue
        wanted = str if column in TEXT_COLUMNS else numbers.Real
        for row, value in enumerate(frame[column].tolist(), start=1):
            if _missing(value):
                problems.append(Problem(file, "missing value", column=column, row=row))
            elif not isinstance(value, wanted) or isinstance(value, bool):
                kind = "a string" if wanted is str else "a number"
                problems.append(Problem(file, f"not {kind} ({type(value).__name__})", column=column, row=row,
                                        value=_short(value)))
    return problems


def _short(value: object, limit: int = 40) -> object:
    """The value itself, or its first characters: a message quotes a cell, not a document."""
    text = str(value)
    return value if len(text) <= limit else text[:limit] + "..."
