"""The tuned-model side of ``compare --groups A B --eval results.parquet`` .

The survey says how far group A's ratings sit from group B's; the evaluation says how far the
model tuned on A's preferences sits from the model tuned on B's, scored on the same scale. Both
are posteriors, so we can ask, per dimension: do they have the same sign, and how large is the
model difference relative to the survey difference (ratio) or beside it (gap = model - survey)?
The two posteriors come from independent data, so their draws are paired at random.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.evaluate.evaluation import read_results, shift_fit_from
from pluralstats.evaluate.shift import ShiftFit, fewest_runs, summarize_draws

AGREEMENT_COLUMNS = ["p_same_sign", "gap", "gap_lo", "gap_hi", "ratio", "ratio_lo", "ratio_hi"]


def model_name_for(group: str, models: Sequence[str]) -> str:
    """The evaluated model that stands for ``group``: ``liberal`` matches ``liberal`` or ``political=liberal``."""
    level = group.split("=", 1)[-1]
    matches = [m for m in models if m == group or m.split("=", 1)[-1] == level]
    if len(matches) != 1:
        raise InputError(f"No single evaluated model for group '{group}' (models: {', '.join(models)}); "
                         f"name the models after the groups, e.g. --model {level}=DIR")
    return matches[0]


def model_side(fit: ShiftFit, model_a: str, model_b: str, dimensions: Sequence[str] | None = None,
               prob: float = 0.95) -> pd.DataFrame:
    """Per dimension, model A - model B in points (with the draws) and in percent of B's mean score.

    The draws are the difference of the two models' shifts in the fit's reading (``fit.population``: for a
    new prompt, or over the evaluated prompts). ``n_runs``: the fewer training runs of the two models
    (NaN when the posterior does not record them); with one, a model difference is a run difference too.
    """
    for name in (model_a, model_b):
        if name not in fit.models:
            raise InputError(f"Model '{name}' is not in the evaluation (models: {', '.join(fit.models)})")
    shift, means = fit.shift_draws(), fit.model_mean_draws()
    ia, ib = fit.models.index(model_a), fit.models.index(model_b)
    n_runs = fewest_runs(fit.n_runs, model_a, model_b)
    rows = []
    for j, dim in enumerate(fit.dimensions):
        if dimensions and dim not in dimensions:
            continue
        diff = shift[:, ia, j] - shift[:, ib, j]
        s = summarize_draws(diff, means[:, ib, j], prob)
        rows.append({"dimension": dim, "diff": s["estimate"], "lo": s["lo"], "hi": s["hi"],
                     "model_rel_pct": s["rel_pct"], "model_rel_lo": s["rel_lo"], "model_rel_hi": s["rel_hi"],
                     "n_runs": n_runs, "draws": diff})
    return pd.DataFrame(rows)


def model_side_from_eval(eval_path: str | Path, group_a: str, group_b: str,
                         dimensions: Sequence[str] | None = None, prob: float = 0.95) -> pd.DataFrame:
    """:func:`model_side` read from an evaluation written by ``pluralstats evaluate``."""
    _, idata = read_results(eval_path)
    if idata is None:
        raise InputError(f"{eval_path}: its posterior (.posterior.nc) is missing; rerun evaluate")
    fit = shift_fit_from(idata)
    return model_side(fit, model_name_for(group_a, fit.models), model_name_for(group_b, fit.models),
                      dimensions, prob)


def agreement(survey_diff: np.ndarray, model_diff: np.ndarray, *, prob: float = 0.95, seed: int = 0,
              n: int = 4000) -> dict[str, float]:
    """Same-sign probability, gap (model - survey) and ratio (model / survey) from paired draws."""
    rng = np.random.default_rng(seed)
    s = rng.choice(np.ravel(survey_diff), n)
    m = rng.choice(np.ravel(model_diff), n)
    q = [(1 - prob) / 2, 0.5, 1 - (1 - prob) / 2]
    gap = m - s
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = m / s
    ratio = ratio[np.isfinite(ratio)]
    r_lo, r_med, r_hi = np.quantile(ratio, q) if ratio.size else (np.nan,) * 3
    return {"p_same_sign": float((np.sign(s) == np.sign(m)).mean()), "gap": float(gap.mean()),
            "gap_lo": float(np.quantile(gap, q[0])), "gap_hi": float(np.quantile(gap, q[2])),
            "ratio": float(r_med), "ratio_lo": float(r_lo), "ratio_hi": float(r_hi)}


def compare_with_models(survey_idata, group_a: str, group_b: str, eval_path: str | Path, *,
                        dimensions: Sequence[str] | None = None, prob: float = 0.95, seed: int = 0,
                        suppress_small: bool = True) -> pd.DataFrame:
    """Survey contrast A - B beside the tuned-model difference, with their agreement, per dimension (the
    survey side and the agreement blanked when a group has fewer than k raters, unless not ``suppress_small``)."""
    from pluralstats.compare import compare_groups, resolve_groups, suppress_compare
    from pluralstats.models import contrast_draws, meta_of

    if dimensions is None:  # the dimensions both sides have
        dimensions = [d for d in meta_of(survey_idata).dimensions]
    side = model_side_from_eval(eval_path, group_a, group_b, dimensions, prob)
    dims = [d for d in dimensions if d in set(side.dimension)]
    if not dims:
        raise InputError(f"The survey posterior and the evaluation share no dimension ({dimensions})")
    side = side[side.dimension.isin(dims)]
    table = compare_groups(survey_idata, group_a, group_b, dimensions=dims, prob=prob,
                           model_side=side.drop(columns="draws"), suppress_small=suppress_small)
    # model_ prefix: the tuned-model side, kept when a small survey group blanks the rest of the row
    table = table.merge(side[["dimension", "model_rel_pct", "model_rel_lo", "model_rel_hi", "n_runs"]]
                        .rename(columns={"n_runs": "model_n_runs"}), on="dimension", how="left")
    attribute, level_a, level_b = resolve_groups(survey_idata, group_a, group_b)
    survey_draws = contrast_draws(survey_idata, attribute, level_a, level_b, dims)["diff"]
    model_draws = dict(zip(side.dimension, side.draws, strict=True))
    rows = [agreement(survey_draws.sel(dimension=d).values, model_draws[d], prob=prob, seed=seed)
            for d in table.dimension]
    table = pd.concat([table.reset_index(drop=True), pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)], axis=1)
    return suppress_compare(table, survey_idata, suppress_small)


def print_agreement(table: pd.DataFrame, out: Path, console) -> list[Path]:
    """Print the model-vs-survey agreement per dimension (and the one-seed note) and draw Figure 2 into ``out``."""
    from rich.table import Table

    from pluralstats.plots.figures import figure2
    from pluralstats.report import ONE_RUN_NOTE

    view = Table(title="Tuned models vs survey (A - B, rating points, 95% intervals)")
    for col in ("dimension", "survey", "tuned models", "P(same sign)", "ratio model/survey", "gap"):
        view.add_column(col, justify="left" if col == "dimension" else "right")
    for r in table.itertuples():
        view.add_row(r.dimension, f"{r.diff:+.3f} [{r.diff_lo:+.3f}, {r.diff_hi:+.3f}]",
                     f"{r.model_diff:+.3f} [{r.model_lo:+.3f}, {r.model_hi:+.3f}]", f"{r.p_same_sign:.2f}",
                     f"{r.ratio:+.2f} [{r.ratio_lo:+.2f}, {r.ratio_hi:+.2f}]",
                     f"{r.gap:+.3f} [{r.gap_lo:+.3f}, {r.gap_hi:+.3f}]")
    console.print(view)
    if "model_n_runs" in table and (table.model_n_runs == 1).any():
        console.print(f"[yellow]note:[/] {ONE_RUN_NOTE}")
    return figure2([table], Path(out) / "figure2")
