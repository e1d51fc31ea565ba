"""Find fine-tuning plugins: entry points in group ``pluralstats.finetune`` plus run-time registrations."""

from __future__ import annotations

from importlib import metadata

from pluralstats.errors import InputError

from .base import FinetunePlugin

GROUP = "pluralstats.finetune"
_RUNTIME: dict[str, type[FinetunePlugin]] = {}


def register_plugin(cls: type[FinetunePlugin]) -> type[FinetunePlugin]:
    """Register a plugin class by its ``name`` (usable as a decorator); it wins over an entry point."""
    for attr in ("name", "requires", "config_class", "train"):
        if not hasattr(cls, attr):
            raise TypeError(f"{cls.__name__} is not a fine-tuning plugin: it has no '{attr}'")
    if cls.requires not in ("preferences", "reward", "ratings"):
        raise TypeError(f"{cls.__name__}.requires must be 'preferences', 'reward' or 'ratings', not {cls.requires!r}")
    _RUNTIME[cls.name] = cls
    return cls


def unregister_plugin(name: str) -> None:
    _RUNTIME.pop(name, None)


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=GROUP)}


def available_plugins() -> list[str]:
    """Names of every installed or registered plugin, sorted."""
    return sorted(set(_entry_points()) | set(_RUNTIME))


def get_plugin(name: str) -> type[FinetunePlugin]:
    """The plugin class called ``name``; unknown names raise :class:`InputError` listing the known ones."""
    if name in _RUNTIME:
        return _RUNTIME[name]
    eps = _entry_points()
    if name not in eps:
        raise InputError(f"Unknown fine-tuning method '{name}'. Known methods: {', '.join(available_plugins())}")
    cls = eps[name].load()
    if not isinstance(cls, type) or not hasattr(cls, "train"):
        raise InputError(f"Entry point '{name}' ({eps[name].value}) is not a plugin class")
    return cls


def describe_plugins() -> list[dict[str, str]]:
    """One row per plugin: name, what it requires, where it comes from (for ``pluralstats plugins``)."""
    eps = _entry_points()
    rows = []
    for name in available_plugins():
        source = "runtime" if name in _RUNTIME else eps[name].value
        try:
            requires = get_plugin(name).requires
        except Exception as exc:  # a broken third-party plugin must not hide the others
            requires = f"unloadable: {exc}"
        rows.append({"name": name, "requires": requires, "source": source})
    return rows
