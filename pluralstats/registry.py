"""One plugin registry, used by every place the field grows: rating-model families, samplers, preference
strategies, fine-tuning trainers and scorers.

A :class:`Registry` finds plugins by entry point (group ``pluralstats.<kind>``, declared in a package's
``pyproject.toml``) plus run-time registrations (:meth:`Registry.register`, usable as a decorator; these win
over an entry point of the same name, so a test or a notebook can replace one). Loading is lazy and cached,
and a plugin that fails to load raises :class:`~pluralstats.errors.InputError` naming it, never hiding the
others: :meth:`Registry.describe` lists a broken one with the reason.

``check`` turns what an entry point names into what the registry hands out (an instance for families and
strategies, a class for trainers, a factory for scorers) and raises :class:`TypeError` when it is not a
plugin of that kind.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from typing import Any, Generic, TypeVar

from pluralstats.errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """Plugins of one kind: ``group`` is the entry-point group, ``kind`` the word error messages use,
    ``unknown`` the rest of the message for an unknown name (``{names}``: the installed ones)."""

    def __init__(self, group: str, kind: str, check: Callable[[Any], T], *, name_of: Callable[[T], str] | None = None,
                 unknown: str = "installed: {names}") -> None:
        self.group, self.kind, self._check = group, kind, check
        self._name_of = name_of or (lambda plugin: plugin.name)
        self._unknown = unknown
        self._runtime: dict[str, T] = {}
        self._loaded: dict[str, T] = {}

    def register(self, obj: Any) -> Any:
        """Register a plugin by its name (usable as a decorator; returns ``obj`` unchanged)."""
        plugin = self._check(obj)
        self._runtime[self._name_of(plugin)] = plugin
        return obj

    def unregister(self, name: str) -> None:
        """Remove a plugin registered at run time (no error if it is not registered)."""
        self._runtime.pop(name, None)

    def entry_points(self) -> dict[str, metadata.EntryPoint]:
        return {ep.name: ep for ep in metadata.entry_points(group=self.group)}

    def available(self) -> list[str]:
        """Names of every installed or registered plugin, sorted."""
        return sorted(set(self.entry_points()) | set(self._runtime))

    def unknown_message(self, name: str) -> str:
        return f"Unknown {self.kind} '{name}'; " + self._unknown.format(names=", ".join(self.available()) or "none")

    def get(self, name: str) -> T:
        """The plugin called ``name``; an unknown or unloadable one raises :class:`InputError` listing the
        installed ones."""
        if name in self._runtime:
            return self._runtime[name]
        if name not in self._loaded:
            eps = self.entry_points()
            if name not in eps:
                raise InputError(self.unknown_message(name))
            try:
                self._loaded[name] = self._check(eps[name].load())
            except Exception as exc:  # whatever a third-party module raises on import, it names the plugin
                raise InputError(f"{self.kind.capitalize()} '{name}' ({eps[name].value}) cannot be loaded: "
                                 f"{exc}") from exc
        return self._loaded[name]

    def is_runtime(self, name: str) -> bool:
        """Whether ``name`` was registered at run time (a process started afresh would not see it)."""
        return name in self._runtime

    def source(self, name: str) -> str:
        """Where a plugin comes from: "runtime", or its entry point's ``module:attribute``."""
        return "runtime" if name in self._runtime else self.entry_points()[name].value

    def describe(self, fields: Callable[[T], dict[str, str]], failed: str = "help") -> list[dict[str, str]]:
        """One row per plugin: its name and ``fields(plugin)``; a plugin that cannot be loaded gets the reason
        in column ``failed`` instead, so that a broken third-party plugin does not hide the others."""
        rows = []
        for name in self.available():
            try:
                row = fields(self.get(name))
            except InputError as exc:
                row = {failed: str(exc)}
            rows.append({"name": name, **row})
        return rows


def instance_of(base: type, kind: str) -> Callable[[Any], Any]:
    """A ``check`` that instantiates a class and accepts a named instance of ``base``."""
    def check(obj: Any) -> Any:
        plugin = obj() if isinstance(obj, type) else obj
        if not isinstance(plugin, base) or not getattr(plugin, "name", None):
            raise TypeError(f"{obj!r} is not a {kind} (a named {base.__module__}.{base.__qualname__})")
        return plugin
    return check
