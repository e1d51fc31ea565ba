"""The ``posterior`` strategy: item judgements from the fitted rating model, not from raw votes.

Rule (exact). One person rates both responses of a pair, so her own effect is shared by the two ratings.
For each posterior draw ``t`` the model gives a new rater from the group as a finite mixture of raters
(:func:`pluralstats.models.predict.rater_mixture`): rater ``m`` has weight ``w_t,m`` and, on item ``i``, the
rating distribution ``p_t,i|m``. ``m`` stands for one person: the group's attributes fixed, the others'
levels drawn as in the survey's composition (with their group x item terms), and her own rater effect
``u ~ N(0, sigma_rater)`` (the sd of her level where the posterior has one per level, ``--rater-variance-by``);
``s + u`` (her unfixed attributes' effects plus her own) is integrated by a Gauss rule. Given ``m`` her
ratings of two responses are independent. The group's attribute levels are fixed effects by default
(reference coding, Normal(0, 2.5) priors: not partially pooled, unless fitted with ``--pooled-levels``),
and either way they shift every response alike; only the group x item terms ``w`` of a posterior fitted
with ``--disagreement`` (partially pooled through their scale ``tau``) let the group prefer different
responses. Without them every group orients every pair the same way, and :func:`distributions` warns
(:class:`SharedOrderWarning`). Each ``p_t,i|m`` is collapsed to the chosen scale (summing categories) and
oriented. A jury's member is drawn once per pair (the same person rates both): the jury's mixture is the
members' mixtures side by side, member ``g``'s weights times ``share_g``. Evidence is averaged over draws::

    E(a > b) = mean_t sum_m w_t,m sum_{x > y} p_t,a|m(x) p_t,b|m(y)

the posterior predictive probability that a new rater of the group, rating both ``a`` and ``b``, rates
``a`` better. Treating the two ratings as two different raters' (the product of the marginal
distributions) would pull every weight toward 0.5: with rater sd 1 and a latent gap of 1 logit, 0.664
instead of 0.695. Nothing is sampled; every pair is oriented by this posterior mean, deterministically.
The pair rule (:mod:`.pairing`) chooses the side with the larger ``E`` with weight
``E(c > r) / (E(c > r) + E(r > c))``: ties between the two ratings are excluded, not split. The tests check
it against brute force: draw ``t`` uniformly, a member by share and one person (her attribute levels
from the composition, her own effect from its normal), then her rating of each item; collapse, compare,
and count.

A ``probability_fn`` standing in for the model returns either ``(n_draws, n_items, scale_max)`` rating
distributions (a mixture of one rater per member: the member's two ratings independent given the draw) or
``(probs, weights)`` as :func:`~pluralstats.models.predict.rater_mixture` does.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .pools import Pool
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
    from pluralstats.models import load_posterior
    from pluralstats.models.predict import rater_mixture

    return rater_mixture, load_posterior


def load(posterior: object) -> object:
    """A path is read with :func:`pluralstats.models.load_posterior`; anything else is used as is."""
    if isinstance(posterior, (str, Path)):
        return _models()[1](posterior)
    return posterior


#: float budget of one block of draws (draws x items x mixture raters x categories)
BLOCK = 2_000_000


@dataclass
class RaterMixture:
    """The pool's new rater per draw as a mixture of raters (module rule), oriented on the chosen scale.

    ``member_fns``: one function per pool member, draw indices -> ``(probs (n, n_items, m, scale_max), weights
    (n, m))`` of that member (weights summing to 1); ``shares``: the members' shares; ``draws``: the draw
    indices used. Blocks of draws are computed when asked for, so memory stays bounded."""

    member_fns: list[Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]]
    shares: np.ndarray
    draws: np.ndarray
    collapse: np.ndarray  # (scale_max, scale), with the orientation applied
    n_items: int

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(probs (n, n_items, m, scale), weights (n, m))`` for consecutive blocks of the draws."""
        first_p, first_w = self._block(self.draws[:1])
        size = max(1, BLOCK // max(1, first_p[0].size))
        for start in range(0, len(self.draws), size):
            yield self._block(self.draws[start:start + size])

    def _block(self, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = [fn(draws) for fn in self.member_fns]
        probs = np.concatenate([p for p, _ in parts], axis=2) @ self.collapse
        weights = np.concatenate([share * w for share, (_, w) in zip(self.shares, parts, strict=True)], axis=1)
        return probs, weights

    def evidence(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``E(a > b)`` and ``E(b > a)`` per pair, averaged over the draws (module rule)."""
        from .evidence import evidence

        e_ab, e_ba = np.zeros(len(a)), np.zeros(len(a))
        for probs, weights in self.blocks():
            fwd, bwd = evidence(probs[:, a], probs[:, b])  # (n, pairs, m)
            e_ab += np.einsum("npm,nm->p", fwd, weights)
            e_ba += np.einsum("npm,nm->p", bwd, weights)
        return e_ab / len(self.draws), e_ba / len(self.draws)

    def marginal(self) -> np.ndarray:
        """``(n_draws, n_items, scale)``: each item's rating distribution of a new rater (the mixture summed)."""
        return np.concatenate([np.einsum("nimk,nm->nik", p, w) for p, w in self.blocks()], axis=0)


def _member_fn(fn: ProbabilityFn | None, idata: object, dimension: str, group: dict | None,
               item_ids: list[str]) -> tuple[Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], int]:
    """One member's block function and the posterior's number of draws."""
    if fn is None:
        from pluralstats.models.predict import flat_draws

        n_draws = flat_draws(idata, "sigma_item").shape[0]
        return (lambda draws: _models()[0](idata, dimension, group, item_ids, draws=draws)), n_draws
    out = fn(idata, dimension, group, item_ids)
    probs, weights = out if isinstance(out, tuple) else (np.asarray(out, dtype=float)[:, :, None, :], None)
    probs = np.asarray(probs, dtype=float)
    weights = np.ones(probs.shape[:1] + probs.shape[2:3]) if weights is None else np.asarray(weights, dtype=float)
    return (lambda draws: (probs[draws], weights[draws])), probs.shape[0]


def distributions(idata: object, pool: Pool, dimension: str, item_ids: Sequence[str], scale_max: int,
                  scale: int, cuts: Sequence[int], sign: int, *, probability_fn: ProbabilityFn | None = None,
                  max_draws: int | None = None, seed: int = 0) -> RaterMixture:
    """The pool's oriented rater mixture (module rule); ``max_draws`` keeps that many draws, chosen by ``seed``."""
    warn_if_shared(idata, pool)
    fns, n_draws = [], 0
    for member in pool.members:
        member_fn, n_draws = _member_fn(probability_fn, idata, dimension, member.as_dict or None, list(item_ids))
        fns.append(member_fn)
    draws = np.arange(n_draws)
    if max_draws is not None and n_draws > max_draws:
        draws = np.sort(np.random.default_rng(seed).choice(n_draws, size=max_draws, replace=False))
    matrix = collapse_matrix(scale_max, cuts)[:, :scale] if scale != scale_max else np.eye(scale_max)
    if sign < 0:
        matrix = matrix[:, ::-1]
    return RaterMixture(fns, np.array([m.share for m in pool.members], dtype=float), draws, matrix, len(item_ids))
