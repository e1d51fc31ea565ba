"""The ``posterior`` strategy: item judgements from the fitted rating model, not from raw votes.

Rule (exact). For each posterior draw ``t`` the model gives ``p_t,i``, the predictive rating
distribution of a *new* rater from the group on item ``i`` (:func:`pluralstats.models.category_probabilities`:
the group's attributes fixed, the others averaged over the survey's composition, the rater's own
effect integrated out; small groups are partially pooled by the hierarchical model). It is collapsed
to the chosen scale (summing categories) and oriented. A jury's distribution is the mixture
``sum_g share_g p_t,i,g`` within each draw. Evidence is averaged over draws::

    E(a > b) = mean_t sum_{x > y} p_t,a(x) p_t,b(y)

the posterior predictive probability that a new rater of the group, rating ``a`` and ``b``
independently, rates ``a`` better. The pair rule (:mod:`.pairs`) chooses the side with the larger
``E`` with weight ``E(c > r) / (E(c > r) + E(r > c))``: ties between the two ratings are excluded, not
split. The tests check it against brute force: draw ``t`` uniformly (and, for a jury, a member by
share), then one rating per item, collapse, compare, and count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .groups import Pool
from .scales import collapse_matrix

ProbabilityFn = Callable[..., np.ndarray]


def _models():
    """The rating model's API (imported lazily: it pulls in PyMC)."""
    from pluralstats.models import category_probabilities, load_posterior

    return category_probabilities, load_posterior


def load(posterior: object) -> object:
    """A path is read with :func:`pluralstats.models.load_posterior`; anything else is used as is."""
    if isinstance(posterior, (str, Path)):
        return _models()[1](posterior)
    return posterior


def distributions(idata: object, pool: Pool, dimension: str, item_ids: Sequence[str], scale_max: int,
                  scale: int, cuts: Sequence[int], sign: int, *, probability_fn: ProbabilityFn | None = None,
                  max_draws: int | None = None, seed: int = 0) -> np.ndarray:
    """``(n_draws, n_items, scale)`` oriented predictive distributions of the pool (module rule)."""
    fn = probability_fn or _models()[0]
    mix = None
    for member in pool.members:
        probs = np.asarray(fn(idata, dimension, member.as_dict or None, list(item_ids)), dtype=float)
        mix = member.share * probs if mix is None else mix + member.share * probs
    if max_draws is not None and mix.shape[0] > max_draws:
        keep = np.sort(np.random.default_rng(seed).choice(mix.shape[0], size=max_draws, replace=False))
        mix = mix[keep]
    collapsed = mix @ collapse_matrix(scale_max, cuts)[:, :scale] if scale != scale_max else mix
    return collapsed if sign > 0 else collapsed[..., ::-1]

