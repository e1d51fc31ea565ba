"""Fit the rating model with one of the registered samplers and return one self-sufficient InferenceData.

Samplers (``backend``) live in :mod:`pluralstats.samplers`: ``nutpie`` (NUTS in Rust on a numba-compiled
gradient), ``jax`` (the same sampler on a JAX-compiled gradient: fast to compile, and for GPUs; needs the
``jax`` extra), ``pymc`` (PyMC's own NUTS), ``advi`` (mean-field ADVI: minutes faster, intervals too narrow;
for a first look only, never for reported numbers), and any installed by entry point. This module owns what
is the model's business whatever the sampler: the choice of backend and tuning, the per-dimension split,
and the gate's rule (:func:`sample_gated`); compiling and sampling the model, whole or a dimension at a time,
is :mod:`.sampling`'s.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import arviz as az
import numpy as np

from pluralstats.errors import InputError
from pluralstats.families import DEFAULT_FAMILY, Family, get_family
from pluralstats.samplers import Sampler, get_sampler
from pluralstats.samplers.sampler import join_chains
from pluralstats.survey import Survey

from .data import ModelData, build_model_data, meta_of
from .diagnostics import GATE_CHAINS, MIN_ESS, Diagnostics, diagnose, gate_draws, record_verdict
from .priors import DEFAULT_PRIORS, Priors
from .rating import (
    BETA_PRIOR_SD,
    CENTRED_MIN_RATINGS,
    build_model,
    data_arrays,
    ratings_per_unit,
    set_disagreement,
    set_rater_variance,
    use_centred,
    use_centred_interactions,
    use_centred_raters,
)
from .sampling import _split_sampler, _whole_sampler, dimension_parts, finish_idata, stored_variables

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
    draws = _draws_per_chain(draws, tune, chains, disagreement)
    if backend != AUTO_BACKEND:
        get_sampler(backend)
    chosen = get_family(family)
    data = build_model_data(survey, dimensions, attributes)
    plan = _plan_fit(data, chosen, backend=backend, tune=tune, joint=joint, disagreement=disagreement,
                     rater_variance_by=rater_variance_by, centered_items=centered_items,
                     centered_interactions=centered_interactions, centered_raters=centered_raters,
                     split_dimensions=split_dimensions, beta_prior_sd=beta_prior_sd, pooled_levels=pooled_levels,
                     priors=priors)
    start = time.perf_counter()
    sample, parts = _compiled_sampler(data, plan, joint=joint, draws=draws, progress=progress)
    compile_seconds = time.perf_counter() - start
    # an approximation (ADVI) is never topped up: more of its draws change nothing the gate could certify
    most = max(chains, max_chains or chains) if plan.sampler.exact else chains
    idata, added, diag = sample_gated(sample, data, plan.backend, chains=chains, seed=seed, joint=joint, start=start,
                                      max_chains=most, check=check)
    _record_fit(idata, data, plan, compile_seconds=compile_seconds, split=parts is not None, added=added,
                chains=chains, draws=draws, rater_variance_by=rater_variance_by)
    if check:
        record_verdict(idata, diag if diag is not None else diagnose(idata, rhat_chains=chains))
    return idata


def _draws_per_chain(draws: int | None, tune: int | None, chains: int, disagreement: list[str] | None) -> int:
    """The draws per chain (None: the gate's default), after refusing draws, tune or chains out of range."""
    draws = gate_draws(chains, bool(disagreement)) if draws is None else draws
    if draws < 1 or (tune is not None and tune < 0) or chains < 1:
        raise InputError("draws and chains must be >= 1 and tune >= 0")
    return draws


@dataclasses.dataclass
class _FitPlan:
    """What :func:`fit_survey` settled before sampling: the sampler, its tuning, the split and the model's options."""

    backend: str
    tune: int
    sampler: Sampler
    split_dimensions: bool
    options: dict  # build_model's keyword arguments
    auto: list[str]  # the choices made from the data, recorded as posterior.attrs["auto_choices"]


def _plan_fit(data: ModelData, chosen: Family, *, backend: str, tune: int | None, joint: bool,
              disagreement: list[str] | None, rater_variance_by: str | None, centered_items: bool | None,
              centered_interactions: bool | None, centered_raters: bool | None, split_dimensions: bool | None,
              beta_prior_sd: float, pooled_levels: bool, priors: Priors | None) -> _FitPlan:
    """Settle what the caller left to the data (backend, tuning, parametrisations, the split), noting each choice."""
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
    return _FitPlan(backend, tune, sampler, split_dimensions, options, auto)


def _compiled_sampler(data: ModelData, plan: _FitPlan, *, joint: bool, draws: int, progress: bool):
    """The planned model(s) compiled once, as a function sampling ``(chains, seed)``; and the parts when split."""
    parts = dimension_parts(data) if plan.split_dimensions else None
    low_rank = use_low_rank(data)
    if parts is None:
        sample = _whole_sampler(build_model(data, joint=joint, **plan.options), plan.sampler, draws=draws,
                                tune=plan.tune, progress=progress, low_rank=low_rank)
    else:
        sample = _split_sampler(parts, plan.sampler, plan.options, draws=draws, tune=plan.tune, progress=progress,
                                low_rank=low_rank)
    return sample, parts


def _record_fit(idata: az.InferenceData, data: ModelData, plan: _FitPlan, *, compile_seconds: float, split: bool,
                added: int, chains: int, draws: int, rater_variance_by: str | None) -> None:
    """Record in the posterior's attrs the settings the fit used and the choices made for it (resolved_settings)."""
    attrs, options = idata.posterior.attrs, plan.options
    if plan.sampler.reusable:  # and what chains' worker processes spent compiling it there
        attrs["compile_seconds"] = compile_seconds + float(attrs.pop("compile_seconds_workers", 0.0))
    attrs["split_dimensions"] = int(split)
    if added:
        plan.auto.append(f"{added} more chains (each {draws} draws): the first {chains} passed every check but ESS "
                         f">= {MIN_ESS:g}; R-hat is the first {chains} chains'")
    attrs["auto_choices"] = "; ".join(plan.auto)
    attrs["centered_items"] = int(options["centered_items"])
    attrs["centered_raters"] = int(options["centered_raters"])
    attrs["beta_prior_sd"] = float(options["beta_prior_sd"])
    attrs["priors"] = json.dumps(dataclasses.asdict(dataclasses.replace(
        options["priors"], beta_sd=float(options["beta_prior_sd"]))))
    attrs["pooled_levels"] = int(options["pooled_levels"])
    attrs["tune"] = int(plan.tune)
    attrs["family"] = options["family"].name
    if rater_variance_by:
        attrs["rater_variance_by"] = rater_variance_by
    if data.meta.disagreement:
        attrs["disagreement"] = ",".join(data.meta.disagreement)
        attrs["centered_interactions"] = int(options["centered_interactions"])


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
