"""Markdown tables of an experiment run: the shift model's shifts vs the control, and each seed's raw shift.

    python analyses/experiments/shift_table.py runs/optimizer > analyses/experiments/optimizer-results.md

Table 1 is ``results.parquet`` (the Bayesian shift model: conditions as models, seeds as training runs;
rating points with 95% intervals, ``p_better`` polarity-aware). Table 2 is model-free: per condition and
seed, the mean score minus the same seed's control mean, so that seeds can be compared with each other.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def shift_markdown(run: Path) -> str:
    """Both tables of the run folder ``run`` as markdown."""
    table = pd.read_parquet(run / "results.parquet")
    shifts = table[(table.comparison == "shift") & (table.method == "bayes")]
    lines = ["| condition | dimension | shift | 95% interval | % of control | p_better | runs |",
             "| --- | --- | ---: | --- | ---: | ---: | ---: |"]
    for row in shifts.sort_values(["model", "dimension"]).itertuples():
        lines.append(f"| {row.model} | {row.dimension} | {row.estimate:+.3f} | [{row.lo:+.3f}, {row.hi:+.3f}] | "
                     f"{row.rel_pct:+.1f}% | {row.p_better:.3f} | {row.n_runs} |")
    cells = pd.read_csv(run / "cells.csv")
    means = {}
    for cell in cells[cells.status == "done"].itertuples():
        scores = pd.read_parquet(run / cell.folder / "scores.parquet")
        means[(cell.label, cell.seed)] = scores.groupby("dimension").score.mean()
    dims = sorted(next(iter(means.values())).index)
    seeds = sorted({s for _, s in means})
    per_seed = ["| condition | seed | " + " | ".join(dims) + " |", "| --- | ---: |" + " ---: |" * len(dims)]
    for label in [c for c in dict.fromkeys(cells.label) if c != "control"]:
        for seed in seeds:
            if (label, seed) in means and ("control", seed) in means:
                diff = means[(label, seed)] - means[("control", seed)]
                per_seed.append(f"| {label} | {seed} | " + " | ".join(f"{diff[d]:+.3f}" for d in dims) + " |")
    return ("Shift vs control (shift model, rating points):\n\n" + "\n".join(lines)
            + "\n\nPer seed: mean score minus the same seed's control mean (rating points):\n\n"
            + "\n".join(per_seed) + "\n")


if __name__ == "__main__":
    print(shift_markdown(Path(sys.argv[1])))
