"""The model stage's command, fit-survey, and the sampler options it shares with compare (which fits when given
a bundle); the options of the commands that read a posterior (:mod:`pluralstats.cli.estimates`)."""

from __future__ import annotations

from pathlib import Path

import click

from pluralstats.cli.common import console, csv_list, family_option, seed_option, writes
from pluralstats.cli.common import dimensions_option as common_dimensions_option
from pluralstats.cli.survey import allow_outside_option, suppress_option
from pluralstats.cli.views import diagnostics_view, parameter_table, tau_lines
from pluralstats.errors import DiagnosticsError, InputError

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


def fit_progress(survey, dimensions, options: dict) -> dict:
    """The fit_survey keyword options of the :func:`fit_options` (``--prior`` parsed, the survey's own
    disagreement attributes by default, less the seed), after printing what is about to be fitted."""
    from pluralstats.models.diagnostics import gate_draws

    fit = {k: v for k, v in options.items() if k not in ("prior", "seed")}
    fit.update(_priors(options.get("prior", ()), options["beta_prior_sd"]))
    if fit.get("disagreement") is None:
        fit["disagreement"] = list(survey.config.disagreement) or None
    draws = fit["draws"] or gate_draws(fit["chains"], bool(fit["disagreement"]))
    tune = "tuning chosen from the data" if fit["tune"] is None else f"{fit['tune']} tuning steps"
    console.print(f"Fitting ({fit['backend']} backend): {len(survey.ratings)} ratings, dimensions "
                  f"{', '.join(dimensions or survey.dimensions)} ({draws} draws x {fit['chains']} chains, {tune})")
    return fit


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


#: options that set the built-in model's form, which a formula states itself
FORMULA_SETS = ("attributes", "disagreement", "joint", "pooled_levels", "rater_variance_by", "centered_interactions",
                "centered_items", "centered_raters", "split_dimensions")


def _fit_formula(survey, formula: str, dimensions, options: dict):
    """``fit-survey --formula``: :func:`~pluralstats.models.to_bambi` with the sampler options that apply."""
    from pluralstats.models import to_bambi
    from pluralstats.models.priors import Priors, parse_priors

    given = [name for name in FORMULA_SETS if options.get(name) not in (None, False)]
    if given:
        raise InputError(f"--formula states the model; leave out --{given[0].replace('_', '-')}")
    if dimensions and len(dimensions) > 1:
        raise InputError("--formula fits one dimension: give --dimensions NAME")
    if options["backend"] not in ("auto", "nutpie", "pymc"):
        raise InputError(f"--formula samples with nutpie (auto) or pymc, not --backend {options['backend']}")
    priors, _ = parse_priors(options.get("prior", ()), base=Priors(beta_sd=options["beta_prior_sd"]))
    console.print(f"Fitting {formula!r} with Bambi ({len(survey.ratings)} ratings)")
    return to_bambi(survey, formula, dimension=dimensions[0] if dimensions else None, draws=options["draws"],
                    tune=options["tune"], chains=options["chains"], seed=options["seed"],
                    max_chains=options["max_chains"], priors=priors, family=options["family"],
                    sampler="pymc" if options["backend"] == "pymc" else "nutpie", progress=True)


@writes("file")
@click.command("fit-survey")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Posterior NetCDF file to write.")
@dimensions_option
@fit_options
@click.option("--formula", default=None, metavar="FORMULA",
              help="Fit this Bambi formula (cumulative family) on one dimension instead of the built-in model, e.g. "
                   "'rating ~ gender * political + (1|rater) + (1|item)' (columns: rating, rater, item, prompt, "
                   "language and the attributes); gated alike; loo reads it, and contrasts an additive one.")
@allow_bad_option
@suppress_option
def fit_survey_cmd(bundle, out, dimensions, formula, allow_bad_diagnostics, suppress_small, **options):
    """Fit the hierarchical rating model; write the posterior (all dimensions, one NetCDF file).

    Exits 3 (after writing, so the fit can be inspected) when R-hat > 1.01, bulk/tail ESS < 400, any
    divergence, E-BFMI < 0.3 or more than 1% of draws at the maximum tree depth, unless
    --allow-bad-diagnostics. The verdict is stored in the posterior, and every command that reads it
    refuses a failed or unchecked (ADVI, one-chain) posterior unless given --allow-bad-diagnostics.
    """
    from pluralstats.cli.survey import read_bundle
    from pluralstats.estimates.fit_summary import parameter_summary, tau_summary
    from pluralstats.models import fit_survey, meta_of
    from pluralstats.models.fit_output import write_fit

    survey = read_bundle(bundle)
    idata = _fit_formula(survey, formula, dimensions, options) if formula else fit_survey(
        survey, dimensions=dimensions, progress=True, seed=options["seed"], **fit_progress(survey, dimensions, options))
    attrs = idata.posterior.attrs
    console.print(f"Sampled {idata.posterior.sizes['chain']} chains x {idata.posterior.sizes['draw']} draws after "
                  f"{attrs.get('tune', 0)} tuning steps in {attrs.get('sampling_seconds', 0):.0f} s"
                  + (f"; chosen from the data: {attrs['auto_choices']}" if attrs.get("auto_choices") else ""))
    console.print("\n".join(tau_lines(tau_summary(idata))))
    console.print(parameter_table(parameter_summary(idata, suppress_small), meta_of(idata).family,
                                  meta_of(idata).min_group_size))
    console.print(diagnostics_view(idata))
    status, problems = write_fit(idata, out, inputs=[bundle], seed=options["seed"],
                                 options={"dimensions": dimensions, **options, "suppress_small": suppress_small,
                                          **({"formula": formula} if formula else {})})
    console.print(f"Wrote {out} ({attrs['sampling_seconds']:.0f} s sampling)")
    if status != "passed" and not allow_bad_diagnostics:
        raise DiagnosticsError(f"{status}: {problems}")


COMMANDS = [fit_survey_cmd]
