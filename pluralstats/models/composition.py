"""A :class:`Composition`, the population that a group's number is standardised or poststratified to, and the
weights rule that keeps a published number from being a small group's (:func:`refuse_small_weight`).

Weights rule (privacy). A composition that puts most of its weight on one attribute's levels with fewer than k
raters (survey.toml ``min_group_size``) makes every number averaged over it mostly those small groups'
estimates: margins whose every cell is gender=non_binary turn each political level's expected rating into
non_binary's, and the mean of the political levels into the suppressed non_binary expectation. So, per attribute,
the weight on its small levels together may be at most :data:`SMALL_WEIGHT_SHARE` (one half: the small groups
then weigh no more than the groups of at least k raters do), or their share of the survey's own raters where that
is larger (the sample composition, every rater with weight 1/n, is always allowed). A poststratified number
weights a group's own cells only, so there the rule holds within each level of every other attribute as well
(the level's cells renormalised; levels that are themselves small are suppressed anyway). A composition beyond
it is refused (:func:`refuse_small_weight`, InputError naming the weights and the attribute, never a rater)
unless suppression is turned off. This keeps a published number from being a small group's; it does not stop an
analyst holding the posterior from computing that group's estimate, which the posterior's draws contain.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pluralstats.errors import InputError

from .data import ModelMeta, meta_of

#: the most weight a composition may put on one attribute's levels with fewer than k raters (module notes)
SMALL_WEIGHT_SHARE = 0.5


@dataclass
class Composition:
    """Units standing in for the population (level index per attribute), their weights, what they describe
    (``target``), the estimand, and the raked joint table when the composition was raked from margins."""

    levels: np.ndarray  # (n_units, n_attributes) level indices, the model's attribute order
    weights: np.ndarray  # (n_units,), summing to 1
    target: str  # "the sample", "margins.csv", ...
    estimand: str = "standardised"
    table: pd.DataFrame | None = None  # the raked joint table (attributes, sample_raters, sample_share, share)

    @property
    def label(self) -> str:
        """"adjusted (poststratified to ...)", shown in every table, CSV and figure."""
        return standardisation_label(self.target, self.estimand)


def standardisation_label(target: str, estimand: str = "standardised") -> str:
    """How an adjusted quantity is labelled on tables and figure axes."""
    if estimand == "poststratified":
        return f"adjusted (poststratified to {target}: each group's own cells)"
    return f"adjusted (standardised to {target})"


def equal_composition(attributes: Mapping[str, Sequence[str]]) -> Composition:
    """Every combination of the attributes' levels with the same weight."""
    levels = np.array(list(itertools.product(*(range(len(v)) for v in attributes.values()))), dtype=int)
    return Composition(levels.reshape(len(levels), len(attributes)), np.full(len(levels), 1.0 / len(levels)),
                       "equal cells of every attribute")


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
    ``sizes``, (attribute, dimension) -> level -> raters) beyond the module's weights rule: overall, and for a
    poststratified composition within each level of every other attribute that is not small itself.
    ``sample``: the raters' level indices (n_raters, n_attributes), whose own shares are always allowed."""
    k = meta.min_group_size
    names = list(meta.attributes)
    small = {a: sorted({lv for (b, _), counts in sizes.items() if b == a for lv, n in counts.items() if n < k})
             for a in names}
    index = {a: [meta.attributes[a].index(lv) for lv in small[a]] for a in names}
    # the slices a number can be averaged over: everything, and (poststratified) each large level's own cells
    slices: list[tuple[str, np.ndarray, np.ndarray]] = [("", np.ones(len(comp.weights), bool),
                                                         np.ones(len(sample), bool))]
    if comp.estimand == "poststratified":
        slices += [(f" within {a}={lv}", comp.levels[:, c] == m, sample[:, c] == m)
                   for c, a in enumerate(names) for m, lv in enumerate(meta.attributes[a]) if lv not in small[a]]
    for j, attr in enumerate(names):
        if not small[attr]:
            continue
        on_small, sample_small = np.isin(comp.levels[:, j], index[attr]), np.isin(sample[:, j], index[attr])
        for where, cells, raters in slices:
            mass = float(comp.weights[cells].sum())
            if mass <= 0:  # (within a level of attr itself, attr's small levels weigh nothing)
                continue
            weight = float(comp.weights[cells & on_small].sum()) / mass
            allowed = max(SMALL_WEIGHT_SHARE, float(sample_small[raters].mean()) if raters.any() else 0.0)
            if weight > allowed + 1e-9:
                raise InputError(
                    f"{name} puts {weight:.0%} of its weight{where} on {attr} levels with fewer than k={k} raters "
                    f"({', '.join(small[attr])}); at most {allowed:.0%} is allowed, or numbers averaged over it "
                    "would be mostly those small groups' suppressed estimates. Give them less weight, or pass "
                    "--no-suppress-small to show small groups")
