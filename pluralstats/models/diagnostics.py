"""Convergence diagnostics: R-hat, bulk/tail ESS and divergences, on parameters and on contrasts.

The contrasts are what users report, so their ESS is checked directly (a contrast mixes several
parameters and can mix worse or better than each). Thresholds follow DESIGN.md: R-hat <= 1.01,
bulk ESS >= 400, no divergences. ADVI draws are independent by construction and say nothing about
convergence; they are reported as "not checked".
"""

from __future__ import annotations

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
PARAMETERS = ("cutpoints", "sigma_rater", "sigma_item", "rater_corr")


@dataclass
class Diagnostics:
    table: pd.DataFrame  # one row per quantity: name, kind, r_hat, ess_bulk, ess_tail
    divergences: int
    checked: bool = True
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict[str, float]:
        t = self.table
        return {"max_r_hat": float(t.r_hat.max()), "min_ess_bulk": float(t.ess_bulk.min()),
                "min_ess_tail": float(t.ess_tail.min()), "divergences": self.divergences}


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
    names = [f"beta_{a}" for a in meta.attributes] + [p for p in PARAMETERS if p in post] + interaction_gated(meta)
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
    checked = stats is not None and meta.backend != "advi"
    divergences = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
    problems = []
    if checked:
        n_chains = post.sizes["chain"]
        bad_rhat = table[table.r_hat > max_rhat]
        bad_ess = table[(table.ess_bulk < min_ess) | (table.ess_tail < min_ess)]
        if n_chains > 1 and len(bad_rhat):
            problems.append(f"R-hat > {max_rhat} for {len(bad_rhat)} quantities (max {table.r_hat.max():.3f}, "
                            f"e.g. {bad_rhat.name.iloc[0]})")
        if len(bad_ess):
            worst = bad_ess.loc[bad_ess.ess_bulk.idxmin()]
            problems.append(f"bulk or tail ESS < {min_ess:g} for {len(bad_ess)} quantities (min bulk "
                            f"{table.ess_bulk.min():.0f}, e.g. {worst['name']}); draw more")
        if divergences:
            problems.append(f"{divergences} divergent transitions")
    return Diagnostics(table=table, divergences=divergences, checked=checked, problems=problems)


def check_diagnostics(diag: Diagnostics) -> None:
    """Raise :class:`DiagnosticsError` listing every failed check."""
    if not diag.ok:
        raise DiagnosticsError("; ".join(diag.problems) + " (rerun with more --draws/--tune, or pass "
                               "--allow-bad-diagnostics to keep the output anyway)")
