"""Prior predictive check: what the model says about ratings and group gaps before it sees any rating.

Draws come from the priors of :func:`~pluralstats.models.rating.build_model` (the likelihood is a
``Potential``, which prior sampling leaves out), and ratings are replicated from them on the survey's own
design exactly as the posterior predictive check does (:func:`~pluralstats.estimates.ppc.replicate_ratings`).
A reasonable prior puts mass on every category and allows group gaps of a rating point or two without
demanding them; one that piles all ratings on the scale's ends, or makes every gap several points, is too
wide for the logit scale.
"""

from __future__ import annotations

import logging
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm

from pluralstats.families import DEFAULT_FAMILY, get_family
from pluralstats.models.data import build_model_data, meta_of
from pluralstats.models.rating import BETA_PRIOR_SD, build_model, set_disagreement

from .ppc import predictive_check, replicate_ratings


def sample_prior(survey, *, dimensions: list[str] | None = None, attributes: list[str] | None = None,
                 draws: int = 500, seed: int = 0, beta_prior_sd: float = BETA_PRIOR_SD,
                 disagreement: list[str] | None = None, family: str = DEFAULT_FAMILY) -> az.InferenceData:
    """Prior draws of every model quantity, shaped like a posterior (one chain) with the survey's design,
    so that every posterior tool (replication, contrasts) reads them. Marked ``prior_only`` and unchecked:
    no consumer takes it for a posterior. ``family``: the rating model's family, which turns the draws
    into ratings."""
    data = build_model_data(survey, dimensions, attributes)
    data.meta.family = get_family(family).name
    set_disagreement(data, disagreement)
    model = build_model(data, beta_prior_sd=beta_prior_sd, centered_items=False, centered_interactions=False)
    quiet = logging.getLogger("pymc")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # PyMC logs the sampled names at INFO: noise in a command's output
    try:
        with model, warnings.catch_warnings():
            # the model's only Potential is the likelihood, which a prior draw must leave out
            warnings.filterwarnings("ignore", message="The effect of Potentials")
            prior = pm.sample_prior_predictive(draws=draws, random_seed=seed,
                                               compile_kwargs={"mode": "FAST_COMPILE"})
    finally:
        quiet.setLevel(level)
    keep = [v for v in prior.prior.data_vars if v.startswith(("beta_", "tau_", "w_")) or v in
            ("cutpoints", "sigma_rater", "sigma_item", "item_effect")]
    posterior = prior.prior[keep]
    posterior.attrs.update({"prior_only": 1, "diagnostics_status": "unchecked",
                            "diagnostics_problems": "prior draws, not a posterior"})
    data.meta.backend = "prior"
    constant = data.constant_data()
    constant.attrs["pluralstats"] = data.meta.to_json()
    return az.InferenceData(posterior=posterior, constant_data=constant)


def prior_gaps(prior: az.InferenceData, *, n_draws: int = 500, seed: int = 0, prob: float = 0.95) -> pd.DataFrame:
    """Implied gap in mean rating between each level and its attribute's reference level, per dimension:
    the prior's median and central ``prob`` interval over replicated surveys (raw means of the replicated
    ratings of each group, as a naive reader of a survey would compute them)."""
    meta = meta_of(prior)
    cd = prior.constant_data
    replicated = replicate_ratings(prior, n_draws=n_draws, seed=seed).astype(float)
    dim = cd["obs_dimension"].to_numpy().astype(int)
    rater = cd["obs_rater"].to_numpy().astype(int)
    levels = cd["rater_level"].to_numpy()
    q = [(1 - prob) / 2, 0.5, (1 + prob) / 2]
    rows = []
    for d, name in enumerate(meta.dimensions):
        for j, (attr, names) in enumerate(meta.attributes.items()):
            means = []
            for k in range(len(names)):
                cols = np.flatnonzero((dim == d) & (levels[rater, j] == k))
                means.append(replicated[:, cols].mean(axis=1) if cols.size else np.full(len(replicated), np.nan))
            for k in range(1, len(names)):
                lo, mid, hi = np.nanquantile(means[k] - means[0], q)
                rows.append({"dimension": name, "attribute": attr, "level": names[k], "reference": names[0],
                             "gap_median": mid, "gap_lo": lo, "gap_hi": hi})
    return pd.DataFrame(rows)


def prior_check(survey, *, draws: int = 500, seed: int = 0, **options) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(shares, gaps)``: the prior-implied rating distribution per dimension (all raters; mean share and
    95% interval) and :func:`prior_gaps`. ``options`` go to :func:`sample_prior`."""
    prior = sample_prior(survey, draws=draws, seed=seed, **options)
    _, shares = predictive_check(prior, [], n_draws=draws, seed=seed)
    return shares, prior_gaps(prior, n_draws=draws, seed=seed)
