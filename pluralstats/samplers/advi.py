"""Mean-field ADVI: minutes faster than NUTS, intervals too narrow; for a first look, never reported."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .sampler import Sampler

#: PyTensor 2.38 rewrites ``flat[a:b].reshape((1, k))[:, 1:]`` (ADVI's view of the ordered cut points when
#: one dimension is fitted) into a wrongly transposed ``(k - 1, 1)`` array; leaving out this one rewrite
#: keeps ADVI's graph correct (NUTS backends compile a different graph and are unaffected)
ADVI_EXCLUDED_REWRITES = "local_subtensor_of_expand_dims"


class Advi(Sampler):
    name: ClassVar[str] = "advi"
    help: ClassVar[str] = "mean-field ADVI: fast, intervals too narrow; a first look only, never certified"
    default_tune: ClassVar[int] = 0
    exact: ClassVar[bool] = False

    def __init__(self, n_iter: int = 30_000) -> None:
        #: optimisation steps at most (it stops earlier once the parameters settle)
        self.n_iter = n_iter

    def sample(self, model: Any, *, draws: int, tune: int, chains: int, seed: int, progress: bool,
               var_names: Sequence[str]) -> Any:
        import arviz as az
        import numpy as np
        import pymc as pm
        from pytensor.compile.mode import get_default_mode

        mode = get_default_mode().excluding(ADVI_EXCLUDED_REWRITES)
        with model:
            approx = pm.fit(n=self.n_iter, method="advi", random_seed=seed, progressbar=progress,
                            compile_kwargs={"mode": mode},
                            callbacks=[pm.callbacks.CheckParametersConvergence(tolerance=1e-3, diff="relative")])
            idata = approx.sample(draws=draws * chains, random_seed=seed)
        # present the draws as `chains` pseudo-chains so downstream code sees the usual shape
        post = idata.posterior.isel(chain=0, drop=True)
        post = post.assign_coords(draw=np.arange(post.sizes["draw"]))
        post = post.coarsen(draw=draws).construct(draw=("chain", "draw"))
        post = post.assign_coords(chain=np.arange(chains), draw=np.arange(draws))
        post.attrs["advi_final_loss"] = float(approx.hist[-1])
        post.attrs["advi_iterations"] = len(approx.hist)
        return az.InferenceData(posterior=post.transpose("chain", "draw", ...))
