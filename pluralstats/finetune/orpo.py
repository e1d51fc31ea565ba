"""The ``orpo`` plugin: TRL's ORPOTrainer (``trl.experimental.orpo``) on a preference dataset.

ORPO needs no reference model: its loss is the chosen response's next-token loss plus ``beta`` times
the odds-ratio term ``-log sigmoid(log odds(chosen) - log odds(rejected))``. The pairs' ``weight``
column is not used (TRL's ORPO loss has no per-pair weighting hook); pairs are validated and
rendered exactly as for DPO.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from .orpo_config import ORPOTrainConfig
from .pair_datasets import pairs_dataset, prepare_pairs
from .trl_helpers import load_policy, lora_config, trl_arguments
from .trl_plugin import TRLPlugin


def build_trainer(data: Any, base_model: str, config: ORPOTrainConfig, work_dir: Path):
    """The configured (not yet run) TRL ORPOTrainer and tokenizer."""
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    model, tokenizer = load_policy(base_model, config)
    dataset = prepare_pairs(pairs_dataset(data), tokenizer).remove_columns("weight")
    args = ORPOConfig(**trl_arguments(config, work_dir), beta=config.beta, max_length=config.max_length,
                      max_completion_length=config.max_completion_length)
    trainer = ORPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                          peft_config=lora_config(config, model))
    return trainer, tokenizer


class ORPOPlugin(TRLPlugin):
    """Odds Ratio Preference Optimisation (TRL ORPOTrainer): no reference model."""

    name: ClassVar[str] = "orpo"
    requires: ClassVar[str] = "preferences"
    config_class: ClassVar[type[ORPOTrainConfig]] = ORPOTrainConfig

    def build_trainer(self, data: Any, base_model: str, config: ORPOTrainConfig, work_dir: Path):
        return build_trainer(data, base_model, config, work_dir)
