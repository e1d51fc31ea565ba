"""Leapfrog steps per draw and ESS of the paper-scale model for a subset of its dimensions.

Builds the model as fit_survey does, compiles it for nutpie and samples it with the package's sampler
settings plus any nutpie setting given as ``key=value`` (e.g. ``target_accept=0.65``); prints one JSON line:
compile and sampling seconds, mean steps per draw, how many draws took each step count, and the gate's summary.
Shows whether fitting a dimension alone takes shorter trajectories than fitting all five together.

    python benchmarks/steps_per_draw.py toxicity 400 300
    python benchmarks/steps_per_draw.py all 400 300
    python benchmarks/steps_per_draw.py all 400 300 target_accept=0.65
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from pluralstats.models.data import build_model_data
from pluralstats.models.diagnostics import diagnose
from pluralstats.models.rating import build_model
from pluralstats.models.sampling import finish_idata, nutpie_compile
from pluralstats.survey.simulate import SimulationConfig, simulate_survey


def main() -> None:
    import nutpie

    dims, draws, tune = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
    extra = {k: float(v) for k, v in (a.split("=", 1) for a in sys.argv[4:])}
    data = build_model_data(simulate_survey(SimulationConfig(), seed=0).survey, None if dims == ["all"] else dims,
                            None)
    model = build_model(data)
    start = time.perf_counter()
    compiled = nutpie_compile(model)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    trace = nutpie.sample(compiled, draws=draws, tune=tune, chains=2, cores=2, seed=1, progress_bar=False,
                          save_warmup=False, low_rank_modified_mass_matrix=True, **extra)
    sample_s = time.perf_counter() - start
    idata = finish_idata(trace, data, backend="nutpie", joint=False, seconds=sample_s)
    steps = trace.sample_stats.n_steps.to_numpy()
    counts = dict(zip(*(v.tolist() for v in np.unique(steps, return_counts=True)), strict=True))
    print(json.dumps({"dims": dims, "draws": draws, "tune": tune, "extra": extra, "compile": round(compile_s, 1),
                      "sample": round(sample_s, 1), "n_steps": float(steps.mean()), "steps_counts": counts,
                      **diagnose(idata).summary()}, default=str))


if __name__ == "__main__":
    main()
