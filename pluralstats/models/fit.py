"""Fit the rating model with one of the registered samplers and return one self-sufficient InferenceData.

Samplers (``backend``) live in :mod:`pluralstats.samplers`: ``nutpie`` (NUTS in Rust on a numba-compiled
gradient), ``jax`` (the same sampler on a JAX-compiled gradient: fast to compile, and for GPUs; needs the
``jax`` extra), ``pymc`` (PyMC's own NUTS), ``advi`` (mean-field ADVI: minutes faster, intervals too narrow;
for a first look only, never for reported numbers), and any installed by entry point. This module owns what
is the model's business whatever the sampler: the choice of backend and tuning, the per-dimension split,
and the gate's rule (:func:`sample_gated`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from pluralstats.errors import InputError
from pluralstats.families import DEFAULT_FAMILY, get_family
from pluralstats.samplers import Sampler, get_sampler, quiet
from pluralstats.samplers.base import join_chains
from pluralstats.survey import Survey

from .data import ModelData, build_model_data, meta_of
from .diagnostics import GATE_CHAINS, MIN_ESS, Diagnostics, diagnose, gate_draws, record_verdict
from .priors import DEFAULT_PRIORS, Priors
from .rating import (
    BETA_PRIOR_SD,
    CENTRED_MIN_RATINGS,
    build_model,
    data_arrays,
    is_auxiliary,
    ratings_per_unit,
    set_disagreement,
    set_rater_variance,
    use_centred,
    use_centred_interactions,
    use_centred_raters,
)

#: nutpie tuning steps when raters give many ratings each (see :func:`default_tune`)
LONG_TUNE = 1000
#: the most chains :func:`fit_survey` samples when the first batch passed every check but ESS (see ``max_chains``):
#: one more batch of the default 4
MAX_CHAINS = 8


def default_tune(data: ModelData, backend: str) -> tuple[int, str]:
    """Tuning steps per chain chosen from the data, and why.

    When raters give many ratings each (at least ``CENTRED_MIN_RATINGS`` per dimension on average), each
    rater's effect is pinned by their own ratings, and a group's effect trades almost one for one against the
    mean effect of its raters: a long narrow ridge that nutpie's low-rank mass matrix learns only with more
    tuning than its default (with 300 steps the group effects of a real survey of that kind kept R-hat above
    1.01). Fewer ratings per rater: the backend's default.
    """
    per_rater = ratings_per_unit(data, "rater")
    sampler = get_sampler(backend)
    if sampler.name in ("nutpie", "jax") and per_rater >= CENTRED_MIN_RATINGS:
        return LONG_TUNE, f"{LONG_TUNE} tuning steps: raters give {per_rater:.0f} ratings each per dimension"
    return sampler.default_tune, ""


AUTO_BACKEND = "auto"


def choose_backend(data: ModelData) -> tuple[str, str]:
    """The backend ``backend="auto"`` takes, and why: nutpie on a JAX gradient when one model of one dimension is
    sampled and JAX is installed, nutpie's numba gradient otherwise. numba compiles the log density in one piece
    (30-70 s on 2 cores, whatever the survey's size), JAX in a few seconds; per gradient numba wins once the
    sampler runs long, as it does for several dimensions sampled one after another (docs/speed.md)."""
    if len(data.meta.dimensions) == 1:
        try:
            import jax  # noqa: F401
        except ImportError:
            return "nutpie", "nutpie backend (JAX, faster to compile for one dimension, is not installed)"
        return "jax", "JAX backend: one dimension, where compiling dominates"
    return "nutpie", ""


#: the mass-matrix adaptation forced on every fit ("low-rank" or "diag"; None: :func:`use_low_rank` decides)
MASS_MATRIX: str | None = None


def use_low_rank(data: ModelData) -> bool:
    """nutpie's low-rank mass matrix (unless :data:`MASS_MATRIX` says "diag"): the cut points and the dummy-coded
    attribute effects are correlated a posteriori, which a diagonal mass matrix cannot undo. With group x item
    terms the diagonal one mixed a one-dimension survey's tau better but left the paper-scale survey's level
    effects short of the gate (docs/speed.md), so the low-rank one stays the default everywhere."""
    return MASS_MATRIX != "diag"


def nutpie_sample(compiled, *, draws: int, tune: int, chains: int, seed: int, progress: bool,
                  low_rank: bool = True):
    """nutpie with its low-rank (``low_rank``) or diagonal mass matrix. ``compiled``: :func:`nutpie_compile`'s
    result, or that with ``with_data`` (the coverage study refits surveys of one shape without recompiling)."""
    return get_sampler("nutpie").draw(compiled, draws=draws, tune=tune, chains=chains, seed=seed, progress=progress,
                                      low_rank=low_rank)


def nutpie_compile(model: pm.Model, backend: str = "nutpie"):
    """``model`` compiled by the nutpie sampler ``backend`` ("nutpie" or "jax") in this process, storing only
    :func:`stored_variables`."""
    sampler = get_sampler(backend)
    return sampler.compile_here(sampler.compile(model, stored_variables(model)))


def _whole_sampler(model: pm.Model, sampler: Sampler, *, draws: int, tune: int, progress: bool,
                   low_rank: bool = True):
    """Return a function sampling ``(chains, seed)`` from ``model``: compiled once when the sampler is
    ``reusable``, else sampled afresh on each call."""
    names = stored_variables(model)
    if not sampler.reusable:
        def sample_once(chains: int, seed: int) -> az.InferenceData:
            with quiet(progress):
                return sampler.sample(model, draws=draws, tune=tune, chains=chains, seed=seed, progress=progress,
                                      var_names=names)
        return sample_once
    compiled = sampler.compile(model, names)

    def sample(chains: int, seed: int) -> az.InferenceData:
        with quiet(progress):
            return sampler.draw(compiled, draws=draws, tune=tune, chains=chains, seed=seed, progress=progress,
                                low_rank=low_rank)
    return sample


def _split_sampler(parts: list[ModelData], sampler: Sampler, model_options: dict, *, draws: int, tune: int,
                   progress: bool, low_rank: bool = True):
    """One model per dimension, compiled once: the parts share every rater, item and level
    (:func:`dimension_parts`), so only the per-rating arrays differ, in length too, and the sampler's
    ``with_data`` swaps them in (a refit gives the draws of a model compiled for that part). Return a function
    sampling ``(chains, seed)`` from every dimension's model in turn, joined along ``dimension`` as one
    posterior (``sample_stats`` gain a ``dimension`` axis: each dimension's chains are separate runs of the
    sampler)."""
    model = build_model(parts[0], **model_options)
    compiled = sampler.compile(model, stored_variables(model))
    names = [part.meta.dimensions[0] for part in parts]

    def sample(chains: int, seed: int) -> az.InferenceData:
        posteriors, stats = [], []
        for j, part in enumerate(parts):
            run_seed = int(np.random.SeedSequence([seed, j]).generate_state(1)[0])
            with quiet(progress):
                raw = sampler.draw(sampler.with_data(compiled, data_arrays(part)), draws=draws, tune=tune,
                                   chains=chains, seed=run_seed, progress=progress, low_rank=low_rank)
            # the compiled model keeps the coordinate of the dimension it was built for
            posteriors.append(raw.posterior.assign_coords(dimension=[names[j]]))
            stats.append(raw.sample_stats)
        posterior = _join_dimensions(posteriors)
        sample_stats = xr.concat(stats, dim=xr.DataArray(names, dims="dimension", name="dimension"),
                                 combine_attrs="override").transpose("chain", "draw", ...)
        return az.InferenceData(posterior=posterior, sample_stats=sample_stats)
    return sample


def _join_dimensions(posteriors: list[xr.Dataset]) -> xr.Dataset:
    """One dimension's posteriors joined as the whole model's: along ``dimension``, or for a variable without
    named dimensions (a raw parameter of shape (dimension, ...)) along its first axis, renumbered."""
    joined = {}
    for name in posteriors[0].data_vars:
        parts = [p[name] for p in posteriors]
        axes = [d for d in parts[0].dims if d not in ("chain", "draw")]
        along = "dimension" if "dimension" in axes else axes[0]
        var = xr.concat(parts, dim=along, combine_attrs="override")
        if along != "dimension":
            var = var.assign_coords({along: np.arange(var.sizes[along])})
        joined[name] = var
    return xr.Dataset(joined, attrs=posteriors[0].attrs)


def dimension_parts(data: ModelData) -> list[ModelData] | None:
    """The model's data one dimension at a time (None with one dimension). Without ``joint`` nothing in the
    model links dimensions (every parameter has its own per dimension, priors are independent), so the
    posterior is the product of the parts' posteriors. Each part keeps every rater and item of the whole
    (one without ratings on a dimension keeps its prior there, as in the whole model), so the parts' draws
    join into the whole model's layout."""
    dims = data.meta.dimensions
    if len(dims) < 2:
        return None
    parts = []
    for j, dim in enumerate(dims):
        keep = data.obs_dim == j
        meta = dataclasses.replace(data.meta, dimensions=[dim], disagreement=list(data.meta.disagreement),
                                   polarity={k: v for k, v in data.meta.polarity.items() if k == dim},
                                   thresholds={k: v for k, v in data.meta.thresholds.items() if k == dim})
        parts.append(dataclasses.replace(data, meta=meta, obs_dim=np.zeros(int(keep.sum()), dtype=data.obs_dim.dtype),
                                         obs_rater=data.obs_rater[keep], obs_item=data.obs_item[keep],
                                         y=data.y[keep]))
    return parts


_REFIT: dict = {}


def refit(data: ModelData, *, draws: int, tune: int, chains: int = 2, seed: int = 0, backend: str = "nutpie",
          **model_options) -> az.InferenceData:
    """Sample ``data``'s model with a nutpie backend, compiling only when its structure (dimensions, raters, items,
    scale, family, attribute levels, group x item terms, rater sds, ``model_options`` for :func:`build_model`)
    differs from the previous call's: a study that refits many simulated surveys of one design compiles once, and
    later surveys only swap the data in (nutpie's ``with_data``; the number of ratings may differ). The posterior is
    not diagnosed: a coverage study keeps every fit and decides itself."""
    meta = data.meta
    key = (backend, tuple(meta.dimensions), len(data.rater_ids), len(data.item_ids), meta.n_cut, meta.family,
           meta.rater_variance_by, tuple((a, tuple(v)) for a, v in meta.attributes.items()), tuple(meta.disagreement),
           tuple(sorted(model_options.items())))
    sampler = get_sampler(backend)
    if not sampler.reusable:
        raise InputError(f"refit needs a sampler that compiles once (nutpie or jax), not '{backend}'")
    if key not in _REFIT:
        _REFIT.clear()
        model = build_model(data, **model_options)
        _REFIT[key] = sampler.compile(model, stored_variables(model))
    start = time.perf_counter()
    raw = sampler.draw(sampler.with_data(_REFIT[key], data_arrays(data)), draws=draws, tune=tune, chains=chains,
                       seed=seed, progress=False, low_rank=use_low_rank(data))
    if "item" in raw.posterior.dims:  # the compiled model keeps the first survey's item ids as coordinates
        raw.posterior = raw.posterior.assign_coords(item=list(data.item_ids))
    return finish_idata(raw, data, backend=backend, joint=False, seconds=time.perf_counter() - start)


def sample_gated(sample, data: ModelData, backend: str, *, chains: int, seed: int, joint: bool, max_chains: int,
                 start: float, check: bool = True) -> tuple[az.InferenceData, int, Diagnostics | None]:
    """``sample(chains, seed)``'s draws (:func:`_whole_sampler` or :func:`_split_sampler`, compiled once), judged by
    the gate's rule (:mod:`~pluralstats.models.diagnostics`): R-hat on exactly these ``chains``. When they pass every
    check but ESS, another batch of ``chains`` chains (each tuned afresh, as independent chains must be) while the
    total stays within ``max_chains``; ESS is then judged over all draws and R-hat stays the first batch's. Nothing
    is added for any other failure: R-hat is never recomputed over more chains, which would let a stuck chain be
    diluted.

    Returns the finished posterior, the number of chains added, and its diagnostics (None without ``check``).
    """
    raw = sample(chains, seed)
    added = 0
    while True:
        idata = finish_idata(raw, data, backend=backend, joint=joint, seconds=time.perf_counter() - start)
        if not check:
            return idata, added, None
        diag = diagnose(idata, rhat_chains=chains)
        if not diag.only_ess_failed or raw.posterior.sizes["chain"] + chains > max_chains:
            return idata, added, diag
        run_seed = int(np.random.SeedSequence([seed, added + chains]).generate_state(1)[0])
        raw = join_chains([raw, sample(chains, run_seed)])
        added += chains


def stored_variables(model: pm.Model) -> list[str]:
    """The variables worth keeping per draw: results, not sampling devices."""
    return [v.name for v in model.free_RVs + model.deterministics if not is_auxiliary(v.name)]


def finish_idata(idata: az.InferenceData, data: ModelData, *, backend: str, joint: bool,
                 seconds: float) -> az.InferenceData:
    """Drop sampling devices, attach the metadata and the data contrasts and prediction need."""
    drop = [v for v in idata.posterior.data_vars if is_auxiliary(v)]
    posterior = idata.posterior.drop_vars(drop)
    posterior.attrs["sampling_seconds"] = seconds
    posterior.attrs["backend"] = backend
    groups = {"posterior": posterior, "constant_data": data.constant_data()}
    if "sample_stats" in idata.groups():
        keep = [v for v in ("diverging", "tree_depth", "depth", "maxdepth_reached", "reached_max_treedepth",
                            "n_steps", "step_size", "lp", "energy")
                if v in idata.sample_stats]
        groups["sample_stats"] = idata.sample_stats[keep]
    data.meta.joint = joint
    data.meta.backend = backend
    groups["constant_data"].attrs["pluralstats"] = data.meta.to_json()
    return az.InferenceData(**groups)


def fit_survey(survey: Survey, *, dimensions: list[str] | None = None, attributes: list[str] | None = None,
               backend: str = AUTO_BACKEND, draws: int | None = None, tune: int | None = None,
               chains: int = GATE_CHAINS, seed: int = 0,
               joint: bool = False, progress: bool = True, centered_items: bool | None = None,
               centered_raters: bool | None = None, beta_prior_sd: float = BETA_PRIOR_SD,
               disagreement: list[str] | None = None, centered_interactions: bool | None = None,
               check: bool = True, pooled_levels: bool = False, family: str = DEFAULT_FAMILY,
               rater_variance_by: str | None = None, max_chains: int | None = None,
               split_dimensions: bool | None = None, priors: Priors | None = None) -> az.InferenceData:
    """Fit the rating model of every selected dimension; return one posterior with everything needed after.

    ``backend``: a registered sampler (:func:`~pluralstats.samplers.available_samplers`), or "auto" (the
    default: :func:`choose_backend`, recorded in ``auto_choices``). The result holds ``beta_<attribute>``
    (dimension x level, reference 0), ``cutpoints``, ``sigma_rater``, ``sigma_item``, ``item_effect`` (and
    ``rater_corr`` when ``joint``), plus
    ``constant_data`` (rater composition, item ids, observed ratings) and the model metadata.
    ``tune=None`` takes the sampler's ``default_tune``. ``beta_prior_sd``: prior scale of the
    attribute effects (logits; see :data:`~pluralstats.models.rating.BETA_PRIOR_SD` for why not 1).
    ``disagreement``: attributes that get group x item terms (``w_<attr>``, ``tau_<attr>``; see
    :func:`~pluralstats.models.rating.build_model`); ``centered_interactions=None`` chooses their
    parametrisation from the ratings per item and level (recorded in the posterior attrs).
    ``pooled_levels``: partially pool the levels of each attribute (shrinkage toward the attribute's mean;
    see :func:`~pluralstats.models.rating.build_model`) instead of fixed effects against a reference level.
    ``family``: the rating model's family, the latent error's distribution (``logit``, ``probit`` or any
    installed in :mod:`~pluralstats.families`); recorded in the metadata, and every consumer of the
    posterior (prediction, replication, LOO) uses it.
    ``rater_variance_by``: an attribute whose levels each get their own rater sd (``sigma_rater`` then has
    a level axis; rater effects are non-centred); recorded in the metadata and the posterior attrs.
    ``priors``: the prior scales (:class:`~pluralstats.models.priors.Priors`; None: the defaults; the attribute
    effects' sd is ``beta_prior_sd`` either way), recorded in ``posterior.attrs["priors"]``.
    ``check``: run the convergence diagnostics and record the verdict on the posterior
    (:func:`~pluralstats.models.diagnostics.record_verdict`); consumers refuse a posterior that did not pass.
    Leave it on unless the caller diagnoses itself (a coverage study that only needs the draws).

    ``chains`` and ``draws`` (per chain; None: :func:`~pluralstats.models.diagnostics.gate_draws`, about 2,000 in
    all, 4,000 with group x item terms) are the gate's first batch, fixed before sampling: the verdict's R-hat is
    computed on exactly these chains, and fewer than :data:`~pluralstats.models.diagnostics.GATE_CHAINS` give an
    "unchecked" posterior.

    Choices made from the data, each recorded in ``posterior.attrs["auto_choices"]`` (empty when none):
    ``tune=None`` takes :func:`default_tune` (longer when raters give many ratings each); with ``check``, a
    nutpie backend and ``max_chains`` above ``chains`` (``fit-survey`` passes :data:`MAX_CHAINS`; ``None``:
    exactly ``chains``), when the first batch passes every check but ESS, another batch of ``chains`` is sampled
    (compiled once) while the total stays within ``max_chains`` (:func:`sample_gated`).

    ``split_dimensions`` (nutpie backends, not ``joint``; ``None``: whenever that allows and there are two or
    more dimensions): sample each dimension's model apart and join the draws (:func:`dimension_parts`;
    recorded as ``posterior.attrs["split_dimensions"]``). It is the same posterior, since nothing links the
    dimensions, reached in fewer gradient evaluations: NUTS adapts one step size and mass matrix to a model,
    so in one model every dimension takes the steps the hardest one needs. The parts are
    compiled once (:func:`_split_sampler`). ``centered_raters=None`` centres the rater effects
    when one dimension is sampled at a time and raters give enough ratings each
    (:func:`~pluralstats.models.rating.use_centred_raters`): apart and non-centred, the rater sd mixes
    worse per draw than in the whole model, and centring more than makes up for it (see
    docs/model-checking.md).
    """
    draws = gate_draws(chains, bool(disagreement)) if draws is None else draws
    if draws < 1 or (tune is not None and tune < 0) or chains < 1:
        raise InputError("draws and chains must be >= 1 and tune >= 0")
    if backend != AUTO_BACKEND:
        get_sampler(backend)
    chosen = get_family(family)
    data = build_model_data(survey, dimensions, attributes)
    auto = []
    if backend == AUTO_BACKEND:
        backend, why = choose_backend(data)
        auto += [why] if why else []
    if tune is None:
        tune, why = default_tune(data, backend)
        auto += [why] if why else []
    data.meta.family = chosen.name
    set_disagreement(data, disagreement)
    set_rater_variance(data, rater_variance_by, joint=joint)
    if centered_items is None:
        centered_items = use_centred(data, "item")
    if centered_interactions is None:
        centered_interactions = use_centred_interactions(data)
    sampler = get_sampler(backend)
    can_split = sampler.reusable and not joint and len(data.meta.dimensions) > 1
    if split_dimensions is None:
        split_dimensions = can_split
        auto += ["dimensions sampled one at a time"] if can_split else []
    split_dimensions = bool(split_dimensions) and can_split
    if centered_raters is None:
        centered_raters = not joint and use_centred_raters(
            data, one_dimension=split_dimensions or len(data.meta.dimensions) == 1, centred_items=centered_items)
        if centered_raters:
            auto.append(f"centred rater effects: raters give {ratings_per_unit(data, 'rater'):.0f} ratings each "
                        f"per dimension and items are centred, one dimension sampled at a time")
    centered_raters = bool(centered_raters) and not joint and not rater_variance_by
    options = dict(centered_items=centered_items, centered_raters=centered_raters, beta_prior_sd=beta_prior_sd,
                   centered_interactions=centered_interactions, pooled_levels=pooled_levels, family=chosen,
                   priors=priors or DEFAULT_PRIORS)
    start = time.perf_counter()
    parts = dimension_parts(data) if split_dimensions else None
    low_rank = use_low_rank(data)
    if parts is None:
        sample = _whole_sampler(build_model(data, joint=joint, **options), sampler, draws=draws, tune=tune,
                                progress=progress, low_rank=low_rank)
    else:
        sample = _split_sampler(parts, sampler, options, draws=draws, tune=tune, progress=progress,
                                low_rank=low_rank)
    compile_seconds = time.perf_counter() - start
    # an approximation (ADVI) is never topped up: more of its draws change nothing the gate could certify
    most = max(chains, max_chains or chains) if sampler.exact else chains
    idata, added, diag = sample_gated(sample, data, backend, chains=chains, seed=seed, joint=joint, start=start,
                                      max_chains=most, check=check)
    if sampler.reusable:  # and what chains' worker processes spent compiling it there
        idata.posterior.attrs["compile_seconds"] = compile_seconds + float(
            idata.posterior.attrs.pop("compile_seconds_workers", 0.0))
    idata.posterior.attrs["split_dimensions"] = int(parts is not None)
    if added:
        auto.append(f"{added} more chains (each {draws} draws): the first {chains} passed every check but ESS "
                    f">= {MIN_ESS:g}; R-hat is the first {chains} chains'")
    idata.posterior.attrs["auto_choices"] = "; ".join(auto)
    idata.posterior.attrs["centered_items"] = int(centered_items)
    idata.posterior.attrs["centered_raters"] = int(centered_raters)
    idata.posterior.attrs["beta_prior_sd"] = float(beta_prior_sd)
    idata.posterior.attrs["priors"] = json.dumps(dataclasses.asdict(dataclasses.replace(
        priors or DEFAULT_PRIORS, beta_sd=float(beta_prior_sd))))
    idata.posterior.attrs["pooled_levels"] = int(pooled_levels)
    idata.posterior.attrs["tune"] = int(tune)
    idata.posterior.attrs["family"] = chosen.name
    if rater_variance_by:
        idata.posterior.attrs["rater_variance_by"] = rater_variance_by
    if data.meta.disagreement:
        idata.posterior.attrs["disagreement"] = ",".join(data.meta.disagreement)
        idata.posterior.attrs["centered_interactions"] = int(centered_interactions)
    if check:
        record_verdict(idata, diag if diag is not None else diagnose(idata, rhat_chains=chains))
    return idata


def resolved_settings(idata: az.InferenceData) -> dict[str, int | bool | str]:
    """The sampler settings a fit actually used where the caller left the choice to :func:`fit_survey`."""
    attrs = idata.posterior.attrs
    out = {"tune": int(attrs.get("tune", 0)), "chains": int(idata.posterior.sizes["chain"]),
           "centered_items": bool(attrs.get("centered_items", False)),
           "centered_raters": bool(attrs.get("centered_raters", False)),
           "split_dimensions": bool(attrs.get("split_dimensions", False))}
    if attrs.get("auto_choices"):
        out["auto_choices"] = str(attrs["auto_choices"])
    if "centered_interactions" in attrs:
        out["centered_interactions"] = bool(attrs["centered_interactions"])
    return out


def save_posterior(idata: az.InferenceData, path: str | Path) -> Path:
    """Write the InferenceData to NetCDF atomically (a temporary sibling renamed into place)."""
    from pluralstats.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        idata.to_netcdf(str(tmp), engine="h5netcdf")
    return path


def load_posterior(path: str | Path) -> az.InferenceData:
    """Read a posterior written by :func:`save_posterior` (loaded into memory, file closed)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"Posterior file not found: {path}")
    try:
        idata = az.from_netcdf(str(path), engine="h5netcdf")
    except Exception as exc:  # not NetCDF / corrupt
        raise InputError(f"Cannot read posterior {path}: {type(exc).__name__}: {exc}") from exc
    if "posterior" not in idata.groups():  # e.g. a NetCDF written by plain xarray
        raise InputError(f"{path} is not a posterior written by pluralstats fit-survey (no posterior group)")
    try:
        meta_of(idata)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from exc
    for group in idata.groups():
        getattr(idata, group).load()
    return idata
