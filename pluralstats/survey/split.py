"""The held-out prompt split, made once per survey and seed so evaluation never sees a training prompt.

The split is by ``prompt_id`` (all responses to a prompt fall on the same side), stratified by
language, and depends only on the sorted prompt ids, the fraction and the seed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd


def prompt_split(items: pd.DataFrame, eval_fraction: float = 0.2, seed: int = 0) -> pd.Series:
    """Return a Series indexed by prompt_id with values ``"train"`` or ``"eval"``."""
    if not 0.0 <= eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    prompts = items[["prompt_id", "language"]].drop_duplicates("prompt_id").sort_values("prompt_id")
    rng = np.random.default_rng(seed)
    side = pd.Series("train", index=prompts.prompt_id.to_numpy(), name="split")
    for _, group in prompts.groupby("language", sort=True):
        ids = group.prompt_id.to_numpy()
        n_eval = int(round(eval_fraction * len(ids)))
        if eval_fraction > 0 and len(ids) > 1:
            n_eval = min(max(n_eval, 1), len(ids) - 1)
        side.loc[rng.choice(ids, size=n_eval, replace=False)] = "eval"
    side.index.name = "prompt_id"
    return side


SPLIT_COLUMNS = ["prompt_id", "split"]


def write_split_csv(split: pd.Series, path: str | os.PathLike) -> Path:
    """Write a split (``prompt_id -> "train"/"eval"``) atomically as CSV (columns ``prompt_id,split``): the one
    writer of split files (a preference dataset's ``*.split.csv``, an experiment's ``split.csv``)."""
    from pluralstats.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        split.rename("split").rename_axis("prompt_id").reset_index().to_csv(tmp, index=False)
    return path


def read_split_csv(path: str | os.PathLike) -> pd.Series:
    """The split written by :func:`write_split_csv`; :class:`~pluralstats.errors.InputError` if ``path`` is
    missing, unreadable, or not a ``prompt_id,split`` table of ``train``/``eval``."""
    from pluralstats.errors import InputError
    from pluralstats.readers import read_table

    path = Path(path)
    if not path.exists():
        raise InputError(f"No split file {path}")
    frame = read_table(path, dtype=str)
    if list(frame.columns) != SPLIT_COLUMNS or not frame.split.isin(["train", "eval"]).all():
        raise InputError(f"{path} is not a split file (columns prompt_id,split with train/eval)")
    return frame.set_index("prompt_id").split
