"""Options of the ``sft`` plugin (each field's ``help`` is what ``pluralstats plugins --options sft`` prints)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .train_config import TrainConfig


@dataclass
class SFTTrainConfig(TrainConfig):
    """Supervised fine-tuning on the preferred (``chosen``) responses of a preference set."""

    deduplicate: bool = field(
        default=True,
        metadata={"help": "Train once on each (prompt, chosen) pair; off: a response chosen in k pairs counts k "
                          "times."})
    completion_only_loss: bool = field(
        default=True, metadata={"help": "Loss on the response tokens only (not the prompt's)."})
