"""nutpie: NUTS in Rust on a gradient compiled by numba (``nutpie``, the default on CPU for several
dimensions) or by JAX (``jax``: compiles in seconds; for one dimension and for GPUs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from pluralstats.errors import InputError

from .sampler import Sampler


class Nutpie(Sampler):
    name: ClassVar[str] = "nutpie"
    help: ClassVar[str] = "nutpie's NUTS (Rust) on a numba-compiled gradient: exact, fastest per gradient on CPU"
    #: nutpie's gradient-based mass-matrix adaptation settles in a few hundred steps (its own default)
    default_tune: ClassVar[int] = 300
    reusable: ClassVar[bool] = True
    gradient: ClassVar[str] = "numba"

    def __init__(self) -> None:
        #: nutpie settings beyond the mass matrix (benchmarks vary them to measure each)
        self.options: dict[str, Any] = {}

    def compile(self, model: Any, var_names: Sequence[str]) -> Any:
        """The model compiled for nutpie, storing only ``var_names`` per draw: the sampling devices are
        thousands of numbers per draw that no result reads, and writing them costs time on every step."""
        import nutpie

        return nutpie.compile_pymc_model(model, backend="numba", var_names=list(var_names))

    def draw(self, compiled: Any, *, draws: int, tune: int, chains: int, seed: int, progress: bool,
             low_rank: bool = True) -> Any:
        import nutpie

        return nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=min(chains, 2), seed=seed,
                             progress_bar=progress, save_warmup=False, low_rank_modified_mass_matrix=low_rank,
                             **self.options)

    def with_data(self, compiled: Any, arrays: dict) -> Any:
        return compiled.with_data(**arrays)

    def compile_here(self, compiled: Any) -> Any:
        """nutpie's compiled model in this process (what :meth:`compile` returned, for numba)."""
        return compiled


class NutpieJax(Nutpie):
    name: ClassVar[str] = "jax"
    help: ClassVar[str] = ("nutpie's NUTS on a JAX-compiled gradient: exact; compiles in seconds (one dimension), "
                           "chains in worker processes; runs on a GPU with jax[cuda12]")
    gradient: ClassVar[str] = "jax"
    needs: ClassVar[str] = "pip install 'pluralstats[jax]' (or jax[cuda12] for a GPU)"

    #: ratings x iterations x chains below which the chains stay in this process: a worker's start-up (importing
    #: PyMC and JAX, compiling) costs a few seconds, about what the interpreter lock costs threads at this size
    min_work: ClassVar[int] = 20_000_000

    def __init__(self, processes: int = 2) -> None:
        super().__init__()
        #: worker processes the chains are spread over (1: nutpie's threads in this process). nutpie calls JAX
        #: from Python on every step, so threads of one process wait on its interpreter lock; processes do not
        self.processes = processes

    def compile(self, model: Any, var_names: Sequence[str]) -> Any:
        # compiled where the chains run: here for one process, in each worker otherwise (a compiled JAX
        # function does not pickle; the model does)
        try:
            import jax  # noqa: F401
        except ImportError as exc:
            raise InputError(f"--backend jax needs JAX: {self.needs}") from exc
        return JaxJob(model, list(var_names))

    def compile_here(self, job: JaxJob) -> Any:
        """nutpie's compiled model of ``job`` in this process (once), its data swapped in."""
        import nutpie

        if "compiled" not in job.cache:
            # freezing would turn the data into constants, which PyMC refuses for a model with initial values
            # (the ordered cut points have one); the shapes are fixed either way, so JAX compiles static shapes.
            # The gradient graph is PyTensor's (then compiled by JAX), not JAX's autodiff of the log density:
            # PyTensor's rewrites make it cheaper per call (benchmarks/gradient_floor.py --nutpie-jax)
            job.cache["compiled"] = nutpie.compile_pymc_model(job.model, backend="jax", gradient_backend="pytensor",
                                                              var_names=job.var_names, freeze_model=False)
        compiled = job.cache["compiled"]
        return compiled if job.arrays is None else compiled.with_data(**job.arrays)

    def with_data(self, compiled: Any, arrays: dict) -> Any:
        return dataclasses.replace(compiled, arrays=dict(arrays))

    def draw(self, compiled: Any, *, draws: int, tune: int, chains: int, seed: int, progress: bool,
             low_rank: bool = True) -> Any:
        work = compiled.ratings() * (draws + tune) * chains
        workers = min(self.processes, chains) if work >= self.min_work else 1
        if workers <= 1:
            return super().draw(self.compile_here(compiled), draws=draws, tune=tune, chains=chains, seed=seed,
                                progress=progress, low_rank=low_rank)
        from .workers import run_workers

        sizes = [chains // workers + (i < chains % workers) for i in range(workers)]
        seeds = np.random.SeedSequence(seed).generate_state(workers)
        settings = {"draws": draws, "tune": tune, "low_rank": low_rank, "options": self.options}
        return run_workers(compiled, [{**settings, "chains": n, "seed": int(s)} for n, s in zip(sizes, seeds,
                                                                                                   strict=True)])


@dataclasses.dataclass
class JaxJob:
    """What a worker needs to compile and sample the model: the model, the variables kept per draw and, for a
    model sampled on other data of its shape, those data."""

    model: Any
    var_names: list[str]
    arrays: dict | None = None
    #: nutpie's compiled model in this process, once made; shared by the copies :meth:`NutpieJax.with_data` makes
    #: (a model compiles once: the copies differ only in their data)
    cache: dict = dataclasses.field(default_factory=dict)

    def ratings(self) -> int:
        """The number of ratings the model is sampled on (0 when the model does not say)."""
        if self.arrays is not None and "rater_cell" in self.arrays:
            return int(np.size(self.arrays["rater_cell"]))
        try:
            return int(np.size(self.model["rater_cell"].get_value()))
        except (KeyError, AttributeError):
            return 0
