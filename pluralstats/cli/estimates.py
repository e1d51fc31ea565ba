"""Commands of what is computed from a posterior: contrasts, compare, plot-posterior, disagreements. Each parses
its options, makes one call into the API and prints the result (:mod:`pluralstats.cli.views`)."""

from __future__ import annotations

from pathlib import Path

import click

from pluralstats.cli.common import console, csv_list, err_console, seed_option, styled, writes
from pluralstats.cli.models import (
    allow_bad_option,
    dimensions_option,
    fit_options,
    fit_progress,
    prob_option,
    weights_option,
)
from pluralstats.cli.survey import suppress_option
from pluralstats.cli.views import (
    contrast_table,
    diagnostics_view,
    disagreement_view,
    hypothesis_table,
    suppressed_note,
)
from pluralstats.errors import InputError
from pluralstats.estimates.contrast_report import margins_inputs
from pluralstats.estimates.posterior_figures import KINDS as FIGURE_KINDS
from pluralstats.io import write_manifest


def _plot_files(kwargs: dict) -> list[Path]:
    """The forest plot's PNG and PDF that ``contrasts --plot STEM`` writes beside its CSV."""
    from pluralstats.plots.style import figure_paths

    return figure_paths(kwargs["plot_path"]) if kwargs.get("plot_path") else []


def _warn(note: str | None) -> None:
    """A diagnostics note or a suppression note on stderr (None: nothing)."""
    if note and note != "passed":
        err_console.print(styled("[yellow]warning:[/] ", note))


@writes("file", beside=_plot_files)
@click.command("contrasts")
@click.argument("posterior", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="CSV file to write.")
@click.option("--attributes", callback=csv_list, default=None, help="Comma-separated attributes (default: all).")
@dimensions_option
@prob_option
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None,
              help="Also draw the forest plot (PNG and PDF) at this path.")
@weights_option
@click.option("--hypothesis", "hypotheses", multiple=True, metavar="STATEMENT",
              help="Instead of the contrasts, the posterior probability of a statement about groups' expected "
                   "ratings, e.g. 'political:conservative - political:liberal > 0.2' (numbers, + - * and "
                   "parentheses; > < >= <=; '&' joins levels into an intersectional group). Repeatable.")
@click.option("--dimension", "hypothesis_dims", multiple=True,
              help="Dimension of --hypothesis (repeatable; default: those of --dimensions, else all).")
@click.option("--quantity", type=click.Choice(["mean", "share"]), default="mean", show_default=True,
              help="What --hypothesis terms are: expected ratings (mean) or P(rating >= k) in percent (share, k = "
                   "survey.toml's positive threshold).")
@allow_bad_option
@suppress_option
def contrasts_cmd(posterior, out, attributes, dimensions, prob, plot_path, weights, estimand, hypotheses,
                  hypothesis_dims, quantity, allow_bad_diagnostics, suppress_small):
    """Every level vs its reference level, per dimension: difference, % difference, interval, P(sign).

    Contrasts are adjusted: the expected rating (``mean`` rows) and the share rating >= k (``share>=k`` rows,
    k = survey.toml's positive threshold; differences in percentage points) of a new rater of each level, the
    other attributes standardised to the sample (or poststratified to --weights), as the ``standardisation``
    column says. Margins-only --weights are raked; the raked table goes beside --out (OUT.raked.csv).
    """
    from pluralstats.estimates.contrast_report import contrast_report

    with console.status("Computing contrasts..."):
        report = contrast_report(posterior, out, attributes=attributes, dimensions=dimensions, prob=prob,
                                 weights=weights, estimand=estimand, hypotheses=hypotheses,
                                 hypothesis_dimensions=hypothesis_dims, quantity=quantity, plot=plot_path,
                                 allow_bad=allow_bad_diagnostics, suppress_small=suppress_small)
    _warn(report.diagnostics)
    k = report.min_group_size
    if report.hypotheses:
        console.print(hypothesis_table(report.frame, quantity, report.label, prob, k))
    for attr, sub in ([] if report.hypotheses else report.frame.groupby("attribute", sort=False)):
        console.print(contrast_table(sub, f"{attr} (level vs reference, {report.label}, {prob:.0%} intervals)", k))
    for note in [*report.notes, suppressed_note(report.frame, k)]:
        if note:
            err_console.print(styled("[yellow]note:[/] ", note))
    console.print(f"Wrote {', '.join(map(str, report.written))}")


@writes("folder")
@click.command("compare")
@click.argument("source", type=click.Path(exists=True, path_type=Path), required=False)
@click.option("--posterior", "posterior_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Posterior .nc to use (the same as giving it as SOURCE).")
@click.option("--groups", nargs=2, required=True, metavar="A B",
              help="Two levels of one attribute, e.g. liberal conservative or gender=female gender=male (names "
                   "case-insensitive), or two intersectional groups fixing the same attributes, e.g. "
                   "'gender=female&political=conservative' 'gender=male&political=liberal'.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for compare.csv and the figure.")
@dimensions_option
@prob_option
@weights_option
@fit_options
@allow_bad_option
@click.option("--eval", "eval_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="results.parquet of `pluralstats evaluate` (models named after the groups): set the tuned "
                   "models' difference beside the survey's, with P(same sign), ratio and gap (Figure 2).")
@click.option("--prefs", "prefs_paths", nargs=2, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, metavar="A.parquet B.parquet",
              help="With --eval: the preference sets the two tuned models were trained on, for the survey's "
                   "preference-implied shift (found automatically in an experiment folder).")
@suppress_option
def compare_cmd(source, posterior_path, groups, out, dimensions, prob, weights, estimand, allow_bad_diagnostics,
                eval_path, prefs_paths, suppress_small, **options):
    """Survey-estimated difference between two groups per dimension (SOURCE: posterior .nc or a bundle).

    Adjusted: the expected rating (``mean``) and share rating >= k (``share>=k``, percentage points) of a new
    rater of each group, the attributes the groups do not fix standardised to the sample (or --weights).
    """
    from pluralstats.evaluate.compare_models import agreement_view
    from pluralstats.evaluate.comparison_report import comparison_report

    if (source is None) == (posterior_path is None):
        raise click.UsageError("give exactly one of SOURCE (a posterior .nc or a bundle) and --posterior")
    path = source or posterior_path
    bundle = path.is_dir() or path.suffix == ".toml"
    seed = options.pop("seed")
    source, fit = _survey_to_fit(path, groups, weights, dimensions, suppress_small, options) if bundle else (path, {})
    with console.status("Computing the contrast..."):
        report = comparison_report(source, groups, out, dimensions=dimensions, prob=prob, weights=weights,
                                   estimand=estimand, allow_bad=allow_bad_diagnostics, eval_path=eval_path,
                                   prefs_paths=prefs_paths, suppress_small=suppress_small, fit=fit, seed=seed,
                                   inputs=[path] if bundle else ())
    if bundle:
        console.print(diagnostics_view(report.idata))
    _warn(report.diagnostics)
    k = report.min_group_size
    console.print(contrast_table(report.table, f"{groups[0]} vs {groups[1]} ({report.label}, {prob:.0%} intervals)",
                                 k))
    if suppressed_note(report.table, k):
        err_console.print(styled("[yellow]note:[/] ", suppressed_note(report.table, k)))
    shown = report.table[~report.table["suppressed"]]
    if report.with_models and not shown.empty:
        console.print(agreement_view(shown))
    console.print(f"Wrote {', '.join(map(str, report.written))}")


def _survey_to_fit(path: Path, groups, weights, dimensions, suppress_small: bool, options: dict):
    """compare from a bundle: the survey, checked (groups, margins) before the fit is announced, and the fit's
    options."""
    from pluralstats.cli.survey import read_bundle
    from pluralstats.evaluate.comparison_report import check_before_fit

    survey = read_bundle(path)
    check_before_fit(survey, groups, weights, options["attributes"], suppress_small)
    return survey, fit_progress(survey, dimensions, options)


def _gate(idata, allow_bad: bool) -> str:
    """The diagnostics gate (exit 3 unless ``allow_bad``); returns what manifests record about it."""
    from pluralstats.models.diagnostics import require_diagnostics

    note = require_diagnostics(idata, allow_bad=allow_bad)
    _warn(note)
    return note or "passed"


@writes("folder")
@click.command("plot-posterior")
@click.argument("posterior", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the figures.")
@click.option("--kind", "kinds", multiple=True, default=("forest", "ppc", "rank", "trace"), show_default=True,
              type=click.Choice(FIGURE_KINDS),
              help="Which figures (repeatable); means: expected rating per level of every attribute x dimension; "
                   "heatmap: level-vs-reference differences, group x dimension; variance: rater, item and "
                   "disagreement sds and their shares of the latent variance (with a CSV and markdown table; "
                   "needs a posterior that passed its diagnostics).")
@click.option("--attribute", default=None,
              help="Groups of the predictive check (default: every level of every attribute, in one figure).")
@click.option("--ppc-draws", type=click.IntRange(10), default=200, show_default=True,
              help="Replicated data sets in the predictive check.")
@weights_option
@seed_option
@suppress_option
@allow_bad_option
def plot_posterior_cmd(posterior, out, kinds, attribute, ppc_draws, weights, estimand, seed, suppress_small,
                       allow_bad_diagnostics):
    """Paper figures: contrast forest plot, predictive check per group, rank and trace plots, marginal means,
    a contrast heatmap and variance components (PNG + PDF). Forest, means and heatmap show adjusted estimates
    (standardised to the sample, or to --weights). The variance kind also writes variance_components.csv and
    .md, and exits 3 on a posterior that failed its diagnostics unless --allow-bad-diagnostics."""
    from pluralstats.estimates.posterior_figures import posterior_figures
    from pluralstats.models import load_posterior, meta_of
    from pluralstats.models.groups import composition

    idata = load_posterior(posterior)
    if attribute is not None and attribute not in meta_of(idata).attributes:
        raise InputError(f"Unknown attribute '{attribute}'; known: {', '.join(meta_of(idata).attributes)}")
    comp = composition(idata, weights, estimand, suppress_small=suppress_small)
    # the variance kind writes a table of numbers to report: gated like contrasts, before anything is written
    diagnostics = _gate(idata, allow_bad_diagnostics) if "variance" in kinds else None
    with console.status("Drawing..."):
        written = posterior_figures(idata, out, kinds, comp=comp, attribute=attribute, ppc_draws=ppc_draws, seed=seed,
                                    suppress_small=suppress_small, diagnostics=diagnostics)
    write_manifest(out, "plot-posterior", inputs=[posterior, *margins_inputs(weights)], seed=seed,
                   options={"kinds": list(kinds), "attribute": attribute, "ppc_draws": ppc_draws,
                            "weights": str(weights), "estimand": comp.estimand, "suppress_small": suppress_small,
                            "allow_bad_diagnostics": allow_bad_diagnostics},
                   extra={"diagnostics": diagnostics} if diagnostics else None)
    console.print("Wrote " + ", ".join(map(str, written)))


@writes("folder")
@click.command("disagreements")
@click.argument("posterior", type=click.Path(exists=True, path_type=Path))
@click.option("--groups", nargs=2, required=True, metavar="A B",
              help="Two levels of one attribute that has group x item terms, e.g. liberal conservative.")
@click.option("--top", type=click.IntRange(1), default=20, show_default=True,
              help="Items and pairs shown and drawn (the CSVs hold all of them, ranked).")
@click.option("--delta", type=click.FloatRange(min=0.0), default=None,
              help="Rating points by which each group's average rater must prefer opposite responses of a pair "
                   "for it to count as ordered oppositely (p_opposite; also p_gap = P(|d_A - d_B| > delta)) "
                   "[default: 0.1].")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Folder for disagreement_items.csv, disagreement_pairs.csv and the figure.")
@dimensions_option
@prob_option
@allow_bad_option
@suppress_option
def disagreements_cmd(posterior, groups, top, delta, out, dimensions, prob, allow_bad_diagnostics, suppress_small):
    """Items and within-prompt pairs on which two groups differ most (needs fit-survey --disagreement).

    Per item: the difference of the two groups' group x item terms on the latent (logit) scale, which
    excludes the level shift and has no floor or ceiling (items are ranked by it), and, labelled rating_*,
    the difference in expected rating of an average rater of each group (level shift included). Per pair
    of responses to one prompt: the difference in the two groups' pair differences (rating and latent
    scale) and P(the groups order the pair oppositely, each by more than --delta rating points). A survey
    with one response per prompt has no pairs: the items are written and drawn, with a note. Exits 2 on an
    additive posterior.
    """
    from pluralstats.estimates.disagreements import DELTA, disagreements_report

    with console.status("Computing item and pair differences..."):
        found, figures = disagreements_report(posterior, groups, out, top=top,
                                              delta=DELTA if delta is None else delta, dimensions=dimensions,
                                              prob=prob, allow_bad=allow_bad_diagnostics,
                                              suppress_small=suppress_small)
    _warn(found.diagnostics)
    console.print(disagreement_view(found, top))
    console.print("\n".join(found.summary()))
    console.print(f"Wrote {', '.join(map(str, figures))}")


COMMANDS = [contrasts_cmd, compare_cmd, plot_posterior_cmd, disagreements_cmd]
