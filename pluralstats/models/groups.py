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
from dataclasses import dataclass, replace
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
#: tolerance on the sum of a margins file's shares
SHARE_TOLERANCE = 1e-3


ESTIMANDS = ("poststratified", "standardised")
#: the most weight a composition may put on one attribute's levels with fewer than k raters (module notes)
SMALL_WEIGHT_SHARE = 0.5
#: raking stops when every margin is within this of its target, and gives up after RAKE_ITERATIONS sweeps
RAKE_TOLERANCE = 1e-10
RAKE_ITERATIONS = 10_000


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

    Unless not ``suppress_small``, one weighting an attribute's small levels beyond the module's weights rule is
    refused (:func:`refuse_small_weight`); a built Composition is returned as it is.
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


def read_margins(path: str | Path, meta: ModelMeta, sample_levels: np.ndarray | None = None) -> Composition:
    """:func:`margins_composition` of a margins CSV file (InputError when it is not a file)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--weights must be sample, equal or a margins CSV file; '{path}' is none of these")
    return margins_composition(pd.read_csv(path, dtype=str, keep_default_na=False), meta, path.name, sample_levels)


def _is_long(frame: pd.DataFrame, meta: ModelMeta) -> bool:
    names = {str(c).strip().casefold() for c in frame.columns}
    own = {a.casefold() for a in meta.attributes}
    return names == {"attribute", "level", "share"} and own != {"attribute", "level"}


def _share(value: object, name: str, line: int) -> float:
    try:
        share = float(str(value).strip())
    except (TypeError, ValueError):
        raise InputError(f"{name}, line {line}: share '{str(value)[:30]}' is not a number") from None
    if not np.isfinite(share) or share < 0:
        raise InputError(f"{name}, line {line}: share {share} is not a non-negative number")
    return share


def margins_composition(frame: pd.DataFrame, meta: ModelMeta, name: str,
                        sample_levels: np.ndarray | None = None) -> Composition:
    """Validate population shares against the model: joint cells, or margins only (then raked, module notes).

    Joint: every model attribute must be a column (names matched case-insensitively) and no other column is
    allowed; every cell's levels must be levels of the model (case-insensitive), cells must be unique and
    shares non-negative numbers summing to 1 (within :data:`SHARE_TOLERANCE`); cells left out have share 0.
    Margins only (columns ``attribute``, ``level``, ``share``): raked from ``sample_levels`` (the survey raters'
    level indices; None: every cell equally, enough to validate the file before a fit). Errors name the
    offending line of the file (header = line 1).
    """
    if _is_long(frame, meta):
        return _raked_composition(frame, meta, name, sample_levels)
    columns = {str(c).strip().casefold(): c for c in frame.columns}
    missing = [a for a in meta.attributes if a.casefold() not in columns]
    extra = [str(c) for c in frame.columns if str(c).strip().casefold() not in
             {a.casefold() for a in meta.attributes} | {"share"}]
    if missing or extra or "share" not in columns:
        raise InputError(f"{name}: the columns must be the model's attributes ({', '.join(meta.attributes)}) and "
                         f"share, or attribute, level and share (margins only); missing: "
                         f"{', '.join(missing + ([] if 'share' in columns else ['share'])) or '-'}; "
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
        shares[i] = _share(values[columns["share"]], name, line)
        cell = tuple(levels[i])
        if cell in seen:
            raise InputError(f"{name}, line {line}: the same cell as line {seen[cell]}")
        seen[cell] = line
    if abs(shares.sum() - 1) > SHARE_TOLERANCE:
        raise InputError(f"{name}: the shares sum to {shares.sum():.6g}, not 1 (tolerance {SHARE_TOLERANCE})")
    return Composition(levels, shares / shares.sum(), name)


def read_long_margins(frame: pd.DataFrame, meta: ModelMeta, name: str) -> dict[str, np.ndarray]:
    """A margins-only frame (attribute, level, share) -> {attribute: share per level, in the model's order};
    a level left out has share 0. Each listed attribute's shares must sum to 1."""
    columns = {str(c).strip().casefold(): c for c in frame.columns}
    if frame.empty:
        raise InputError(f"{name}: no margins")
    margins: dict[str, np.ndarray] = {}
    seen: dict[tuple[str, int], int] = {}
    for i, row in enumerate(frame.itertuples(index=False)):
        line = i + 2
        values = dict(zip(frame.columns, row, strict=True))
        try:
            attr, level = resolve_level(meta.attributes, f"{str(values[columns['attribute']]).strip()}="
                                                         f"{str(values[columns['level']]).strip()}")
        except InputError as exc:
            raise InputError(f"{name}, line {line}: {exc}") from None
        k = meta.attributes[attr].index(level)
        if (attr, k) in seen:
            raise InputError(f"{name}, line {line}: {attr}={level} again (line {seen[(attr, k)]})")
        seen[(attr, k)] = line
        margins.setdefault(attr, np.zeros(len(meta.attributes[attr])))[k] = _share(values[columns["share"]], name,
                                                                                  line)
    for attr, shares in margins.items():
        if abs(shares.sum() - 1) > SHARE_TOLERANCE:
            raise InputError(f"{name}: the shares of {attr} sum to {shares.sum():.6g}, not 1 "
                             f"(tolerance {SHARE_TOLERANCE})")
        margins[attr] = shares / shares.sum()
    return margins


def rake(seed: np.ndarray, cells: np.ndarray, margins: Mapping[int, np.ndarray]) -> np.ndarray:
    """Iterative proportional fitting: the shares (summing to 1) closest to ``seed`` (counts per cell) whose
    margins are ``margins`` ({attribute index: share per level}); ``cells``: (n_cells, n_attributes) level
    indices. A cell with seed 0 stays 0. InputError when a level with a target share has no seed mass or the
    margins cannot all be met on the seed's cells."""
    table = np.asarray(seed, dtype=float) / np.sum(seed)
    for j, target in margins.items():
        have = np.bincount(cells[:, j], weights=table, minlength=len(target))
        empty = (have <= 0) & (target > 0)
        if empty.any():
            raise InputError(f"level {int(np.flatnonzero(empty)[0])} of attribute {j} has a share but no rater")
    for _ in range(RAKE_ITERATIONS):
        worst = 0.0
        for j, target in margins.items():
            have = np.bincount(cells[:, j], weights=table, minlength=len(target))
            worst = max(worst, float(np.abs(have - target).max()))
            factor = np.divide(target, have, out=np.zeros_like(target), where=have > 0)
            table = table * factor[cells[:, j]]
        if worst < RAKE_TOLERANCE:
            return table / table.sum()
    raise InputError("the margins cannot all be met on the cells the survey's raters fill (raking did not "
                     "converge)")


def _raked_composition(frame: pd.DataFrame, meta: ModelMeta, name: str,
                       sample_levels: np.ndarray | None) -> Composition:
    """Margins only: raked from the survey's raters (or every cell equally when they are not known yet)."""
    margins = read_long_margins(frame, meta, name)
    names = list(meta.attributes)
    if sample_levels is None:
        cells = np.array(list(itertools.product(*(range(len(v)) for v in meta.attributes.values()))), dtype=int)
        cells = cells.reshape(len(cells), len(names))
        seed = np.ones(len(cells))
    else:
        cells, seed = np.unique(np.asarray(sample_levels, dtype=int).reshape(-1, len(names)), axis=0,
                                return_counts=True)
    for attr, shares in margins.items():
        have = np.bincount(cells[:, names.index(attr)], weights=seed, minlength=len(shares))
        empty = [lv for lv, h, t in zip(meta.attributes[attr], have, shares, strict=True) if h <= 0 and t > 0]
        if empty:
            raise InputError(f"{name}: no rater of the survey has {attr}={empty[0]}, so raking from the survey's "
                             "raters cannot give it its share; give joint cells instead")
    try:
        shares = rake(seed, cells, {names.index(a): v for a, v in margins.items()})
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from None
    table = pd.DataFrame({a: np.asarray(meta.attributes[a], dtype=object)[cells[:, j]] for j, a in enumerate(names)})
    table["sample_raters"] = seed.astype(int) if sample_levels is not None else 0
    table["small_cell"] = (table["sample_raters"] < meta.min_group_size) if sample_levels is not None else False
    table["sample_share"] = seed / seed.sum()
    table["share"] = shares
    keep = shares > 0
    label = f"{name} ({', '.join(margins)} raked from the survey's raters)"
    return Composition(cells[keep], shares[keep] / shares[keep].sum(), label, table=table)


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
