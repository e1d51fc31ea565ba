"""A rater's marginal log-likelihood: the rater's own effect integrated out of the product of their ratings'
category probabilities, by adaptive Gauss-Hermite quadrature. Leave-one-rater-out reads it for every posterior
(the package's rating model and Bambi formulas alike), so it lives in the model layer."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.special import logsumexp

GH_NODES = 12  # Gauss-Hermite nodes around each integrand's mode: ~1e-8 nats at 50 ratings, rater sd 1.5
NEWTON_STEPS = 30  # at most; a log-concave integrand converges in a handful
NEWTON_TOL = 1e-4  # stop when every step (units of sigma_rater) is below this: the next would be ~1e-8
FD_STEP = 1e-4  # finite-difference step (units of sigma_rater) for the integrand's slope and curvature
LL_VAR = "ratings"  # the log_likelihood variable: all ratings of a rater (its dimension is "rater")


def marginal_log_likelihood(eta: np.ndarray, lo: np.ndarray, hi: np.ndarray, sigma: np.ndarray, cell: np.ndarray,
                            n_cells: int, family, *, nodes: int = GH_NODES) -> np.ndarray:
    """``(b, n_cells)``: per draw and cell (rater x dimension), ``log integral prod P(lo < eta + u + e <= hi)
    Normal(u | 0, sigma) du`` over the cell's ratings, by adaptive Gauss-Hermite quadrature (module docstring).

    ``eta``, ``lo``, ``hi``, ``sigma``: (b, obs), each rating's linear predictor without the rater effect, the
    cut points around its category and its rater's sd; ``cell``: (obs,) the cell of each rating; ``family``:
    the link (:class:`~pluralstats.families.Family`). In ``t = u / sigma`` the integrand is
    ``exp(L(t) - t^2 / 2) / sqrt(2 pi)``, ``L`` the summed log-probabilities; Newton's method finds its mode
    ``m`` and curvature ``c = 1 - L''(m)`` (finite differences, so any family works), and with
    ``t = m + sqrt(2 / c) x`` the integral is ``sqrt(2 / c) sum_k w_k exp(x_k^2) integrand(t_k)``.
    """
    b, n_obs = eta.shape
    cells = sparse.csr_matrix((np.ones(n_obs), (cell, np.arange(n_obs))), shape=(n_cells, n_obs))
    counts = np.asarray(cells.sum(axis=1)).ravel()

    def summed(t: np.ndarray) -> np.ndarray:
        """L(t) per draw and cell: (b, n_cells); ``t`` (b, n_cells)."""
        logp = family.category_logp(eta + sigma * t[:, cell], lo, hi)
        return (cells @ logp.T).T

    t = np.zeros((b, n_cells))
    curvature = np.ones((b, n_cells))
    for _ in range(NEWTON_STEPS):
        below, here, above = summed(t - FD_STEP), summed(t), summed(t + FD_STEP)
        slope = (above - below) / (2 * FD_STEP) - t
        # the ordinal log-likelihood is concave in t: curvature >= 1 (the prior's), up to rounding
        curvature = np.maximum(1.0 - (above - 2 * here + below) / FD_STEP**2, 1.0)
        move = np.clip(slope / curvature, -2.0, 2.0)
        t = t + move
        if np.abs(move).max() < NEWTON_TOL:
            break
    x, w = np.polynomial.hermite.hermgauss(nodes)
    scale = np.sqrt(2.0 / curvature)  # (b, cell)
    logs = np.empty((nodes, b, n_cells))
    for k in range(nodes):
        tk = t + scale * x[k]
        logs[k] = np.log(w[k]) + x[k] ** 2 + summed(tk) - 0.5 * tk**2
    total = np.log(scale) - 0.5 * np.log(2 * np.pi) + logsumexp(logs, axis=0)
    return np.where(counts[None, :] > 0, total, 0.0)  # a rater who did not rate a dimension: factor 1
