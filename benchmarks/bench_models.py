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
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

warnings.filterwarnings("ignore")
POPQUORN = Path(__file__).resolve().parents[1] / "analyses" / "popquorn" / "survey.toml"


def load_data(name: str):
    from pluralstats.survey import load_survey
    from pluralstats.survey.simulate import SimulationConfig, simulate_survey

    if name == "paper":
        return simulate_survey(SimulationConfig(), seed=0).survey
    if name == "small":  # for checking this script quickly
        return simulate_survey(SimulationConfig(n_participants=120, prompts_per_language=6, responses_per_prompt=4,
                                                prompts_per_participant=3), seed=0).survey
    if name == "popquorn":
        return load_survey(POPQUORN)
    raise SystemExit(f"unknown data {name}")


def bambi_idata(survey, dimension: str, attributes: list[str], draws: int, tune: int, chains: int, seed: int):
    """Bambi's cumulative model with its defaults, re-expressed in pluralstats' posterior layout."""
    import bambi as bmb

    from pluralstats.models.data import build_model_data
    from pluralstats.models.fit import finish_idata

    data = build_model_data(survey, [dimension], attributes)
    frame = survey.ratings_with_attributes()
    frame = frame[frame.dimension == dimension].copy()
    frame["rating"] = pd.Categorical(frame.rating, categories=range(1, survey.config.scale_max + 1), ordered=True)
    for attr in attributes:  # formulae takes the alphabetically first level as reference: prefix the order
        order = {lv: f"{i:02d}_{lv}" for i, lv in enumerate(data.meta.attributes[attr])}
        frame[attr] = frame[attr].astype(str).map(order)
    formula = "rating ~ " + " + ".join(attributes) + " + (1|participant_id) + (1|item_id)"
    model = bmb.Model(formula, frame, family="cumulative")
    fitted = model.fit(draws=draws, tune=tune, chains=chains, cores=min(chains, 2), random_seed=seed,
                       progressbar=False)
    post = fitted.posterior
    out = {}
    for attr in attributes:
        levels = data.meta.attributes[attr]
        b = post[attr].rename({f"{attr}_dim": "level"})
        b = b.assign_coords(level=[str(v)[3:] for v in b["level"].to_numpy()]).reindex(level=levels[1:])
        full = xr.concat([xr.zeros_like(b.isel(level=[0])).assign_coords(level=[levels[0]]), b], dim="level")
        out[f"beta_{attr}"] = full.rename({"level": f"{attr}_level"}).expand_dims(dimension=[dimension], axis=2)
    thr = [d for d in post["threshold"].dims if d not in ("chain", "draw")][0]
    out["cutpoints"] = post["threshold"].rename({thr: "cutpoint"}).expand_dims(dimension=[dimension], axis=2)
    out["sigma_rater"] = post["1|participant_id_sigma"].expand_dims(dimension=[dimension], axis=2)
    out["sigma_item"] = post["1|item_id_sigma"].expand_dims(dimension=[dimension], axis=2)
    item = post["1|item_id"]
    item_dim = [d for d in item.dims if d not in ("chain", "draw")][0]
    item = item.rename({item_dim: "item"}).reindex(item=data.item_ids.astype(str))
    out["item_effect"] = item.expand_dims(dimension=[dimension], axis=3)
    raw = fitted.copy()
    raw.posterior = xr.Dataset(out)
    return finish_idata(raw, data, backend="bambi", joint=False, seconds=0.0)


def run(args) -> dict:
    from pluralstats.models import diagnose
    from pluralstats.models.fit import fit_survey, resolved_settings

    survey = load_data(args.data)
    dims = survey.dimensions if args.dims == "all" else args.dims.split(",")
    # as fit-survey does: every attribute, less those confounded with the items (country in the simulated design)
    if args.data == "popquorn":
        attributes = [a for a in ("gender", "race_ethnicity", "age_group", "education") if a in survey.attributes]
    else:
        from pluralstats.models.data import build_model_data

        attributes = list(build_model_data(survey, dims).meta.attributes)
    start = time.perf_counter()
    if args.backend == "bambi":
        if len(dims) != 1:
            raise SystemExit("bambi baseline: one dimension per run (Bambi fits one response)")
        args.tune = 1000 if args.tune is None else args.tune  # PyMC's (and so Bambi's) default
        idata = bambi_idata(survey, dims[0], attributes, args.draws, args.tune, args.chains, args.seed)
    else:
        idata = fit_survey(survey, dimensions=dims, attributes=attributes, backend=args.backend, draws=args.draws,
                           tune=args.tune, chains=args.chains, seed=args.seed, progress=False,
                           centered_items=args.centered_items, centered_raters=args.centered_raters,
                           joint=args.joint)
    wall = time.perf_counter() - start
    settings = {} if args.backend == "bambi" else resolved_settings(idata)
    if args.save_posterior:
        from pluralstats.models import save_posterior

        save_posterior(idata, args.save_posterior)
    diag = diagnose(idata)
    contrasts = diag.table[diag.table.kind == "contrast"]
    stats = idata.sample_stats if "sample_stats" in idata.groups() else None
    steps = float(stats["n_steps"].mean()) if stats is not None and "n_steps" in stats else None
    if steps is None and stats is not None and "tree_depth" in stats:
        steps = float((2 ** stats["tree_depth"]).mean())
    result = {
        "data": args.data, "dims": args.dims, "backend": args.backend, "draws": args.draws, "tune": args.tune,
        "chains": args.chains, "joint": args.joint, "wall_s": wall, **settings,
        "min_contrast_ess_bulk": float(contrasts.ess_bulk.min()),
        "min_contrast_ess_tail": float(contrasts.ess_tail.min()),
        "max_contrast_rhat": float(contrasts.r_hat.max()), "min_param_ess_bulk": float(diag.table.ess_bulk.min()),
        "divergences": diag.divergences, "mean_leapfrog_steps": steps, "n_ratings": int(
            survey.ratings.dimension.isin(dims).sum()),
        "cpus": len(os.sched_getaffinity(0)), "diagnostics_ok": diag.ok if args.backend != "advi" else None,
    }
    result["ess_per_s"] = result["min_contrast_ess_bulk"] / wall
    print(json.dumps(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    return result


def report(paths: list[Path]) -> None:
    results = [json.loads(p.read_text()) for p in paths]
    skipped = [str(p) for p, r in zip(paths, results, strict=True) if "ess_per_s" not in r]
    if skipped:
        print(f"skipped (not a benchmark result): {', '.join(skipped)}")
    rows = pd.DataFrame([r for r in results if "ess_per_s" in r])
    base = rows[rows.backend == "bambi"].set_index(["data", "dims"]).ess_per_s
    rows["ratio_vs_bambi"] = [base.get((d, m), np.nan) for d, m in zip(rows.data, rows.dims, strict=True)]
    rows["ratio_vs_bambi"] = rows.ess_per_s / rows.ratio_vs_bambi
    cols = ["data", "dims", "backend", "joint", "centered_items", "centered_raters",
            "draws", "cpus", "wall_s", "min_contrast_ess_bulk",
            "max_contrast_rhat", "divergences", "mean_leapfrog_steps", "ess_per_s", "ratio_vs_bambi"]
    with pd.option_context("display.width", 220, "display.precision", 3, "display.max_columns", 20):
        print(rows[cols].sort_values(["data", "dims", "backend"]).to_string(index=False))


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
    r.add_argument("--data", choices=["paper", "popquorn", "small"], default="paper")
    r.add_argument("--dims", default="all", help="'all' or comma-separated dimensions")
    r.add_argument("--backend", choices=["nutpie", "pymc", "advi", "bambi"], default="nutpie")
    r.add_argument("--draws", type=int, default=1000)
    r.add_argument("--tune", type=int, default=None,
                   help="default: the backend's own (fit_survey's DEFAULT_TUNE; 1000 for Bambi)")
    r.add_argument("--chains", type=int, default=2)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--centered-items", action=argparse.BooleanOptionalAction, default=None,
                   help="default: chosen from ratings per item, as fit-survey does")
    r.add_argument("--centered-raters", action=argparse.BooleanOptionalAction, default=False,
                   help="default: non-centred, as fit-survey")
    r.add_argument("--joint", action="store_true")
    r.add_argument("--save-posterior", type=Path, default=None)
    r.add_argument("--out", type=Path, default=None)
    p = sub.add_parser("report")
    p.add_argument("paths", nargs="+", type=Path)
    b = sub.add_parser("blas")
    b.add_argument("--data", choices=["paper", "popquorn", "small"], default="paper")
    args = ap.parse_args()
    if args.cmd == "run":
        run(args)
    elif args.cmd == "report":
        report(args.paths)
    else:
        blas(args.data)


if __name__ == "__main__":
    sys.exit(main())
