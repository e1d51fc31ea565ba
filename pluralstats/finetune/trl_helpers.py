"""What the TRL-based plugins share: loading a policy, TRL argument mapping, LoRA, resume, atomic save."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pluralstats.errors import InputError
from pluralstats.io import atomic_path
from pluralstats.readers import loading_model

from .train_config import TrainConfig, resolve_device

if TYPE_CHECKING:
    from rich.console import Console


def checkpoint_dir(out_dir: str | Path) -> Path:
    """Where a run keeps its intermediate checkpoints (for ``--resume``): ``<out>.checkpoints``."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + ".checkpoints")


def policy_dtype(config: TrainConfig):
    """bf16 weights only under LoRA on a bf16-capable GPU (the base is frozen); full fine-tuning keeps fp32
    master weights and trains under bf16 autocast there (``bf16=True`` in :func:`trl_arguments`)."""
    import torch

    _, bf16 = resolve_device(config.device)
    return torch.bfloat16 if bf16 and config.lora else torch.float32


def load_policy(base_model: str, config: TrainConfig):
    """Load a causal LM and its tokenizer from a local dir or hub id; make sure a pad token exists."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device, _ = resolve_device(config.device)
    dtype = policy_dtype(config)
    with loading_model(base_model):
        tokenizer = AutoTokenizer.from_pretrained(base_model, padding_side="left")
        model = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(device), tokenizer


def lora_targets(model) -> list[str]:
    """The names of the model's linear layers (``nn.Linear``, or GPT-2-style ``Conv1D``) that LoRA adapts,
    read from the model's own modules: every such layer's short name except the output head's
    (``q_proj ... down_proj`` for Llama, ``c_attn c_proj c_fc`` for GPT-2, ``query_key_value ...`` for others)."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names: dict[str, None] = {}
    for full_name, module in model.named_modules():
        linear = isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D"
        if linear and module is not head:
            names[full_name.rsplit(".", 1)[-1]] = None
    if not names:
        raise InputError(f"{type(model).__name__} has no linear layer for LoRA to adapt")
    return list(names)


def lora_config(config: TrainConfig, model=None):
    """A peft LoRA config over the model's linear layers (:func:`lora_targets`), or ``None`` without ``--lora``.

    Without ``model``, peft's own ``"all-linear"`` selection (the same layers, found when the adapter is added).
    """
    if not config.lora:
        return None
    from peft import LoraConfig

    targets = lora_targets(model) if model is not None else "all-linear"
    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")


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
        # transformers takes one tracker name or a list, not a comma-separated string
        "report_to": [t.strip() for t in config.report_to.split(",")] if "," in config.report_to else config.report_to,
        "disable_tqdm": not config.progress,
        "dataloader_num_workers": 0,
    }


def resume_from(config: TrainConfig, work_dir: Path) -> str | None:
    """The latest checkpoint to resume from, when ``--resume`` is set and one exists."""
    if not config.resume:
        return None
    found = sorted(work_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(found[-1]) if found else None


def save_final(trainer, tokenizer, out_dir: str | Path, *, extra: dict[str, Any] | None = None) -> Path:
    """Save the trained model (LoRA merged) and tokenizer atomically, with the training log, then remove the
    run's checkpoints (``checkpoint_dir``).

    In a data-parallel run only the main process writes; the others wait until it has finished.
    """
    accelerator = trainer.accelerator
    out_dir = Path(out_dir)
    accelerator.wait_for_everyone()
    # under DeepSpeed ZeRO-3 each process holds a shard: every process takes part in gathering the weights
    state_dict = accelerator.get_state_dict(trainer.model) if getattr(trainer, "is_deepspeed_enabled", False) \
        else None
    if accelerator.is_main_process:
        model = accelerator.unwrap_model(trainer.model)
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()
            state_dict = None  # the merged model's own weights (LoRA is for DDP / ZeRO-2, not ZeRO-3)
        with atomic_path(out_dir, is_dir=True) as tmp:
            model.save_pretrained(tmp, state_dict=state_dict)
            tokenizer.save_pretrained(tmp)
            log = {"log_history": trainer.state.log_history, "global_step": trainer.state.global_step,
                   "processes": accelerator.num_processes, **(extra or {})}
            (tmp / "training_log.json").write_text(json.dumps(log, indent=2, default=str) + "\n")
        shutil.rmtree(checkpoint_dir(out_dir), ignore_errors=True)
    accelerator.wait_for_everyone()
    return out_dir


def shared_dataset(dataset, args, work_dir: Path):
    """In a multi-process run, the dataset backed by files in ``work_dir`` (seen by every process), so that
    TRL's on-disk caches (DPO's and KTO's precomputed reference log-probs: written by the main process,
    read by the others) are shared; in a one-process run the dataset unchanged.

    An in-memory dataset would give each process its own temporary cache folder, and the other processes
    would look for the main process's cache file in theirs.
    """
    if args.world_size == 1:
        return dataset
    from datasets import load_from_disk

    path = Path(work_dir) / "train_dataset"
    with args.main_process_first(local=True, desc="sharing the training data"):
        if args.process_index == 0:
            shutil.rmtree(path, ignore_errors=True)
            dataset.save_to_disk(str(path))
    return load_from_disk(str(path))


#: a preference loss at ln 2 means the policy has not separated chosen from rejected (DPO's sigmoid loss at 0 margin)
LN2 = 0.6931
NEAR_LN2 = 0.02
MIN_REWARD_ACCURACY = 0.55


def training_warnings(checkpoint: str | Path, *, loss_at_zero_margin: float = LN2) -> list[str]:
    """Signs that a preference run barely trained, read from its ``training_log.json``: a final logged loss
    within 0.02 of ``loss_at_zero_margin`` (ln 2 for DPO's sigmoid loss; ln 2 times the mean pair weight when
    pairs are weighted), the loss of a policy that cannot tell chosen from rejected, or a reward accuracy at or
    below 0.55 averaged over the last three logged steps (one step's batch is too noisy). Empty for runs that
    log no reward accuracy (SFT, GRPO) or that trained."""
    path = Path(checkpoint) / "training_log.json"
    if not path.exists():
        return []
    history = json.loads(path.read_text()).get("log_history", [])
    losses = [h["loss"] for h in history if isinstance(h.get("loss"), (int, float))]
    accuracies = [h["rewards/accuracies"] for h in history if isinstance(h.get("rewards/accuracies"), (int, float))]
    out = []
    if losses and accuracies and abs(losses[-1] - loss_at_zero_margin) < NEAR_LN2:
        out.append(f"the final training loss {losses[-1]:.3f} is near {loss_at_zero_margin:.3f}, its value when the "
                   "model cannot separate chosen from rejected responses (train longer, raise the learning rate, "
                   "or check the pairs)")
    recent = float(sum(accuracies[-3:]) / len(accuracies[-3:])) if accuracies else None
    if recent is not None and recent <= MIN_REWARD_ACCURACY:
        out.append(f"the reward accuracy of the last logged steps is {recent:.2f}, at most {MIN_REWARD_ACCURACY}: "
                   "the model prefers the chosen response hardly more often than chance (with conflicting pairs, "
                   "as --strategy preserve keeps them, this is expected)")
    return out


def quiet_libraries() -> None:
    """Hide the libraries' own progress bars and info logs (dataset maps, shard writing, deprecation chatter):
    pluralstats shows one progress view and compact log lines instead."""
    import os
    import warnings

    import datasets
    import transformers

    # TRL's own bars (reference log-probs, generation) are plain tqdm, which honours this switch
    os.environ["TQDM_DISABLE"] = "1"
    # transformers 5 renamed gradient checkpointing; TRL still reads the old attribute on every run, and nothing
    # a user sets changes that: the warning is noise in every fine-tuning log
    warnings.filterwarnings("ignore", message=r"`(is_)?gradient_checkpointing` is deprecated", category=FutureWarning)
    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


#: what a compact training line shows, from TRL's log keys
LOG_FIELDS = {"loss": "loss", "rewards/accuracies": "reward acc", "rewards/margins": "margin",
              "reward": "reward", "kl": "kl"}


def compact_line(step: int, max_steps: int, logs: dict) -> str:
    """``step 10/60  loss 0.579  reward acc 0.74  margin 0.31``: one readable line per logged step."""
    parts = [f"step {step}/{max_steps}"]
    for key, label in LOG_FIELDS.items():
        value = logs.get(key)
        if isinstance(value, (int, float)):
            parts.append(f"{label} {value:.3g}")
    return "  ".join(parts)


def log_lines_callback(emit):
    """A TrainerCallback that hands :func:`compact_line` of every logged training step to ``emit``."""
    from transformers import TrainerCallback

    class LogLines(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                emit(compact_line(state.global_step, state.max_steps, logs))

    return LogLines()


#: about how many compact lines a run prints above its progress bar when ``line_every`` is not given
LINES_PER_RUN = 20


def training_progress_callback(console: Console, *, line_every: int | None = None):
    """A TrainerCallback that shows one training run on ``console``.

    On a terminal: one rich progress bar (steps done / total, elapsed, ETA) with the :func:`compact_line` of
    every ``line_every``-th logged step printed above it (default: about :data:`LINES_PER_RUN` lines a run).
    Anywhere else (a pipe, a log file, CI): the plain compact line of every logged step, exactly as
    :func:`log_lines_callback` prints them, since scripts and tests read those lines.

    The returned callback has ``close()``: TRL calls ``on_train_end`` only when training succeeds, so the caller
    closes it when training stops on an exception, or the terminal stays inside the live display.
    """
    if not console.is_terminal:
        return log_lines_callback(console.print)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from transformers import TrainerCallback

    class ProgressBar(TrainerCallback):
        def __init__(self) -> None:
            self.progress: Progress | None = None
            self.task: Any = None
            self.every = line_every
            self.logged = 0

        def _open(self, args, state) -> Progress:
            if self.progress is None:
                self.progress = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                                         TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                         console=console)
                self.progress.start()
                # a resumed run starts at its checkpoint's step, not at 0
                self.task = self.progress.add_task("training", total=state.max_steps or None,
                                                   completed=state.global_step)
                if self.every is None:
                    logged = (state.max_steps or 0) / max(int(getattr(args, "logging_steps", 1) or 1), 1)
                    self.every = max(1, -(-int(logged) // LINES_PER_RUN))
            return self.progress

        def on_train_begin(self, args, state, control, **kwargs):
            self._open(args, state)

        def on_step_end(self, args, state, control, **kwargs):
            self._open(args, state).update(self.task, completed=state.global_step, total=state.max_steps or None)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not (logs and "loss" in logs):
                return
            progress = self._open(args, state)
            progress.update(self.task, completed=state.global_step)
            self.logged += 1
            # the last step's line always shows: it is the one the run ends on
            if self.logged % (self.every or 1) == 0 or state.global_step >= state.max_steps > 0:
                progress.console.print(compact_line(state.global_step, state.max_steps, logs))

        def on_train_end(self, args, state, control, **kwargs):
            self.close()

        def close(self) -> None:
            """Stop the live display (the finished bar stays on the terminal); calling it twice is harmless."""
            if self.progress is not None:
                self.progress.stop()
                self.progress = None

    return ProgressBar()
