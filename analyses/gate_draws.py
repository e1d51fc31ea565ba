"""How many draws per chain a slowly mixing scalar needs before the gate's fixed R-hat cut stops failing it by
chance, and whether the cut still catches a stuck chain there.

A group x item model's disagreement scale tau mixes slowest of all its quantities: bulk ESS 130-570 from
4 x 500 draws (within-chain autocorrelation time about 4-5) under every sampler measured (benchmarks/
gate_levers.py, docs/speed.md). Here one scalar is a stationary AR(1) series of 4 chains with autocorrelation
time ``iat``; the rows give the share of such fits whose R-hat (larger of bulk and folded) exceeds 1.01
(false alarm, well mixed) and the share caught when one chain is offset by 0.4 posterior sd (detection).

    python analyses/gate_draws.py --reps 2000 --out analyses/gate_draws.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.models import mcmc
from pluralstats.models.diagnostics import GATE_CHAINS, MAX_RHAT
from pluralstats.models.gate_bounds import ar1_chains

OFFSET = 0.4


def rhat_fail_rates(iat: float, draws: int, reps: int, rng: np.random.Generator) -> dict:
    """False-alarm and detection rates of the scalar R-hat cut for ``reps`` simulated scalars."""
    x = ar1_chains(GATE_CHAINS, draws, reps, iat, rng)
    s = mcmc.summarise(x)
    stuck = x.copy()
    stuck[0] += OFFSET
    t = mcmc.summarise(stuck)
    return {"iat": iat, "draws per chain": draws, "false alarm": float(
        (np.maximum(s["r_hat_bulk"], s["r_hat_folded"]) > MAX_RHAT).mean()),
            "detects 0.4 sd": float((np.maximum(t["r_hat_bulk"], t["r_hat_folded"]) > MAX_RHAT).mean()),
            "median bulk ESS": float(np.median(s["ess_bulk"]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--iats", default="1,2,3,4,5")
    ap.add_argument("--draws", default="500,750,1000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = [rhat_fail_rates(float(i), int(d), args.reps, rng) for i in args.iats.split(",")
            for d in args.draws.split(",")]
    text = pd.DataFrame(rows).to_markdown(index=False, floatfmt=(".0f", ".0f", ".3f", ".3f", ".0f"))
    print(text)
    if args.out:
        args.out.write_text(f"Command: `python analyses/gate_draws.py --reps {args.reps} --iats {args.iats} "
                            f"--draws {args.draws} --seed {args.seed}`\n\n{text}\n")


if __name__ == "__main__":
    main()
