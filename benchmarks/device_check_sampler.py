"""Device check of the fully compiled sampler: NUTS run whole under JAX (numpyro through PyMC, chains
vectorised) on the group x item model, at 1x, 4x and 16x the study's 1,095 raters, in one short script.

    python benchmarks/device_check_sampler.py                         # on the GPU, JAX's default device
    python benchmarks/device_check_sampler.py --scales 1 --draws 50   # a smoke run anywhere (CPU)

Per scale, one JSON line: ratings, wall time (build + JIT compile + sampling, which numpyro does in one call),
draws per second, the smallest bulk ESS of the taus and contrasts, JAX's device and its peak memory. The model
is the paper-scale simulated survey (5 dimensions) with planted disagreement sd 0.5 on ``political``, fitted
with ``--disagreement political`` as the whole model (numpyro has no per-dimension split). Each scale is
simulated in the script (a 16x survey takes about a minute); ``--budget`` seconds stop it before the next scale
would start past it, so the whole check stays inside one device call.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

warnings.filterwarnings("ignore")


def one_scale(scale: float, draws: int, tune: int, chains: int, seed: int) -> dict:
    import jax
    import numpy as np

    from pluralstats.models import mcmc
    from pluralstats.models.data import build_model_data
    from pluralstats.models.rating import build_model, set_disagreement
    from pluralstats.models.sampling import finish_idata, stored_variables
    from pluralstats.samplers import get_sampler
    from pluralstats.survey.simulate import SimulationConfig, simulate_survey

    survey = simulate_survey(SimulationConfig(n_participants=round(1095 * scale), disagreement_sd=0.5,
                                              disagreement_attributes=("political",)), seed=seed).survey
    start = time.perf_counter()
    data = build_model_data(survey)
    set_disagreement(data, ["political"])
    model = build_model(data)
    raw = get_sampler("numpyro").sample(model, draws=draws, tune=tune, chains=chains, seed=seed, progress=False,
                                        var_names=stored_variables(model))
    wall = time.perf_counter() - start
    idata = finish_idata(raw, data, backend="numpyro", joint=False, seconds=wall)
    worst = float("inf")
    for name in ("tau_political", "sigma_rater", "sigma_item"):
        x = idata.posterior[name].transpose("chain", "draw", ...).to_numpy().reshape(chains, draws, -1)
        worst = min(worst, float(np.min(mcmc.ess_bulk(x))))
    device = jax.devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    return {"scale": scale, "ratings": int(len(data.y)), "draws": draws, "tune": tune, "chains": chains,
            "wall_s": round(wall, 1), "draws_per_s": round(chains * (draws + tune) / wall, 1),
            "min_ess_bulk_sds": round(worst, 1), "device": str(device),
            "peak_bytes": (stats or {}).get("peak_bytes_in_use")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="1,4,16")
    ap.add_argument("--draws", type=int, default=250)
    ap.add_argument("--tune", type=int, default=250)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=float, default=540.0, help="seconds; no scale starts after half of it")
    args = ap.parse_args()
    start = time.perf_counter()
    for scale in (float(s) for s in args.scales.split(",")):
        if time.perf_counter() - start > args.budget / 2:
            print(json.dumps({"scale": scale, "skipped": "budget"}), flush=True)
            continue
        print(json.dumps(one_scale(scale, args.draws, args.tune, args.chains, args.seed)), flush=True)


if __name__ == "__main__":
    main()
