"""Coverage of the 95% contrast intervals over many small simulated surveys .

Each survey is simulated with a new seed (new raters, items, rater and item effects, rating noise,
and small non-planted attribute effects ~ N(0, 0.08)), fitted with nutpie, and every true
level-vs-reference contrast (truth from the simulator, same definition) is checked against its
95% interval. This is a frequentist calibration check in the spirit of SBC, not full SBC: the
planted effects and sigmas are the simulator's, not prior draws.

The model is compiled once per worker process; later surveys of the same shape only swap the data
(``nutpie``'s ``with_data``), so a fit costs seconds, not a compile.

On some draws of raters and items a planted effect cannot be reached on the rating scale (the +44%
on emotional awareness would need a mean rating above 5 when the reference level already rates
high). ``--infeasible skip`` (the default) drops such seeds; ``--infeasible shrink`` keeps them with
the offending effect at the largest of 3/4, 1/2, 1/4 of its planted value that the design can
reach, and marks their rows ``shrunk`` so coverage can be reported with and without them. Dropping
them is not neutral: they are the seeds whose reference level rates highest.

    python analyses/interval_coverage.py --n-surveys 100 --workers 2 --out outputs/coverage
"""

from __future__ import annotations

import argparse
import dataclasses
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
    from pluralstats.survey.simulate import SimulationConfig

    return SimulationConfig(n_participants=n_participants, prompts_per_language=6, responses_per_prompt=4,
                            prompts_per_participant=3, attribute_shares=SHARES)


SHRINK_FACTORS = (0.75, 0.5, 0.25)


def _simulate(seed: int, n_participants: int, infeasible: str):
    """The simulated survey of ``seed`` and the scale applied to its infeasible planted effect (1.0 when none
    was), or ``(None, None)`` when a planted effect is infeasible and ``infeasible`` is ``"skip"``."""
    from pluralstats.errors import InputError
    from pluralstats.survey.simulate import simulate_survey

    cfg = _config(n_participants)
    try:
        return simulate_survey(cfg, seed=seed), 1.0
    except InputError as err:
        if infeasible == "skip":
            return None, None
        # the simulator names the effect it could not calibrate as "(attribute=level_a vs level_b)"
        message = str(err)
        bad = [e for e in cfg.effects
               if e.dimension in message and f"({e.attribute}={e.level_a} vs {e.level_b})" in message]
        if len(bad) != 1:
            raise
    for factor in SHRINK_FACTORS:
        effects = tuple(dataclasses.replace(e, rel_pct=e.rel_pct * factor) if e == bad[0] else e
                        for e in cfg.effects)
        try:
            return simulate_survey(dataclasses.replace(cfg, effects=effects), seed=seed), factor
        except InputError:
            continue
    return None, None


def fit_one(args: tuple[int, int, int, int, int, float, str]) -> list[dict]:
    """Simulate and fit one survey; one row per true contrast (none for a skipped seed). The compiled model
    is cached per process."""
    from pluralstats.models.contrasts import reference_contrast_draws, summarize_draws
    from pluralstats.models.data import build_model_data
    from pluralstats.models.fit import refit

    seed, n_participants, draws, tune, chains, beta_sd, infeasible = args
    start = time.perf_counter()
    sim, factor = _simulate(seed, n_participants, infeasible)
    if sim is None:
        return []
    data = build_model_data(sim.survey, DIMS, ATTRS)
    idata = refit(data, draws=draws, tune=tune, chains=chains, seed=seed, beta_prior_sd=beta_sd)
    truth = pd.DataFrame(sim.truth["contrasts"])[["dimension", "attribute", "level_a", "level_b", "diff"]]
    draws = reference_contrast_draws(idata)
    table = pd.concat([summarize_draws(ds).assign(diff_sd=ds["diff"].std(("chain", "draw")).to_numpy())
                       for ds in draws], ignore_index=True)
    merged = table.merge(truth.rename(columns={"diff": "true_diff"}),
                         on=["dimension", "attribute", "level_a", "level_b"])
    merged["covered"] = (merged.diff_lo <= merged.true_diff) & (merged.true_diff <= merged.diff_hi)
    merged["seed"] = seed
    merged["divergences"] = int(idata.sample_stats["diverging"].sum())
    merged["seconds"] = time.perf_counter() - start
    planted = {(e["dimension"], e["attribute"], e["level_a"]) for e in sim.truth["planted"]}
    merged["planted"] = [(d, a, lv) in planted for d, a, lv in
                         zip(merged.dimension, merged.attribute, merged.level_a, strict=True)]
    merged["shrunk"] = factor != 1.0
    merged["shrink_factor"] = factor
    # (posterior mean - truth) / posterior sd: mean near 0 and sd near 1 when intervals are calibrated
    merged["z"] = (merged["diff"] - merged.true_diff) / merged.diff_sd
    return merged.to_dict("records")


def _coverage_line(label: str, sub: pd.DataFrame) -> str:
    """Coverage with a Monte Carlo s.e. clustered by survey (contrasts share a fit), the naive binomial s.e.,
    and the mean and sd of z = (posterior mean - truth) / posterior sd."""
    per_survey = sub.groupby("seed").covered.agg(["sum", "count"])
    p = per_survey["sum"].sum() / per_survey["count"].sum()
    n_s = len(per_survey)
    # ratio-estimator SE over surveys (accounts for correlation within a survey)
    resid = per_survey["sum"] - p * per_survey["count"]
    se = np.sqrt((resid ** 2).sum() / (n_s * (n_s - 1))) / per_survey["count"].mean() if n_s > 1 else np.nan
    z = f"; z mean {sub.z.mean():+.3f}, sd {sub.z.std():.3f}" if "z" in sub else ""
    return (f"{label}: coverage {p:.3f} +- {se:.3f} (MC s.e.) over {len(sub)} intervals in {n_s} surveys; "
            f"naive binomial s.e. {np.sqrt(p * (1 - p) / len(sub)):.3f}{z}")


def summarize(frame: pd.DataFrame) -> str:
    """Coverage of all and of planted contrasts (with and without seeds whose infeasible planted effect was
    shrunk, when there are any), then per contrast, divergences and fit time."""
    shrunk = frame.shrunk.astype(bool) if "shrunk" in frame else pd.Series(False, index=frame.index)
    subsets = [("all contrasts", frame), ("planted contrasts", frame[frame.planted]),
               ("not planted contrasts", frame[~frame.planted])]
    if shrunk.any():
        kept = frame[~shrunk]
        subsets += [("all contrasts, feasible seeds only", kept),
                    ("planted contrasts, feasible seeds only", kept[kept.planted]),
                    ("all contrasts, shrunk seeds only", frame[shrunk]),
                    ("planted contrasts, shrunk seeds only", frame[shrunk & frame.planted])]
    lines = [_coverage_line(label, sub) for label, sub in subsets if len(sub)]
    for key, sub in frame.groupby(["dimension", "attribute", "level_a"]):
        p = sub.covered.mean()
        z = f", z mean {sub.z.mean():+.2f} (sd {sub.z.std():.2f})" if "z" in sub else ""
        lines.append(f"  {key}: {p:.3f} +- {np.sqrt(p * (1 - p) / len(sub)):.3f} ({len(sub)}){z}")
    lines.append(f"surveys with divergences: {(frame.groupby('seed').divergences.first() > 0).sum()}; "
                 f"mean seconds per fit {frame.groupby('seed').seconds.first().mean():.1f}")
    if shrunk.any():
        factors = frame[shrunk].groupby("seed").shrink_factor.first().value_counts().sort_index()
        lines.append("seeds with a shrunk planted effect (factor: surveys): "
                     + ", ".join(f"{f:g}: {n}" for f, n in factors.items()))
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
    ap.add_argument("--infeasible", choices=["skip", "shrink"], default="skip",
                    help="a seed whose planted effect the design cannot reach: drop it, or keep it with the "
                         "effect shrunk to the largest feasible of 3/4, 1/2, 1/4 of its value (rows marked shrunk)")
    ap.add_argument("--max-seconds", type=float, default=None, help="stop starting new fits after this")
    ap.add_argument("--out", type=Path, default=Path("outputs/coverage"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tasks = [(s, args.participants, args.draws, args.tune, args.chains, args.beta_prior_sd, args.infeasible)
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
          f"could not calibrate a planted effect; --infeasible {args.infeasible})")
    text = summarize(frame)
    print(text)
    (args.out / "coverage.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
