"""How large R-hat gets by chance in a family of many well-mixed terms: the gate's bound for families.

A fixed bound of 1.01 on every one of thousands of exchangeable terms (item effects, group x item terms)
fails good fits by multiplicity: the largest of n chance fluctuations grows with n. The gate therefore
bounds the largest bulk R-hat of a family of n terms, sampled as C chains of D draws, by its 99th percentile
when all n terms are independent and well mixed with the family's own within-chain autocorrelation time tau
(:func:`pluralstats.models.mcmc.within_chain_tau`, which a chain stuck away from the others does not raise).
Terms of a real family are not independent (they share a scale, and zero-sum constraints tie them), which
makes the largest of them smaller than the bound assumes: the bound errs toward passing a good fit, never
toward failing one by multiplicity.

Only bulk R-hat is bounded this way. The folded R-hat of a term compares the chains' spreads of it, and the
spread of every term of a family within a chain is set by the family's sd (tau, sigma_item), which the gate
checks itself as a reported quantity (bulk and folded, <= 1.01). The terms' folded R-hats all move with that
one sd, so they are far from independent, and a bound for independent terms would fail a fit whose sd passed.

The null law of one term's R-hat is simulated: stationary AR(1) chains with the family's tau, their bulk and
folded rank-normalised split R-hat computed exactly as the gate computes them. The far tail that the largest
of n terms reaches (its 99th percentile is the one-term quantile at 0.99 ** (1/n)) is beyond any simulation
of single terms, so it is read from the asymptotic law those simulations calibrate: with M split chains of
D' draws, D' (R-hat^2 - 1) + 1 is k F(M - 1, M (D' - 1)), whose scale k is the simulated mean.
``analyses/gate_calibration.py`` checks the resulting false-alarm and detection rates against direct
simulation of whole families.

Bounds are computed on demand for any shape and cached (in memory, and on disk under
``$PLURALSTATS_CACHE`` or ``~/.cache/pluralstats``): each needs a few seconds of simulation.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from . import mcmc

#: the null quantile of the family's largest R-hat that the gate allows
MAX_QUANTILE = 0.99
#: simulated single terms per null law: the scale k's standard error is about 0.5%
NULL_TERMS = 4000
#: tau is rounded up to this grid (a slightly looser bound, and a cache that is reused)
TAU_STEP = 0.25


@dataclass(frozen=True)
class NullLaw:
    """One term's bulk R-hat under the null at (chains, draws, tau)."""

    chains: int
    draws: int
    tau: float
    k_bulk: float  # the F law's scale for bulk R-hat

    def _f_args(self) -> tuple[int, int, int]:
        m, half = 2 * self.chains, self.draws // 2
        return half, m - 1, m * (half - 1)

    def cdf(self, r: float | np.ndarray) -> np.ndarray:
        """P(bulk R-hat <= r) for one term."""
        half, df1, df2 = self._f_args()
        x = half * (np.asarray(r, dtype=float) ** 2 - 1.0) + 1.0
        return stats.f.cdf(x / self.k_bulk, df1, df2)

    def max_bound(self, n: int, q: float = MAX_QUANTILE) -> float:
        """The ``q`` quantile of the largest bulk R-hat of ``n`` independent terms."""
        target = q ** (1.0 / max(n, 1))
        return float(optimize.brentq(lambda r: self.cdf(r) - target, 1.0, 3.0, xtol=1e-7))


def ar1_chains(chains: int, draws: int, n: int, tau: float, rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) draws ``(chains, draws, n)`` with unit variance and integrated autocorrelation time
    ``tau`` (phi = (tau - 1) / (tau + 1); tau < 1 gives anti-correlated draws, as NUTS often makes)."""
    phi = (tau - 1.0) / (tau + 1.0)
    out = np.empty((chains, draws, n))
    out[:, 0] = rng.standard_normal((chains, n))
    noise = rng.standard_normal((chains, draws, n)) * math.sqrt(1.0 - phi * phi)
    for t in range(1, draws):
        out[:, t] = phi * out[:, t - 1] + noise[:, t]
    return out


def rounded_tau(tau: float) -> float:
    """``tau`` rounded up to :data:`TAU_STEP`, at least one step."""
    return max(TAU_STEP, math.ceil(float(tau) / TAU_STEP - 1e-9) * TAU_STEP)


def _cache_file() -> Path:
    root = os.environ.get("PLURALSTATS_CACHE") or Path.home() / ".cache" / "pluralstats"
    return Path(root) / "gate_null.json"


def _read_cache() -> dict:
    try:
        return json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return {}


def _write_cache(key: str, law: NullLaw) -> None:
    """Best effort: a read-only home only costs the simulation again next time."""
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        cache = _read_cache()
        cache[key] = asdict(law)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(cache, indent=0, sort_keys=True))
        tmp.replace(path)
    except OSError:
        pass


def simulate_null(chains: int, draws: int, tau: float, n_terms: int = NULL_TERMS, seed: int = 0) -> NullLaw:
    """Simulate ``n_terms`` well-mixed terms and fit the one-term law (:class:`NullLaw`)."""
    rng = np.random.default_rng([seed, chains, draws, int(round(tau * 1000))])
    x = ar1_chains(chains, draws, n_terms, tau, rng)
    bulk = mcmc.rhat_parts(x)[0]
    return NullLaw(chains, draws, float(tau), float(np.mean((draws // 2) * (bulk ** 2 - 1.0) + 1.0)))


@functools.lru_cache(maxsize=64)
def null_law(chains: int, draws: int, tau: float) -> NullLaw:
    """The null law at this shape, from the cache or simulated now (``tau`` as :func:`rounded_tau` gives)."""
    key = f"{chains}x{draws}@{tau:g}"
    cached = _read_cache().get(key)
    if cached:
        try:
            return NullLaw(**cached)
        except TypeError:  # written by another layout of NullLaw
            pass
    law = simulate_null(chains, draws, tau)
    _write_cache(key, law)
    return law


def family_bounds(n: int, chains: int, draws: int, tau: float) -> dict[str, float]:
    """The gate's bound for a family of ``n`` terms: ``max_r_hat`` at (chains, draws) with within-chain
    autocorrelation time ``tau`` (rounded up to the grid), and the tau used."""
    t = rounded_tau(tau)
    return {"max_r_hat": null_law(int(chains), int(draws), t).max_bound(n), "tau": t}
