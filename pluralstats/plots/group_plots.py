"""Paper figures of adjusted group estimates: marginal means and a group x dimension contrast heatmap.

Both draw what :mod:`pluralstats.models.groups` and :mod:`pluralstats.models.contrasts` compute (a new rater
of each level, the other attributes standardised as the ``standardisation`` column says, which labels the
figure). Suppressed rows (fewer than k raters) are not drawn: the marginal-means figure leaves them out and the
heatmap shows "<k" in their cell, and a note names them, as in every other figure.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from .posterior_plots import _whiskers, note_figure, pretty
from .style import paper_style as style
from .style import plt, save_figure


def _label(table: pd.DataFrame) -> str:
    return str(table["standardisation"].iloc[0]) if "standardisation" in table and len(table) else ""


def plot_means(means: pd.DataFrame, path: str | Path) -> list[Path]:
    """One panel per dimension; a row per attribute level with the posterior mean of its adjusted expected
    rating (or share >= k) and 95% interval (``marginal_means``); suppressed levels are left out and named."""
    hidden = means[means["suppressed"].astype(bool)] if "suppressed" in means else means.iloc[:0]
    shown = means.drop(hidden.index)
    note = ("not shown (fewer than k raters, survey.toml min_group_size): "
            + "; ".join(dict.fromkeys(hidden.attribute + ": " + hidden.level))) if len(hidden) else None
    if shown.empty:
        return note_figure(note or "no groups", path)
    dims = list(dict.fromkeys(shown.dimension))
    labels = list(dict.fromkeys(means.attribute + ": " + means.level))
    labels = [lab for lab in labels if lab in set(shown.attribute + ": " + shown.level)]
    quantity = str(shown["quantity"].iloc[0]) if "quantity" in shown else "mean"
    unit = "expected rating" if quantity == "mean" else f"% rating {quantity.removeprefix('share')}"
    with style():
        fig, axes = plt.subplots(1, len(dims), figsize=(1.4 + 2.1 * len(dims), 0.8 + 0.22 * len(labels)),
                                 sharey=True, squeeze=False)
        for ax, dim in zip(axes[0], dims, strict=True):
            sub = shown[shown.dimension == dim]
            y = np.array([labels.index(k) for k in sub.attribute + ": " + sub.level])
            _whiskers(ax, y, sub["mean"].to_numpy(float), sub["lo"].to_numpy(float), sub["hi"].to_numpy(float),
                      excludes_zero=np.ones(len(sub), dtype=bool))
            ax.set_title(pretty(dim))
        # one axis label under all panels: the standardisation is too long to repeat under each
        fig.supxlabel(textwrap.fill(f"{unit}, {_label(shown)}", 80), fontsize=8)
        axes[0, 0].set_yticks(range(len(labels)), [pretty(lab) for lab in labels])
        axes[0, 0].invert_yaxis()
        if note:
            fig.text(0.01, -0.02, note, fontsize=7, color="0.3", wrap=True)
        fig.tight_layout()
        return save_figure(fig, path)


def plot_heatmap(contrasts: pd.DataFrame, path: str | Path, *, k: int = 5) -> list[Path]:
    """Group (level vs reference) x dimension grid of the adjusted difference in expected rating (the ``mean``
    rows of a contrast table) on a diverging scale centred at 0; the signed value is written in each cell (so
    the figure reads in black and white), bold with "*" where the 95% interval excludes 0; a suppressed cell
    shows "<k" only."""
    from pluralstats.privacy import small_mark

    table = contrasts[contrasts["quantity"] == "mean"] if "quantity" in contrasts else contrasts
    if table.empty:
        return note_figure("no contrasts", path)
    keys = table.attribute + ": " + table.level_a + " vs " + table.level_b
    rows, dims = list(dict.fromkeys(keys)), list(dict.fromkeys(table.dimension))
    grid = np.full((len(rows), len(dims)), np.nan)
    text = [["" for _ in dims] for _ in rows]
    hidden = table["suppressed"].astype(bool) if "suppressed" in table else pd.Series(False, index=table.index)
    for (key, r), is_hidden in zip(zip(keys, table.itertuples(), strict=True), hidden, strict=True):
        i, j = rows.index(key), dims.index(r.dimension)
        if is_hidden:
            text[i][j] = small_mark(k)
            continue
        grid[i, j] = r.diff
        text[i][j] = f"{r.diff:+.2f}" + ("*" if r.diff_lo > 0 or r.diff_hi < 0 else "")
    limit = np.nanmax(np.abs(grid)) if np.isfinite(grid).any() else 1.0
    with style():
        fig, ax = plt.subplots(figsize=(2.2 + 1.0 * len(dims), 1.6 + 0.3 * len(rows)))
        image = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        for i in range(len(rows)):
            for j in range(len(dims)):
                dark = np.isfinite(grid[i, j]) and abs(grid[i, j]) > 0.6 * limit
                ax.text(j, i, text[i][j], ha="center", va="center", fontsize=7,
                        color="white" if dark else "black", fontweight="bold" if "*" in text[i][j] else "normal")
        ax.set_xticks(range(len(dims)), [pretty(d) for d in dims], rotation=30, ha="right")
        ax.set_yticks(range(len(rows)), [pretty(r) for r in rows])
        bar = fig.colorbar(image, ax=ax, shrink=0.8)
        # text past the figure's edges is cut off when saved: long labels are wrapped to fit
        bar.set_label("difference in\nexpected rating")
        # over the whole figure, not the narrow grid: centred over the grid, a long title ran past the right edge
        fig.suptitle(textwrap.fill(f"Level vs reference, {_label(table)}", 70), fontsize=8, x=0.01, ha="left")
        fig.text(0.01, -0.02, "* and bold: 95% interval excludes 0; blank with <k: suppressed (fewer than k raters)",
                 fontsize=7, color="0.3", wrap=True)
        fig.tight_layout()
        return save_figure(fig, path)
