"""Schema of the preference dataset (TRL's prompt/chosen/rejected form plus weight and provenance).

``prompt``, ``chosen`` and ``rejected`` are plain strings so that ``datasets.Dataset.from_parquet``
gives a dataset TRL's DPOTrainer takes as is; ``weight`` is a per-pair weight in (0, 1].
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

STRATEGY_NAMES = ["majority", "preserve", "mean", "minority-veto", "posterior"]


def _different_items(frame: pd.DataFrame) -> pd.Series:
    return frame["chosen_item_id"] != frame["rejected_item_id"]


def prefs_schema() -> pa.DataFrameSchema:
    text = {"nullable": False}
    return pa.DataFrameSchema(
        {
            "prompt": pa.Column(str, **text),
            "chosen": pa.Column(str, pa.Check.str_length(min_value=1), **text),
            "rejected": pa.Column(str, pa.Check.str_length(min_value=1), **text),
            "weight": pa.Column(float, pa.Check.in_range(0.0, 1.0, include_min=False), **text),
            "dimension": pa.Column(str, **text),
            "group": pa.Column(str, **text),
            "strategy": pa.Column(str, pa.Check.isin(STRATEGY_NAMES), **text),
            "scale": pa.Column("int64", pa.Check.ge(2), **text),
            "language": pa.Column(str, **text),
            "prompt_id": pa.Column(str, **text),
            "chosen_item_id": pa.Column(str, **text),
            "rejected_item_id": pa.Column(str, **text),
        },
        checks=pa.Check(_different_items, name="chosen and rejected are different responses"),
        unique=["chosen_item_id", "rejected_item_id", "dimension", "group", "strategy", "scale"],
        report_duplicates="exclude_first",
        strict=True,
        ordered=True,
        name="preferences",
    )
