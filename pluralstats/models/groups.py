"""Groups of raters, the population a group is standardised to, and the group's per-draw expected rating.

A *group* fixes the levels of one or more attributes (``{"gender": "female"}``, or intersectionally
``{"gender": "female", "political": "conservative"}``). The group's quantity under posterior draw s is that
of a *new* rater of the group: the attributes the group does not fix are averaged over a *composition*, the
rater's own effect over N(0, sigma_rater) and the items over the survey's items. Two quantities:

- ``"mean"``: the expected rating;
- ``"share"``: P(rating >= k) in percent, k the dimension's positive threshold of survey.toml (the share of
  such raters who would flag a response as, e.g., toxic). A difference of shares, in percentage points, does
  not depend on how the scale is coded, where a % difference of mean ratings does.

Compositions (``weights``):

- ``"sample"``: the survey's raters, each with weight 1/n;
- ``"equal"``: every combination of the model's attribute levels with the same weight (a balanced population);
- a margins file or frame, in one of two forms. *Joint*: population cell shares over the model's attributes
  (a column per attribute, plus ``share``). *Margins only*: columns ``attribute``, ``level``, ``share``, each
  listed attribute's shares summing to 1; they are raked (iterative proportional fitting) into a joint table,
  starting from the survey's own joint distribution of the raters' levels, so that the listed margins are met
  and the survey's associations between attributes are kept (attributes not listed keep their survey
  distribution given the listed ones). Cells no rater of the survey is in stay empty; a listed level no rater
  has cannot be given its share and is refused. The raked table is :attr:`Composition.table` (the commands
  write it beside their output).

Two estimands (``estimand``) average the unfixed attributes differently:

- ``"poststratified"`` (multilevel regression and poststratification, MRP): a group's number weights *the
  group's own cells* by their population shares, renormalised within the group. Female raters' number uses
  the composition of women in the population (their ages, politics...), male raters' that of men; a
  difference between them is the difference between the two populations, with whatever their other
  attributes contribute. The default for a margins file. A group with no share in the composition has no
  number (NaN).
- ``"standardised"`` (direct standardisation): every group is averaged over the *whole* composition's other
  attributes, as if every group had the same make-up; a difference between two groups is then the part
  their fixed attributes explain, other attributes held at the composition. The default for ``"sample"``
  and ``"equal"`` (with ``"equal"`` both estimands agree).

Every table labels its numbers with the estimand and composition (``standardisation`` column). Levels with
no weight in a standardised composition still get estimates (the attribute effects are in the model), but a
group's numbers are only as good as the population the cells describe.

The pieces live beside this module: :mod:`.composition` (:class:`Composition`, the equal composition and the
weights rule that keeps a published number from being a small group's) and :mod:`.margins` (margins files, joint
or raked).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.survey import resolve_level

from .composition import Composition, equal_composition, level_sizes, refuse_small_weight
from .data import ModelMeta, family_of, meta_of
from .margins import margins_composition, read_margins
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
ESTIMANDS = ("poststratified", "standardised")


def _with_estimand(comp: Composition, estimand: str | None, default: str) -> Composition:
    chosen = estimand or default
    if chosen not in ESTIMANDS:
        raise InputError(f"Unknown estimand '{chosen}'; known: {', '.join(ESTIMANDS)}")
    return replace(comp, estimand=chosen)


def composition(idata, weights: str | Path | pd.DataFrame | Composition = "sample",
                estimand: str | None = None, *, suppress_small: bool = True) -> Composition:
    """The :class:`Composition` of ``weights``: "sample", "equal", a margins CSV path or a margins frame
    (joint cells or margins only, raked from the survey's raters; module notes). ``estimand``:
    "poststratified" or "standardised" (None: poststratified for margins, standardised otherwise).

    Unless not ``suppress_small``, one weighting an attribute's small levels beyond the weights rule
    (:mod:`.composition`) is refused (:func:`refuse_small_weight`); a built Composition is returned as it is.
    """
    if isinstance(weights, Composition):
        return weights if estimand is None else _with_estimand(weights, estimand, weights.estimand)
    meta = meta_of(idata)
    sample = idata.constant_data["rater_level"].to_numpy().astype(int)
    if isinstance(weights, str) and weights == "sample":
        comp = Composition(sample, np.full(len(sample), 1.0 / len(sample)), "the sample")
        return _with_estimand(comp, estimand, "standardised")
    if isinstance(weights, str) and weights == "equal":
        comp = _with_estimand(equal_composition(meta.attributes), estimand, "standardised")
        name = "--weights equal"
    elif isinstance(weights, pd.DataFrame):
        comp = _with_estimand(margins_composition(weights, meta, "the margins", sample), estimand, "poststratified")
        name = "the margins"
    else:
        comp = _with_estimand(read_margins(weights, meta, sample), estimand, "poststratified")
        name = f"--weights {Path(weights).name}"
    if suppress_small:
        refuse_small_weight(comp, meta, level_sizes(idata), sample, name)
    return comp


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
    """The positive threshold k stored with the posterior (survey.toml), or an InputError when none is."""
    if dimension not in meta.thresholds:
        raise InputError(f"This posterior stores no positive threshold for '{dimension}': refit it with "
                         "fit-survey to get shares P(rating >= k)")
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
    not fix are averaged over ``weights`` (:func:`composition`) by its estimand: standardised, over the whole
    composition (groups fixing the same attributes share one grid pass, and the same level of the attribute
    with per-level rater sds, if any); poststratified, over the group's own units, renormalised (one pass per
    group; NaN for a group with no weight).
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

    def one_pass(members: list[int], levels: np.ndarray, weights: np.ndarray) -> None:
        """The members' quantities, the unfixed attributes averaged over ``levels`` with ``weights``."""
        s = offsets(idata, d, list(fixed[members[0]]), levels=levels)
        sigma = rater_sd(idata, d, fixed[members[0]], levels=levels)
        # each group's own group x item terms (zero on an additive posterior); unfixed attributes' ones by cell
        parts = [interaction_cells(idata, d, fixed[i], items, levels=levels) for i in members]
        x = np.concatenate([group_effect(idata, d, fixed[i])[:, None] + v + w
                            for i, (w, _) in zip(members, parts, strict=True)], axis=1)
        values = standardised(s, sigma, cut, x, parts[0][1], what=what, weights=weights, family=family_of(idata))
        values = values.reshape(values.shape[0], len(members), v.shape[1]).mean(axis=2)
        out[:, members] = values * (100.0 if quantity == "share" else 1.0)

    names = list(meta.attributes)
    if comp.estimand == "poststratified":  # each group over its own cells, renormalised within it
        for i, f in enumerate(fixed):
            inside = np.ones(len(comp.weights), dtype=bool)
            for attr, k in f.items():
                inside &= comp.levels[:, names.index(attr)] == k
            total = comp.weights[inside].sum()
            if total <= 0:
                out[:, i] = np.nan  # no share in the population: no poststratified number
                continue
            one_pass([i], comp.levels[inside], comp.weights[inside] / total)
        return out
    for key in dict.fromkeys(batch(f) for f in fixed):
        one_pass([i for i, f in enumerate(fixed) if batch(f) == key], comp.levels, comp.weights)
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


def write_raked(comp, path: Path, command: str | None = None) -> Path | None:
    """The raked joint table of a margins-only --weights at ``path`` (with ``command``: a file beside the
    output, given its own manifest; else inside an output folder), or None when nothing was raked. Only
    the population shares: the survey's own cell counts would give small groups away, and so would the shares
    of cells of fewer than k raters (raking starts from the raters' own cells), which are pooled into one row
    that names no level."""
    if comp.table is None:
        return None
    table = comp.table.drop(columns=["sample_raters", "sample_share"])
    small = table.pop("small_cell").astype(bool) if "small_cell" in table else pd.Series(False, index=table.index)
    if small.any():
        pooled = {c: "(cells of fewer than k raters)" for c in table.columns if c != "share"}
        table = pd.concat([table[~small], pd.DataFrame([{**pooled, "share": table.share[small].sum()}])],
                          ignore_index=True)
    from pluralstats.io import atomic_path, write_manifest

    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    if command is not None:
        write_manifest(path, command, options={"estimand": comp.estimand, "composition": comp.label})
    return path
