"""Schemas of the three survey tables, from their contracts (``ratings.json``, ``participants.json``, ``items.json``);
the ratings schema adds the survey's scale and dimensions, the participants schema its attributes."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import pandera.pandas as pa

from .table import pandera_schema

PARTICIPANT_REQUIRED = ("participant_id",)
ITEM_REQUIRED = ("item_id", "response")
ITEM_DEFAULTS = {"prompt_id": None, "prompt": "", "language": "und", "source_model": "unknown"}


def _integer_rating(scale_max: int) -> pa.Check:
    def check(values: pd.Series) -> pd.Series:
        numeric = pd.to_numeric(values, errors="coerce")
        return numeric.notna() & (numeric % 1 == 0) & numeric.between(1, scale_max)

    return pa.Check(check, name=f"integer rating in 1..{scale_max}",
                    error=f"rating must be an integer in 1..{scale_max}")


def ratings_schema(dimensions: Iterable[str], scale_max: int) -> pa.DataFrameSchema:
    """The ratings table's contract (``ratings.json``) with the survey's dimensions and rating scale."""
    dims = sorted(dimensions)
    # the rating is checked by value, not dtype: a CSV gives strings, and "4.0" or "six" must name the row
    rating = pa.Column(checks=_integer_rating(scale_max), nullable=False)
    known = pa.Check.isin(dims, name=f"known dimension (one of {dims})")
    return pandera_schema("ratings", checks={"dimension": [known]}, columns={"rating": rating})


def participants_schema(attributes: Iterable[str], columns: list[str]) -> pa.DataFrameSchema:
    """The participants table's contract (``participants.json``) plus a column per attribute of the survey."""
    attrs = {a: pa.Column(str, nullable=False) for a in attributes if a in columns}
    # a missing attribute column is reported by the caller once, not per row
    return pandera_schema("participants", columns=attrs)


def items_schema() -> pa.DataFrameSchema:
    """The items table's contract (``items.json``)."""
    return pandera_schema("items")
