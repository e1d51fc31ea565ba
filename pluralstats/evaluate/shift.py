"""The Bayesian hierarchical shift model: how far each tuned model moves each dimension's score.

Per dimension d, the score of completion c of model m (training run r) on prompt p is

    y = mu_d + beta_{m,d} + u_{p,d} + w_{m,p,d} + s_{r,d} + eps,   eps ~ Normal(0, sigma_d)

with beta_{control} = 0, prompt effects u ~ N(0, sigma_u,d) shared by every model (the paired
design: all models answer the same prompts), model-by-prompt effects w ~ N(0, sigma_w,d) (how a
model's completions on one prompt cluster), training-run effects s when a condition was trained
with several seeds, and the completion-level residual eps. u and w sum to zero over the evaluation
prompts (non-centred), so mu is the control's mean and beta the shift on these prompts.
The shift of model m is beta_{m,d}, in rating points on the survey scale; relative shifts divide
by the control's expected score over the evaluation prompts, as the survey contrasts divide by the
reference group's expected rating.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm

from pluralstats.errors import InputError

REQUIRED = ("model", "prompt_id", "dimension", "score")


@dataclass(frozen=True)
class ShiftFit:
    """The posterior plus where each model and dimension sits in it."""

    idata: az.InferenceData
    models: list[str]  # control first
    dimensions: list[str]
    control: str

    def draws(self, name: str) -> np.ndarray:
        """Posterior draws flattened over chains: shape (draws, ...)."""
        values = self.idata.posterior[name].values
        return values.reshape(-1, *values.shape[2:])

    def shift_draws(self) -> np.ndarray:
        """(draws, model, dimension) with the control's column all zero."""
        beta = self.draws("beta")
        return np.concatenate([np.zeros_like(beta[:, :1]), beta], axis=1)

    def control_mean_draws(self) -> np.ndarray:
        """(draws, dimension): the control's expected score averaged over the evaluation prompts."""
        return self.draws("mu")

    def model_mean_draws(self) -> np.ndarray:
        """(draws, model, dimension): each model's expected score over the evaluation prompts."""
        return self.control_mean_draws()[:, None, :] + self.shift_draws()


def _check(scores: pd.DataFrame, control: str) -> None:
    missing = [c for c in REQUIRED if c not in scores.columns]
    if missing:
        raise InputError(f"Score table lacks columns {missing}")
    if control not in set(scores.model):
        raise InputError(f"No model named '{control}' (the control) among {sorted(set(scores.model))}")
    if scores.score.isna().any():
        raise InputError("Score table has missing scores")


def build_shift_model(scores: pd.DataFrame, control: str = "control", scale_max: int = 5) -> tuple:
    """The PyMC model for ``scores`` (long: model, prompt_id, dimension, score[, run])."""
    _check(scores, control)
    models = [control, *sorted(m for m in scores.model.unique() if m != control)]
    dims = list(dict.fromkeys(scores.dimension))
    prompts = sorted(scores.prompt_id.astype(str).unique())
    data = scores.assign(prompt_id=scores.prompt_id.astype(str))
    m_idx = pd.Categorical(data.model, categories=models).codes
    d_idx = pd.Categorical(data.dimension, categories=dims).codes
    p_idx = pd.Categorical(data.prompt_id, categories=prompts).codes
    run = data["run"].astype(str) if "run" in data else data.model.astype(str)
    runs = sorted(run.unique())
    r_idx = pd.Categorical(run, categories=runs).codes
    with_runs = len(runs) > len(models)  # several training seeds for some condition
    unit = max((scale_max - 1) / 2.0, 0.5)  # half the scale: a weakly informative prior width
    centre = data.groupby("dimension").score.mean().reindex(dims).to_numpy()
    coords = {"dimension": dims, "tuned": models[1:], "prompt": prompts, "model": models, "run": runs}
    with pm.Model(coords=coords) as model:
        mu = pm.Normal("mu", centre, unit, dims="dimension")
        beta = pm.Normal("beta", 0.0, unit, dims=("tuned", "dimension"))
        sigma_u = pm.HalfNormal("sigma_u", unit / 2, dims="dimension")
        sigma_w = pm.HalfNormal("sigma_w", unit / 4, dims="dimension")
        sigma = pm.HalfNormal("sigma", unit, dims="dimension")
        # Zero-sum over prompts: mu is the control's mean over these prompts and beta the shift on them,
        # which removes the ridge between mu and the mean prompt effect and speeds up sampling.
        # non-centred: with few prompts the centred form funnels (divergences, low ESS of sigma_u)
        u_z = pm.ZeroSumNormal("u_z", sigma=1.0, dims=("dimension", "prompt"), n_zerosum_axes=1)
        u = pm.Deterministic("u", u_z * sigma_u[:, None], dims=("dimension", "prompt"))
        w_z = pm.Normal("w_z", 0, 1, dims=("model", "prompt", "dimension"))
        w = (w_z - w_z.mean(axis=1, keepdims=True)) * sigma_w
        full_beta = pm.math.concatenate([pm.math.zeros((1, len(dims))), beta], axis=0)
        eta = mu[d_idx] + full_beta[m_idx, d_idx] + u[d_idx, p_idx] + w[m_idx, p_idx, d_idx]
        if with_runs:
            sigma_s = pm.HalfNormal("sigma_s", unit / 4, dims="dimension")
            eta = eta + (pm.Normal("s_z", 0, 1, dims=("run", "dimension")) * sigma_s)[r_idx, d_idx]
        pm.Normal("y", eta, sigma[d_idx], observed=data.score.to_numpy(dtype=float))
    return model, models, dims


def fit_shift_model(
    scores: pd.DataFrame,
    *,
    control: str = "control",
    scale_max: int = 5,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    seed: int = 0,
    backend: str = "nutpie",
) -> ShiftFit:
    """Sample the shift model; convergence diagnostics go into ``posterior.attrs`` (never dropped)."""
    model, models, dims = build_shift_model(scores, control, scale_max)
    with model:
        if backend == "nutpie":
            idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, nuts_sampler="nutpie",
                              progressbar=False)
        else:
            idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=1, random_seed=seed,
                              progressbar=False, target_accept=0.9)
    # Kept on the posterior group so that they survive the NetCDF round trip.
    idata.posterior.attrs.update(diagnostics(idata))
    idata.posterior.attrs.update({"control": control, "scale_max": scale_max, "models": ",".join(models)})
    return ShiftFit(idata, models, dims, control)


def diagnostics(idata: az.InferenceData) -> dict:
    """Worst R-hat, smallest bulk ESS, divergences: the checks DESIGN.md asks every fit to report."""
    names = ["mu", "beta", "sigma_u", "sigma_w", "sigma"]
    summary = az.summary(idata, var_names=[n for n in names if n in idata.posterior], kind="diagnostics")
    stats = idata.get("sample_stats")
    divergent = int(stats["diverging"].values.sum()) if stats is not None and "diverging" in stats else 0
    rhat, ess = float(summary.r_hat.max()), float(summary.ess_bulk.min())
    ok = rhat <= 1.01 and ess >= 400 and divergent == 0
    # the reported quantities (mu, beta) separately: scale parameters usually mix worst
    target = summary[summary.index.str.startswith(("mu", "beta"))]
    return {"max_rhat": rhat, "min_ess_bulk": ess, "divergences": divergent, "converged": int(ok),
            "max_rhat_shifts": float(target.r_hat.max()), "min_ess_bulk_shifts": float(target.ess_bulk.min())}


def summarize_draws(diff: np.ndarray, base: np.ndarray, prob: float = 0.95) -> dict:
    """Mean and central interval of a difference, in points and in percent of ``base``."""
    lo_q, hi_q = (1 - prob) / 2, 1 - (1 - prob) / 2
    rel = 100.0 * diff / base
    return {
        "estimate": float(diff.mean()), "lo": float(np.quantile(diff, lo_q)), "hi": float(np.quantile(diff, hi_q)),
        "rel_pct": float(rel.mean()), "rel_lo": float(np.quantile(rel, lo_q)),
        "rel_hi": float(np.quantile(rel, hi_q)), "p_positive": float((diff > 0).mean()),
    }


def comparisons(shift: np.ndarray, means: np.ndarray, models: list[str], dims: list[str], control: str,
                method: str, prob: float = 0.95) -> pd.DataFrame:
    """Tidy rows from draws: shifts vs control, and every pair of models (a - b, relative to b).

    ``shift``: (draws, model, dim) differences from the control; ``means``: (draws, model, dim).
    Works the same for posterior draws and for bootstrap replicates.
    """
    rows = []
    lo_q, hi_q = (1 - prob) / 2, 1 - (1 - prob) / 2
    for j, d in enumerate(dims):
        for i, m in enumerate(models):
            mean = means[:, i, j]
            rows.append({"comparison": "mean", "model": m, "reference": "", "dimension": d,
                         "estimate": float(mean.mean()), "lo": float(np.quantile(mean, lo_q)),
                         "hi": float(np.quantile(mean, hi_q)), "rel_pct": np.nan, "rel_lo": np.nan,
                         "rel_hi": np.nan, "p_positive": np.nan})
            if m != control:
                rows.append({"comparison": "shift", "model": m, "reference": control, "dimension": d,
                             **summarize_draws(shift[:, i, j], means[:, 0, j], prob)})
        for a in range(1, len(models)):
            for b in range(1, len(models)):
                if a != b:
                    rows.append({"comparison": "pairwise", "model": models[a], "reference": models[b],
                                 "dimension": d, **summarize_draws(shift[:, a, j] - shift[:, b, j],
                                                                   means[:, b, j], prob)})
    return pd.DataFrame(rows).assign(method=method)


def posterior_table(fit: ShiftFit, prob: float = 0.95) -> pd.DataFrame:
    """The Bayesian rows of the results table."""
    return comparisons(fit.shift_draws(), fit.model_mean_draws(), fit.models, fit.dimensions, fit.control,
                       "bayes", prob)


def bootstrap_table(scores: pd.DataFrame, *, control: str = "control", n_boot: int = 2000, seed: int = 0,
                    prob: float = 0.95) -> pd.DataFrame:
    """A prompt-level (paired) bootstrap of the same comparisons: a model-free check on the posterior."""
    _check(scores, control)
    models = [control, *sorted(m for m in scores.model.unique() if m != control)]
    cell = scores.assign(prompt_id=scores.prompt_id.astype(str)).pivot_table(
        index="prompt_id", columns=["model", "dimension"], values="score", aggfunc="mean")
    dims = list(dict.fromkeys(scores.dimension))
    cube = np.stack([[cell[(m, d)].to_numpy() for d in dims] for m in models])  # (model, dim, prompt)
    if np.isnan(cube).any():
        raise InputError("The bootstrap needs every model scored on every prompt and dimension")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, cube.shape[2], size=(n_boot, cube.shape[2]))
    means = cube[:, :, idx].mean(axis=3).transpose(2, 0, 1)  # (boot, model, dim)
    shift = means - means[:, :1, :]
    return comparisons(shift, means, models, dims, control, "bootstrap", prob)
