"""The scorer contract and registry: how anything that rates completions is named, found and used as a reward.

A scorer rates (prompt, completion) pairs on the survey's dimensions and scale (:class:`Scorer`). Scorers
are registered by name in the entry-point group ``pluralstats.scorers`` (the built-in ``rater`` is
:func:`pluralstats.evaluate.scorers.rater_scorer`) and made by :func:`scorer_by_name`, which loads the
factory only when asked. Fine-tuning (GRPO's reward, :class:`ScorerReward`) and evaluation both resolve
scorers here, so neither imports the other's modules: the registry is the seam between them.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.registry import Registry

GROUP = "pluralstats.scorers"


@runtime_checkable
class Scorer(Protocol):
    """Rates completions: one column per dimension, expected rating on 1..scale_max."""

    dimensions: list[str]
    scale_max: int

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> pd.DataFrame:
        """One row per (prompt, completion), in the order given; a column per dimension in ``dimensions``."""
        ...


def _factory(obj: object):
    if not callable(obj):
        raise TypeError(f"{obj!r} is not a scorer factory (a callable returning a Scorer)")
    return obj


#: scorer factories by name (the registry has no run-time registration of its own use: a scorer is made per run)
REGISTRY = Registry(GROUP, "scorer", _factory, unknown="installed scorers: {names}")
available_scorers = REGISTRY.available
unknown_scorer = REGISTRY.unknown_message


def scorer_by_name(name: str, **context) -> Scorer:
    """The scorer registered as ``name``, made by its factory with the entries of ``context`` it accepts
    (a factory taking ``**kwargs`` gets them all); unknown names raise :class:`InputError` listing the
    installed ones."""
    factory = REGISTRY.get(name)
    params = inspect.signature(factory).parameters.values()
    if not any(p.kind == p.VAR_KEYWORD for p in params):
        context = {k: v for k, v in context.items() if k in {p.name for p in params}}
    return factory(**context)


class ScorerReward:
    """A scorer seen as GRPO's reward model: ``predict`` scores a batch, ``utility_from`` maps one dimension's
    score on ``1..scale_max`` to [0, 1] with its polarity (1 = best). A dimension without a declared polarity
    is refused: guessing "higher is better" for a harm dimension would reward harm."""

    def __init__(self, scorer: Scorer):
        self.scorer = scorer
        self.dimensions = list(scorer.dimensions)
        self.scale_max = int(scorer.scale_max)
        self.polarity = dict(getattr(scorer, "polarity", None) or {})

    def predict(self, prompts: Sequence[str], completions: Sequence[str], group: object = None) -> pd.DataFrame:
        """The scorer's ratings; ``group`` is ignored: the scorer was made for the group (its factory's ``group``)."""
        return self.scorer.score(prompts, completions)

    def utility_from(self, predictions: pd.DataFrame, dimension: str) -> np.ndarray:
        """The dimension's predicted ratings mapped to 0..1, 1 the best by the scorer's declared polarity;
        InputError if it declares none."""
        if self.polarity.get(dimension) not in ("higher_is_better", "lower_is_better"):
            raise InputError(f"Scorer {type(self.scorer).__name__} declares no polarity for '{dimension}' "
                             "(its polarity attribute: higher_is_better or lower_is_better); it cannot be a reward")
        scaled = (predictions[dimension].to_numpy() - 1) / (self.scale_max - 1)
        return scaled if self.polarity[dimension] == "higher_is_better" else 1 - scaled
