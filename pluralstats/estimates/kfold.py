"""K-fold cross-validation by raters: the model refitted K times, each time without a fold of raters, and the
held-out raters scored with the same marginal likelihood as PSIS-LOO (:mod:`.rater_likelihood`): the exact,
slower answer where PSIS is unreliable (Pareto k > 0.7 for some raters).
"""

from __future__ import annotations

from collections.abc import Sequence

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from pluralstats.errors import InputError
from pluralstats.models.data import meta_of

from .rater_likelihood import rater_log_likelihood


def rater_folds(n_raters: int, k: int, seed: int = 0) -> np.ndarray:
    """Fold index (0..k-1) of each rater: a random, balanced assignment."""
    if not 2 <= k <= n_raters:
        raise InputError(f"--kfold must be between 2 and the number of raters ({n_raters}); got {k}")
    return np.random.default_rng(seed).permutation(np.arange(n_raters) % k)


def kfold_raters(survey, *, k: int = 10, seed: int = 0, fit_kwargs: dict | None = None,
                 progress=None) -> pd.DataFrame:
    """K-fold cross-validation by raters: one row per rater with its held-out ``elpd`` (log mean over draws).

    Each fold refits :func:`~pluralstats.models.fit_survey` on the other raters (``fit_kwargs`` passed on),
    then scores the fold's raters with the marginal likelihood of :func:`rater_log_likelihood`. An item that
    only the fold rated gets no item effect from the fit; it is scored with item effect 0 (the item mean of
    a zero-sum set), which slightly understates fit for such items in every model alike. ``progress``: an
    optional callable receiving ``(fold, k)`` as each fold starts.
    """
    from pluralstats.models.data import build_model_data
    from pluralstats.models.fit import fit_survey

    fit_kwargs = dict(fit_kwargs or {})
    fit_kwargs.setdefault("progress", False)
    fit_kwargs["check"] = False
    full = build_model_data(survey, fit_kwargs.get("dimensions"), fit_kwargs.get("attributes"))
    participants = survey.participants[survey.participants.participant_id.isin(survey.ratings.participant_id)]
    ids = np.sort(participants.participant_id.to_numpy(dtype=object))
    folds = rater_folds(len(ids), k, seed)
    rows = []
    for fold in range(k):
        if progress is not None:
            progress(fold, k)
        held = set(ids[folds == fold])
        train = _subset(survey, keep=lambda pid, held=held: pid not in held)
        test = _subset(survey, keep=lambda pid, held=held: pid in held)
        idata = fit_survey(train, seed=seed + fold, **fit_kwargs)
        scored = _score_new_raters(idata, test, full.meta.dimensions)
        rows.append(pd.DataFrame({"fold": fold, "elpd": scored}))
    return pd.concat(rows, ignore_index=True)


def _subset(survey, keep):
    from dataclasses import replace

    ratings = survey.ratings[survey.ratings.participant_id.map(keep)]
    return replace(survey, ratings=ratings.reset_index(drop=True),
                   participants=survey.participants[survey.participants.participant_id.map(keep)]
                   .reset_index(drop=True))


def _score_new_raters(idata, test, dimensions: Sequence[str]) -> np.ndarray:
    """Held-out elpd of each rater in ``test`` under ``idata`` (fitted without them)."""
    from pluralstats.models.data import build_model_data

    meta = meta_of(idata)
    data = build_model_data(test, list(dimensions), list(meta.attributes))
    # express the test raters' levels and items in the fitted posterior's coordinates
    levels = np.column_stack([
        pd.Categorical(np.asarray(data.meta.attributes[a])[data.rater_levels[:, j]],
                       categories=meta.attributes[a]).codes
        for j, a in enumerate(data.meta.attributes)]) if meta.attributes else np.zeros((len(data.rater_ids), 0))
    if (levels < 0).any():
        raise InputError("A held-out rater has a level that no training rater has; use fewer folds")
    fitted_items = list(idata.constant_data["item"].to_numpy())
    position = {item: i for i, item in enumerate(fitted_items)}
    item_idx = np.array([position.get(str(i), -1) for i in data.item_ids])
    new_items = item_idx < 0
    item_effect = idata.posterior["item_effect"]
    if new_items.any():  # items only the held-out raters rated: effect 0 (see kfold_raters)
        zeros = xr.zeros_like(item_effect.isel(item=[0])).squeeze("item", drop=True)
        extra = xr.concat([zeros] * int(new_items.sum()), dim="item")
        extra = extra.assign_coords(item=[f"__new{i}" for i in range(int(new_items.sum()))])
        item_effect = xr.concat([item_effect, extra], dim="item")
        item_idx[new_items] = len(fitted_items) + np.arange(int(new_items.sum()))
    posterior = idata.posterior.drop_vars([v for v in idata.posterior.data_vars if v.startswith("w_")]
                                          + ["item_effect"])
    posterior = posterior.assign(item_effect=item_effect)
    dims = list(meta.dimensions)
    obs_dim = np.array([dims.index(d) for d in np.asarray(data.meta.dimensions)[data.obs_dim]])
    constant = xr.Dataset({
        "rater_level": (("rater", "attribute"), levels.astype("int16")),
        "obs_dimension": ("obs", obs_dim.astype("int16")),
        "obs_rater": ("obs", data.obs_rater.astype("int32")),
        "obs_item": ("obs", item_idx[data.obs_item].astype("int32")),
        "obs_rating": ("obs", (data.y + 1).astype("int16")),
    }, coords={"rater": data.rater_ids.astype(str)})
    constant.attrs = idata.constant_data.attrs
    scored = az.InferenceData(posterior=posterior, constant_data=constant)
    if meta.disagreement:  # group x item terms of the training items, 0 for new items
        for attr in meta.disagreement:
            w = idata.posterior[f"w_{attr}"]
            if new_items.any():
                pad = xr.zeros_like(w.isel(item=[0] * int(new_items.sum())))
                pad = pad.assign_coords(item=[f"__new{i}" for i in range(int(new_items.sum()))])
                w = xr.concat([w, pad], dim="item")
            scored.posterior[f"w_{attr}"] = w
    ll = rater_log_likelihood(scored).stack(sample=("chain", "draw")).transpose("rater", "sample").to_numpy()
    return logsumexp(ll, axis=1) - np.log(ll.shape[1])


def kfold_compare(posteriors: dict[str, az.InferenceData], survey, *, k: int = 10, seed: int = 0,
                  progress=None) -> pd.DataFrame:
    """K-fold by raters for each posterior's model (refitted with the settings recorded in it).

    Returns a table like ``az.compare``'s: ``elpd_kfold`` (sum over raters), its ``se``, ``elpd_diff`` to the
    best model and the ``dse`` of that difference (from the paired per-rater differences), best first.
    """
    per_rater = {}
    for name, idata in posteriors.items():
        meta = meta_of(idata)
        attrs = idata.posterior.attrs
        fit_kwargs = {"dimensions": list(meta.dimensions), "attributes": list(meta.attributes),
                      "disagreement": list(getattr(meta, "disagreement", []) or []) or None,
                      "draws": int(idata.posterior.sizes["draw"]), "chains": int(idata.posterior.sizes["chain"]),
                      "tune": int(attrs.get("tune", 300)), "beta_prior_sd": float(attrs.get("beta_prior_sd", 2.5)),
                      "pooled_levels": bool(attrs.get("pooled_levels", 0)), "family": meta.family,
                      "rater_variance_by": meta.rater_variance_by}
        report = (lambda f, kk, name=name: progress(name, f, kk)) if progress else None
        per_rater[name] = kfold_raters(survey, k=k, seed=seed, fit_kwargs=fit_kwargs, progress=report)["elpd"]
    elpd = pd.DataFrame(per_rater)
    totals = elpd.sum().sort_values(ascending=False)
    best = totals.index[0]
    n = len(elpd)
    rows = []
    for name in totals.index:
        diff = elpd[best] - elpd[name]
        rows.append({"elpd_kfold": totals[name], "se": float(np.sqrt(n) * elpd[name].std(ddof=1)),
                     "elpd_diff": float(diff.sum()), "dse": float(np.sqrt(n) * diff.std(ddof=1))})
    return pd.DataFrame(rows, index=totals.index)
