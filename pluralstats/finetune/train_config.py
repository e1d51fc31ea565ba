"""The options every fine-tuning plugin understands (:class:`TrainConfig`; each plugin's own config subclasses it
in a module beside the plugin), and device resolution. Each field's type, default and help generate the
``finetune`` command's options and the experiment configs' ``[train]`` keys (:mod:`pluralstats.options`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from pluralstats.errors import InputError
from pluralstats.options import option


@dataclass
class TrainConfig:
    """Options every plugin understands (the ``finetune`` command's common flags)."""

    epochs: float = option(1.0, "Training epochs (max_steps > 0 overrides).")
    learning_rate: float = option(5e-5, "Peak learning rate (AdamW, linear decay).", flags=("--lr",))
    batch_size: int = option(4, "Rows per process per step.")
    grad_accum: int = option(1, "Gradient accumulation steps (global batch = processes x batch_size x grad_accum).")
    max_length: int = option(256, "Longest prompt + completion in tokens.")
    seed: int = option(0, "Seed of the data order and of sampling.")
    device: str = option("auto", "auto (CUDA with bf16 when present), cpu, cuda, cuda:N or mps.")
    lora: bool = option(False, "Train a LoRA adapter on the model's linear layers (merged at save).")
    lora_r: int = option(16, "LoRA rank.")
    lora_alpha: int = option(32, "LoRA scaling numerator (scale = lora_alpha / lora_r).")
    lora_dropout: float = option(0.0, "Dropout on the LoRA branch.")
    resume: bool = option(False, "Resume from the latest checkpoint in OUT.checkpoints.")
    max_steps: int = option(-1, "Stop after this many optimiser steps; > 0 overrides epochs.")
    save_steps: int = option(500, "Checkpoint every this many steps (for resume).")
    logging_steps: int = option(10, "Log every this many steps (training_log.json).")
    warmup_ratio: float = option(0.0, "Share of the steps with a linear learning-rate warm-up.")
    progress: bool = option(True, "Show TRL's progress bar.")
    report_to: str = option("none", "Experiment trackers TRL reports to (none, wandb, tensorboard, mlflow, ...).")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_options(cls, **options: Any) -> TrainConfig:
        """Build from keyword options, ignoring ``None`` and unknown keys (CLI convenience)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in known and v is not None})


def resolve_device(device: str = "auto") -> tuple[str, bool]:
    """``auto`` -> ("cuda", bf16 if supported) when a GPU is visible, else ("cpu", False)."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {device} requested but no CUDA device is visible")
        return device, bool(torch.cuda.is_bf16_supported())
    if device not in ("cpu", "mps"):
        raise InputError(f"Unknown device '{device}'; use auto, cpu, cuda, cuda:N or mps")
    return device, False
