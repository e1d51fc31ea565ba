"""Samplers (the ``--backend`` of ``fit-survey``): entry points in group ``pluralstats.samplers`` plus
run-time registrations (:class:`~pluralstats.registry.Registry`).

A sampler is a :class:`Sampler` subclass (see :mod:`.sampler`). Installed here: ``nutpie`` and ``jax``
(nutpie's NUTS on a numba or JAX gradient), ``pymc`` (PyMC's NUTS) and ``advi`` (an approximation, never
certified). Adding one is one module plus one entry point in ``pyproject.toml``::

    [project.entry-points."pluralstats.samplers"]
    my-nuts = "mypackage.my_nuts:MyNuts"

The model, the diagnostics gate and the choice of backend stay in :mod:`pluralstats.models.fit`; a sampler
only draws. Its modules import PyMC, nutpie and JAX inside their methods, so listing samplers loads none.
"""

from __future__ import annotations

from pluralstats.registry import Registry, instance_of

from .sampler import Sampler, quiet

GROUP = "pluralstats.samplers"
REGISTRY: Registry[Sampler] = Registry(GROUP, "backend", instance_of(Sampler, "sampler"),
                                       unknown="choose one of {names}")
register_sampler = REGISTRY.register
unregister_sampler = REGISTRY.unregister
available_samplers = REGISTRY.available
get_sampler = REGISTRY.get

__all__ = ["GROUP", "REGISTRY", "Sampler", "available_samplers", "describe_samplers", "get_sampler", "quiet",
           "register_sampler", "unregister_sampler"]


def describe_samplers() -> list[dict[str, str]]:
    """One row per sampler: name and help (an unloadable third-party sampler says why, not hiding others)."""
    return REGISTRY.describe(lambda sampler: {"help": sampler.help})
