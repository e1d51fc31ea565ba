"""The hierarchical cumulative-logit rating model, written by hand in PyMC.

Per dimension d, rating y of rater r on item i::

    P(y <= k) = F(c[d, k] - eta),  eta = sum_a beta_a[d, level_a(r)] + u[r, d] + v[i, d]
    u[., d] ~ Normal(0, sigma_rater[d]),  v[., d] ~ Normal(0, sigma_item[d])
    beta ~ Normal(0, 2.5) (reference level fixed at 0),  sigma ~ HalfNormal(1)
    c[d] - m[d] ordered Normal(0, 3), m[d] = the rating-weighted mean of the raters' sum_a beta_a

``F`` is the CDF of the latent error of the model's *family* (:mod:`pluralstats.families`): the
logistic by default (``logit``), the standard normal with ``family="probit"``; a family is one module plus
one entry point. The prior scales are declared in :mod:`pluralstats.models.priors`.

With disagreement attributes (``fit-survey --disagreement political``), eta gains, for each such attribute a,
the group x item term ``w_a[d, i, level_a(r)] ~ ZeroSumNormal(tau_a[d])`` (zero-sum over the levels within
an item and over the items within a level), ``tau_a ~ HalfNormal(0.5)``: what a group prefers beyond its
level shift (a level shift cancels within a pair of responses, so only w can make groups prefer different
responses). Unlike beta (fixed effects per level, unless ``pooled_levels``), w is partially pooled: tau is
learnt from all items, and a cell with few ratings is shrunk toward 0.

Why hand-written PyMC rather than Bambi:

* all dimensions go into one vectorised graph (parameters carry a ``dimension`` axis), so one
  compile and one sampler run fit all five; Bambi would build and compile five models;
* the logit likelihood is a single closed-form log-probability per rating with one ``exp`` and one ``log``
  (:func:`~pluralstats.families.logit.ordinal_loglik`), instead of all K category probabilities per
  row as ``OrderedLogistic`` builds: the per-rating math is most of the gradient cost at 137k ratings;
* the same code gives the binary model (one cut point = Bernoulli-logit) and the joint model
  (rater effects correlated across dimensions, LKJ prior) by swapping one block;
* rater effects are not stored in the posterior file (5k numbers per draw that no contrast needs).

Rater effects sum to zero within a dimension, like item effects: their mean is otherwise traded
against the cut points. Rater effects are centred when a model of one dimension is sampled (a
one-dimension survey, or each dimension sampled apart), raters give at least
``CENTRED_RATERS_MIN_RATINGS`` ratings each on it and item effects are centred too
(:func:`use_centred_raters`); otherwise non-centred
(``u = sigma * z``), which has no funnel between ``sigma`` and ``u`` when raters give few ratings.
Sampled a dimension at a time, non-centred rater effects leave the rater sd mixing too slowly for the gate
at 2 chains, and centred ones fix it (measurements: docs/model-checking.md, "Dimensions apart"). Item effects
are centred when items carry many ratings (at least ``CENTRED_MIN_RATINGS`` per item and dimension,
unless ``centered_items`` says otherwise): pinned by their own ratings, centred item effects mix better
(docs/speed.md); a survey with a few ratings per item keeps them non-centred. Item effects sum to zero within a
dimension (``ZeroSumNormal``): their mean is not identified apart from the cut points, and leaving it free
makes a ridge that lengthens every NUTS trajectory. Contrasts are invariant to that shift, and a
zero-sum set of item effects with sd sigma is what the average over items uses anyway.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor import config as pytensor_config

from pluralstats.errors import InputError
from pluralstats.families import Family, get_family
from pluralstats.families.family import OUTER_CUT
from pluralstats.families.logit import ordinal_loglik

from .data import ModelData
from .priors import BETA_PRIOR_SD, DEFAULT_PRIORS, POOLED_TAU_PRIOR_SD, TAU_PRIOR_SD, Priors

__all__ = ["BETA_PRIOR_SD", "BIG", "POOLED_TAU_PRIOR_SD", "TAU_PRIOR_SD", "build_model", "ordinal_loglik"]

BIG = OUTER_CUT  # stands in for +-infinity as the outer cut points (finite keeps gradients finite)


def data_arrays(data: ModelData) -> dict[str, np.ndarray]:
    """The model's data containers, as flat indices computed once rather than on every gradient
    evaluation. A refit on a survey of the same shape only swaps these
    (``nutpie`` ``compiled.with_data(**data_arrays(new))``, no recompilation)."""
    n_dim, n_cut = len(data.meta.dimensions), data.meta.n_cut
    dim, y = data.obs_dim.astype("int64"), data.y.astype("int64")
    shares = {}
    for j, (attr, levels) in enumerate(data.meta.attributes.items()):
        # share of each dimension's ratings given by raters of each level (rows sum to 1)
        counts = np.zeros((n_dim, len(levels)))
        np.add.at(counts, (dim, data.rater_levels[data.obs_rater, j]), 1.0)
        shares[f"level_share_{attr}"] = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    n_items = len(data.item_ids)
    cells = {}
    for attr in data.meta.disagreement:
        j, n_levels = list(data.meta.attributes).index(attr), len(data.meta.attributes[attr])
        level = data.rater_levels[data.obs_rater, j].astype("int64")
        # into w's (dimension, item, level) layout
        cells[f"w_cell_{attr}"] = (dim * n_items + data.obs_item.astype("int64")) * n_levels + level
    return {**shares, **cells, "rater_levels": data.rater_levels.astype("int64"),
            "rater_cell": data.obs_rater.astype("int64") * n_dim + dim,  # into (rater, dimension)
            "item_cell": data.obs_item.astype("int64") * n_dim + dim,  # into (item, dimension)
            "category_cell": dim * (n_cut + 1) + y,  # into (dimension, category)
            "category_count": np.bincount(dim * (n_cut + 1) + y, minlength=n_dim * (n_cut + 1)).astype("float64")}


CENTRED_MIN_RATINGS = 40


def ratings_per_unit(data: ModelData, unit: str = "item") -> float:
    """Ratings per ``unit`` ("item" or "rater") and dimension, on average."""
    n_units = len(data.item_ids if unit == "item" else data.rater_ids)
    return len(data.y) / max(n_units * len(data.meta.dimensions), 1)


def use_centred(data: ModelData, unit: str = "item") -> bool:
    """Centre the ``unit`` ("item" or "rater") effects when the average unit has enough ratings per
    dimension to pin its own effect (then the centred form mixes better; with few, the funnel wins).
    Applied to items by default; rater effects have their own rule (:func:`use_centred_raters`)."""
    return ratings_per_unit(data, unit) >= CENTRED_MIN_RATINGS


#: Ratings per rater and dimension from which rater effects are centred in a model of one dimension
CENTRED_RATERS_MIN_RATINGS = 20


def use_centred_raters(data: ModelData, *, one_dimension: bool, centred_items: bool) -> bool:
    """Centre the rater effects when the sampled model has one dimension (``one_dimension``: a one-dimension
    survey, or dimensions sampled apart), rater effects have one sd per dimension (not ``rater_variance_by``),
    raters give at least :data:`CENTRED_RATERS_MIN_RATINGS` ratings each per dimension, and the item effects
    are centred too (``centred_items``: items carry many ratings). Then the data pin both crossed effects,
    which is where centring raters was measured to help; with loosely pinned items (few ratings per item) it
    made the item sd mix worse (docs/model-checking.md). In a model of several dimensions NUTS adapts one
    step size to all of them, which the measurements did not cover, so the whole model keeps the non-centred
    form."""
    return (one_dimension and centred_items and not data.meta.rater_variance_by
            and ratings_per_unit(data, "rater") >= CENTRED_RATERS_MIN_RATINGS)


def set_rater_variance(data: ModelData, attribute: str | None, *, joint: bool = False) -> None:
    """Record in ``data.meta`` the attribute whose levels get their own rater sd (None: one sd per dimension);
    an attribute not in the model, or with a single level among the raters, or combined with the joint
    model, raises :class:`InputError`."""
    if attribute is None:
        data.meta.rater_variance_by = None
        return
    valid = [a for a, levels in data.meta.attributes.items() if len(levels) > 1]
    if attribute not in valid:
        raise InputError(f"--rater-variance-by: {attribute} is not an attribute of the model with two or more "
                         f"levels; valid: {', '.join(valid) or '(none)'}")
    if joint:
        raise InputError("--rater-variance-by cannot be combined with --joint (correlated rater effects)")
    data.meta.rater_variance_by = attribute


def set_disagreement(data: ModelData, attributes: list[str] | None) -> None:
    """Record in ``data.meta`` which attributes get group x item terms; an attribute that is not in the
    model, or has a single level among the raters, raises :class:`InputError` listing the valid ones."""
    requested = list(dict.fromkeys(attributes or []))
    valid = [a for a, levels in data.meta.attributes.items() if len(levels) > 1]
    bad = [a for a in requested if a not in valid]
    if bad:
        raise InputError(f"--disagreement: {', '.join(bad)} is not an attribute of the model with two or more "
                         f"levels; valid: {', '.join(valid) or '(none)'}")
    data.meta.disagreement = requested


def ratings_per_cell(data: ModelData, attribute: str) -> float:
    """Ratings per (item, level of ``attribute``, dimension): what pins one group x item term."""
    n_cells = len(data.item_ids) * len(data.meta.attributes[attribute]) * len(data.meta.dimensions)
    return len(data.y) / max(n_cells, 1)


#: Ratings per (item, level, dimension) cell from which the group x item terms are centred by default: none.
#: The centred form mixes tau better when groups disagree and collapses when they agree (docs/speed.md), and
#: whether they disagree is what the fit is run to find out, so centring is an explicit choice
#: (``--centered-interactions``) for a survey known to disagree.
CENTRED_INTERACTIONS_MIN_RATINGS = math.inf


def use_centred_interactions(data: ModelData) -> bool:
    """Centre the group x item terms when every disagreement attribute has at least
    :data:`CENTRED_INTERACTIONS_MIN_RATINGS` ratings per (item, level, dimension) cell: never by default (see
    there); the choice is recorded in the posterior attrs (``centered_interactions``)."""
    return all(ratings_per_cell(data, a) >= CENTRED_INTERACTIONS_MIN_RATINGS for a in data.meta.disagreement)


def build_model(data: ModelData, *, joint: bool = False, centered_items: bool | None = None,
                centered_raters: bool = False, beta_prior_sd: float = BETA_PRIOR_SD,
                centered_interactions: bool | None = None, pooled_levels: bool = False,
                family: str | Family | None = None, priors: Priors = DEFAULT_PRIORS,
                signed_scale: bool = True) -> pm.Model:
    """The PyMC model for every dimension in ``data`` (independent across dimensions unless ``joint``);
    ``beta_prior_sd`` is the scale of the Normal prior on the attribute effects (logits; it overrides
    ``priors.beta_sd``, the other scales come from ``priors``); ``family``: the latent error's family
    (:mod:`~pluralstats.families`; None: ``data.meta.family``, logit unless set);
    ``centered_items=None`` chooses the item parametrisation from the ratings per item
    (:func:`use_centred`); the joint model's rater effects are always non-centred.

    For each attribute in ``data.meta.disagreement`` the linear predictor gains the group x item term
    ``w_<attr>[dimension, item, level]`` ~ ZeroSumNormal(tau_<attr>[dimension]) with ``tau ~ HalfNormal(0.5)``:
    zero-sum over the levels within each item (identified against the item effect) *and* over the items
    within each level (identified against beta, which then stays the group's average level shift).
    ``centered_interactions=None`` chooses its parametrisation with :func:`use_centred_interactions`; the
    non-centred form samples a signed scale (``tau = |s|``, ``w = s z``), whose posterior NUTS crosses faster
    than a HalfNormal tau's log (``signed_scale=False``, kept for benchmarks); the prior is the same.
    Without disagreement attributes the graph is exactly the additive model.

    ``data.meta.rater_variance_by`` (:func:`set_rater_variance`): ``sigma_rater[dimension, level]``, one rater
    sd per level of that attribute (rater effects non-centred, whatever ``centered_raters`` says); unset, the
    graph is the one-sd-per-dimension model.

    ``pooled_levels``: instead of fixed effects against a reference level (Normal(0, ``beta_prior_sd``), the
    reference fixed at 0), the levels of each attribute are partially pooled: ``beta_<attr>[d, .] =
    tau_level_<attr>[d] * z``, ``z`` zero-sum over levels, ``tau_level ~ HalfNormal(1)``. A small group is then
    shrunk toward its attribute's mean (over levels), not toward the reference level.
    """
    meta = data.meta
    family = get_family(family if family is not None else getattr(meta, "family", None))
    priors = replace(priors, beta_sd=beta_prior_sd)
    if centered_items is None:
        centered_items = use_centred(data, "item")
    if centered_interactions is None:
        centered_interactions = use_centred_interactions(data)
    n_dim, n_cut = len(meta.dimensions), meta.n_cut
    with pm.Model(coords=_coords(data)) as model:
        arrays = {name: pm.Data(name, value) for name, value in data_arrays(data).items()}
        rater_eta, shift = _attribute_effects(meta, arrays, priors, n_raters=len(data.rater_ids),
                                              pooled_levels=pooled_levels)
        rater_eta = _rater_effects(rater_eta, meta, arrays["rater_levels"], priors, joint=joint,
                                   centered_raters=centered_raters)
        item_effect = _item_effects(priors, centered_items)
        centred_cuts = _centred_cutpoints(priors, n_dim, n_cut)
        pm.Deterministic("cutpoints", centred_cuts + shift[:, None], dims=("dimension", "cutpoint"))
        rater_eta = rater_eta - shift[None, :]
        padded = pt.concatenate([pt.fill(centred_cuts[:, :1], -BIG), centred_cuts,
                                 pt.fill(centred_cuts[:, :1], BIG)], axis=1)
        eta = rater_eta.flatten()[arrays["rater_cell"]] + item_effect.flatten()[arrays["item_cell"]]
        eta = _interaction_terms(eta, meta, arrays, priors, centered_interactions=centered_interactions,
                                 signed_scale=signed_scale)
        loglik = family.graph_loglik(eta, padded, arrays["category_cell"], arrays["category_count"])
        pm.Potential("rating_loglik", loglik)
    return model


def _coords(data: ModelData) -> dict:
    """The model's named axes: dimensions, cut points, raters, items and each attribute's levels."""
    meta = data.meta
    coords = {
        "dimension": meta.dimensions,
        "dimension_bis": meta.dimensions,
        "cutpoint": np.arange(1, meta.n_cut + 1),
        "rater": data.rater_ids.astype(str),
        "item": data.item_ids.astype(str),
    }
    for attr, levels in meta.attributes.items():
        coords[f"{attr}_level"] = levels
    return coords


def _attribute_effects(meta, arrays: dict, priors: Priors, *, n_raters: int, pooled_levels: bool):
    """Inside the model: each attribute's ``beta``; returns the raters' summed effects and the average rater's."""
    n_dim = len(meta.dimensions)
    rater_levels = arrays["rater_levels"]
    rater_eta = pt.zeros((n_raters, n_dim))
    shift = pt.zeros(n_dim)  # the average rater's demographic effect, per dimension
    for j, (attr, levels) in enumerate(meta.attributes.items()):
        if pooled_levels:
            # every level a draw around the attribute's mean (zero-sum over levels: the mean is the cut
            # points' business), with a learnt spread: a level with few raters is shrunk toward the mean
            tau = pm.HalfNormal(f"tau_level_{attr}", priors.pooled_tau_sd, dims="dimension")
            z = pm.ZeroSumNormal(f"beta_{attr}_raw", sigma=1.0, dims=("dimension", f"{attr}_level"))
            beta = pm.Deterministic(f"beta_{attr}", z * tau[:, None], dims=("dimension", f"{attr}_level"))
        else:
            raw = pm.Normal(f"beta_{attr}_raw", 0.0, priors.beta_sd, shape=(n_dim, len(levels) - 1))
            beta = pm.Deterministic(f"beta_{attr}", pt.concatenate([pt.zeros((n_dim, 1)), raw], axis=1),
                                    dims=("dimension", f"{attr}_level"))
        rater_eta = rater_eta + beta[:, rater_levels[:, j]].T
        shift = shift + (beta * arrays[f"level_share_{attr}"]).sum(axis=1)
    return rater_eta, shift


def _rater_effects(rater_eta, meta, rater_levels, priors: Priors, *, joint: bool, centered_raters: bool):
    """Inside the model: the raters' own effects (joint, per-level sds, centred or not) added to ``rater_eta``."""
    n_dim = len(meta.dimensions)
    if joint and n_dim > 1:
        chol, corr, sds = pm.LKJCholeskyCov(
            "rater_chol", n=n_dim, eta=priors.lkj_eta, compute_corr=True,
            sd_dist=pm.HalfNormal.dist(priors.sigma_rater_sd, shape=n_dim))
        pm.Deterministic("sigma_rater", sds, dims="dimension")
        pm.Deterministic("rater_corr", corr, dims=("dimension", "dimension_bis"))
        z_rater = pm.ZeroSumNormal("z_rater", sigma=1.0, dims=("dimension", "rater")).T
        rater_eta = rater_eta + z_rater @ chol.T
    elif meta.rater_variance_by:
        # each level of one attribute has its own rater sd; non-centred (ZeroSumNormal takes one sigma
        # along its zero-sum axis, so the centred form cannot have per-rater scales)
        attr = meta.rater_variance_by
        j = list(meta.attributes).index(attr)
        sigma_rater = pm.HalfNormal("sigma_rater", priors.sigma_rater_sd, dims=("dimension", f"{attr}_level"))
        z_rater = pm.ZeroSumNormal("z_rater", sigma=1.0, dims=("dimension", "rater")).T
        rater_eta = rater_eta + z_rater * sigma_rater[:, rater_levels[:, j]].T
    elif centered_raters:
        sigma_rater = pm.HalfNormal("sigma_rater", priors.sigma_rater_sd, dims="dimension")
        rater_t = pm.ZeroSumNormal("rater_effect_t", sigma=sigma_rater[:, None], dims=("dimension", "rater"))
        rater_eta = rater_eta + rater_t.T
    else:
        sigma_rater = pm.HalfNormal("sigma_rater", priors.sigma_rater_sd, dims="dimension")
        z_rater = pm.ZeroSumNormal("z_rater", sigma=1.0, dims=("dimension", "rater")).T
        rater_eta = rater_eta + z_rater * sigma_rater
    return rater_eta


def _item_effects(priors: Priors, centered_items: bool):
    """Inside the model: ``sigma_item`` and the zero-sum ``item_effect`` (item, dimension), centred or not."""
    sigma_item = pm.HalfNormal("sigma_item", priors.sigma_item_sd, dims="dimension")
    # item effects sum to zero per dimension: their mean is the cut points' location, and leaving
    # it free makes a long ridge (all cut points and all item effects shifting together)
    if centered_items:
        item_t = pm.ZeroSumNormal("item_effect_t", sigma=sigma_item[:, None], dims=("dimension", "item"))
        return pm.Deterministic("item_effect", item_t.T, dims=("item", "dimension"))
    z_item = pm.ZeroSumNormal("z_item", sigma=1.0, dims=("dimension", "item"))
    return pm.Deterministic("item_effect", (z_item * sigma_item[:, None]).T, dims=("item", "dimension"))


def _centred_cutpoints(priors: Priors, n_dim: int, n_cut: int):
    """Inside the model: the ordered cut points of the average rater, which ``cutpoints`` shifts to the reference."""
    # The cut points are sampled for the average rater (predictors centred, as brms and Bambi do):
    # with reference-level cut points every dummy coefficient trades against them, worst when the
    # reference group is small. ``cutpoints`` (reference-level rater) is recovered exactly.
    return pm.Normal(
        "cutpoints_centered", 0.0, priors.cutpoint_sd, dims=("dimension", "cutpoint"),
        transform=pm.distributions.transforms.ordered,
        initval=np.tile(np.linspace(-2.0, 2.0, n_cut) if n_cut > 1 else [0.0], (n_dim, 1)).astype(
            pytensor_config.floatX),
    )


def _interaction_terms(eta, meta, arrays: dict, priors: Priors, *, centered_interactions: bool,
                       signed_scale: bool):
    """Inside the model: each disagreement attribute's group x item terms ``w_<attr>`` added to ``eta``."""
    for attr in meta.disagreement:
        dims = ("dimension", "item", f"{attr}_level")
        if centered_interactions or not signed_scale:
            tau = pm.HalfNormal(f"tau_{attr}", priors.tau_sd, dims="dimension")
            if centered_interactions:
                w = pm.ZeroSumNormal(f"w_{attr}", sigma=tau[:, None, None], n_zerosum_axes=2, dims=dims)
            else:
                z = pm.ZeroSumNormal(f"z_w_{attr}", sigma=1.0, n_zerosum_axes=2, dims=dims)
                w = pm.Deterministic(f"w_{attr}", z * tau[:, None, None], dims=dims)
        else:
            # a signed scale s ~ Normal(0, tau_sd) with tau = |s| and w = s z: the same prior as tau ~
            # HalfNormal(tau_sd), w = tau z, since z is symmetric. On the log scale a HalfNormal tau whose
            # posterior reaches toward 0 has a long left tail that NUTS crosses slowly; s passes through 0
            # as through any other point (docs/speed.md, "The disagreement scale"). Its sign is not
            # identified (s, z and -s, -z give the same w) and is dropped: every result reads tau and w
            signed = pm.Normal(f"w_scale_{attr}", 0.0, priors.tau_sd, dims="dimension")
            pm.Deterministic(f"tau_{attr}", pt.abs(signed), dims="dimension")
            z = pm.ZeroSumNormal(f"z_w_{attr}", sigma=1.0, n_zerosum_axes=2, dims=dims)
            w = pm.Deterministic(f"w_{attr}", z * signed[:, None, None], dims=dims)
        eta = eta + w.flatten()[arrays[f"w_cell_{attr}"]]
    return eta


#: posterior variables that are sampling devices, not results; dropped before saving
AUXILIARY = ("z_rater", "rater_effect_t", "z_item", "item_effect_t", "cutpoints_centered", "rater_chol",
             "rater_chol_corr", "rater_chol_stds")


def interaction_families(meta) -> dict[str, tuple[str, ...]]:
    """The families of exchangeable terms the diagnostics gate judges by their size when there are group x item
    terms, each with its zero-sum axes: each w and the item effects, since group-specific item predictions
    (the posterior preference strategy, ``disagreements``) read all of them. Empty for the additive model,
    whose item effects no result reads one by one."""
    if not meta.disagreement:
        return {}
    return {"item_effect": ("item",), **{f"w_{a}": ("item", f"{a}_level") for a in meta.disagreement}}


def is_auxiliary(name: str) -> bool:
    """Whether a posterior variable is a sampling device (non-centred or unconstrained copy), not a result."""
    return (name in AUXILIARY or name.endswith("_raw") or name.endswith("__")  # "__": unconstrained copies
            or name.startswith("z_w_") or name.startswith("w_scale_"))
