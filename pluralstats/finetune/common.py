"""What the TRL-based plugins share: loading a policy, TRL argument mapping, LoRA, resume, atomic save."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pluralstats.io import atomic_path
from pluralstats.readers import loading_model

from .config import TrainConfig, resolve_device


def checkpoint_dir(out_dir: str | Path) -> Path:
    """Where a run keeps its intermediate checkpoints (for ``--resume``): ``<out>.checkpoints``."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + ".checkpoints")


def load_policy(base_model: str, config: TrainConfig):
    """Load a causal LM and its tokenizer from a local dir or hub id; make sure a pad token exists."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device, bf16 = resolve_device(config.device)
    # bf16 weights only under LoRA (the base is frozen); full fine-tuning keeps fp32 master weights and
    # trains under bf16 autocast (``bf16=True`` in the TRL arguments)
    dtype = torch.bfloat16 if bf16 and config.lora else torch.float32
    with loading_model(base_model):
        tokenizer = AutoTokenizer.from_pretrained(base_model, padding_side="left")
        model = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(device), tokenizer


def lora_config(config: TrainConfig):
    """A peft LoRA config over all linear layers, or ``None`` without ``--lora``."""
    if not config.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def trl_arguments(config: TrainConfig, work_dir: Path) -> dict[str, Any]:
    """The TRL/transformers TrainingArguments shared by every plugin."""
    device, bf16 = resolve_device(config.device)
    return {
        "output_dir": str(work_dir),
        "num_train_epochs": config.epochs,
        "max_steps": config.max_steps,
        "learning_rate": config.learning_rate,
        "per_device_train_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.grad_accum,
        "warmup_steps": config.warmup_ratio,
        "seed": config.seed,
        "data_seed": config.seed,
        "logging_steps": config.logging_steps,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": 2,
        "bf16": bf16,
        "use_cpu": device == "cpu",
        "report_to": "none",
        "disable_tqdm": not config.progress,
        "gradient_checkpointing": False,
        "dataloader_num_workers": 0,
    }


def resume_from(config: TrainConfig, work_dir: Path) -> str | None:
    """The latest checkpoint to resume from, when ``--resume`` is set and one exists."""
    if not config.resume:
        return None
    found = sorted(work_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(found[-1]) if found else None


def save_final(trainer, tokenizer, out_dir: str | Path, *, keep_checkpoints: bool = False,
               extra: dict[str, Any] | None = None) -> Path:
    """Save the trained model (LoRA merged) and tokenizer atomically, with the training log."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    out_dir = Path(out_dir)
    with atomic_path(out_dir, is_dir=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        log = {"log_history": trainer.state.log_history, "global_step": trainer.state.global_step,
               **(extra or {})}
        (tmp / "training_log.json").write_text(json.dumps(log, indent=2, default=str) + "\n")
    if not keep_checkpoints:
        shutil.rmtree(checkpoint_dir(out_dir), ignore_errors=True)
    return out_dir
