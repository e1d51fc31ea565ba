"""How far the paper-scale logp+gradient is from its floor, and what JAX costs on a CPU.

Times one logp+gradient evaluation of the additive paper-scale model compiled by PyTensor for numba and for
JAX (compile time of each, and the largest difference between their gradients), and a hand-fused numba loop
that computes the same likelihood and its gradient in one pass over the ratings (the floor for this math on
one core). Three rounds, 100 evaluations each; ratios within a round. Given a dimension, the same for that
dimension's model as fit-survey samples it (dimensions apart, its parametrisation chosen as fit-survey does):
a fifth of the ratings, which shows each compiler's fixed cost per call.

``--nutpie-jax`` also times what ``--backend jax`` calls on every step: nutpie's JAX log density and gradient,
with the gradient graph built by PyTensor (as fit_survey compiles it) and by JAX's autodiff.

    python benchmarks/gradient_floor.py
    python benchmarks/gradient_floor.py toxicity --nutpie-jax
"""

from __future__ import annotations

import argparse
import functools
import time

import numba
import numpy as np

from pluralstats.models.data import build_model_data
from pluralstats.models.rating import build_model, data_arrays, use_centred, use_centred_raters
from pluralstats.models.sampling import dimension_parts
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


def nutpie_jax_ms(make_model, x: np.ndarray) -> dict[str, float]:
    """Milliseconds per call of nutpie's JAX log density and gradient, per gradient graph (a fresh model for
    each: nutpie records the dimensions of a model it compiles in the model itself)."""
    import nutpie

    from pluralstats.models.sampling import stored_variables

    out = {}
    for graph in ("pytensor", "jax"):
        model = make_model()
        compiled = nutpie.compile_pymc_model(model, backend="jax", gradient_backend=graph,
                                             var_names=stored_variables(model), freeze_model=False)
        logp = functools.partial(compiled._make_logp_func(), **compiled._shared_data)
        logp(x)
        out[graph] = _time(lambda f=logp: f(x))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dimension", nargs="?", help="one dimension's model, as sampled apart (default: all)")
    parser.add_argument("--nutpie-jax", action="store_true", help="also time nutpie's JAX log density per call")
    opts = parser.parse_args()
    data = build_model_data(simulate_survey(SimulationConfig(), seed=0).survey, None, None)
    options = {}
    if opts.dimension:  # one dimension's model, as sampled apart
        data = next(part for part in dimension_parts(data) if part.meta.dimensions == [opts.dimension])
        items = use_centred(data, "item")
        options = {"centered_items": items,
                   "centered_raters": use_centred_raters(data, one_dimension=True, centred_items=items)}
    model = build_model(data, **options)
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
    if opts.nutpie_jax:
        per_call = nutpie_jax_ms(lambda: build_model(data, **options), x)
        print(f"ms per call of nutpie's JAX logp+gradient: gradient graph by PyTensor {per_call['pytensor']:.2f}, "
              f"by JAX autodiff {per_call['jax']:.2f}")


if __name__ == "__main__":
    main()
