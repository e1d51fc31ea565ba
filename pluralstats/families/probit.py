"""The cumulative probit: ``P(y <= k) = Phi(c_k - eta)``, a standard normal latent error.

Coefficients are on the latent normal's sd scale (a logit coefficient is ~1.6-1.8 times its probit one).
The graph log-likelihood is the generic one of :class:`~.base.Family` on :func:`graph_normal_lcdf`, which
uses ``erfcx`` in the lower tail: ``log Phi(-1e3)`` is a finite -5e5 with a finite gradient, so the outer cut
points (+-1e3) are safe, and a category's probability is a difference of CDFs taken in the tail where it is
small (no cancellation between two probabilities near 1).
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr, ndtr

from .family import Family

SQRT_HALF = np.float64(np.sqrt(0.5))


def graph_normal_lcdf(z):
    """``log Phi(z)`` in PyTensor, to double precision: ``log(erfcx(-z/sqrt 2) / 2) - z^2/2`` below -1 (no
    underflow down to -1e154), ``log1p(-erfc(z/sqrt 2) / 2)`` above. Each branch sees only inputs in its own
    range (``erfcx`` of a large negative argument overflows, and a ``switch`` multiplies the unused branch's
    gradient by zero, which would still give NaN). The constant is a float64: a Python ``2.0`` in
    ``pt.sqrt(2.0)`` becomes a float32 constant and costs the result ~1e-8 of relative precision."""
    import pytensor.tensor as pt

    low = pt.lt(z, -1.0)
    z_low, z_high = pt.switch(low, z, -1.0), pt.switch(low, 0.0, z)
    return pt.switch(low, pt.log(pt.erfcx(-z_low * SQRT_HALF) * 0.5) - 0.5 * pt.sqr(z_low),
                     pt.log1p(-0.5 * pt.erfc(z_high * SQRT_HALF)))


class Probit(Family):
    """Standard normal latent error (ordinal probit; Thurstone's model)."""

    name = "probit"
    help = "cumulative probit (standard normal latent error; coefficients in latent sd units)"
    latent_variance = 1.0

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return ndtr(x)

    def log_cdf(self, x: np.ndarray) -> np.ndarray:
        return log_ndtr(x)

    def sf(self, x: np.ndarray) -> np.ndarray:
        return ndtr(-np.asarray(x))

    def log_sf(self, x: np.ndarray) -> np.ndarray:
        return log_ndtr(-np.asarray(x))

    def sample_noise(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        return rng.normal(size=size)

    def graph_log_cdf(self, x):
        return graph_normal_lcdf(x)

    def graph_log_sf(self, x):
        return graph_normal_lcdf(-x)
