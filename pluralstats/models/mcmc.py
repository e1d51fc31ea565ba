"""ArviZ's convergence statistics, computed for thousands of quantities at once.

The gate reads rank-normalised split R-hat (bulk and folded), bulk ESS and tail ESS of every gated quantity:
the same estimators as ``arviz.rhat`` (method "rank") and ``arviz.ess`` (methods "bulk" and "tail"), written
over an array of shape ``(chain, draw, n)`` instead of one quantity at a time, because a group x item model
has thousands of gated terms and ArviZ loops over them in Python (the values agree to rounding:
``tests/test_gate.py``). Also the within-chain autocorrelation time, which is what the null distribution
of R-hat depends on (:mod:`pluralstats.models.gate_bounds`) and which, unlike ESS, a chain stuck away
from the others does not change.
"""

from __future__ import annotations

import numpy as np
from scipy import special
from scipy.fft import next_fast_len


def split_chains(x: np.ndarray) -> np.ndarray:
    """``(chain, draw, n)`` -> ``(2 * chain, draw // 2, n)``: first halves, then second halves (ArviZ's order)."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, -half:]], axis=0)


def _average_ranks(flat: np.ndarray) -> np.ndarray:
    """Ranks (1-based, ties averaged) of each column of ``flat`` (``scipy.stats.rankdata(axis=0)``, which is
    several times slower on thousands of columns)."""
    size = flat.shape[0]
    order = np.argsort(flat, axis=0)
    ordered = np.take_along_axis(flat, order, axis=0)
    tied = ordered[1:] == ordered[:-1]
    rows = np.arange(size, dtype=float)[:, None]
    if tied.any():  # continuous draws almost never tie; discrete or folded ones may
        idx = np.broadcast_to(np.arange(size)[:, None], flat.shape)
        starts = np.ones(flat.shape, dtype=bool)
        starts[1:] = ~tied
        first = np.maximum.accumulate(np.where(starts, idx, 0), axis=0)  # each tie group's first row
        ends = np.ones(flat.shape, dtype=bool)
        ends[:-1] = ~tied
        last = np.minimum.accumulate(np.where(ends, idx, size)[::-1], axis=0)[::-1]  # and its last row
        rows = (first + last) / 2.0
    ranks = np.empty(flat.shape)
    np.put_along_axis(ranks, order, np.broadcast_to(rows + 1.0, flat.shape), axis=0)
    return ranks


def z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalise each quantity over all its chains and draws (Blom's offset, as ArviZ)."""
    c, d, n = x.shape
    size = c * d
    ranks = _average_ranks(x.reshape(size, n))
    # ranks are whole or half numbers: the normal quantiles of all of them, looked up
    table = special.ndtri((np.arange(1, 2 * size + 2) / 2.0 - 3 / 8) / (size - 2 * 3 / 8 + 1))
    return table[(2 * ranks).astype(np.int64) - 1].reshape(c, d, n)


def _rhat_plain(x: np.ndarray) -> np.ndarray:
    d = x.shape[1]
    between = d * np.var(x.mean(axis=1), axis=0, ddof=1)
    within = np.var(x, axis=1, ddof=1).mean(axis=0)
    return np.sqrt((between / within + d - 1) / d)


def _folded(split: np.ndarray) -> np.ndarray:
    return np.abs(split - np.median(split.reshape(-1, split.shape[2]), axis=0))


def rhat_parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bulk and folded rank-normalised split R-hat of each quantity (``arviz.rhat`` is their maximum)."""
    split = split_chains(np.asarray(x, dtype=float))
    return _rhat_plain(z_scale(split)), _rhat_plain(z_scale(_folded(split)))


def rhat(x: np.ndarray) -> np.ndarray:
    """``arviz.rhat(..., method="rank")`` of each quantity of ``x`` ``(chain, draw, n)``."""
    return np.maximum(*rhat_parts(x))


def summarise(x: np.ndarray) -> dict[str, np.ndarray]:
    """Bulk and folded R-hat, bulk and tail ESS of each quantity of ``x`` ``(chain, draw, n)``, sharing the
    rank normalisation (what the gate reads)."""
    split = split_chains(np.asarray(x, dtype=float))
    z = z_scale(split)
    return {"r_hat_bulk": _rhat_plain(z), "r_hat_folded": _rhat_plain(z_scale(_folded(split))),
            "ess_bulk": _ess(z), "ess_tail": ess_tail(x)}


def _autocov(x: np.ndarray) -> np.ndarray:
    """Autocovariance along ``draw`` (axis 1) for every lag, by FFT (ArviZ's estimator)."""
    d = x.shape[1]
    m = next_fast_len(2 * d)
    centred = x - x.mean(axis=1, keepdims=True)
    f = np.fft.rfft(centred, n=m, axis=1)
    return np.fft.irfft(f * np.conjugate(f), n=m, axis=1)[:, :d] / d


def _ess(x: np.ndarray) -> np.ndarray:
    """ArviZ's ``_ess`` (Geyer's initial positive and monotone sequences) for each column of ``(chain, draw, n)``."""
    x = np.asarray(x, dtype=float)
    c, d, n = x.shape
    acov = _autocov(x)  # (chain, draw, n)
    mean_var = acov[:, 0].mean(axis=0) * d / (d - 1.0)
    var_plus = mean_var * (d - 1.0) / d
    if c > 1:
        var_plus = var_plus + np.var(x.mean(axis=1), axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var - acov.mean(axis=0)) / var_plus  # (draw, n)
    rho_t = np.zeros((d, n))
    rho_t[0], rho_t[1] = 1.0, rho[1]
    even, odd = np.ones(n), rho[1].copy()
    active = np.ones(n, dtype=bool)
    max_t = np.full(n, -1)
    t = 1
    while t < d - 3:
        go = active & (even + odd > 0.0)
        stopped = active & ~go
        max_t[stopped] = t - 2
        active = go
        if not active.any():
            break
        even = np.where(active, rho[t + 1], even)
        odd = np.where(active, rho[t + 2], odd)
        keep = active & (even + odd >= 0)
        rho_t[t + 1] = np.where(keep, even, rho_t[t + 1])
        rho_t[t + 2] = np.where(keep, odd, rho_t[t + 2])
        t += 2
    max_t[active] = t - 2
    cols = np.arange(n)
    improve = even > 0
    rho_t[max_t[improve] + 1, cols[improve]] = even[improve]
    for t in range(1, d - 2, 2):  # Geyer's initial monotone sequence
        inside = t <= max_t - 2
        if not inside.any():
            break
        bigger = inside & (rho_t[t + 1] + rho_t[t + 2] > rho_t[t - 1] + rho_t[t])
        avg = (rho_t[t - 1] + rho_t[t]) / 2.0
        rho_t[t + 1] = np.where(bigger, avg, rho_t[t + 1])
        rho_t[t + 2] = np.where(bigger, avg, rho_t[t + 2])
    lag = np.arange(d)[:, None]
    tau = -1.0 + 2.0 * np.where(lag <= max_t, rho_t, 0.0).sum(axis=0) + np.where(lag == max_t + 1, rho_t, 0.0).sum(0)
    total = c * d
    tau = np.maximum(tau, 1 / np.log10(total))
    ess = total / tau
    constant = np.ptp(x.reshape(-1, n), axis=0) < np.finfo(float).resolution
    ess = np.where(np.isnan(rho_t).any(axis=0), np.nan, ess)
    return np.where(constant, float(total), ess)


def ess_bulk(x: np.ndarray) -> np.ndarray:
    """``arviz.ess(..., method="bulk")`` of each quantity of ``x`` ``(chain, draw, n)``."""
    return _ess(z_scale(split_chains(np.asarray(x, dtype=float))))


def ess_tail(x: np.ndarray) -> np.ndarray:
    """``arviz.ess(..., method="tail")``: the smaller ESS of the 5% and 95% quantile indicators."""
    x = np.asarray(x, dtype=float)
    flat = x.reshape(-1, x.shape[2])
    out = []
    for p in (0.05, 0.95):
        q = np.quantile(flat, p, axis=0)
        out.append(_ess(split_chains((x <= q).astype(float))))
    return np.minimum(*out)


def within_chain_tau(x: np.ndarray) -> np.ndarray:
    """Integrated autocorrelation time of each quantity, estimated within each split chain from that chain's
    own ranks (so a chain offset from the others changes nothing), averaged over chains; 1 for independent
    draws."""
    split = split_chains(np.asarray(x, dtype=float))
    per_chain = np.stack([_ess(z_scale(split[k:k + 1])) for k in range(split.shape[0])])  # (chain, n)
    return split.shape[1] / per_chain.mean(axis=0)
