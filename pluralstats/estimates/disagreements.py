"""Where two groups disagree about *which responses are better*: items and within-prompt pairs.

Needs a posterior with group x item terms (``fit-survey --disagreement ATTRIBUTE``). For groups A and B
(two levels of one such attribute) and each dimension, per posterior draw ``t``:

* item ``i``, on the **latent (logit) scale**: ``latent_diff = w_A,i - w_B,i``, the difference of the two
  levels' group x item terms. The levels' own effects (the level shift) are not in it, and the scale has no
  floor or ceiling, so it is 0 for every item when the groups differ only by a level shift, however large.
  This is the disagreement about the item, and items are ranked by ``|latent_diff|`` (posterior mean).
* item ``i``, on the **rating scale** (``rating_*`` columns): ``m_g,t(i)``, the expected rating of a new
  average rater of group g (:func:`~pluralstats.models.predict.item_means`: g's level and group x item
  terms, the other attributes averaged over the survey's composition, the rater effect integrated out), and
  ``rating_diff = m_A - m_B``. It includes the level shift, and the scale's floor and ceiling compress it:
  with no disagreement at all it is smaller for items near either end of the scale. Read it as "how much
  the groups' average ratings differ", not as disagreement.
* pair ``(i, j)`` of responses to one prompt, on the rating scale: ``d_g = m_g(i) - m_g(j)``; reported:
  each group's posterior mean ``d_g``; ``rating_did = d_A - d_B`` with its interval; on the latent scale
  ``latent_did = (w_A,i - w_B,i) - (w_A,j - w_B,j)`` with its interval; and, for a stated ``delta`` in rating
  points (:data:`DELTA` by default), ``p_opposite = P(d_A > delta and d_B < -delta, or d_A < -delta and
  d_B > delta)``, the posterior probability that the groups' average raters order the pair in opposite
  directions, each by more than ``delta``, and ``p_gap = P(|d_A - d_B| > delta)``. A pair both groups are
  nearly indifferent about has ``p_opposite`` near 0, not 0.5.

Pairs are ranked by ``p_opposite``, then ``|latent_did|``. A survey with one response per prompt has no
pairs: the pair table is empty. The tables hold item and prompt ids, never a participant id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.models.data import meta_of
from pluralstats.models.predict import flat_draws, item_means

#: default ``delta`` of the pair probabilities, in rating points: the smallest difference between an average
#: rater's expected ratings of two responses that counts as preferring one
DELTA = 0.1
ITEM_COLUMNS = ["dimension", "item_id", "prompt_id", "latent_diff", "latent_lo", "latent_hi", "rating_mean_a",
                "rating_mean_b", "rating_diff", "rating_diff_lo", "rating_diff_hi"]
PAIR_COLUMNS = ["dimension", "prompt_id", "item_1", "item_2", "better_for_a", "better_for_b", "d_a", "d_b",
                "rating_did", "rating_did_lo", "rating_did_hi", "latent_did", "latent_did_lo", "latent_did_hi",
                "p_opposite", "p_gap"]


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
                        prob: float = 0.95, delta: float = DELTA) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(items, pairs)``: every item and every within-prompt pair, ranked (module rule), all dimensions.

    ``delta``: the pair probabilities' threshold in rating points (>= 0)."""
    check_interaction(idata, attribute)
    if not np.isfinite(delta) or delta < 0:
        raise InputError(f"delta must be a number of rating points >= 0, got {delta}")
    meta = meta_of(idata)
    cd = idata.constant_data
    if "item_prompt" not in cd:
        raise InputError("This posterior does not record the items' prompts (constant_data item_prompt); refit it "
                         "with fit-survey")
    item_ids = cd["item"].to_numpy().astype(str)
    prompts = cd["item_prompt"].to_numpy().astype(str)
    first, second = _within_prompt_pairs(prompts)
    levels = meta.attributes[attribute]
    w = flat_draws(idata, f"w_{attribute}")  # (draw, dimension, item, level)
    items, pairs = [], []
    for dim in (list(dimensions) if dimensions is not None else meta.dimensions):
        d = meta.dimensions.index(dim)
        latent = w[:, d, :, levels.index(level_a)] - w[:, d, :, levels.index(level_b)]
        m_a = item_means(idata, dim, {attribute: level_a})
        m_b = item_means(idata, dim, {attribute: level_b})
        diff = m_a - m_b
        (l_lo, l_hi), (d_lo, d_hi) = _interval(latent, prob), _interval(diff, prob)
        items.append(pd.DataFrame({
            "dimension": dim, "item_id": item_ids, "prompt_id": prompts, "latent_diff": latent.mean(axis=0),
            "latent_lo": l_lo, "latent_hi": l_hi, "rating_mean_a": m_a.mean(axis=0),
            "rating_mean_b": m_b.mean(axis=0), "rating_diff": diff.mean(axis=0), "rating_diff_lo": d_lo,
            "rating_diff_hi": d_hi}))
        d_a, d_b = m_a[:, first] - m_a[:, second], m_b[:, first] - m_b[:, second]
        did, latent_did = d_a - d_b, latent[:, first] - latent[:, second]
        (r_lo, r_hi), (ld_lo, ld_hi) = _interval(did, prob), _interval(latent_did, prob)
        opposite = ((d_a > delta) & (d_b < -delta)) | ((d_a < -delta) & (d_b > delta))
        higher_better = meta.polarity.get(dim, "higher_is_better") == "higher_is_better"
        better = [np.where((x.mean(axis=0) > 0) == higher_better, item_ids[first], item_ids[second])
                  for x in (d_a, d_b)]
        pairs.append(pd.DataFrame({
            "dimension": dim, "prompt_id": prompts[first], "item_1": item_ids[first], "item_2": item_ids[second],
            "better_for_a": better[0], "better_for_b": better[1], "d_a": d_a.mean(axis=0),
            "d_b": d_b.mean(axis=0), "rating_did": did.mean(axis=0), "rating_did_lo": r_lo, "rating_did_hi": r_hi,
            "latent_did": latent_did.mean(axis=0), "latent_did_lo": ld_lo, "latent_did_hi": ld_hi,
            "p_opposite": opposite.mean(axis=0), "p_gap": (np.abs(did) > delta).mean(axis=0)}))
    item_table = pd.concat(items, ignore_index=True)
    item_table = item_table.iloc[np.argsort(-item_table.latent_diff.abs().to_numpy(), kind="stable")]
    pair_table = pd.concat(pairs, ignore_index=True)
    pair_table = pair_table.sort_values(["p_opposite", "latent_did"], key=lambda c: c.abs(), ascending=False,
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
                       top: int = 20, delta: float = DELTA) -> list[Path]:
    """The ``top`` items by latent difference ``w_A - w_B`` (logits) with their intervals, and, when there are
    within-prompt pairs, the ``top`` pairs by ``p_opposite`` with their latent difference in differences;
    labels are item ids (pairs: "item_1 vs item_2, P=..."). Without pairs only the items panel is drawn."""
    from pluralstats.plots.style import paper_style, plt, save_figure

    it, pr = items.head(top), pairs.head(top)
    n = max(len(it), len(pr), 1)
    panels = [(it, "latent_diff", "latent_lo", "latent_hi", [f"{r.item_id} ({r.dimension})" for r in it.itertuples()],
               f"{level_a} - {level_b}: group x item term (logits)",
               f"Items on which {level_a} and {level_b} differ most (latent scale)")]
    if len(pr):
        panels.append((pr, "latent_did", "latent_did_lo", "latent_did_hi",
                       [f"{r.item_1} vs {r.item_2} ({r.dimension}), P={r.p_opposite:.2f}" for r in pr.itertuples()],
                       f"pair difference in differences, {level_a} minus {level_b} (logits)",
                       f"Pairs most likely ordered oppositely (P: each group by > {delta:g} rating points)"))
    with paper_style():
        fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 1.2 + 0.28 * n), squeeze=False)
        for ax, (table, est, lo, hi, labels, xlabel, title) in zip(axes[0], panels, strict=True):
            y = np.arange(len(table))[::-1]
            ax.hlines(y, table[lo], table[hi], color="black", lw=1.2)
            ax.plot(table[est], y, "o", ms=4, color="black")
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_yticks(y, labels, fontsize=7)
            ax.set_xlabel(xlabel)
            ax.set_title(title)
        fig.tight_layout()
        return save_figure(fig, Path(path).with_suffix(""))


@dataclass(frozen=True)
class Disagreements:
    """Two groups' disagreement tables (:func:`disagreement_tables`) and what they were computed with."""

    attribute: str
    level_a: str
    level_b: str
    items: pd.DataFrame
    pairs: pd.DataFrame
    prob: float
    delta: float
    #: "passed", or the gate's note when the posterior is used under ``allow_bad``
    diagnostics: str

    @property
    def items_excluding_zero(self) -> int:
        """Items whose interval of the latent difference excludes 0."""
        return int(((self.items.latent_lo > 0) | (self.items.latent_hi < 0)).sum())

    @property
    def pairs_likely_opposite(self) -> int:
        """Pairs with ``p_opposite > 0.5``."""
        return int((self.pairs.p_opposite > 0.5).sum())

    def summary(self) -> list[str]:
        """What the tables say, in sentences (the command and the demo print them)."""
        lines = [f"{self.items_excluding_zero} of {len(self.items)} items' {self.prob:.0%} intervals of the latent "
                 "difference exclude 0."]
        if len(self.pairs):
            lines.append(f"{self.pairs_likely_opposite} of {len(self.pairs)} pairs more likely than not ordered "
                         f"oppositely (each group by > {self.delta:g} rating points).")
        else:
            lines.append("No prompt has two or more responses in this posterior, so there are no within-prompt "
                         "pairs: disagreement_pairs.csv is empty and the figure shows the items only.")
        return lines


def find_disagreements(idata, attribute: str, level_a: str, level_b: str, *,
                       dimensions: Sequence[str] | None = None, prob: float = 0.95, delta: float = DELTA,
                       suppress_small: bool = True, allow_bad: bool = False) -> Disagreements:
    """The items and pairs on which two levels of ``attribute`` differ most, behind the diagnostics gate.

    Raises :class:`InputError` for a posterior without group x item terms for ``attribute`` and, when
    ``suppress_small``, for a level with fewer raters than the privacy threshold (before any work);
    :class:`~pluralstats.errors.DiagnosticsError` for a posterior that did not pass its gate unless
    ``allow_bad``."""
    from pluralstats.models.contrasts import refuse_small
    from pluralstats.models.diagnostics import require_diagnostics

    check_interaction(idata, attribute)
    refuse_small(idata, attribute, [level_a, level_b], suppress_small)
    note = require_diagnostics(idata, allow_bad=allow_bad)
    items, pairs = disagreement_tables(idata, attribute, level_a, level_b, dimensions, prob, delta)
    return Disagreements(attribute, level_a, level_b, items, pairs, prob, delta, note or "passed")


def write_disagreements(result: Disagreements, out: str | Path, *, top: int = 20, inputs: Sequence[Path] = (),
                        options: dict | None = None) -> list[Path]:
    """``disagreement_items.csv``, ``disagreement_pairs.csv``, the figure and the manifest into ``out``; returns
    the files written. Each file is swapped in whole (:func:`~pluralstats.io.atomic_path`)."""
    from pluralstats.io import atomic_path, write_manifest

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in (("disagreement_items.csv", result.items), ("disagreement_pairs.csv", result.pairs)):
        with atomic_path(out / name) as tmp:
            frame.to_csv(tmp, index=False)
        written.append(out / name)
    written += plot_disagreements(result.items, result.pairs, result.level_a, result.level_b,
                                  out / "disagreements.png", top=top, delta=result.delta)
    write_manifest(out, "disagreements", inputs=list(inputs),
                   options={"groups": [result.level_a, result.level_b], "top": top, "delta": result.delta,
                            "prob": result.prob, **(options or {})},
                   extra={"diagnostics": result.diagnostics})
    return written


def disagreements_report(posterior: str | Path, groups: Sequence[str], out: str | Path, *, top: int = 20,
                         delta: float = DELTA, dimensions: Sequence[str] | None = None, prob: float = 0.95,
                         allow_bad: bool = False, suppress_small: bool = True) -> tuple[Disagreements, list[Path]]:
    """The ``disagreements`` command as one call: the posterior at ``posterior`` loaded, ``groups`` (two levels
    of one attribute with group x item terms) resolved, :func:`find_disagreements` (gated) and
    :func:`write_disagreements` into ``out``; returns the result and the files written."""
    from pluralstats.models import load_posterior

    from .group_comparison import resolve_groups

    idata = load_posterior(posterior)
    attribute, level_a, level_b = resolve_groups(idata, *groups)
    found = find_disagreements(idata, attribute, level_a, level_b, dimensions=dimensions, prob=prob, delta=delta,
                               suppress_small=suppress_small, allow_bad=allow_bad)
    figures = write_disagreements(found, out, top=top, inputs=[Path(posterior)],
                                  options={"dimensions": dimensions, "suppress_small": suppress_small})
    return found, figures
