"""Options of the ``kto`` plugin (each field's ``help`` is what ``pluralstats plugins --options kto`` prints)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .train_config import TrainConfig


@dataclass
class KTOTrainConfig(TrainConfig):
    """KTO on unpaired feedback: each response desirable or undesirable by a group's own ratings."""

    beta: float = field(default=0.1, metadata={"help": "KL strength: higher keeps the policy nearer the reference."})
    desirable_weight: float = field(
        default=1.0, metadata={"help": "Factor on the desirable responses' loss (to balance unequal counts)."})
    undesirable_weight: float = field(
        default=1.0, metadata={"help": "Factor on the undesirable responses' loss (to balance unequal counts)."})
    loss_type: str = field(default="kto", metadata={"help": "TRL KTO loss: kto or apo_zero_unpaired."})
    objective: str = field(
        default="toxicity",
        metadata={"help": "Dimension(s) judged, comma-separated; a response is desirable when good on all."})
    group: str | None = field(
        default=None,
        metadata={"help": "Whose ratings label the responses: conditions joined by '&' "
                          "(political=liberal&gender=female); none: all raters."})
    eval_fraction: float = field(default=0.2, metadata={"help": "Held-out prompt share (never trained on)."})
    allow_small_groups: bool = field(
        default=False, metadata={"help": "Train on a group smaller than the survey's min_group_size."})
    precompute_ref_log_probs: bool = field(
        default=True, metadata={"help": "Reference log-probs computed once before training (no reference model "
                                        "kept in memory)."})
