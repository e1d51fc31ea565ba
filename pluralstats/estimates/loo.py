"""Predictive accuracy for new raters: PSIS-LOO and model comparison by raters, and what ``loo`` reports.

The unit left out is the *rater*, not the rating: the question a survey model answers is how the ratings of
a new person of a given group will look, and a rating is not exchangeable with the other ratings of its
rater. The pointwise log-likelihood of a rater is therefore the *marginal* one, with the rater's own effect
integrated out (:mod:`.rater_likelihood`). It is stored as ArviZ's ``log_likelihood`` group, variable ``ratings``
(dimension ``rater``), so ``az.loo``, ``az.waic`` and ``az.compare`` work directly.

Where PSIS is unreliable (Pareto k > 0.7 for some raters, common when a rater gives many ratings),
:func:`~.kfold.kfold_raters` refits the model K times, each time without a fold of raters, and scores the held-out
raters with the same marginal likelihood: the exact, slower answer to the same question (:mod:`.kfold`).
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from pluralstats.errors import InputError

from .kfold import kfold_compare
from .rater_likelihood import LL_VAR, rater_log_likelihood


def add_log_likelihood(idata, **kwargs) -> az.InferenceData:
    """Attach the per-rater log-likelihood as the ``log_likelihood`` group (in place; also returned)."""
    ll = rater_log_likelihood(idata, **kwargs)
    if "log_likelihood" in idata.groups():
        del idata["log_likelihood"]
    idata.add_groups({"log_likelihood": xr.Dataset({LL_VAR: ll})})
    return idata


def loo_summary(idata) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PSIS leave-one-rater-out of one posterior: (estimates, Pareto k table).

    ``estimates``: rows ``elpd_loo``, ``p_loo`` and ``looic`` with their ``estimate`` and ``se`` (ArviZ's
    ``az.loo`` on the per-rater log-likelihood, attached first when missing; the se of ``p_loo``, which ArviZ
    leaves out, from its per-rater terms ``lppd_r - elpd_loo_r`` as ArviZ computes the others).
    ``pareto_k``: ArviZ's bands -- good (k at most ArviZ's sample-size threshold, 0.7 for 2,000 draws or
    more), bad (up to 1), very bad (above 1) -- with the ``raters`` in each, their ``share`` (0..1) and the
    band's largest k. Bad or very bad raters make PSIS unreliable: use :func:`~.kfold.kfold_raters`.
    """
    if "log_likelihood" not in idata.groups():
        add_log_likelihood(idata)
    result = az.loo(idata, pointwise=True)
    k = np.asarray(result.pareto_k)
    ll = idata.log_likelihood[LL_VAR].stack(sample=("chain", "draw")).transpose("rater", "sample").to_numpy()
    lppd = logsumexp(ll, axis=1) - np.log(ll.shape[1])
    p_i = lppd - np.asarray(result.loo_i)
    se_p = float(np.sqrt(len(p_i) * np.var(p_i)))
    estimates = pd.DataFrame({"estimate": [float(result.elpd_loo), float(result.p_loo), -2 * float(result.elpd_loo)],
                              "se": [float(result.se), se_p, 2 * float(result.se)]},
                             index=pd.Index(["elpd_loo", "p_loo", "looic"], name="quantity"))
    good = float(result.good_k)
    rows = []
    for lower, upper, label in ((-np.inf, good, f"good (k <= {good:.2f})"), (good, 1.0, f"bad ({good:.2f} < k <= 1)"),
                                (1.0, np.inf, "very bad (k > 1)")):
        inside = (k > lower) & (k <= upper)
        rows.append({"pareto_k": label, "raters": int(inside.sum()), "share": float(inside.mean()),
                     "max_k": float(k[inside].max()) if inside.any() else np.nan})
    return estimates, pd.DataFrame(rows)


def add_check_groups(idata, *, ppc_draws: int = 200, seed: int = 0) -> az.InferenceData:
    """Attach what ArviZ's checks read (in place; also returned): ``log_likelihood`` (per rater, for
    ``az.loo`` / ``az.compare``), and ``posterior_predictive`` with ``observed_data`` (``ppc_draws``
    replicated surveys, for ``az.plot_ppc``). Raters are the posterior's pseudonyms only."""
    from .ppc import add_posterior_predictive

    add_log_likelihood(idata)
    return add_posterior_predictive(idata, n_draws=ppc_draws, seed=seed)


def data_fingerprint(idata) -> str:
    """What a model was fitted to (ratings, raters, items), so that only models of the same data are compared."""
    import hashlib

    cd = idata.constant_data
    digest = hashlib.sha256()
    for name in ("obs_dimension", "obs_rater", "obs_item", "obs_rating"):
        digest.update(np.ascontiguousarray(cd[name].to_numpy()).tobytes())
    digest.update("\x00".join(map(str, cd["rater"].to_numpy())).encode())
    digest.update("\x00".join(map(str, cd["item"].to_numpy())).encode())
    return digest.hexdigest()


def compare_models(posteriors: dict[str, az.InferenceData], *, ic: str = "loo") -> tuple[pd.DataFrame, list[str]]:
    """``az.compare`` on posteriors of the same data, with their per-rater log-likelihood.

    Returns the table (best model first; ``elpd_loo``, ``p_loo``, ``elpd_diff``, ``dse``, ``weight``...) and a
    warning per model whose PSIS is unreliable (Pareto k > 0.7 for some raters: use :func:`~.kfold.kfold_raters`).
    """
    if len(posteriors) < 2:
        raise InputError("Give two or more posteriors to compare")
    prints = {name: data_fingerprint(idata) for name, idata in posteriors.items()}
    first = next(iter(prints.values()))
    differ = [name for name, fp in prints.items() if fp != first]
    if differ:
        raise InputError(f"{', '.join(differ)} {'was' if len(differ) == 1 else 'were'} fitted to other ratings "
                         f"than {next(iter(prints))}: LOO compares models of the same data only (same bundle, "
                         "dimensions and raters)")
    for idata in posteriors.values():
        if "log_likelihood" not in idata.groups():
            add_log_likelihood(idata)
    warnings_out = []
    for name, idata in posteriors.items():
        k = np.asarray(az.loo(idata, pointwise=True).pareto_k)
        bad = int((k > 0.7).sum())
        if bad:
            warnings_out.append(f"{name}: Pareto k > 0.7 for {bad} of {k.size} raters (max {k.max():.2f}); PSIS-LOO "
                                "is unreliable there: use K-fold by raters (--kfold 10)")
    table = az.compare(posteriors, ic=ic)
    return table, warnings_out


@dataclass(frozen=True)
class LooReport:
    """What ``loo`` reports: one posterior's PSIS estimates and Pareto k bands, or several models' comparison."""

    estimates: pd.DataFrame | None = None  # elpd_loo, p_loo, looic with se (one posterior)
    bands: pd.DataFrame | None = None  # raters per Pareto k band (one posterior)
    comparison: pd.DataFrame | None = None  # az.compare's table, or K-fold's (several models, or --kfold)
    warnings: tuple[str, ...] = ()

    def table(self) -> pd.DataFrame:
        """The table ``loo --out`` writes: the comparison, or the estimates followed by the k bands."""
        if self.comparison is not None:
            return self.comparison.rename_axis("model").reset_index()
        return pd.concat([self.estimates.reset_index().rename(columns={"quantity": "row"}),
                          self.bands.rename(columns={"pareto_k": "row"})], ignore_index=True)


def loo_report(posteriors: dict[str, az.InferenceData], *, kfold: int | None = None, survey=None, seed: int = 0,
               progress=None) -> LooReport:
    """Leave-one-rater-out for one posterior (PSIS), a comparison of several (PSIS), or with ``kfold`` K-fold by
    raters, which refits every model on ``survey`` (``progress(name, fold, k)`` called per fold)."""
    if kfold is not None:
        if survey is None:
            raise InputError("--kfold refits the models: give the survey with --bundle")
        return LooReport(comparison=kfold_compare(posteriors, survey, k=kfold, seed=seed, progress=progress))
    if len(posteriors) == 1:
        estimates, bands = loo_summary(next(iter(posteriors.values())))
        return LooReport(estimates=estimates, bands=bands)
    table, warnings = compare_models(posteriors)
    return LooReport(comparison=table, warnings=tuple(warnings))
