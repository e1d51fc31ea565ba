"""Parameter recovery on the simulated paper-scale survey .

Simulates the study-shaped survey (1,095 raters x 25 responses x 5 dimensions, the study's planted effects,
`survey.simulate.PAPER_EFFECTS`), fits the rating model, and checks every planted contrast against its 95%
interval and sign, plus all other true contrasts and the hyper-parameters.

    python analyses/recovery.py --out outputs/recovery            # fit and check
    python analyses/recovery.py --posterior post.nc --out ...             # re-check a saved fit
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.models import all_contrasts, diagnose, fit_survey, load_posterior, save_posterior
from pluralstats.survey.simulate import SimulationConfig, simulate_survey


def compare_with_truth(estimates: pd.DataFrame, truth: list[dict]) -> pd.DataFrame:
    """Join estimated and true contrasts; flag interval coverage and sign agreement."""
    true = pd.DataFrame(truth)[["dimension", "attribute", "level_a", "level_b", "diff", "rel_pct"]]
    true = true.rename(columns={"diff": "true_diff", "rel_pct": "true_rel_pct"})
    out = estimates.merge(true, on=["dimension", "attribute", "level_a", "level_b"], how="inner")
    out["covered"] = (out.diff_lo <= out.true_diff) & (out.true_diff <= out.diff_hi)
    out["sign_ok"] = np.sign(out["diff"]) == np.sign(out.true_diff)
    return out


def hyper_table(idata, truth: dict) -> pd.DataFrame:
    rows = []
    post = idata.posterior
    for name in ("sigma_rater", "sigma_item"):
        for dim in post["dimension"].to_numpy():
            x = post[name].sel(dimension=dim).to_numpy().ravel()
            lo, hi = np.quantile(x, [0.025, 0.975])
            rows.append({"parameter": f"{name}[{dim}]", "true": truth[name][dim], "mean": x.mean(), "lo": lo,
                         "hi": hi})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("outputs/recovery"))
    ap.add_argument("--posterior", type=Path, default=None, help="Use this saved fit instead of fitting.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="nutpie")
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=None, help="default: the backend's (fit_survey)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sim = simulate_survey(SimulationConfig(), seed=args.seed)
    print(f"simulated: {len(sim.survey.participants)} raters, {len(sim.survey.items)} items, "
          f"{len(sim.survey.ratings)} rating rows")
    if args.posterior:
        idata = load_posterior(args.posterior)
    else:
        start = time.perf_counter()
        idata = fit_survey(sim.survey, backend=args.backend, draws=args.draws, tune=args.tune, seed=args.seed,
                           progress=False)
        tune = idata.posterior.attrs["tune"]
        print(f"fit ({args.backend}, {args.draws}+{tune} x 2 chains): {time.perf_counter() - start:.0f} s wall "
              f"(sampling incl. compile {idata.posterior.attrs['sampling_seconds']:.0f} s)")
        save_posterior(idata, args.out / "posterior.nc")
    diag = diagnose(idata)
    print("diagnostics:", json.dumps(diag.summary()), "problems:", diag.problems or "none")
    table = compare_with_truth(all_contrasts(idata), sim.truth["contrasts"])
    table.to_csv(args.out / "contrasts_vs_truth.csv", index=False)
    planted = pd.DataFrame(sim.truth["planted"])[["dimension", "attribute", "level_a", "level_b"]]
    key = ["dimension", "attribute", "level_a", "level_b"]
    planted = table.merge(planted, on=key)
    cols = key + ["true_rel_pct", "rel_pct", "rel_lo", "rel_hi", "true_diff", "diff", "diff_lo", "diff_hi",
                  "p_positive", "covered", "sign_ok"]
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.precision", 3):
        print("\nplanted contrasts (survey.simulate.PAPER_EFFECTS):")
        print(planted[cols].to_string(index=False))
        print(f"\nall {len(table)} true contrasts: {table.covered.sum()} inside their 95% interval "
              f"({table.covered.mean():.1%}); sign right where the interval excludes 0: "
              f"{table[(table.diff_lo > 0) | (table.diff_hi < 0)].sign_ok.mean():.0%}")
        print(hyper_table(idata, sim.truth).to_string(index=False))
    ok = bool(planted.covered.all() and planted.sign_ok.all())
    print("\nRECOVERY", "PASSED" if ok else "FAILED", "(every planted contrast inside its 95% interval, sign right)")


if __name__ == "__main__":
    main()
