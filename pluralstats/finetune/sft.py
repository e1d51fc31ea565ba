"""The ``sft`` plugin: TRL's SFTTrainer on each group's preferred responses (a preference set's ``chosen``).

The preference set already encodes whose judgement counts (group, jury, strategy), so SFT on its
``chosen`` column imitates the responses that group prefers. Rows are ``prompt, completion`` in the
conversational form when the tokenizer has a chat template; the loss is on the response tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from .pair_datasets import pairs_dataset, prepare_completions
from .sft_config import SFTTrainConfig
from .trl_helpers import load_policy, lora_config, trl_arguments
from .trl_plugin import TRLPlugin


def chosen_dataset(data: Any, deduplicate: bool = True):
    """``prompt, completion`` rows from a preference set's chosen responses (a ``datasets.Dataset``)."""
    from datasets import Dataset

    frame = pairs_dataset(data).to_pandas()[["prompt", "chosen"]].rename(columns={"chosen": "completion"})
    if deduplicate:
        frame = frame.drop_duplicates()
    return Dataset.from_pandas(frame.reset_index(drop=True), preserve_index=False)


def build_trainer(data: Any, base_model: str, config: SFTTrainConfig, work_dir: Path):
    """The configured (not yet run) TRL SFTTrainer and tokenizer."""
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = load_policy(base_model, config)
    dataset = prepare_completions(chosen_dataset(data, config.deduplicate), tokenizer)
    args = SFTConfig(**trl_arguments(config, work_dir), max_length=config.max_length,
                     completion_only_loss=config.completion_only_loss)
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=lora_config(config, model))
    return trainer, tokenizer


class SFTPlugin(TRLPlugin):
    """Supervised fine-tuning (TRL SFTTrainer) on the chosen responses of a preference set."""

    name: ClassVar[str] = "sft"
    requires: ClassVar[str] = "preferences"
    config_class: ClassVar[type[SFTTrainConfig]] = SFTTrainConfig

    def build_trainer(self, data: Any, base_model: str, config: SFTTrainConfig, work_dir: Path):
        return build_trainer(data, base_model, config, work_dir)
