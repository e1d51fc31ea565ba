"""Does partial pooling pay off for a small group's preferences? The posterior strategy against the group's
own empirical majority, scored by the group's true ordering of each pair.

Each survey is simulated with a new seed: one attribute, political, with two large groups (liberal,
conservative) and a small one (libertarian, 10% of the raters: about 25), planted group x item terms
(``disagreement_sd``) and no level shifts. It is fitted with ``fit-survey --disagreement political``'s model
(nutpie, compiled once; later surveys of the same shape only swap the data). For each group, two preference
sets on toxicity, every prompt:

- ``majority``: the group's own raters' majority label per response (pairs where they rated both and the
  labels differ);
- ``posterior``: the group's predictive ordering from the model (its group x item terms shrunk toward 0
  through tau, so a response few of the group rated borrows from everyone's ratings).

A pair agrees with the truth when its chosen response is truly less toxic for an average rater of the group
(item effect plus the group's planted term). Reported per group, on the pairs both sets contain, as the share
of agreeing pairs for each strategy and their difference, with its Monte Carlo error over surveys
(mean +- standard error; surveys are the unit of replication).

    python analyses/small_group_prefs.py --n-surveys 8 --out outputs/small_group_prefs
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

DIM = "toxicity"
SHARES = {"political": {"liberal": 0.45, "conservative": 0.45, "libertarian": 0.10}}


def _config(n_participants: int, tau: float):
    from pluralstats.survey.simulate import SimulationConfig

    return SimulationConfig(n_participants=n_participants, prompts_per_language=8, responses_per_prompt=4,
                            prompts_per_participant=4, attribute_shares=SHARES, effects=(), disagreement_sd=tau)


def _fit(sim, draws: int, tune: int, seed: int):
    from pluralstats.models.data import build_model_data
    from pluralstats.models.fit import refit
    from pluralstats.models.rating import set_disagreement

    data = build_model_data(sim.survey, [DIM], ["political"])
    set_disagreement(data, ["political"])
    return refit(data, draws=draws, tune=tune, seed=seed)


def _oriented(frame: pd.DataFrame) -> dict[frozenset, str]:
    """Each decided pair (unordered) -> its chosen response."""
    return {frozenset(p): p[0] for p in zip(frame.chosen_item_id, frame.rejected_item_id, strict=True)}


def one_survey(seed: int, n_participants: int, tau: float, draws: int, tune: int) -> list[dict]:
    """Simulate and fit one survey; per group, the agreement of both strategies with the group's truth."""
    from pluralstats.models import diagnose
    from pluralstats.prefs import build_preferences
    from pluralstats.survey.simulate import simulate_survey

    start = time.perf_counter()
    sim = simulate_survey(_config(n_participants, tau), seed=seed)
    idata = _fit(sim, draws, tune, seed)
    ok = diagnose(idata).ok
    v = sim.truth["item_effects"][DIM]
    raters = sim.survey.participants.political.astype(str).value_counts()
    rows = []
    for level in SHARES["political"]:
        w = sim.truth["w"]["political"][DIM][level]
        sets = {}
        for strategy in ("majority", "posterior"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame, _ = build_preferences(sim.survey, strategy=strategy, groups=[f"political={level}"],
                                             objective=DIM, posterior=idata if strategy == "posterior" else None,
                                             use="all", allow_bad_diagnostics=True, seed=seed)
            sets[strategy] = _oriented(frame)
        common = sorted(set(sets["majority"]) & set(sets["posterior"]), key=sorted)
        row = {"seed": seed, "group": level, "raters": int(raters.get(level, 0)), "pairs": len(common),
               "diagnostics_ok": ok}
        for strategy, oriented in sets.items():
            agree = []
            for pair in common:
                chosen = oriented[pair]
                (other,) = pair - {chosen}
                agree.append(v[chosen] + w[chosen] < v[other] + w[other])  # less toxic is better
            row[strategy] = float(np.mean(agree)) if agree else float("nan")
        row["posterior_minus_majority"] = row["posterior"] - row["majority"]
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
    return rows


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Per group: mean raters and pairs, each strategy's agreement and their difference, mean +- se over surveys."""
    out = []
    for group, g in frame.groupby("group", sort=False):
        n = len(g)
        row = {"group": group, "surveys": n, "raters": g.raters.mean(), "pairs": g.pairs.mean()}
        for col in ("majority", "posterior", "posterior_minus_majority"):
            se = g[col].std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
            row[col] = f"{g[col].mean():.3f} +- {se:.3f}"
        out.append(row)
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-surveys", type=int, default=8)
    ap.add_argument("--first-seed", type=int, default=3000)
    ap.add_argument("--participants", type=int, default=250)
    ap.add_argument("--tau", type=float, default=1.0, help="planted sd of the group x item terms (logits)")
    ap.add_argument("--draws", type=int, default=1000, help="draws per chain")
    ap.add_argument("--tune", type=int, default=400, help="tuning steps per chain")
    ap.add_argument("--out", type=Path, default=Path("outputs/small_group_prefs"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for seed in range(args.first_seed, args.first_seed + args.n_surveys):
        rows.extend(one_survey(seed, args.participants, args.tau, args.draws, args.tune))
        pd.DataFrame(rows).to_csv(args.out / "per_survey.csv", index=False)  # partial results survive a kill
        print(f"seed {seed}: {rows[-1]['seconds']:.0f} s", file=sys.stderr)
    table = summarize(pd.DataFrame(rows)).to_string(index=False)
    (args.out / "summary.txt").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
