"""Training configuration dataclasses shared by the fine-tuning plugins, and device resolution."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from pluralstats.errors import InputError


@dataclass
class TrainConfig:
    """Options every plugin understands (the ``finetune`` command's common flags)."""

    epochs: float = 1.0
    learning_rate: float = 5e-5
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 256
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    resume: bool = False
    max_steps: int = -1  # > 0 overrides epochs
    save_steps: int = 500
    logging_steps: int = 10
    warmup_ratio: float = 0.0
    progress: bool = True

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

    beta: float = 0.1
    loss_type: str = "sigmoid"
    use_pair_weights: bool = True
    precompute_ref_log_probs: bool = True


@dataclass
class GRPOTrainConfig(TrainConfig):
    """GRPO rewarded by a rater model: one dimension or a weighted, polarity-aware mix, for a group."""

    rater: str | None = None  # RaterModel directory
    objective: str = "toxicity"  # a dimension name, or "multi"
    weights: dict[str, float] = field(default_factory=dict)  # multi: dimension -> weight
    group: dict[str, str] | str | None = None  # {"political": "liberal"} or "political=liberal"
    beta: float = 0.0  # KL coefficient (TRL's default 0.0: no reference model)
    num_generations: int = 4
    max_completion_length: int = 32
    temperature: float = 1.0
    thinking: str = "auto"  # thinking markers: "auto" (from the chat template), "off", or "OPEN,CLOSE"


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
        rows.append({"name": f.name, "type": str(hints[f.name]).replace("typing.", ""),
                     "default": repr(default), "help": f.metadata.get("help", "")})
    return rows
