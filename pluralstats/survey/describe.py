"""Descriptives of a survey: Figure 1, group means, rating distributions, inter-rater agreement.

Figure 1 of the study: for every pair of dimensions, P(positive in column | positive in row), where
a rating is *positive* when it is at or above the dimension's threshold (survey.toml
``positive_threshold``; default the top two points of a 5-point scale). The unit is one rater's
judgement of one response, which carries a rating on every dimension.

Agreement is Krippendorff's alpha (ordinal), from the maintained ``krippendorff`` package, over
raters x items per dimension, overall and within each group. Group cells with fewer than k raters
(survey.toml ``min_group_size``) are flagged (``small_cell``) and, by default, suppressed with their
complementary cells (:mod:`pluralstats.privacy`): estimates and counts blanked, ``suppressed`` true.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd

from pluralstats.privacy import mask_groups

from .bundle import Survey


def positive_indicators(survey: Survey, thresholds: dict[str, int] | None = None) -> pd.DataFrame:
    """Wide table: one row per (participant, item), one boolean column per dimension (NaN if unrated)."""
    thresholds = {d: survey.config.threshold(d) for d in survey.dimensions} | (thresholds or {})
    wide = survey.ratings.pivot(index=["participant_id", "item_id"], columns="dimension", values="rating")
    wide = wide.reindex(columns=survey.dimensions)
    return wide.ge(pd.Series(thresholds)).where(wide.notna())


def conditional_positive_matrix(survey: Survey, thresholds: dict[str, int] | None = None) -> pd.DataFrame:
    """Figure 1 matrix: entry [row, col] = P(col positive | row positive), over jointly rated judgements."""
    pos = positive_indicators(survey, thresholds)
    dims = list(pos.columns)
    out = pd.DataFrame(np.nan, index=pd.Index(dims, name="given"), columns=pd.Index(dims, name="positive"))
    for row in dims:
        for col in dims:
            both_rated = pos[row].notna() & pos[col].notna()
            given = pos.loc[both_rated, row].astype(bool)
            if given.sum() > 0:
                out.loc[row, col] = pos.loc[both_rated & pos[row].astype(bool), col].astype(bool).mean()
    return out


def group_means(survey: Survey, suppress_small: bool = True) -> pd.DataFrame:
    """Mean rating per attribute level and dimension, with rater counts; small cells flagged and, when
    ``suppress_small``, suppressed with their complementary cells (estimates and counts blanked)."""
    merged = survey.ratings_with_attributes()
    k = survey.config.min_group_size
    frames = [merged.assign(attribute="all", level="all")]
    frames += [merged.assign(attribute=a, level=merged[a].astype(str)) for a in survey.attributes]
    long = pd.concat(frames, ignore_index=True)
    table = long.groupby(["attribute", "level", "dimension"], sort=True).agg(
        n_raters=("participant_id", "nunique"), n_ratings=("rating", "size"),
        mean=("rating", "mean"), sd=("rating", "std")).reset_index()
    table["small_cell"] = table.n_raters < k
    return mask_groups(table, k, ["n_raters", "n_ratings", "mean", "sd"], suppress=suppress_small)


def rating_distribution(survey: Survey) -> pd.DataFrame:
    """Share of each rating value per dimension, rows in survey.toml's dimension order (as Figure 1)."""
    counts = survey.ratings.groupby("dimension").rating.value_counts().unstack(fill_value=0)
    # groupby sorts alphabetically; the survey's own order keeps every figure and table aligned
    counts = counts.reindex(index=[d for d in survey.dimensions if d in counts.index])
    counts = counts.reindex(columns=range(1, survey.config.scale_max + 1), fill_value=0)
    return counts.div(counts.sum(axis=1), axis=0)


def _alpha(ratings: pd.DataFrame, scale_max: int) -> float:
    matrix = ratings.pivot(index="participant_id", columns="item_id", values="rating").to_numpy(dtype=float)
    if matrix.shape[0] < 2 or (np.sum(~np.isnan(matrix), axis=0) >= 2).sum() == 0:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal",
                                    value_domain=list(range(1, scale_max + 1))))


def agreement(survey: Survey, suppress_small: bool = True) -> pd.DataFrame:
    """Krippendorff's alpha (ordinal) per dimension, overall and within each attribute level (suppressed
    like :func:`group_means`: a group's rater count is as revealing there)."""
    merged = survey.ratings_with_attributes()
    k, rows = survey.config.min_group_size, []
    groups = [("all", "all", merged)]
    groups += [(a, str(lvl), g) for a in survey.attributes for lvl, g in merged.groupby(a)]
    for attribute, level, frame in groups:
        n_raters = frame.participant_id.nunique()
        for dim, sub in frame.groupby("dimension"):
            small = n_raters < k
            alpha = np.nan if (small and suppress_small) else _alpha(sub, survey.config.scale_max)
            rows.append({"attribute": attribute, "level": level, "dimension": dim, "n_raters": n_raters,
                         "alpha_ordinal": alpha, "small_cell": small})
    return mask_groups(pd.DataFrame(rows), k, ["n_raters", "alpha_ordinal"], suppress=suppress_small)


@dataclass
class Descriptives:
    """The survey descriptives: the Figure 1 conditional matrix, group means, rating distribution and
    Krippendorff's alpha per group."""

    conditional: pd.DataFrame
    means: pd.DataFrame
    distribution: pd.DataFrame
    agreement: pd.DataFrame


def describe(survey: Survey, thresholds: dict[str, int] | None = None, suppress_small: bool = True) -> Descriptives:
    """Every descriptive of ``survey`` (``thresholds`` override survey.toml's positive thresholds; small groups
    suppressed unless not ``suppress_small``)."""
    return Descriptives(conditional_positive_matrix(survey, thresholds), group_means(survey, suppress_small),
                        rating_distribution(survey), agreement(survey, suppress_small))


def write_descriptives(result: Descriptives, out: str | Path, *, inputs: Sequence[str | Path] = (), seed: int = 0,
                       options: dict | None = None) -> Path:
    """Write the descriptives into the folder ``out`` atomically: Figure 1 (CSV, PNG, PDF), group means, the
    rating distribution (CSV and figure), agreement and the ``describe`` manifest."""
    from pluralstats.io import atomic_path, write_manifest
    from pluralstats.plots.descriptives import plot_conditional_matrix, plot_rating_distribution

    with atomic_path(out, is_dir=True) as tmp:
        result.conditional.to_csv(tmp / "figure1_conditional.csv")
        result.means.to_csv(tmp / "group_means.csv", index=False)
        result.distribution.to_csv(tmp / "rating_distribution.csv")
        result.agreement.to_csv(tmp / "agreement.csv", index=False)
        plot_conditional_matrix(result.conditional, tmp / "figure1_conditional")
        plot_rating_distribution(result.distribution, tmp / "rating_distribution")
        write_manifest(tmp, "describe", inputs=list(inputs), seed=seed, options=options or {})
    return Path(out)
