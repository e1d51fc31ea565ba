"""Where two groups disagree about *which responses are better*: items and within-prompt pairs.

Needs a posterior with group x item terms (``fit-survey --disagreement ATTRIBUTE``). For groups A and B
(two levels of one such attribute) and each dimension, per posterior draw ``t``:

* item ``i``: ``m_g,t(i)``, the expected rating of a new average rater of group g
  (:func:`~pluralstats.models.predict.item_means`: g's level and group x item terms, the other attributes
  averaged over the survey's composition, the rater effect integrated out). Reported: ``diff = m_A - m_B``
  and ``beyond_level = diff - mean_i diff`` (the item's difference beyond the groups' average difference,
  which is what a within-prompt preference pair can see), each with the posterior mean and central interval.
* pair ``(i, j)`` of responses to one prompt: ``d_g = m_g(i) - m_g(j)``; reported: each group's posterior
  mean ``d_g``, the difference in differences ``d_A - d_B`` with its interval, and
  ``p_order_differs = P(sign d_A != sign d_B)``, the posterior probability that the two groups' average
  raters order the pair differently.

Items are ranked by ``|beyond_level|``, pairs by ``p_order_differs`` then ``|d_A - d_B|``. The tables hold
item and prompt ids, never a participant id.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.errors import InputError

from .data import meta_of
from .predict import item_means

ITEM_COLUMNS = ["dimension", "item_id", "prompt_id", "mean_a", "mean_b", "diff", "diff_lo", "diff_hi",
                "beyond_level", "beyond_lo", "beyond_hi"]
PAIR_COLUMNS = ["dimension", "prompt_id", "item_1", "item_2", "better_for_a", "better_for_b", "d_a", "d_b",
                "diff_in_diff", "did_lo", "did_hi", "p_order_differs"]


def check_interaction(idata, attribute: str) -> None:
    """InputError unless the posterior has group x item terms for ``attribute``."""
    meta = meta_of(idata)
    if not meta.disagreement:
        raise InputError("This posterior has no group x item (interaction) term: in the additive model every group "
                         "orders the responses the same way, so there is no disagreement about items to show; "
                         "refit with fit-survey --disagreement ATTRIBUTE")
    if attribute not in meta.disagreement:
        raise InputError(f"This posterior has group x item terms for {', '.join(meta.disagreement)} only, not for "
                         f"'{attribute}'; refit with fit-survey --disagreement {attribute}")


def _interval(x: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
    return tuple(np.quantile(x, [(1 - prob) / 2, (1 + prob) / 2], axis=0))


def disagreement_tables(idata, attribute: str, level_a: str, level_b: str, dimensions: Sequence[str] | None = None,
                        prob: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(items, pairs)``: every item and every within-prompt pair, ranked (module rule), all dimensions."""
    check_interaction(idata, attribute)
    meta = meta_of(idata)
    cd = idata.constant_data
    if "item_prompt" not in cd:
        raise InputError("This posterior does not record the items' prompts (fitted by an older version); refit it")
    item_ids = cd["item"].to_numpy().astype(str)
    prompts = cd["item_prompt"].to_numpy().astype(str)
    first, second = _within_prompt_pairs(prompts)
    items, pairs = [], []
    for dim in (list(dimensions) if dimensions is not None else meta.dimensions):
        m_a = item_means(idata, dim, {attribute: level_a})
        m_b = item_means(idata, dim, {attribute: level_b})
        diff = m_a - m_b
        beyond = diff - diff.mean(axis=1, keepdims=True)
        (d_lo, d_hi), (b_lo, b_hi) = _interval(diff, prob), _interval(beyond, prob)
        items.append(pd.DataFrame({
            "dimension": dim, "item_id": item_ids, "prompt_id": prompts, "mean_a": m_a.mean(axis=0),
            "mean_b": m_b.mean(axis=0), "diff": diff.mean(axis=0), "diff_lo": d_lo, "diff_hi": d_hi,
            "beyond_level": beyond.mean(axis=0), "beyond_lo": b_lo, "beyond_hi": b_hi}))
        d_a, d_b = m_a[:, first] - m_a[:, second], m_b[:, first] - m_b[:, second]
        did = d_a - d_b
        lo, hi = _interval(did, prob)
        higher_better = meta.polarity.get(dim, "higher_is_better") == "higher_is_better"
        better = [np.where((d.mean(axis=0) > 0) == higher_better, item_ids[first], item_ids[second])
                  for d in (d_a, d_b)]
        pairs.append(pd.DataFrame({
            "dimension": dim, "prompt_id": prompts[first], "item_1": item_ids[first], "item_2": item_ids[second],
            "better_for_a": better[0], "better_for_b": better[1], "d_a": d_a.mean(axis=0),
            "d_b": d_b.mean(axis=0), "diff_in_diff": did.mean(axis=0), "did_lo": lo, "did_hi": hi,
            "p_order_differs": (np.sign(d_a) != np.sign(d_b)).mean(axis=0)}))
    item_table = pd.concat(items, ignore_index=True)
    item_table = item_table.iloc[np.argsort(-item_table.beyond_level.abs().to_numpy(), kind="stable")]
    pair_table = pd.concat(pairs, ignore_index=True) if pairs else pd.DataFrame(columns=PAIR_COLUMNS)
    pair_table = pair_table.sort_values(["p_order_differs", "diff_in_diff"], key=lambda c: c.abs(), ascending=False,
                                        kind="stable")
    return item_table[ITEM_COLUMNS].reset_index(drop=True), pair_table[PAIR_COLUMNS].reset_index(drop=True)


def _within_prompt_pairs(prompts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(i, j)``, ``i < j``, of every two items of one prompt."""
    first, second = [], []
    for prompt in pd.unique(prompts):
        idx = np.flatnonzero(prompts == prompt)
        a, b = np.triu_indices(idx.size, k=1)
        first.append(idx[a])
        second.append(idx[b])
    if not first:
        return np.zeros(0, int), np.zeros(0, int)
    return np.concatenate(first), np.concatenate(second)


def plot_disagreements(items: pd.DataFrame, pairs: pd.DataFrame, level_a: str, level_b: str, path: str | Path,
                       top: int = 20) -> list[Path]:
    """Two panels: the ``top`` items by difference beyond the level shift, and the ``top`` pairs by
    P(ordered differently), each with its interval; labels are item ids (pairs: "item_1 vs item_2, P=...")."""
    from pluralstats.plots.style import paper_style, plt, save_figure

    it, pr = items.head(top), pairs.head(top)
    n = max(len(it), len(pr), 1)
    with paper_style():
        fig, axes = plt.subplots(1, 2, figsize=(11, 1.2 + 0.28 * n))
        panels = [(axes[0], it, "beyond_level", "beyond_lo", "beyond_hi",
                   [f"{r.item_id} ({r.dimension})" for r in it.itertuples()],
                   f"{level_a} - {level_b}: expected rating, beyond the average difference"),
                  (axes[1], pr, "diff_in_diff", "did_lo", "did_hi",
                   [f"{r.item_1} vs {r.item_2} ({r.dimension}), P={r.p_order_differs:.2f}" for r in pr.itertuples()],
                   f"pair difference, {level_a} minus {level_b}")]
        for ax, table, est, lo, hi, labels, xlabel in panels:
            y = np.arange(len(table))[::-1]
            ax.hlines(y, table[lo], table[hi], color="black", lw=1.2)
            ax.plot(table[est], y, "o", ms=4, color="black")
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_yticks(y, labels, fontsize=7)
            ax.set_xlabel(xlabel)
        axes[0].set_title(f"Items on which {level_a} and {level_b} differ most")
        axes[1].set_title("Within-prompt pairs most likely ordered differently")
        fig.tight_layout()
        return save_figure(fig, Path(path).with_suffix(""))
