"""Sampler levers for the group x item model, measured on one survey: how well tau and the w terms mix per
draw, and whether the gate passes, for each lever at the gate's 4 chains x 500 draws.

    python benchmarks/gate_levers.py --data binary-toxicity --levers nutpie,diag,tune1000,centred,numpyro,blackjax
    python benchmarks/gate_levers.py --data paper --dims toxicity --disagreement political --levers nutpie,numpyro

Levers: ``nutpie`` (numba gradient, low-rank mass matrix, 300 tuning steps), ``jax``
(the same sampler on a JAX gradient), ``diag`` (nutpie's diagonal mass matrix), ``tune1000``, ``centred``
(centred group x item terms), ``flow`` (nutpie's normalizing-flow adaptation, JAX), ``numpyro`` and ``blackjax``
(PyMC's ``pm.sample(nuts_sampler=...)``: the whole NUTS loop compiled by JAX, chains vectorised; ``numpyro-parallel``:
one chain per host device, with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``), ``halfnormal`` (the former
non-centred form, tau ~ HalfNormal sampled on its log, against the default signed scale). One JSON line per
lever: wall time (build, compile and sampling), tau's R-hat and bulk ESS, the smallest ESS of any gated quantity,
the verdict. ``GATE_LEVERS_BACKEND=jax`` runs the nutpie levers on the JAX gradient (compiles in seconds);
``GATE_LEVERS_TUNE`` sets the whole-JAX samplers' tuning steps (default 1000).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


#: the nutpie backend of the nutpie levers ("jax": compiles in seconds, for comparing levers quickly)
BACKEND = __import__("os").environ.get("GATE_LEVERS_BACKEND", "nutpie")
#: tuning steps of the whole-JAX samplers (their windowed Stan-style adaptation; PyMC's default 1000)
TUNE_JAX = int(__import__("os").environ.get("GATE_LEVERS_TUNE", 1000))


def pm_sample(model, sampler: str, draws: int, tune: int, chains: int, seed: int):
    """``sampler``: "numpyro" or "blackjax", optionally "-vectorized" (chains vmapped in one loop), "-parallel"
    (one chain per host device: XLA_FLAGS=--xla_force_host_platform_device_count=2 before JAX starts) or
    "-sequential"."""
    from pluralstats.models.sampling import stored_variables
    from pluralstats.samplers.numpyro import Numpyro

    name, _, method = sampler.partition("-")
    return Numpyro(chain_method=method or "vectorized", nuts_sampler=name).sample(
        model, draws=draws, tune=tune, chains=chains, seed=seed, progress=False, var_names=stored_variables(model))


def flow_sample(model, draws: int, tune: int, chains: int, seed: int):
    import nutpie
    from pymc.model.transform.optimization import freeze_dims_and_data

    from pluralstats.models.sampling import stored_variables

    # nutpie's flow adapter calls the log density without the model's data: freeze the data in (initial values
    # set aside first, as pm_sample does, since freezing refuses them; nutpie then starts from its own draws)

    for rv in model.rvs_to_initial_values:
        model.rvs_to_initial_values[rv] = None
    model = freeze_dims_and_data(model)
    compiled = nutpie.compile_pymc_model(model, backend="jax", gradient_backend="jax",
                                         var_names=stored_variables(model), freeze_model=False)
    return nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=2, seed=seed, progress_bar=False,
                         transform_adapt=True)


def lever(survey, name: str, dims, disagreement, seed: int, chains: int = 4, draws: int = 500) -> dict:
    from pluralstats.models import fit, rating
    from pluralstats.models.data import build_model_data
    from pluralstats.models.diagnostics import diagnose, record_verdict, verdict_of
    from pluralstats.models.rating import build_model, set_disagreement

    start = time.perf_counter()
    options = {"nutpie": {}, "jax": {"backend": "jax"}, "tune1000": {"tune": 1000},
               "centred": {"centered_interactions": True}, "diag": {}}
    if name == "halfnormal":  # the former non-centred form: tau ~ HalfNormal sampled on its log, w = tau z
        data = build_model_data(survey, dims)
        set_disagreement(data, disagreement)
        items = rating.use_centred(data, "item")
        model = build_model(data, signed_scale=False, centered_items=items, centered_raters=rating.use_centred_raters(
            data, one_dimension=len(data.meta.dimensions) == 1, centred_items=items))
        sampler = fit.get_sampler(BACKEND)
        sample = fit._whole_sampler(model, sampler, draws=draws, tune=sampler.default_tune, progress=False)
        idata = fit.finish_idata(sample(chains, seed), data, backend=BACKEND, joint=False,
                                 seconds=time.perf_counter() - start)
        record_verdict(idata, diagnose(idata, rhat_chains=chains))
    elif name in options:
        fit.MASS_MATRIX = "diag" if name == "diag" else "low-rank"
        idata = fit.fit_survey(survey, dimensions=dims, disagreement=disagreement, seed=seed, progress=False,
                               chains=chains, draws=draws, max_chains=chains,
                               **{"backend": BACKEND, **options[name]})
        fit.MASS_MATRIX = None
    else:
        data = build_model_data(survey, dims)
        set_disagreement(data, disagreement)
        model = build_model(data)
        raw = flow_sample(model, draws, 300, chains, seed) if name == "flow" else \
            pm_sample(model, name, draws, TUNE_JAX, chains, seed)
        idata = fit.finish_idata(raw, data, backend=name, joint=False, seconds=time.perf_counter() - start)
        record_verdict(idata, diagnose(idata, rhat_chains=chains))
    wall = time.perf_counter() - start
    status, problems = verdict_of(idata)
    table = diagnose(idata, rhat_chains=chains).table
    taus = table[table.name.str.startswith("tau_")]
    return {"lever": name, "wall_s": round(wall, 1), "status": status, "problems": problems[:300],
            "taus": taus[["name", "r_hat", "ess_bulk", "ess_tail"]].round(4).to_dict("records"),
            "min_ess_bulk": float(table.ess_bulk.min()), "min_ess_tail": float(table.ess_tail.min()),
            "max_scalar_rhat": float(table[table.family == ""].r_hat.max()),
            "divergences": int(idata.sample_stats["diverging"].sum()) if "sample_stats" in idata.groups() else None,
            "sampling_s": idata.posterior.attrs.get("sampling_seconds"),
            "compile_s": idata.posterior.attrs.get("compile_seconds")}


def main() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_models import load_data

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="binary-toxicity")
    ap.add_argument("--sim-seed", type=int, default=0)
    ap.add_argument("--sim-disagreement", type=float, default=0.0)
    ap.add_argument("--dims", default="all")
    ap.add_argument("--disagreement", default="politics,gender")
    ap.add_argument("--levers", default="nutpie,diag,tune1000,centred,numpyro,blackjax")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    survey = load_data(args.data, args.sim_seed, 1.0, args.sim_disagreement)
    dims = survey.dimensions if args.dims == "all" else args.dims.split(",")
    for name in args.levers.split(","):
        result = {"data": args.data, "sim_seed": args.sim_seed, **lever(survey, name, dims,
                                                                        args.disagreement.split(","), args.seed)}
        print(json.dumps(result), flush=True)
        if args.out:
            with args.out.open("a") as fh:
                fh.write(json.dumps(result) + "\n")
    np.seterr(all="ignore")


if __name__ == "__main__":
    main()
