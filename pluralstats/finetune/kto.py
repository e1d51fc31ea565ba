"""The ``kto`` plugin: TRL's KTOTrainer on unpaired feedback built straight from a group's ratings.

The data is a survey (a :class:`~pluralstats.survey.Survey` or a bundle folder), from which
:func:`pluralstats.prefs.unpaired.build_unpaired` labels each train-prompt response desirable or
undesirable for the configured group with the survey's ``positive_threshold`` per dimension
(polarity-aware), or an already built table with ``prompt, completion, label`` columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from pluralstats.errors import InputError

from .kto_config import KTOTrainConfig
from .pair_datasets import prepare_completions
from .trl_helpers import load_policy, lora_config, shared_dataset, trl_arguments
from .trl_plugin import TRLPlugin


def unpaired_frame(data: Any, config: KTOTrainConfig) -> pd.DataFrame:
    """``prompt, completion, label`` rows: built from a survey (or bundle path), or checked when given."""
    from pluralstats.prefs.unpaired import build_unpaired
    from pluralstats.survey import Survey, load_survey

    if isinstance(data, pd.DataFrame):
        missing = [c for c in ("prompt", "completion", "label") if c not in data.columns]
        if missing:
            raise InputError(f"Unpaired data lacks column(s) {', '.join(missing)}")
        return data
    survey = data if isinstance(data, Survey) else load_survey(data)
    groups = [g for g in (config.group or "").split("&") if g.strip()]
    return build_unpaired(survey, dimensions=[d.strip() for d in config.objective.split(",") if d.strip()],
                          groups=groups, eval_fraction=config.eval_fraction, seed=config.seed,
                          allow_small_groups=config.allow_small_groups)


def build_trainer(data: Any, base_model: str, config: KTOTrainConfig, work_dir: Path):
    """The configured (not yet run) TRL KTOTrainer and tokenizer."""
    from datasets import Dataset
    from trl import KTOConfig, KTOTrainer

    frame = unpaired_frame(data, config)
    model, tokenizer = load_policy(base_model, config)
    dataset = prepare_completions(Dataset.from_pandas(frame, preserve_index=False), tokenizer, {"label": bool})
    args = KTOConfig(**trl_arguments(config, work_dir), beta=config.beta, loss_type=config.loss_type,
                     desirable_weight=config.desirable_weight, undesirable_weight=config.undesirable_weight,
                     max_length=config.max_length, precompute_ref_log_probs=config.precompute_ref_log_probs)
    # TRL's KTOTrainer can read its rows in order (a SequentialSampler, for its in-batch KL pairs), which leaves
    # the seed without effect on training: the rows are shuffled here by the run's seed instead
    dataset = shared_dataset(dataset.shuffle(seed=config.seed).flatten_indices(), args, work_dir)
    trainer = KTOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=lora_config(config, model))
    return trainer, tokenizer


class KTOPlugin(TRLPlugin):
    """Kahneman-Tversky Optimisation (TRL KTOTrainer) on a group's desirable / undesirable responses."""

    name: ClassVar[str] = "kto"
    requires: ClassVar[str] = "ratings"
    config_class: ClassVar[type[KTOTrainConfig]] = KTOTrainConfig

    def build_trainer(self, data: Any, base_model: str, config: KTOTrainConfig, work_dir: Path):
        return build_trainer(data, base_model, config, work_dir)

    def log_extra(self, config: KTOTrainConfig) -> dict[str, Any]:
        return {"objective": config.objective, "group": config.group}
