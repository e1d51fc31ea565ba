"""Posterior predictive checks: replicated ratings, and rating shares per group against them.

A replicated data set keeps the observed design (who rated which item on which dimension) and, for one
posterior draw, gives every rater a *new* rater effect drawn from Normal(0, sigma_rater) and every rating a
new category drawn from the model's category probabilities. It is the "mixed" replication for a
hierarchical model: the rater effects are not stored in the posterior file, and a check of what a new set
of raters of the same groups would give is the check that matters for group comparisons. Replicated shares
therefore vary with the posterior, the raters and the multinomial draw, so their intervals are honest for
small groups as well.

:func:`add_posterior_predictive` stores the replications as ArviZ's ``posterior_predictive`` and
``observed_data`` groups (variable ``rating``, dimension ``obs``), so ``az.plot_ppc`` works directly.
:func:`predictive_check` summarises observed and replicated shares per dimension and group.

The observed shares are data of the group, so :func:`suppress_groups` leaves out small groups with
their complementary ones (:mod:`pluralstats.privacy`): with the survey's overall rating distribution
published, a single hidden group's shares could be subtracted back out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from pluralstats.models.data import family_of, meta_of

from .rater_likelihood import observation_eta, rater_sigmas, stacked_draws

CHUNK_VALUES = 4_000_000  # draws x ratings per block


def _pick_draws(idata, n_draws: int, seed: int) -> np.ndarray:
    post = idata.posterior
    total = post.sizes["chain"] * post.sizes["draw"]
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(total, size=min(n_draws, total), replace=False))


def replicate_ratings(idata, *, n_draws: int = 200, seed: int = 0) -> np.ndarray:
    """``(n_draws, n_obs)`` replicated ratings (1..scale_max, int8) for randomly chosen posterior draws.

    Per draw: a new effect for every rater and dimension ~ Normal(0, sigma_rater[d]) (the rater's level's sd
    with ``rater_variance_by``), then each rating
    drawn by inverting the model's cumulative CDF (its family's, e.g. logistic) at a uniform number.
    """
    meta = meta_of(idata)
    if meta.joint:
        raise ValueError("replication with correlated rater effects (--joint) is not supported")
    family = family_of(idata)
    rng = np.random.default_rng(seed + 1)
    draws = _pick_draws(idata, n_draws, seed)
    cd = idata.constant_data
    dim = cd["obs_dimension"].to_numpy().astype(int)
    rater = cd["obs_rater"].to_numpy().astype(int)
    n_raters, n_dim = cd.sizes["rater"], len(meta.dimensions)
    cut = stacked_draws(idata, "cutpoints")  # (sample, dimension, cut)
    out = np.empty((len(draws), len(dim)), dtype=np.int8)
    step = max(1, CHUNK_VALUES // max(len(dim), 1))
    for start in range(0, len(draws), step):
        block = draws[start:start + step]
        u = rng.normal(size=(len(block), n_raters, n_dim)) * rater_sigmas(idata, block)
        z = observation_eta(idata, block) + u[:, rater, dim]
        below = family.cdf(cut[block][:, dim, :] - z[:, :, None])  # P(y <= k), k = 1..K-1
        uniform = rng.uniform(size=z.shape)
        out[start:start + len(block)] = 1 + (uniform[:, :, None] > below).sum(axis=2)
    return out


def add_posterior_predictive(idata, *, n_draws: int = 200, seed: int = 0):
    """Attach ``posterior_predictive`` (replicated ratings, one pseudo-chain of ``n_draws``) and
    ``observed_data`` (the ratings) to ``idata`` (in place; also returned), for ``az.plot_ppc``."""
    replicated = replicate_ratings(idata, n_draws=n_draws, seed=seed)
    observed = idata.constant_data["obs_rating"].to_numpy().astype(np.int8)
    for group in ("posterior_predictive", "observed_data"):
        if group in idata.groups():
            del idata[group]
    idata.add_groups({
        "posterior_predictive": xr.Dataset({"rating": (("chain", "draw", "obs"), replicated[None])},
                                           coords={"chain": [0], "draw": np.arange(len(replicated))}),
        "observed_data": xr.Dataset({"rating": (("obs",), observed)}),
    })
    return idata


def _groups(idata, attributes: Sequence[str] | None) -> list[tuple[str, str, np.ndarray]]:
    """(attribute, level, rater mask) for every level of every attribute (or one "all" group)."""
    meta = meta_of(idata)
    levels = idata.constant_data["rater_level"].to_numpy()
    if attributes is not None and not attributes:
        return [("all", "all", np.ones(len(levels), bool))]
    names = list(meta.attributes) if attributes is None else list(attributes)
    unknown = [a for a in names if a not in meta.attributes]
    if unknown:
        from pluralstats.errors import InputError

        raise InputError(f"Unknown attribute {', '.join(unknown)}; known: {', '.join(meta.attributes)}")
    index = list(meta.attributes)
    return [(a, lv, levels[:, index.index(a)] == k) for a in names for k, lv in enumerate(meta.attributes[a])]


def predictive_check(idata, attributes: str | Sequence[str] | None = None, *, n_draws: int = 200, seed: int = 0,
                     prob: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(observed, replicated) rating shares per dimension and group.

    Groups: every level of each of ``attributes`` (a name, a list, or None for every attribute; an empty
    list for all raters together). ``observed``: attribute, dimension, group, rating, share.
    ``replicated``: the same with the mean replicated share and its central ``prob`` interval over
    ``n_draws`` replications (:func:`replicate_ratings`).
    """
    meta = meta_of(idata)
    if isinstance(attributes, str):
        attributes = [attributes]
    cd = idata.constant_data
    dim = cd["obs_dimension"].to_numpy().astype(int)
    rater = cd["obs_rater"].to_numpy().astype(int)
    rating = cd["obs_rating"].to_numpy().astype(int)
    replicated = replicate_ratings(idata, n_draws=n_draws, seed=seed).astype(int)
    q = [(1 - prob) / 2, (1 + prob) / 2]
    categories = np.arange(1, meta.scale_max + 1)
    observed, predicted = [], []
    for d, name in enumerate(meta.dimensions):
        for attr, level, in_group in _groups(idata, attributes):
            rows = np.flatnonzero((dim == d) & in_group[rater])
            if rows.size == 0:
                continue
            base = {"attribute": attr, "dimension": name, "group": level, "rating": categories}
            shares = np.bincount(rating[rows] - 1, minlength=meta.scale_max) / rows.size
            observed.append(pd.DataFrame({**base, "share": shares}))
            rep = (replicated[:, rows, None] == categories[None, None, :]).mean(axis=1)  # (draw, category)
            lo, hi = np.quantile(rep, q, axis=0)
            predicted.append(pd.DataFrame({**base, "share": rep.mean(axis=0), "lo": lo, "hi": hi}))
    return pd.concat(observed, ignore_index=True), pd.concat(predicted, ignore_index=True)


def suppress_groups(observed: pd.DataFrame, predicted: pd.DataFrame, idata, attribute: str | None = None,
                    suppress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """:func:`predictive_check`'s frames without the suppressed groups (fewer than k raters and their
    complementary groups, in any dimension: hidden in all, as :func:`pluralstats.privacy.mask_groups` does),
    and a note naming them (None when nothing was left out). ``attribute`` is accepted for callers that
    checked one attribute; the frames say which attribute each group belongs to."""
    from pluralstats.models.contrasts import small_levels

    if not suppress or "attribute" not in observed:
        return observed, predicted, None
    hidden = small_levels(idata, complementary=True)
    drop = {(attr, lv) for (attr, _), levels in hidden.items() for lv in levels}
    if attribute is not None:
        drop = {(a, lv) for a, lv in drop if a == attribute}
    if not drop:
        return observed, predicted, None
    names = ", ".join(f"{a}={lv}" for a, lv in sorted(drop))
    note = (f"not shown: {names} (fewer than k = {meta_of(idata).min_group_size} raters, or hidden with one "
            "that has)")

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        pairs = list(zip(frame.attribute, frame.group, strict=True))
        return frame[[p not in drop for p in pairs]]

    return keep(observed), keep(predicted), note
