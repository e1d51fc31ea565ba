"""Coverage of the item-level group differences of the group x item model over simulated surveys.

Each survey is simulated with a new seed and planted group x item terms (``SimulationConfig.disagreement_sd``,
one attribute: political, two levels), fitted with ``fit-survey --disagreement political``'s model (nutpie),
and for every item the planted ``w[conservative, i] - w[liberal, i]`` (logits: the item's group difference
beyond the level shift) is checked against its 95% interval; tau's interval against the planted sd too.
Target: coverage 0.92-0.98 (nominal 0.95; items within a survey share tau, so surveys are the unit of
replication and the spread across surveys is reported).

Measured (seeds 2000-2019, 200 raters, 1000 draws + 400 tuning steps x 2 chains): coverage 0.933 +- 0.008
(per survey 0.88-0.98), correlation of the posterior means with the truth 0.91, tau's interval covering the
planted 1.0 in 19 of 20 surveys, no divergences.

The model is compiled once; later surveys of the same shape only swap the data (``nutpie``'s ``with_data``).

    python analyses/disagreement_coverage.py --n-surveys 20 --out outputs/disagreement_coverage
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

DIM = "toxicity"
SHARES = {"political": {"liberal": 0.5, "conservative": 0.5}}


def _config(n_participants: int, tau: float):
    from pluralstats.survey.simulate import SimulationConfig

    return SimulationConfig(n_participants=n_participants, prompts_per_language=8, responses_per_prompt=4,
                            prompts_per_participant=4, attribute_shares=SHARES, effects=(), disagreement_sd=tau)


def fit_one(seed: int, n_participants: int, tau: float, draws: int, tune: int) -> dict:
    """Simulate and fit one survey; the item-level coverage, correlation and tau's interval."""
    from pluralstats.models.data import build_model_data
    from pluralstats.models.fit import refit
    from pluralstats.models.predict import flat_draws
    from pluralstats.models.rating import set_disagreement
    from pluralstats.survey.simulate import simulate_survey

    start = time.perf_counter()
    sim = simulate_survey(_config(n_participants, tau), seed=seed)
    data = build_model_data(sim.survey, [DIM], ["political"])
    set_disagreement(data, ["political"])
    idata = refit(data, draws=draws, tune=tune, seed=seed)
    levels = data.meta.attributes["political"]
    w = flat_draws(idata, "w_political")[:, 0]
    diff = w[:, :, levels.index("conservative")] - w[:, :, levels.index("liberal")]
    planted = sim.truth["w"]["political"][DIM]
    true = np.array([planted["conservative"][i] - planted["liberal"][i] for i in data.item_ids])
    lo, hi = np.quantile(diff, [0.025, 0.975], axis=0)
    tau_draws = idata.posterior["tau_political"].to_numpy().ravel()
    tau_lo, tau_hi = np.quantile(tau_draws, [0.025, 0.975])
    return {"seed": seed, "items": len(true), "coverage": float(((lo <= true) & (true <= hi)).mean()),
            "correlation": float(np.corrcoef(diff.mean(axis=0), true)[0, 1]), "tau_mean": float(tau_draws.mean()),
            "tau_lo": float(tau_lo), "tau_hi": float(tau_hi), "tau_covered": bool(tau_lo <= tau <= tau_hi),
            "divergences": int(idata.sample_stats["diverging"].sum()), "seconds": time.perf_counter() - start}


def summarize(frame: pd.DataFrame) -> str:
    cov = frame.coverage
    se = cov.std(ddof=1) / np.sqrt(len(cov)) if len(cov) > 1 else float("nan")
    return (f"{len(frame)} surveys x {int(frame['items'].iloc[0])} items: item-level coverage {cov.mean():.3f} "
            f"+- {se:.3f} (per survey {cov.min():.2f}-{cov.max():.2f}); correlation with truth "
            f"{frame.correlation.mean():.2f}; tau covered in {frame.tau_covered.mean():.2f} of surveys; "
            f"divergences {int(frame.divergences.sum())}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-surveys", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=2000)
    ap.add_argument("--participants", type=int, default=200)
    ap.add_argument("--tau", type=float, default=1.0, help="planted sd of the group x item terms (logits)")
    ap.add_argument("--draws", type=int, default=1000, help="draws per chain")
    ap.add_argument("--tune", type=int, default=400, help="tuning steps per chain")
    ap.add_argument("--out", type=Path, default=Path("outputs/disagreement_coverage"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.n_surveys):
        rows.append(fit_one(seed, args.participants, args.tau, args.draws, args.tune))
        pd.DataFrame(rows).to_csv(args.out / "coverage.csv", index=False)  # partial results survive a kill
        print(f"seed {seed}: coverage {rows[-1]['coverage']:.2f}, {rows[-1]['seconds']:.0f} s", file=sys.stderr)
    text = summarize(pd.DataFrame(rows))
    (args.out / "coverage.txt").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
