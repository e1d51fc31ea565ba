"""The Bayesian hierarchical shift model: how far each tuned model moves each dimension's score.

Per dimension d, the score of completion c of model m (training run r) on prompt p is

    y = mu_d + beta_{m,d} + u_{p,d} + w_{m,p,d} + s_{r,d} + eps,   eps ~ Normal(0, sigma_d)

with beta_{control} = 0; prompt effects u ~ N(0, sigma_u,d) shared by every model (the paired design:
all models answer the same prompts); model-by-prompt effects w ~ N(0, sigma_w,d) of every model, the
control included (how one model's completions on one prompt cluster); training-run effects
s ~ N(0, sigma_s,d) of the runs of each tuned condition, present when some condition was trained with
several seeds (the control is not trained, so it has none); and the completion-level residual eps.
Prompts and runs are draws from their populations. One posterior holds two readings of the shift,
chosen by ``population``:

- ``"prompts"`` (the default): ``beta[m, d]``, the expected score difference model m - control on a
  *new* prompt and, where the condition was trained with several seeds, for a new training run of it;
  ``mu[d]``, the control's expected score on a new prompt. Their posterior sd includes the model-by-prompt
  variation (about 2 sigma_w^2 / P for P prompts) and the run-to-run variation (about sigma_s^2 / R for R
  runs): the uncertainty a prompt bootstrap measures.
- ``"evaluated"``: ``beta_eval[m, d]``, the difference averaged over the P evaluated prompts and the runs
  that were trained; ``mu_eval[d]``, the control's mean over those prompts. Conditioning on the prompts
  removes the w and s terms from the uncertainty: the sd is about sigma * sqrt(2 / (P C)) with C
  completions per prompt, whatever sigma_w is.

Sampling: each random effect is split into its mean over the evaluated prompts (or runs) and the
deviations from that mean. The likelihood sees the deviations and ``mu_eval``/``beta_eval`` only; the
means enter through the priors of ``mu_eval`` and ``beta_eval`` (a change of variables with unit
Jacobian, so it is the same model), and ``beta = beta_eval - (wbar_m + sbar_m - wbar_control)``.
This removes the ridge between the population mean and the mean of the evaluated prompts' effects.

Shifts are in rating points on the survey scale; relative shifts divide by the control's expected
score of the same reading (``mu`` or ``mu_eval``), as the survey contrasts divide by the reference
group's expected rating.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm

from pluralstats.errors import InputError

REQUIRED = ("model", "prompt_id", "dimension", "score")
POPULATIONS = ("prompts", "evaluated")
MAX_RHAT = 1.01
MIN_ESS = 400
CHECKED = ("mu", "beta", "mu_eval", "beta_eval", "sigma_u", "sigma_w", "sigma_s", "sigma")


def _population(population: str) -> str:
    if population not in POPULATIONS:
        raise InputError(f"Unknown population '{population}'; choose one of {', '.join(POPULATIONS)}")
    return population


def _names(population: str) -> tuple[str, str]:
    """(control mean, shift): the posterior variables that ``population`` reports."""
    return ("mu", "beta") if _population(population) == "prompts" else ("mu_eval", "beta_eval")


@dataclass(frozen=True)
class ShiftFit:
    """The posterior, where each model and dimension sits in it, and which reading of the shift is reported.

    ``population="prompts"`` reports ``beta``/``mu`` (a new prompt and a new training run),
    ``"evaluated"`` reports ``beta_eval``/``mu_eval`` (the evaluated prompts and trained runs); see the module
    docstring. ``n_runs``: training runs (seeds) per model, when known.
    """

    idata: az.InferenceData
    models: list[str]  # control first
    dimensions: list[str]
    control: str
    population: str = "prompts"
    n_runs: dict[str, int] = field(default_factory=dict)

    def draws(self, name: str) -> np.ndarray:
        """Posterior draws flattened over chains: shape (draws, ...)."""
        values = self.idata.posterior[name].values
        return values.reshape(-1, *values.shape[2:])

    def shift_draws(self) -> np.ndarray:
        """(draws, model, dimension) of the reported shift vs the control; the control's column is all zero."""
        beta = self.draws(_names(self.population)[1])
        return np.concatenate([np.zeros_like(beta[:, :1]), beta], axis=1)

    def control_mean_draws(self) -> np.ndarray:
        """(draws, dimension): the control's expected score (new prompt, or mean over the evaluated ones)."""
        return self.draws(_names(self.population)[0])

    def model_mean_draws(self) -> np.ndarray:
        """(draws, model, dimension): each model's expected score in the same reading as the shift."""
        return self.control_mean_draws()[:, None, :] + self.shift_draws()


def _check(scores: pd.DataFrame, control: str) -> None:
    missing = [c for c in REQUIRED if c not in scores.columns]
    if missing:
        raise InputError(f"Score table lacks columns {missing}")
    if control not in set(scores.model):
        raise InputError(f"No model named '{control}' (the control) among {sorted(set(scores.model))}")
    if scores.score.isna().any():
        raise InputError("Score table has missing scores")


def run_labels(scores: pd.DataFrame) -> pd.Series:
    """The training run of each row: the ``run`` column, else model + ``seed``, else the model (one run each).

    A run label used by several models is prefixed with its model, so that runs nest in models.
    """
    if "run" in scores:
        run = scores["run"].astype(str)
    elif "seed" in scores:
        run = scores.model.astype(str) + "#s" + scores["seed"].astype(str)
    else:
        return scores.model.astype(str)
    if (pd.DataFrame({"run": run, "model": scores.model}).groupby("run").model.nunique() > 1).any():
        run = scores.model.astype(str) + "/" + run
    return run


def runs_per_model(scores: pd.DataFrame) -> dict[str, int]:
    """How many training runs (seeds) of each model the scores hold."""
    return {str(m): int(n) for m, n in run_labels(scores).groupby(scores.model).nunique().items()}


def build_shift_model(scores: pd.DataFrame, control: str = "control", scale_max: int = 5) -> tuple:
    """The PyMC model for ``scores`` (long: model, prompt_id, dimension, score[, run or seed]).

    Its posterior holds both readings of the shift (``beta`` and ``beta_eval``; see the module docstring).
    """
    _check(scores, control)
    models = [control, *sorted(m for m in scores.model.unique() if m != control)]
    dims = list(dict.fromkeys(scores.dimension))
    prompts = sorted(scores.prompt_id.astype(str).unique())
    data = scores.assign(prompt_id=scores.prompt_id.astype(str), run=run_labels(scores))
    m_idx = pd.Categorical(data.model, categories=models).codes
    d_idx = pd.Categorical(data.dimension, categories=dims).codes
    p_idx = pd.Categorical(data.prompt_id, categories=prompts).codes
    tuned_runs = data[data.model != control].groupby("run", sort=True).model.first()
    with_runs = len(tuned_runs) > len(models) - 1  # several training seeds for some condition
    unit = max((scale_max - 1) / 2.0, 0.5)  # half the scale: a weakly informative prior width
    centre = data.groupby("dimension").score.mean().reindex(dims).to_numpy()
    coords = {"dimension": dims, "tuned": models[1:], "prompt": prompts, "model": models,
              "run": list(tuned_runs.index)}
    with pm.Model(coords=coords) as model:
        sigma_u = pm.HalfNormal("sigma_u", unit / 2, dims="dimension")
        sigma_w = pm.HalfNormal("sigma_w", unit / 4, dims="dimension")
        sigma = pm.HalfNormal("sigma", unit, dims="dimension")
        # P iid N(0, sd) effects = a zero-sum part (ZeroSumNormal, sigma sd) + their mean, N(0, sd / sqrt(P)),
        # independent of it. The means get their own standard-normal coordinates: taken as the mean of the raw
        # values they mix slowly (their scale differs from the data-bound coordinates').
        # Prompt effects centred: every model's completions score each prompt, so the data pin u and the
        # non-centred form mixes sigma_u slowly (ESS ~150 of 1200 draws against ~2000 centred).
        # Model-by-prompt effects non-centred: one model's C completions say little about w (a funnel when centred).
        root_p = np.sqrt(len(prompts))
        u_dev = pm.ZeroSumNormal("u", sigma=sigma_u[:, None], dims=("dimension", "prompt")).T
        w_dev = pm.ZeroSumNormal("w_z", sigma=1.0, dims=("model", "dimension", "prompt")).transpose(0, 2, 1) * sigma_w
        u_bar = pm.Normal("u_bar_z", 0, 1, dims="dimension") * sigma_u / root_p
        # (model, dimension): each model's mean model-by-prompt effect over the evaluated prompts
        offset = pm.Normal("w_bar_z", 0, 1, dims=("model", "dimension")) * sigma_w / root_p
        eta_runs = 0.0
        if with_runs:
            sigma_s = pm.HalfNormal("sigma_s", unit / 4, dims="dimension")
            s_z = pm.Normal("s_z", 0, 1, dims=("run", "dimension"))
            owner = pd.Categorical(tuned_runs.to_numpy(), categories=models[1:]).codes
            share = np.zeros((len(models) - 1, len(tuned_runs)))
            share[owner, np.arange(len(tuned_runs))] = 1.0
            share /= share.sum(axis=1, keepdims=True)  # row m averages the runs of tuned model m
            s_bar = pm.math.dot(share, s_z)  # (tuned, dimension)
            s_dev = (s_z - s_bar[owner]) * sigma_s
            offset = offset + pm.math.concatenate([pm.math.zeros((1, len(dims))), s_bar * sigma_s], axis=0)
            # the control's rows take the appended zero row: the untuned model has no training run
            r_idx = np.where(data.model == control, len(tuned_runs),
                             pd.Categorical(data.run, categories=tuned_runs.index).codes)
            eta_runs = pm.math.concatenate([s_dev, pm.math.zeros((1, len(dims)))], axis=0)[r_idx, d_idx]
        # The evaluated-prompts parameters, whose priors carry the population means (see the module docstring).
        mu_eval = pm.Normal("mu_eval", centre + u_bar + offset[0], unit, dims="dimension")
        beta_eval = pm.Normal("beta_eval", offset[1:] - offset[0], unit, dims=("tuned", "dimension"))
        pm.Deterministic("mu", mu_eval - u_bar - offset[0], dims="dimension")
        pm.Deterministic("beta", beta_eval - (offset[1:] - offset[0]), dims=("tuned", "dimension"))
        full_beta = pm.math.concatenate([pm.math.zeros((1, len(dims))), beta_eval], axis=0)
        eta = mu_eval[d_idx] + full_beta[m_idx, d_idx] + u_dev[p_idx, d_idx] + w_dev[m_idx, p_idx, d_idx]
        pm.Normal("y", eta + eta_runs, sigma[d_idx], observed=data.score.to_numpy(dtype=float))
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
    population: str = "prompts",
) -> ShiftFit:
    """Sample the shift model; report the shift of ``population`` ("prompts": ``beta``, "evaluated": ``beta_eval``).

    Both readings are in the posterior whichever is reported. Convergence diagnostics of the reported
    quantities, the population, the models and their run counts go into ``posterior.attrs`` (kept on
    the posterior group so that they survive the NetCDF round trip).
    """
    _population(population)
    model, models, dims = build_shift_model(scores, control, scale_max)
    with model:
        if backend == "nutpie":
            idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, nuts_sampler="nutpie",
                              progressbar=False)
        else:
            idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=1, random_seed=seed,
                              progressbar=False, target_accept=0.9)
    runs = runs_per_model(scores)
    idata.posterior.attrs.update(diagnose_shift(idata, population).summary())
    idata.posterior.attrs.update({"control": control, "scale_max": scale_max, "models": ",".join(models),
                                  "population": population, "n_runs": ",".join(str(runs[m]) for m in models)})
    return ShiftFit(idata, models, dims, control, population, runs)


@dataclass(frozen=True)
class ShiftDiagnostics:
    """Convergence checks of a shift-model posterior: R-hat <= 1.01, bulk ESS >= 400, no divergences.

    ``table`` has one row per scalar quantity (``quantity``, ``parameter``, ``r_hat``, ``ess_bulk``,
    ``ess_tail``, ``ok``) over the control means, the shifts (both readings) and the scale parameters;
    ``reported`` names the two variables that the results table reports.
    """

    table: pd.DataFrame
    divergences: int
    reported: tuple[str, str]

    @property
    def ok(self) -> bool:
        """Every quantity passes R-hat and ESS, and the sampler had no divergences."""
        return bool(self.table.ok.all()) and self.divergences == 0

    @property
    def problems(self) -> list[str]:
        """One readable line per failed check."""
        out = []
        t = self.table
        high = t[~t.ok & (t.r_hat > MAX_RHAT)].sort_values("r_hat", ascending=False)
        if len(high):
            out.append(f"R-hat > {MAX_RHAT} for {len(high)} quantities (worst {high.r_hat.iloc[0]:.3f}, "
                       f"{high.quantity.iloc[0]})")
        low = t[t.ess_bulk < MIN_ESS].sort_values("ess_bulk")
        if len(low):
            out.append(f"bulk ESS < {MIN_ESS} for {len(low)} quantities (smallest {low.ess_bulk.iloc[0]:.0f}, "
                       f"{low.quantity.iloc[0]}); draw more")
        if self.divergences:
            out.append(f"{self.divergences} divergent transitions")
        return out

    def by_parameter(self) -> pd.DataFrame:
        """One row per parameter: worst R-hat, smallest bulk and tail ESS, how many of its entries fail."""
        groups = self.table.groupby("parameter", sort=False)
        return pd.DataFrame({"worst r_hat": groups.r_hat.max(), "min ess_bulk": groups.ess_bulk.min(),
                             "min ess_tail": groups.ess_tail.min(), "entries": groups.size(),
                             "failing": groups.ok.apply(lambda ok: int((~ok).sum()))}).reset_index()

    def summary(self) -> dict:
        """The flat numbers stored in ``posterior.attrs`` and manifests; ``*_shifts``: the reported quantities."""
        t = self.table
        target = t[t.parameter.isin(self.reported)]
        return {"max_rhat": float(t.r_hat.max()), "min_ess_bulk": float(t.ess_bulk.min()),
                "divergences": self.divergences, "converged": int(self.ok),
                "max_rhat_shifts": float(target.r_hat.max()), "min_ess_bulk_shifts": float(target.ess_bulk.min())}

    def rich_table(self):
        """:meth:`by_parameter` as a rich Table, failing rows in red; divergences in the caption."""
        from rich.table import Table

        view = Table(title=f"Shift-model diagnostics (R-hat <= {MAX_RHAT}, bulk ESS >= {MIN_ESS}, no divergences)",
                     caption=f"{self.divergences} divergent transitions; reported: {', '.join(self.reported)}")
        for col in ("parameter", "worst r_hat", "min ess_bulk", "min ess_tail", "failing / entries"):
            view.add_column(col, justify="left" if col == "parameter" else "right")
        for r in self.by_parameter().itertuples(index=False):
            view.add_row(r.parameter, f"{r[1]:.3f}", f"{r[2]:.0f}", f"{r[3]:.0f}", f"{r.failing} / {r.entries}",
                         style="red" if r.failing else None)
        return view

    def __str__(self) -> str:
        head = "ok" if self.ok else "FAILED: " + "; ".join(self.problems)
        return (f"shift-model diagnostics {head}\n{self.by_parameter().to_string(index=False, float_format='%.3f')}"
                f"\n{self.divergences} divergent transitions")


def diagnose_shift(idata: az.InferenceData, population: str = "prompts") -> ShiftDiagnostics:
    """R-hat, bulk and tail ESS of every control mean, shift and scale, and the divergences."""
    names = [n for n in CHECKED if n in idata.posterior]
    summary = az.summary(idata, var_names=names, kind="diagnostics")
    stats = idata.get("sample_stats")
    divergent = int(stats["diverging"].values.sum()) if stats is not None and "diverging" in stats else 0
    table = pd.DataFrame({"quantity": summary.index, "parameter": summary.index.str.split("[").str[0],
                          "r_hat": summary.r_hat.to_numpy(), "ess_bulk": summary.ess_bulk.to_numpy(),
                          "ess_tail": summary.ess_tail.to_numpy()})
    # R-hat needs two chains to say anything; with one it is not checked
    one_chain = idata.posterior.sizes["chain"] == 1
    table["ok"] = ((table.r_hat <= MAX_RHAT) | one_chain) & (table.ess_bulk >= MIN_ESS)
    return ShiftDiagnostics(table, divergent, _names(population))


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
                method: str, prob: float = 0.95, n_runs: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Tidy rows from draws: shifts vs control, and every pair of models (a - b, relative to b).

    ``shift``: (draws, model, dim) differences from the control; ``means``: (draws, model, dim).
    Works the same for posterior draws and for bootstrap replicates. ``n_runs`` (training runs per
    model) fills the ``n_runs`` column: the model's runs, for a pair the fewer of the two (the control,
    never trained, does not count); NaN where unknown.
    """
    runs = dict(n_runs or {})
    rows = []
    lo_q, hi_q = (1 - prob) / 2, 1 - (1 - prob) / 2
    for j, d in enumerate(dims):
        for i, m in enumerate(models):
            mean = means[:, i, j]
            rows.append({"comparison": "mean", "model": m, "reference": "", "dimension": d,
                         "estimate": float(mean.mean()), "lo": float(np.quantile(mean, lo_q)),
                         "hi": float(np.quantile(mean, hi_q)), "rel_pct": np.nan, "rel_lo": np.nan,
                         "rel_hi": np.nan, "p_positive": np.nan, "n_runs": runs.get(m, np.nan)})
            if m != control:
                rows.append({"comparison": "shift", "model": m, "reference": control, "dimension": d,
                             **summarize_draws(shift[:, i, j], means[:, 0, j], prob), "n_runs": runs.get(m, np.nan)})
        for a in range(1, len(models)):
            for b in range(1, len(models)):
                if a != b:
                    rows.append({"comparison": "pairwise", "model": models[a], "reference": models[b],
                                 "dimension": d, **summarize_draws(shift[:, a, j] - shift[:, b, j],
                                                                   means[:, b, j], prob),
                                 "n_runs": fewest_runs(runs, models[a], models[b])})
    return pd.DataFrame(rows).astype({"n_runs": "Int64"}).assign(method=method)


def fewest_runs(n_runs: Mapping[str, int], a: str, b: str) -> float:
    """The fewer training runs of models ``a`` and ``b``; NaN when either is unknown."""
    if a not in n_runs or b not in n_runs:
        return np.nan
    return float(min(n_runs[a], n_runs[b]))


def posterior_table(fit: ShiftFit, prob: float = 0.95) -> pd.DataFrame:
    """The Bayesian rows of the results table, in the fit's reading (``fit.population``) of the shift."""
    return comparisons(fit.shift_draws(), fit.model_mean_draws(), fit.models, fit.dimensions, fit.control,
                       "bayes", prob, fit.n_runs)


def bootstrap_draws(scores: pd.DataFrame, *, control: str = "control", n_boot: int = 2000,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Prompt-level (paired) bootstrap replicates: (shift, means, models, dimensions).

    ``means`` (replicate, model, dimension): each model's mean score over a resample of the prompts
    (all models take the same resample); ``shift``: the same minus the control's. Resampling prompts
    estimates the uncertainty of the shift for the prompt population, as ``population="prompts"``.
    """
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
    return means - means[:, :1, :], means, models, dims


def bootstrap_table(scores: pd.DataFrame, *, control: str = "control", n_boot: int = 2000, seed: int = 0,
                    prob: float = 0.95) -> pd.DataFrame:
    """The comparisons from :func:`bootstrap_draws`: a model-free check on the posterior."""
    shift, means, models, dims = bootstrap_draws(scores, control=control, n_boot=n_boot, seed=seed)
    return comparisons(shift, means, models, dims, control, "bootstrap", prob, runs_per_model(scores))
