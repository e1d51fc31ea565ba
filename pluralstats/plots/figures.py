"""The study's Figures 2-5 from result tables (Figure 1 is drawn by ``describe``).

- Figure 2: per contrast, the tuned-model difference (circles) beside the survey-estimated
  difference (triangles), both A - B in rating points with 95% intervals. What it can show is
  *direction*: no scale links a preference gap to a tuned shift, and the survey intervals are for the
  training pairs while the tuned side is for new prompts. The caption gives the rows whose two sides
  point the same way and the Spearman rank correlation over rows with a bootstrap interval
  (given by the caller: :func:`~pluralstats.evaluate.compare_models.direction_agreement`).
- Figures 3-5: an experiment's conditions against the control (panel A) and against each other
  (panel B); Figure 5 has a panel per dimension for each.

Meaning is carried by marker shape and fill as well as colour (filled: the interval excludes 0),
so the figures read in black and white. Each is written as PNG and PDF (``save_figure``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.errors import InputError

from .posterior_plots import note_figure, shown_rows
from .posterior_plots import pretty as base_pretty
from .style import COLORS, legend_below, paper_style, plt, save_figure

MODEL_STYLE = {"marker": "o", "color": COLORS[1], "label": "tuned models (A - B)"}
SURVEY_STYLE = {"marker": "^", "color": COLORS[4], "label": "survey: level difference (A - B)"}
IMPLIED_STYLE = {"marker": "s", "color": COLORS[2], "label": "survey: preference-implied shift (A - B)"}
SCALE_NAMES = {"5": "5-point", "3": "3-point", "2": "binary"}
TITLES = {3: "Rating scale of the training labels", 4: "Handling of rater disagreement",
          5: "Optimizer and objective"}
# the conditions each experiment figure compares (analyses/experiments/*.toml); Figure 5: see _figure5_missing
FIGURE_CONDITIONS = {3: ("5", "3", "2"), 4: ("majority", "preserve", "mean", "minority-veto", "posterior")}
OPTIMIZERS = ("dpo", "grpo")


def pretty(name: str) -> str:
    """A condition or dimension name for a figure: scale conditions spelt out, underscores as spaces."""
    return SCALE_NAMES.get(str(name), base_pretty(str(name)))


def _figure5_missing(conditions: set[str]) -> list[str]:
    """Figure 5 sets each optimizer's single-objective conditions beside its multi-objective one."""
    missing = []
    for method in OPTIMIZERS:
        if f"{method}/multi" not in conditions:
            missing.append(f"{method}/multi")
        if not any(c.startswith(f"{method}/") and c != f"{method}/multi" for c in conditions):
            missing.append(f"{method}/<single objective>")
    return missing


def missing_conditions(figure: int, conditions: Sequence[str]) -> list[str]:
    """The conditions ``figure`` compares that ``conditions`` (a results table's models) lacks; [] if none."""
    present = set(map(str, conditions))
    if figure == 5:
        return _figure5_missing(present)
    return [c for c in FIGURE_CONDITIONS.get(figure, ()) if c not in present]


def require_conditions(figure: int, conditions: Sequence[str]) -> None:
    """Refuse to draw ``figure`` under its fixed title from a table without the conditions it compares."""
    missing = missing_conditions(figure, conditions)
    if missing:
        have = sorted(set(map(str, conditions)) - {"control", ""})
        raise InputError(f"Figure {figure} ({TITLES[figure].lower()}) needs the conditions "
                         f"{', '.join(map(repr, missing))}, which the results table does not have "
                         f"(it has: {', '.join(map(repr, have)) or 'none'}); no figure written")


def _dots(ax, y, est, lo, hi, *, marker, color, label=None):
    """Dot and whisker; hollow where the interval includes 0."""
    est, lo, hi = (np.asarray(v, dtype=float) for v in (est, lo, hi))
    ax.hlines(y, lo, hi, color=color, lw=1.3)
    excludes = (lo > 0) | (hi < 0)
    drawn = np.isfinite(est)  # a missing estimate is no point (and no legend entry for an empty series)
    for filled in (True, False):
        sel = (excludes == filled) & drawn
        if sel.any():
            ax.plot(est[sel], np.asarray(y)[sel], marker, ms=6, color=color, mfc=color if filled else "white",
                    ls="none", label=label)
            label = None


def _finish(ax, labels, xlabel, title):
    ax.axvline(0, color="0.4", lw=0.8, ls="--")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")


def figure2(tables: Sequence[pd.DataFrame], path: str | Path, *, dimensions: dict[str, str] | None = None,
            direction: Callable[[pd.DataFrame], str] | None = None) -> list[Path]:
    """Figure 2 from ``compare`` tables (one per contrast; columns of ``compare_with_models``).

    ``direction``: the caption line saying how well the survey side predicts the tuned side over the rows shown
    (given the shown rows; the evaluate stage computes it, which this layer may not import).

    ``dimensions``: which dimension to show per contrast label (default: every dimension of each).
    """
    rows, notes = [], []
    for t in tables:
        contrast = f"{t.level_a.iloc[0]} - {t.level_b.iloc[0]}"  # the key of ``dimensions``, as given
        t, note = shown_rows(t)  # rows suppressed for privacy are left out, with a note
        notes += [note] if note else []
        keep = t if not dimensions or contrast not in dimensions else t[t.dimension == dimensions[contrast]]
        rows += [{**r, "label": f"{pretty(contrast)}\n{pretty(r['dimension'])}"} for r in keep.to_dict("records")]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return note_figure("; ".join(notes) or "no comparison to show", path)
    y = np.arange(len(frame), dtype=float)
    with paper_style():
        fig, ax = plt.subplots(figsize=(5.4, 0.9 + 0.5 * len(frame)))
        _dots(ax, y - 0.16, frame["diff"], frame.diff_lo, frame.diff_hi, **SURVEY_STYLE)
        if "implied" in frame and frame.implied.notna().any():  # the like-with-like survey quantity
            _dots(ax, y, frame.implied, frame.implied_lo, frame.implied_hi, **IMPLIED_STYLE)
        if "model_diff" in frame and frame.model_diff.notna().any():
            _dots(ax, y + 0.16, frame.model_diff, frame.model_lo, frame.model_hi, **MODEL_STYLE)
        _finish(ax, list(frame.label), "difference in rating points (95% interval)",
                "Differences between groups (A - B): direction,\ntuned models vs survey")
        fig.tight_layout()
        caption = ["hollow: the 95% interval includes 0", "read for direction: no scale links a preference gap "
                   "to a tuned shift, and the survey intervals are for the training pairs, the tuned ones for new "
                   "prompts"]
        if direction is not None and "model_diff" in frame:
            caption.append(direction(frame))
        legend_below(fig, [ax], [*caption, *notes])
        return save_figure(fig, path)


def _select(results: pd.DataFrame, comparison: str, dimension: str) -> pd.DataFrame:
    method = "bayes" if "bayes" in set(results.method) else results.method.iloc[0]
    return results[(results.comparison == comparison) & (results.dimension == dimension)
                   & (results.method == method)]


def _conditions(results: pd.DataFrame, order: Sequence[str] | None) -> list[str]:
    present = [m for m in results.model.unique() if m != "control" and m]
    return [m for m in order if m in present] if order else sorted(present)


def _shift_panel(ax, results, dimension, order, value, title):
    rows = _select(results, "shift", dimension).set_index("model").reindex(order)
    lo, hi = ("rel_lo", "rel_hi") if value == "rel_pct" else ("lo", "hi")
    _dots(ax, np.arange(len(order)), rows[value], rows[lo], rows[hi], marker="s", color=COLORS[0])
    unit = "% change vs control" if value == "rel_pct" else "rating points vs control"
    _finish(ax, [pretty(m) for m in order], f"{pretty(dimension)}: {unit}", title)


def _pair_panel(ax, results, dimension, pairs, value, title):
    rows = _select(results, "pairwise", dimension).set_index(["model", "reference"])
    rows = rows.reindex(pairs)
    lo, hi = ("rel_lo", "rel_hi") if value == "rel_pct" else ("lo", "hi")
    _dots(ax, np.arange(len(pairs)), rows[value], rows[lo], rows[hi], marker="D", color=COLORS[2])
    unit = "% difference" if value == "rel_pct" else "rating points"
    _finish(ax, [f"{pretty(a)} vs {pretty(b)}" for a, b in pairs], f"{pretty(dimension)}: {unit}", title)


def experiment_figure(results: pd.DataFrame, path: str | Path, *, figure: int, order: Sequence[str] | None = None,
                      dimensions: Sequence[str] = ("toxicity",), value: str = "rel_pct",
                      pairs: Sequence[tuple[str, str]] | None = None) -> list[Path]:
    """Figures 3-5: panel(s) A, conditions vs control; panel(s) B, conditions vs each other.

    InputError (no figure written) when ``results`` lacks a condition the figure compares
    (:func:`missing_conditions`).

    ``pairs`` defaults to every pair in ``order`` (earlier minus later); for Figure 5 pass the
    single- vs multi-objective pairs. One column of panels per dimension.
    """
    require_conditions(figure, [str(m) for m in results.model.unique()])
    conds = _conditions(results, order)
    pairs = list(pairs) if pairs is not None else list(itertools.combinations(conds, 2))
    n = len(dimensions)
    with paper_style():
        fig, axes = plt.subplots(2, n, figsize=(2.4 + 2.8 * n, 1.4 + 0.32 * (len(conds) + len(pairs))),
                                 squeeze=False, sharey="row",
                                 gridspec_kw={"height_ratios": [max(len(conds), 1), max(len(pairs), 1)]})
        for j, dim in enumerate(dimensions):
            letter_a, letter_b = (chr(65 + j), chr(65 + n + j))
            _shift_panel(axes[0, j], results, dim, conds, value, f"({letter_a}) vs control")
            if pairs:
                _pair_panel(axes[1, j], results, dim, pairs, value, f"({letter_b}) pairwise")
            else:
                axes[1, j].set_visible(False)
            if j:  # one set of row labels per figure row
                axes[0, j].tick_params(labelleft=False)
                axes[1, j].tick_params(labelleft=False)
        fig.suptitle(f"{TITLES.get(figure, 'Experiment')}: {', '.join(map(pretty, dimensions))} of the tuned models",
                     fontsize=9, x=0.01, ha="left")
        fig.text(0.01, 0.005, "95% intervals; hollow: the interval includes 0; lower toxicity is better", fontsize=7,
                 color="0.3")
        fig.tight_layout()
        return save_figure(fig, path)


def single_vs_multi_pairs(conditions: Sequence[str]) -> list[tuple[str, str]]:
    """Figure 5 C-D: for each optimizer, each single-objective condition vs its multi-objective one."""
    out = []
    for cond in conditions:
        method, _, objective = cond.partition("/")
        multi = f"{method}/multi"
        if objective and objective != "multi" and multi in conditions:
            out.append((cond, multi))
    return out
