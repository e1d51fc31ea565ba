"""Benchmark: building preference pairs from the paper-scale survey (1,095 raters x 25 responses x 5
dimensions = 27,375 rated responses, 136,875 rating rows), and how the time grows with the survey.

    python benchmarks/bench_prefs.py [--repeat 3] [--scaling]

Times are the best of ``--repeat`` runs of :func:`build_preferences` (the whole call: the join of
ratings with rater attributes, split, collapse, weighting, judgements, pairing, assembly); simulation
is not timed. ``--scaling`` reruns at 2x and 4x the raters (same prompts): the time per rating row
should stay flat, since nothing is quadratic in the number of ratings.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pluralstats.prefs import build_preferences
from pluralstats.survey.simulate import SimulationConfig, simulate_survey

CASES = [
    ("majority", {"objective": "toxicity"}),
    ("preserve", {"objective": "toxicity"}),
    ("mean", {"objective": "toxicity"}),
    ("preserve", {"objective": "toxicity", "pairing": "within"}),
    ("minority-veto", {"objective": "toxicity"}),
    ("majority", {"objective": "toxicity", "scale": 2, "groups": ["liberal"]}),
    ("preserve", {"objective": "multi", "jury": "political=liberal:0.5,political=conservative:0.5"}),
    ("minority-veto", {"objective": "multi", "veto_share": 0.3}),
    ("mean", {"objective": "multi", "pairing": "within", "jury": "gender=female:0.5,gender=male:0.5"}),
]


def best_of(repeat: int, fn) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def fake_posterior(n_draws: int):
    def probabilities(idata, dimension, group, item_ids):
        rng = np.random.default_rng(len(item_ids))
        return rng.dirichlet(np.ones(5), size=(n_draws, len(item_ids)))
    return probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scaling", action="store_true")
    args = parser.parse_args()
    survey = simulate_survey(SimulationConfig(), seed=0).survey
    n = len(survey.ratings)
    print(f"survey: {survey.participants.shape[0]} raters, {survey.items.shape[0]} responses, "
          f"{n // len(survey.dimensions)} rated responses, {n} rating rows")
    for strategy, options in CASES:
        seconds, (df, _) = best_of(args.repeat, lambda s=strategy, o=options: build_preferences(
            survey, strategy=s, **o))
        label = ", ".join(f"{k}={v}" for k, v in options.items())
        print(f"{strategy:14s} {label:75s} {seconds:6.3f} s  {len(df):5d} pairs")
    seconds, (df, _) = best_of(args.repeat, lambda: build_preferences(
        survey, strategy="posterior", posterior=object(), probability_fn=fake_posterior(1000),
        objective="toxicity"))
    print(f"{'posterior':14s} {'1000 draws (probabilities given; model prediction not timed)':75s} "
          f"{seconds:6.3f} s  {len(df):5d} pairs")
    if args.scaling:
        for factor in (1, 2, 4):
            big = simulate_survey(SimulationConfig(n_participants=1095 * factor, effects=()), seed=1).survey
            seconds, _ = best_of(args.repeat, lambda b=big: build_preferences(b, strategy="preserve",
                                                                                 objective="multi"))
            print(f"scaling x{factor}: {len(big.ratings):7d} rating rows  {seconds:6.3f} s  "
                  f"{1e6 * seconds / len(big.ratings):5.2f} us/row")


if __name__ == "__main__":
    main()
