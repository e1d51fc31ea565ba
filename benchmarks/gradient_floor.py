"""How far the paper-scale logp+gradient is from its floor, and what JAX costs on a CPU.

Times one logp+gradient evaluation of the additive paper-scale model compiled by PyTensor for numba and for
JAX (compile time of each, and the largest difference between their gradients), and a hand-fused numba loop
that computes the same likelihood and its gradient in one pass over the ratings (the floor for this math on
one core). Three rounds, 100 evaluations each; ratios within a round.

    python benchmarks/gradient_floor.py
"""

from __future__ import annotations

import time

import numba
import numpy as np

from pluralstats.models.data import build_model_data
from pluralstats.models.rating import build_model, data_arrays
from pluralstats.survey.simulate import SimulationConfig, simulate_survey


@numba.njit(fastmath=True)
def fused(r, it, enh, el, rc, ic, cc, gr, gi, genh, gel):  # pragma: no cover - compiled
    """The cumulative-logit log-likelihood and its gradient in one pass (rater, item and cut-point tables)."""
    ll = 0.0
    gr[:] = 0.0
    gi[:] = 0.0
    genh[:] = 0.0
    gel[:] = 0.0
    for k in range(rc.size):
        e = np.exp(r[rc[k]] + it[ic[k]])
        c = cc[k]
        a = e * enh[c]
        b = el[c] / e
        ll -= np.log((1 + a) * (1 + b))
        g = -a / (1 + a) + b / (1 + b)
        gr[rc[k]] += g
        gi[ic[k]] += g
        genh[c] -= e / (1 + a)
        gel[c] -= 1 / (e * (1 + b))
    return ll


def _time(fn, n: int = 100) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e3


def main() -> None:
    data = build_model_data(simulate_survey(SimulationConfig(), seed=0).survey, None, None)
    model = build_model(data)
    x = np.concatenate([np.asarray(v).ravel() for v in model.initial_point().values()])
    x = x + np.random.default_rng(0).normal(0, 0.1, x.size)
    fns = {}
    for mode in ("NUMBA", "JAX"):
        start = time.perf_counter()
        fn = model.logp_dlogp_function(ravel_inputs=True, mode=mode)
        fn.set_extra_values({})
        fns[mode] = (fn, fn(x))
        print(f"{mode}: compile and first call {time.perf_counter() - start:.1f} s")
    grad_diff = np.abs(np.asarray(fns["NUMBA"][1][1]) - np.asarray(fns["JAX"][1][1])).max()
    print(f"max |gradient difference| numba vs jax: {grad_diff:.2e}")
    arrays = data_arrays(data)
    rc, ic, cc = arrays["rater_cell"], arrays["item_cell"], arrays["category_cell"]
    rng = np.random.default_rng(1)
    tables = [rng.normal(size=rc.max() + 1), rng.normal(size=ic.max() + 1),
              np.exp(-rng.normal(size=cc.max() + 1)), np.exp(rng.normal(size=cc.max() + 1))]
    grads = [np.zeros_like(t) for t in tables]
    fused(*tables, rc, ic, cc, *grads)
    for _ in range(3):
        ms = {mode: _time(lambda f=fn: f(x)) for mode, (fn, _) in fns.items()}
        ms["fused"] = _time(lambda: fused(*tables, rc, ic, cc, *grads))
        print(f"ms per logp+gradient ({len(rc)} ratings): numba {ms['NUMBA']:.2f}, jax {ms['JAX']:.2f}, "
              f"fused loop {ms['fused']:.2f}; jax/numba {ms['JAX'] / ms['NUMBA']:.2f}, "
              f"numba/fused {ms['NUMBA'] / ms['fused']:.2f}")


if __name__ == "__main__":
    main()
