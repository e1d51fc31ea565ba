"""Bayesian hierarchical rating models: fit, save/load, predictive distributions, contrasts, diagnostics.

What is computed from a posterior afterwards (hypotheses, variance shares, disagreements, predictive checks,
leave-one-rater-out, the prior check, group comparison) lives in :mod:`pluralstats.estimates`.

Public API (stable; other stages call it)::

    fit_survey(survey, ...) -> InferenceData        save_posterior / load_posterior
    category_probabilities(idata, dimension, group, item_ids) -> (draws, items, scale_max)
    expected_rating(idata, dimension, group, item_ids) -> (draws,)
    group_contrasts(idata, attribute, level_a, level_b) -> DataFrame
    contrast_draws(idata, attribute, level_a, level_b) -> xarray.Dataset (dimension, chain, draw)
    all_contrasts(idata) -> DataFrame;  diagnose(idata) -> Diagnostics
    to_bambi(survey, formula, dimension=...) -> InferenceData (any Bambi formula, same gate; :mod:`.formula`)

Contrasts are adjusted: standardised to the sample's raters, or to ``weights`` ("equal" or population
margins, :mod:`.groups`), with ``mean`` and ``share>=k`` quantities (:mod:`.contrasts`).
"""

import warnings

from .contrasts import CONTRAST_COLUMNS, all_contrasts, contrast_draws, group_contrasts, summarize_draws
from .data import ModelMeta, build_model_data, meta_of
from .diagnostics import Diagnostics, check_diagnostics, diagnose
from .fit import fit_survey, load_posterior, save_posterior
from .formula import to_bambi
from .predict import category_probabilities, expected_rating

# PyTensor warns when pip installed it without a BLAS to link. The rating models compile to almost no BLAS
# op (`python benchmarks/bench_models.py blas` lists them) and nutpie's numba gradient does not use
# PyTensor's BLAS link, so the warning would alarm every user for nothing.
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS installation")


__all__ = [
    "CONTRAST_COLUMNS", "Diagnostics", "ModelMeta", "all_contrasts", "build_model_data",
    "category_probabilities", "check_diagnostics", "contrast_draws", "diagnose", "expected_rating",
    "fit_survey", "group_contrasts", "load_posterior", "meta_of", "save_posterior", "summarize_draws",
    "to_bambi",
]
