"""The ``dawid-skene`` strategy: each response's label from the Dawid-Skene model of the group's raters.

Ratings are categorical labels (the oriented, collapsed values ``1..S``); crowd-kit's
:class:`crowdkit.aggregation.DawidSkene` estimates, by EM, one confusion matrix per rater (how often a
rater gives each label when the true label is each value) and each response's posterior label
probabilities, so a rater who agrees with the others counts more than one who does not. The label is the
most probable value, ties (within 1e-9) going to the worst value as in ``majority``; the better label is
chosen with weight 1 (:class:`~pluralstats.prefs.strategies.Majority`'s pair rule).
"""

from __future__ import annotations

import numpy as np

from .evidence import aggregated_labels
from .strategies import Majority
from .strategy_registry import DimensionData


class DawidSkene(Majority):
    """The ``dawid-skene`` strategy (see ``help``); needs crowd-kit."""

    name = "dawid-skene"
    help = ("Dawid-Skene label of each response (per-rater confusion matrices by EM: reliable raters count "
            "more); the better label is chosen, weight 1. Jury shares are not applied.")

    def item_scores(self, data: DimensionData, probs: np.ndarray) -> np.ndarray:
        """Each item's Dawid-Skene label (EM, at most 100 iterations)."""
        from crowdkit.aggregation import DawidSkene as Model  # imported when used: crowd-kit loads slowly

        return aggregated_labels(Model(n_iter=100, tol=1e-5), data)
