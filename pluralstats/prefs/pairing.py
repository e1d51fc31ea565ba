"""Pairs: responses to the same prompt are paired; the strategy picks chosen/rejected and the weight.

Each strategy's ``decide`` hook (:mod:`.strategy_registry`) applies one of the rules :func:`by_scores` and
:func:`preserve_rows` implement. Rules of the built-in strategies (exact), for two responses ``a``
and ``b`` of one prompt, with per-item scores ``s`` (the strategy's label, see :mod:`.evidence`) and
rater evidence ``E`` (combined over the objective, below):

* ``majority``, ``minority-veto``: the response with the larger score is chosen, weight 1; equal
  scores (within 1e-9) are a tie.
* ``mean``: the response with the larger mean score is chosen (``pairing="within"``: the one the
  raters' mean own difference favours); weight = ``E(c > r) / (E(c > r) + E(r > c))``, the share of
  decided rating comparisons that favour the chosen response (it can fall below 0.5 when a skewed
  distribution has the better mean but loses most comparisons; never 0); equal means are a tie.
* ``preserve``: one row ``a > b`` with weight ``E(a > b)`` when it is positive and one row ``b > a``
  with weight ``E(b > a)`` when it is positive, so disagreement survives as conflicting rows; the
  tied share ``1 - E(a > b) - E(b > a)`` is dropped; a pair with no decided comparison is a tie.
* ``posterior``: the response with the larger ``E`` (the predictive probability that a new rater of
  the group rates it better) is chosen; weight = ``E(c > r) / (E(c > r) + E(r > c))``, the
  probability that the chosen response is rated better given that the two are not rated equal;
  equal ``E`` are a tie.

Objective: a single dimension uses its own scores and evidence. ``multi`` with weights ``w_d >= 0``
uses ``s = sum_d w_d s_d / sum_d w_d`` and ``E = sum_d w_d E_d / sum_d w_d`` (scores and evidence are
already oriented by each dimension's polarity); a response enters only if it is rated on every
dimension with a positive weight. Ties are dropped and counted; every statistic is per (group,
dimension).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .evidence import TIE_TOL

PROBABILITY_TOL = 1e-9  # rounding allowance of a weight that is a probability
OUTPUT_COLUMNS = ["prompt", "chosen", "rejected", "weight", "dimension", "group", "strategy", "scale",
                  "language", "prompt_id", "chosen_item_id", "rejected_item_id"]


def candidate_pairs(items: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(a, b)``, ``a < b``, of every two items sharing a prompt (linear in pairs, not ratings)."""
    pos = pd.DataFrame({"prompt_id": items.prompt_id.to_numpy(), "pos": np.arange(len(items))})
    both = pos.merge(pos, on="prompt_id", suffixes=("_a", "_b"))
    both = both[both.pos_a < both.pos_b]
    return both.pos_a.to_numpy(), both.pos_b.to_numpy()


@dataclass
class Decision:
    """Output rows as positions into the item table, and what was dropped or conflicting."""

    chosen: np.ndarray
    rejected: np.ndarray
    weight: np.ndarray
    candidates: int
    ties: int
    conflicting: int


def as_probability(weight: np.ndarray) -> np.ndarray:
    """Weights in [0, 1]: sums of products of shares that add to 1 land a few ulps outside (1.0000000000000002).

    Anything further out than :data:`PROBABILITY_TOL` is a real error, not rounding, and raises.
    """
    outside = (weight < -PROBABILITY_TOL) | (weight > 1 + PROBABILITY_TOL)
    if outside.any():
        raise ValueError(f"pair weights outside [0, 1] beyond rounding: {weight[outside][:3]}")
    return np.clip(weight, 0.0, 1.0)


def _share(e_c: np.ndarray, e_r: np.ndarray) -> np.ndarray:
    total = e_c + e_r
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, e_c / total, 0.5)


def conflicts(e_ab: np.ndarray, e_ba: np.ndarray) -> int:
    """Candidate pairs with rater evidence both ways."""
    return int(((e_ab > TIE_TOL) & (e_ba > TIE_TOL)).sum())


def by_scores(a: np.ndarray, b: np.ndarray, e_ab: np.ndarray, e_ba: np.ndarray, diff: np.ndarray, *,
              unit_weight: bool) -> Decision:
    """The larger side of ``diff`` (``a``'s judgement minus ``b``'s) is chosen; ``|diff| <= 1e-9`` is a tie.

    Weight 1 (``unit_weight``: labels), else ``E(c > r) / (E(c > r) + E(r > c))``.
    """
    a_wins, b_wins = diff > TIE_TOL, diff < -TIE_TOL
    chosen = np.where(a_wins, a, b)[a_wins | b_wins]
    rejected = np.where(a_wins, b, a)[a_wins | b_wins]
    if unit_weight:
        weight = np.ones(len(chosen))
    else:
        e_c, e_r = np.where(a_wins, e_ab, e_ba), np.where(a_wins, e_ba, e_ab)
        weight = as_probability(_share(e_c, e_r)[a_wins | b_wins])
    return Decision(chosen, rejected, weight, len(a), int((~a_wins & ~b_wins).sum()), conflicts(e_ab, e_ba))


def preserve_rows(a: np.ndarray, b: np.ndarray, e_ab: np.ndarray, e_ba: np.ndarray) -> Decision:
    """The ``preserve`` rule: a row each way weighted by its evidence; no evidence either way is a tie."""
    fwd, bwd = e_ab > TIE_TOL, e_ba > TIE_TOL
    return Decision(np.concatenate([a[fwd], b[bwd]]), np.concatenate([b[fwd], a[bwd]]),
                    as_probability(np.concatenate([e_ab[fwd], e_ba[bwd]])), len(a),
                    int((~fwd & ~bwd).sum()), conflicts(e_ab, e_ba))


def assemble(decision: Decision, items: pd.DataFrame, *, dimension: str, group: str, strategy: str,
             scale: int) -> pd.DataFrame:
    """The output rows in TRL's preference form plus provenance, ordered by prompt then item ids."""
    c, r = items.iloc[decision.chosen], items.iloc[decision.rejected]
    n = len(decision.chosen)
    out = pd.DataFrame({
        "prompt": c.prompt.astype(str).to_numpy(),
        "chosen": c.response.astype(str).to_numpy(),
        "rejected": r.response.astype(str).to_numpy(),
        "weight": decision.weight.astype("float64"),
        "dimension": np.full(n, dimension, dtype=object),
        "group": np.full(n, group, dtype=object),
        "strategy": np.full(n, strategy, dtype=object),
        "scale": np.full(n, scale, dtype="int64"),
        "language": c.language.astype(str).to_numpy(),
        "prompt_id": c.prompt_id.astype(str).to_numpy(),
        "chosen_item_id": c.item_id.astype(str).to_numpy(),
        "rejected_item_id": r.item_id.astype(str).to_numpy(),
    })
    out = out.sort_values(["prompt_id", "chosen_item_id", "rejected_item_id"], kind="stable")
    return out.reset_index(drop=True)[OUTPUT_COLUMNS]
