"""The ``mace`` strategy: each response's label from MACE (Multi-Annotator Competence Estimation).

Ratings are categorical labels (the oriented, collapsed values ``1..S``); crowd-kit's
:class:`crowdkit.aggregation.MACE` models each rater as either copying the true label (with a learned
competence) or guessing from a rater-specific distribution, fitted by variational Bayes with restarts
seeded by ``seed``; a rater who often agrees with the others gets a high competence and counts more.
The label is the most probable value, ties (within 1e-9) going to the worst value as in ``majority``; the
better label is chosen with weight 1 (:class:`~pluralstats.prefs.strategies.Majority`'s pair rule).
"""

from __future__ import annotations

import numpy as np

from .evidence import aggregated_labels
from .strategies import Majority
from .strategy_registry import DimensionData


class Mace(Majority):
    """The ``mace`` strategy (see ``help``); needs crowd-kit."""

    name = "mace"
    help = ("MACE label of each response (per-rater competence vs. guessing, variational Bayes: competent raters "
            "count more); the better label is chosen, weight 1. Jury shares are not applied.")

    #: crowd-kit's defaults: the best of 10 variational fits (by likelihood) guards against a poor local optimum
    restarts: int = 10
    iterations: int = 50

    def item_scores(self, data: DimensionData, probs: np.ndarray) -> np.ndarray:
        """Each item's MACE label, the best of ``restarts`` fits seeded by the build's seed."""
        from crowdkit.aggregation import MACE  # imported when used: crowd-kit loads slowly

        return aggregated_labels(MACE(n_restarts=self.restarts, n_iter=self.iterations, random_state=data.seed), data)
