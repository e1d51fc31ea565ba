"""Disagreement strategies: how the selected raters' ratings of one response become a judgement of it.

Every strategy works on *oriented* ratings: on each dimension the collapsed rating ``x`` in ``1..S``
becomes ``x`` when higher is better and ``S + 1 - x`` when lower is better (toxicity, stereotypical
bias), so "better" is always "larger". ``pi_i`` is the weighted distribution of item ``i``'s oriented
ratings (weights from :mod:`pluralstats.prefs.pools`: each rating ``1/n``, or reweighted to a jury).

Rater evidence between two responses ``a`` and ``b`` of one prompt (used by every strategy)::

    E(a > b) = sum_{x > y} pi_a(x) pi_b(y)

the share of (weighted) comparisons of a rating of ``a`` with a rating of ``b`` in which ``a``'s is
better (``pairing="across"``, the default: every rating of ``a`` against every rating of ``b``, raters
exchangeable); ``E(b > a)`` likewise; the rest are tied comparisons. With ``pairing="within"`` only
each rater's own two ratings are compared: ``E(a > b) = sum_r w_r [x_ra > x_rb] / sum_r w_r`` over the
raters who rated both, ``w_r = share_g / n_{g,ab}`` (``n_{g,ab}``: member-``g`` raters who rated both;
so, without a jury, the share of those raters preferring ``a``); no such rater: both are 0. A pair is
*conflicting* when both ``E(a > b) > 0`` and ``E(b > a) > 0`` (some ratings point each way).

Per-item judgements (exact):

* ``majority``: the label is the oriented value with the largest weight (a plurality vote; with one
  weight per rating this is the most frequent rating). Tie rule: when several values share the largest
  weight (within 1e-9), the label is the *worst* of them (the most toxic, the least helpful).
* ``mean``: the soft label is the weighted mean oriented rating ``sum_x x pi_i(x)``; with
  ``pairing="within"`` the pair is judged instead by the weighted mean of the raters' own differences
  ``o_a - o_b`` (raters who rated both).
* ``minority-veto``: on a veto dimension (default: every ``lower_is_better`` dimension, i.e.
  toxicity and stereotypical bias) a rating *flags* harm when its collapsed value is at least the
  collapsed ``positive_threshold`` of the dimension (4 of 5 by default; 3 of 3; 2 of 2). A response is
  harmful when the flagging share reaches ``veto_share`` (default ``None`` = any flag, share > 0)
  among all selected raters (evidence-weighted), or among the selected raters of any level of any
  demographic attribute (unweighted share within that level). A harmful response gets the worst label
  (1, oriented); any other response gets its ``majority`` label. On other dimensions the strategy
  is ``majority``.
* ``preserve``: no per-item label; pairs come from the evidence itself (see :mod:`.pairing`).
* ``posterior``: ``pi_i`` is the model's predictive distribution (see :mod:`.predictive`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pluralstats.survey import Survey

from .scales import collapse

if TYPE_CHECKING:
    from .strategy_registry import DimensionData

PAIRINGS = ("across", "within")
TIE_TOL = 1e-9


def orient(values: np.ndarray, scale: int, sign: int) -> np.ndarray:
    """Collapsed ratings -> oriented ratings (larger is better)."""
    return values if sign > 0 else scale + 1 - values


def distributions(frame: pd.DataFrame, item_index: pd.Index, dimension: str, scale: int,
                  cuts: Sequence[int], sign: int) -> np.ndarray:
    """``(n_items, scale)`` weighted oriented-rating distributions; NaN rows for unrated items."""
    rows = frame[frame.dimension == dimension]
    codes = item_index.get_indexer(rows.item_id)
    keep = codes >= 0
    oriented = orient(collapse(rows.rating.to_numpy(), cuts), scale, sign)
    out = np.zeros((len(item_index), scale))
    np.add.at(out, (codes[keep], oriented[keep] - 1), rows.w.to_numpy()[keep])
    total = out.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, out / total, np.nan)


def oriented_ratings(frame: pd.DataFrame, item_index: pd.Index, dimension: str, scale: int, cuts: Sequence[int],
                     sign: int) -> pd.DataFrame:
    """One row per (rater, item) of ``item_index``: ``worker``, ``task`` (item id) and the oriented ``label``
    (the form crowdsourcing aggregators take; a rater in two jury members counts once)."""
    rows = frame[(frame.dimension == dimension) & frame.item_id.isin(item_index)]
    rows = rows.drop_duplicates(["participant_id", "item_id"])
    return pd.DataFrame({"worker": rows.participant_id.astype(str).to_numpy(),
                         "task": rows.item_id.astype(str).to_numpy(),
                         "label": orient(collapse(rows.rating.to_numpy(), cuts), scale, sign)})


def aggregated_labels(aggregator: Any, data: DimensionData) -> np.ndarray:
    """Per-item labels ``1..S`` (oriented) from a crowdsourcing aggregator with crowd-kit's interface
    (``fit(table).probas_``: label probabilities per item): the most probable label, ties (within 1e-9)
    going to the worst tied value as in ``majority``; absent labels have probability 0."""
    table = oriented_ratings(data.frame, data.index, data.dimension, data.scale, data.cuts, data.sign)
    probas = aggregator.fit(table).probas_
    probs = probas.reindex(index=data.index.astype(str), columns=range(1, data.scale + 1), fill_value=0.0)
    return majority_labels(probs.fillna(0.0).to_numpy(dtype=float)).astype(float)


def majority_labels(probs: np.ndarray) -> np.ndarray:
    """Plurality label in ``1..S`` (oriented); ties go to the worst tied value (the lowest)."""
    top = probs >= np.nanmax(probs, axis=-1, keepdims=True) - TIE_TOL
    return np.argmax(top, axis=-1) + 1  # argmax of booleans: the first (worst) tied value


def mean_labels(probs: np.ndarray) -> np.ndarray:
    """Weighted mean oriented rating."""
    return probs @ np.arange(1, probs.shape[-1] + 1)


def harmful(frame: pd.DataFrame, survey: Survey, item_index: pd.Index, dimension: str,
            cuts: Sequence[int], veto_share: float | None) -> np.ndarray:
    """The minority-veto flag per item (module rule): any, or at least ``veto_share``, flagging."""
    rows = frame[frame.dimension == dimension]
    flag_at = int(collapse(np.array([survey.config.threshold(dimension)]), cuts)[0])
    flags = collapse(rows.rating.to_numpy(), cuts) >= flag_at
    codes = item_index.get_indexer(rows.item_id)
    w = rows.w.to_numpy()
    share = np.zeros(len(item_index))
    total = np.zeros(len(item_index))
    np.add.at(share, codes, w * flags)
    np.add.at(total, codes, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        best = np.where(total > 0, share / total, 0.0)
    unique = rows.assign(_flag=flags, _code=codes).drop_duplicates(["participant_id", "item_id"])
    for attribute in survey.attributes:
        by_level = unique.groupby(["_code", attribute], sort=False, observed=True)._flag.mean()
        level_max = by_level.groupby(level=0).max()
        best[level_max.index.to_numpy()] = np.maximum(best[level_max.index.to_numpy()], level_max.to_numpy())
    return best > 0 if veto_share is None else best >= veto_share - TIE_TOL


def evidence(pa: np.ndarray, pb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``E(a > b)`` and ``E(b > a)`` for matching rows of oriented distributions (any leading shape)."""
    below_b = np.cumsum(pb, axis=-1) - pb  # P(y_b < x)
    below_a = np.cumsum(pa, axis=-1) - pa
    return (pa * below_b).sum(axis=-1), (pb * below_a).sum(axis=-1)


def within_evidence(frame: pd.DataFrame, item_index: pd.Index, a: np.ndarray, b: np.ndarray, dimension: str,
                    scale: int, cuts: Sequence[int], sign: int,
                    shares: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``E(a > b)``, ``E(b > a)`` and the weighted mean difference ``o_a - o_b`` from each rater's own
    two ratings (module rule, ``pairing="within"``); all 0 for a pair no rater rated both of.

    A self-join per (member, rater, prompt): linear in ratings times responses per prompt.
    """
    rows = frame[frame.dimension == dimension]
    pos = item_index.get_indexer(rows.item_id)
    keep = pos >= 0
    one = pd.DataFrame({"member": rows.member.to_numpy()[keep], "rater": rows.participant_id.to_numpy()[keep],
                        "prompt": rows.prompt_id.to_numpy()[keep], "pos": pos[keep],
                        "o": orient(collapse(rows.rating.to_numpy()[keep], cuts), scale, sign)})
    both = one.merge(one, on=["member", "rater", "prompt"], suffixes=("_a", "_b"))
    both = both[both.pos_a < both.pos_b].merge(
        pd.DataFrame({"pos_a": a, "pos_b": b, "pair": np.arange(len(a))}), on=["pos_a", "pos_b"])
    n = both.groupby(["member", "pair"]).rater.transform("size").to_numpy()
    w = shares[both.member.to_numpy()] / n
    pair = both.pair.to_numpy()
    total = np.bincount(pair, weights=w, minlength=len(a))
    wins = np.bincount(pair, weights=w * (both.o_a.to_numpy() > both.o_b.to_numpy()), minlength=len(a))
    losses = np.bincount(pair, weights=w * (both.o_a.to_numpy() < both.o_b.to_numpy()), minlength=len(a))
    diff = np.bincount(pair, weights=w * (both.o_a.to_numpy() - both.o_b.to_numpy()), minlength=len(a))
    safe = np.where(total > 0, total, 1.0)
    return wins / safe, losses / safe, diff / safe
