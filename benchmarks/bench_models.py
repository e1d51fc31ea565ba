"""Benchmark of the rating-model backends against Bambi's default PyMC NUTS.

One configuration per ``run`` (so several can be pinned to disjoint core pairs with ``taskset``),
``report`` to set them side by side. Measured per run: wall time (model build + compile +
sampling), minimum bulk ESS and maximum R-hat over the level-vs-reference *contrasts* (computed
with the same code for every backend, Bambi's draws included), divergences, and ESS per second.
Ratios are against the Bambi run on the same data and dimensions, from the same session.

    python benchmarks/bench_models.py run --data paper --backend nutpie --out bench/nutpie.json
    python benchmarks/bench_models.py run --data paper --dims toxicity --backend bambi --out bench/bambi.json
    python benchmarks/bench_models.py report bench/*.json
    python benchmarks/bench_models.py blas        # BLAS ops in the graph; one logp+gradient, C and numba
    python benchmarks/bench_models.py scale --scale 1,4,16,64 --draws 100 --tune 100   # how cost grows
    python benchmarks/bench_models.py scale --backend jax --jobs 4 --cache-dir /tmp/surveys  # the same on a GPU

``--sim-seed`` picks the simulated survey (paper scale: seeds 0-4 for five surveys); ``--scale N`` simulates N
times the study's 1,095 raters (25 judgements each, 5 dimensions, the same items). Each run also reports the
compile time (nutpie's, inside the wall time), the time of one logp+gradient evaluation (timed apart, with the
backend's compiler: numba or JAX), leapfrog steps per draw and the process's peak resident memory (with ``--backend
jax``, also JAX's device and its peak memory there). ``scale --jobs N --cache-dir DIR`` simulates the scales'
surveys in N processes first and keeps them in DIR (a 64x survey takes over a minute to simulate on one core).
A fit sampled one dimension at a time (``--split``)
reports the mean over dimensions: one dimension's gradient costs about 1/D of the whole model's, so
that mean is the cost per draw in whole-model gradients.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pickle
import resource
import subprocess
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
POPQUORN = Path(__file__).resolve().parents[1] / "analyses" / "popquorn" / "survey.toml"


STUDY_RATERS = 1095


def load_data(name: str, sim_seed: int = 0, scale: float = 1.0, disagreement: float = 0.0,
              cache: Path | None = None):
    """The survey to fit; a simulated one is read from (or written to) ``cache`` when given."""
    from pluralstats.survey import load_survey
    from pluralstats.survey.simulate import SimulationConfig, simulate_survey

    if cache is not None:
        path = cache / f"{name}-x{scale:g}-seed{sim_seed}-sd{disagreement:g}.pkl"
        if not path.exists():
            cache.mkdir(parents=True, exist_ok=True)
            survey = load_data(name, sim_seed, scale, disagreement)
            path.with_suffix(".tmp").write_bytes(pickle.dumps(survey))
            path.with_suffix(".tmp").replace(path)
        return pickle.loads(path.read_bytes())
    if name == "paper":
        # group x item terms planted on political only: the attribute (b) fits them for
        planted = {"disagreement_by": {"political": disagreement}} if disagreement else {}
        return simulate_survey(SimulationConfig(n_participants=round(STUDY_RATERS * scale), **planted),
                               seed=sim_seed).survey
    if name == "binary-toxicity":  # the stand-in for a held-out binary annotation export (simulate --preset)
        from pluralstats.survey.simulation_config import PRESETS

        return simulate_survey(SimulationConfig(**PRESETS["binary-toxicity"]), seed=sim_seed).survey
    if name == "small":  # for checking this script quickly
        return simulate_survey(SimulationConfig(n_participants=120, prompts_per_language=6, responses_per_prompt=4,
                                                prompts_per_participant=3), seed=0).survey
    if name == "popquorn":
        return load_survey(POPQUORN, allow_outside_paths=True)  # the real data sit beside the project
    raise SystemExit(f"unknown data {name}")


def bambi_idata(survey, dimension: str, attributes: list[str], draws: int, tune: int, chains: int, seed: int,
                sampler: str = "pymc"):
    """Bambi's cumulative model with its default priors (``sampler``: Bambi's inference method, its default PyMC
    NUTS or nutpie with nutpie's own defaults), re-expressed in pluralstats' posterior layout by
    :func:`pluralstats.models.to_bambi`. Not diagnosed there: ``run`` judges every backend by the same rule."""
    from pluralstats.models import to_bambi

    formula = "rating ~ " + " + ".join(attributes) + " + (1|rater) + (1|item)"
    return to_bambi(survey, formula, dimension=dimension, draws=draws, tune=tune, chains=chains, seed=seed,
                    sampler=sampler, priors="bambi", sampler_options={} if sampler == "nutpie" else None,
                    log_likelihood=False, check=False)


def run(args) -> dict:
    from pluralstats.models import diagnose
    from pluralstats.models.fit import fit_survey, resolved_settings

    survey = load_data(args.data, args.sim_seed, args.scale, args.sim_disagreement, args.cache_dir)
    disagreement = [a for a in args.disagreement.split(",") if a] if args.disagreement else None
    dims = survey.dimensions if args.dims == "all" else args.dims.split(",")
    # as fit-survey does: every attribute, less those confounded with the items (country in the simulated design)
    if args.data == "popquorn":
        attributes = [a for a in ("gender", "race_ethnicity", "age_group", "education") if a in survey.attributes]
    else:
        from pluralstats.models.data import build_model_data

        attributes = list(build_model_data(survey, dims).meta.attributes)
    if args.grad_only:  # no fit: the cost of one gradient and the memory of the data and model at this size
        result = {"data": args.data, "scale": args.scale, "sim_seed": args.sim_seed, "backend": args.backend,
                  "n_ratings": int(survey.ratings.dimension.isin(dims).sum()),
                  "grad_ms": gradient_ms(survey, dims, attributes, args.backend),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  **accelerator(args.backend)}
        _emit(result, args.out)
        return result
    start = time.perf_counter()
    if args.backend.startswith("bambi"):
        if len(dims) != 1:
            raise SystemExit("bambi baseline: one dimension per run (Bambi fits one response)")
        sampler = "nutpie" if args.backend == "bambi-nutpie" else "pymc"
        if args.tune is None:  # each sampler's own default: PyMC's (and so Bambi's) 1000, nutpie's 300
            args.tune = 300 if sampler == "nutpie" else 1000
        idata = bambi_idata(survey, dims[0], attributes, args.draws, args.tune, args.chains, args.seed, sampler)
    else:
        from pluralstats.models import fit

        fit.MASS_MATRIX = args.mass_matrix
        idata = fit_survey(survey, dimensions=dims, attributes=attributes, backend=args.backend, draws=args.draws,
                           tune=args.tune, chains=args.chains, seed=args.seed, progress=False,
                           centered_items=args.centered_items, centered_raters=args.centered_raters,
                           joint=args.joint, disagreement=disagreement, split_dimensions=args.split,
                           centered_interactions=args.centered_interactions,
                           max_chains=args.max_chains)
    wall = time.perf_counter() - start
    settings = {} if args.backend.startswith("bambi") else resolved_settings(idata)
    if args.save_posterior:
        from pluralstats.models import save_posterior

        save_posterior(idata, args.save_posterior)
    from pluralstats.models.diagnostics import verdict_of

    status, problems = verdict_of(idata)  # the gate's verdict, R-hat on the first batch
    diag = diagnose(idata, rhat_chains=args.chains)
    contrasts = diag.table[diag.table.kind == "contrast"]
    stats = idata.sample_stats if "sample_stats" in idata.groups() else None
    steps = float(stats["n_steps"].mean()) if stats is not None and "n_steps" in stats else None
    if steps is None and stats is not None and "tree_depth" in stats:
        steps = float((2 ** stats["tree_depth"]).mean())
    result = {
        "data": args.data, "dims": args.dims, "backend": args.backend, "draws": args.draws, "tune": args.tune,
        "chains": args.chains, "joint": args.joint, "disagreement": args.disagreement,
        "split_dimensions": bool(idata.posterior.attrs.get("split_dimensions", 0)),
        "sim_disagreement": args.sim_disagreement, "wall_s": wall, **settings,
        "min_contrast_ess_bulk": float(contrasts.ess_bulk.min()),
        "min_contrast_ess_tail": float(contrasts.ess_tail.min()),
        "max_contrast_rhat": float(contrasts.r_hat.max()), "min_param_ess_bulk": float(diag.table.ess_bulk.min()),
        "divergences": diag.divergences, "mean_leapfrog_steps": steps, "n_ratings": int(
            survey.ratings.dimension.isin(dims).sum()),
        "cpus": len(os.sched_getaffinity(0)), "diagnostics_ok": diag.ok if args.backend != "advi" else None,
        "status": status, "problems": problems, "mass_matrix": args.mass_matrix,
        "chains_sampled": int(idata.posterior.sizes["chain"]),
    }
    result["ess_per_s"] = result["min_contrast_ess_bulk"] / wall
    result["min_ess_tail"] = float(diag.table.ess_tail.min())
    result["max_rhat"] = float(diag.table.r_hat.max())
    result["sim_seed"], result["scale"] = args.sim_seed, args.scale
    table = diag.table
    result["lowest_ess"] = table.nsmallest(3, "ess_bulk")[["name", "ess_bulk", "r_hat"]].to_dict("records")
    result["highest_rhat"] = table.nlargest(3, "r_hat")[["name", "r_hat", "ess_bulk"]].to_dict("records")
    result["compile_s"] = idata.posterior.attrs.get("compile_seconds")
    result["sampling_s"] = idata.posterior.attrs.get("sampling_seconds")
    result["taus"] = _taus(idata, survey if args.data == "binary-toxicity" else None, args)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.grad_time and not args.backend.startswith("bambi"):
        result["grad_ms"] = gradient_ms(survey, dims, attributes, args.backend)
    result["backend_used"] = str(idata.posterior.attrs.get("backend", args.backend))  # what "auto" chose
    result.update(accelerator(result["backend_used"]))
    _emit(result, args.out)
    return result


def _taus(idata, survey, args) -> list[dict]:
    """Each tau's posterior mean, 95% interval, R-hat and ESS (first batch), and with a simulated survey
    whose truth is known, the planted value and whether the interval covers it."""
    from pluralstats.models import mcmc

    planted = {}
    if survey is not None:
        from pluralstats.survey.simulation_config import PRESETS

        planted = PRESETS[args.data]["disagreement_by"]
    rows = []
    for name in [v for v in idata.posterior.data_vars if str(v).startswith("tau_") and
                 not str(v).startswith("tau_level_")]:
        for dim in idata.posterior[name]["dimension"].to_numpy():
            x = idata.posterior[name].sel(dimension=dim).transpose("chain", "draw").to_numpy()
            lo, hi = np.quantile(x, [0.025, 0.975])
            row = {"name": f"{name}[{dim}]", "mean": float(x.mean()), "lo": float(lo), "hi": float(hi),
                   "r_hat": float(mcmc.rhat(x[:args.chains, :, None])[0]),
                   "ess_bulk": float(mcmc.ess_bulk(x[:, :, None])[0])}
            attr = str(name)[4:]
            if attr in planted:
                row["planted"] = planted[attr]
                row["covers"] = bool(lo <= planted[attr] <= hi)
            rows.append(row)
    return rows


def _emit(result: dict, out: Path | None) -> None:
    print(json.dumps(result))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))


def _table(frame: pd.DataFrame) -> str:
    with pd.option_context("display.width", 250, "display.precision", 3, "display.max_columns", 30):
        return frame.to_string(index=False)


def accelerator(backend: str) -> dict:
    """JAX's device and its peak memory (GPU runs; nothing for the numba backend)."""
    if backend != "jax":
        return {}
    import jax

    device = jax.devices()[0]
    stats = device.memory_stats() or {}
    return {"device": device.device_kind, "device_peak_mb": stats.get("peak_bytes_in_use", 0) / 2**20 or None}


def gradient_ms(survey, dims: list[str], attributes: list[str], backend: str = "nutpie", repeats: int = 20) -> float:
    """Milliseconds of one logp+gradient evaluation of the whole additive model, numba-compiled (one core), or
    JAX-compiled for ``backend`` "jax" (on its default device; the time includes copying the point in and the
    gradient out, as nutpie does on every step)."""
    from pluralstats.models.data import build_model_data
    from pluralstats.models.rating import build_model

    model = build_model(build_model_data(survey, dims, attributes))
    fn = model.logp_dlogp_function(ravel_inputs=True, mode="JAX" if backend == "jax" else "NUMBA")
    fn.set_extra_values({})
    x = np.concatenate([np.asarray(v).ravel() for v in model.initial_point().values()])
    fn(x)
    start = time.perf_counter()
    for _ in range(repeats):
        fn(x)
    return (time.perf_counter() - start) / repeats * 1e3


def scale_curve(args) -> None:
    """One fresh process per scale (so peak memory is that scale's), then a table of how cost grows."""
    rows = []
    if args.cache_dir is not None and args.jobs > 1:  # simulate every scale's survey at once, in parallel
        with ProcessPoolExecutor(args.jobs) as pool:
            list(pool.map(functools.partial(load_data, "paper", 0, cache=args.cache_dir), args.scale))
    for factor in args.scale:
        out = Path(args.out_dir) / f"scale-{factor:g}.json"
        if not (args.reuse and out.exists()):
            cmd = [sys.executable, __file__, "run", "--data", "paper", "--scale", f"{factor:g}", "--draws",
                   str(args.draws), "--tune", str(args.tune), "--seed", str(args.seed), "--backend", args.backend,
                   "--grad-time", "--out", str(out)] + (["--grad-only"] if factor > args.sample_up_to else [])
            cmd += ["--cache-dir", str(args.cache_dir)] if args.cache_dir is not None else []
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        rows.append(json.loads(out.read_text()))
    table = pd.DataFrame(rows).reindex(columns=["scale", "n_ratings", "wall_s", "compile_s", "grad_ms",
                                                "mean_leapfrog_steps", "peak_rss_mb", "min_contrast_ess_bulk",
                                                "device_peak_mb"])
    table["sampling_s"] = table.wall_s - table.compile_s
    table["us_per_rating_grad"] = table.grad_ms * 1e3 / table.n_ratings
    table["kb_per_rating"] = table.peak_rss_mb * 1024 / table.n_ratings
    cols = ["scale", "n_ratings", "wall_s", "compile_s", "sampling_s", "grad_ms", "us_per_rating_grad",
            "mean_leapfrog_steps", "peak_rss_mb", "kb_per_rating", "min_contrast_ess_bulk"]
    table["sampling_vs_linear"] = (table.sampling_s / table.sampling_s.iloc[0]) / (table.scale / table.scale.iloc[0])
    cols.insert(5, "sampling_vs_linear")
    if table.device_peak_mb.notna().any():
        cols.append("device_peak_mb")
    device = rows[0].get("device", "CPU")
    print(f"draws {args.draws} + tune {args.tune} per chain, {args.backend} on {device}, dimensions sampled apart; "
          f"grad_ms: one gradient of the whole 5-dimension model; sampling_vs_linear: sampling time over the first "
          f"scale's scaled linearly; a scale past --sample-up-to is not fitted")
    print(_table(table[cols]))


def report(paths: list[Path]) -> None:
    results = [json.loads(p.read_text()) for p in paths]
    skipped = [str(p) for p, r in zip(paths, results, strict=True) if "ess_per_s" not in r]
    if skipped:
        print(f"skipped (not a benchmark result): {', '.join(skipped)}")
    rows = pd.DataFrame([r for r in results if "ess_per_s" in r])
    base = rows[rows.backend == "bambi"].set_index(["data", "dims"]).ess_per_s
    rows["ratio_vs_bambi"] = [base.get((d, m), np.nan) for d, m in zip(rows.data, rows.dims, strict=True)]
    rows["ratio_vs_bambi"] = rows.ess_per_s / rows.ratio_vs_bambi
    nutpie = rows[rows.backend == "nutpie"].groupby(["data", "dims"]).ess_per_s.median()
    rows["ratio_vs_nutpie"] = [nutpie.get((d, m), np.nan) for d, m in zip(rows.data, rows.dims, strict=True)]
    rows["ratio_vs_nutpie"] = rows.ess_per_s / rows.ratio_vs_nutpie
    cols = ["data", "dims", "backend", "split_dimensions", "disagreement", "sim_seed", "draws", "tune", "chains",
            "cpus", "wall_s", "compile_s",
            "min_contrast_ess_bulk", "min_ess_tail", "max_rhat", "divergences", "diagnostics_ok",
            "mean_leapfrog_steps", "ess_per_s", "ratio_vs_bambi", "ratio_vs_nutpie"]
    cols = [c for c in cols if c in rows]
    print(_table(rows[cols].sort_values(["data", "dims", "backend"])))


def blas(data: str = "paper") -> None:
    """Count BLAS-backed ops in the compiled PyMC graph and time one logp+gradient evaluation, C-compiled
    and numba-compiled (what nutpie calls on every leapfrog step)."""
    import pytensor

    from pluralstats.models.data import build_model_data
    from pluralstats.models.rating import build_model

    print("pytensor blas__ldflags:", repr(pytensor.config.blas__ldflags))
    survey = load_data(data)
    for joint in (False, True):
        model = build_model(build_model_data(survey), joint=joint)
        fn = model.logp_dlogp_function(ravel_inputs=True)
        fn.set_extra_values({})
        x = np.concatenate([np.asarray(v).ravel() for v in model.initial_point().values()])
        ops = [type(node.op).__name__ for node in fn._pytensor_function.maker.fgraph.toposort()]
        blas_ops = sorted({o for o in ops if any(k in o for k in ("Gemm", "Gemv", "Dot", "Ger", "BatchedDot"))})
        fn(x)
        start = time.perf_counter()
        for _ in range(20):
            fn(x)
        ms = (time.perf_counter() - start) / 20 * 1e3
        numba_fn = model.logp_dlogp_function(ravel_inputs=True, mode="NUMBA")
        numba_fn.set_extra_values({})
        numba_fn(x)
        start = time.perf_counter()
        for _ in range(200):
            numba_fn(x)
        numba_ms = (time.perf_counter() - start) / 200 * 1e3
        print(f"joint={joint}: {len(ops)} ops in the C-compiled logp+grad graph; BLAS-type ops: {blas_ops or 'none'}; "
              f"one logp+grad: {ms:.1f} ms (C), {numba_ms:.2f} ms (numba)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--data", choices=["paper", "popquorn", "small", "binary-toxicity"], default="paper")
    r.add_argument("--sim-seed", type=int, default=0, help="seed of the simulated survey (paper, small)")
    r.add_argument("--scale", type=float, default=1.0, help="paper data: multiple of the study's 1,095 raters")
    r.add_argument("--grad-time", action="store_true", help="also time one logp+gradient evaluation")
    r.add_argument("--grad-only", action="store_true", help="no fit: only time the gradient and measure memory")
    r.add_argument("--dims", default="all", help="'all' or comma-separated dimensions")
    r.add_argument("--disagreement", default="", help="fit group x item terms for these attributes (A,B)")
    r.add_argument("--sim-disagreement", type=float, default=0.0,
                   help="paper data: plant group x item terms of this sd for political (the attribute (b) fits)")
    r.add_argument("--backend", choices=["auto", "nutpie", "jax", "pymc", "advi", "bambi", "bambi-nutpie"],
                   default="auto", help="auto: as fit-survey (JAX for one dimension when installed)")
    r.add_argument("--draws", type=int, default=None, help="per chain; default: fit-survey's (2000 / chains)")
    r.add_argument("--tune", type=int, default=None,
                   help="default: the backend's own (fit_survey's DEFAULT_TUNE; 1000 for Bambi)")
    r.add_argument("--chains", type=int, default=4)
    r.add_argument("--max-chains", type=int, default=8,
                   help="add chains while only ESS falls short, up to this many (fit-survey's default 8)")
    r.add_argument("--mass-matrix", choices=["low-rank", "diag"], default=None,
                   help="nutpie's mass-matrix adaptation (default: fit-survey's choice, diagonal with group x item "
                        "terms, else low-rank)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--centered-items", action=argparse.BooleanOptionalAction, default=None,
                   help="default: chosen from ratings per item, as fit-survey does")
    r.add_argument("--centered-raters", action=argparse.BooleanOptionalAction, default=None,
                   help="default: chosen from the data, as fit-survey does")
    r.add_argument("--centered-interactions", action=argparse.BooleanOptionalAction, default=None,
                   help="group x item terms' parametrisation; default: chosen as fit-survey does")
    r.add_argument("--joint", action="store_true")
    r.add_argument("--split", action=argparse.BooleanOptionalAction, default=None,
                   help="sample each dimension's model apart (fit_survey's split_dimensions); default: as "
                        "fit-survey (apart unless --joint)")
    r.add_argument("--cache-dir", type=Path, default=None,
                   help="read the simulated survey from here, or simulate and keep it here")
    r.add_argument("--save-posterior", type=Path, default=None)
    r.add_argument("--out", type=Path, default=None)
    sc = sub.add_parser("scale")
    sc.add_argument("--scale", type=lambda v: [float(x) for x in v.split(",")], default=[1.0, 4.0, 16.0, 64.0])
    sc.add_argument("--draws", type=int, default=100)
    sc.add_argument("--tune", type=int, default=100)
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--backend", choices=["nutpie", "jax"], default="nutpie")
    sc.add_argument("--out-dir", default="bench")
    sc.add_argument("--sample-up-to", type=float, default=float("inf"),
                    help="larger scales only time the gradient and measure memory (no fit)")
    sc.add_argument("--reuse", action="store_true", help="keep a scale's result already in --out-dir")
    sc.add_argument("--cache-dir", type=Path, default=None, help="keep the simulated surveys here (see run)")
    sc.add_argument("--jobs", type=int, default=1,
                    help="with --cache-dir: simulate the scales' surveys in this many processes first")
    p = sub.add_parser("report")
    p.add_argument("paths", nargs="+", type=Path)
    b = sub.add_parser("blas")
    b.add_argument("--data", choices=["paper", "popquorn", "small"], default="paper")
    args = ap.parse_args()
    if args.cmd == "run":
        run(args)
    elif args.cmd == "scale":
        scale_curve(args)
    elif args.cmd == "report":
        report(args.paths)
    else:
        blas(args.data)


if __name__ == "__main__":
    sys.exit(main())
