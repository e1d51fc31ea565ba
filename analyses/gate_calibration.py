"""How often the diagnostics gate fails a good fit, and how often it catches a stuck chain.

The gate's rule (pluralstats.models.diagnostics) is applied to simulated posteriors shaped like the model's at
two designs: every gated quantity is a stationary AR(1) series of 4 chains x 500 draws with integrated
autocorrelation time tau (tau 1: the nearly independent draws NUTS gives most terms of these models; on a fit of
the binary stand-in the families' median within-chain tau was 0.83-0.88, while a disagreement scale tau had bulk
ESS of only 140-560 from 2,000 draws), and a family of
exchangeable terms is simulated as its free terms, independent.

* **false alarm**: the share of such well-mixed posteriors the gate fails (R-hat or ESS);
* **detection**: the share it fails when one chain of one quantity is offset by 0.4 posterior sd: one reported
  scalar, one term of the largest family, or every term of the largest family at once (a chain stuck
  elsewhere moves a whole family).

    python analyses/gate_calibration.py --reps 200 --designs binary-toxicity --out analyses/gate_calibration.md
    python analyses/gate_calibration.py --reps 40 --taus 1 --designs paper-political \
        --out analyses/gate_calibration_paper.md
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.models import mcmc
from pluralstats.models.diagnostics import MAX_RHAT, MIN_ESS
from pluralstats.models.gate_bounds import ar1_chains, family_bounds, rounded_tau

#: gated quantities of the two designs the issue's targets name (scalars: level effects, cut points, sds,
#: taus and level-vs-reference contrasts; families: free terms)
DESIGNS = {
    # one binary dimension; politics (3 levels), gender (2), race (5); --disagreement politics,gender; 120 items
    "binary-toxicity": {"scalars": 19, "families": {"item_effect": 119, "w_politics": 238, "w_gender": 119}},
    # five dimensions, 400 items, --disagreement political (2 levels), five attributes in the model
    "paper-political": {"scalars": 145, "families": {"item_effect": 1995, "w_political": 1995}},
}
OFFSET = 0.4
CHAINS, DRAWS = 4, 500


def gate_fails(scalars: np.ndarray, families: dict[str, np.ndarray]) -> bool:
    """The gate's R-hat and ESS rule (pluralstats.models.diagnostics) on ``(chain, draw, n)`` arrays: scalars at
    R-hat <= 1.01 (bulk and folded), family terms' bulk R-hat against the bound for their size and own mixing,
    ESS >= 400 for all (sampler checks have nothing to judge here)."""
    s = mcmc.summarise(scalars)
    if (np.maximum(s["r_hat_bulk"], s["r_hat_folded"]) > MAX_RHAT).any():
        return True
    if (np.minimum(s["ess_bulk"], s["ess_tail"]) < MIN_ESS).any():
        return True
    for x in families.values():
        f = mcmc.summarise(x)
        taus = np.array([rounded_tau(t) for t in mcmc.within_chain_tau(x)])
        bounds = {t: family_bounds(x.shape[2], CHAINS, DRAWS, t)["max_r_hat"] for t in np.unique(taus)}
        if (f["r_hat_bulk"] > np.array([bounds[t] for t in taus])).any():  # each term against its own mixing
            return True
        if (np.minimum(f["ess_bulk"], f["ess_tail"]) < MIN_ESS).any():
            return True
    return False


def one_rep(design: dict, tau: float, case: str, rng: np.random.Generator) -> bool:
    scalars = ar1_chains(CHAINS, DRAWS, design["scalars"], tau, rng)
    families = {name: ar1_chains(CHAINS, DRAWS, n, tau, rng) for name, n in design["families"].items()}
    largest = max(families, key=lambda k: families[k].shape[2])
    if case == "scalar":
        scalars[0, :, 0] += OFFSET
    elif case == "family term":
        families[largest][0, :, 0] += OFFSET
    elif case == "whole family":
        families[largest][0] += OFFSET
    return gate_fails(scalars, families)


def study(reps: int, taus: list[float], seed: int, designs: list[str]) -> pd.DataFrame:
    rows = []
    for name in designs:
        design = DESIGNS[name]
        for tau in taus:
            for case in ("well mixed", "scalar", "family term", "whole family"):
                rng = np.random.default_rng([seed, int(tau * 100), len(rows)])
                start = time.perf_counter()
                fails = np.array([one_rep(design, tau, case, rng) for _ in range(reps)])
                rate = float(fails.mean())
                rows.append({"design": name, "tau": tau, "case": case, "reps": reps, "fail_rate": rate,
                             "se": float(np.sqrt(max(rate * (1 - rate), 1.0 / reps) / reps)),
                             "seconds": round(time.perf_counter() - start, 1)})
                print(json.dumps(rows[-1]), flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--taus", default="0.75,1,2,3", help="within-chain autocorrelation times to simulate")
    ap.add_argument("--designs", default=",".join(DESIGNS), help=f"some of {', '.join(DESIGNS)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="markdown table (a .json beside it keeps the rows)")
    args = ap.parse_args()
    table = study(args.reps, [float(t) for t in args.taus.split(",")], args.seed, args.designs.split(","))
    wide = table.pivot_table(index=["design", "tau"], columns="case", values="fail_rate").reset_index()
    wide = wide[["design", "tau", "well mixed", "scalar", "family term", "whole family"]]
    wide.columns = ["design", "tau", "false alarm", "detects: one scalar", "detects: one family term",
                    "detects: whole family"]
    text = wide.to_markdown(index=False, floatfmt=".3f")
    print(text)
    if args.out:
        args.out.write_text(f"Command: `python analyses/gate_calibration.py --reps {args.reps} --taus {args.taus} "
                            f"--designs {args.designs}`\n\n{text}\n")
        args.out.with_suffix(".json").write_text(table.to_json(orient="records", indent=1))


if __name__ == "__main__":
    main()
