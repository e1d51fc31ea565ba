"""Rating-model families (the latent error's distribution, hence the link): entry points in group
``pluralstats.families`` plus run-time registrations.

A family is a :class:`Family` subclass (see :mod:`.base`) with a ``name``, a one-line ``help``, the latent
error's CDF in numpy and PyTensor and a noise sampler. Installed here: ``logit`` (the default) and
``probit``. Adding one is one module plus one entry point in ``pyproject.toml``::

    [project.entry-points."pluralstats.families"]
    cloglog = "mypackage.cloglog:CLogLog"

The family a posterior was fitted with is recorded in its metadata (``ModelMeta.family``; a posterior
written before families existed is a logit one), and prediction, replication and LOO read it from there
(:func:`pluralstats.models.data.family_of`). The simulator draws ratings from a family too, which is why the
families live in the base layer rather than in :mod:`pluralstats.models`. A family's module imports PyTensor
only inside its graph methods, so simulating a survey does not load the modelling stack.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from pluralstats.errors import InputError

from .base import Family

GROUP = "pluralstats.families"
DEFAULT_FAMILY = "logit"
_RUNTIME: dict[str, Family] = {}
_LOADED: dict[str, Family] = {}

__all__ = ["DEFAULT_FAMILY", "GROUP", "Family", "available_families", "describe_families", "get_family",
           "register_family", "unregister_family"]


def _check(obj: Any) -> Family:
    family = obj() if isinstance(obj, type) else obj
    if not isinstance(family, Family) or not family.name:
        raise TypeError(f"{obj!r} is not a rating-model family (a named pluralstats.families.Family)")
    return family


def register_family(obj: Any) -> Any:
    """Register a family class or instance by its ``name`` (usable as a decorator); it wins over an entry
    point of the same name."""
    family = _check(obj)
    _RUNTIME[family.name] = family
    return obj


def unregister_family(name: str) -> None:
    """Remove a family registered at run time (no error if it is not registered)."""
    _RUNTIME.pop(name, None)


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=GROUP)}


def available_families() -> list[str]:
    """Names of every installed or registered family, sorted."""
    return sorted(set(_entry_points()) | set(_RUNTIME))


def get_family(name: str | Family | None = None) -> Family:
    """The family called ``name`` (a :class:`Family` is returned as is; None is the default, logit); unknown
    names raise :class:`InputError` listing the installed ones."""
    if isinstance(name, Family):
        return name
    name = DEFAULT_FAMILY if name is None else name
    if name in _RUNTIME:
        return _RUNTIME[name]
    if name not in _LOADED:
        eps = _entry_points()
        if name not in eps:
            raise InputError(f"Unknown family '{name}'; installed: {', '.join(available_families())}")
        try:
            _LOADED[name] = _check(eps[name].load())
        except (ImportError, AttributeError, TypeError) as exc:
            raise InputError(f"Family '{name}' ({eps[name].value}) cannot be loaded: {exc}") from exc
    return _LOADED[name]


def describe_families() -> list[dict[str, str]]:
    """One row per family: name and help (an unloadable third-party family says why, not hiding others)."""
    rows = []
    for name in available_families():
        try:
            text = get_family(name).help
        except InputError as exc:
            text = str(exc)
        rows.append({"name": name, "help": text})
    return rows
