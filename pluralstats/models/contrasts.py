"""Group contrasts from the posterior, as DESIGN.md defines them.

The contrast of group A versus B on a dimension is the difference between the expected ratings
of a *new* rater from A and from B, averaged over the survey's items (their estimated effects),
over the rater-effect distribution N(0, sigma_rater) and over the survey's rater composition for
the other attributes (standardisation: every rater's other attributes, with A's or B's level).
It is read per posterior draw, so intervals and the sign probability come out of the draws, not
off a coefficient: a logit-scale beta is not "18% less toxic".

A contrast that involves a level with fewer than k raters (the survey's ``min_group_size``, stored in
the posterior) is suppressed by :func:`suppress_contrasts`, under :mod:`pluralstats.privacy`'s rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from pluralstats.privacy import mask_rows, suppressed_levels

from .data import meta_of
from .predict import _check_dimension, _check_group, flat_draws, interaction_cells, offsets, standardised

CONTRAST_COLUMNS = ["dimension", "attribute", "level_a", "level_b", "mean_a", "mean_b", "diff", "diff_lo",
                    "diff_hi", "rel_pct", "rel_lo", "rel_hi", "p_positive"]
#: the columns a suppressed contrast does not show (everything estimated from the groups' ratings)
ESTIMATE_COLUMNS = CONTRAST_COLUMNS[4:]


def level_means(idata, dimension: str, attribute: str, levels: Sequence[str]) -> np.ndarray:
    """Per draw, the expected rating of a new rater of each level: (n_draws, len(levels))."""
    meta = meta_of(idata)
    d = _check_dimension(meta, dimension)
    ks = [_check_group(meta, {attribute: lv})[attribute] for lv in levels]
    s = offsets(idata, d, [attribute])
    sigma = flat_draws(idata, "sigma_rater")[:, d]
    cut = flat_draws(idata, "cutpoints")[:, d, :]
    v = flat_draws(idata, "item_effect")[:, :, d]
    beta = flat_draws(idata, f"beta_{attribute}")[:, d, :]
    items = np.arange(v.shape[1])
    # each level's own group x item terms (zero on an additive posterior); other attributes' ones by cell
    parts = [interaction_cells(idata, d, {attribute: k}, items) for k in ks]
    x = np.concatenate([beta[:, [k]] + v + w for k, (w, _) in zip(ks, parts, strict=True)], axis=1)
    means = standardised(s, sigma, cut, x, parts[0][1], what="mean")
    return means.reshape(means.shape[0], len(ks), v.shape[1]).mean(axis=2)


def _pair_dataset(idata, dims: list[str], attribute: str, level_a: str, level_b: str,
                  a: np.ndarray, b: np.ndarray) -> xr.Dataset:
    """Per-draw means of A and B (dimension, n_draws) as the contrast Dataset."""
    post = idata.posterior
    shape = (len(dims), post.sizes["chain"], post.sizes["draw"])
    a, b = a.reshape(shape), b.reshape(shape)
    coords = {"dimension": dims, "chain": post["chain"].to_numpy(), "draw": post["draw"].to_numpy()}
    ds = xr.Dataset({k: (("dimension", "chain", "draw"), val) for k, val in
                     {"mean_a": a, "mean_b": b, "diff": a - b, "rel_pct": 100 * (a / b - 1)}.items()},
                    coords=coords)
    ds.attrs.update(attribute=attribute, level_a=level_a, level_b=level_b)
    return ds


def contrast_draws(idata, attribute: str, level_a: str, level_b: str,
                   dimensions: Sequence[str] | None = None) -> xr.Dataset:
    """Per-draw ``mean_a``, ``mean_b``, ``diff`` (A - B) and ``rel_pct`` (100 (A/B - 1)).

    Variables have dims (dimension, chain, draw), so ESS/R-hat can be computed on them and they can
    be set beside other per-draw quantities (e.g. tuned-model differences).
    """
    dims = list(dimensions) if dimensions is not None else meta_of(idata).dimensions
    means = np.stack([level_means(idata, dim, attribute, [level_a, level_b]) for dim in dims])
    return _pair_dataset(idata, dims, attribute, level_a, level_b, means[:, :, 0], means[:, :, 1])


def reference_contrast_draws(idata, attributes: Sequence[str] | None = None,
                             dimensions: Sequence[str] | None = None) -> list[xr.Dataset]:
    """:func:`contrast_draws` of every non-reference level against its reference, each attribute's
    levels predicted together (one grid pass per attribute and dimension instead of one per pair)."""
    meta = meta_of(idata)
    dims = list(dimensions) if dimensions is not None else meta.dimensions
    out = []
    for attr in (list(attributes) if attributes is not None else list(meta.attributes)):
        levels = meta.attributes[attr]
        means = np.stack([level_means(idata, dim, attr, levels) for dim in dims])  # (dim, draw, level)
        out += [_pair_dataset(idata, dims, attr, lv, levels[0], means[:, :, k], means[:, :, 0])
                for k, lv in enumerate(levels) if k > 0]
    return out


def summarize_draws(ds: xr.Dataset, prob: float = 0.95) -> pd.DataFrame:
    """One row per dimension: posterior means, central ``prob`` intervals, P(diff > 0)."""
    q = [(1 - prob) / 2, (1 + prob) / 2]
    rows = []
    for dim in ds["dimension"].to_numpy():
        one = {k: ds[k].sel(dimension=dim).to_numpy().ravel() for k in ("mean_a", "mean_b", "diff", "rel_pct")}
        d_lo, d_hi = np.quantile(one["diff"], q)
        r_lo, r_hi = np.quantile(one["rel_pct"], q)
        rows.append({
            "dimension": str(dim), "attribute": ds.attrs["attribute"], "level_a": ds.attrs["level_a"],
            "level_b": ds.attrs["level_b"], "mean_a": one["mean_a"].mean(), "mean_b": one["mean_b"].mean(),
            "diff": one["diff"].mean(), "diff_lo": d_lo, "diff_hi": d_hi, "rel_pct": one["rel_pct"].mean(),
            "rel_lo": r_lo, "rel_hi": r_hi, "p_positive": float((one["diff"] > 0).mean()),
        })
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def group_contrasts(idata, attribute: str, level_a: str, level_b: str,
                    dimensions: Sequence[str] | None = None, prob: float = 0.95) -> pd.DataFrame:
    """Contrast table (columns :data:`CONTRAST_COLUMNS`), one row per dimension."""
    return summarize_draws(contrast_draws(idata, attribute, level_a, level_b, dimensions), prob)


def all_contrasts(idata, attributes: Sequence[str] | None = None, dimensions: Sequence[str] | None = None,
                  prob: float = 0.95) -> pd.DataFrame:
    """Every non-reference level against its attribute's reference level, per dimension."""
    frames = [summarize_draws(ds, prob) for ds in reference_contrast_draws(idata, attributes, dimensions)]
    if not frames:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def level_sizes(idata) -> dict[tuple[str, str], dict[str, int]]:
    """Raters per level, per (attribute, dimension), counted from the posterior's constant data (a
    rater counts in a dimension they rated): the group sizes small-cell suppression needs."""
    meta = meta_of(idata)
    cd = idata.constant_data
    rater_level = cd["rater_level"].to_numpy()
    obs_dim, obs_rater = cd["obs_dimension"].to_numpy(), cd["obs_rater"].to_numpy()
    sizes = {}
    for d, dim in enumerate(meta.dimensions):
        raters = np.unique(obs_rater[obs_dim == d])
        for j, (attr, levels) in enumerate(meta.attributes.items()):
            counts = np.bincount(rater_level[raters, j], minlength=len(levels))
            sizes[(attr, dim)] = {lv: int(n) for lv, n in zip(levels, counts, strict=True)}
    return sizes


def small_levels(idata, *, complementary: bool = False) -> dict[tuple[str, str], list[str]]:
    """(attribute, dimension) -> the levels to suppress in the posterior's outputs (privacy rule; model
    estimates publish no total to subtract from, so by default without complementary suppression)."""
    k = meta_of(idata).min_group_size
    return {key: suppressed_levels(sizes, k, complementary=complementary)
            for key, sizes in level_sizes(idata).items()}


def suppress_contrasts(frame: pd.DataFrame, idata, suppress: bool = True,
                       columns: Sequence[str] = ESTIMATE_COLUMNS) -> pd.DataFrame:
    """``frame`` (contrast rows) with ``small_cell`` (a level has fewer than k raters) and ``suppressed``
    columns; when ``suppress``, the ``columns`` (by default the estimates) of small-cell rows are blanked."""
    small = small_levels(idata)
    flags = [bool({r.level_a, r.level_b} & set(small.get((r.attribute, r.dimension), ())))
             for r in frame.itertuples()]
    out = frame.assign(small_cell=np.array(flags, dtype=bool))
    return mask_rows(out, out.small_cell.to_numpy() & suppress, columns)
