"""Coverage of the 95% contrast intervals over many small simulated surveys .

Each survey is simulated with a new seed (new raters, items, rater and item effects, rating noise,
and small non-planted attribute effects ~ N(0, 0.08)), fitted with nutpie, and every true
level-vs-reference contrast (truth from the simulator, same definition) is checked against its
95% interval. This is a frequentist calibration check in the spirit of SBC, not full SBC: the
planted effects and sigmas are the simulator's, not prior draws.

The model is compiled once per worker process; later surveys of the same shape only swap the data
(``nutpie``'s ``with_data``), so a fit costs seconds, not a compile.

    python analyses/interval_coverage.py --n-surveys 100 --workers 2 --out outputs/coverage
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pandas as pd

ATTRS = ["gender", "political", "race_ethnicity"]
DIMS = ["toxicity", "emotional_awareness"]
SHARES = {"gender": {"female": 0.5, "male": 0.5}, "political": {"liberal": 0.5, "conservative": 0.5},
          "race_ethnicity": {"white": 0.6, "black": 0.4}}


def _config(n_participants: int):
    from pluralstats.simulate import SimulationConfig

    return SimulationConfig(n_participants=n_participants, prompts_per_language=6, responses_per_prompt=4,
                            prompts_per_participant=3, attribute_shares=SHARES)


_CACHE: dict = {}


def fit_one(args: tuple[int, int, int, int, int, float]) -> list[dict]:
    """Simulate and fit one survey; one row per true contrast. The compiled model is cached per process."""
    from pluralstats.models import all_contrasts
    from pluralstats.models.data import build_model_data
    from pluralstats.models.fit import finish_idata, nutpie_compile, nutpie_sample
    from pluralstats.models.rating import build_model, data_arrays
    from pluralstats.simulate import simulate_survey

    seed, n_participants, draws, tune, chains, beta_sd = args
    start = time.perf_counter()
    try:
        sim = simulate_survey(_config(n_participants), seed=seed)
    except ValueError:  # a planted effect cannot be calibrated on this draw of items (e.g. +44% above 3.5)
        return []
    data = build_model_data(sim.survey, DIMS, ATTRS)
    shape = (tuple(data.rater_ids), tuple(data.item_ids), tuple(map(tuple, data.meta.attributes.values())))
    if shape not in _CACHE:
        _CACHE.clear()
        _CACHE[shape] = nutpie_compile(build_model(data, beta_prior_sd=beta_sd))
    model = _CACHE[shape].with_data(**data_arrays(data))
    raw = nutpie_sample(model, draws=draws, tune=tune, chains=chains, seed=seed, progress=False)
    idata = finish_idata(raw, data, backend="nutpie", joint=False, seconds=time.perf_counter() - start)
    truth = pd.DataFrame(sim.truth["contrasts"])[["dimension", "attribute", "level_a", "level_b", "diff"]]
    merged = all_contrasts(idata).merge(truth.rename(columns={"diff": "true_diff"}),
                                        on=["dimension", "attribute", "level_a", "level_b"])
    merged["covered"] = (merged.diff_lo <= merged.true_diff) & (merged.true_diff <= merged.diff_hi)
    merged["seed"] = seed
    merged["divergences"] = int(idata.sample_stats["diverging"].sum())
    merged["seconds"] = time.perf_counter() - start
    planted = {(e["dimension"], e["attribute"], e["level_a"]) for e in sim.truth["planted"]}
    merged["planted"] = [(d, a, lv) in planted for d, a, lv in
                         zip(merged.dimension, merged.attribute, merged.level_a, strict=True)]
    return merged.to_dict("records")


def summarize(frame: pd.DataFrame) -> str:
    """Coverage with Monte Carlo standard errors (clustered by survey: contrasts share a fit)."""
    lines = []
    for label, sub in (("all contrasts", frame), ("planted contrasts", frame[frame.planted])):
        per_survey = sub.groupby("seed").covered.agg(["sum", "count"])
        p = per_survey["sum"].sum() / per_survey["count"].sum()
        n_s = len(per_survey)
        # ratio-estimator SE over surveys (accounts for correlation within a survey)
        resid = per_survey["sum"] - p * per_survey["count"]
        se = np.sqrt((resid ** 2).sum() / (n_s * (n_s - 1))) / per_survey["count"].mean()
        lines.append(f"{label}: coverage {p:.3f} +- {se:.3f} (MC s.e.) over {len(sub)} intervals in {n_s} surveys; "
                     f"naive binomial s.e. {np.sqrt(p * (1 - p) / len(sub)):.3f}")
    for key, sub in frame.groupby(["dimension", "attribute", "level_a"]):
        lines.append(f"  {key}: {sub.covered.mean():.3f} ({len(sub)})")
    lines.append(f"surveys with divergences: {(frame.groupby('seed').divergences.first() > 0).sum()}; "
                 f"mean seconds per fit {frame.groupby('seed').seconds.first().mean():.1f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-surveys", type=int, default=100)
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--participants", type=int, default=150)
    ap.add_argument("--draws", type=int, default=1000, help="draws per chain")
    ap.add_argument("--tune", type=int, default=300, help="tuning steps per chain (fit-survey's nutpie default)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--chains", type=int, default=2, help="chains per fit (run in parallel, up to 2)")
    ap.add_argument("--beta-prior-sd", type=float, default=2.5, help="prior scale of the attribute effects")
    ap.add_argument("--max-seconds", type=float, default=None, help="stop starting new fits after this")
    ap.add_argument("--out", type=Path, default=Path("outputs/coverage"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tasks = [(s, args.participants, args.draws, args.tune, args.chains, args.beta_prior_sd)
             for s in range(args.first_seed, args.first_seed + args.n_surveys)]
    start = time.perf_counter()
    rows: list[dict] = []
    skipped = 0
    with mp.get_context("spawn").Pool(args.workers) as pool:
        for result in pool.imap_unordered(fit_one, tasks):
            rows += result
            skipped += not result
            pd.DataFrame(rows).to_csv(args.out / "coverage.csv", index=False)  # partial results survive a kill
            if args.max_seconds and time.perf_counter() - start > args.max_seconds:
                print(f"stopping at the --max-seconds budget after {len({r['seed'] for r in rows})} surveys")
                pool.terminate()
                break
    frame = pd.DataFrame(rows)
    print(f"{frame.seed.nunique()} surveys x {args.participants} raters, {len(DIMS)} dimensions, "
          f"{args.workers} workers: {time.perf_counter() - start:.0f} s; {skipped} seeds skipped (simulator "
          f"could not calibrate a planted effect)")
    text = summarize(frame)
    print(text)
    (args.out / "coverage.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
