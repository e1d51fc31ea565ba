"""Unpaired feedback (KTO's data): each response desirable or undesirable by one group's own ratings.

Rules (exact).

* Prompts: the split's ``use`` side (train by default), as :func:`pluralstats.prefs.build_preferences`.
* Raters: ``groups`` (ANDed conditions) and ``jury``, with the evidence weights and size rule of
  :mod:`pluralstats.prefs.pools` (each rating of an item ``1/n``, or reweighted to the jury's shares).
* Threshold: every objective dimension needs ``positive_threshold`` in ``survey.toml``. It is not
  defaulted: whether a response is acceptable is the survey's own yes/no cut, not a convention
  (a missing one is an :class:`~pluralstats.errors.InputError` naming the setting).
* A rating is *good* when it is ``>= positive_threshold`` on a ``higher_is_better`` dimension and
  ``< positive_threshold`` on a ``lower_is_better`` one (a toxicity rating at or above the threshold
  flags harm, as in the minority-veto strategy).
* ``good_share`` of a response on a dimension: the evidence-weighted share of its good ratings.
  A response is **desirable** when its good share is above 0.5 on every objective dimension,
  **undesirable** when it is below 0.5 on at least one; otherwise (exactly 0.5 somewhere, below on
  none) it is left out as a tie. Responses the selected raters did not rate on every objective
  dimension are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.survey import Survey

UNPAIRED_COLUMNS = ["prompt", "completion", "label", "good_share", "prompt_id", "item_id", "group"]
TIE_TOL = 1e-9


def thresholds(survey: Survey, dimensions: Sequence[str]) -> dict[str, int]:
    """The explicit ``positive_threshold`` of each dimension; unknown or unset ones are named in the error."""
    unknown = [d for d in dimensions if d not in survey.dimensions]
    if unknown:
        raise InputError(f"Unknown dimension(s) {', '.join(unknown)}; known: {', '.join(survey.dimensions)}")
    missing = [d for d in dimensions if survey.config.dimensions[d].positive_threshold is None]
    if missing:
        settings = ", ".join(f"[dimensions.{d}] positive_threshold" for d in missing)
        raise InputError(f"Unpaired (KTO) labels need the survey's positive threshold; survey.toml has no "
                         f"{settings} (a rating at or above it counts as positive)")
    return {d: int(survey.config.dimensions[d].positive_threshold) for d in dimensions}


def build_unpaired(survey: Survey, *, dimensions: Sequence[str] = ("toxicity",), groups: Sequence[str] = (),
                   jury: str | Mapping[str, float] | None = None, use: str = "train", eval_fraction: float = 0.2,
                   seed: int = 0, split: pd.Series | str | Path | None = None,
                   allow_small_groups: bool = False) -> pd.DataFrame:
    """One row per judged response: ``prompt, completion, label`` (True = desirable) and provenance.

    The rules are in the module docstring; ``split``/``eval_fraction``/``seed``/``use`` pick the prompts
    exactly as :func:`pluralstats.prefs.build_preferences` does.
    """
    from .build import select_ratings

    dimensions = list(dict.fromkeys(dimensions))
    if not dimensions:
        raise InputError("Name at least one dimension to judge responses on")
    cut = thresholds(survey, dimensions)
    _, _, pool, frame, _ = select_ratings(survey, dimensions, groups=groups, jury=jury, use=use, split=split,
                                          eval_fraction=eval_fraction, seed=seed, allow_small_groups=allow_small_groups)

    sign = frame.dimension.map({d: survey.config.dimensions[d].sign for d in dimensions})
    at_or_above = frame.rating.to_numpy() >= frame.dimension.map(cut).to_numpy()
    frame = frame.assign(good=np.where(sign.to_numpy() > 0, at_or_above, ~at_or_above).astype(float))
    totals = frame.assign(gw=frame.good * frame.w).groupby(["item_id", "dimension"])[["gw", "w"]].sum()
    share = (totals.gw / totals.w).unstack("dimension").reindex(columns=dimensions).dropna()
    worst = share.min(axis=1)
    label = pd.Series(pd.NA, index=share.index, dtype="boolean")
    label[(share > 0.5 + TIE_TOL).all(axis=1)] = True
    label[(share < 0.5 - TIE_TOL).any(axis=1)] = False
    judged = label.dropna()
    items = survey.items.set_index("item_id").loc[judged.index]
    out = pd.DataFrame({"prompt": items.prompt.to_numpy(), "completion": items.response.to_numpy(),
                        "label": judged.to_numpy(dtype=bool), "good_share": worst.loc[judged.index].to_numpy(),
                        "prompt_id": items.prompt_id.to_numpy(), "item_id": judged.index.to_numpy(),
                        "group": pool.label})
    if out.empty:
        raise InputError(f"No response was judged by group {pool.label} on {', '.join(dimensions)} "
                         f"({use} prompts); nothing to train on")
    return out.sort_values(["prompt_id", "item_id"]).reset_index(drop=True)[UNPAIRED_COLUMNS]
