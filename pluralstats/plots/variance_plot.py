"""Variance-components figure: the random effects' sds with intervals, and the share of the latent scale each
takes, per dimension (what :func:`pluralstats.estimates.variance.variance_components` computes).

Suppressed rows (a level with fewer than k raters) are not drawn, and a note names them, as in every other
figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .posterior_plots import _whiskers, note_figure, pretty
from .style import COLORS, HATCHES, legend_below, plt, save_figure
from .style import paper_style as style

MARKERS = ["o", "s", "^", "D", "v", "P", "X"]


def _label(row) -> str:
    if row.level:
        return pretty(f"{row.component}: {row.attribute}={row.level}")
    # with a level axis the level-free rater row is the levels' average
    return pretty(row.component) + (" (average)" if row.parameter.startswith("sigma_rater (average") else "")


def plot_variance(table: pd.DataFrame, path: str | Path, *, note: str | None = None) -> list[Path]:
    """Left: each component's sd (posterior mean and 95% interval, latent-scale units), a marker per dimension,
    rows in the table's order; right: per dimension, the posterior mean shares of the latent variance as one
    stacked bar (rater, item, disagreement, latent error; they sum to 100%). Per-level rater sds appear on the
    left only (their shares are of a level's own latent variance). ``note`` (e.g. a diagnostics warning) is
    printed under the figure."""
    suppressed = table["suppressed"].astype(bool) if "suppressed" in table else pd.Series(False, index=table.index)
    hidden, shown = table[suppressed], table[~suppressed]
    notes = [note] if note else []
    if len(hidden):
        notes.append("not shown (fewer than k raters, survey.toml min_group_size): "
                     + "; ".join(dict.fromkeys(hidden.attribute + "=" + hidden.level)))
    if shown.empty:
        return note_figure(" ".join(notes) or "no variance components", path)
    dims = list(dict.fromkeys(shown.dimension))
    labels = list(dict.fromkeys(_label(r) for r in shown.itertuples()))
    whole = shown[shown.level == ""]  # the rows whose shares add up to the latent variance
    parts = list(dict.fromkeys(whole.component))
    offsets = (np.arange(len(dims)) - (len(dims) - 1) / 2) * (0.6 / max(len(dims), 1))
    with style():
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(7.2, 1.2 + 0.32 * max(len(labels), len(dims) + 1)),
            gridspec_kw={"width_ratios": [1.1, 1.0]})
        for j, dim in enumerate(dims):
            sub = shown[shown.dimension == dim]
            y = np.array([labels.index(_label(r)) for r in sub.itertuples()]) + offsets[j]
            _whiskers(left, y, sub["sd"].to_numpy(float), sub["sd_lo"].to_numpy(float),
                      sub["sd_hi"].to_numpy(float), marker=MARKERS[j % len(MARKERS)],
                      excludes_zero=np.ones(len(sub), dtype=bool), label=pretty(dim) if len(dims) > 1 else None)
        left.set_yticks(range(len(labels)), labels)
        left.invert_yaxis()
        left.set_xlim(left=0)
        left.set_xlabel("sd (latent scale), 95% interval")
        left.set_title("Standard deviations")
        for j, dim in enumerate(dims):
            start = 0.0
            sub = whole[whole.dimension == dim].set_index("component")
            for p, part in enumerate(parts):
                if part not in sub.index:
                    continue
                width = 100 * float(sub.loc[part, "share"])
                if not np.isfinite(width):  # shares blanked (privacy rule)
                    continue
                right.barh(j, width, left=start, color=COLORS[p % len(COLORS)], alpha=0.85,
                           hatch=HATCHES[p % len(HATCHES)], edgecolor="white",
                           label=pretty(part) if j == 0 else None)
                if width >= 8:  # a label in a narrower segment would spill onto its neighbours
                    right.text(start + width / 2, j, f"{width:.0f}%", ha="center", va="center", fontsize=7,
                               color="white" if p % len(COLORS) in (0, 1, 4) else "black")
                start += width
        if not np.isfinite(whole["share"].to_numpy(float)).any():
            right.axis("off")
            right.text(0.5, 0.5, "shares not shown: every level with its own rater sd has fewer than k raters",
                       ha="center", va="center", fontsize=7, wrap=True, transform=right.transAxes)
        right.set_yticks(range(len(dims)), [pretty(d) for d in dims])
        right.invert_yaxis()
        right.set_xlim(0, 100)
        right.set_xlabel("% of latent variance (posterior mean)")
        right.set_title("Shares")
        fig.tight_layout()
        legend_below(fig, [left, right], notes)
        return save_figure(fig, path)
