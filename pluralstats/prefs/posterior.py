"""The ``posterior`` strategy: item judgements from the fitted rating model, not from raw votes.

Rule (exact). For each posterior draw ``t`` the model gives ``p_t,i``, the predictive rating
distribution of a *new* rater from the group on item ``i`` (:func:`pluralstats.models.category_probabilities`:
the group's attributes fixed, the others averaged over the survey's composition, the rater's own
effect integrated out). The group's attribute levels are fixed effects by default (reference coding,
Normal(0, 2.5) priors: not partially pooled, unless fitted with ``--pooled-levels``), and either way they
shift every response alike; only the group x item terms ``w`` of a
posterior fitted with ``--disagreement`` (partially pooled through their scale ``tau``) let the group prefer
different responses. Without them every group orients every pair the same way, and :func:`distributions`
warns (:class:`SharedOrderWarning`). It is collapsed to the chosen scale (summing categories) and
oriented. A jury's distribution is the mixture
``sum_g share_g p_t,i,g`` within each draw. Evidence is averaged over draws::

    E(a > b) = mean_t sum_{x > y} p_t,a(x) p_t,b(y)

the posterior predictive probability that a new rater of the group, rating ``a`` and ``b``
independently, rates ``a`` better: the per-draw comparison averaged over the draws. Nothing is sampled;
every pair is oriented by this posterior mean, deterministically. The pair rule (:mod:`.pairs`) chooses
the side with the larger
``E`` with weight ``E(c > r) / (E(c > r) + E(r > c))``: ties between the two ratings are excluded, not
split. The tests check it against brute force: draw ``t`` uniformly (and, for a jury, a member by
share), then one rating per item, collapse, compare, and count.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .groups import Pool
from .scales import collapse_matrix

ProbabilityFn = Callable[..., np.ndarray]


class SharedOrderWarning(UserWarning):
    """The posterior cannot make this group prefer differently from the others (no group x item terms)."""


def warn_if_shared(idata: object, pool: Pool) -> None:
    """Warn when the pool's pairs cannot be oriented differently from any other group's: the posterior has no
    group x item terms, or none for the pool's attributes. Objects that are not pluralstats posteriors (a
    custom ``probability_fn``'s input) are not checked."""
    from pluralstats.models import meta_of

    try:
        meta = meta_of(idata)
    except Exception:  # noqa: BLE001 -- any object without pluralstats metadata: nothing to check
        return
    named = sorted({a for m in pool.members for a in (m.as_dict or {})})
    if not meta.disagreement:
        warnings.warn("posterior strategy: the posterior has no group x item terms (the additive model, in which a "
                      "group only shifts its ratings of every response alike), so every group orients every pair "
                      "the same way; refit with fit-survey --disagreement ATTRIBUTE for group-specific preferences",
                      SharedOrderWarning, stacklevel=3)
    elif named and not set(named) & set(meta.disagreement):
        warnings.warn(f"posterior strategy: the posterior has group x item terms for {', '.join(meta.disagreement)} "
                      f"but not for {', '.join(named)}, so this group orients pairs as the survey's raters as a whole "
                      "do", SharedOrderWarning, stacklevel=3)


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
    warn_if_shared(idata, pool)
    mix = None
    for member in pool.members:
        probs = np.asarray(fn(idata, dimension, member.as_dict or None, list(item_ids)), dtype=float)
        mix = member.share * probs if mix is None else mix + member.share * probs
    if max_draws is not None and mix.shape[0] > max_draws:
        keep = np.sort(np.random.default_rng(seed).choice(mix.shape[0], size=max_draws, replace=False))
        mix = mix[keep]
    collapsed = mix @ collapse_matrix(scale_max, cuts)[:, :scale] if scale != scale_max else mix
    return collapsed if sign > 0 else collapsed[..., ::-1]

