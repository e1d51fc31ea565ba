"""Coverage of the item-level group differences of the group x item model over simulated surveys.

Each survey is simulated with a new seed and planted group x item terms on ``political``, fitted with
``fit-survey --disagreement political``'s model (nutpie, 2 chains), and for every item and every pair of
political levels A, B the two differences ``disagreements`` prints are checked against their 95% intervals:

* latent: the planted ``w[A, i] - w[B, i]`` (logits: the item's group difference beyond the level shift);
* rating scale: the true ``m_A(i) - m_B(i)``, where ``m_g(i)`` is the expected rating of a new rater of group g
  on item i (g's level effect and group x item term, the other attributes at each survey rater's own levels,
  the rater effect integrated out over its normal; Gauss-Hermite, 41 nodes), computed from the simulation's
  true parameters with the same definition the model's ``rating_diff`` estimates.

tau's interval is checked against the planted sd too. Target: coverage 0.92-0.98 (nominal 0.95; items within
a survey share tau, so surveys are the unit of replication and the spread across surveys is reported).

Designs (``--design``):

* ``two-level``: two political levels (50/50), no other attribute, no other effect, tau 1.0 (by default);
* ``users``: where users are: political with three levels (liberal 45%, moderate 20%, conservative 35%),
  gender, race, age and education beside it with the study's planted level effects and random ones, a 5-point
  scale, tau 0.5; every pair of political levels is checked.

Results (commands and numbers) are in ``analyses/disagreement_coverage.md``. The model is compiled once;
later surveys of the same shape only swap the data (``nutpie``'s ``with_data``).

    python analyses/disagreement_coverage.py --design users --n-surveys 20 --out outputs/disagreement_coverage
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
USERS_POLITICAL = {"liberal": 0.45, "moderate": 0.2, "conservative": 0.35}


def _config(n_participants: int, tau: float, design: str = "two-level"):
    from pluralstats.survey.simulate import SimulationConfig

    if design == "users":
        shares = {**SimulationConfig().attribute_shares, "political": USERS_POLITICAL}
        return SimulationConfig(n_participants=n_participants, prompts_per_language=8, responses_per_prompt=4,
                                prompts_per_participant=4, attribute_shares=shares, dimensions=(DIM,),
                                disagreement_by={"political": tau})
    return SimulationConfig(n_participants=n_participants, prompts_per_language=8, responses_per_prompt=4,
                            prompts_per_participant=4, attribute_shares=SHARES, effects=(), disagreement_sd=tau)


def true_item_means(sim, item_ids, attribute: str, level: str, nodes: int = 41) -> np.ndarray:
    """The true expected rating of a new rater of ``attribute=level`` on each item (module docstring)."""
    from pluralstats.survey.simulation_truth import expected_rating

    truth, people = sim.truth, sim.survey.participants
    beta = truth["beta"][DIM]
    others = sum(people[a].astype(str).map(beta[a]).to_numpy(dtype=float) for a in beta if a != attribute)
    v = np.array([truth["item_effects"][DIM][i] for i in item_ids])
    w = np.array([truth["w"][attribute][DIM][level][i] for i in item_ids])
    x, weights = np.polynomial.hermite_e.hermegauss(nodes)
    u = truth["sigma_rater"][DIM] * x
    eta = (beta[attribute][level] + others)[:, None, None] + (v + w)[None, :, None] + u[None, None, :]
    means = expected_rating(eta.reshape(-1, nodes), np.asarray(truth["cutpoints"][DIM])).reshape(eta.shape)
    return (means @ (weights / weights.sum())).mean(axis=0)


def fit_one(seed: int, n_participants: int, tau: float, draws: int, tune: int, design: str = "two-level") -> dict:
    """Simulate and fit one survey; per pair of levels the latent and rating-scale coverage, the correlation of
    the latent posterior means with the truth, and tau's interval."""
    from itertools import combinations

    from pluralstats.estimates.disagreements import disagreement_tables
    from pluralstats.models.data import build_model_data
    from pluralstats.models.fit import refit
    from pluralstats.models.rating import set_disagreement
    from pluralstats.survey.simulate import simulate_survey

    start = time.perf_counter()
    sim = simulate_survey(_config(n_participants, tau, design), seed=seed)
    data = build_model_data(sim.survey, [DIM], None if design == "users" else ["political"])
    set_disagreement(data, ["political"])
    idata = refit(data, draws=draws, tune=tune, seed=seed)
    planted = sim.truth["w"]["political"][DIM]
    row: dict = {"seed": seed, "design": design, "items": len(data.item_ids)}
    hits, rating_hits, corr = [], [], []
    for a, b in combinations(data.meta.attributes["political"], 2):
        items, _ = disagreement_tables(idata, "political", a, b)
        ids = items.item_id.to_numpy()
        latent = np.array([planted[a][i] - planted[b][i] for i in ids])
        rating = true_item_means(sim, ids, "political", a) - true_item_means(sim, ids, "political", b)
        hit = (items.latent_lo <= latent) & (latent <= items.latent_hi)
        rating_hit = (items.rating_diff_lo <= rating) & (rating <= items.rating_diff_hi)
        row[f"coverage[{a}-{b}]"], row[f"rating_coverage[{a}-{b}]"] = float(hit.mean()), float(rating_hit.mean())
        hits.append(hit.to_numpy())
        rating_hits.append(rating_hit.to_numpy())
        corr.append(float(np.corrcoef(items.latent_diff, latent)[0, 1]))
    tau_draws = idata.posterior["tau_political"].to_numpy().ravel()
    tau_lo, tau_hi = np.quantile(tau_draws, [0.025, 0.975])
    return {**row, "coverage": float(np.concatenate(hits).mean()),
            "rating_coverage": float(np.concatenate(rating_hits).mean()), "correlation": float(np.mean(corr)),
            "tau_mean": float(tau_draws.mean()), "tau_lo": float(tau_lo), "tau_hi": float(tau_hi),
            "tau_covered": bool(tau_lo <= tau <= tau_hi), "divergences": int(idata.sample_stats["diverging"].sum()),
            "seconds": time.perf_counter() - start}


def _mean_se(values: pd.Series) -> str:
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return f"{values.mean():.3f} +- {se:.3f} (per survey {values.min():.2f}-{values.max():.2f})"


def summarize(frame: pd.DataFrame) -> str:
    lines = [f"{len(frame)} surveys x {int(frame['items'].iloc[0])} items: item-level coverage, latent "
             f"{_mean_se(frame.coverage)}; rating scale {_mean_se(frame.rating_coverage)}; correlation with truth "
             f"{frame.correlation.mean():.2f}; tau covered in {frame.tau_covered.mean():.2f} of surveys; "
             f"divergences {int(frame.divergences.sum())}"]
    for col in [c for c in frame.columns if c.startswith(("coverage[", "rating_coverage["))]:
        lines.append(f"  {col}: {_mean_se(frame[col])}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-surveys", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=2000)
    ap.add_argument("--participants", type=int, default=200)
    ap.add_argument("--design", choices=["two-level", "users"], default="two-level")
    ap.add_argument("--tau", type=float, default=None,
                    help="planted sd of the group x item terms (logits) [default: 1.0 two-level, 0.5 users]")
    ap.add_argument("--draws", type=int, default=1000, help="draws per chain")
    ap.add_argument("--tune", type=int, default=400, help="tuning steps per chain")
    ap.add_argument("--out", type=Path, default=Path("outputs/disagreement_coverage"))
    args = ap.parse_args()
    args.tau = args.tau if args.tau is not None else (0.5 if args.design == "users" else 1.0)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.n_surveys):
        rows.append(fit_one(seed, args.participants, args.tau, args.draws, args.tune, args.design))
        pd.DataFrame(rows).to_csv(args.out / "coverage.csv", index=False)  # partial results survive a kill
        print(f"seed {seed}: coverage {rows[-1]['coverage']:.2f}, {rows[-1]['seconds']:.0f} s", file=sys.stderr)
    text = summarize(pd.DataFrame(rows))
    (args.out / "coverage.txt").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
