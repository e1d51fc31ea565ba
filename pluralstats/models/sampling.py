"""Compiling and sampling the rating model, whatever the sampler: the whole model compiled once, or one model per
dimension compiled once with each dimension's data swapped in (:func:`dimension_parts`), and the posterior kept
from a run (:func:`finish_idata`).

What to sample with which settings, and the gate's rule for adding chains, are :mod:`.fit`'s business.
"""

from __future__ import annotations

import dataclasses

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from pluralstats.samplers import Sampler, get_sampler, quiet

from .data import ModelData
from .rating import build_model, data_arrays, is_auxiliary


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
