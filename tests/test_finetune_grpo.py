"""GRPO through TRL with the rater as reward: weights change and sampled completions' reward rises."""

from __future__ import annotations

import pytest

from pluralstats.errors import InputError
from pluralstats.finetune.grpo import GRPOPlugin, mean_sampled_reward, reward_functions
from pluralstats.finetune.grpo_config import GRPOTrainConfig
from tests.finetune_fixtures import max_change, parameters

TOXIC = "Stop whining, it is pathetic. Honestly, this is a silly question."
KIND = "That sounds difficult. I can see why that bothers you. Take care of yourself."


def test_reward_functions_single_and_multi(hashing_rater):
    funcs, weights = reward_functions(hashing_rater, "toxicity", None, None)
    assert [f.__name__ for f in funcs] == ["rater_toxicity"] and weights == [1.0]
    tox = funcs[0](["p", "p"], [TOXIC, KIND])
    assert tox[1] > tox[0]  # lower toxicity is better: higher reward
    chat = funcs[0]([[{"role": "user", "content": "p"}]], [[{"role": "assistant", "content": KIND}]])
    assert chat == pytest.approx([tox[1]])
    funcs, weights = reward_functions(hashing_rater, "multi", {"toxicity": 2, "emotional_awareness": 1},
                                      "political=conservative")
    assert [f.__name__ for f in funcs] == ["rater_toxicity", "rater_emotional_awareness"]
    assert weights == [2.0, 1.0]
    ea = funcs[1](["p", "p"], [TOXIC, KIND])
    assert ea[1] > ea[0]
    with pytest.raises(InputError, match="objective"):
        reward_functions(hashing_rater, "wit", None, None)
    with pytest.raises(InputError, match="weights"):
        reward_functions(hashing_rater, "multi", {"wit": 1.0}, None)


def test_grpo_changes_weights_and_raises_sampled_reward(tiny_dir, ft_pairs, hashing_rater, tmp_path):
    from transformers import AutoModelForCausalLM

    base_path, _ = tiny_dir
    prompts = list(ft_pairs.prompt.unique()[:16])
    before = mean_sampled_reward(base_path, prompts, hashing_rater, samples=4, max_new_tokens=16, seed=0)
    cfg = GRPOTrainConfig(max_steps=12, learning_rate=1e-2, batch_size=8, num_generations=4,
                          max_completion_length=16, device="cpu", seed=0, progress=False, logging_steps=4,
                          save_steps=1000)
    out = GRPOPlugin().train(prompts, str(base_path), cfg, tmp_path / "grpo", rater=hashing_rater)
    after = mean_sampled_reward(out, prompts, hashing_rater, samples=4, max_new_tokens=16, seed=0)
    base = AutoModelForCausalLM.from_pretrained(base_path)
    tuned = AutoModelForCausalLM.from_pretrained(out)
    assert max_change(parameters(base), parameters(tuned)) > 1e-3
    assert after > before + 0.03, (before, after)
