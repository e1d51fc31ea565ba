"""``evaluate``: generate on held-out prompts, score every dimension, estimate shifts vs the control.

Artifacts, all next to ``results.parquet`` and written atomically:

- ``results.parquet``: the tidy table (comparison = mean | shift | pairwise, model, reference,
  dimension, estimate, lo, hi, rel_pct, rel_lo, rel_hi, p_positive, p_better, n_runs, method = bayes | bootstrap);
  the bayes rows report the shift for new prompts (and new training runs) unless ``ShiftSettings.population``
  is "evaluated" (see :mod:`pluralstats.evaluate.shift`); ``n_runs`` counts the training runs (seeds) behind
  a row: with one, a difference between methods is also a difference between two checkpoints;
- ``results.scores.parquet``: one row per (model, run, prompt, completion, dimension) with the text;
- ``results.posterior.nc``: the shift model's posterior (ArviZ NetCDF);
- ``results.parquet.manifest.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.evaluate.calibration import CALIBRATION_ATTR, calibration_to_attr
from pluralstats.evaluate.generate import GenerationConfig, generate_completions
from pluralstats.evaluate.scorers import Scorer, score_completions
from pluralstats.evaluate.shift import (
    ShiftDiagnostics,
    ShiftFit,
    bootstrap_table,
    diagnose_shift,
    fit_shift_model,
    posterior_table,
)
from pluralstats.io import atomic_path
from pluralstats.models.fit import save_posterior

TABLE_COLUMNS = ["comparison", "model", "reference", "dimension", "estimate", "lo", "hi", "rel_pct", "rel_lo",
                 "rel_hi", "p_positive", "p_better", "n_runs", "method"]


@dataclass(frozen=True)
class ShiftSettings:
    """Sampler settings of the shift model, the reading of the shift it reports, and the size of the bootstrap check.

    ``population``: "prompts" reports the shift for a new prompt (and a new training run), "evaluated"
    the shift averaged over the evaluated prompts (and trained runs); see :mod:`pluralstats.evaluate.shift`.
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    backend: str = "nutpie"
    bootstrap: int = 2000  # 0 turns the check off
    population: str = "prompts"


@dataclass
class EvalResult:
    """An evaluation: the per-completion scores, the results table (each model's mean, its shift vs the control
    and pairwise differences per dimension), the shift model's fit and its convergence diagnostics."""

    scores: pd.DataFrame
    table: pd.DataFrame
    fit: ShiftFit
    diagnostics: ShiftDiagnostics


def artifact_paths(out: str | Path) -> dict[str, Path]:
    """Where each artifact of an evaluation at ``out`` lives."""
    out = Path(out)
    stem = out.name.removesuffix(".parquet")
    return {"table": out, "scores": out.with_name(f"{stem}.scores.parquet"),
            "posterior": out.with_name(f"{stem}.posterior.nc")}


def score_models(models: Mapping[str, str | Path], prompts: pd.DataFrame, scorer: Scorer,
                 gen: GenerationConfig | None = None, *, seed: int = 0, progress=None) -> pd.DataFrame:
    """Completions of every model on the same prompts with the same seed, scored on every dimension."""
    gen = gen or GenerationConfig()
    parts = []
    for name, path in models.items():
        completions = generate_completions(path, prompts, gen, seed=seed, progress=progress, label=name)
        scored = score_completions(scorer, completions, progress=progress, label=name)
        parts.append(scored.assign(model=name, run=name))
    return pd.concat(parts, ignore_index=True)


def polarity_signs(dimensions, signs: Mapping[str, int] | None) -> dict[str, int]:
    """+1 where higher is better, -1 where lower is better (toxicity, bias); +1 when unknown."""
    return {d: int((signs or {}).get(d, 1)) for d in dimensions}


def shift_results(scores: pd.DataFrame, *, control: str = "control", scale_max: int = 5,
                  settings: ShiftSettings = ShiftSettings(), signs: Mapping[str, int] | None = None,
                  seed: int = 0, calibration: pd.DataFrame | None = None) -> EvalResult:
    """Fit the shift model (and the bootstrap check), assemble the results table and diagnose the fit.

    ``calibration``: the scorer's calibration on held-out survey ratings
    (:func:`pluralstats.evaluate.calibration.scorer_calibration`), stored in the posterior's attributes so that
    a comparison with the survey can put the scores on the survey's scale.

    Failed diagnostics do not raise here: ``result.diagnostics.ok`` says whether the fit can be used.
    """
    fit = fit_shift_model(scores, control=control, scale_max=scale_max, draws=settings.draws,
                          tune=settings.tune, chains=settings.chains, seed=seed, backend=settings.backend,
                          population=settings.population)
    if calibration is not None:
        fit.idata.posterior.attrs[CALIBRATION_ATTR] = calibration_to_attr(calibration)
    tables = [posterior_table(fit)]
    if settings.bootstrap:
        tables.append(bootstrap_table(scores, control=control, n_boot=settings.bootstrap, seed=seed))
    table = pd.concat(tables, ignore_index=True)
    sign = table.dimension.map(polarity_signs(fit.dimensions, signs))
    # p_better: probability the model is better than its reference on the dimension's own polarity.
    table["p_better"] = np.where(sign > 0, table.p_positive, 1.0 - table.p_positive)
    table.loc[table.comparison == "mean", "p_better"] = np.nan
    return EvalResult(scores, table[TABLE_COLUMNS], fit, diagnose_shift(fit.idata, fit.population))


def write_results(result: EvalResult, out: str | Path) -> dict[str, Path]:
    """Write the table, the scores and the posterior atomically; return their paths."""
    paths = artifact_paths(out)
    with atomic_path(paths["scores"]) as tmp:
        result.scores.to_parquet(tmp, index=False)
    save_posterior(result.fit.idata, paths["posterior"])
    with atomic_path(paths["table"]) as tmp:
        result.table.to_parquet(tmp, index=False)
    return paths


def read_results(out: str | Path) -> tuple[pd.DataFrame, az.InferenceData | None]:
    """The table and, when it is there, the posterior of an evaluation written by :func:`write_results`."""
    paths = artifact_paths(out)
    table = pd.read_parquet(paths["table"])
    idata = load_shift_posterior(paths["posterior"]) if paths["posterior"].exists() else None
    return table, idata


def load_shift_posterior(path: str | Path) -> az.InferenceData:
    """Read a shift-model posterior written by :func:`write_results` into memory (file closed).

    Not ``models.load_posterior``: that one accepts survey posteriors only (it needs their model metadata).
    """
    try:
        idata = az.from_netcdf(str(path), engine="h5netcdf")
    except Exception as exc:  # not NetCDF / corrupt
        raise InputError(f"Cannot read posterior {path}: {type(exc).__name__}: {exc}") from exc
    if "posterior" not in idata.groups() or "models" not in idata.posterior.attrs:
        raise InputError(f"{path} is not a shift-model posterior written by pluralstats evaluate")
    for group in idata.groups():
        getattr(idata, group).load()
    return idata


def shift_fit_from(idata: az.InferenceData) -> ShiftFit:
    """Rebuild a :class:`ShiftFit` from a saved posterior (for comparisons made later), in the reading it reported
    (both readings, ``beta``/``mu`` and ``beta_eval``/``mu_eval``, are stored)."""
    attrs = idata.posterior.attrs
    models = str(attrs["models"]).split(",")
    dims = [str(d) for d in idata.posterior.coords["dimension"].values]
    runs = dict(zip(models, map(int, str(attrs["n_runs"]).split(",")), strict=True)) if "n_runs" in attrs else {}
    if "beta_eval" not in idata.posterior:
        raise InputError("This shift posterior stores one reading only (no beta_eval); rerun pluralstats evaluate")
    return ShiftFit(idata, models, dims, str(attrs["control"]), str(attrs.get("population", "prompts")), runs)
