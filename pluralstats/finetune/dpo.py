"""The ``dpo`` plugin: TRL's DPOTrainer on a preference dataset, each pair's loss weighted by its ``weight``.

Pair weights enter through the per-sequence weighting hook of TRL's DPO loss (the hook WPO uses:
``per_sequence_loss *= chosen_weight * rejected_weight``, the weights being constants): the model
wrapper sets the chosen row's weight to ``w_i`` and the rejected row's to 1, so for every loss type
with a per-pair loss (sigmoid, hinge, IPO, ...) the optimised **and logged** loss is
``mean_i(w_i * loss_i)`` and its gradient is exactly that objective's (not renormalised by the
batch's weight sum, so a batch of low-weight pairs moves the model less). ``pair_weight`` logs the
batch mean weight. The ``aot`` losses rank pairs across the batch, so they have no per-pair loss to
weight: with pair weights on they are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pluralstats.errors import InputError

from .dpo_config import DPOTrainConfig
from .pair_datasets import pairs_dataset, prepare_pairs
from .trl_helpers import load_policy, lora_config, shared_dataset, trl_arguments
from .trl_plugin import TRLPlugin

UNWEIGHTABLE_LOSSES = ("aot", "aot_unpaired")


class _PairWeighted:
    """Call the model and add the ``log_sum_sq_probs`` output from which TRL's DPO loss takes its
    per-sequence weights, chosen so that pair *i*'s weight is ``w_i``.

    TRL computes, without gradient, ``weight = exp(mean over completion tokens of (log_probs -
    log_sum_sq_probs))`` per row and multiplies each pair's loss by ``weight(chosen) * weight(rejected)``.
    Setting ``log_sum_sq_probs = log_probs - log(w_i)`` on the chosen row and ``= log_probs`` on the
    rejected row makes that product ``w_i``, whatever the completion's length.
    """

    def __init__(self, model, weights):
        self.model, self.weights = model, weights

    def __call__(self, **kwargs):
        import torch

        out = self.model(**kwargs)
        log_probs = out["log_probs"].detach()
        log_w = torch.log(self.weights.to(log_probs.device, log_probs.dtype))
        shift = torch.cat([log_w, torch.zeros_like(log_w)])[:, None]  # rows: [chosen..., rejected...]
        out["log_sum_sq_probs"] = log_probs - shift
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
            self.use_weighting = True  # TRL's per-sequence weighting hook, fed by _PairWeighted
            try:
                result = super()._compute_loss(_PairWeighted(model, weights), inputs, return_outputs)
            finally:
                self.use_weighting = False
            return result

    return WeightedDPOTrainer, WeightedCollator


def build_trainer(data: Any, base_model: str, config: DPOTrainConfig, work_dir: Path):
    """The configured (not yet run) TRL trainer and tokenizer; also used by the benchmark."""
    from trl import DPOConfig

    if config.use_pair_weights and config.loss_type in UNWEIGHTABLE_LOSSES:
        raise InputError(f"DPO loss '{config.loss_type}' has no per-pair loss to weight; "
                         "pass --no-pair-weights or another loss type")
    model, tokenizer = load_policy(base_model, config)
    dataset = prepare_pairs(pairs_dataset(data), tokenizer)
    args = DPOConfig(**trl_arguments(config, work_dir), beta=config.beta, loss_type=[config.loss_type],
                     max_length=config.max_length, precompute_ref_log_probs=config.precompute_ref_log_probs)
    dataset = shared_dataset(dataset, args, work_dir)
    trainer_cls, collator_cls = make_trainer_class()
    collator = None
    if config.use_pair_weights:
        collator = collator_cls(pad_token_id=tokenizer.pad_token_id, max_length=config.max_length,
                                truncation_mode=args.truncation_mode)
    else:
        dataset = dataset.remove_columns("weight")
    trainer = trainer_cls(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                          data_collator=collator, peft_config=lora_config(config, model))
    return trainer, tokenizer


class DPOPlugin(TRLPlugin):
    """Direct Preference Optimisation (TRL DPOTrainer), with per-pair weights and optional LoRA."""

    name: ClassVar[str] = "dpo"
    requires: ClassVar[str] = "preferences"
    config_class: ClassVar[type[DPOTrainConfig]] = DPOTrainConfig

    def build_trainer(self, data: Any, base_model: str, config: DPOTrainConfig, work_dir: Path):
        return build_trainer(data, base_model, config, work_dir)
