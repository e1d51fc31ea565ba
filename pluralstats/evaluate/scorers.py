"""Scorers: anything that rates (prompt, completion) pairs on the survey's dimensions and scale.

The default is the rater model fitted on the survey (``pluralstats.evaluate.rater``), so tuned
models are judged in the survey's own units. Other scorers (an LLM judge, a classifier) plug in
through the small :class:`Scorer` protocol, by an import path (``package.module:Class``) or by name:
a factory registered in the entry-point group ``pluralstats.scorers`` (the built-in ``rater`` is
:func:`rater_scorer`). Experiment configs (``[evaluate] scorer``) and GRPO's reward (``reward_scorer``)
choose a scorer by name (:func:`scorer_by_name`); the factory gets those of ``rater`` (a saved rater
folder) and ``group`` it accepts. A scorer used as a reward declares each dimension's ``polarity``
(``higher_is_better`` / ``lower_is_better``) so that 1 always means best (:class:`ScorerReward`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from pluralstats.errors import InputError
from pluralstats.scoring import (  # noqa: F401 - re-exported: the registry seen from the evaluation
    GROUP,
    Scorer,
    ScorerReward,
    available_scorers,
    scorer_by_name,
    unknown_scorer,
)


class RaterScorer:
    """The survey-fitted rater model as a scorer (optionally for one group's raters)."""

    def __init__(self, rater, group: Mapping[str, str] | str | None = None):
        self.rater = rater
        self.group = group
        self.dimensions = list(getattr(rater, "dimensions", []))
        self.scale_max = int(getattr(rater, "scale_max", 5))
        self.polarity = dict(getattr(rater, "polarity", {}))

    @classmethod
    def load(cls, path: str | Path, group: Mapping[str, str] | str | None = None) -> RaterScorer:
        """A scorer from a saved rater model, predicting as ``group`` (default: all raters)."""
        from pluralstats.evaluate.rater import RaterModel

        return cls(RaterModel.load(path), group=group)

    @classmethod
    def fit(cls, survey, split: pd.Series | None = None, seed: int = 0, group: str | None = None) -> RaterScorer:
        """Fit on the training prompts only, so the scorer never saw an evaluation prompt's ratings."""
        from pluralstats.evaluate.rater import RaterModel

        return cls(RaterModel.fit(survey, group=group, split=split, seed=seed), group=group)

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> pd.DataFrame:
        """The rater model's predicted ratings, one row per completion, in the order given."""
        kwargs = {"group": self.group} if self.group else {}
        scores = self.rater.predict(list(prompts), list(completions), **kwargs)
        if not self.dimensions:
            self.dimensions = list(scores.columns)
        return scores.reset_index(drop=True)


def rater_scorer(rater: str | Path | None = None, group: Mapping[str, str] | str | None = None) -> RaterScorer:
    """The ``rater`` scorer: the saved rater model folder ``rater`` (made by ``pluralstats fit-rater``)."""
    if not rater:
        raise InputError("The 'rater' scorer needs a rater model: pass --rater DIR (made by `pluralstats fit-rater`)")
    return RaterScorer.load(rater, group=group)


def load_scorer(spec: str | Path, **kwargs) -> Scorer:
    """A scorer from a saved rater folder, ``module:Class`` or an entry-point name."""
    text = str(spec)
    if Path(text).is_dir():
        return RaterScorer.load(text, **kwargs)
    if ":" in text:
        module, _, name = text.partition(":")
        factory = getattr(importlib.import_module(module), name)
        return factory(**kwargs)
    if text in available_scorers():
        return scorer_by_name(text, **kwargs)
    raise InputError(f"{unknown_scorer(text)} (or give a saved rater folder or module:Class)")


def score_completions(scorer: Scorer, completions: pd.DataFrame, batch_size: int = 256,
                      progress=None, label: str = "") -> pd.DataFrame:
    """Long table: the completion's keys and text plus ``dimension`` and ``score`` (on the survey scale)."""
    parts = []
    task = progress.add_task(f"score {label}".strip(), total=len(completions)) if progress else None
    for start in range(0, len(completions), batch_size):
        chunk = completions.iloc[start:start + batch_size]
        scored = scorer.score(chunk.prompt.tolist(), chunk.completion.tolist())
        if len(scored) != len(chunk):
            raise ValueError(f"scorer returned {len(scored)} rows for {len(chunk)} completions")
        parts.append(pd.concat([chunk.reset_index(drop=True), scored.reset_index(drop=True)], axis=1))
        if progress:
            progress.advance(task, len(chunk))
    wide = pd.concat(parts, ignore_index=True)
    dims = [d for d in scorer.dimensions if d in wide.columns] or \
        [c for c in wide.columns if c not in completions.columns]
    keys = [c for c in completions.columns if c != "prompt"]  # the completion's text is kept
    long = wide.melt(id_vars=keys, value_vars=dims, var_name="dimension", value_name="score")
    order = [k for k in keys if k != "completion"]
    return long.sort_values([*order, "dimension"]).reset_index(drop=True)
