"""The ``compare`` command as one call (here, beside the tuned models' side it can add): two groups'
survey-estimated difference per dimension, from a posterior or from a survey it fits first, optionally set beside
the tuned models' difference (Figure 2); written into a folder with its figure and manifest. Nothing is printed
here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.estimates.contrast_report import margins_inputs
from pluralstats.io import write_manifest


@dataclass
class ComparisonReport:
    """What :func:`comparison_report` computed and wrote.

    ``table``: per dimension (and quantity) the adjusted difference between a new rater of group A and one of
    group B (expected rating, ``mean``; share rating >= k, ``share``, in percentage points), the attributes the
    groups do not fix averaged over the population ``label`` names; with ``eval_path``, the tuned models'
    difference and the agreement columns beside it. Small-cell rows are blanked (``suppressed``).
    """

    table: pd.DataFrame
    groups: tuple[str, str]
    label: str
    prob: float
    min_group_size: int
    diagnostics: str
    idata: Any  # the posterior used (fitted here when the source was a survey)
    with_models: bool
    written: list[Path] = field(default_factory=list)


def comparison_report(source: Any, groups: Sequence[str], out: str | Path, *, dimensions: Sequence[str] | None = None,
                      prob: float = 0.95, weights: str | Path = "sample", estimand: str | None = None,
                      allow_bad: bool = False, eval_path: str | Path | None = None,
                      prefs_paths: Sequence[str | Path] | None = None, suppress_small: bool = True,
                      fit: Mapping[str, Any] | None = None, seed: int = 0,
                      inputs: Sequence[str | Path] = ()) -> ComparisonReport:
    """Compare ``groups`` (two levels of one attribute, or two intersectional groups fixing the same attributes)
    on ``source``: a posterior (a path or InferenceData) or a :class:`~pluralstats.survey.Survey`, fitted first
    with :func:`~pluralstats.models.fit_survey` and the keyword options ``fit``.

    From a survey, unknown groups and margins that do not fit it (or weight its small groups) are refused before
    the fit. The diagnostics gate applies either way (:class:`~pluralstats.errors.DiagnosticsError` unless
    ``allow_bad``). ``eval_path`` (``evaluate``'s results.parquet, models named after the groups) adds the tuned
    models' side and Figure 2; ``prefs_paths`` the preference sets behind them. ``inputs``: the files the
    source came from, for the manifest (a posterior path is added itself).
    """
    from pluralstats.estimates.group_comparison import (
        compare_groups,
        comparison_quantities,
        suppress_compare,
        write_comparison,
    )
    from pluralstats.models.diagnostics import require_diagnostics
    from pluralstats.models.groups import composition, write_raked

    group_a, group_b = groups
    idata = _posterior(source, group_a, group_b, weights, suppress_small, dimensions, dict(fit or {}), seed)
    comp = composition(idata, weights, estimand, suppress_small=suppress_small)
    if eval_path is not None and (str(weights) != "sample" or comp.estimand != "standardised"
                                  or "&" in group_a + group_b):
        raise InputError("--eval compares single levels standardised to the sample; leave out --weights, "
                         "--estimand and '&'")
    diagnostics = require_diagnostics(idata, allow_bad=allow_bad) or "passed"
    if eval_path is not None:  # the tuned-model side: pluralstats.evaluate.compare_models
        from .compare_models import compare_with_models

        table = compare_with_models(idata, group_a, group_b, eval_path, dimensions=dimensions, prob=prob, seed=seed,
                                    suppress_small=suppress_small, prefs=tuple(prefs_paths) if prefs_paths else None)
    else:
        table = compare_groups(idata, group_a, group_b, dimensions=dimensions, prob=prob,
                               suppress_small=suppress_small, weights=comp, quantities=comparison_quantities(idata))
    table = suppress_compare(table, idata, suppress_small)
    out = Path(out)
    written = [out / "compare.csv", *write_comparison(table, out)]
    raked = write_raked(comp, out / "raked_margins.csv")
    written += [raked] if raked else []
    shown = table[~table["suppressed"]]
    if eval_path is not None and not shown.empty:
        from pluralstats.plots.figures import figure2

        from .compare_models import direction_caption

        written += figure2([shown], out / "figure2", direction=direction_caption)
    from pluralstats.models import meta_of

    posterior_file = [source] if isinstance(source, (str, Path)) else []
    write_manifest(out, "compare", inputs=[*posterior_file, *inputs, *([eval_path] if eval_path else []),
                                           *(prefs_paths or ()), *margins_inputs(weights)], seed=seed,
                   options={"groups": list(groups), "dimensions": dimensions, "prob": prob, "weights": str(weights),
                            "estimand": comp.estimand, "suppress_small": suppress_small, **dict(fit or {})},
                   extra={"diagnostics": diagnostics})
    return ComparisonReport(table=table, groups=(group_a, group_b), label=comp.label, prob=prob,
                            min_group_size=meta_of(idata).min_group_size, diagnostics=diagnostics, idata=idata,
                            with_models=eval_path is not None, written=written)


def _posterior(source: Any, group_a: str, group_b: str, weights: str | Path, suppress_small: bool,
               dimensions: Sequence[str] | None, fit: dict[str, Any], seed: int) -> Any:
    """The posterior to compare on: loaded (a path), as given (InferenceData), or fitted (a survey), with the
    groups resolved (and, for a survey, the weights checked) before any fit."""
    from pluralstats.estimates.group_comparison import resolve_groups
    from pluralstats.models import fit_survey, load_posterior
    from pluralstats.survey import Survey

    if not isinstance(source, Survey):
        idata = load_posterior(source) if isinstance(source, (str, Path)) else source
        resolve_groups(idata, group_a, group_b)
        return idata
    check_before_fit(source, (group_a, group_b), weights, fit.get("attributes"), suppress_small)
    return fit_survey(source, dimensions=list(dimensions) if dimensions else None, seed=seed, **fit)


def check_before_fit(survey, groups: Sequence[str], weights: str | Path, attributes: Sequence[str] | None,
                     suppress_small: bool) -> None:
    """What a comparison from a survey refuses before fitting: unknown groups, and margins that do not fit the
    survey's ``attributes`` (None: all) or weight its small groups."""
    from pluralstats.estimates.group_comparison import resolve_groups

    resolve_groups(survey, *groups)
    if str(weights) != "sample":
        _check_weights(survey, str(weights), list(attributes or survey.attributes), suppress_small)


def _check_weights(survey, weights: str, attributes: list[str], suppress_small: bool) -> None:
    """The checks :func:`~pluralstats.models.groups.composition` makes on a posterior, made on the survey before a
    fit: the margins fit its attributes and levels, and (unless not ``suppress_small``) do not weight a small
    group beyond the weights rule."""
    from pluralstats.models.composition import equal_composition, refuse_small_weight
    from pluralstats.models.data import ModelMeta
    from pluralstats.models.margins import read_margins

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
