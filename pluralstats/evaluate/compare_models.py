"""The tuned-model side of ``compare --groups A B --eval results.parquet``, and what it is compared with.

The evaluation says how far the model tuned on A's preferences sits from the model tuned on B's, scored on
the survey scale. Two survey quantities can stand beside it:

- the **level difference** (``diff``): how strict a new rater of A is against one of B on the same items.
  A pure level shift cancels within a pair of responses to one prompt, so preference tuning cannot
  reproduce it, and the two need not agree even when everything works;
- the **preference-implied shift** (``implied``, with ``--prefs A.parquet B.parquet`` or in an experiment
  folder): for each preference set, the weighted mean over its pairs of the expected rating of an average
  rater (the sample's composition) on the chosen response minus the rejected one, per posterior draw; A's
  minus B's. It is what the tuned models were shown, in rating points, built from the posterior with the
  same strategy, scale and prompts as their training data: the like-with-like comparison.

The tuned-model side is scored by a scorer, whose points need not be rating points: a regression scorer
shrinks toward the mean. When the evaluation stored the scorer's calibration on held-out survey ratings
(:mod:`pluralstats.evaluate.calibration`), the model difference is also given in rating points
(``model_cal``: times the calibration slope ``scorer_slope``), and the agreement uses it (``model_scale``).

Agreement (P(same sign), gap, ratio) is computed against the preference-implied shift when it is given,
else against the level difference, and says which (``basis``). Both sides come from the same survey
ratings (the preference pairs, the rater-model scorer and the survey posterior all do), so they are not
independent: P(same sign), and the intervals of the gap and the ratio, pair their draws at random, which
treats them as independent and misstates how much evidence the agreement carries. The ratio is reported only
where the survey-side interval excludes 0 (otherwise it has Cauchy-like tails); ``ratio_note`` says why it
is blank.

What the comparison can show is direction. No scale links a preference gap to a DPO shift (how far a tuned
model moves per rating point of preference depends on beta, steps and data), and the survey side's intervals
are for the training pairs while the tuned side's are for new prompts. Over several rows (contrasts x
dimensions) :func:`direction_agreement` counts the rows whose sides point the same way and gives the
Spearman rank correlation of the two sides over rows with a bootstrap interval.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.evaluate.calibration import calibration_from_attrs, slope_draws
from pluralstats.evaluate.evaluation import read_results, shift_fit_from
from pluralstats.evaluate.shift import ShiftFit, fewest_runs, summarize_draws

AGREEMENT_COLUMNS = ["p_same_sign", "gap", "gap_lo", "gap_hi", "ratio", "ratio_lo", "ratio_hi"]
IMPLIED_COLUMNS = ["implied", "implied_lo", "implied_hi"]
CALIBRATED_COLUMNS = ["scorer_slope", "scorer_slope_se", "model_cal", "model_cal_lo", "model_cal_hi"]


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
    When the evaluation stored its scorer's calibration, ``model_cal*`` is the difference in rating points
    (times the calibration slope, whose uncertainty is drawn along; ``cal_draws``) and ``scorer_slope`` the
    slope; otherwise they are NaN.
    """
    for name in (model_a, model_b):
        if name not in fit.models:
            raise InputError(f"Model '{name}' is not in the evaluation (models: {', '.join(fit.models)})")
    shift, means = fit.shift_draws(), fit.model_mean_draws()
    calibration = calibration_from_attrs(fit.idata.posterior.attrs)
    ia, ib = fit.models.index(model_a), fit.models.index(model_b)
    n_runs = fewest_runs(fit.n_runs, model_a, model_b)
    rows = []
    for j, dim in enumerate(fit.dimensions):
        if dimensions and dim not in dimensions:
            continue
        diff = shift[:, ia, j] - shift[:, ib, j]
        s = summarize_draws(diff, means[:, ib, j], prob)
        row = {"dimension": dim, "diff": s["estimate"], "lo": s["lo"], "hi": s["hi"],
               "model_rel_pct": s["rel_pct"], "model_rel_lo": s["rel_lo"], "model_rel_hi": s["rel_hi"],
               "n_runs": n_runs, "draws": diff, **dict.fromkeys(CALIBRATED_COLUMNS, np.nan), "cal_draws": None}
        slope = slope_draws(calibration.get(dim, {}), len(diff), seed=j)
        if slope is not None:  # in rating points: the scorer's difference times its calibration slope
            cal = diff * slope
            row.update(scorer_slope=calibration[dim]["slope"], scorer_slope_se=calibration[dim]["slope_se"],
                       model_cal=float(cal.mean()), model_cal_lo=float(np.quantile(cal, (1 - prob) / 2)),
                       model_cal_hi=float(np.quantile(cal, (1 + prob) / 2)), cal_draws=cal)
        rows.append(row)
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
    """Same-sign probability, gap (model - survey) and ratio (model / survey) from draws paired at random (as if
    the two sides were independent, which they are not: module docstring)."""
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


def preference_implied(survey_idata, prefs_a, prefs_b, dimensions: Sequence[str], *,
                       prob: float = 0.95) -> pd.DataFrame:
    """Per dimension, the preference-implied shift A - B (module docstring), with its draws.

    ``prefs_a``, ``prefs_b``: the preference sets the two tuned models were trained on (parquet paths or
    frames with ``chosen_item_id``, ``rejected_item_id`` and ``weight``). Each set's favoured-minus-
    disfavoured difference uses every pair of the set, whatever its objective, so that a set built on
    toxicity also says how it moves emotional awareness.
    """
    from pluralstats.models.predict import item_means
    from pluralstats.prefs import load_preferences

    sets = [load_preferences(p) if not isinstance(p, pd.DataFrame) else p for p in (prefs_a, prefs_b)]
    for frame in sets:
        missing = [c for c in ("chosen_item_id", "rejected_item_id", "weight") if c not in frame]
        if missing:
            raise InputError(f"A preference set lacks {', '.join(missing)}: give the parquet files prefs wrote")
    q = [(1 - prob) / 2, (1 + prob) / 2]
    rows = []
    for dim in dimensions:
        favoured = []
        for frame in sets:
            items = sorted(set(frame.chosen_item_id) | set(frame.rejected_item_id))
            means = item_means(survey_idata, dim, None, items)  # (draw, item): an average rater
            col = {item: k for k, item in enumerate(items)}
            chosen = means[:, frame.chosen_item_id.map(col).to_numpy()]
            rejected = means[:, frame.rejected_item_id.map(col).to_numpy()]
            w = frame.weight.to_numpy(dtype=float)
            favoured.append(((chosen - rejected) * w).sum(axis=1) / w.sum())
        draws = favoured[0] - favoured[1]
        lo, hi = np.quantile(draws, q)
        rows.append({"dimension": dim, "implied": float(draws.mean()), "implied_lo": float(lo),
                     "implied_hi": float(hi), "draws": draws})
    return pd.DataFrame(rows)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation; NaN where either side is constant (it is not defined there)."""
    from scipy.stats import spearmanr

    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return np.nan
    return float(spearmanr(x, y).statistic)


def direction_agreement(frame: pd.DataFrame, *, prob: float = 0.95, seed: int = 0,
                        n_resamples: int = 2000) -> dict[str, float | int | str]:
    """How well the survey side predicts the tuned side over the rows of ``frame`` (one row per contrast and
    dimension; columns of :func:`compare_with_models`): the survey side is ``implied`` where the row has one,
    else ``diff``; the tuned side ``model_cal`` where calibrated, else ``model_diff``; rows missing either
    (suppressed, or not evaluated) are left out.

    Returns ``n_rows``; ``same_direction``, the rows whose two point estimates have the same sign; and
    ``spearman``, the rank correlation of the two sides over the rows, with a percentile bootstrap interval
    over rows (``scipy.stats.bootstrap``, rows resampled with both sides together; resamples in which a side
    is constant, where the correlation is undefined, are left out). No scale links a preference gap to a
    tuned shift, so this says whether the ordering and direction carry over, not the size; the interval
    treats rows as independent, though they share the survey's raters, and with few rows it is optimistic
    (rows in the same order on both sides give [1, 1]). Fewer than 3 rows: NaN and a ``note``."""
    from scipy.stats import DegenerateDataWarning, bootstrap

    survey = frame["implied"] if "implied" in frame else pd.Series(np.nan, index=frame.index)
    survey = survey.where(survey.notna(), frame["diff"]) if "diff" in frame else survey
    model = frame["model_diff"] if "model_diff" in frame else pd.Series(np.nan, index=frame.index)
    if "model_cal" in frame:
        model = frame["model_cal"].where(frame["model_cal"].notna(), model)
    keep = survey.notna() & model.notna()
    x, y = survey[keep].to_numpy(dtype=float), model[keep].to_numpy(dtype=float)
    out: dict[str, float | int | str] = {"n_rows": int(keep.sum()),
                                         "same_direction": int((np.sign(x) == np.sign(y)).sum()),
                                         "spearman": np.nan, "spearman_lo": np.nan, "spearman_hi": np.nan, "note": ""}
    if len(x) < 3:
        out["note"] = f"{len(x)} row(s): a rank correlation needs 3 or more"
        return out
    out["spearman"] = _spearman(x, y)
    if not np.isfinite(out["spearman"]):
        out["note"] = "one side is the same on every row"
        return out
    with warnings.catch_warnings():  # rows in the same order on both sides give a one-point distribution
        warnings.simplefilter("ignore", DegenerateDataWarning)
        boot = bootstrap((x, y), _spearman, paired=True, vectorized=False, n_resamples=n_resamples,
                         confidence_level=prob, method="percentile", random_state=np.random.default_rng(seed))
    dist = boot.bootstrap_distribution[np.isfinite(boot.bootstrap_distribution)]
    out["spearman_lo"], out["spearman_hi"] = (float(q) for q in np.quantile(dist, [(1 - prob) / 2, (1 + prob) / 2]))
    return out


def direction_caption(frame: pd.DataFrame) -> str:
    """Figure 2's caption line: :func:`direction_text` of :func:`direction_agreement` over ``frame``'s rows."""
    return direction_text(direction_agreement(frame))


def direction_text(stats: dict[str, float | int | str], prob: float = 0.95) -> str:
    """One line for a caption or the console: same direction in m of n rows, Spearman with its interval."""
    text = f"same direction in {stats['same_direction']} of {stats['n_rows']} rows"
    if np.isfinite(stats["spearman"]):
        text += (f"; Spearman rank correlation over rows {stats['spearman']:+.2f} "
                 f"[{stats['spearman_lo']:+.2f}, {stats['spearman_hi']:+.2f}] ({prob:.0%} bootstrap over rows)")
    elif stats["note"]:
        text += f"; no rank correlation ({stats['note']})"
    return text


def find_preference_sets(eval_path: str | Path, group_a: str, group_b: str) -> tuple | None:
    """The preference sets behind the two tuned models of an experiment folder (``cells/<model>/seed-*/
    prefs.parquet``, every seed's set stacked: the data of every training run), or None when the evaluation
    is not an experiment's."""
    from pluralstats.io import slugify
    from pluralstats.prefs import load_preferences

    results, _ = read_results(eval_path)
    models = list(dict.fromkeys(results.model))
    cells = Path(eval_path).parent / "cells"
    sets = []
    for group in (group_a, group_b):
        try:
            name = model_name_for(group, models)
        except InputError:
            return None
        files = sorted((cells / slugify(name)).glob("seed-*/prefs.parquet"))
        if not files:
            return None
        sets.append(pd.concat([load_preferences(f) for f in files], ignore_index=True))
    return tuple(sets)


def compare_with_models(survey_idata, group_a: str, group_b: str, eval_path: str | Path, *,
                        dimensions: Sequence[str] | None = None, prob: float = 0.95, seed: int = 0,
                        suppress_small: bool = True, prefs: tuple | None = None) -> pd.DataFrame:
    """Survey contrast A - B beside the tuned-model difference, with their agreement, per dimension (the
    survey side and the agreement blanked when a group has fewer than k raters, unless not ``suppress_small``).

    ``prefs``: the two preference sets (A's, B's) the tuned models were trained on (found by
    :func:`find_preference_sets` in an experiment folder when not given); with them the table gains the
    preference-implied shift and the agreement is computed against it (``basis``), else against the level
    difference (module docstring).
    """
    from pluralstats.estimates.group_comparison import compare_groups, resolve_groups, suppress_compare
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
    table = table.merge(side[["dimension", "model_rel_pct", "model_rel_lo", "model_rel_hi", "n_runs",
                              *CALIBRATED_COLUMNS]]
                        .rename(columns={"n_runs": "model_n_runs"}), on="dimension", how="left")
    if "quantity" in table:  # the tuned models are scored on the mean rating: compare like with like
        table = table[table.quantity == "mean"]
    attribute, level_a, level_b = resolve_groups(survey_idata, group_a, group_b)
    basis = contrast_draws(survey_idata, attribute, level_a, level_b, dims)["diff"]
    survey_draws = {d: basis.sel(dimension=d).values for d in dims}
    table = table.assign(basis="level difference")
    prefs = prefs if prefs is not None else find_preference_sets(eval_path, group_a, group_b)
    if prefs is not None:
        implied = preference_implied(survey_idata, prefs[0], prefs[1], dims, prob=prob)
        table = table.merge(implied.drop(columns="draws"), on="dimension", how="left")
        survey_draws = dict(zip(implied.dimension, implied.draws, strict=True))
        table["basis"] = "preference-implied"
    # in rating points where the scorer was calibrated, in scorer points otherwise (model_scale says which)
    model_draws = {r.dimension: r.draws if r.cal_draws is None else r.cal_draws for r in side.itertuples()}
    table["model_scale"] = table.dimension.map(
        {r.dimension: "scorer points" if r.cal_draws is None else "calibrated" for r in side.itertuples()})
    rows = []
    for d in table.dimension:
        stats = agreement(survey_draws[d], model_draws[d], prob=prob, seed=seed)
        lo, hi = np.quantile(np.ravel(survey_draws[d]), [(1 - prob) / 2, (1 + prob) / 2])
        stats["ratio_note"] = ""
        if lo <= 0 <= hi:  # a ratio to a difference that may be 0 has Cauchy-like tails
            stats.update(ratio=np.nan, ratio_lo=np.nan, ratio_hi=np.nan,
                         ratio_note="survey interval includes 0")
        rows.append(stats)
    agreement_frame = pd.DataFrame(rows, columns=[*AGREEMENT_COLUMNS, "ratio_note"])
    table = pd.concat([table.reset_index(drop=True), agreement_frame], axis=1)
    return suppress_compare(table, survey_idata, suppress_small)


def agreement_view(table: pd.DataFrame):
    """The model-vs-survey agreement per dimension as console renderables (a table and its notes, the one-seed
    note included), for the ``compare`` command and the demo to print."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from pluralstats.report import ONE_RUN_NOTE

    implied = "implied" in table
    view = Table(title="Tuned models vs survey (A - B, rating points, 95% intervals; agreement against the "
                       f"{table.basis.iloc[0] if 'basis' in table else 'level difference'})")
    calibrated = "model_cal" in table and table.model_cal.notna().any()
    columns = ["dimension", "survey: level difference", *(["survey: preference-implied"] if implied else []),
               "tuned models (scorer)", *(["tuned models (calibrated)"] if calibrated else []),
               "P(same sign)", "ratio model/survey", "gap"]
    for col in columns:
        view.add_column(col, justify="left" if col == "dimension" else "right")
    for r in table.itertuples():
        ratio = (f"{r.ratio:+.2f} [{r.ratio_lo:+.2f}, {r.ratio_hi:+.2f}]" if np.isfinite(r.ratio)
                 else f"- ({getattr(r, 'ratio_note', '') or 'n/a'})")
        cells = [f"{r.diff:+.3f} [{r.diff_lo:+.3f}, {r.diff_hi:+.3f}]"]
        if implied:
            cells.append(f"{r.implied:+.3f} [{r.implied_lo:+.3f}, {r.implied_hi:+.3f}]")
        cells.append(f"{r.model_diff:+.3f} [{r.model_lo:+.3f}, {r.model_hi:+.3f}]")
        if calibrated:
            cells.append(f"{r.model_cal:+.3f} [{r.model_cal_lo:+.3f}, {r.model_cal_hi:+.3f}] (x{r.scorer_slope:.2f})"
                         if np.isfinite(r.model_cal) else "-")
        view.add_row(r.dimension, *cells, f"{r.p_same_sign:.2f}", ratio,
                     f"{r.gap:+.3f} [{r.gap_lo:+.3f}, {r.gap_hi:+.3f}]")
    parts = [view, Text("Both sides rest on the same survey ratings; P(same sign) and the gap and ratio intervals "
                        "pair their draws as if independent, so they overstate the evidence.", style="dim"),
             Text(f"Direction: {direction_text(direction_agreement(table))}. No scale links a preference "
                  "gap to a tuned shift: read the sizes for direction only.")]
    if calibrated:
        parts.append(Text("Calibrated: the scorer's difference times its slope (xb) on the held-out prompts' "
                          "survey ratings; agreement uses the calibrated difference where there is one.", style="dim"))
    if "model_n_runs" in table and (table.model_n_runs == 1).any():
        parts.append(Text.assemble(("note: ", "yellow"), ONE_RUN_NOTE))
    return Group(*parts)
