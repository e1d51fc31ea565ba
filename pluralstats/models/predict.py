"""Predictive rating distributions of a *new* rater from a group, per posterior draw.

A new rater of group G has linear predictor ``eta = b_G + s + u + v_i``: ``b_G`` the effects of
the attributes fixed by G, ``s`` the summed effects of the other attributes (distributed as in the
survey's rater composition), ``u ~ N(0, sigma_rater)`` and ``v_i`` the item's estimated effect.
Averaging over ``s`` and ``u`` exactly for every draw and item would cost draws x raters x items
evaluations (1e10 at paper scale), so it is done on a grid instead:

1. the distribution of the offset ``s + u`` is put on a grid of step ``h`` (linear binning of the
   raters' ``s``, then a convolution with the discretised normal of ``u``; both keep the mean);
2. ``F(x) = E[f(x + s + u)]`` is tabulated on a grid of ``x`` by one FFT convolution, where ``f``
   is the expected rating or the category probabilities at linear predictor ``x``;
3. ``F`` is interpolated at ``x = b_G + v_i``.

The error is O(h^2) times the curvature of the link (< 1e-4 on the rating scale for h = 0.02 with the
logistic), far below posterior uncertainty; the tests check it against brute-force simulation. ``f`` comes
from the posterior's family (:func:`~pluralstats.models.data.family_of`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.signal import fftconvolve

from pluralstats.errors import InputError
from pluralstats.families import Family, get_family

from .data import ModelMeta, family_of, meta_of

STEP = 0.02
CHUNK = 256  # draws per block (bounds memory: CHUNK x grid x categories floats)
#: Gauss nodes per rater cell in :func:`rater_mixture`: the integrands are products of logistic (or normal)
#: category probabilities, analytic in the offset, so the rule's error falls geometrically with the nodes
#: (tested against the dense grid to 1e-5)
N_NODES = 16


def flat_draws(idata, name: str) -> np.ndarray:
    """A posterior variable with chain and draw merged into one leading axis."""
    var = idata.posterior[name]
    return var.stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy()


def _check_dimension(meta: ModelMeta, dimension: str) -> int:
    if dimension not in meta.dimensions:
        raise InputError(f"Dimension '{dimension}' is not in this posterior; it has {', '.join(meta.dimensions)}")
    return meta.dimensions.index(dimension)


def _check_group(meta: ModelMeta, group: Mapping[str, str] | None) -> dict[str, int]:
    fixed = {}
    for attr, level in (group or {}).items():
        if attr not in meta.attributes:
            raise InputError(f"Attribute '{attr}' is not in this model; it has {', '.join(meta.attributes)}")
        if level not in meta.attributes[attr]:
            raise InputError(f"Unknown level '{level}' of '{attr}'; known: {', '.join(meta.attributes[attr])}")
        fixed[attr] = meta.attributes[attr].index(level)
    return fixed


def offsets(idata, d: int, fixed: Sequence[str], levels: np.ndarray | None = None) -> np.ndarray:
    """Per draw and rater, the summed effects of the attributes *not* fixed: shape (n_draws, n_raters).

    ``levels``: (n_units, n_attributes) level indices standing in for the survey's raters (a population's
    cells when standardising to other weights); default the raters' own."""
    meta = meta_of(idata)
    levels = idata.constant_data["rater_level"].to_numpy() if levels is None else levels
    total = np.zeros((flat_draws(idata, "sigma_item").shape[0], levels.shape[0]))
    for j, attr in enumerate(meta.attributes):
        if attr not in fixed:
            total += flat_draws(idata, f"beta_{attr}")[:, d, :][:, levels[:, j]]
    return total


def rater_sd(idata, d: int, fixed: Mapping[str, int] | None = None, levels: np.ndarray | None = None) -> np.ndarray:
    """The sd of a new rater's own effect on dimension ``d``, per draw: (n_draws,), or (n_draws, n_units) when
    the posterior has one sd per level of an attribute (``rater_variance_by``) that ``fixed`` leaves free:
    each unit's (survey rater's, or ``levels``' row's as in :func:`offsets`) level's sd."""
    sigma = flat_draws(idata, "sigma_rater")
    if sigma.ndim == 2:
        return sigma[:, d]
    meta = meta_of(idata)
    attr = meta.rater_variance_by
    if fixed and attr in fixed:
        return sigma[:, d, fixed[attr]]
    levels = idata.constant_data["rater_level"].to_numpy() if levels is None else levels
    return sigma[:, d, :][:, levels[:, list(meta.attributes).index(attr)]]


def group_effect(idata, d: int, fixed: Mapping[str, int]) -> np.ndarray:
    """Per draw, the summed effects of the fixed attributes' levels: shape (n_draws,)."""
    total = np.zeros(flat_draws(idata, "sigma_item").shape[0])
    for attr, k in fixed.items():
        total = total + flat_draws(idata, f"beta_{attr}")[:, d, k]
    return total


def interaction_cells(idata, d: int, fixed: Mapping[str, int], items: np.ndarray,
                      levels: np.ndarray | None = None) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """The group x item terms (``w_<attr>``) of a posterior with disagreement attributes.

    Returns ``(w_fixed, cells)``: ``w_fixed`` (n_draws, n_items) sums the terms of the fixed attributes at their
    levels; ``cells`` lists, for each combination of levels of the *unfixed* disagreement attributes present
    among the raters (or the units of ``levels``, as in :func:`offsets`), ``(rater mask, w)`` with that
    combination's summed terms (n_draws, n_items). An additive posterior gives zeros and no cells.
    """
    meta = meta_of(idata)
    n_draws = flat_draws(idata, "sigma_item").shape[0]
    w_fixed = np.zeros((n_draws, len(items)))
    free = []
    for attr in meta.disagreement:
        w = flat_draws(idata, f"w_{attr}")[:, d][:, items, :]  # (draw, item, level)
        if attr in fixed:
            w_fixed = w_fixed + w[:, :, fixed[attr]]
        else:
            free.append((list(meta.attributes).index(attr), w))
    if not free:
        return w_fixed, []
    levels = idata.constant_data["rater_level"].to_numpy() if levels is None else levels
    levels = levels[:, [j for j, _ in free]]
    cells = []
    for combo in np.unique(levels, axis=0):
        mask = (levels == combo).all(axis=1)
        cells.append((mask, sum(w[:, :, k] for (_, w), k in zip(free, combo, strict=True))))
    return w_fixed, cells


def standardised(s: np.ndarray, sigma: np.ndarray, cut: np.ndarray, x: np.ndarray,
                 cells: list[tuple[np.ndarray, np.ndarray]], what: str | int = "mean",
                 weights: np.ndarray | None = None, family: Family | None = None) -> np.ndarray:
    """:func:`predictive` averaged over the survey's raters when part of ``x`` depends on the rater's levels
    of unfixed disagreement attributes: each cell's raters (``mask``) see ``x + w`` (``w`` tiled across the
    columns of ``x``), weighted by the cell's share of raters (of ``weights``, when given: one per rater or
    population cell, summing to 1). No cells: :func:`predictive` itself. ``family``: the posterior's
    (:func:`~pluralstats.models.data.family_of`; None: logit)."""
    if weights is None:
        weights = np.full(s.shape[1], 1.0 / s.shape[1])
    if not cells:
        return predictive(s, sigma, cut, x, what=what, weights=weights, family=family)
    total = 0.0
    for mask, w in cells:
        share = weights[mask].sum()
        if share <= 0:  # a combination the weights leave out
            continue
        reps = x.shape[1] // w.shape[1]
        unit_sigma = sigma[:, mask] if sigma.ndim == 2 else sigma
        total = total + share * predictive(s[:, mask], unit_sigma, cut, x + np.tile(w, (1, reps)), what=what,
                                           weights=weights[mask] / share, family=family)
    return total


def _offset_pmf(s: np.ndarray, sigma: np.ndarray, lo: float, n_grid: int, h: float,
                weights: np.ndarray | None = None) -> np.ndarray:
    """PMF on the grid ``lo + j h`` of ``s + u``: s a weighted sample per draw (``weights`` (m,) summing to
    1, default equal), u ~ N(0, sigma); ``sigma`` (n,) or, with group-specific rater sds, (n, m): each unit's
    own sd, the units of one sd column binned and convolved together."""
    if sigma.ndim == 2:
        wt = np.full(s.shape[1], 1.0 / s.shape[1]) if weights is None else np.asarray(weights, dtype=float)
        _, group = np.unique(sigma, axis=1, return_inverse=True)
        total = 0.0
        for g in np.unique(group):
            mask = group.ravel() == g
            share = wt[mask].sum()
            if share > 0:
                total = total + share * _offset_pmf(s[:, mask], sigma[:, np.flatnonzero(mask)[0]], lo, n_grid, h,
                                                    wt[mask] / share)
        return total
    n, m = s.shape
    wt = np.full(m, 1.0 / m) if weights is None else np.asarray(weights, dtype=float)
    wt = np.broadcast_to(wt, (n, m))
    pos = (s - lo) / h
    j0 = np.clip(np.floor(pos).astype(int), 0, n_grid - 2)
    frac = pos - j0
    rows = np.repeat(np.arange(n)[:, None] * n_grid, m, axis=1)
    flat = np.bincount((rows + j0).ravel(), weights=((1 - frac) * wt).ravel(), minlength=n * n_grid)
    flat += np.bincount((rows + j0 + 1).ravel(), weights=(frac * wt).ravel(), minlength=n * n_grid)
    pmf = flat.reshape(n, n_grid)
    half = int(np.ceil(6 * sigma.max() / h))
    grid = np.arange(-half, half + 1) * h
    kernel = np.exp(-0.5 * (grid[None, :] / np.maximum(sigma[:, None], 1e-9)) ** 2)
    kernel /= kernel.sum(axis=1, keepdims=True)
    return np.clip(fftconvolve(pmf, kernel, mode="same", axes=1), 0.0, None)


def _link(z: np.ndarray, cut: np.ndarray, what: str | int, family: Family | None = None) -> np.ndarray:
    """Expected rating (n, L), P(rating >= k) (n, L) for an integer ``what`` = k, or category probabilities
    (n, L, K) at linear predictor z (n, L), under ``family`` (None: logit)."""
    above = get_family(family).sf(cut[:, None, :] - z[:, :, None])  # P(y > k) = 1 - F(c_k - z), k = 1..K-1
    if what == "mean":
        return 1.0 + above.sum(axis=2)
    if not isinstance(what, str):  # P(y >= k) = P(y > k - 1); every rating is >= 1
        return above[:, :, int(what) - 2] if what > 1 else np.ones(above.shape[:2])
    ones = np.ones(above.shape[:2] + (1,))
    zeros = np.zeros_like(ones)
    return np.concatenate([ones, above], axis=2) - np.concatenate([above, zeros], axis=2)


def predictive(s: np.ndarray, sigma: np.ndarray, cut: np.ndarray, x: np.ndarray, what: str | int = "mean",
               h: float = STEP, weights: np.ndarray | None = None, family: Family | None = None) -> np.ndarray:
    """``E[f(x + s + u)]`` for every draw and every column of ``x`` (n_draws, n_x[, K]).

    ``s``: (n_draws, n_raters) rater offsets (empirical composition, or population cells with ``weights``);
    ``sigma``: (n_draws,) the new rater's sd, or (n_draws, n_raters) each unit's (:func:`rater_sd`);
    ``cut``: (n_draws, K-1); ``x``: (n_draws, n_x) the rest of the linear predictor;
    ``what``: "mean", "probs" or an integer k for P(rating >= k) (see :func:`_link`); ``family``: the
    posterior's (None: logit).
    """
    family = get_family(family)
    per_category = isinstance(what, str) and what == "probs"
    pad = 6 * sigma.max() + 2 * h
    lo, hi = s.min() - pad, s.max() + pad
    n_off = int(np.ceil((hi - lo) / h)) + 1
    x_lo, x_hi = x.min() - 2 * h, x.max() + 2 * h
    n_x = int(np.ceil((x_hi - x_lo) / h)) + 2
    out = []
    for start in range(0, s.shape[0], CHUNK):
        sl = slice(start, start + CHUNK)
        pmf = _offset_pmf(s[sl], sigma[sl], lo, n_off, h, weights)
        z = x_lo + lo + np.arange(n_x + n_off - 1) * h
        f = _link(np.broadcast_to(z, (pmf.shape[0], z.size)), cut[sl], what, family)
        kernel = pmf[:, ::-1]
        if per_category:
            kernel = kernel[:, :, None]
        table = fftconvolve(f, kernel, mode="valid", axes=1)  # F on x_lo + m h, m < n_x
        pos = (x[sl] - x_lo) / h
        m0 = np.clip(np.floor(pos).astype(int), 0, n_x - 2)
        frac = pos - m0
        if per_category:
            m0, frac = m0[:, :, None], frac[:, :, None]
            take = np.take_along_axis(table, np.broadcast_to(m0, m0.shape[:2] + (table.shape[2],)), axis=1)
            take1 = np.take_along_axis(table, np.broadcast_to(m0 + 1, m0.shape[:2] + (table.shape[2],)), axis=1)
        else:
            take = np.take_along_axis(table, m0, axis=1)
            take1 = np.take_along_axis(table, m0 + 1, axis=1)
        out.append(take * (1 - frac) + take1 * frac)
    return np.concatenate(out, axis=0)


def _item_index(idata, item_ids: Sequence[str] | None) -> np.ndarray:
    known = idata.constant_data["item"].to_numpy().astype(str)
    if item_ids is None:
        return np.arange(known.size)
    where = {k: i for i, k in enumerate(known)}
    missing = [i for i in item_ids if str(i) not in where]
    if missing:
        raise InputError(f"{len(missing)} item(s) not in the fitted survey (e.g. {missing[:3]}); "
                         f"predictions are for the survey's items only")
    return np.array([where[str(i)] for i in item_ids], dtype=int)


def _parts(idata, dimension: str, group: Mapping[str, str] | None, item_ids):
    meta = meta_of(idata)
    d = _check_dimension(meta, dimension)
    fixed = _check_group(meta, group)
    items = _item_index(idata, item_ids)
    s = offsets(idata, d, list(fixed))
    sigma = rater_sd(idata, d, fixed)
    cut = flat_draws(idata, "cutpoints")[:, d, :]
    v = flat_draws(idata, "item_effect")[:, items, d]
    w_fixed, cells = interaction_cells(idata, d, fixed, items)
    return s, sigma, cut, v + w_fixed, group_effect(idata, d, fixed), cells


def category_probabilities(idata, dimension: str, group: Mapping[str, str] | None = None,
                           item_ids: Sequence[str] | None = None) -> np.ndarray:
    """Predictive rating distribution of a new rater from ``group`` on known items.

    Returns an array (n_draws, n_items, scale_max): entry [s, i, k] is P(rating = k + 1) under
    posterior draw s (chains merged, chain-major) for ``item_ids[i]`` (all survey items, in the
    posterior's ``item`` order, when None). ``group`` fixes some attributes, e.g.
    ``{"political": "liberal"}``; the other attributes are averaged over the survey's rater
    composition and the new rater's own effect is integrated out. With group x item terms
    (``fit-survey --disagreement``) the group's terms ``w`` enter the item effects; the terms of the
    disagreement attributes not fixed by ``group`` are averaged over the survey's raters like their levels.
    Rows sum to 1.
    """
    s, sigma, cut, v, b, cells = _parts(idata, dimension, group, item_ids)
    probs = standardised(s, sigma, cut, b[:, None] + v, cells, what="probs", family=family_of(idata))
    probs = np.clip(probs, 0.0, None)
    return probs / probs.sum(axis=2, keepdims=True)


def expected_rating(idata, dimension: str, group: Mapping[str, str] | None = None,
                    item_ids: Sequence[str] | None = None) -> np.ndarray:
    """Per draw, the expected rating of a new rater from ``group`` averaged over the items: (n_draws,)."""
    return item_means(idata, dimension, group, item_ids).mean(axis=1)


def item_means(idata, dimension: str, group: Mapping[str, str] | None = None,
               item_ids: Sequence[str] | None = None) -> np.ndarray:
    """Per draw, the expected rating of a new rater from ``group`` on each item: (n_draws, n_items)
    (composition, rater effect and group x item terms as in :func:`category_probabilities`)."""
    s, sigma, cut, v, b, cells = _parts(idata, dimension, group, item_ids)
    return standardised(s, sigma, cut, b[:, None] + v, cells, what="mean", family=family_of(idata))


def gauss_rule(grid: np.ndarray, pmf: np.ndarray, n_nodes: int = N_NODES) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_nodes``-point Gauss quadrature rule of each row of ``pmf`` (n, G), a distribution on ``grid``
    (G,): nodes and weights (n, n_nodes), weights summing to 1; exact for polynomials of degree < 2 n_nodes.

    The recurrence coefficients of the orthonormal polynomials come from the discretised Stieltjes procedure
    on the grid (stable: the grid is standardised per row), the rule from the Jacobi matrix's eigensystem
    (Golub-Welsch). A row with fewer support points than nodes gets nodes of weight ~0 beside exact ones."""
    pmf = np.asarray(pmf, dtype=float)
    wt = pmf / pmf.sum(axis=1, keepdims=True)
    mu = wt @ grid
    sd = np.sqrt(np.maximum(wt @ grid**2 - mu**2, 1e-300))
    x = (grid[None, :] - mu[:, None]) / sd[:, None]
    p_prev, p = np.zeros_like(x), np.ones_like(x)
    alpha = np.empty((len(pmf), n_nodes))
    beta = np.zeros((len(pmf), n_nodes))
    for k in range(n_nodes):
        alpha[:, k] = (wt * x * p * p).sum(axis=1)
        q = (x - alpha[:, k, None]) * p - (beta[:, k - 1, None] if k else 0.0) * p_prev
        norm = np.sqrt((wt * q * q).sum(axis=1))
        exhausted = norm < 1e-9  # no more support points than k + 1: the rule so far is exact, the rest weigh 0
        beta[:, k] = np.where(exhausted, 0.0, norm)
        p_prev, p = p, np.where(exhausted[:, None], 0.0, q / np.where(exhausted, 1.0, norm)[:, None])
    jacobi = np.zeros((len(pmf), n_nodes, n_nodes))
    idx = np.arange(n_nodes)
    jacobi[:, idx, idx] = alpha
    jacobi[:, idx[:-1], idx[1:]] = beta[:, :-1]
    jacobi[:, idx[1:], idx[:-1]] = beta[:, :-1]
    nodes, vectors = np.linalg.eigh(jacobi)
    return mu[:, None] + sd[:, None] * nodes, vectors[:, 0, :] ** 2


def rater_mixture(idata, dimension: str, group: Mapping[str, str] | None = None,
                  item_ids: Sequence[str] | None = None, *, draws: np.ndarray | None = None,
                  n_nodes: int = N_NODES) -> tuple[np.ndarray, np.ndarray]:
    """A new rater of ``group`` as a finite mixture of raters, per draw: ``(probs, weights)``.

    ``probs`` (n_draws, n_items, n_raters, scale_max): the rating distribution of each item for mixture
    rater ``m``; ``weights`` (n_draws, n_raters), summing to 1 per draw. Rater ``m`` stands for one person:
    a cell of the unfixed disagreement attributes' levels (with its group x item terms) and one value of
    ``s + u``, her unfixed attributes' effects plus her own effect (sd ``sigma_rater``, the level's own where
    the posterior has one per level), at the nodes of the Gauss rule (:func:`gauss_rule`) of that cell's
    distribution of ``s + u`` (the grid of :func:`predictive`). Given ``m`` one person's ratings of different
    items are independent, so the probability that she rates ``a`` above ``b`` is
    ``sum_m w_m sum_{x > y} p_a|m(x) p_b|m(y)``; summing ``w_m probs[..., m, :]`` over ``m`` gives
    :func:`category_probabilities` (to the grid's accuracy). ``draws``: indices into the chains-merged draws
    (default all), to bound memory by blocks.
    """
    meta = meta_of(idata)
    s, sigma, cut, v, b, cells = _parts(idata, dimension, group, item_ids)
    family = family_of(idata)
    if draws is not None:
        s, sigma, cut, v, b = s[draws], sigma[draws], cut[draws], v[draws], b[draws]
        cells = [(mask, w[draws]) for mask, w in cells]
    x = b[:, None] + v
    if not cells:
        cells = [(np.ones(s.shape[1], dtype=bool), np.zeros_like(x))]
    probs, weights = [], []
    for mask, w in cells:
        share = mask.mean()
        unit_sigma = sigma[:, mask] if sigma.ndim == 2 else sigma
        pad = 6 * unit_sigma.max() + 2 * STEP
        lo = s[:, mask].min() - pad
        n_grid = int(np.ceil((s[:, mask].max() + pad - lo) / STEP)) + 1
        pmf = _offset_pmf(s[:, mask], unit_sigma, lo, n_grid, STEP)
        nodes, node_w = gauss_rule(lo + np.arange(n_grid) * STEP, pmf, n_nodes)
        z = (x + w)[:, :, None] + nodes[:, None, :]  # (draw, item, node)
        p = _link(z.reshape(len(z), -1), cut, "probs", family).reshape(*z.shape, meta.scale_max)
        probs.append(np.clip(p, 0.0, None))
        weights.append(share * node_w)
    return np.concatenate(probs, axis=2), np.concatenate(weights, axis=1)
