"""The ``contrasts`` command as one call: every level against its reference (or the posterior probability of
stated hypotheses) from a gated posterior, written as a CSV with its manifest, the raked population table and
the forest plot beside it. Nothing is printed here; the result carries what a caller shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pluralstats.io import atomic_path, check_output, write_manifest


@dataclass
class ContrastReport:
    """What :func:`contrast_report` computed and wrote.

    ``frame``: the contrast rows (adjusted: the expected rating, ``mean``, and the share rating >= k, ``share``, of
    a new rater of each level, the other attributes standardised or poststratified as ``label`` says) or, with
    hypotheses, one row per hypothesis and dimension; small-cell rows are blanked (``suppressed``).
    """

    frame: pd.DataFrame
    hypotheses: bool  # the rows are hypotheses, not contrasts
    label: str  # the population the unfixed attributes are averaged over, and how
    prob: float
    quantity: str  # hypotheses: mean or share
    min_group_size: int
    diagnostics: str  # "passed", or the note of a posterior used under allow_bad
    written: list[Path] = field(default_factory=list)  # the CSV, then the raked table and figures beside it
    notes: list[str] = field(default_factory=list)


def margins_inputs(weights: str | Path) -> list[Path]:
    """The margins file among a command's inputs (for the manifest), if ``weights`` names one."""
    return [] if str(weights) in ("sample", "equal") else [Path(weights)]


def raked_beside(out: Path) -> Path:
    """Where a file output's raked table goes: ``c.csv`` -> ``c.raked.csv``."""
    return out.with_name(f"{out.stem}.raked.csv")


def contrast_report(posterior: str | Path, out: str | Path, *, attributes: Sequence[str] | None = None,
                    dimensions: Sequence[str] | None = None, prob: float = 0.95, weights: str | Path = "sample",
                    estimand: str | None = None, hypotheses: Sequence[str] = (),
                    hypothesis_dimensions: Sequence[str] = (), quantity: str = "mean", plot: str | Path | None = None,
                    allow_bad: bool = False, suppress_small: bool = True) -> ContrastReport:
    """Contrasts (or ``hypotheses``) of the posterior at ``posterior``, written to the CSV ``out``.

    Checked before any work: the weights (a bad margins file, or one weighting small groups, is an
    :class:`~pluralstats.errors.InputError`), the hypotheses' syntax and levels, then the diagnostics gate
    (:class:`~pluralstats.errors.DiagnosticsError` unless ``allow_bad``). Margins-only ``weights`` are raked; the
    raked table goes beside ``out`` (``OUT.raked.csv``); ``plot`` draws the forest plot (PNG and PDF).
    """
    from pluralstats.estimates.group_comparison import comparison_quantities
    from pluralstats.models import all_contrasts, load_posterior, meta_of
    from pluralstats.models.contrasts import suppress_contrasts
    from pluralstats.models.diagnostics import require_diagnostics
    from pluralstats.models.groups import composition, write_raked

    out = Path(out)
    idata = load_posterior(posterior)
    comp = composition(idata, weights, estimand, suppress_small=suppress_small)
    if comp.table is not None:
        check_output(raked_beside(out))
    if hypotheses:
        from pluralstats.estimates.hypothesis import parse_hypothesis

        for text in hypotheses:  # unknown levels and syntax errors fail before any work
            parse_hypothesis(idata, text)
    diagnostics = require_diagnostics(idata, allow_bad=allow_bad) or "passed"
    meta = meta_of(idata)
    raked = write_raked(comp, raked_beside(out), "contrasts")
    report = ContrastReport(frame=pd.DataFrame(), hypotheses=bool(hypotheses), label=comp.label, prob=prob,
                            quantity=quantity, min_group_size=meta.min_group_size, diagnostics=diagnostics)
    options = {"attributes": attributes, "dimensions": dimensions, "prob": prob, "weights": str(weights),
               "estimand": comp.estimand, "suppress_small": suppress_small}
    if hypotheses:
        from pluralstats.estimates.hypothesis import hypotheses as evaluate

        report.frame = evaluate(idata, hypotheses, list(hypothesis_dimensions) or dimensions, quantity=quantity,
                                weights=comp, prob=prob, suppress_small=suppress_small)
        options.update(hypotheses=list(hypotheses), hypothesis_dimensions=list(hypothesis_dimensions),
                       quantity=quantity)
    else:
        quantities = comparison_quantities(idata)
        if "share" not in quantities:
            report.notes.append("shares P(rating >= k) left out: the survey sets no positive threshold for every "
                                "dimension (survey.toml [dimensions.NAME] positive_threshold)")
        report.frame = suppress_contrasts(all_contrasts(idata, attributes, dimensions, prob, weights=comp,
                                                        quantities=quantities), idata, suppress_small)
    with atomic_path(out) as tmp:
        report.frame.to_csv(tmp, index=False)
    figures = []
    if plot and not hypotheses:
        from pluralstats.plots.posterior_plots import plot_forest

        figures = plot_forest(report.frame, plot)
    # last: the manifest lists the figures, so that a rerun recognises them as its own
    write_manifest(out, "contrasts", inputs=[posterior, *margins_inputs(weights)], options=options,
                   extra={"diagnostics": diagnostics})
    report.written = [out, *([raked] if raked else []), *figures]
    return report
