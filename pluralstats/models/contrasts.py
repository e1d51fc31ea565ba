"""Group contrasts from the posterior: expected ratings of new raters of two groups.

The contrast of group A versus B on a dimension is the difference between the expected ratings
of a *new* rater from A and from B, averaged over the survey's items (their estimated effects),
over the rater-effect distribution N(0, sigma_rater) and over the survey's rater composition for
the other attributes (standardisation: every rater's other attributes, with A's or B's level).
It is read per posterior draw, so intervals and the sign probability come out of the draws, not
off a coefficient: a logit-scale beta is not "18% less toxic".

Every contrast is therefore *adjusted*: standardised to the sample's rater composition by default (the
``standardisation`` column says "adjusted (standardised to the sample)"), or to equal cells, or
poststratified to a population's cell shares or raked margins (``weights``; :mod:`.groups` says what the
two estimands, poststratified and standardised, are). Two
quantities (``quantity`` column): ``mean``, the expected rating (difference in rating points), and
``share>=k``, P(rating >= k) with k the dimension's positive threshold (in percent; difference in
percentage points), which does not depend on how the rating scale is coded.

A contrast that involves a level with fewer than k raters (the survey's ``min_group_size``, stored in
the posterior) is suppressed by :func:`suppress_contrasts`, under :mod:`pluralstats.privacy`'s rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from pluralstats.errors import InputError
from pluralstats.privacy import mask_rows, suppressed_levels

from .composition import Composition, level_sizes
from .data import meta_of
from .groups import (
    composition,
    group_draws,
    group_name,
    group_size,
    match_attribute,
    parse_group,
    quantity_label,
)

CONTRAST_COLUMNS = ["dimension", "attribute", "level_a", "level_b", "quantity", "standardisation", "mean_a",
                    "mean_b", "diff", "diff_lo", "diff_hi", "rel_pct", "rel_lo", "rel_hi", "p_positive"]
#: the columns a suppressed contrast does not show (everything estimated from the groups' ratings)
ESTIMATE_COLUMNS = CONTRAST_COLUMNS[6:]
#: what ``weights`` accepts: "sample", "equal", a margins CSV path or frame, or a built Composition
Weights = str | Path | pd.DataFrame | Composition


def level_means(idata, dimension: str, attribute: str, levels: Sequence[str], weights: Weights = "sample",
                quantity: str = "mean") -> np.ndarray:
    """Per draw, the expected rating (or share >= k, in %) of a new rater of each level of ``attribute``,
    the other attributes standardised to ``weights``: (n_draws, len(levels))."""
    return group_draws(idata, dimension, [{attribute: lv} for lv in levels], weights, quantity)


def _pair_dataset(idata, dims: list[str], attribute: str, level_a: str, level_b: str,
                  a: np.ndarray, b: np.ndarray, quantity: Sequence[str] | str = "mean",
                  standardisation: str = "adjusted (standardised to the sample)") -> xr.Dataset:
    """Per-draw quantities of A and B (dimension, n_draws) as the contrast Dataset; ``quantity``: the label
    of each dimension's quantity (``mean`` or ``share>=k``)."""
    post = idata.posterior
    shape = (len(dims), post.sizes["chain"], post.sizes["draw"])
    a, b = a.reshape(shape), b.reshape(shape)
    coords = {"dimension": dims, "chain": post["chain"].to_numpy(), "draw": post["draw"].to_numpy()}
    ds = xr.Dataset({k: (("dimension", "chain", "draw"), val) for k, val in
                     {"mean_a": a, "mean_b": b, "diff": a - b, "rel_pct": 100 * (a / b - 1)}.items()},
                    coords=coords)
    ds["quantity"] = ("dimension", [quantity] * len(dims) if isinstance(quantity, str) else list(quantity))
    ds.attrs.update(attribute=attribute, level_a=level_a, level_b=level_b, standardisation=standardisation)
    return ds


def group_contrast_draws(idata, group_a: str | Mapping[str, str], group_b: str | Mapping[str, str],
                         dimensions: Sequence[str] | None = None, *, weights: Weights = "sample",
                         quantity: str = "mean") -> xr.Dataset:
    """:func:`contrast_draws` of two groups that may each fix several attributes (intersectional groups,
    ``"gender=female&political=conservative"``); both must fix the same attributes. The attributes neither
    fixes are averaged over ``weights``."""
    meta = meta_of(idata)
    a, b = parse_group(meta, group_a), parse_group(meta, group_b)
    if sorted(a) != sorted(b):
        raise InputError(f"'{group_a}' fixes {', '.join(a)} but '{group_b}' fixes {', '.join(b)}; "
                         "compare groups that fix the same attributes")
    b = {attr: b[attr] for attr in a}
    if a == b:
        raise InputError(f"Both groups are '{group_name(a)[1]}'; give two different groups")
    dims = list(dimensions) if dimensions is not None else meta.dimensions
    comp = composition(idata, weights)
    values = np.stack([group_draws(idata, dim, [a, b], comp, quantity) for dim in dims])
    attribute, level_a = group_name(a)
    return _pair_dataset(idata, dims, attribute, level_a, group_name(b)[1], values[:, :, 0], values[:, :, 1],
                         [quantity_label(meta, dim, quantity) for dim in dims], comp.label)


def contrast_draws(idata, attribute: str, level_a: str, level_b: str,
                   dimensions: Sequence[str] | None = None, *, weights: Weights = "sample",
                   quantity: str = "mean") -> xr.Dataset:
    """Per-draw ``mean_a``, ``mean_b``, ``diff`` (A - B) and ``rel_pct`` (100 (A/B - 1)) of the adjusted
    quantity (expected rating, or P(rating >= k) in % for ``quantity="share"``) of a new rater of level A and
    of level B, the other attributes standardised to ``weights`` (default: the sample's raters).

    Variables have dims (dimension, chain, draw), so ESS/R-hat can be computed on them and they can
    be set beside other per-draw quantities (e.g. tuned-model differences).
    """
    return group_contrast_draws(idata, {attribute: level_a}, {attribute: level_b}, dimensions, weights=weights,
                                quantity=quantity)


def reference_contrast_draws(idata, attributes: Sequence[str] | None = None,
                             dimensions: Sequence[str] | None = None, *, weights: Weights = "sample",
                             quantities: Sequence[str] = ("mean",)) -> list[xr.Dataset]:
    """:func:`contrast_draws` of every non-reference level against its reference, each attribute's
    levels predicted together (one grid pass per attribute, dimension and quantity instead of one per pair)."""
    meta = meta_of(idata)
    dims = list(dimensions) if dimensions is not None else meta.dimensions
    comp = composition(idata, weights)
    out = []
    for attr in [match_attribute(meta, a) for a in attributes] if attributes is not None else list(meta.attributes):
        levels = meta.attributes[attr]
        for quantity in quantities:
            labels = [quantity_label(meta, dim, quantity) for dim in dims]
            means = np.stack([level_means(idata, dim, attr, levels, comp, quantity) for dim in dims])
            out += [_pair_dataset(idata, dims, attr, lv, levels[0], means[:, :, k], means[:, :, 0], labels,
                                  comp.label) for k, lv in enumerate(levels) if k > 0]
    return out


def summarize_draws(ds: xr.Dataset, prob: float = 0.95) -> pd.DataFrame:
    """One row per dimension: posterior means, central ``prob`` intervals, P(diff > 0) of the adjusted
    quantity (``quantity``: expected rating, or share >= k in % with differences in percentage points) under
    the ``standardisation`` the Dataset records."""
    q = [(1 - prob) / 2, (1 + prob) / 2]
    rows = []
    for dim in ds["dimension"].to_numpy():
        one = {k: ds[k].sel(dimension=dim).to_numpy().ravel() for k in ("mean_a", "mean_b", "diff", "rel_pct")}
        d_lo, d_hi = np.quantile(one["diff"], q)
        r_lo, r_hi = np.quantile(one["rel_pct"], q)
        rows.append({
            "dimension": str(dim), "attribute": ds.attrs["attribute"], "level_a": ds.attrs["level_a"],
            "level_b": ds.attrs["level_b"],
            "quantity": str(ds["quantity"].sel(dimension=dim).item()) if "quantity" in ds else "mean",
            "standardisation": ds.attrs.get("standardisation", "adjusted (standardised to the sample)"),
            "mean_a": one["mean_a"].mean(), "mean_b": one["mean_b"].mean(),
            "diff": one["diff"].mean(), "diff_lo": d_lo, "diff_hi": d_hi, "rel_pct": one["rel_pct"].mean(),
            "rel_lo": r_lo, "rel_hi": r_hi, "p_positive": float((one["diff"] > 0).mean()),
        })
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def group_contrasts(idata, attribute: str, level_a: str, level_b: str,
                    dimensions: Sequence[str] | None = None, prob: float = 0.95, *, weights: Weights = "sample",
                    quantities: Sequence[str] = ("mean",)) -> pd.DataFrame:
    """Adjusted contrast table (columns :data:`CONTRAST_COLUMNS`), one row per dimension and quantity."""
    return pd.concat([summarize_draws(contrast_draws(idata, attribute, level_a, level_b, dimensions,
                                                     weights=weights, quantity=q), prob) for q in quantities],
                     ignore_index=True)


def all_contrasts(idata, attributes: Sequence[str] | None = None, dimensions: Sequence[str] | None = None,
                  prob: float = 0.95, *, weights: Weights = "sample",
                  quantities: Sequence[str] = ("mean",)) -> pd.DataFrame:
    """Every non-reference level against its attribute's reference level, per dimension and quantity, the
    other attributes standardised to ``weights`` (default the sample: "adjusted (standardised to the sample)")."""
    frames = [summarize_draws(ds, prob) for ds in reference_contrast_draws(idata, attributes, dimensions,
                                                                          weights=weights, quantities=quantities)]
    if not frames:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def small_levels(idata, *, complementary: bool = False) -> dict[tuple[str, str], list[str]]:
    """(attribute, dimension) -> the levels to suppress in the posterior's outputs (privacy rule; model
    estimates publish no total to subtract from, so by default without complementary suppression)."""
    k = meta_of(idata).min_group_size
    return {key: suppressed_levels(sizes, k, complementary=complementary)
            for key, sizes in level_sizes(idata).items()}


def refuse_small(idata, attribute: str, levels: Sequence[str], suppress_small: bool = True) -> None:
    """:class:`InputError` before any work when an output would consist of a small group's estimates (privacy
    rule): one of ``levels`` of ``attribute`` has fewer raters than the posterior's threshold."""
    small = sorted({lv for (attr, _), hidden in small_levels(idata).items() if attr == attribute for lv in hidden}
                   & set(levels)) if suppress_small else []
    if small:
        raise InputError(f"group {attribute}={', '.join(small)} has fewer than k={meta_of(idata).min_group_size} "
                         "raters: its estimates are suppressed (--no-suppress-small shows them)")


def suppress_contrasts(frame: pd.DataFrame, idata, suppress: bool = True,
                       columns: Sequence[str] = ESTIMATE_COLUMNS) -> pd.DataFrame:
    """``frame`` (contrast rows) with ``small_cell`` (a level has fewer than k raters) and ``suppressed``
    columns; when ``suppress``, the ``columns`` (by default the estimates) of small-cell rows are blanked."""
    small = small_levels(idata)
    k = meta_of(idata).min_group_size
    # an intersectional group ("gender&political", "female&conservative") is small when its cell is
    flags = [any(group_size(idata, dict(zip(r.attribute.split("&"), lv.split("&"), strict=True)), r.dimension) < k
                 for lv in (r.level_a, r.level_b)) if "&" in r.attribute
             else bool({r.level_a, r.level_b} & set(small.get((r.attribute, r.dimension), ())))
             for r in frame.itertuples()]
    out = frame.assign(small_cell=np.array(flags, dtype=bool))
    return mask_rows(out, out.small_cell.to_numpy() & suppress, columns)
