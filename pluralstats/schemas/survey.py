"""Schemas of the three survey tables. The ratings schema depends on the survey's scale and dimensions."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from pluralstats.config import SurveyConfig

PARTICIPANT_REQUIRED = ("participant_id",)
ITEM_REQUIRED = ("item_id", "response")
ITEM_DEFAULTS = {"prompt_id": None, "prompt": "", "language": "und", "source_model": "unknown"}


def _integer_rating(scale_max: int) -> pa.Check:
    def check(values: pd.Series) -> pd.Series:
        numeric = pd.to_numeric(values, errors="coerce")
        return numeric.notna() & (numeric % 1 == 0) & numeric.between(1, scale_max)

    return pa.Check(check, name=f"integer rating in 1..{scale_max}",
                    error=f"rating must be an integer in 1..{scale_max}")


def ratings_schema(config: SurveyConfig) -> pa.DataFrameSchema:
    dims = sorted(config.dimensions)
    return pa.DataFrameSchema(
        {
            "participant_id": pa.Column(str, nullable=False),
            "item_id": pa.Column(str, nullable=False),
            "dimension": pa.Column(str, pa.Check.isin(dims, name=f"known dimension (one of {dims})"),
                                   nullable=False),
            "rating": pa.Column(checks=_integer_rating(config.scale_max), nullable=False),
        },
        unique=["participant_id", "item_id", "dimension"],
        report_duplicates="exclude_first",
        name="ratings",
    )


def participants_schema(config: SurveyConfig, columns: list[str]) -> pa.DataFrameSchema:
    attrs = {a: pa.Column(str, nullable=False) for a in config.attributes if a in columns}
    # a missing attribute column is reported by the caller once, not per row
    return pa.DataFrameSchema(
        {"participant_id": pa.Column(str, nullable=False, unique=True), **attrs},
        report_duplicates="exclude_first",
        name="participants",
    )


def items_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "item_id": pa.Column(str, nullable=False, unique=True),
            "prompt_id": pa.Column(str, nullable=False),
            "prompt": pa.Column(str, nullable=True),
            "response": pa.Column(str, nullable=False),
            "language": pa.Column(str, nullable=False),
        },
        report_duplicates="exclude_first",
        name="items",
    )
