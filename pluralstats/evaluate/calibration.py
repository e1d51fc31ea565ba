"""How a scorer's points relate to the survey's rating points, measured on held-out survey ratings.

A regression scorer (the rater model is a ridge regression on text features) pulls its predictions toward
the mean, so the difference between two models' scores understates the difference in ratings the survey's
raters would give. On the evaluation prompts (which a scorer fitted on the train prompts never saw) every
survey response is scored, and its observed mean rating (all raters) is regressed on the score, items
weighted by their number of ratings. The slope ``b`` is how many rating points one scorer point is worth
(``b > 1``: the scorer shrinks); a difference ``d`` between two models' scores is ``b * d`` rating points.

That correction assumes the relation holds for the tuned models' completions as it does for the survey's
responses to the same prompts; the slope's standard error (weighted least squares) is propagated where the
correction is applied.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pandas as pd

from pluralstats.scoring import Scorer

CALIBRATION_ATTR = "scorer_calibration"
CALIBRATION_COLUMNS = ["dimension", "slope", "slope_se", "intercept", "n_items", "r"]
MIN_ITEMS = 10  # fewer held-out items than this: no slope is estimated


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Slope, its standard error and the intercept of y on x with weights w."""
    X = np.column_stack([np.ones_like(x), x])
    xtwx = X.T @ (X * w[:, None])
    coef = np.linalg.solve(xtwx, X.T @ (w * y))
    resid = y - X @ coef
    # weights are rating counts: scale them to mean 1 so sigma^2 is per average item
    sigma2 = float((w / w.mean() * resid**2).sum() / (len(y) - 2))
    cov = sigma2 * np.linalg.inv(xtwx / w.mean())
    return float(coef[1]), float(np.sqrt(cov[1, 1])), float(coef[0])


def scorer_calibration(scorer: Scorer, survey, split: pd.Series) -> pd.DataFrame:
    """Per dimension of the scorer and the survey: the calibration slope (module docstring) with its standard
    error, the intercept, the number of held-out items and their correlation with the scores (NaN where fewer
    than ``MIN_ITEMS`` items were rated or the scores do not vary)."""
    eval_prompts = set(split[split == "eval"].index)
    items = survey.items[survey.items.prompt_id.isin(eval_prompts)]
    dims = [d for d in scorer.dimensions if d in set(survey.dimensions)]
    rows = []
    if len(items) and dims:
        scores = scorer.score(items.prompt.tolist(), items.response.tolist())
        scores.index = items.item_id.to_numpy()
        ratings = survey.ratings[survey.ratings.item_id.isin(set(items.item_id))]
        means = ratings.groupby(["dimension", "item_id"]).rating.agg(["mean", "size"]).reset_index()
    for dim in dims:
        row = {"dimension": dim, "slope": np.nan, "slope_se": np.nan, "intercept": np.nan, "n_items": 0, "r": np.nan}
        if len(items):
            m = means[means.dimension == dim]
            x = scores.loc[m.item_id, dim].to_numpy(dtype=float)
            y, w = m["mean"].to_numpy(dtype=float), m["size"].to_numpy(dtype=float)
            row["n_items"] = len(m)
            if len(m) >= MIN_ITEMS and np.ptp(x) > 0:
                row["slope"], row["slope_se"], row["intercept"] = _wls(x, y, w)
                row["r"] = float(np.corrcoef(x, y)[0, 1])
        rows.append(row)
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)


def calibration_to_attr(calibration: pd.DataFrame) -> str:
    """The calibration as the JSON string stored in a shift posterior's attributes."""
    return json.dumps({r.dimension: {"slope": r.slope, "slope_se": r.slope_se, "n_items": int(r.n_items)}
                       for r in calibration.itertuples()})


def calibration_from_attrs(attrs: Mapping) -> dict[str, dict[str, float]]:
    """The per-dimension calibration stored by :func:`calibration_to_attr` (empty when the posterior has none)."""
    text = attrs.get(CALIBRATION_ATTR)
    return json.loads(str(text)) if text else {}


def slope_draws(calibration: Mapping[str, float], n: int, seed: int = 0) -> np.ndarray | None:
    """``n`` draws of the slope, Normal(slope, slope_se) (its sampling uncertainty); None without a slope."""
    slope, se = calibration.get("slope"), calibration.get("slope_se")
    if slope is None or not np.isfinite(slope):
        return None
    return np.random.default_rng(seed).normal(slope, se if np.isfinite(se) else 0.0, n)
