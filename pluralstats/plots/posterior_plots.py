"""Posterior figures for the paper: contrast forest plot, group comparison, predictive check, rank plots.

The house style (:mod:`pluralstats.plots.style`); readable in black and white: black and grey only,
marker *shape* and fill carry the meaning (filled = the 95% interval excludes 0). Each figure is
written as PNG and PDF next to each other, atomically.

Groups suppressed for privacy (a ``suppressed`` column, :mod:`pluralstats.privacy`) are not drawn:
the figure omits them and says so in a note, so no estimate of a small group reaches a figure.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from .style import COLORS, legend_below, plt, save_figure
from .style import paper_style as style


def pretty(name: str) -> str:
    """A name for a figure: underscores as spaces."""
    return name.replace("_", " ")


def _whiskers(ax, y, est, lo, hi, *, marker="o", excludes_zero=None, label=None):
    excludes_zero = (lo > 0) | (hi < 0) if excludes_zero is None else excludes_zero
    ax.hlines(y, lo, hi, color="black", lw=1.2)
    drawn = np.isfinite(est)
    for filled in (True, False):
        sel = (excludes_zero == filled) & drawn
        if sel.any():  # an empty part would be an empty legend entry
            ax.plot(est[sel], y[sel], marker, ms=5, color="black", mfc="black" if filled else "white",
                    ls="none", label=label)
            label = None  # one legend entry per series, filled or hollow


def shown_rows(table: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """The rows a figure may draw (not ``suppressed``) and a note naming the contrasts left out, if any."""
    if "suppressed" not in table or not table["suppressed"].any():
        return table, None
    hidden = table[table["suppressed"].astype(bool)]
    names = list(dict.fromkeys(hidden.attribute + ": " + hidden.level_a + " vs " + hidden.level_b))
    note = "not shown (a group has fewer than k raters, survey.toml min_group_size): " + "; ".join(names)
    return table[~table["suppressed"].astype(bool)], note


def note_figure(note: str, path: str | Path) -> list[Path]:
    """A figure holding only ``note``: what is drawn when every row was suppressed."""
    with style():
        fig, ax = plt.subplots(figsize=(4.6, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, note, ha="center", va="center", fontsize=8, wrap=True)
        return save_figure(fig, path)


def _mean_rows(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The expected-rating rows of a contrast table (not the share >= k ones) and their standardisation."""
    if "quantity" in table:
        table = table[table["quantity"] == "mean"]
    label = table["standardisation"].iloc[0] if "standardisation" in table and len(table) else \
        "adjusted (standardised to the sample)"
    return table, label


def plot_forest(contrasts: pd.DataFrame, path: str | Path, *, value: str = "rel_pct") -> list[Path]:
    """One panel per dimension; a row per contrast (level vs reference) of the adjusted expected rating (the
    ``mean`` rows; their ``standardisation`` labels the axis) with its 95% interval."""
    lo, hi = ("rel_lo", "rel_hi") if value == "rel_pct" else ("diff_lo", "diff_hi")
    contrasts, adjusted = _mean_rows(contrasts)
    contrasts, note = shown_rows(contrasts)
    if contrasts.empty:
        return note_figure(note or "no contrasts", path)
    dims = list(dict.fromkeys(contrasts.dimension))
    labels = list(dict.fromkeys(_contrast_labels(contrasts)))
    with style():
        fig, axes = plt.subplots(1, len(dims), figsize=(1.2 + 2.1 * len(dims), 1.4 + 0.22 * len(labels)),
                                 sharey=True, squeeze=False)
        for ax, dim in zip(axes[0], dims, strict=True):
            sub = contrasts[contrasts.dimension == dim]
            y = np.array([labels.index(k) for k in _contrast_labels(sub)])
            _whiskers(ax, y, sub[value].to_numpy(), sub[lo].to_numpy(), sub[hi].to_numpy())
            ax.axvline(0, color="0.5", lw=0.8, ls="--")
            ax.set_title(pretty(dim))
        # one axis label under all panels: the standardisation is too long to repeat under each
        unit = "difference (%)" if value == "rel_pct" else "difference (rating points)"
        fig.supxlabel(textwrap.fill(f"{unit}, {adjusted}", 80), fontsize=8)
        axes[0, 0].set_yticks(range(len(labels)), labels)
        axes[0, 0].invert_yaxis()
        fig.tight_layout()
        legend_below(fig, [], ["filled: 95% interval excludes 0", note or ""])
        return save_figure(fig, path)


def _contrast_labels(table: pd.DataFrame) -> list[str]:
    """'attribute: level vs reference' per row, underscores as spaces."""
    return [f"{pretty(str(a))}: {pretty(str(x))} vs {pretty(str(b))}"
            for a, x, b in zip(table.attribute, table.level_a, table.level_b, strict=True)]


def plot_compare(table: pd.DataFrame, path: str | Path, *, title: str | None = None) -> list[Path]:
    """Dot-and-whisker per dimension: survey-estimated A - B of the adjusted expected rating (the ``mean`` rows),
    and the tuned-model difference if present."""
    table, adjusted = _mean_rows(table)
    table, note = shown_rows(table)
    if table.empty:
        return note_figure(note or "nothing to compare", path)
    dims = list(table.dimension)
    y = np.arange(len(dims), dtype=float)
    has_model = "model_diff" in table and table["model_diff"].notna().any()
    with style():
        fig, ax = plt.subplots(figsize=(5.6, 0.9 + 0.45 * len(dims)))
        shift = 0.15 if has_model else 0.0
        _whiskers(ax, y - shift, table["diff"].to_numpy(), table.diff_lo.to_numpy(), table.diff_hi.to_numpy(),
                  marker="o", label="survey estimate")
        if has_model:
            _whiskers(ax, y + shift, table.model_diff.to_numpy(), table.model_lo.to_numpy(),
                      table.model_hi.to_numpy(), marker="s", label="tuned models")
        ax.axvline(0, color="0.5", lw=0.8, ls="--")
        ax.set_yticks(y, [pretty(d) for d in dims])
        ax.invert_yaxis()
        a, b = pretty(str(table.level_a.iloc[0])), pretty(str(table.level_b.iloc[0]))
        # wrapped to the axes' width: one long line ran past the figure's edge and was cut off
        ax.set_xlabel(textwrap.fill(f"difference in expected rating, {a} - {b} (95% interval), {adjusted}", 50))
        ax.set_title(title or f"{pretty(table.attribute.iloc[0])}: {a} vs {b}")
        fig.tight_layout()
        legend_below(fig, [ax] if has_model else [], ["filled: 95% interval excludes 0", note or ""])
        return save_figure(fig, path)


def plot_ppc(observed: pd.DataFrame, predicted: pd.DataFrame, path: str | Path, *,
             note: str | None = None) -> list[Path]:
    """Observed rating shares per group (hatched bars) against replicated shares (dots, mean and 95% interval).

    One row per group (every level of every attribute checked), one column per dimension. ``observed``:
    attribute, dimension, group, rating, share; ``predicted``: the same plus ``lo``, ``hi`` (from
    :func:`pluralstats.estimates.ppc.predictive_check`; suppressed groups already left out, named in ``note``).
    """
    if observed.empty:
        return note_figure(note or "no groups to show", path)
    if "attribute" not in observed:
        observed, predicted = observed.assign(attribute=""), predicted.assign(attribute="")
    dims = list(dict.fromkeys(observed.dimension))
    rows = list(dict.fromkeys(zip(observed.attribute, observed.group, strict=True)))
    with style():
        fig, axes = plt.subplots(len(rows), len(dims), figsize=(1.6 + 2.0 * len(dims), 0.6 + 1.25 * len(rows)),
                                 sharex=True, sharey="row", squeeze=False)
        for r, (attr, grp) in enumerate(rows):
            for c, dim in enumerate(dims):
                ax = axes[r, c]
                at = (observed.attribute == attr) & (observed.group == grp) & (observed.dimension == dim)
                obs = observed[at]
                pred = predicted[(predicted.attribute == attr) & (predicted.group == grp)
                                 & (predicted.dimension == dim)]
                ax.bar(obs.rating, obs.share, color="0.85", edgecolor="0.4", hatch="//", width=0.7,
                       label="observed")
                ax.errorbar(pred.rating, pred.share, yerr=[pred.share - pred.lo, pred.hi - pred.share], fmt="o",
                            color="black", ms=3.5, capsize=2, label="replicated (95%)")
                if r == 0:
                    ax.set_title(pretty(dim))
                if c == 0:
                    label = f"{pretty(attr)}: {pretty(str(grp))}" if attr and attr != "all" else pretty(str(grp))
                    ax.set_ylabel(f"{label}\nshare", fontsize=7)
                if r == len(rows) - 1:
                    ax.set_xlabel("rating")
        axes[0, 0].legend(frameon=False, fontsize=7)
        # wrapped to the figure's width (about 14 characters an inch at 9 pt): past its edges text is cut off
        fig.suptitle(textwrap.fill("Posterior predictive check: rating shares per group, observed vs replicated with "
                                   "new raters", int(14 * fig.get_figwidth())), fontsize=9)
        if note:
            fig.text(0.01, -0.02, note, fontsize=7, color="0.3", wrap=True)
        fig.tight_layout()
        return save_figure(fig, path)


def plot_rank(idata, path: str | Path, var_names: list[str] | None = None) -> list[Path]:
    """Rank plots (per chain) of the hyper-parameters and effects, for the diagnostics appendix: a panel per
    variable and coordinate, at most five to a row, sized to stay under 2000 px wide at the saved dpi."""
    import arviz as az

    names = var_names or [v for v in ("sigma_rater", "sigma_item") if v in idata.posterior]
    n_panels = sum(int(np.prod([idata.posterior[v].sizes[d] for d in _coord_dims(idata, v)])) for v in names)
    cols = min(max(n_panels, 1), 5)
    rows = -(-max(n_panels, 1) // cols)
    with style():
        # arviz sizes its own grid from the panel count (over 20 inches for ten panels); ours is fixed per panel
        fig, grid = plt.subplots(rows, cols, figsize=(1.9 * cols, 1.7 * rows), squeeze=False)
        for ax in grid.ravel()[n_panels:]:
            ax.set_visible(False)
        az.plot_rank(idata, var_names=names, kind="vlines", vlines_kwargs={"color": "0.5", "lw": 0.8},
                     marker_vlines_kwargs={"marker": "o", "lw": 0, "markersize": 3},
                     colors=["black", "0.5", "0.7", "0.3"], ax=grid.ravel()[:n_panels],
                     labeller=az.labels.NoVarLabeller() if len(names) == 1 else None)
        for ax in grid.ravel()[:n_panels]:
            ax.set_title(pretty(ax.get_title()), fontsize=8)
            ax.set_xlabel("rank (all chains)", fontsize=7)
            ax.set_ylabel(ax.get_ylabel(), fontsize=7)
            ax.tick_params(labelsize=7)
        fig.tight_layout()
        return save_figure(fig, path)


def plot_trace(idata, path: str | Path, var_names: list[str] | None = None) -> list[Path]:
    """Trace plots (densities and traces per chain) of the hyper-parameters, a colour per coordinate (dimension)
    named in a legend under the figure, a line style per chain."""
    import arviz as az

    names = var_names or [v for v in ("sigma_rater", "sigma_item") if v in idata.posterior]
    n_coords = max((int(np.prod([idata.posterior[v].sizes[d] for d in _coord_dims(idata, v)])) for v in names),
                   default=1)
    with style():
        axes = az.plot_trace(idata, var_names=names, compact=True, combined=False, legend=True,
                             compact_prop={"color": [COLORS[i % len(COLORS)] for i in range(n_coords)]},
                             chain_prop={"linestyle": ["-", "--", ":", "-."]}, figsize=(8, 2.2 * len(names)))
        axes = np.atleast_2d(axes)
        fig = axes[0, 0].figure
        entries: dict[str, object] = {}
        for ax in axes[0]:  # arviz's in-panel legends (coordinates left, chains right) cover the densities
            legend = ax.get_legend()
            if legend is None:
                continue
            column_is_chains = ax is axes[0, -1]
            for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
                label = f"chain {text.get_text()}" if column_is_chains else pretty(text.get_text())
                if column_is_chains:  # chains differ by line style only; arviz draws their keys in a data colour
                    handle.set_color("black")
                entries.setdefault(label, handle)
        for ax in axes.ravel():
            if ax.get_legend():
                ax.get_legend().remove()
        fig.tight_layout()
        if entries:  # one shared legend under the panels
            fig.legend(list(entries.values()), list(entries), loc="upper center", bbox_to_anchor=(0.5, 0.0),
                       ncols=min(len(entries), 5), fontsize=8)
        return save_figure(fig, path)


def _coord_dims(idata, var: str) -> list[str]:
    """A posterior variable's dimensions other than chain and draw (those a compact trace plot overlays)."""
    return [d for d in idata.posterior[var].dims if d not in ("chain", "draw")]


def plot_prior_check(shares: pd.DataFrame, gaps: pd.DataFrame, path: str | Path) -> list[Path]:
    """The prior predictive check: implied rating distribution per dimension (mean share, 95% interval over
    replicated surveys) and implied gaps in mean rating between each level and its reference (95%)."""
    dims = list(dict.fromkeys(shares.dimension))
    with style():
        fig, axes = plt.subplots(1, len(dims) + 1, figsize=(1.8 * len(dims) + 5.0, 1.0 + 0.2 * max(len(gaps), 8)),
                                 squeeze=False, gridspec_kw={"width_ratios": [1] * len(dims) + [2]})
        for c, dim in enumerate(dims):
            ax = axes[0, c]
            sub = shares[shares.dimension == dim]
            ax.errorbar(sub.rating, sub.share, yerr=[sub.share - sub.lo, sub.hi - sub.share], fmt="o", color="black",
                        ms=3.5, capsize=2)
            ax.set_title(pretty(dim))
            ax.set_xlabel("rating")
            ax.set_xticks(sub.rating.to_numpy())
            ax.set_ylim(0, 1)
            if c == 0:
                ax.set_ylabel("share of ratings (prior, 95%)")
        ax = axes[0, -1]
        labels = [f"{pretty(r.dimension)} | {pretty(r.attribute)}: {pretty(str(r.level))} - {pretty(str(r.reference))}"
                  for r in gaps.itertuples()]
        y = np.arange(len(gaps))
        ax.errorbar(gaps.gap_median, y, xerr=[gaps.gap_median - gaps.gap_lo, gaps.gap_hi - gaps.gap_median], fmt="o",
                    color="black", ms=3, capsize=2)
        ax.axvline(0, color="0.6", lw=0.8)
        ax.set_yticks(y, labels, fontsize=6)
        ax.invert_yaxis()
        ax.set_xlabel("gap in mean rating (95%)")
        ax.set_title("level - reference")
        fig.suptitle("Prior predictive check: what the priors imply before any rating is seen", fontsize=9)
        fig.tight_layout()
        return save_figure(fig, path)
