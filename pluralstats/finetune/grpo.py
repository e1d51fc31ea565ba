"""The ``grpo`` plugin: TRL's GRPOTrainer rewarded by the survey-fitted rater model.

Each objective dimension is one TRL reward function returning the rater's polarity-aware score in
[0, 1] (1 = best: lowest toxicity / stereotypical bias, highest emotional awareness, sensitivity,
helpfulness) for the chosen group's raters; a multi-objective run passes several with TRL's
``reward_weights``, so every dimension's reward is logged separately. The rater encodes each batch
of completions once, whatever the number of dimensions. With a reasoning model (thinking markers in
the chat template, or ``thinking="OPEN,CLOSE"``) the rater sees only each completion's final answer
(:func:`pluralstats.chat.split_thinking`; an unclosed segment is an empty answer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pluralstats.errors import InputError

from .grpo_config import GRPOTrainConfig
from .trl_helpers import load_policy, lora_config, trl_arguments
from .trl_plugin import TRLPlugin


def _text(value: Any) -> str:
    """Plain text of a prompt/completion in either TRL format (string or list of chat messages)."""
    if isinstance(value, str):
        return value
    return " ".join(str(m.get("content", "")) for m in value if m.get("role") != "system")


class RaterScores:
    """Caches the rater's utility per dimension for the last batch of (prompt, completion) texts."""

    def __init__(self, rater, group: dict[str, str] | str | None = None, markers=None):
        self.rater, self.group, self.markers = rater, group, markers
        self._key: tuple | None = None
        self._scores: dict[str, list[float]] = {}

    def __call__(self, dimension: str, prompts: list[Any], completions: list[Any]) -> list[float]:
        p, c = [_text(x) for x in prompts], [_text(x) for x in completions]
        if self.markers is not None:
            from pluralstats.chat import split_thinking

            m = self.markers
            c = [split_thinking(x, m.open, m.close, opened=m.opened)[1] for x in c]
        key = (tuple(p), tuple(c))
        if key != self._key:
            pred = self.rater.predict(p, c, group=self.group)
            self._scores = {d: self.rater.utility_from(pred, d).tolist() for d in pred.columns}
            self._key = key
        return self._scores[dimension]


def reward_functions(rater, objective: str, weights: dict[str, float] | None,
                     group: dict[str, str] | str | None, markers=None) -> tuple[list, list[float]]:
    """TRL reward callables (one per dimension) and their weights for an objective; with thinking
    ``markers`` (a :class:`~pluralstats.chat.ThinkingMarkers`) they score the answer only."""
    if objective == "multi":
        weights = weights or {d: 1.0 for d in rater.dimensions}
    elif objective in rater.dimensions:
        weights = {objective: 1.0}
    else:
        raise InputError(f"Unknown objective '{objective}'; use one of {', '.join(rater.dimensions)} or multi")
    unknown = set(weights) - set(rater.dimensions)
    if unknown:
        raise InputError(f"Unknown dimensions in --weights: {sorted(unknown)}; known: {', '.join(rater.dimensions)}")
    scores = RaterScores(rater, group, markers)
    funcs = []
    for dim in weights:
        def reward(prompts, completions, _dim=dim, **_):
            return scores(_dim, prompts, completions)
        reward.__name__ = f"rater_{dim}"
        funcs.append(reward)
    return funcs, [float(w) for w in weights.values()]


def prompt_dataset(data: Any, tokenizer):
    """Unique prompts from a preference parquet/DataFrame/Dataset or a list of strings, in TRL's format."""
    from datasets import Dataset

    from pluralstats.prefs.dataset import load_preferences

    if isinstance(data, (list, tuple)):
        prompts = [str(p) for p in data]
    else:
        prompts = list(dict.fromkeys(load_preferences(data, provenance=False)["prompt"]))
    if getattr(tokenizer, "chat_template", None):
        rows = [[{"role": "user", "content": p}] for p in prompts]
    else:
        from .tiny import render

        rows = [render(tokenizer, p) for p in prompts]
    return Dataset.from_dict({"prompt": rows})


def build_trainer(data: Any, base_model: str, config: GRPOTrainConfig, work_dir: Path, rater=None):
    """The configured TRL GRPOTrainer and tokenizer (``rater``: a RaterModel, else the scorer named by
    ``config.reward_scorer``, made for ``config.rater`` and ``config.group``)."""
    from trl import GRPOConfig, GRPOTrainer

    from pluralstats.scoring import ScorerReward, scorer_by_name

    if rater is None:
        rater = ScorerReward(scorer_by_name(config.reward_scorer, rater=config.rater, group=config.group))
    from pluralstats.chat import markers_for

    model, tokenizer = load_policy(base_model, config)
    funcs, weights = reward_functions(rater, config.objective, config.weights, config.group,
                                      markers_for(tokenizer, config.thinking))
    dataset = prompt_dataset(data, tokenizer)
    args = GRPOConfig(**trl_arguments(config, work_dir), beta=config.beta, num_generations=config.num_generations,
                      max_completion_length=config.max_completion_length, temperature=config.temperature,
                      reward_weights=weights, log_completions=False)
    trainer = GRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=dataset,
                          processing_class=tokenizer, peft_config=lora_config(config, model))
    return trainer, tokenizer


class GRPOPlugin(TRLPlugin):
    """Group Relative Policy Optimisation (TRL GRPOTrainer) with the rater model as reward.

    ``train(..., rater=RaterModel)`` uses that rater instead of loading ``config.rater``.
    """

    name: ClassVar[str] = "grpo"
    requires: ClassVar[str] = "reward"
    config_class: ClassVar[type[GRPOTrainConfig]] = GRPOTrainConfig

    def build_trainer(self, data: Any, base_model: str, config: GRPOTrainConfig, work_dir: Path, rater=None):
        return build_trainer(data, base_model, config, work_dir, rater=rater)

    def log_extra(self, config: GRPOTrainConfig) -> dict[str, Any]:
        return {"objective": config.objective, "group": config.group}


def mean_sampled_reward(model_dir: str | Path, prompts: list[str], rater, objective: str = "toxicity",
                        weights: dict[str, float] | None = None, group: Any = None, *, samples: int = 4,
                        max_new_tokens: int = 32, seed: int = 0) -> float:
    """Mean reward (as GRPO sees it) of ``samples`` sampled completions per prompt from a checkpoint."""
    from .tiny import generate

    funcs, w = reward_functions(rater, objective, weights, group)
    repeated = [p for p in prompts for _ in range(samples)]
    completions = generate(model_dir, repeated, max_new_tokens=max_new_tokens, seed=seed)
    total = sum(wi * sum(f(repeated, completions)) / len(repeated) for f, wi in zip(funcs, w, strict=True))
    return total / (sum(abs(x) for x in w) or 1.0)
