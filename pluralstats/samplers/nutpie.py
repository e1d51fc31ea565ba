"""nutpie: NUTS in Rust on a gradient compiled by numba (``nutpie``, the default on CPU for several
dimensions) or by JAX (``jax``: compiles in seconds; for one dimension and for GPUs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pluralstats.errors import InputError

from .base import Sampler


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


class NutpieJax(Nutpie):
    name: ClassVar[str] = "jax"
    help: ClassVar[str] = ("nutpie's NUTS on a JAX-compiled gradient: exact; compiles in seconds (one dimension) "
                           "and runs on a GPU with jax[cuda12]")
    gradient: ClassVar[str] = "jax"
    needs: ClassVar[str] = "pip install 'pluralstats[jax]' (or jax[cuda12] for a GPU)"

    def compile(self, model: Any, var_names: Sequence[str]) -> Any:
        import nutpie

        try:
            import jax  # noqa: F401
        except ImportError as exc:
            raise InputError(f"--backend jax needs JAX: {self.needs}") from exc
        # freezing would turn the data into constants, which PyMC refuses for a model with initial values
        # (the ordered cut points have one); the shapes are fixed either way, so JAX compiles static shapes.
        # The gradient graph is PyTensor's (then compiled by JAX), not JAX's autodiff of the log density:
        # PyTensor's rewrites make it cheaper per call (benchmarks/gradient_floor.py --nutpie-jax)
        return nutpie.compile_pymc_model(model, backend="jax", gradient_backend="pytensor",
                                         var_names=list(var_names), freeze_model=False)
