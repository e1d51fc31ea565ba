"""Options of the ``grpo`` plugin (each field's help is what ``finetune --method grpo --help`` prints)."""

from __future__ import annotations

from dataclasses import dataclass

from pluralstats.options import option, parse_weights

from .train_config import TrainConfig


@dataclass
class GRPOTrainConfig(TrainConfig):
    """GRPO rewarded by a rater model: one dimension or a weighted, polarity-aware mix, for a group."""

    rater: str | None = option(None, "Rater model folder (pluralstats fit-rater).")
    reward_scorer: str = option("rater", "The reward's scorer by name (entry points 'pluralstats.scorers'; "
                                         "rater: the --rater model).")
    objective: str = option("toxicity", "A dimension name, or multi (weights).")
    weights: dict[str, float] = option(None, "multi: dimension=weight pairs, e.g. toxicity=1,emotional_awareness=0.5.",
                                       parse=parse_weights, factory=dict)
    group: dict[str, str] | str | None = option(None, "Reward for this group's raters, e.g. political=liberal.")
    beta: float = option(0.0, "KL coefficient (TRL's default 0.0: no reference model).")
    num_generations: int = option(4, "Completions per prompt (the group of the relative advantage).")
    max_completion_length: int = option(32, "New tokens per completion.")
    temperature: float = option(1.0, "Sampling temperature of the completions.")
    thinking: str = option("auto", "Thinking markers: auto (from the chat template), off, or OPEN,CLOSE; the "
                                   "reward sees the answer only.")
