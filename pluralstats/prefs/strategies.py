"""The built-in strategies as registry entries (rules: :mod:`.evidence`, :mod:`.pairing`, :mod:`.predictive`).

Each is registered in ``pyproject.toml`` under ``pluralstats.strategies``, like any third-party strategy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pluralstats.errors import InputError
from pluralstats.options import option

from . import predictive as post
from .evidence import harmful, majority_labels, mean_labels
from .pairing import Decision, by_scores, preserve_rows
from .strategy_registry import DimensionData, Strategy


class Majority(Strategy):
    """The ``majority`` strategy (see ``help``)."""

    name = "majority"
    help = "Plurality label of each response (ties: the worst tied value); the better label is chosen, weight 1."
    unit_weight = True

    def item_scores(self, data: DimensionData, probs: np.ndarray) -> np.ndarray:
        """Each item's plurality label (oriented; ties: the worst tied value)."""
        return majority_labels(probs).astype(float)


@dataclass(frozen=True)
class VetoOptions:
    """The ``minority-veto`` strategy's settings."""

    veto_share: float | None = option(None, "Share of raters (overall or in any group) that makes a response "
                                            "harmful; None: any rater.")
    veto_dimensions: list[str] | None = option(None, "The veto dimensions; None: every lower-is-better "
                                                           "(harm) dimension.")


class MinorityVeto(Majority):
    """The ``minority-veto`` strategy (see ``help``)."""

    name = "minority-veto"
    help = ("Majority, except that a response flagged harmful by the veto share of raters (overall or in any "
            "group) gets the worst label on a veto dimension.")
    Options = VetoOptions

    def check_options(self, options: VetoOptions, survey) -> None:
        """The share in (0, 1]; veto dimensions among the survey's lower-is-better ones."""
        if options.veto_share is not None and not 0 < options.veto_share <= 1:
            raise InputError(f"veto share must be in (0, 1], got {options.veto_share}")
        lower = _harm_dimensions(survey)
        wrong = [d for d in options.veto_dimensions or () if d not in lower]
        if wrong:
            raise InputError(f"Veto dimensions must be lower-is-better (harm) dimensions {lower}; got {wrong}")

    def item_scores(self, data: DimensionData, probs: np.ndarray) -> np.ndarray:
        """Majority labels, with the worst label (1) for items flagged harmful when the dimension is vetoed."""
        labels = super().item_scores(data, probs)
        vetoed = data.options.veto_dimensions
        if data.dimension not in (_harm_dimensions(data.survey) if vetoed is None else vetoed):
            return labels
        harm = harmful(data.frame, data.survey, data.index, data.dimension, data.cuts, data.options.veto_share)
        return np.where(harm, 1.0, labels)


def _harm_dimensions(survey) -> list[str]:
    """The survey's lower-is-better dimensions."""
    return [d for d in survey.dimensions if survey.config.dimensions[d].sign < 0]


class Mean(Strategy):
    """The ``mean`` strategy (see ``help``)."""

    name = "mean"
    help = ("Weighted mean rating (within pairing: the raters' mean own difference); weight = share of decided "
            "rating comparisons favouring the chosen response.")

    def item_scores(self, data: DimensionData, probs: np.ndarray) -> np.ndarray:
        """Each item's weighted mean oriented rating."""
        return mean_labels(probs)

    def pair_scores(self, data: DimensionData, probs: np.ndarray, a: np.ndarray, b: np.ndarray,
                    mean_diff: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Within pairing: the raters' own mean difference against 0; across: the items' mean ratings."""
        if mean_diff is not None:  # within pairing: the pair is judged by the raters' own differences
            return mean_diff, np.zeros(len(a))
        return super().pair_scores(data, probs, a, b, mean_diff)


class Preserve(Strategy):
    """The ``preserve`` strategy (see ``help``)."""

    name = "preserve"
    help = "A row each way weighted by its rater evidence, so disagreement survives as conflicting rows."

    def decide(self, a: np.ndarray, b: np.ndarray, e_ab: np.ndarray, e_ba: np.ndarray, s_a: np.ndarray | None,
               s_b: np.ndarray | None) -> Decision:
        """A row each way, each weighted by its evidence (``preserve_rows``)."""
        return preserve_rows(a, b, e_ab, e_ba)


@dataclass(frozen=True)
class PosteriorOptions:
    """The ``posterior`` strategy's settings."""

    max_draws: int | None = option(None, "Posterior draws used (an evenly spread subsample, seeded); None: all.")


class Posterior(Strategy):
    """The ``posterior`` strategy (see ``help``)."""

    name = "posterior"
    help = ("The fitted rating model's predictive probability that a new rater of the group rates one response "
            "better (needs --posterior).")
    needs_posterior = True
    pairings = ("across",)  # the model's new rater has no observed 'own two ratings' to pair within
    Options = PosteriorOptions

    def check_options(self, options: PosteriorOptions, survey) -> None:
        """At least one draw."""
        if options.max_draws is not None and options.max_draws < 1:
            raise InputError(f"max_draws must be at least 1, got {options.max_draws}")

    def distributions(self, data: DimensionData) -> post.RaterMixture:
        """Per draw, the pool's new rater as a mixture of raters (:mod:`.predictive`), from the fitted model."""
        return post.distributions(data.posterior, data.pool, data.dimension, list(data.index),
                                  data.survey.config.scale_max, data.scale, data.cuts, data.sign,
                                  probability_fn=data.probability_fn, max_draws=data.options.max_draws, seed=data.seed)

    def across_evidence(self, probs: post.RaterMixture, a: np.ndarray,
                        b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The probability that one new rater of the pool rates ``a`` above ``b`` (and the reverse), averaged over
        the draws (the posterior predictive probabilities; one rater effect shared by the pair)."""
        return probs.evidence(a, b)

    def decide(self, a: np.ndarray, b: np.ndarray, e_ab: np.ndarray, e_ba: np.ndarray, s_a: np.ndarray | None,
               s_b: np.ndarray | None) -> Decision:
        """The side with more evidence is chosen, weighted by its share of the two evidences (not a unit weight)."""
        return by_scores(a, b, e_ab, e_ba, e_ab - e_ba, unit_weight=False)
