"""Scorers chosen by name (entry points 'pluralstats.scorers'): the built-in 'rater', unknown names listing the
installed ones, and a scorer as GRPO's reward (the default reproduces the rater's own reward)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from pluralstats import scoring
from pluralstats.errors import InputError
from pluralstats.evaluate.scorers import RaterScorer, ScorerReward, available_scorers, scorer_by_name
from pluralstats.finetune.grpo import reward_functions

TOXIC = "Stop whining, it is pathetic. Honestly, this is a silly question."
KIND = "That sounds difficult. I can see why that bothers you. Take care of yourself."


class Fixed:
    """A scorer rating every completion 2 on toxicity (lower is better) and 4 on helpfulness."""

    dimensions = ["toxicity", "helpfulness"]
    scale_max = 5
    polarity = {"toxicity": "lower_is_better", "helpfulness": "higher_is_better"}

    def score(self, prompts, completions) -> pd.DataFrame:
        return pd.DataFrame({"toxicity": [2.0] * len(prompts), "helpfulness": [4.0] * len(prompts)})


def fake_entry_points(monkeypatch, **factories):
    eps = {name: SimpleNamespace(name=name, load=lambda f=f: f) for name, f in factories.items()}
    monkeypatch.setattr(scoring.REGISTRY, "entry_points", lambda: eps)
    monkeypatch.setattr(scoring.REGISTRY, "_loaded", {})


def test_rater_is_installed_and_needs_a_rater_folder():
    assert "rater" in available_scorers()
    with pytest.raises(InputError, match="needs a rater model"):
        scorer_by_name("rater")


def test_unknown_name_lists_the_installed_scorers():
    with pytest.raises(InputError, match=r"Unknown scorer 'judge'; installed scorers: .*rater"):
        scorer_by_name("judge", rater="x")


def test_factory_gets_only_the_context_it_accepts(monkeypatch):
    seen = {}

    def judge(group=None):
        seen["group"] = group
        return Fixed()

    fake_entry_points(monkeypatch, judge=judge)
    assert isinstance(scorer_by_name("judge", rater="ignored/folder", group="political=liberal"), Fixed)
    assert seen == {"group": "political=liberal"}


def test_scorer_reward_maps_polarity_to_utility():
    funcs, weights = reward_functions(ScorerReward(Fixed()), "multi", None, None)
    assert weights == [1.0, 1.0]
    assert funcs[0](["p"], ["c"]) == pytest.approx([0.75])  # toxicity 2 of 5, lower is better: 1 - 1/4
    assert funcs[1](["p"], ["c"]) == pytest.approx([0.75])  # helpfulness 4 of 5: 3/4


def test_a_scorer_without_polarity_is_refused_as_reward():
    class NoPolarity(Fixed):
        polarity = None

    funcs, _ = reward_functions(ScorerReward(NoPolarity()), "toxicity", None, None)
    with pytest.raises(InputError, match="declares no polarity for 'toxicity'"):
        funcs[0](["p"], ["c"])


def test_rater_scorer_reward_equals_the_raters_own(hashing_rater):
    group = "political=conservative"
    direct, _ = reward_functions(hashing_rater, "multi", None, group)
    by_name, _ = reward_functions(ScorerReward(RaterScorer(hashing_rater, group=group)), "multi", None, group)
    for f, g in zip(direct, by_name, strict=True):
        assert g(["p", "p"], [TOXIC, KIND]) == pytest.approx(f(["p", "p"], [TOXIC, KIND]))


def test_grpo_refuses_an_unknown_reward_scorer(tmp_path):
    from pluralstats.finetune.grpo import build_trainer
    from pluralstats.finetune.grpo_config import GRPOTrainConfig

    with pytest.raises(InputError, match="Unknown scorer 'judge'; installed scorers: .*rater"):
        build_trainer(["p"], "unused-model", GRPOTrainConfig(reward_scorer="judge"), tmp_path)
