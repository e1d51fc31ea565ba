"""Rating scales: the collected scale, or a 3-point / binary collapse applied before any aggregation.

Rule (exact). A collapse to ``S`` points is a list of ``S - 1`` increasing upper bounds
``cuts = (c_1, ..., c_{S-1})`` on the collected scale ``1..M``: a rating ``y`` becomes
``1 + #{j : y > c_j}``. So ``cuts = (2, 3)`` maps 1-2 -> 1, 3 -> 2, 4-5 -> 3.

Defaults for a collected ``M``-point scale:

* ``scale == M``: ratings as collected (no cuts);
* ``scale == 3``: ``cuts = (floor((M - 1) / 2), ceil((M + 1) / 2))``, i.e. ``(2, 3)`` on 5 points:
  low 1-2, middle 3, high 4-5;
* ``scale == 2``: one cut per dimension at ``positive_threshold - 1`` from ``survey.toml``
  (default threshold: the top 40% of the scale, 4 on 5 points), i.e. 1-3 -> 1, 4-5 -> 2; the same
  threshold that makes a rating "positive" in the descriptives makes it "high" here.

Collapsing keeps the direction of the scale (a higher collapsed value is a higher rating), so each
dimension's polarity applies unchanged. User cuts replace the defaults for every dimension.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from pluralstats.errors import InputError
from pluralstats.survey.survey_config import SurveyConfig

SCALES = (5, 3, 2)


def default_cuts(config: SurveyConfig, scale: int, dimension: str) -> tuple[int, ...]:
    """The documented default upper bounds (empty when the scale is kept as collected)."""
    m = config.scale_max
    if scale == m:
        return ()
    if scale == 3:
        return (math.floor((m - 1) / 2), math.ceil((m + 1) / 2))
    if scale == 2:
        return (config.threshold(dimension) - 1,)
    raise InputError(f"scale {scale} is not available for a {m}-point survey; use {m}, 3 or 2")


def check_scale(config: SurveyConfig, scale: int, cuts: Sequence[int] | None) -> None:
    """Reject scales and cuts that cannot be applied to this survey, with the reason."""
    m = config.scale_max
    if scale not in (m, 3, 2) or scale > m:
        raise InputError(f"--scale {scale}: this survey was collected on {m} points; "
                         f"use {m} (as collected), 3 or 2")
    if cuts is None:
        return
    cuts = tuple(cuts)
    if scale == m:
        if cuts:
            raise InputError("cuts are only used to collapse a scale; drop them or choose --scale 3 or 2")
        return
    if len(cuts) != scale - 1 or list(cuts) != sorted(set(cuts)) or not all(1 <= c < m for c in cuts):
        raise InputError(f"cuts {list(cuts)} for a {scale}-point collapse must be {scale - 1} strictly "
                         f"increasing integers in 1..{m - 1} (upper bounds of the lower categories)")


def collapse_cuts(config: SurveyConfig, scale: int, cuts: Sequence[int] | None) -> dict[str, tuple[int, ...]]:
    """The cuts used for each dimension (user cuts for all, or each dimension's default)."""
    check_scale(config, scale, cuts)
    return {d: (tuple(cuts) if cuts is not None else default_cuts(config, scale, d))
            for d in config.dimensions}


def collapse(values: np.ndarray, cuts: Sequence[int]) -> np.ndarray:
    """Map ratings on the collected scale to ``1 + #{cuts below the rating}`` (identity without cuts)."""
    values = np.asarray(values)
    if not len(cuts):
        return values.astype(np.int64)
    return 1 + np.searchsorted(np.asarray(cuts), values, side="left").astype(np.int64)


def collapse_matrix(scale_max: int, cuts: Sequence[int]) -> np.ndarray:
    """A 0/1 matrix ``(scale_max, S)`` that sums category probabilities into collapsed categories."""
    target = collapse(np.arange(1, scale_max + 1), cuts)
    out = np.zeros((scale_max, int(target.max())))
    out[np.arange(scale_max), target - 1] = 1.0
    return out
