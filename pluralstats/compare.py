"""``compare --groups A B``: the survey-estimated difference between two groups, per dimension.

The seam for the tuned-model side (issue 6): :func:`compare_groups` takes ``model_side``, a frame
with columns ``dimension``, ``diff``, ``lo``, ``hi`` (tuned on A minus tuned on B, same
orientation as the survey side) and optionally ``draws`` (an array per row); it is joined on
``dimension`` as ``model_diff``, ``model_lo``, ``model_hi``. :func:`survey_side` is the survey half
alone, :func:`resolve_groups` the level lookup, and :func:`pluralstats.plots.posterior.plot_compare`
draws both sides when present.

A comparison involving a level with fewer than k raters is suppressed (:func:`suppress_compare`, the rule
of :mod:`pluralstats.privacy`): every survey-derived number is blanked, the tuned-model side is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pluralstats.errors import InputError
from pluralstats.models import group_contrasts, meta_of
from pluralstats.models.contrasts import suppress_contrasts
from pluralstats.survey import Survey, resolve_level

MODEL_SIDE_COLUMNS = ("dimension", "diff", "lo", "hi")
#: columns a suppressed comparison keeps: the labels and the tuned models' own side
KEPT_COLUMNS = ("dimension", "attribute", "level_a", "level_b")


def suppress_compare(table: pd.DataFrame, idata, suppress: bool = True) -> pd.DataFrame:
    """``table`` with ``small_cell`` and ``suppressed`` columns; when ``suppress``, rows involving a small
    level lose every survey-derived number (contrast and agreement columns), not the ``model_*`` ones."""
    survey_cols = [c for c in table.columns if c not in KEPT_COLUMNS and not c.startswith("model_")
                   and c not in ("small_cell", "suppressed")]
    return suppress_contrasts(table, idata, suppress, columns=survey_cols)


def resolve_groups(source, group_a: str, group_b: str) -> tuple[str, str, str]:
    """(attribute, level_a, level_b); both groups must be levels of the same attribute."""
    if isinstance(source, Survey):
        attr_a, level_a = source.resolve_level(group_a)
        attr_b, level_b = source.resolve_level(group_b)
    else:
        levels = meta_of(source).attributes
        attr_a, level_a = resolve_level(levels, group_a)
        attr_b, level_b = resolve_level(levels, group_b)
    if attr_a != attr_b:
        raise InputError(f"'{group_a}' is a level of {attr_a} but '{group_b}' of {attr_b}; "
                         f"compare two levels of the same attribute")
    if level_a == level_b:
        raise InputError(f"Both groups are '{level_a}'; give two different levels")
    return attr_a, level_a, level_b


def survey_side(idata, group_a: str, group_b: str, dimensions: Sequence[str] | None = None,
                prob: float = 0.95) -> pd.DataFrame:
    """Per dimension, the posterior contrast A - B (columns of ``CONTRAST_COLUMNS``)."""
    attribute, level_a, level_b = resolve_groups(idata, group_a, group_b)
    return group_contrasts(idata, attribute, level_a, level_b, dimensions, prob)


def _check_model_side(model_side: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in MODEL_SIDE_COLUMNS if c not in model_side.columns]
    if missing:
        raise InputError(f"model_side lacks column(s) {', '.join(missing)}; needs {', '.join(MODEL_SIDE_COLUMNS)}")
    renamed = model_side.rename(columns={"diff": "model_diff", "lo": "model_lo", "hi": "model_hi",
                                         "draws": "model_draws"})
    keep = ["dimension", "model_diff", "model_lo", "model_hi"] + (["model_draws"] if "model_draws" in renamed else [])
    return renamed[keep]


def compare_groups(idata_or_survey, group_a: str, group_b: str, *, dimensions: Sequence[str] | None = None,
                   prob: float = 0.95, model_side: pd.DataFrame | None = None,
                   fit_options: dict | None = None, suppress_small: bool = True) -> pd.DataFrame:
    """Survey-estimated A - B per dimension, with the tuned-model difference beside it when given.

    ``idata_or_survey``: a posterior, or a :class:`Survey` (fitted first with ``fit_options``,
    keyword arguments of :func:`pluralstats.models.fit_survey`). ``suppress_small``: blank the survey
    side when a group has fewer than k raters (:func:`suppress_compare`).
    """
    source = idata_or_survey
    if isinstance(source, Survey):
        resolve_groups(source, group_a, group_b)  # fail before a long fit
        from pluralstats.models import fit_survey

        source = fit_survey(source, dimensions=list(dimensions) if dimensions else None, **(fit_options or {}))
    table = survey_side(source, group_a, group_b, dimensions, prob)
    if model_side is not None:
        table = table.merge(_check_model_side(model_side), on="dimension", how="left")
    return suppress_compare(table, source, suppress_small)
