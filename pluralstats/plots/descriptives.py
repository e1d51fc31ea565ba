"""Figures of the descriptives: Figure 1 (conditional positive matrix) and rating distributions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .posterior_plots import pretty
from .style import HATCHES, paper_style, plt, save_figure


def plot_conditional_matrix(matrix: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Figure 1: P(positive in column | positive in row), annotated, greyscale colour map."""
    with paper_style():
        n = len(matrix)
        fig, ax = plt.subplots(figsize=(1.2 * n + 1.6, 1.0 * n + 1.0))
        im = ax.imshow(matrix.to_numpy(dtype=float), cmap="Greys", vmin=0, vmax=1)
        ax.grid(False)
        ax.set_xticks(range(n), [pretty(c) for c in matrix.columns], rotation=30, ha="right")
        ax.set_yticks(range(n), [pretty(r) for r in matrix.index])
        ax.set_xlabel("Positive rating in ...")
        ax.set_ylabel("... given a positive rating in")
        for i in range(n):
            for j in range(n):
                value = matrix.iat[i, j]
                if np.isfinite(value):
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center",
                            color="white" if value > 0.55 else "black")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="Conditional probability")
        ax.set_title("Conditional probabilities between dimensions")
        return save_figure(fig, stem)


def plot_rating_distribution(distribution: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Share of each rating value per dimension, grouped bars with hatches (readable in print)."""
    with paper_style():
        fig, ax = plt.subplots(figsize=(7, 3.2))
        values = list(distribution.columns)
        width = 0.8 / len(values)
        x = np.arange(len(distribution))
        greys = plt.get_cmap("Greys")(np.linspace(0.25, 0.9, len(values)))
        for k, value in enumerate(values):
            ax.bar(x + k * width - 0.4 + width / 2, distribution[value], width, label=str(value),
                   color=greys[k], edgecolor="black", linewidth=0.5, hatch=HATCHES[k % len(HATCHES)])
        ax.set_xticks(x, [pretty(d) for d in distribution.index], rotation=15)
        ax.set_ylabel("Share of ratings")
        ax.legend(title="Rating", ncols=len(values), loc="upper center", bbox_to_anchor=(0.5, 1.18))
        return save_figure(fig, stem)
