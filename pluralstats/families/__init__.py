"""Rating-model families (the latent error's distribution, hence the link): entry points in group
``pluralstats.families`` plus run-time registrations.

A family is a :class:`Family` subclass (see :mod:`.family`) with a ``name``, a one-line ``help``, the latent
error's CDF in numpy and PyTensor and a noise sampler. Installed here: ``logit`` (the default) and
``probit``. Adding one is one module plus one entry point in ``pyproject.toml``::

    [project.entry-points."pluralstats.families"]
    cloglog = "mypackage.cloglog:CLogLog"

The family a posterior was fitted with is recorded in its metadata (``ModelMeta.family``), and prediction,
replication and LOO read it from there (:func:`pluralstats.models.data.family_of`). The simulator draws
ratings from a family too, which is why the families live in the base layer rather than in
:mod:`pluralstats.models`. A family's module imports PyTensor only inside its graph methods, so simulating a
survey does not load the modelling stack.
"""

from __future__ import annotations

from pluralstats.registry import Registry, instance_of

from .family import Family

GROUP = "pluralstats.families"
DEFAULT_FAMILY = "logit"
REGISTRY: Registry[Family] = Registry(GROUP, "family", instance_of(Family, "rating-model family"))
register_family = REGISTRY.register
unregister_family = REGISTRY.unregister
available_families = REGISTRY.available

__all__ = ["DEFAULT_FAMILY", "GROUP", "REGISTRY", "Family", "available_families", "describe_families", "get_family",
           "register_family", "unregister_family"]


def get_family(name: str | Family | None = None) -> Family:
    """The family called ``name`` (a :class:`Family` is returned as is; None is the default, logit); unknown
    names raise :class:`InputError` listing the installed ones."""
    if isinstance(name, Family):
        return name
    return REGISTRY.get(DEFAULT_FAMILY if name is None else name)


def describe_families() -> list[dict[str, str]]:
    """One row per family: name and help (an unloadable third-party family says why, not hiding others)."""
    return REGISTRY.describe(lambda family: {"help": family.help})
