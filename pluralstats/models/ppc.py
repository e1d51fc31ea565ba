"""Posterior predictive check of the rating distribution per group.

For the observed ratings of each group, the model's predicted share of each rating, with the
rater effect integrated out (Gauss-Hermite) rather than plugged in: it checks the population part
of the model (cut points, attribute and item effects, sigma_rater) without storing 5k rater
effects per draw. Rows and draws are subsampled (fixed seed) to keep it to seconds.

The observed shares are data of the group, so :func:`suppress_groups` leaves out small groups with
their complementary ones (:mod:`pluralstats.privacy`): with the survey's overall rating distribution
published, a single hidden group's shares could be subtracted back out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from .data import meta_of
from .predict import flat_draws

GH_NODES = 20


def _category_probs(eta: np.ndarray, cut: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """eta (S, N), cut (S, K-1), sigma (S,) -> mean over N of E_u P(y = k): (S, K)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(GH_NODES)
    weights = weights / weights.sum()
    out = 0.0
    for z, w in zip(nodes, weights, strict=True):
        above = expit(eta[:, :, None] + sigma[:, None, None] * z - cut[:, None, :])  # P(y > k)
        ones = np.ones(above.shape[:2] + (1,))
        probs = np.concatenate([ones, above], axis=2) - np.concatenate([above, 0 * ones], axis=2)
        out = out + w * probs.mean(axis=1)
    return out


def predictive_check(idata, attribute: str | None = None, *, max_rows: int = 4000, n_draws: int = 200,
                     seed: int = 0, prob: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(observed, predicted) rating shares per dimension and group (levels of ``attribute``, or all)."""
    meta = meta_of(idata)
    rng = np.random.default_rng(seed)
    cd = idata.constant_data
    obs_dim, obs_rater = cd["obs_dimension"].to_numpy(), cd["obs_rater"].to_numpy()
    obs_item, rating = cd["obs_item"].to_numpy(), cd["obs_rating"].to_numpy()
    levels = cd["rater_level"].to_numpy()
    total = flat_draws(idata, "sigma_item").shape[0]
    draws = np.sort(rng.choice(total, size=min(n_draws, total), replace=False))
    attrs = list(meta.attributes)
    betas = {a: flat_draws(idata, f"beta_{a}")[draws] for a in attrs}
    sigma_r = flat_draws(idata, "sigma_rater")[draws]
    cuts = flat_draws(idata, "cutpoints")[draws]
    item_eff = flat_draws(idata, "item_effect")[draws]
    ws = {a: flat_draws(idata, f"w_{a}")[draws] for a in meta.disagreement}  # (draw, dimension, item, level)
    groups = ([("all", np.ones(len(levels), bool))] if attribute is None else
              [(lv, levels[:, attrs.index(attribute)] == k) for k, lv in enumerate(meta.attributes[attribute])])
    q = [(1 - prob) / 2, (1 + prob) / 2]
    categories = np.arange(1, meta.scale_max + 1)
    observed, predicted = [], []
    for d, dim in enumerate(meta.dimensions):
        for name, in_group in groups:
            rows = np.flatnonzero((obs_dim == d) & in_group[obs_rater])
            if rows.size == 0:
                continue
            shares = np.bincount(rating[rows] - 1, minlength=meta.scale_max) / rows.size
            observed.append(pd.DataFrame({"dimension": dim, "group": name, "rating": categories, "share": shares}))
            rows = rng.choice(rows, size=min(max_rows, rows.size), replace=False)
            r, i = obs_rater[rows], obs_item[rows]
            eta = item_eff[:, i, d]
            for j, a in enumerate(attrs):
                eta = eta + betas[a][:, d, :][:, levels[r, j]]
                if a in ws:
                    eta = eta + ws[a][:, d, i, levels[r, j]]
            probs = _category_probs(eta, cuts[:, d, :], sigma_r[:, d])
            lo, hi = np.quantile(probs, q, axis=0)
            predicted.append(pd.DataFrame({"dimension": dim, "group": name, "rating": categories,
                                           "share": probs.mean(axis=0), "lo": lo, "hi": hi}))
    return pd.concat(observed, ignore_index=True), pd.concat(predicted, ignore_index=True)


def suppress_groups(observed: pd.DataFrame, predicted: pd.DataFrame, idata, attribute: str | None,
                    suppress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """:func:`predictive_check`'s frames without the suppressed groups (fewer than k raters and their
    complementary groups, in any dimension: hidden in all, as :func:`pluralstats.privacy.mask_groups` does),
    and a note naming them (None when nothing was left out)."""
    from .contrasts import small_levels

    if attribute is None or not suppress:
        return observed, predicted, None
    hidden = small_levels(idata, complementary=True)
    drop = sorted({lv for (attr, _), levels in hidden.items() if attr == attribute for lv in levels})
    if not drop:
        return observed, predicted, None
    note = (f"{attribute} not shown: {', '.join(drop)} (fewer than k = {meta_of(idata).min_group_size} raters, "
            "or hidden with one that has)")
    return observed[~observed.group.isin(drop)], predicted[~predicted.group.isin(drop)], note
