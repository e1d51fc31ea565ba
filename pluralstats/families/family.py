"""The base of a rating-model family: the distribution of the latent error, hence the link.

A cumulative (ordinal) model of family F says ``P(y <= k) = F(c_k - eta)``: the rating is the number of cut
points the latent ``eta + e`` exceeds, plus one, with ``e ~ F``. The family holds everything that depends on F
(as in Bambi, where a family holds its link and likelihood):

* numpy, for prediction, replication, LOO and simulation: :meth:`Family.cdf`, :meth:`Family.log_cdf`,
  :meth:`Family.sf`, :meth:`Family.log_sf`, :meth:`Family.category_logp`, :meth:`Family.category_probs`,
  :meth:`Family.sample_noise`;
* PyTensor, for the model graph: :meth:`Family.graph_log_cdf`, :meth:`Family.graph_log_sf` and the summed
  log-likelihood :meth:`Family.graph_loglik` built from them.

A new family implements the four CDF functions and :meth:`Family.sample_noise`; the category probabilities
and both log-likelihoods follow. A family whose error distribution is not centred at 0 sets ``median``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

LOG_HALF = float(np.log(0.5))
#: the model graph's stand-in for -+infinity as the outer cut points (finite keeps gradients finite)
OUTER_CUT = 1e3


def log1mexp(x: np.ndarray) -> np.ndarray:
    """``log(1 - e^x)`` for ``x <= 0``, accurate at both ends (``-inf`` gives 0)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(x > LOG_HALF, np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


class Family:
    """A cumulative rating-model family; subclasses give the latent error's CDF (module notes)."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    #: median of the latent error: below it a category's probability is computed from the CDF, above it from
    #: the survival function, so that neither tail loses precision
    median: ClassVar[float] = 0.0
    #: variance of the latent error (the residual variance of the latent scale, which variance components are
    #: shares of); None: estimated from :meth:`sample_noise` where needed
    latent_variance: ClassVar[float | None] = None

    # --- numpy ---------------------------------------------------------------------------------------------
    def cdf(self, x: np.ndarray) -> np.ndarray:
        """``P(e <= x)``."""
        raise NotImplementedError

    def log_cdf(self, x: np.ndarray) -> np.ndarray:
        """``log P(e <= x)``, accurate far in the lower tail."""
        raise NotImplementedError

    def sf(self, x: np.ndarray) -> np.ndarray:
        """``P(e > x)``, accurate far in the upper tail."""
        raise NotImplementedError

    def log_sf(self, x: np.ndarray) -> np.ndarray:
        """``log P(e > x)``, accurate far in the upper tail."""
        raise NotImplementedError

    def sample_noise(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """Draws of the latent error ``e`` (the simulator adds them to ``eta``)."""
        raise NotImplementedError

    def category_logp(self, eta: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """``log P(lo < eta + e <= hi) = log(F(hi - eta) - F(lo - eta))`` (broadcast; ``lo`` may be ``-inf`` and
        ``hi`` ``+inf``): from the CDF below the median and from the survival function above it."""
        a, b = np.asarray(lo) - eta, np.asarray(hi) - eta
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_fa, log_fb = self.log_cdf(a), self.log_cdf(b)
            lower = log_fb + log1mexp(log_fa - log_fb)
            log_sa, log_sb = self.log_sf(a), self.log_sf(b)
            upper = log_sa + log1mexp(log_sb - log_sa)
        return np.where(a > self.median, upper, lower)

    def category_probs(self, eta: np.ndarray, cuts: np.ndarray) -> np.ndarray:
        """``P(y = k)``, k = 1..K, at linear predictor ``eta`` (shape S) and cut points ``cuts`` (K - 1, or
        S + (K - 1,)): shape S + (K,), summing to 1 over the last axis."""
        below = self.cdf(np.asarray(cuts) - np.asarray(eta, dtype=float)[..., None])  # P(y <= k), k < K
        edge = below.shape[:-1] + (1,)
        return np.diff(np.concatenate([np.zeros(edge), below, np.ones(edge)], axis=-1), axis=-1)

    # --- PyTensor ------------------------------------------------------------------------------------------
    def graph_log_cdf(self, x):
        """``log F(x)`` as a PyTensor expression, finite with a finite gradient at ``|x|`` ~ 1e3 (the outer
        cut points are +-1e3)."""
        raise NotImplementedError

    def graph_log_sf(self, x):
        """``log(1 - F(x))`` as a PyTensor expression (same requirements as :meth:`graph_log_cdf`)."""
        raise NotImplementedError

    def graph_category_logp(self, a, b, bottom=None, top=None):
        """``log(F(b) - F(a))`` elementwise (``a < b``), in PyTensor: the lower-tail form below the median and
        the upper-tail form above it. Each form is evaluated only on inputs it is meant for (the others get a
        fixed harmless pair): ``switch`` passes a zero gradient to the branch it does not take, and zero times
        an infinite derivative of an overflowing branch would still make NaN.

        ``bottom`` / ``top`` (booleans, optional): where ``a`` / ``b`` stand for -+infinity (the outer cut
        points), ``F(a)`` is taken as 0 and ``F(b)`` as 1 exactly; a heavy-tailed family's ``F(-1e3)`` is not
        negligible (3e-4 for the Cauchy)."""
        import pytensor.tensor as pt

        m = self.median
        upper = pt.gt(a, m)
        a_lo, b_lo = pt.switch(upper, m - 2.0, a), pt.switch(upper, m - 1.0, b)
        a_up, b_up = pt.switch(upper, a, m + 1.0), pt.switch(upper, b, m + 2.0)
        log_fa, log_fb = self.graph_log_cdf(a_lo), self.graph_log_cdf(b_lo)
        log_sa, log_sb = self.graph_log_sf(a_up), self.graph_log_sf(b_up)
        if bottom is not None:
            log_fa, log_sa = pt.switch(bottom, -np.inf, log_fa), pt.switch(bottom, 0.0, log_sa)
        if top is not None:
            log_fb, log_sb = pt.switch(top, 0.0, log_fb), pt.switch(top, -np.inf, log_sb)
        return pt.switch(upper, log_sa + pt.log1mexp(log_sb - log_sa), log_fb + pt.log1mexp(log_fa - log_fb))

    def graph_loglik(self, eta, padded_cuts, category_cell, category_count):
        """Sum over ratings of ``log P(c_lo < eta + e <= c_hi)``.

        ``eta``: (n_ratings,) linear predictors; ``padded_cuts``: (dimension, K + 1) cut points with the outer
        ones at -+:data:`OUTER_CUT`, which count as -+infinity; ``category_cell``: each rating's index into
        ``padded_cuts[:, :-1]`` flattened (dimension x category); ``category_count``: ratings per such cell
        (unused here; a family may use it to move work from the ratings to the small table, as the logit
        does)."""
        lo = padded_cuts[:, :-1].flatten()[category_cell]
        hi = padded_cuts[:, 1:].flatten()[category_cell]
        return self.graph_category_logp(lo - eta, hi - eta, bottom=lo <= -OUTER_CUT, top=hi >= OUTER_CUT).sum()

    def __repr__(self) -> str:
        return f"<family {self.name}>"
