"""Training configuration dataclasses shared by the fine-tuning plugins, and device resolution."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from pluralstats.errors import InputError


def _help(default: Any, text: str) -> Any:
    """A dataclass field with a default and the ``help`` that ``pluralstats plugins --options`` prints."""
    return field(default=default, metadata={"help": text})


@dataclass
class TrainConfig:
    """Options every plugin understands (the ``finetune`` command's common flags)."""

    epochs: float = _help(1.0, "Training epochs (max_steps > 0 overrides).")
    learning_rate: float = _help(5e-5, "Peak learning rate (AdamW, linear decay).")
    batch_size: int = _help(4, "Rows per process per step.")
    grad_accum: int = _help(1, "Gradient accumulation steps (global batch = processes x batch_size x grad_accum).")
    max_length: int = _help(256, "Longest prompt + completion in tokens.")
    seed: int = _help(0, "Seed of the data order and of sampling.")
    device: str = _help("auto", "auto (CUDA with bf16 when present), cpu, cuda, cuda:N or mps.")
    lora: bool = _help(False, "Train a LoRA adapter on the model's linear layers (merged at save).")
    lora_r: int = _help(16, "LoRA rank.")
    lora_alpha: int = _help(32, "LoRA scaling numerator (scale = lora_alpha / lora_r).")
    lora_dropout: float = _help(0.0, "Dropout on the LoRA branch.")
    resume: bool = _help(False, "Resume from the latest checkpoint in OUT.checkpoints.")
    max_steps: int = _help(-1, "Stop after this many optimiser steps; > 0 overrides epochs.")
    save_steps: int = _help(500, "Checkpoint every this many steps (for resume).")
    logging_steps: int = _help(10, "Log every this many steps (training_log.json).")
    warmup_ratio: float = _help(0.0, "Share of the steps with a linear learning-rate warm-up.")
    progress: bool = _help(True, "Show TRL's progress bar.")
    report_to: str = _help("none", "Experiment trackers TRL reports to (none, wandb, tensorboard, mlflow, ...).")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_options(cls, **options: Any) -> TrainConfig:
        """Build from keyword options, ignoring ``None`` and unknown keys (CLI convenience)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in known and v is not None})


@dataclass
class DPOTrainConfig(TrainConfig):
    """DPO: ``beta`` is the KL strength; ``use_pair_weights`` weights each pair's loss by its ``weight``."""

    beta: float = _help(0.1, "KL strength: higher keeps the policy nearer the reference.")
    loss_type: str = _help("sigmoid", "TRL DPO loss (sigmoid, hinge, ipo, ...); aot needs --no-pair-weights.")
    use_pair_weights: bool = _help(True, "Weight each pair's loss by its weight column.")
    precompute_ref_log_probs: bool = _help(
        True, "Reference log-probs computed once before training (no reference model kept in memory).")


@dataclass
class GRPOTrainConfig(TrainConfig):
    """GRPO rewarded by a rater model: one dimension or a weighted, polarity-aware mix, for a group."""

    rater: str | None = _help(None, "Rater model folder (pluralstats fit-rater).")
    reward_scorer: str = _help("rater", "The reward's scorer by name (entry points 'pluralstats.scorers'; "
                                        "rater: the --rater model).")
    objective: str = _help("toxicity", "A dimension name, or multi (weights).")
    weights: dict[str, float] = field(default_factory=dict,
                                      metadata={"help": "multi: dimension -> weight (the --weights option)."})
    group: dict[str, str] | str | None = _help(None, "Reward for this group's raters, e.g. political=liberal.")
    beta: float = _help(0.0, "KL coefficient (TRL's default 0.0: no reference model).")
    num_generations: int = _help(4, "Completions per prompt (the group of the relative advantage).")
    max_completion_length: int = _help(32, "New tokens per completion.")
    temperature: float = _help(1.0, "Sampling temperature of the completions.")
    thinking: str = _help("auto", "Thinking markers: auto (from the chat template), off, or OPEN,CLOSE; the "
                                  "reward sees the answer only.")


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


def _convert(name: str, text: str, hint: Any) -> Any:
    """``text`` as a value of the type ``hint`` (int, float, bool, str, or a union of them with None)."""
    import types
    import typing

    options = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
        else (hint,)
    if type(None) in options and text.strip().lower() in ("none", "null", ""):
        return None
    for option in options:
        if option is bool:
            low = text.strip().lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
        elif option in (int, float):
            try:
                return option(text)
            except ValueError:
                continue
        elif option is str:
            return text
    kinds = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise InputError(f"--set {name}={text}: expected {kinds}")


def settable_fields(cls: type[TrainConfig]) -> dict[str, Any]:
    """The fields of a config class that ``--set`` can give (scalar types), name -> type hint."""
    import typing

    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls) if typing.get_origin(hints[f.name]) is not dict}


def parse_overrides(cls: type[TrainConfig], items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["desirable_weight=1.5", ...]`` -> typed values for ``cls``'s fields (``-`` may stand for ``_``).

    An unknown key is an :class:`InputError` naming it and every valid key of the plugin's config.
    """
    valid = settable_fields(cls)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise InputError(f"--set '{item}' must be key=value")
        if key not in valid:
            raise InputError(f"--set: unknown key '{key}' for {cls.__name__}; valid keys: {', '.join(sorted(valid))}")
        out[key] = _convert(key, value, valid[key])
    return out


def describe_fields(cls: type[TrainConfig]) -> list[dict[str, str]]:
    """One row per field: name, type, default, help (the ``metadata["help"]`` the config classes carry)."""
    import typing

    hints = typing.get_type_hints(cls)
    rows = []
    for f in fields(cls):
        default = f.default_factory() if f.default_factory is not MISSING else f.default  # type: ignore[misc]
        hint = hints[f.name]
        shown = hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")
        rows.append({"name": f.name, "type": shown,
                     "default": repr(default), "help": f.metadata.get("help", "")})
    return rows
