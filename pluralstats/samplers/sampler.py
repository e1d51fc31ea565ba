"""The sampler contract: how a backend draws from a built PyMC model.

A sampler is a :class:`Sampler` subclass with a ``name``, a one-line ``help``, its ``default_tune`` and
:meth:`Sampler.sample`. One that compiles the model once and can then be asked for more chains, or for the
same model on other data, sets ``reusable`` and implements :meth:`Sampler.compile` and :meth:`Sampler.draw`
(the gate's ESS top-up and the per-dimension split use them; see :mod:`pluralstats.models.fit`). A sampler
whose draws do not come from MCMC (``exact = False``) is never topped up, and what it reports is a first look.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar


class Sampler:
    """A way to draw from a PyMC model; subclasses set the class attributes and :meth:`sample`."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    #: tuning steps per chain when the caller does not choose
    default_tune: ClassVar[int] = 1000
    #: compiled once (:meth:`compile`), it draws any number of chains, on any data of the model's shape
    reusable: ClassVar[bool] = False
    #: draws from MCMC (False: from an approximation, never to be topped up or reported as certified)
    exact: ClassVar[bool] = True
    #: what must be installed, for the message when it is not (e.g. "pip install 'pluralstats[jax]'")
    needs: ClassVar[str] = ""

    def sample(self, model: Any, *, draws: int, tune: int, chains: int, seed: int, progress: bool,
               var_names: Sequence[str]) -> Any:
        """``chains`` chains of ``draws`` draws (after ``tune`` tuning steps) of ``var_names``, as InferenceData
        with ``posterior`` and, where the sampler has them, ``sample_stats``."""
        if self.reusable:
            return self.draw(self.compile(model, var_names), draws=draws, tune=tune, chains=chains, seed=seed,
                             progress=progress)
        raise NotImplementedError

    def compile(self, model: Any, var_names: Sequence[str]) -> Any:
        """The model compiled once (``reusable`` samplers)."""
        raise NotImplementedError(f"sampler '{self.name}' does not compile a model for reuse")

    def draw(self, compiled: Any, *, draws: int, tune: int, chains: int, seed: int, progress: bool,
             low_rank: bool = True) -> Any:
        """Chains from a compiled model (``reusable`` samplers); ``low_rank``: a low-rank mass matrix where the
        sampler has one."""
        raise NotImplementedError(f"sampler '{self.name}' does not compile a model for reuse")

    def with_data(self, compiled: Any, arrays: dict) -> Any:
        """``compiled`` with other data of the same shape swapped in (``reusable`` samplers)."""
        raise NotImplementedError(f"sampler '{self.name}' does not compile a model for reuse")


@contextlib.contextmanager
def quiet(progress: bool) -> Iterator[None]:
    """Without progress, PyMC's log below errors and the samplers' stderr chatter are dropped."""
    logger = logging.getLogger("pymc")
    level = logger.level
    if not progress:
        logger.setLevel(logging.ERROR)
    try:
        sink = contextlib.redirect_stderr(io.StringIO()) if not progress else contextlib.nullcontext()
        with sink:
            yield
    finally:
        logger.setLevel(level)


def join_chains(parts: Sequence[Any]) -> Any:
    """The chains of several InferenceData, in order and renumbered, as one (``posterior`` and, where every part
    has it, ``sample_stats``; the first part's attributes)."""
    import arviz as az
    import xarray as xr

    groups = {}
    for name in ("posterior", "sample_stats"):
        if all(name in part.groups() for part in parts):
            pieces, offset = [], 0
            for part in parts:
                data = getattr(part, name)
                pieces.append(data.assign_coords(chain=data["chain"].to_numpy() + offset))
                offset += data.sizes["chain"]
            groups[name] = xr.concat(pieces, dim="chain", combine_attrs="override")
    return az.InferenceData(**groups)
