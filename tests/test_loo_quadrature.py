"""The per-rater marginal likelihood of LOO against a brute-force integral, where fixed nodes fail."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from pluralstats.estimates.rater_likelihood import marginal_log_likelihood
from pluralstats.families import get_family


def _design(n_raters: int, n_ratings: int, sd: float, seed: int):
    """Ratings of raters with real effects ~ N(0, sd) on a 5-point scale (logit link), as (1, obs) arrays."""
    rng = np.random.default_rng(seed)
    cuts = np.array([-1.5, -0.3, 0.6, 1.8])
    padded = np.concatenate([[-np.inf], cuts, [np.inf]])
    cell = np.repeat(np.arange(n_raters), n_ratings)
    eta = rng.normal(0, 1.0, cell.size)
    z = eta + rng.normal(0, sd, n_raters)[cell] + rng.logistic(size=cell.size)
    y = np.searchsorted(cuts, z)  # category index 0..4
    return eta[None], padded[y][None], padded[y + 1][None], np.full((1, cell.size), sd), cell


def _brute_force(eta, lo, hi, sd, family) -> float:
    """log of the integral over u on a fine grid (trapezoid, in logs: spectrally accurate for this integrand)."""
    u = np.linspace(-10 * sd, 10 * sd, 20_001)
    logp = family.category_logp(eta[:, None] + u[None, :], lo[:, None], hi[:, None]).sum(axis=0)
    log_prior = -0.5 * (u / sd) ** 2 - np.log(sd * np.sqrt(2 * np.pi))
    return float(logsumexp(logp + log_prior) + np.log(u[1] - u[0]))


@pytest.mark.parametrize("family_name", ["logit", "probit"])
def test_adaptive_quadrature_within_1e3_nats_at_50_ratings_and_sd_1_5(family_name):
    family = get_family(family_name)
    n_raters, n_ratings, sd = 12, 50, 1.5
    eta, lo, hi, sigma, cell = _design(n_raters, n_ratings, sd, seed=3)
    got = marginal_log_likelihood(eta, lo, hi, sigma, cell, n_raters, family)[0]
    exact = np.array([_brute_force(eta[0, cell == r], lo[0, cell == r], hi[0, cell == r], sd, family)
                      for r in range(n_raters)])
    assert np.abs(got - exact).max() <= 1e-3, np.abs(got - exact)
    # the same integrals by 20 fixed nodes on the prior, as before, miss by far more: the test can fail
    x, w = np.polynomial.hermite.hermgauss(20)
    fixed = np.array([logsumexp(family.category_logp(eta[0, cell == r][:, None] + np.sqrt(2) * sd * x[None, :],
                                                     lo[0, cell == r][:, None], hi[0, cell == r][:, None])
                                .sum(axis=0) + np.log(w / np.sqrt(np.pi))) for r in range(n_raters)])
    assert np.abs(fixed - exact).max() > 0.05


def test_a_cell_without_ratings_contributes_nothing():
    family = get_family("logit")
    eta, lo, hi, sigma, cell = _design(2, 5, 1.0, seed=1)
    two = marginal_log_likelihood(eta, lo, hi, sigma, cell, 3, family)  # cell 2 has no ratings
    assert two.shape == (1, 3) and two[0, 2] == 0.0
    assert np.isfinite(two[0, :2]).all() and (two[0, :2] < 0).all()
