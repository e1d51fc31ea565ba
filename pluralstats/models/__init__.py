"""Bayesian hierarchical rating models: fit, save/load, predictive distributions, contrasts, diagnostics.

Public API (stable; other stages call it)::

    fit_survey(survey, ...) -> InferenceData        save_posterior / load_posterior
    category_probabilities(idata, dimension, group, item_ids) -> (draws, items, scale_max)
    expected_rating(idata, dimension, group, item_ids) -> (draws,)
    group_contrasts(idata, attribute, level_a, level_b) -> DataFrame
    contrast_draws(idata, attribute, level_a, level_b) -> xarray.Dataset (dimension, chain, draw)
    all_contrasts(idata) -> DataFrame;  diagnose(idata) -> Diagnostics
    hypothesis(idata, "political:conservative - political:liberal > 0.2", dimension) -> Series

Contrasts are adjusted: standardised to the sample's raters, or to ``weights`` ("equal" or population
margins, :mod:`.groups`), with ``mean`` and ``share>=k`` quantities (:mod:`.contrasts`).
"""

import warnings

from .contrasts import CONTRAST_COLUMNS, all_contrasts, contrast_draws, group_contrasts, summarize_draws
from .data import ModelMeta, build_model_data, meta_of
from .diagnostics import Diagnostics, check_diagnostics, diagnose
from .fit import BACKENDS, fit_survey, load_posterior, save_posterior
from .hypothesis import hypothesis
from .predict import category_probabilities, expected_rating

# PyTensor warns when pip installed it without a BLAS to link. `python benchmarks/bench_models.py blas`
# shows the independent rating model compiles to no BLAS op at all (the joint one to one small Dot22), and
# the default nutpie backend compiles with numba, which does not use PyTensor's BLAS link: the warning
# costs these models nothing, so it is silenced here rather than shown to every user.
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS installation")


__all__ = [
    "BACKENDS", "CONTRAST_COLUMNS", "Diagnostics", "ModelMeta", "all_contrasts", "build_model_data",
    "category_probabilities", "check_diagnostics", "contrast_draws", "diagnose", "expected_rating",
    "fit_survey", "group_contrasts", "hypothesis", "load_posterior", "meta_of", "save_posterior", "summarize_draws",
]
