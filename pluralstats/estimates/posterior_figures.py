"""The posterior's figures (``plot-posterior``): contrast forest plot and heatmap, marginal means, the predictive
check per group, variance components, rank and trace plots, each from the estimates of this package and the
drawing functions of :mod:`pluralstats.plots`; small groups are left out as everywhere else."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

#: the kinds ``plot-posterior --kind`` draws
KINDS = ("forest", "ppc", "rank", "trace", "means", "heatmap", "variance")


def posterior_figures(idata, out: Path, kinds: Sequence[str], *, comp, attribute: str | None = None,
                      ppc_draws: int = 200, seed: int = 0, suppress_small: bool = True,
                      diagnostics: str | None = None) -> list[Path]:
    """Draw ``kinds`` of ``idata`` into ``out`` (PNG and PDF; the variance kind also its CSV and markdown, and a
    margins-only composition its raked table); return the files written. ``comp``: the composition of the
    adjusted estimates (:func:`~pluralstats.models.groups.composition`); ``diagnostics``: the gate's note for
    the variance table ("passed", or what a posterior used under --allow-bad-diagnostics failed)."""
    from pluralstats.models import all_contrasts, meta_of
    from pluralstats.models.contrasts import suppress_contrasts
    from pluralstats.models.groups import write_raked
    from pluralstats.plots import posterior_plots as plots

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if "forest" in kinds or "heatmap" in kinds:
        frame = suppress_contrasts(all_contrasts(idata, weights=comp), idata, suppress_small)
    if "forest" in kinds:
        written += plots.plot_forest(frame, out / "contrasts_forest.png")
    if "heatmap" in kinds:
        from pluralstats.plots.group_plots import plot_heatmap

        written += plot_heatmap(frame, out / "contrasts_heatmap.png", k=meta_of(idata).min_group_size)
    if "means" in kinds:
        from pluralstats.models.groups import marginal_means
        from pluralstats.plots.group_plots import plot_means

        written += plot_means(marginal_means(idata, weights=comp, suppress_small=suppress_small),
                              out / "marginal_means.png")
    if "ppc" in kinds:
        from .ppc import predictive_check, suppress_groups

        checked = predictive_check(idata, attribute, n_draws=ppc_draws, seed=seed)
        observed, predicted, note = suppress_groups(*checked, idata, attribute, suppress_small)
        written += plots.plot_ppc(observed, predicted, out / f"ppc_{attribute or 'all'}.png", note=note)
    if "variance" in kinds:
        written += variance_files(idata, out, suppress_small, diagnostics or "passed")
    if "rank" in kinds:
        written += plots.plot_rank(idata, out / "rank.png")
    if "trace" in kinds:
        written += plots.plot_trace(idata, out / "trace.png")
    if {"forest", "heatmap", "means"} & set(kinds):
        raked = write_raked(comp, out / "raked_margins.csv")
        written += [raked] if raked else []
    return written


def variance_files(idata, out: Path, suppress_small: bool, diagnostics: str) -> list[Path]:
    """variance_components.csv, .md and the figure; a diagnostics note (under --allow-bad-diagnostics) goes
    into the markdown and under the figure."""
    from pluralstats.io import atomic_path, write_text_atomic
    from pluralstats.models import meta_of
    from pluralstats.plots.variance_plot import plot_variance

    from .variance import variance_components, variance_markdown

    table = variance_components(idata, suppress_small=suppress_small)
    note = None if diagnostics == "passed" else diagnostics
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "variance_components.csv") as tmp:
        table.to_csv(tmp, index=False)
    md = write_text_atomic(out / "variance_components.md",
                           variance_markdown(table, k=meta_of(idata).min_group_size, note=note))
    return [out / "variance_components.csv", md, *plot_variance(table, out / "variance_components.png", note=note)]
