"""numpyro's NUTS, the whole loop compiled under JAX with the chains vectorised (through PyMC's
``pm.sample(nuts_sampler="numpyro")``): no Python call per step, so it is the sampler for a GPU. On 2 CPU
cores it is slower than nutpie (docs/speed.md); it needs the ``bench`` extra (numpyro)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pluralstats.errors import InputError

from .sampler import Sampler


class Numpyro(Sampler):
    name: ClassVar[str] = "numpyro"
    help: ClassVar[str] = ("numpyro's NUTS compiled whole under JAX, chains vectorised: exact; for a GPU "
                           "(needs numpyro)")
    #: numpyro adapts a diagonal mass matrix in Stan's windows, which need the usual 1000 steps
    default_tune: ClassVar[int] = 1000
    needs: ClassVar[str] = "pip install 'pluralstats[bench]' (numpyro; jax[cuda12] for a GPU)"

    def __init__(self, chain_method: str = "vectorized", nuts_sampler: str = "numpyro") -> None:
        #: "vectorized" (chains vmapped in one loop), "parallel" (one per device) or "sequential"
        self.chain_method = chain_method
        #: PyMC's name of the JAX NUTS ("blackjax" reaches the other one, for benchmarks)
        self.nuts_sampler = nuts_sampler

    def sample(self, model: Any, *, draws: int, tune: int, chains: int, seed: int, progress: bool,
               var_names: Sequence[str]) -> Any:
        try:
            __import__(self.nuts_sampler)
        except ImportError as exc:
            raise InputError(f"--backend {self.name} needs {self.nuts_sampler}: {self.needs}") from exc
        import pymc as pm
        from pymc.model.transform.optimization import freeze_dims_and_data

        # JAX compiles static shapes, so dims and data are frozen in; freezing refuses initial values, so they
        # are set aside (and put back on the caller's model) and handed to pm.sample instead
        initial = dict(model.rvs_to_initial_values)
        try:
            for rv in initial:
                model.rvs_to_initial_values[rv] = None
            frozen = freeze_dims_and_data(model)
        finally:
            model.rvs_to_initial_values.update(initial)
        initvals = {rv.name: value for rv, value in initial.items() if value is not None}
        with frozen:
            return pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=progress,
                             initvals=initvals, nuts_sampler=self.nuts_sampler, var_names=list(var_names),
                             compute_convergence_checks=False, idata_kwargs={"log_likelihood": False},
                             nuts_sampler_kwargs={"chain_method": self.chain_method})
