"""Options of the ``orpo`` plugin (each field's ``help`` is what ``pluralstats plugins --options orpo`` prints)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .train_config import TrainConfig


@dataclass
class ORPOTrainConfig(TrainConfig):
    """ORPO on preference pairs: next-token loss on the chosen response plus an odds-ratio preference term."""

    beta: float = field(default=0.1, metadata={"help": "Weight of the odds-ratio term (the paper's lambda)."})
    max_completion_length: int | None = field(
        default=None, metadata={"help": "Longest completion in tokens (none: only max_length applies)."})
