"""The ``dpo`` plugin: TRL's DPOTrainer on a preference dataset, each pair's loss weighted by its ``weight``.

Pair weighting is exact and costs nothing extra: the policy's per-token log-probs of pair *i* are
passed through ``x * w_i + (x * (1 - w_i)).detach()``, which leaves every value (loss, metrics)
unchanged but multiplies pair *i*'s gradient by ``w_i``. For any DPO loss where a pair's loss
depends only on its own log-probs (sigmoid, hinge, IPO, ...), that is the gradient of
``mean_i(w_i * loss_i)``. Logged losses are the unweighted ones; ``pair_weight`` logs the batch mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from .common import checkpoint_dir, load_policy, lora_config, resume_from, save_final, trl_arguments
from .config import DPOTrainConfig
from .pairs import pairs_dataset, prepare_pairs


class _PairWeighted:
    """Call the model, then scale the gradient (not the value) of each pair's log-probs by its weight."""

    def __init__(self, model, weights):
        self.model, self.weights = model, weights

    def __call__(self, **kwargs):
        out = self.model(**kwargs)
        log_probs = out.get("log_probs")
        if log_probs is not None and log_probs.requires_grad:
            w = self.weights.to(log_probs.dtype).repeat(2)[:, None]  # rows: [chosen..., rejected...]
            out["log_probs"] = log_probs * w + (log_probs * (1 - w)).detach()
        return out


def make_trainer_class():
    """Build the DPOTrainer subclass lazily so importing this module does not import TRL."""
    from trl import DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    class WeightedCollator(DataCollatorForPreference):
        def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
            import torch

            batch = super().torch_call(examples)
            batch["weight"] = torch.tensor([float(e.get("weight", 1.0)) for e in examples])
            return batch

    class WeightedDPOTrainer(DPOTrainer):
        """DPOTrainer whose per-pair loss is weighted by the dataset's ``weight`` column."""

        def _set_signature_columns_if_needed(self):
            super()._set_signature_columns_if_needed()
            if "weight" not in self._signature_columns:
                self._signature_columns.append("weight")

        def compute_ref_log_probs(self, model, inputs):
            return super().compute_ref_log_probs(model, {k: v for k, v in inputs.items() if k != "weight"})

        def _compute_loss(self, model, inputs, return_outputs):
            weights = inputs.pop("weight", None)
            if weights is None:
                return super()._compute_loss(model, inputs, return_outputs)
            mode = "train" if self.model.training else "eval"
            self._metrics[mode]["pair_weight"].append(weights.float().mean().item())
            return super()._compute_loss(_PairWeighted(model, weights), inputs, return_outputs)

    return WeightedDPOTrainer, WeightedCollator


def build_trainer(data: Any, base_model: str, config: DPOTrainConfig, work_dir: Path):
    """The configured (not yet run) TRL trainer and tokenizer; also used by the benchmark."""
    from trl import DPOConfig

    model, tokenizer = load_policy(base_model, config)
    dataset = prepare_pairs(pairs_dataset(data), tokenizer)
    args = DPOConfig(**trl_arguments(config, work_dir), beta=config.beta, loss_type=[config.loss_type],
                     max_length=config.max_length, precompute_ref_log_probs=config.precompute_ref_log_probs)
    trainer_cls, collator_cls = make_trainer_class()
    collator = None
    if config.use_pair_weights:
        collator = collator_cls(pad_token_id=tokenizer.pad_token_id, max_length=config.max_length,
                                truncation_mode=args.truncation_mode)
    else:
        dataset = dataset.remove_columns("weight")
    trainer = trainer_cls(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                          data_collator=collator, peft_config=lora_config(config))
    return trainer, tokenizer


class DPOPlugin:
    """Direct Preference Optimisation (TRL DPOTrainer), with per-pair weights and optional LoRA."""

    name: ClassVar[str] = "dpo"
    requires: ClassVar[str] = "preferences"
    config_class: ClassVar[type[DPOTrainConfig]] = DPOTrainConfig

    def train(self, data: Any, base_model: str, config: DPOTrainConfig, out_dir: str | Path) -> Path:
        work = checkpoint_dir(out_dir)
        trainer, tokenizer = build_trainer(data, base_model, config, work)
        trainer.train(resume_from_checkpoint=resume_from(config, work))
        return save_final(trainer, tokenizer, out_dir, extra={"method": self.name, "base_model": base_model})
