"""Groups of raters, the population a group is standardised to, and the group's per-draw expected rating.

A *group* fixes the levels of one or more attributes (``{"gender": "female"}``, or intersectionally
``{"gender": "female", "political": "conservative"}``). The group's quantity under posterior draw s is that
of a *new* rater of the group: the other attributes are averaged over a *composition* (standardisation), the
rater's own effect over N(0, sigma_rater) and the items over the survey's items. Two quantities:

- ``"mean"``: the expected rating;
- ``"share"``: P(rating >= k) in percent, k the dimension's positive threshold of survey.toml (the share of
  such raters who would flag a response as, e.g., toxic). A difference of shares, in percentage points, does
  not depend on how the scale is coded, where a % difference of mean ratings does.

Compositions (``weights``):

- ``"sample"``: the survey's raters, each with weight 1/n (the default; what the contrasts always were);
- ``"equal"``: every combination of the model's attribute levels with the same weight (a balanced population);
- a margins file or frame: population cell shares over the model's attributes (columns: every attribute,
  plus ``share``), as in multilevel regression and poststratification (MRP).

Levels with no weight in a composition still get estimates (the attribute effects are in the model), but a
group's numbers are only as good as the population the cells describe.

Weights rule (privacy). A composition that puts most of its weight on one attribute's levels with fewer than k
raters (survey.toml ``min_group_size``) makes every number standardised to it mostly those small groups'
estimates: margins whose every cell is gender=non_binary turn each political level's expected rating into
non_binary's, and the mean of the political levels into the suppressed non_binary expectation. So, per attribute,
the weight on its small levels together may be at most :data:`SMALL_WEIGHT_SHARE` (one half: the small groups
then weigh no more than the groups of at least k raters do), or their share of the survey's own raters where that
is larger (the sample composition, every rater with weight 1/n, is always allowed). A composition beyond it is
refused (:func:`refuse_small_weight`, InputError naming the weights and the attribute, never a rater) unless
suppression is turned off. This keeps a published number from being a small group's; it does not stop an analyst
holding the posterior from computing that group's estimate, which the posterior's draws contain.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.survey import match_level, resolve_level

from .data import ModelMeta, family_of, meta_of
from .predict import (
    _check_dimension,
    _check_group,
    flat_draws,
    group_effect,
    interaction_cells,
    offsets,
    rater_sd,
    standardised,
)

QUANTITIES = ("mean", "share")
#: the most weight a composition may put on one attribute's levels with fewer than k raters (module notes)
SMALL_WEIGHT_SHARE = 0.5
#: tolerance on the sum of a margins file's shares
SHARE_TOLERANCE = 1e-3


@dataclass
class Composition:
    """Units standing in for the population (level index per attribute), their weights, and the label."""

    levels: np.ndarray  # (n_units, n_attributes) level indices, the model's attribute order
    weights: np.ndarray  # (n_units,), summing to 1
    label: str  # "adjusted (standardised to ...)", shown in every table, CSV and figure


def standardisation_label(target: str) -> str:
    """How an adjusted quantity is labelled on tables and figure axes."""
    return f"adjusted (standardised to {target})"


def composition(idata, weights: str | Path | pd.DataFrame | Composition = "sample", *,
                suppress_small: bool = True) -> Composition:
    """The :class:`Composition` of ``weights``: "sample", "equal", a margins CSV path or a margins frame.

    Unless not ``suppress_small``, one weighting an attribute's small levels beyond the module's weights rule is
    refused (:func:`refuse_small_weight`); a built Composition is returned as it is.
    """
    if isinstance(weights, Composition):
        return weights
    meta = meta_of(idata)
    sample = idata.constant_data["rater_level"].to_numpy().astype(int)
    if isinstance(weights, str) and weights == "sample":
        return Composition(sample, np.full(len(sample), 1.0 / len(sample)), standardisation_label("the sample"))
    if isinstance(weights, str) and weights == "equal":
        comp, name = equal_composition(meta.attributes), "--weights equal"
    elif isinstance(weights, pd.DataFrame):
        comp, name = margins_composition(weights, meta, "the margins"), "the margins"
    else:
        comp, name = read_margins(weights, meta), f"--weights {Path(weights).name}"
    if suppress_small:
        refuse_small_weight(comp, meta, level_sizes(idata), sample, name)
    return comp


def equal_composition(attributes: Mapping[str, Sequence[str]]) -> Composition:
    """Every combination of the attributes' levels with the same weight."""
    levels = np.array(list(itertools.product(*(range(len(v)) for v in attributes.values()))), dtype=int)
    return Composition(levels.reshape(len(levels), len(attributes)), np.full(len(levels), 1.0 / len(levels)),
                       standardisation_label("equal cells of every attribute"))


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


def refuse_small_weight(comp: Composition, meta: ModelMeta, sizes: Mapping[tuple[str, str], Mapping[str, int]],
                        sample: np.ndarray, name: str) -> None:
    """InputError when ``comp`` weights an attribute's levels with fewer than k raters (in any dimension of
    ``sizes``, (attribute, dimension) -> level -> raters) beyond the module's weights rule; ``sample``: the raters'
    level indices (n_raters, n_attributes), whose own share of the small levels is always allowed."""
    k = meta.min_group_size
    for j, (attr, levels) in enumerate(meta.attributes.items()):
        small = sorted({lv for (a, _), counts in sizes.items() if a == attr for lv, n in counts.items() if n < k})
        if not small:
            continue
        index = [levels.index(lv) for lv in small]
        weight = float(comp.weights[np.isin(comp.levels[:, j], index)].sum())
        allowed = max(SMALL_WEIGHT_SHARE, float(np.isin(sample[:, j], index).mean()) if len(sample) else 0.0)
        if weight > allowed + 1e-9:
            raise InputError(
                f"{name} puts {weight:.0%} of its weight on {attr} levels with fewer than k={k} raters "
                f"({', '.join(small)}); at most {allowed:.0%} is allowed, or every number standardised to it would "
                "be mostly those small groups' suppressed estimates. Give them less weight, or pass "
                "--no-suppress-small to show small groups")


def read_margins(path: str | Path, meta: ModelMeta) -> Composition:
    """:func:`margins_composition` of a margins CSV file (InputError when it is not a file)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--weights must be sample, equal or a margins CSV file; '{path}' is none of these")
    return margins_composition(pd.read_csv(path, dtype=str, keep_default_na=False), meta, path.name)


def margins_composition(frame: pd.DataFrame, meta: ModelMeta, name: str) -> Composition:
    """Validate population cell shares (a column per model attribute, plus ``share``) against the model.

    Every model attribute must be a column (names matched case-insensitively) and no other column is allowed;
    every cell's levels must be levels of the model (case-insensitive), cells must be unique and shares
    non-negative numbers summing to 1 (within :data:`SHARE_TOLERANCE`). Cells left out have share 0. Errors
    name the offending line of the file (header = line 1).
    """
    columns = {str(c).strip().casefold(): c for c in frame.columns}
    missing = [a for a in meta.attributes if a.casefold() not in columns]
    extra = [str(c) for c in frame.columns if str(c).strip().casefold() not in
             {a.casefold() for a in meta.attributes} | {"share"}]
    if missing or extra or "share" not in columns:
        raise InputError(f"{name}: the columns must be the model's attributes ({', '.join(meta.attributes)}) and "
                         f"share; missing: {', '.join(missing + ([] if 'share' in columns else ['share'])) or '-'}; "
                         f"not in the model: {', '.join(extra) or '-'}")
    if frame.empty:
        raise InputError(f"{name}: no cells")
    levels = np.zeros((len(frame), len(meta.attributes)), dtype=int)
    shares = np.zeros(len(frame))
    seen: dict[tuple[int, ...], int] = {}
    for i, row in enumerate(frame.itertuples(index=False)):
        line = i + 2
        values = dict(zip(frame.columns, row, strict=True))
        for j, attr in enumerate(meta.attributes):
            try:
                levels[i, j] = meta.attributes[attr].index(
                    match_level(meta.attributes, attr, str(values[columns[attr.casefold()]]).strip()))
            except InputError as exc:
                raise InputError(f"{name}, line {line}: {exc}") from None
        try:
            shares[i] = float(values[columns["share"]])
        except (TypeError, ValueError):
            raise InputError(f"{name}, line {line}: share '{values[columns['share']]}' is not a number") from None
        if not np.isfinite(shares[i]) or shares[i] < 0:
            raise InputError(f"{name}, line {line}: share {shares[i]} is not a non-negative number")
        cell = tuple(levels[i])
        if cell in seen:
            raise InputError(f"{name}, line {line}: the same cell as line {seen[cell]}")
        seen[cell] = line
    if abs(shares.sum() - 1) > SHARE_TOLERANCE:
        raise InputError(f"{name}: the shares sum to {shares.sum():.6g}, not 1 (tolerance {SHARE_TOLERANCE})")
    return Composition(levels, shares / shares.sum(), standardisation_label(name))


def match_attribute(meta: ModelMeta, name: str) -> str:
    """The model attribute ``name`` names, exactly or else case-insensitively; InputError listing them."""
    hits = [a for a in meta.attributes if a == name] or [a for a in meta.attributes if a.casefold() == name.casefold()]
    if len(hits) != 1:
        raise InputError(f"Unknown attribute '{name}'; known: {', '.join(meta.attributes)}")
    return hits[0]


def parse_group(idata_or_meta, spec: str | Mapping[str, str]) -> dict[str, str]:
    """``"gender=female&political=conservative"`` (or a bare level, or a mapping) -> {attribute: level}.

    Names match case-insensitively when nothing matches exactly; unknown, ambiguous or repeated attributes
    raise :class:`InputError` listing the candidates.
    """
    meta = idata_or_meta if isinstance(idata_or_meta, ModelMeta) else meta_of(idata_or_meta)
    parts = spec.items() if isinstance(spec, Mapping) else [(None, p) for p in str(spec).split("&")]
    group: dict[str, str] = {}
    for attr, level in parts:
        text = f"{attr}={level}" if attr is not None else level.strip()
        if not text:
            raise InputError(f"Empty part in group '{spec}'")
        attribute, resolved = resolve_level(meta.attributes, text)
        if attribute in group:
            raise InputError(f"Group '{spec}' fixes {attribute} twice")
        group[attribute] = resolved
    return group


def group_name(group: Mapping[str, str]) -> tuple[str, str]:
    """(attribute label, level label) of a group: ``("gender&political", "female&conservative")``."""
    return "&".join(group), "&".join(group.values())


def group_size(idata, group: Mapping[str, str], dimension: str) -> int:
    """Raters of the survey in ``group`` (all its levels) who rated ``dimension``: the count suppression uses."""
    meta = meta_of(idata)
    d = _check_dimension(meta, dimension)
    cd = idata.constant_data
    raters = np.unique(cd["obs_rater"].to_numpy()[cd["obs_dimension"].to_numpy() == d])
    levels = cd["rater_level"].to_numpy()[raters]
    names = list(meta.attributes)
    inside = np.ones(len(raters), dtype=bool)
    for attr, k in _check_group(meta, group).items():
        inside &= levels[:, names.index(attr)] == k
    return int(inside.sum())


def threshold_of(meta: ModelMeta, dimension: str) -> int:
    """The positive threshold k stored with the posterior (survey.toml), or an InputError for old posteriors."""
    if dimension not in meta.thresholds:
        raise InputError(f"This posterior stores no positive threshold for '{dimension}' (fitted before thresholds "
                         "were stored): refit it to get shares P(rating >= k)")
    return int(meta.thresholds[dimension])


def quantity_label(meta: ModelMeta, dimension: str, quantity: str) -> str:
    """``mean`` or ``share>=k`` (k of the dimension)."""
    if quantity not in QUANTITIES:
        raise InputError(f"Unknown quantity '{quantity}'; known: {', '.join(QUANTITIES)}")
    return "mean" if quantity == "mean" else f"share>={threshold_of(meta, dimension)}"


def group_draws(idata, dimension: str, groups: Sequence[Mapping[str, str]],
                weights: str | Path | pd.DataFrame | Composition = "sample", quantity: str = "mean") -> np.ndarray:
    """Per posterior draw (chains merged, chain-major), each group's quantity for a new rater of the group on
    ``dimension``, averaged over the survey's items: (n_draws, len(groups)).

    ``quantity``: "mean" (expected rating) or "share" (P(rating >= k), in percent). The attributes a group does
    not fix are averaged over ``weights`` (:func:`composition`); groups fixing the same attributes share one
    grid pass (and the same level of the attribute with per-level rater sds, if any).
    """
    meta = meta_of(idata)
    d = _check_dimension(meta, dimension)
    quantity_label(meta, dimension, quantity)
    what: str | int = "mean" if quantity == "mean" else threshold_of(meta, dimension)
    comp = composition(idata, weights)
    fixed = [_check_group(meta, g) for g in groups]
    cut = flat_draws(idata, "cutpoints")[:, d, :]
    v = flat_draws(idata, "item_effect")[:, :, d]
    items = np.arange(v.shape[1])
    out = np.zeros((v.shape[0], len(groups)))

    def batch(f: dict[str, int]) -> tuple:
        return tuple(sorted(f)), f.get(meta.rater_variance_by or "")

    for key in dict.fromkeys(batch(f) for f in fixed):
        attrs = key[0]
        members = [i for i, f in enumerate(fixed) if batch(f) == key]
        s = offsets(idata, d, list(attrs), levels=comp.levels)
        sigma = rater_sd(idata, d, fixed[members[0]], levels=comp.levels)
        # each group's own group x item terms (zero on an additive posterior); unfixed attributes' ones by cell
        parts = [interaction_cells(idata, d, fixed[i], items, levels=comp.levels) for i in members]
        x = np.concatenate([group_effect(idata, d, fixed[i])[:, None] + v + w
                            for i, (w, _) in zip(members, parts, strict=True)], axis=1)
        values = standardised(s, sigma, cut, x, parts[0][1], what=what, weights=comp.weights,
                              family=family_of(idata))
        values = values.reshape(values.shape[0], len(members), v.shape[1]).mean(axis=2)
        out[:, members] = values * (100.0 if quantity == "share" else 1.0)
    return out


MEANS_COLUMNS = ["attribute", "level", "dimension", "quantity", "standardisation", "n_raters", "mean", "lo", "hi"]


def marginal_means(idata, attributes: Sequence[str] | None = None, dimensions: Sequence[str] | None = None, *,
                   weights: str | Path | pd.DataFrame | Composition = "sample", quantity: str = "mean",
                   prob: float = 0.95, suppress_small: bool = True) -> pd.DataFrame:
    """Per level of every attribute and dimension, the adjusted quantity of a new rater of the level (expected
    rating, or P(rating >= k) in percent): posterior mean and central ``prob`` interval, the other attributes
    standardised to ``weights`` (columns :data:`MEANS_COLUMNS`). A level with fewer than k raters has its
    numbers blanked (``suppressed``; the privacy rule's step 1, as for contrasts) unless not ``suppress_small``."""
    from pluralstats.privacy import mask_rows

    meta = meta_of(idata)
    comp = composition(idata, weights, suppress_small=suppress_small)
    q = [(1 - prob) / 2, (1 + prob) / 2]
    rows = []
    for attr in [match_attribute(meta, a) for a in attributes] if attributes is not None else list(meta.attributes):
        levels = meta.attributes[attr]
        for dim in (list(dimensions) if dimensions is not None else meta.dimensions):
            values = group_draws(idata, dim, [{attr: lv} for lv in levels], comp, quantity)
            lo, hi = np.quantile(values, q, axis=0)
            rows += [{"attribute": attr, "level": lv, "dimension": dim,
                      "quantity": quantity_label(meta, dim, quantity), "standardisation": comp.label,
                      "n_raters": group_size(idata, {attr: lv}, dim), "mean": values[:, j].mean(),
                      "lo": lo[j], "hi": hi[j]} for j, lv in enumerate(levels)]
    frame = pd.DataFrame(rows, columns=MEANS_COLUMNS)
    small = (frame.n_raters < meta.min_group_size).to_numpy() & suppress_small
    return mask_rows(frame, small, ["n_raters", "mean", "lo", "hi"])
