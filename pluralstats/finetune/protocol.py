"""The fine-tuning plugin protocol.

A plugin is a class with a ``name``, what it ``requires`` (a preference dataset, a reward
function, or a survey's ratings: ``"ratings"``), a ``config_class`` (a
:class:`~pluralstats.finetune.train_config.TrainConfig` subclass) and
``train(data, base_model, config, out_dir) -> Path``: a checkpoint directory written with
``save_pretrained`` (tokenizer included) that ``AutoModelForCausalLM.from_pretrained`` reloads.

Plugins register under the entry-point group ``pluralstats.finetune`` (the built-ins do too), or at
run time with :func:`pluralstats.finetune.plugin_registry.register_plugin`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from .train_config import TrainConfig

Requirement = Literal["preferences", "reward", "ratings"]


@runtime_checkable
class FinetunePlugin(Protocol):
    """What the registry and the ``finetune`` command expect of a plugin class."""

    name: ClassVar[str]
    requires: ClassVar[Requirement]
    config_class: ClassVar[type[TrainConfig]]

    def train(self, data: Any, base_model: str, config: TrainConfig, out_dir: str | Path) -> Path:
        """Train ``base_model`` (a local path or hub id) on ``data`` and return the checkpoint dir."""
        ...
