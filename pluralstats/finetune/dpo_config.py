"""Options of the ``dpo`` plugin (each field's help is what ``finetune --method dpo --help`` prints)."""

from __future__ import annotations

from dataclasses import dataclass

from pluralstats.options import option

from .train_config import TrainConfig


@dataclass
class DPOTrainConfig(TrainConfig):
    """DPO: ``beta`` is the KL strength; ``use_pair_weights`` weights each pair's loss by its ``weight``."""

    beta: float = option(0.1, "KL strength: higher keeps the policy nearer the reference.")
    loss_type: str = option("sigmoid", "TRL DPO loss (sigmoid, hinge, ipo, ...); aot needs --no-pair-weights.")
    use_pair_weights: bool = option(True, "Weight each pair's loss by its weight column.",
                                    flags=("--pair-weights/--no-pair-weights",))
    precompute_ref_log_probs: bool = option(
        True, "Reference log-probs computed once before training (no reference model kept in memory).")
