"""Convergence diagnostics and the gate that every reported number passes through.

Checked on the parameters and on every level-vs-reference contrast (the contrasts are what users report,
and a contrast mixes several parameters, so it can mix worse or better than each): R-hat <= 1.01 (needs
two or more chains), bulk and tail ESS >= 400, no divergent transitions, E-BFMI >= 0.3 in every chain
(lower means the sampler explores the energy distribution poorly: heavy tails, funnels) and at most 1% of
draws at the maximum tree depth (the sampler was cut short, so the effective step count is not what NUTS
chose). ADVI draws are independent by construction and say nothing about convergence, and one chain has no
R-hat: such posteriors are "unchecked".

:func:`pluralstats.models.fit_survey` records the verdict on the posterior (:func:`record_verdict`), and
every consumer calls :func:`require_diagnostics` before reporting anything, so the gate holds for
posteriors made from Python, the CLI or the experiment runner alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd

from pluralstats.errors import DiagnosticsError

from .contrasts import reference_contrast_draws
from .data import meta_of
from .rating import interaction_gated

MAX_RHAT = 1.01
MIN_ESS = 400
MIN_BFMI = 0.3
MAX_TREEDEPTH_SHARE = 0.01
STATUS_ATTR = "diagnostics_status"  # "passed", "failed" or "unchecked", on idata.posterior.attrs
PROBLEMS_ATTR = "diagnostics_problems"
PARAMETERS = ("cutpoints", "sigma_rater", "sigma_item", "rater_corr")


@dataclass
class Diagnostics:
    """The convergence checks of one posterior: a row per checked quantity, sampler-level checks, a verdict.

    ``checked`` is False for posteriors whose draws cannot be checked (ADVI, one chain); ``problems`` lists
    every failed check (for an unchecked posterior: why it is unchecked).
    """

    table: pd.DataFrame  # one row per quantity: name, kind, r_hat, ess_bulk, ess_tail
    divergences: int
    checked: bool = True
    problems: list[str] = field(default_factory=list)
    min_bfmi: float = float("nan")
    treedepth_share: float = 0.0

    @property
    def ok(self) -> bool:
        """True only for a checked posterior that passed every check."""
        return self.checked and not self.problems

    @property
    def status(self) -> str:
        """``"passed"``, ``"failed"`` or ``"unchecked"``."""
        return "unchecked" if not self.checked else ("passed" if not self.problems else "failed")

    def summary(self) -> dict[str, float]:
        """The worst value of each check (what fit-survey prints and the manifest records)."""
        t = self.table
        return {"max_r_hat": float(t.r_hat.max()), "min_ess_bulk": float(t.ess_bulk.min()),
                "min_ess_tail": float(t.ess_tail.min()), "divergences": self.divergences,
                "min_bfmi": self.min_bfmi, "treedepth_share": self.treedepth_share, "status": self.status}


def _rows(name: str, kind: str, values: np.ndarray, labels: list[str]) -> list[dict]:
    """values: (chain, draw, n) -> one diagnostics row per column."""
    rows = []
    for j, label in enumerate(labels):
        x = values[:, :, j]
        if np.ptp(x) == 0:  # reference levels are constant 0
            continue
        rows.append({"name": f"{name}[{label}]", "kind": kind, "r_hat": float(az.rhat(x)),
                     "ess_bulk": float(az.ess(x, method="bulk")), "ess_tail": float(az.ess(x, method="tail"))})
    return rows


def _flatten(var) -> tuple[np.ndarray, list[str]]:
    other = [d for d in var.dims if d not in ("chain", "draw")]
    stacked = var.stack(q=other) if other else var.expand_dims(q=[0], axis=-1)
    labels = [",".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in stacked["q"].to_numpy()]
    return stacked.transpose("chain", "draw", "q").to_numpy(), labels


def diagnose(idata, *, contrasts: bool = True, max_rhat: float = MAX_RHAT, min_ess: float = MIN_ESS) -> Diagnostics:
    """Diagnostics of the model parameters and (by default) of every level-vs-reference contrast."""
    meta = meta_of(idata)
    post = idata.posterior
    pooled = [v for v in post.data_vars if str(v).startswith("tau_level_")]  # spreads of pooled levels
    names = [f"beta_{a}" for a in meta.attributes] + [p for p in PARAMETERS if p in post] + pooled \
        + interaction_gated(meta)
    rows = []
    for name in names:
        rows += _rows(name, "parameter", *_flatten(post[name]))
    if contrasts:
        for pair in reference_contrast_draws(idata):
            diff = pair["diff"].transpose("chain", "draw", "dimension")
            attr, level, ref = (pair.attrs[k] for k in ("attribute", "level_a", "level_b"))
            labels = [f"{attr}: {level} - {ref}, {d}" for d in diff["dimension"].to_numpy()]
            rows += _rows("contrast", "contrast", diff.to_numpy(), labels)
    table = pd.DataFrame(rows, columns=["name", "kind", "r_hat", "ess_bulk", "ess_tail"])
    stats = idata.sample_stats if "sample_stats" in idata.groups() else None
    n_chains = post.sizes["chain"]
    divergences = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
    if stats is None or meta.backend == "advi":
        return Diagnostics(table, divergences, checked=False,
                           problems=["approximate backend (ADVI): its draws say nothing about convergence"])
    if n_chains < 2:
        return Diagnostics(table, divergences, checked=False,
                           problems=["one chain: R-hat needs two or more (--chains 2)"])
    bfmi = _bfmi(stats)
    share = _treedepth_share(stats)
    problems = []
    bad_rhat = table[table.r_hat > max_rhat]
    bad_ess = table[(table.ess_bulk < min_ess) | (table.ess_tail < min_ess)]
    if len(bad_rhat):
        problems.append(f"R-hat > {max_rhat} for {len(bad_rhat)} quantities (max {table.r_hat.max():.3f}, "
                        f"e.g. {bad_rhat.name.iloc[0]})")
    if len(bad_ess):
        worst = bad_ess.loc[bad_ess.ess_bulk.idxmin()]
        problems.append(f"bulk or tail ESS < {min_ess:g} for {len(bad_ess)} quantities (min bulk "
                        f"{table.ess_bulk.min():.0f}, min tail {table.ess_tail.min():.0f}, e.g. {worst['name']}); "
                        "draw more")
    if divergences:
        problems.append(f"{divergences} divergent transitions")
    if np.isfinite(bfmi) and bfmi < MIN_BFMI:
        problems.append(f"E-BFMI {bfmi:.2f} < {MIN_BFMI} in a chain (poor exploration of the energy distribution)")
    if share > MAX_TREEDEPTH_SHARE:
        problems.append(f"{share:.1%} of draws hit the maximum tree depth (more than {MAX_TREEDEPTH_SHARE:.0%})")
    return Diagnostics(table=table, divergences=divergences, checked=True, problems=problems, min_bfmi=bfmi,
                       treedepth_share=share)


def _bfmi(stats) -> float:
    """The lowest per-chain E-BFMI (ArviZ's estimator; per chain and dimension for a fit sampled one dimension
    at a time), NaN when the sampler stored no energy."""
    if "energy" not in stats:
        return float("nan")
    energy = stats["energy"].transpose(..., "chain", "draw").to_numpy()  # a split fit adds a dimension axis
    return float(np.min(az.bfmi(energy.reshape(-1, energy.shape[-1]))))


def _treedepth_share(stats) -> float:
    """Share of draws at the maximum tree depth (nutpie: ``maxdepth_reached``; PyMC: ``reached_max_treedepth``)."""
    for name in ("maxdepth_reached", "reached_max_treedepth"):
        if name in stats:
            return float(np.asarray(stats[name], dtype=float).mean())
    return 0.0


def record_verdict(idata, diag: Diagnostics) -> None:
    """Write the verdict onto the posterior, where every consumer (and a saved file) finds it.

    Beside the status and problems: the summary and the eight quantities with the lowest bulk ESS (JSON),
    so a report can show them without recomputing the diagnostics.
    """
    attrs = idata.posterior.attrs
    attrs[STATUS_ATTR] = diag.status
    attrs[PROBLEMS_ATTR] = "; ".join(diag.problems)
    attrs["diagnostics_summary"] = json.dumps(diag.summary())
    attrs["diagnostics_worst"] = diag.table.sort_values("ess_bulk").head(8).to_json(orient="records")


def recorded_diagnostics(idata) -> tuple[dict, pd.DataFrame]:
    """The summary and worst quantities stored by :func:`record_verdict` (diagnosing now if none were)."""
    verdict_of(idata)
    attrs = idata.posterior.attrs
    if "diagnostics_summary" not in attrs:
        record_verdict(idata, diagnose(idata))
    worst = pd.DataFrame(json.loads(attrs["diagnostics_worst"]), columns=["name", "kind", "r_hat", "ess_bulk",
                                                                          "ess_tail"])
    return json.loads(attrs["diagnostics_summary"]), worst


def verdict_of(idata) -> tuple[str, str]:
    """``(status, problems)`` recorded on a posterior; one with no verdict is diagnosed now and recorded."""
    attrs = idata.posterior.attrs
    if STATUS_ATTR not in attrs:
        record_verdict(idata, diagnose(idata))
    return str(attrs[STATUS_ATTR]), str(attrs.get(PROBLEMS_ATTR, ""))


def require_diagnostics(idata, *, allow_bad: bool = False) -> str | None:
    """The gate: raise :class:`DiagnosticsError` unless the posterior passed its checks.

    With ``allow_bad`` nothing is raised and the returned note (None for a passed posterior) says what the
    caller must print beside, and record with, whatever it reports.
    """
    status, problems = verdict_of(idata)
    if status == "passed":
        return None
    note = f"the posterior {'failed its diagnostics' if status == 'failed' else 'is unchecked'}: {problems}"
    if not allow_bad:
        raise DiagnosticsError(note + " (refit with more --draws/--tune or --chains 2; or pass "
                               "--allow-bad-diagnostics to use it anyway, and say so wherever its numbers go)")
    return note + " (used under --allow-bad-diagnostics)"


def check_diagnostics(diag: Diagnostics) -> None:
    """Raise :class:`DiagnosticsError` listing every failed check."""
    if not diag.ok:
        raise DiagnosticsError("; ".join(diag.problems) + " (rerun with more --draws/--tune, or pass "
                               "--allow-bad-diagnostics to keep the output anyway)")
