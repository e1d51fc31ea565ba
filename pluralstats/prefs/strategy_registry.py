"""Find preference strategies: entry points in group ``pluralstats.strategies`` plus run-time registrations.

A strategy is a class (or an instance) with a ``name``, a one-line ``help`` and the hooks the builder
(:func:`pluralstats.prefs.build_preferences`) calls once per objective dimension; :class:`Strategy` gives
every hook a default, so a new strategy overrides only what it changes:

* ``distributions(data)``: the oriented rating distributions (``(n_items, S)``; the posterior strategy
  gives a :class:`~pluralstats.prefs.predictive.RaterMixture`, whose draws and mixture raters it computes in
  blocks);
* ``across_evidence(probs, a, b)``: ``E(a > b)``, ``E(b > a)`` for candidate pairs (``pairing="across"``);
* ``item_scores(data, probs)``: a per-item judgement to compare, or ``None`` to compare evidence only;
* ``pair_scores(data, probs, mean_diff)``: the scores of each candidate pair's two sides;
* ``decide(a, b, e_ab, e_ba, s_a, s_b)``: the pair rule (:mod:`.pairing`): by default the larger score is
  chosen, with weight 1 (``unit_weight``) or the share of decided comparisons favouring it.

A strategy's own settings are the fields of its ``Options`` dataclass (each with a default and a
``metadata["help"]``, e.g. made with :func:`pluralstats.options.option`): ``build_preferences(...,
my_option=3)``, ``prefs --set my_option=3`` and an experiment config's ``[prefs]`` table reach them, and
``pluralstats plugins --options NAME`` lists them; the builder hands the filled instance to every hook as
``data.options`` after ``check_options(options, survey)`` has refused values that cannot work.

Adding a strategy is one module plus one entry point in ``pyproject.toml``::

    [project.entry-points."pluralstats.strategies"]
    my-rule = "mypackage.my_rule:MyRule"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from pluralstats.options import check_values
from pluralstats.registry import Registry

from .evidence import PAIRINGS, distributions, evidence
from .pairing import Decision, by_scores

GROUP = "pluralstats.strategies"


@dataclass(frozen=True)
class DimensionData:
    """What a strategy may use to judge the responses on one objective dimension."""

    survey: Any  # the pluralstats.survey.Survey
    frame: pd.DataFrame  # the selected raters' ratings (weight ``w``, ``member`` index into the pool)
    ratings: pd.DataFrame  # every rater's ratings on the objective and the prompts used
    items: pd.DataFrame  # the responses judged, in the order of ``index``
    index: pd.Index  # their item ids
    dimension: str
    scale: int
    cuts: Sequence[int]
    sign: int  # +1 higher is better, -1 lower is better
    pool: Any  # the pluralstats.prefs.pools.Pool of raters
    pairing: str
    seed: int
    options: Any  # the strategy's ``Options`` instance
    posterior: Any = None  # the loaded posterior, for strategies with ``needs_posterior``
    probability_fn: Any = None


@dataclass(frozen=True)
class NoOptions:
    """A strategy without settings of its own."""


class Strategy:
    """Base of a preference strategy: empirical distributions, evidence across ratings, no item scores."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    #: the builder loads (and gates) a fitted posterior and judges items rated by anyone, not only the pool
    needs_posterior: ClassVar[bool] = False
    pairings: ClassVar[tuple[str, ...]] = PAIRINGS
    #: every pair decided by scores has weight 1 (labels); otherwise the share of decided comparisons
    unit_weight: ClassVar[bool] = False
    #: the strategy's own settings: a dataclass whose fields have defaults and help
    Options: ClassVar[type] = NoOptions

    def make_options(self, **values: Any) -> Any:
        """The ``Options`` instance from keyword values (None: the default); an unknown key is an InputError
        naming the strategy's options."""
        return self.Options(**check_values(self.Options, values, f"Strategy '{self.name}'"))

    def check_options(self, options: Any, survey: Any) -> None:
        """Refuse settings that cannot work on ``survey`` (an :class:`~pluralstats.errors.InputError`); the base
        accepts any."""

    def distributions(self, data: DimensionData) -> np.ndarray:
        """Each item's empirical rating distribution from ``data.frame``, collapsed to the scale and oriented."""
        return distributions(data.frame, data.index, data.dimension, data.scale, data.cuts, data.sign)

    def across_evidence(self, probs: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each pair, the evidence that ``a`` is rated better than ``b`` and the reverse."""
        return evidence(probs[a], probs[b])

    def item_scores(self, data: DimensionData, probs: np.ndarray) -> np.ndarray | None:
        """A score per item, or None (the base: ``pair_scores`` then gives none either)."""
        return None

    def pair_scores(self, data: DimensionData, probs: np.ndarray, a: np.ndarray, b: np.ndarray,
                    mean_diff: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
        """Scores of the two sides of each candidate pair (``mean_diff``: the raters' own mean differences
        ``o_a - o_b`` with ``pairing="within"``, else None)."""
        scores = self.item_scores(data, probs)
        return None if scores is None else (scores[a], scores[b])

    def decide(self, a: np.ndarray, b: np.ndarray, e_ab: np.ndarray, e_ba: np.ndarray, s_a: np.ndarray | None,
               s_b: np.ndarray | None) -> Decision:
        """Which side of each pair is chosen, and its weight, from the two sides' score difference."""
        return by_scores(a, b, e_ab, e_ba, s_a - s_b, unit_weight=self.unit_weight)


def _check(obj: Any) -> Strategy:
    strategy = obj() if isinstance(obj, type) else obj
    for attr in ("name", "help", "decide", "distributions", "pair_scores"):
        if not hasattr(strategy, attr):
            raise TypeError(f"{obj!r} is not a preference strategy: it has no '{attr}'")
    return strategy


REGISTRY: Registry[Strategy] = Registry(GROUP, "strategy", _check, unknown="use one of {names}")
register_strategy = REGISTRY.register
unregister_strategy = REGISTRY.unregister
available_strategies = REGISTRY.available
get_strategy = REGISTRY.get


def describe_strategies() -> list[dict[str, str]]:
    """One row per strategy: name and help (an unloadable third-party strategy says why, not hiding others)."""
    return REGISTRY.describe(lambda strategy: {"help": strategy.help})
