"""PyMC's own NUTS (one Python call per step: the slowest exact sampler here, kept as the reference)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .sampler import Sampler


class PyMCNuts(Sampler):
    name: ClassVar[str] = "pymc"
    help: ClassVar[str] = "PyMC's own NUTS with its windowed adaptation: exact, the reference, slow"
    default_tune: ClassVar[int] = 1000

    def sample(self, model: Any, *, draws: int, tune: int, chains: int, seed: int, progress: bool,
               var_names: Sequence[str]) -> Any:
        import pymc as pm

        with model:
            return pm.sample(draws=draws, tune=tune, chains=chains, cores=min(chains, 2), random_seed=seed,
                             progressbar=progress, compute_convergence_checks=False, var_names=list(var_names),
                             idata_kwargs={"log_likelihood": False})
