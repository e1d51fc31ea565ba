"""Any Bambi formula of the cumulative family, fitted to one dimension of a survey and judged by the package's gate.

``to_bambi(survey, "rating ~ gender * political + (1|rater) + (1|item)", dimension="toxicity")`` fits the
formula with Bambi (``bambi.Model(formula, data, family="cumulative")``) on the ratings of one dimension and
returns one self-sufficient InferenceData, like :func:`~pluralstats.models.fit_survey`'s: the verdict of the
diagnostics gate recorded on it, the metadata and data the package's consumers read, and the per-rater
log-likelihood that ``az.loo`` and :func:`~pluralstats.estimates.loo.loo_report` read.

**Columns** a formula may use (one row per rating of the dimension): ``rating`` (the response, ordered
categories 1..scale_max; the only response allowed), ``rater`` (the rater's pseudonym, never a participant id),
``item``, ``prompt``, ``language``, every attribute of survey.toml (categorical, with survey.toml's reference
level as Bambi's reference), and any other column the ratings carry. A name outside these is an
:class:`~pluralstats.errors.InputError` naming it.

**What is estimated.** Bambi's cumulative model: ``P(rating <= k) = F(threshold_k - eta)``, ``F`` the
logistic (or with ``family="probit"`` the normal) CDF, ``eta`` the formula's linear predictor (no intercept: the
thresholds take its place); ``(1|g)`` terms are Normal(0, sigma_g) effects per level of g. The rating model's
own form (:mod:`~pluralstats.models.rating`) is the additive formula
``rating ~ attribute_1 + ... + (1|rater) + (1|item)``; the differences are in the priors (below) and the
parametrisation (Bambi's rater and item effects do not sum to zero, the package's do).

**Priors** (``priors``): by default the package's scales (:class:`~pluralstats.models.priors.Priors`): every
categorical term (attribute main effects and their interactions) Normal(0, beta_sd = 2.5) per coefficient;
``(1|rater)``'s sd HalfNormal(sigma_rater_sd = 1), ``(1|item)``'s HalfNormal(sigma_item_sd = 1), another
group's intercepts HalfNormal(1), a categorical term varying by group (``(political|item)``) HalfNormal(tau_sd =
0.5); thresholds ordered Normal(linspace(-2, 2), cutpoint_sd = 3). Terms with a numeric part keep Bambi's
default (Normal(0, 2.5 / sd(x)) per unit of x). ``priors="bambi"`` keeps all of Bambi's defaults, which differ:
categorical coefficients Normal(0, 2.5 / sd(dummy)) (about 5 logits for a level of half the raters, 20 for one of
3%), group sds HalfNormal(~4.6), thresholds ordered Normal(linspace(-2, 2), 1). The package's thresholds are the
cut points of the rating-weighted average rater, Bambi's those of a reference-level rater with zero effects; both
are weak priors, so on a survey of any size they barely move the level effects (``tests/test_formula.py``
measures the agreement).

**The posterior's layout.** Every fit holds

* ``cutpoints[dimension, cutpoint]``: Bambi's thresholds less the mean of the item intercepts ``(1|item)`` in that
  draw, and the item intercepts less that mean. Every prediction for the survey's items is unchanged (the shift
  cancels in ``threshold - eta``); the mean item intercept is not identified apart from the thresholds, and
  without the shift the thresholds mix along that ridge;
* ``sigma_rater``, ``sigma_item`` ``[dimension]``: the sds of ``(1|rater)`` and ``(1|item)`` (when in the formula);
* ``1|rater`` ``[rater__factor_dim]``: the raters' own effects (pseudonyms);
* for the **additive formula** (attribute main effects only, with exactly ``(1|rater) + (1|item)``): the rating
  model's layout, ``beta_<attribute>[dimension, <attribute>_level]`` (reference level 0) and
  ``item_effect[item, dimension]``, with the attributes in the metadata. The package's contrasts
  (:mod:`~pluralstats.models.contrasts`), predictions, variance shares and reporting commands read it as they read
  a ``fit_survey`` posterior of that dimension;
* for **any other formula**, Bambi's names for what the rating model has no place for: the common terms
  (``gender``, ``gender:political``, ``scale(age)``; level labels as in the survey), the centred item intercepts
  as ``1|item``, other group terms (``political|item``) and their sds (``political|item_sigma``). The metadata then
  list no attributes, so the package's contrasts have none to compute (they would ignore the interaction); use
  :func:`formula_comparisons` (an average predictive comparison from Bambi's ``model.predict``) or
  :func:`bambi_model` (Bambi's model and names, for ``bambi.interpret``) instead.

**The gate** (:mod:`~pluralstats.models.diagnostics`) judges, by its usual rule (4 chains fixed before sampling,
R-hat on exactly those, R-hat <= 1.01 and bulk and tail ESS >= 400 for reported quantities, no divergence,
E-BFMI, tree depth): the cut points, sds and every common term (for the additive formula, the level effects and
every level-vs-reference contrast, as for ``fit_survey``), and as *families* judged by the size-aware bound every
group term's effects (the raters', the items' and any other). :func:`diagnose_formula` computes it and
:func:`to_bambi` records it (:func:`~pluralstats.models.diagnostics.record_verdict`), so that
:func:`~pluralstats.models.diagnostics.require_diagnostics` and the reporting commands trust it. A posterior whose
draws are later changed (chains dropped, thinned) is diagnosed again by the package's
:func:`~pluralstats.models.diagnostics.diagnose`, which judges only the package's names (cut points, sds, level
effects, contrasts), not Bambi's other terms nor the families: judge such a posterior with
:func:`diagnose_formula` and :func:`~pluralstats.models.diagnostics.record_verdict` again.

**Leave-one-rater-out.** ``log_likelihood["ratings"][rater]`` holds, per draw, each rater's *marginal*
log-likelihood: the product of the rater's ratings' probabilities given the formula's other terms (item effects
and any other group effects as estimated), integrated over the rater's own intercept ``u ~ Normal(0,
sigma_rater)`` by adaptive Gauss-Hermite quadrature, the rule of
:func:`pluralstats.estimates.loo.rater_log_likelihood` (without a ``(1|rater)`` term, the plain sum of the rater's
ratings' log-probabilities). So ``az.loo(idata)`` and ``loo_report`` compute the same leave-one-rater-out as for a
``fit_survey`` posterior, and ``az.compare`` / ``loo`` compare the two on the same ratings. It is *not* Bambi's
pointwise log-likelihood (``model.compute_log_likelihood``: one value per rating, conditional on the rater's
estimated effect), which would answer leave-one-rating-out. K-fold by raters (``loo --kfold``) refits with
``fit_survey``, i.e. the package's model, not the formula: do not use it on these posteriors.

The formula may group by ``rater`` only through the intercept ``(1|rater)`` (a rater's attributes do not vary
across their ratings, so a rater slope on them is not identified, and the marginal likelihood integrates only the
intercept). ``offset()`` and ``hsgp()`` terms are not supported.

This module fits; :mod:`.formula_data` checks the formula and builds the data, priors and Bambi model;
:mod:`.formula_posterior` maps the draws to the layout, computes the log-likelihood, the verdict and the
comparisons (its functions are importable from here too).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from collections.abc import Mapping
from typing import Any

import arviz as az
import numpy as np
import xarray as xr

from pluralstats.errors import InputError, shorten
from pluralstats.samplers.sampler import join_chains, quiet
from pluralstats.survey import Survey

from .diagnostics import GATE_CHAINS, MIN_ESS, gate_draws, record_verdict
from .fit import default_tune, finish_idata
from .formula_data import FORMULA_ATTR, FormulaSpec, additive, build_bambi, formula_spec, stated_priors
from .formula_posterior import LL_VAR, bambi_model, diagnose_formula, formula_comparisons, layout, rater_log_likelihood
from .priors import DEFAULT_PRIORS, Priors

__all__ = ["SAMPLERS", "bambi_model", "build_bambi", "diagnose_formula", "formula_comparisons", "formula_settings",
           "formula_spec", "rater_log_likelihood", "to_bambi"]

#: Bambi's inference methods that give MCMC draws the gate can judge
SAMPLERS = ("nutpie", "pymc", "numpyro", "blackjax")


def _nutpie_options(chains: int) -> dict[str, Any]:
    """nutpie through Bambi: its low-rank mass matrix (the dummy-coded effects and thresholds are correlated, as
    in the rating model), no warm-up draws kept, and the gradient compiled by JAX when installed (seconds, where
    numba takes about half a minute on 2 cores for a formula of this size)."""
    options: dict[str, Any] = {"save_warmup": False, "low_rank_modified_mass_matrix": True,
                               "cores": max(1, min(chains, os.cpu_count() or 1))}
    try:
        import jax  # noqa: F401
    except ImportError:
        return options
    return {**options, "backend": "jax", "gradient_backend": "pytensor"}


def _sample(model: Any, sampler: str, *, draws: int, tune: int, chains: int, seed: int, progress: bool,
            sampler_options: Mapping[str, Any] | None) -> az.InferenceData:
    """One batch of ``chains`` chains from Bambi's ``fit`` (posterior and sampler statistics)."""
    kwargs: dict[str, Any] = {}
    if sampler == "nutpie":
        kwargs["nuts_sampler_kwargs"] = dict(_nutpie_options(chains) if sampler_options is None else sampler_options)
    elif sampler_options:
        kwargs.update(sampler_options)
    with quiet(progress), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyMC's and nutpie's notes on ignored arguments and the like
        fitted = model.fit(draws=draws, tune=tune, chains=chains, cores=min(chains, 2), random_seed=seed,
                           progressbar=progress, inference_method=sampler, **kwargs)
    return az.InferenceData(posterior=fitted.posterior, sample_stats=fitted.sample_stats)


def to_bambi(survey: Survey, formula: str, *, dimension: str | None = None, draws: int | None = None,
             tune: int | None = None, chains: int = GATE_CHAINS, seed: int = 0, sampler: str = "nutpie",
             progress: bool = False, priors: Priors | str | None = None,
             term_priors: Mapping[str, Any] | None = None, family: str = "logit", max_chains: int | None = None,
             log_likelihood: bool = True, check: bool = True,
             sampler_options: Mapping[str, Any] | None = None) -> az.InferenceData:
    """Fit ``formula`` (Bambi, cumulative family) to the ratings of ``dimension``; return the posterior in the
    package's layout with the gate's verdict recorded (module docstring: columns, priors, layout, gate, LOO).

    ``formula``: e.g. ``"rating ~ gender * political + (1|rater) + (1|item)"``; ``rater`` and ``item`` stand for
    the rater's pseudonym and the item id. ``dimension``: one of the survey's (None: its only one).
    ``draws`` per chain (None: :func:`~pluralstats.models.diagnostics.gate_draws`, 2,000 in all) and ``chains``
    are the gate's first batch, fixed before sampling. ``tune`` (None): nutpie's 300 steps, 1,000 when raters
    give 40 or more ratings each (:func:`~pluralstats.models.fit.default_tune`), 1,000 for the other samplers.
    ``sampler``: Bambi's inference method; "nutpie" (the default) runs nutpie through PyMC with its low-rank mass
    matrix on a JAX-compiled gradient when JAX is installed (numba otherwise); "pymc" is PyMC's NUTS (about
    2-3 times slower on a small survey); "numpyro" and "blackjax" need those packages. ``sampler_options``
    replaces the nutpie settings (``nuts_sampler_kwargs``), or for another sampler adds keywords to Bambi's
    ``fit``. ``max_chains``: when the first batch passes every check but ESS, more batches of ``chains`` are
    sampled while the total stays within it (R-hat stays the first batch's; None: never). ``priors`` and
    ``term_priors``: :func:`build_bambi`. ``family``: "logit" or "probit". ``log_likelihood``: attach the
    per-rater marginal log-likelihood. ``check``: diagnose and record the verdict (:func:`diagnose_formula`).

    The posterior's attrs record ``formula``, ``dimension``, ``sampler``, ``tune``, ``priors`` (JSON of the
    package's scales, or "bambi"), ``bambi_priors`` (JSON: each term's prior as Bambi states it), ``additive``,
    ``auto_choices`` and the verdict; :func:`formula_settings` gathers what a manifest records.
    """
    if sampler not in SAMPLERS:
        raise InputError(f"Unknown sampler '{shorten(sampler, 40)}' for to_bambi; choose one of {', '.join(SAMPLERS)}")
    draws = gate_draws(chains) if draws is None else draws
    if draws < 1 or chains < 1 or (tune is not None and tune < 0):
        raise InputError("draws and chains must be >= 1 and tune >= 0")
    spec = formula_spec(survey, formula, dimension, family)
    model = build_bambi(spec, priors, term_priors)
    auto = []
    if tune is None:
        tune, why = default_tune(spec.data, "nutpie") if sampler == "nutpie" else (1000, "")
        auto += [why] if why else []
    start = time.perf_counter()
    raw = _sample(model, sampler, draws=draws, tune=tune, chains=chains, seed=seed, progress=progress,
                  sampler_options=sampler_options)
    added = 0
    most = max(chains, max_chains or chains)
    while True:
        idata = _finish(raw, spec, model, sampler, seconds=time.perf_counter() - start)
        diag = diagnose_formula(idata, rhat_chains=chains) if check else None
        if diag is None or not diag.only_ess_failed or raw.posterior.sizes["chain"] + chains > most:
            break
        run_seed = int(np.random.SeedSequence([seed, added + chains]).generate_state(1)[0])
        raw = join_chains([raw, _sample(model, sampler, draws=draws, tune=tune, chains=chains, seed=run_seed,
                                        progress=progress, sampler_options=sampler_options)])
        added += chains
    if added:
        auto.append(f"{added} more chains (each {draws} draws): the first {chains} passed every check but ESS "
                    f">= {MIN_ESS:g}; R-hat is the first {chains} chains'")
    attrs = idata.posterior.attrs
    attrs.update({FORMULA_ATTR: formula, "dimension": spec.dimension, "sampler": sampler, "tune": int(tune),
                  "auto_choices": "; ".join(auto), "family": spec.family, "additive": int(additive(spec, model)),
                  "split_dimensions": 0, "pooled_levels": 0,
                  "priors": priors if isinstance(priors, str) else json.dumps(dataclasses.asdict(
                      priors if isinstance(priors, Priors) else DEFAULT_PRIORS)),
                  "bambi_priors": json.dumps(stated_priors(model)), "bambi_version": _bambi_version()})
    if isinstance(priors, Priors) or priors is None:
        attrs["beta_prior_sd"] = float((priors or DEFAULT_PRIORS).beta_sd)
    if log_likelihood:
        idata.add_groups({"log_likelihood": xr.Dataset({LL_VAR: rater_log_likelihood(model, raw, spec)})})
    if check:
        record_verdict(idata, diag if diag is not None else diagnose_formula(idata, rhat_chains=chains))
    return idata


def _finish(raw: az.InferenceData, spec: FormulaSpec, model: Any, sampler: str, seconds: float) -> az.InferenceData:
    """The layout's posterior with sampler statistics, constant data and metadata (as ``fit_survey``'s)."""
    mapped = az.InferenceData(posterior=layout(raw, spec, model), sample_stats=raw.sample_stats)
    data = spec.data
    if not additive(spec, model):  # the package's contrasts and predictions read no attribute of this posterior
        digest = data.meta.survey_digest
        data = dataclasses.replace(data, rater_levels=np.zeros((len(data.rater_ids), 0), dtype=int),
                                   meta=dataclasses.replace(data.meta, attributes={}))
        data.meta.survey_digest = digest  # the fingerprint of the ratings with the formula's attributes
    idata = finish_idata(mapped, data, backend=f"bambi-{sampler}", joint=False, seconds=seconds)
    idata.posterior.attrs.pop("modeling_interface", None)
    return idata


def _bambi_version() -> str:
    import bambi

    return str(bambi.__version__)


def formula_settings(idata: az.InferenceData) -> dict[str, Any]:
    """What a manifest records of a :func:`to_bambi` fit: the formula, dimension, sampler and its settings, the
    priors, whether the layout is the additive model's, and the choices made from the data."""
    attrs = idata.posterior.attrs
    if FORMULA_ATTR not in attrs:
        raise InputError("This posterior was not fitted by to_bambi (no formula recorded)")
    keys = (FORMULA_ATTR, "dimension", "sampler", "tune", "family", "priors", "bambi_priors", "bambi_version",
            "auto_choices")
    out = {key: attrs.get(key) for key in keys}
    out["additive"] = bool(attrs.get("additive", 0))
    out["chains"] = int(idata.posterior.sizes["chain"])
    out["draws"] = int(idata.posterior.sizes["draw"])
    for key in ("priors", "bambi_priors"):
        try:
            out[key] = json.loads(out[key])
        except (TypeError, ValueError):
            pass
    return out
