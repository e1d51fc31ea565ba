"""Chains sampled in worker processes: each worker is a fresh ``python -m pluralstats.samplers.workers`` that
unpickles a job (the model, the variables to keep, the data), compiles it with nutpie's JAX backend, samples
its chains and writes them back; the caller joins the workers' chains in order.

A fresh interpreter, not ``multiprocessing``: it neither re-imports the caller's ``__main__`` (a script without
an ``if __name__ == "__main__"`` guard would fit again in every worker) nor forks a process whose JAX already
runs threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def run_workers(job: Any, runs: list[dict]) -> Any:
    """Sample ``job`` once per entry of ``runs`` (nutpie settings: chains, seed, draws, tune, low_rank, options),
    each in its own worker process, all at once; return their chains joined, in order, as one InferenceData."""
    import arviz as az
    import cloudpickle

    from .sampler import join_chains

    with tempfile.TemporaryDirectory(prefix="pluralstats-chains-") as tmp:
        folder = Path(tmp)
        (folder / "job.pkl").write_bytes(cloudpickle.dumps({"model": job.model, "var_names": job.var_names,
                                                            "arrays": job.arrays}))
        procs = []
        for i, run in enumerate(runs):
            (folder / f"run{i}.pkl").write_bytes(cloudpickle.dumps(run))
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "pluralstats.samplers.workers", str(folder), str(i)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONWARNINGS": "ignore"}))
        errors = [proc.communicate()[1] for proc in procs]
        failed = [(i, err) for i, (proc, err) in enumerate(zip(procs, errors, strict=True)) if proc.returncode]
        if failed:
            i, err = failed[0]
            raise RuntimeError(f"chain worker {i} failed: {err.decode(errors='replace').strip()[-2000:]}")
        parts = [az.from_netcdf(str(folder / f"out{i}.nc")) for i in range(len(runs))]
        for part in parts:
            part.load()
    joined = join_chains(parts)
    joined.posterior.attrs["compile_seconds_workers"] = max(float(p.posterior.attrs["compile_seconds"]) for p in parts)
    return joined


def _work(folder: Path, index: int) -> None:
    import pickle

    import nutpie

    job, run = (pickle.loads((folder / name).read_bytes()) for name in ("job.pkl", f"run{index}.pkl"))
    start = time.perf_counter()
    compiled = nutpie.compile_pymc_model(job["model"], backend="jax", gradient_backend="pytensor",
                                         var_names=job["var_names"], freeze_model=False)
    if job["arrays"] is not None:
        compiled = compiled.with_data(**job["arrays"])
    seconds = time.perf_counter() - start
    idata = nutpie.sample(compiled, draws=run["draws"], tune=run["tune"], chains=run["chains"], cores=1,
                          seed=run["seed"], progress_bar=False, save_warmup=False,
                          low_rank_modified_mass_matrix=run["low_rank"], **run["options"])
    idata.posterior.attrs["compile_seconds"] = seconds
    idata.to_netcdf(str(folder / f"out{index}.nc"))


if __name__ == "__main__":
    _work(Path(sys.argv[1]), int(sys.argv[2]))
