"""Find fine-tuning plugins: entry points in group ``pluralstats.finetune`` plus run-time registrations
(:class:`~pluralstats.registry.Registry`; the registry hands out plugin classes)."""

from __future__ import annotations

from typing import Any

from pluralstats.registry import Registry

from .protocol import FinetunePlugin

GROUP = "pluralstats.finetune"


def _check(cls: Any) -> type[FinetunePlugin]:
    for attr in ("name", "requires", "config_class", "train"):
        if not isinstance(cls, type) or not hasattr(cls, attr):
            raise TypeError(f"{getattr(cls, '__name__', cls)!r} is not a fine-tuning plugin class: it has no "
                            f"'{attr}'")
    if cls.requires not in ("preferences", "reward", "ratings"):
        raise TypeError(f"{cls.__name__}.requires must be 'preferences', 'reward' or 'ratings', not {cls.requires!r}")
    return cls


REGISTRY: Registry[type[FinetunePlugin]] = Registry(GROUP, "fine-tuning method", _check,
                                                     unknown="known methods: {names}")
register_plugin = REGISTRY.register
unregister_plugin = REGISTRY.unregister
available_plugins = REGISTRY.available
get_plugin = REGISTRY.get


def describe_plugins() -> list[dict[str, str]]:
    """One row per plugin: name, what it requires, where it comes from (for ``pluralstats plugins``)."""
    return [{**row, "source": REGISTRY.source(row["name"])}
            for row in REGISTRY.describe(lambda cls: {"requires": cls.requires}, failed="requires")]
