"""Commands of the model stage: fit-survey, contrasts, compare, plot-posterior."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd
from rich.console import Group
from rich.table import Table
from rich.text import Text

from pluralstats.cli.common import console, csv_list, err_console, family_option, seed_option, styled, writes
from pluralstats.cli.common import dimensions_option as common_dimensions_option
from pluralstats.cli.survey import allow_outside_option, suppress_option
from pluralstats.errors import DiagnosticsError, InputError
from pluralstats.estimates.figures import KINDS as FIGURE_KINDS
from pluralstats.io import atomic_path, write_manifest

dimensions_option = common_dimensions_option()
allow_bad_option = click.option("--allow-bad-diagnostics", is_flag=True,
                                help="Exit 0 and use the posterior even if R-hat/ESS/divergence checks fail.")
def weights_option(f):
    """--weights (the population) and --estimand (how a group's unfixed attributes are averaged over it)."""
    f = click.option(
        "--estimand", type=click.Choice(["poststratified", "standardised"]), default=None,
        help="poststratified: each group over its own cells of the population (MRP; default with a margins "
             "file); standardised: every group over the whole population's other attributes (default with "
             "sample and equal).")(f)
    return click.option(
        "--weights", default="sample", show_default=True, metavar="sample|equal|FILE.csv",
        help="Population the attributes a group does not fix are averaged over: the survey's raters (sample), "
             "every combination of attribute levels equally (equal), or a margins CSV: population cell shares "
             "(a column per model attribute plus share, summing to 1) or margins only (attribute, level, share; "
             "raked from the survey's raters, the raked table written beside the output).")(f)


def _raked_beside(out: Path) -> Path:
    """Where a file output's raked table goes: ``c.csv`` -> ``c.raked.csv``."""
    return out.with_name(f"{out.stem}.raked.csv")
prob_option = click.option("--prob", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True,
                           help="Central posterior interval probability.")


def fit_options(f):
    """Sampler options shared by fit-survey and compare (when it is given a bundle)."""
    for opt in reversed([
        click.option("--attributes", callback=csv_list, default=None,
                     help="Comma-separated attributes in the model (default: all in survey.toml)."),
        click.option("--backend", default="auto", show_default=True,
                     help="auto or a registered sampler (`pluralstats plugins` lists them): nutpie / pymc: "
                          "exact NUTS (jax: nutpie on a JAX gradient, faster to compile; needs the jax extra); "
                          "numpyro: NUTS compiled whole under JAX, for a GPU (needs numpyro); advi: fast "
                          "approximate first look; auto: jax for one dimension when installed, else nutpie."),
        click.option("--draws", type=click.IntRange(1), default=None,
                     help="Posterior draws per chain after tuning [default: 2000 / --chains, 500 with 4 "
                          "chains; with --disagreement 4000 / --chains, 1000 with 4]."),
        click.option("--tune", type=click.IntRange(0), default=None,
                     help="Tuning steps per chain [default: 300 for nutpie and jax (1000 when raters give >= 40 "
                          "ratings each per dimension), 1000 for pymc]."),
        click.option("--chains", type=click.IntRange(1), default=4, show_default=True,
                     help="Independent chains, fixed before sampling: the verdict's R-hat is computed on exactly "
                          "these; fewer than 4 give an unchecked posterior (a first look; reporting commands "
                          "refuse it). nutpie/jax: when they pass every check but ESS, as many more are sampled "
                          "for ESS, up to --max-chains; R-hat stays the first chains'."),
        click.option("--max-chains", type=click.IntRange(1), default=8, show_default=True,
                     help="Most chains sampled when only ESS falls short (= --chains: never add)."),
        click.option("--beta-prior-sd", type=click.FloatRange(min=0, min_open=True), default=2.5, show_default=True,
                     help="Prior sd of the attribute effects (logits; the same as --prior beta=SD)."),
        click.option("--prior", "prior", multiple=True, metavar="NAME=SD",
                     help="A prior scale (repeatable; logits): beta (attribute effects' Normal sd, default 2.5), "
                          "tau (group x item scale's HalfNormal sd, 0.5), sigma_rater (1), sigma_item (1), "
                          "cutpoints (3), pooled_tau (1), lkj_eta (2), e.g. --prior tau=1 --prior beta=1."),
        family_option,
        click.option("--rater-variance-by", default=None, metavar="ATTRIBUTE",
                     help="Give each level of ATTRIBUTE its own rater sd (sigma_rater per dimension and level): "
                          "for groups whose members agree with each other more or less than others do."),
        click.option("--joint", is_flag=True, help="Rater effects correlated across dimensions (LKJ prior)."),
        click.option("--split-dimensions/--whole-model", default=None,
                     help="nutpie/jax: sample each dimension's model apart and join the draws (the same posterior "
                          "in fewer gradient evaluations) [default: apart, unless --joint]."),
        click.option("--pooled-levels", is_flag=True,
                     help="Partially pool each attribute's levels (a small group shrinks toward its attribute's "
                          "mean) instead of fixed effects against the reference level."),
        click.option("--disagreement", callback=csv_list, default=None,
                     help="Comma-separated attributes whose levels get group x item terms (what each group "
                          "prefers beyond its level shift; tau = how much they disagree) [default: survey.toml's "
                          "[model] disagreement, else none: the additive model]."),
        click.option("--centered-interactions/--non-centered-interactions", default=None,
                     help="Group x item term parametrisation [default: non-centred; the centred form mixes "
                          "better when groups clearly disagree but fails when they agree (tau near 0)]."),
        click.option("--centered-items/--non-centered-items", default=None,
                     help="Item-effect parametrisation (default: centred at >= 40 ratings per item and dimension)."),
        click.option("--centered-raters/--non-centered-raters", default=None,
                     help="Rater-effect parametrisation [default: centred when one dimension is sampled at a time, "
                          "raters give >= 20 ratings each per dimension and items are centred, else non-centred; "
                          "never with --joint]."),
        seed_option,
        allow_outside_option,
    ]):
        f = opt(f)
    return f


def _fit(survey, dimensions, **options):
    """Fit with the :func:`fit_options` (attributes, backend, draws, tune, chains, joint, centering, seed)."""
    from pluralstats.models import fit_survey

    tune = options["tune"]
    options.update(_priors(options.pop("prior", ()), options["beta_prior_sd"]))
    if options.get("disagreement") is None:
        options["disagreement"] = list(survey.config.disagreement) or None
    from pluralstats.models.diagnostics import gate_draws

    draws = options["draws"] or gate_draws(options["chains"], bool(options["disagreement"]))
    console.print(f"Fitting ({options['backend']} backend): {len(survey.ratings)} ratings, dimensions "
                  f"{', '.join(dimensions or survey.dimensions)} ({draws} draws x {options['chains']} "
                  f"chains, {'tuning chosen from the data' if tune is None else f'{tune} tuning steps'})")
    idata = fit_survey(survey, dimensions=dimensions, progress=True, **options)
    attrs = idata.posterior.attrs
    console.print(f"Sampled {idata.posterior.sizes['chain']} chains x {draws} draws after "
                  f"{attrs.get('tune', 0)} tuning steps in {attrs.get('sampling_seconds', 0):.0f} s")
    if attrs.get("auto_choices"):
        console.print(f"Chosen from the data: {attrs['auto_choices']}")
    return idata


def _fmt(value, spec: str) -> str:
    """A number, or "n/a" where it cannot be computed (R-hat of one chain)."""
    try:
        return "n/a" if value is None or value != value else format(float(value), spec)
    except (TypeError, ValueError):
        return "n/a"


def _priors(items: tuple[str, ...], beta_prior_sd: float) -> dict:
    """The fit_survey arguments of ``--prior NAME=SD`` (beta: ``beta_prior_sd``; the others: ``priors``, passed
    only when one is given); a beta given both ways must agree."""
    from pluralstats.models.priors import BETA_PRIOR_SD, parse_priors

    priors, given = parse_priors(items)
    out: dict = {}
    if "beta" in given:
        if beta_prior_sd != BETA_PRIOR_SD and beta_prior_sd != priors.beta_sd:
            raise InputError(f"--prior beta={priors.beta_sd:g} and --beta-prior-sd {beta_prior_sd:g} disagree; "
                             "give one")
        out["beta_prior_sd"] = priors.beta_sd
    if set(given) - {"beta"}:
        out["priors"] = priors
    return out


def _diagnose_and_report(idata):
    """Print the verdict that fit_survey recorded (worst quantities, worst value of each check)."""
    from pluralstats.models.diagnostics import recorded_diagnostics, verdict_of

    summary, worst = recorded_diagnostics(idata)
    table = Table(title="Diagnostics (worst 8 by ESS)")
    for col in ("quantity", "R-hat", "bulk ESS", "tail ESS"):
        table.add_column(col, justify="left" if col == "quantity" else "right")
    for row in worst.itertuples():
        table.add_row(str(row.name), _fmt(row.r_hat, ".3f"), _fmt(row.ess_bulk, ".0f"),
                      _fmt(row.ess_tail, ".0f"))
    console.print(table)
    if summary["status"] == "unchecked":
        console.print(Text(f"Unchecked posterior ({verdict_of(idata)[1]}): contrasts, compare and prefs refuse it "
                           "unless --allow-bad-diagnostics.", style="yellow"))
    else:
        console.print(f"max R-hat of reported quantities {summary['max_r_hat']:.3f} (first {summary['rhat_chains']} "
                      f"chains), min bulk ESS {summary['min_ess_bulk']:.0f}, "
                      f"min tail ESS {summary['min_ess_tail']:.0f}, divergences {summary['divergences']}, "
                      f"min E-BFMI {summary['min_bfmi']:.2f}, max tree depth hit {summary['treedepth_share']:.1%}: "
                      f"[bold]{summary['status']}[/]", markup=True)
    return summary


def _parameter_table(idata, suppress_small: bool = True) -> Table:
    """Posterior summary of the effects; a small level's coefficient (privacy rule) shows "<k" only."""
    import arviz as az

    from pluralstats.models import meta_of
    from pluralstats.models.contrasts import small_levels
    from pluralstats.privacy import small_mark

    names = [v for v in idata.posterior.data_vars if v.startswith("beta_") or v.startswith("sigma_")]
    summ = az.summary(idata, var_names=names, kind="stats", hdi_prob=0.95)
    summ = summ[summ["sd"] > 0]
    meta = meta_of(idata)
    hidden = {f"{name}[{dim}, {lv}]" for (attr, dim), levels in small_levels(idata).items() for lv in levels
              for name in (f"beta_{attr}", *(["sigma_rater"] if attr == meta.rater_variance_by else []))
              } if suppress_small else set()
    table = Table(title=f"Posterior summary ({meta.family} scale; reference levels are 0)")
    for col in ("parameter", "mean", "sd", "2.5%", "97.5%"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for name, row in summ.iterrows():
        if name in hidden:
            table.add_row(str(name), f"{small_mark(meta_of(idata).min_group_size)} raters", "(suppressed)",
                          "", "")
            continue
        table.add_row(str(name), f"{row['mean']:.3f}", f"{row['sd']:.3f}", f"{row.iloc[2]:.3f}",
                      f"{row.iloc[3]:.3f}")
    return table


def _require_good(idata, allow_bad: bool) -> str:
    """The diagnostics gate (exit 3 unless ``allow_bad``); returns what manifests record about it."""
    from pluralstats.models.diagnostics import require_diagnostics

    note = require_diagnostics(idata, allow_bad=allow_bad)
    if note:
        err_console.print(styled("[yellow]warning:[/] ", note))
    return note or "passed"


def _report_disagreement(idata) -> None:
    """tau per disagreement attribute and dimension, with its 95% interval, and what it means."""
    import numpy as np

    from pluralstats.models import meta_of

    meta = meta_of(idata)
    for attr in meta.disagreement:
        tau = idata.posterior[f"tau_{attr}"]
        for dim in meta.dimensions:
            x = tau.sel(dimension=dim).to_numpy().ravel()
            lo, hi = np.quantile(x, [0.025, 0.975])
            console.print(f"tau_{attr}[{dim}] = {x.mean():.3f} [95%: {lo:.3f}, {hi:.3f}] logits: how much "
                          f"the {attr} groups disagree about which responses are better, beyond their level "
                          "shift (sd of the group x item terms; near 0 = they order responses alike)")


def _save_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def contrast_table(frame: pd.DataFrame, title: str, k: int = 5) -> Table:
    """The contrasts as a console table; a suppressed row (privacy rule) shows "<k", never its numbers.
    ``mean`` rows are in rating points, ``share>=k`` rows in percent (differences in percentage points)."""
    from pluralstats.privacy import small_mark

    table = Table(title=title)
    for col in ("dimension", "contrast", "quantity", "A", "B", "diff [95%]", "rel % [95%]", "P(diff>0)"):
        table.add_column(col, justify="left" if col in ("dimension", "contrast", "quantity") else "right")
    for r in frame.itertuples():
        label = f"{r.attribute}: {r.level_a} vs {r.level_b}"
        quantity = str(getattr(r, "quantity", "mean"))
        if getattr(r, "suppressed", False):
            table.add_row(r.dimension, label, quantity, f"{small_mark(k)} raters", "(suppressed)", "", "", "")
            continue
        if quantity == "mean":
            values = (f"{r.mean_a:.2f}", f"{r.mean_b:.2f}", f"{r.diff:+.3f} [{r.diff_lo:+.3f}, {r.diff_hi:+.3f}]")
        else:
            values = (f"{r.mean_a:.1f}%", f"{r.mean_b:.1f}%", f"{r.diff:+.1f} [{r.diff_lo:+.1f}, {r.diff_hi:+.1f}] pp")
        table.add_row(r.dimension, label, quantity, *values,
                      f"{r.rel_pct:+.1f} [{r.rel_lo:+.1f}, {r.rel_hi:+.1f}]", f"{r.p_positive:.3f}")
    return table


def _quantities(idata, with_shares: bool = True) -> tuple[str, ...]:
    """``mean``, and ``share`` when the posterior stores the positive thresholds (older ones do not)."""
    from pluralstats.estimates.group_comparison import comparison_quantities

    if with_shares and "share" in comparison_quantities(idata):
        return ("mean", "share")
    if with_shares:
        err_console.print("[yellow]note:[/] this posterior stores no positive thresholds (fitted by an older "
                          "version): shares P(rating >= k) left out; refit to get them", markup=True)
    return ("mean",)


def _note_suppressed(frame: pd.DataFrame, k: int) -> None:
    """Say which contrasts were suppressed and how to show them."""
    if "suppressed" in frame and frame["suppressed"].any():
        rows = frame[frame["suppressed"].astype(bool)]
        names = ", ".join(dict.fromkeys(rows.attribute + ": " + rows.level_a + " vs " + rows.level_b))
        err_console.print(styled(f"[yellow]note:[/] suppressed (a group has fewer than k={k} raters): ", names,
                                 "; --no-suppress-small shows them"))


def _plot_files(kwargs: dict) -> list[Path]:
    """The forest plot's PNG and PDF that ``contrasts --plot STEM`` writes beside its CSV."""
    from pluralstats.plots.style import figure_paths

    return figure_paths(kwargs["plot_path"]) if kwargs.get("plot_path") else []


@writes("file")
@click.command("fit-survey")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Posterior NetCDF file to write.")
@dimensions_option
@fit_options
@allow_bad_option
@suppress_option
def fit_survey_cmd(bundle, out, dimensions, allow_bad_diagnostics, suppress_small, **options):
    """Fit the hierarchical rating model; write the posterior (all dimensions, one NetCDF file).

    Exits 3 (after writing, so the fit can be inspected) when R-hat > 1.01, bulk/tail ESS < 400, any
    divergence, E-BFMI < 0.3 or more than 1% of draws at the maximum tree depth, unless
    --allow-bad-diagnostics. The verdict is stored in the posterior, and every command that reads it
    refuses a failed or unchecked (ADVI, one-chain) posterior unless given --allow-bad-diagnostics.
    """
    from pluralstats.cli.survey import read_bundle
    from pluralstats.models import save_posterior

    idata = _fit(read_bundle(bundle), dimensions, **options)
    _report_disagreement(idata)
    console.print(_parameter_table(idata, suppress_small))
    summary = _diagnose_and_report(idata)
    save_posterior(idata, out)
    from pluralstats.models.diagnostics import recorded_families, verdict_of
    from pluralstats.models.fit import resolved_settings

    status, problems = verdict_of(idata)
    families = recorded_families(idata)
    for fam in families.itertuples():
        if hasattr(fam, "max_bound"):
            console.print(f"{fam.family}: {fam.free_terms} free terms; the term nearest its bound: R-hat "
                          f"{fam.max_r_hat:.4f} (bound {fam.max_bound:.4f}); largest R-hat {fam.largest_r_hat:.4f}")
    write_manifest(out, "fit-survey", inputs=[bundle], seed=options["seed"],
                   options={"dimensions": dimensions, **options, **resolved_settings(idata),
                            "suppress_small": suppress_small},
                   extra={"diagnostics": summary, "diagnostics_problems": problems,
                          "sampling_seconds": idata.posterior.attrs.get("sampling_seconds")})
    console.print(f"Wrote {out} ({idata.posterior.attrs['sampling_seconds']:.0f} s sampling)")
    if status != "passed" and not allow_bad_diagnostics:
        raise DiagnosticsError(f"{status}: {problems}")


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
    from pluralstats.io import check_output
    from pluralstats.models import all_contrasts, load_posterior, meta_of
    from pluralstats.models.contrasts import suppress_contrasts
    from pluralstats.models.groups import composition

    idata = load_posterior(posterior)
    # a bad margins file, or one weighting small groups (privacy), exits 2 before the diagnostics gate's work
    comp = composition(idata, weights, estimand, suppress_small=suppress_small)
    if comp.table is not None:
        check_output(_raked_beside(out))
    if hypotheses:
        from pluralstats.estimates.hypothesis import parse_hypothesis

        for text in hypotheses:  # unknown levels and syntax errors exit 2 before any work
            parse_hypothesis(idata, text)
    diagnostics = _require_good(idata, allow_bad_diagnostics)
    k = meta_of(idata).min_group_size
    options = {"attributes": attributes, "dimensions": dimensions, "prob": prob, "weights": str(weights),
               "estimand": comp.estimand, "suppress_small": suppress_small}
    from pluralstats.models.groups import write_raked

    raked = write_raked(comp, _raked_beside(out), "contrasts")
    if raked is not None:
        console.print(f"Wrote {raked} (the margins raked into population cells)")
    if hypotheses:
        _hypotheses(idata, hypotheses, list(hypothesis_dims) or dimensions, comp, quantity, prob, suppress_small, out)
        write_manifest(out, "contrasts", inputs=[posterior, *_weights_inputs(weights)],
                       options={**options, "hypotheses": list(hypotheses), "hypothesis_dimensions":
                                list(hypothesis_dims), "quantity": quantity}, extra={"diagnostics": diagnostics})
        return
    with console.status("Computing contrasts..."):
        frame = suppress_contrasts(all_contrasts(idata, attributes, dimensions, prob, weights=comp,
                                                 quantities=_quantities(idata)), idata, suppress_small)
    for attr, sub in frame.groupby("attribute", sort=False):
        console.print(contrast_table(sub, f"{attr} (level vs reference, {comp.label}, {prob:.0%} intervals)", k))
    _note_suppressed(frame, k)
    _save_csv(frame, out)
    figures = []
    if plot_path:
        from pluralstats.plots.posterior import plot_forest

        figures = plot_forest(frame, plot_path)
    # last: the manifest lists the figures, so that a rerun recognises them as its own
    write_manifest(out, "contrasts", inputs=[posterior, *_weights_inputs(weights)], options=options,
                   extra={"diagnostics": diagnostics})
    console.print(f"Wrote {', '.join(map(str, [out, *figures]))}")


def _weights_inputs(weights: str) -> list[Path]:
    """The margins file among a command's inputs (for the manifest), if --weights names one."""
    return [] if weights in ("sample", "equal") else [Path(weights)]


def _hypotheses(idata, texts, dimensions, comp, quantity: str, prob: float, suppress_small: bool, out: Path) -> None:
    """Print and write (CSV at ``out``) every --hypothesis on every dimension; suppressed rows show "<k"."""
    from pluralstats.estimates.hypothesis import hypotheses
    from pluralstats.models import meta_of
    from pluralstats.privacy import small_mark

    with console.status("Evaluating hypotheses..."):
        frame = hypotheses(idata, texts, dimensions, quantity=quantity, weights=comp, prob=prob,
                           suppress_small=suppress_small)
    what = "expected ratings" if quantity == "mean" else "% rating >= k"
    table = Table(title=f"Hypotheses ({what}, {comp.label}, {prob:.0%} intervals)")
    for col in ("hypothesis", "dimension", "estimate", f"{prob:.0%} interval", "P(true)"):
        table.add_column(col, justify="left" if col in ("hypothesis", "dimension") else "right")
    for r in frame.itertuples():
        if r.suppressed:
            table.add_row(r.hypothesis, r.dimension,
                          f"{small_mark(meta_of(idata).min_group_size)} raters", "(suppressed)", "")
            continue
        table.add_row(r.hypothesis, r.dimension, f"{r.estimate:+.3f}", f"[{r.lo:+.3f}, {r.hi:+.3f}]",
                      f"{r.probability:.3f}")
    console.print(table)
    if frame.suppressed.any():
        err_console.print("[yellow]note:[/] a group has fewer than k raters: its hypotheses are suppressed "
                          "(--no-suppress-small shows them)", markup=True)
    _save_csv(frame, out)
    console.print(f"Wrote {out}")


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
    from pluralstats.estimates.group_comparison import (
        compare_groups,
        resolve_groups,
        suppress_compare,
        write_comparison,
    )
    from pluralstats.models import load_posterior, meta_of

    if (source is None) == (posterior_path is None):
        raise click.UsageError("give exactly one of SOURCE (a posterior .nc or a bundle) and --posterior")
    source = source or posterior_path
    if source.is_dir() or source.suffix == ".toml":
        from pluralstats.cli.survey import read_bundle

        survey = read_bundle(source)
        resolve_groups(survey, *groups)  # unknown groups fail before the fit
        if weights != "sample":  # and so do margins that do not fit the survey or weight its small groups
            _check_weights_before_fit(survey, weights, options["attributes"] or survey.attributes, suppress_small)
        idata = _fit(survey, dimensions, **options)
        _diagnose_and_report(idata)
    else:
        idata = load_posterior(source)
        resolve_groups(idata, *groups)
    from pluralstats.models.groups import composition

    comp = composition(idata, weights, estimand, suppress_small=suppress_small)
    if eval_path is not None and (weights != "sample" or comp.estimand != "standardised" or "&" in "".join(groups)):
        raise InputError("--eval compares single levels standardised to the sample; leave out --weights, "
                         "--estimand and '&'")
    diagnostics = _require_good(idata, allow_bad_diagnostics)
    with console.status("Computing the contrast..."):
        if eval_path is not None:  # the tuned-model side: pluralstats.evaluate.compare_models
            from pluralstats.evaluate.compare_models import compare_with_models, print_agreement

            table = compare_with_models(idata, *groups, eval_path, dimensions=dimensions, prob=prob,
                                        seed=options["seed"], suppress_small=suppress_small,
                                        prefs=tuple(prefs_paths) if prefs_paths else None)
        else:
            table = compare_groups(idata, *groups, dimensions=dimensions, prob=prob, suppress_small=suppress_small,
                                   weights=comp, quantities=_quantities(idata))
        table = suppress_compare(table, idata, suppress_small)
    k = meta_of(idata).min_group_size
    console.print(contrast_table(table, f"{groups[0]} vs {groups[1]} ({comp.label}, {prob:.0%} intervals)", k))
    _note_suppressed(table, k)
    figures = write_comparison(table, out)
    from pluralstats.models.groups import write_raked

    raked = write_raked(comp, out / "raked_margins.csv")
    figures += [raked] if raked else []
    shown = table[~table["suppressed"]]
    if eval_path is not None and not shown.empty:
        figures += print_agreement(shown, out, console)
    write_manifest(out, "compare", inputs=[source, *([eval_path] if eval_path else []), *(prefs_paths or ()),
                                           *_weights_inputs(weights)],
                   seed=options["seed"],
                   options={"groups": list(groups), "dimensions": dimensions, "prob": prob, "weights": str(weights),
                            "estimand": comp.estimand, "suppress_small": suppress_small, **options},
                   extra={"diagnostics": diagnostics})
    console.print(f"Wrote {out / 'compare.csv'}, {', '.join(map(str, figures))}")


def _check_weights_before_fit(survey, weights: str, attributes: list[str], suppress_small: bool) -> None:
    """compare from a bundle: the checks composition() makes on a posterior, made on the survey before the fit."""
    import numpy as np

    from pluralstats.models.data import ModelMeta
    from pluralstats.models.groups import equal_composition, read_margins, refuse_small_weight

    levels = {a: survey.levels(a) for a in attributes}
    meta = ModelMeta(dimensions=survey.dimensions, scale_max=survey.config.scale_max, polarity={},
                     attributes=levels, min_group_size=survey.config.min_group_size)
    comp = equal_composition(levels) if weights == "equal" else read_margins(weights, meta)
    if suppress_small:
        raters = survey.participants[survey.participants.participant_id.isin(survey.ratings.participant_id.unique())]
        sample = np.column_stack([raters[a].astype(str).map({lv: i for i, lv in enumerate(levels[a])}).to_numpy()
                                  for a in attributes]).astype(int)
        sizes = {(a, "all"): survey.group_sizes(a).to_dict() for a in attributes}
        refuse_small_weight(comp, meta, sizes, sample, f"--weights {Path(weights).name}")


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
    from pluralstats.estimates.figures import posterior_figures
    from pluralstats.models import load_posterior, meta_of
    from pluralstats.models.groups import composition

    idata = load_posterior(posterior)
    if attribute is not None and attribute not in meta_of(idata).attributes:
        raise InputError(f"Unknown attribute '{attribute}'; known: {', '.join(meta_of(idata).attributes)}")
    comp = composition(idata, weights, estimand, suppress_small=suppress_small)
    # the variance kind writes a table of numbers to report: gated like contrasts, before anything is written
    diagnostics = _require_good(idata, allow_bad_diagnostics) if "variance" in kinds else None
    with console.status("Drawing..."):
        written = posterior_figures(idata, out, kinds, comp=comp, attribute=attribute, ppc_draws=ppc_draws, seed=seed,
                                    suppress_small=suppress_small, diagnostics=diagnostics)
    write_manifest(out, "plot-posterior", inputs=[posterior, *_weights_inputs(weights)], seed=seed,
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
    from pluralstats.estimates.disagreements import DELTA, find_disagreements, write_disagreements
    from pluralstats.estimates.group_comparison import resolve_groups
    from pluralstats.models import load_posterior

    idata = load_posterior(posterior)
    attribute, level_a, level_b = resolve_groups(idata, *groups)
    with console.status("Computing item and pair differences..."):
        found = find_disagreements(idata, attribute, level_a, level_b, dimensions=dimensions, prob=prob,
                                   delta=DELTA if delta is None else delta, suppress_small=suppress_small,
                                   allow_bad=allow_bad_diagnostics)
    if found.diagnostics != "passed":
        err_console.print(styled("[yellow]warning:[/] ", found.diagnostics))
    console.print(_disagreement_view(found, top))
    figures = write_disagreements(found, out, top=top, inputs=[posterior],
                                  options={"dimensions": dimensions, "suppress_small": suppress_small})
    console.print("\n".join(found.summary()))
    console.print(f"Wrote {', '.join(map(str, figures))}")


def _disagreement_view(found, top: int) -> Group:
    """The top items and pairs as console tables."""
    a, b, prob = found.level_a, found.level_b, found.prob
    view = Table(title=f"Items {a} and {b} differ most on, latent scale ({prob:.0%} intervals)")
    for col in ("dimension", "item", f"{a} - {b}, logits", "expected rating difference (rating scale)"):
        view.add_column(col, justify="left" if col in ("dimension", "item") else "right")
    for r in found.items.head(top).itertuples():
        view.add_row(r.dimension, r.item_id, f"{r.latent_diff:+.3f} [{r.latent_lo:+.3f}, "
                     f"{r.latent_hi:+.3f}]", f"{r.rating_diff:+.3f} [{r.rating_diff_lo:+.3f}, {r.rating_diff_hi:+.3f}]")
    if not len(found.pairs):
        return Group(view)
    table = Table(title=f"Pairs {a} and {b} most likely order oppositely, each by > {found.delta:g} rating "
                        f"points ({prob:.0%} intervals)")
    for col in ("dimension", "pair", f"better for {a}", f"better for {b}", "diff in diff (logits)", "P(opposite)"):
        table.add_column(col, justify="right" if col.startswith(("diff", "P(")) else "left")
    for r in found.pairs.head(top).itertuples():
        table.add_row(r.dimension, f"{r.item_1} vs {r.item_2}", r.better_for_a, r.better_for_b,
                      f"{r.latent_did:+.3f} [{r.latent_did_lo:+.3f}, {r.latent_did_hi:+.3f}]", f"{r.p_opposite:.3f}")
    return Group(view, table)


COMMANDS = [fit_survey_cmd, contrasts_cmd, compare_cmd, plot_posterior_cmd, disagreements_cmd]
