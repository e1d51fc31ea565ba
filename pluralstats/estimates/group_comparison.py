"""``compare --groups A B``: the survey-estimated difference between two groups, per dimension.

The seam for the tuned-model side: :func:`compare_groups` takes ``model_side``, a frame
with columns ``dimension``, ``diff``, ``lo``, ``hi`` (tuned on A minus tuned on B, same
orientation as the survey side) and optionally ``draws`` (an array per row); it is joined on
``dimension`` (and ``quantity``) as ``model_diff``, ``model_lo``, ``model_hi``. :func:`survey_side` is the survey half
alone, :func:`resolve_groups` the level lookup, and :func:`pluralstats.plots.posterior_plots.plot_compare`
draws both sides when present.

A group may fix several attributes (``"gender=female&political=conservative"``: an intersectional group, the
other attributes averaged over the sample as usual); level and attribute names match case-insensitively.
Every number is adjusted: standardised to the sample's composition, or to ``weights`` (equal cells or a
population's margins, :mod:`pluralstats.models.groups`), as the ``standardisation`` column says.

A comparison involving a level (or intersectional cell) with fewer than k raters is suppressed
(:func:`suppress_compare`, the rule of :mod:`pluralstats.privacy`): every survey-derived number is blanked,
the tuned-model side is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pluralstats.errors import InputError
from pluralstats.models.contrasts import Weights, group_contrast_draws, summarize_draws, suppress_contrasts
from pluralstats.models.groups import group_name, parse_group
from pluralstats.survey import Survey

MODEL_SIDE_COLUMNS = ("dimension", "diff", "lo", "hi")
#: columns a suppressed comparison keeps: the labels and the tuned models' own side
KEPT_COLUMNS = ("dimension", "attribute", "level_a", "level_b", "quantity", "standardisation")


def suppress_compare(table: pd.DataFrame, idata, suppress: bool = True) -> pd.DataFrame:
    """``table`` with ``small_cell`` and ``suppressed`` columns; when ``suppress``, rows involving a small
    level lose every survey-derived number (contrast and agreement columns), not the ``model_*`` ones."""
    survey_cols = [c for c in table.columns if c not in KEPT_COLUMNS and not c.startswith("model_")
                   and c not in ("small_cell", "suppressed")]
    return suppress_contrasts(table, idata, suppress, columns=survey_cols)


def resolve_groups(source, group_a: str, group_b: str) -> tuple[str, str, str]:
    """(attribute, level_a, level_b); both groups must fix the same attributes (an intersectional group gives
    ``"gender&political"``, ``"female&conservative"``). Names match case-insensitively; unknown or ambiguous
    ones raise :class:`InputError` listing the candidates."""
    if isinstance(source, Survey):
        from pluralstats.models.data import ModelMeta

        source = ModelMeta(dimensions=source.dimensions, attributes={a: source.levels(a) for a in source.attributes},
                           scale_max=source.config.scale_max, polarity={})
    a, b = parse_group(source, group_a), parse_group(source, group_b)
    if sorted(a) != sorted(b):
        what = "a level of" if len(a) == 1 and len(b) == 1 else "fixing"
        raise InputError(f"'{group_a}' is {what} {', '.join(a)} but '{group_b}' {what} {', '.join(b)}; "
                         f"compare two levels of the same attribute (or groups fixing the same attributes)")
    b = {attr: b[attr] for attr in a}
    if a == b:
        raise InputError(f"Both groups are '{group_name(a)[1]}'; give two different levels")
    return (*group_name(a), group_name(b)[1])


def survey_side(idata, group_a: str, group_b: str, dimensions: Sequence[str] | None = None,
                prob: float = 0.95, *, weights: Weights = "sample",
                quantities: Sequence[str] = ("mean",)) -> pd.DataFrame:
    """Per dimension and quantity, the posterior contrast A - B of the adjusted expected rating (``mean``) or
    share P(rating >= k) (``share``, percentage points), standardised to ``weights`` (columns of
    ``CONTRAST_COLUMNS``)."""
    resolve_groups(idata, group_a, group_b)
    return pd.concat([summarize_draws(group_contrast_draws(idata, group_a, group_b, dimensions, weights=weights,
                                                           quantity=q), prob) for q in quantities],
                     ignore_index=True)


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
                   fit_options: dict | None = None, suppress_small: bool = True, weights: Weights = "sample",
                   quantities: Sequence[str] = ("mean",)) -> pd.DataFrame:
    """Survey-estimated A - B per dimension, with the tuned-model difference beside it when given.

    ``idata_or_survey``: a posterior, or a :class:`Survey` (fitted first with ``fit_options``,
    keyword arguments of :func:`pluralstats.models.fit_survey`). ``suppress_small``: blank the survey
    side when a group has fewer than k raters (:func:`suppress_compare`). ``weights`` and ``quantities``: as in
    :func:`survey_side`; the model side joins the ``mean`` rows only (it is a difference of mean ratings).
    """
    source = idata_or_survey
    if isinstance(source, Survey):
        resolve_groups(source, group_a, group_b)  # fail before a long fit
        from pluralstats.models import fit_survey

        source = fit_survey(source, dimensions=list(dimensions) if dimensions else None, **(fit_options or {}))
    table = survey_side(source, group_a, group_b, dimensions, prob, weights=weights, quantities=quantities)
    if model_side is not None:
        side = _check_model_side(model_side).assign(quantity="mean")
        table = table.merge(side, on=["dimension", "quantity"], how="left")
    return suppress_compare(table, source, suppress_small)


def comparison_quantities(idata) -> tuple[str, ...]:
    """``mean``, and ``share`` when the posterior stores every dimension's positive threshold (survey.toml sets one)."""
    from pluralstats.models import meta_of

    meta = meta_of(idata)
    return ("mean", "share") if set(meta.dimensions) <= set(meta.thresholds) else ("mean",)


def write_comparison(table: pd.DataFrame, out: str | Path) -> list[Path]:
    """Write ``compare.csv`` and the comparison figure (``compare.png``/``.pdf``) into the folder ``out``;
    return the figure paths. The caller writes the manifest once it has added its own figures."""
    from pluralstats.io import atomic_path
    from pluralstats.plots.posterior_plots import plot_compare

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "compare.csv") as tmp:
        table.to_csv(tmp, index=False)
    return plot_compare(table, out / "compare.png")
