"""Convergence diagnostics and the gate that every reported number passes through.

The rule is fixed before sampling (docs/model-checking.md states it with its measured error rates):

* **Chains.** The verdict needs :data:`GATE_CHAINS` (4) chains, chosen before sampling; fewer give an
  "unchecked" posterior (a first look). R-hat is computed on exactly the chains of the first batch: no chain is
  ever added because R-hat failed (adding chains until R-hat falls is optional stopping, and dilutes a stuck
  chain). When every check but ESS passes, the fit may add a batch of draws; ESS is then computed over all
  draws, and the first batch's R-hat is kept.
* **Reported quantities** (level effects, sds, cut points, taus, every level-vs-reference contrast): rank-
  normalised split R-hat <= 1.01, bulk and tail ESS >= 400 each.
* **Families of exchangeable terms** (item effects and group x item terms, which item predictions, the
  posterior preference strategy and ``disagreements`` read): every term's bulk and tail ESS >= 400, and the
  bulk R-hat of each term below the 99th percentile of the largest among as many independent well-mixed terms
  (the family's free terms) at the same chains and draws with that term's within-chain autocorrelation
  (:mod:`pluralstats.models.gate_bounds`). The terms' spread is the family's sd (tau, sigma_item), gated with
  the reported quantities.
* **Sampler checks**: no divergent transition, E-BFMI >= 0.3 in every chain, at most 1% of draws at the
  maximum tree depth. ADVI draws say nothing about convergence: "unchecked".

:func:`pluralstats.models.fit_survey` records the verdict on the posterior with a digest of the draws it was
computed from (:func:`record_verdict`). Every consumer calls :func:`require_diagnostics`, which trusts a recorded
verdict only when the digest still matches the draws, and otherwise diagnoses the draws again: a subset of
chains, a thinning or an edited status is judged on what is there.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pluralstats.errors import DiagnosticsError

from . import mcmc
from .contrasts import reference_contrast_draws
from .data import meta_of
from .gate_bounds import family_bounds, rounded_tau
from .rating import interaction_families

GATE_CHAINS = 4
#: total draws the default spreads over the chains (Stan's and brms's 4 x 1000 halved: nutpie's draws mix well)
GATE_DRAWS = 2000
#: total draws with group x item terms: their scale tau mixes slowest of the model's quantities under every
#: sampler tried, and with 500 draws per chain a fixed R-hat cut of 1.01 fails such a well-mixed quantity often
#: by chance alone (analyses/gate_draws.md, docs/speed.md). Fixed by the model's structure before sampling,
#: never by its results.
INTERACTION_DRAWS = 4000
MAX_RHAT = 1.01
MIN_ESS = 400
MIN_BFMI = 0.3
MAX_TREEDEPTH_SHARE = 0.01
STATUS_ATTR = "diagnostics_status"  # "passed", "failed" or "unchecked", on idata.posterior.attrs
PROBLEMS_ATTR = "diagnostics_problems"
SUMMARY_ATTR = "diagnostics_summary"
WORST_ATTR = "diagnostics_worst"
FAMILIES_ATTR = "diagnostics_families"
RHAT_CHAINS_ATTR = "diagnostics_rhat_chains"  # chains of the first batch, on which R-hat was judged
DIGEST_ATTR = "diagnostics_digest"
PARAMETERS = ("cutpoints", "sigma_rater", "sigma_item", "rater_corr")
TABLE_COLUMNS = ["name", "kind", "family", "r_hat", "ess_bulk", "ess_tail"]


def gate_draws(chains: int, interactions: bool = False) -> int:
    """Draws per chain that keep the total near :data:`GATE_DRAWS`, or :data:`INTERACTION_DRAWS` for a model with
    group x item terms (``interactions``)."""
    return math.ceil((INTERACTION_DRAWS if interactions else GATE_DRAWS) / max(chains, 1))


@dataclass
class Diagnostics:
    """The convergence checks of one posterior: a row per checked quantity (family terms included), a row per
    family with its bounds, the sampler-level checks, a verdict.

    ``checked`` is False for posteriors whose draws cannot be checked under the rule (ADVI, fewer than
    :data:`GATE_CHAINS` chains); ``problems`` lists every failed check (for an unchecked posterior: why);
    ``failed`` names the kinds of check that failed ("r_hat", "ess", "divergences", "bfmi", "treedepth").
    """

    table: pd.DataFrame  # TABLE_COLUMNS
    divergences: int
    checked: bool = True
    problems: list[str] = field(default_factory=list)
    min_bfmi: float = float("nan")
    treedepth_share: float = 0.0
    families: pd.DataFrame = field(default_factory=pd.DataFrame)
    failed: set[str] = field(default_factory=set)
    rhat_chains: int = 0
    chains: int = 0
    draws: int = 0

    @property
    def ok(self) -> bool:
        """True only for a checked posterior that passed every check."""
        return self.checked and not self.problems

    @property
    def status(self) -> str:
        """``"passed"``, ``"failed"`` or ``"unchecked"``."""
        return "unchecked" if not self.checked else ("passed" if not self.problems else "failed")

    @property
    def only_ess_failed(self) -> bool:
        """Every check passed but ESS: more draws may be added (the rule allows nothing else)."""
        return self.checked and self.failed == {"ess"}

    def summary(self) -> dict[str, float | int | str]:
        """The worst value of each check (what fit-survey prints and the manifest records); ``max_r_hat`` is
        over the reported quantities, families are judged by their bounds (``families``)."""
        t = self.table
        scalar = t[t.family == ""]

        def worst(values: pd.Series, how: str) -> float:
            values = values.dropna()
            return float(getattr(values, how)()) if len(values) else float("nan")
        return {"max_r_hat": worst(scalar.r_hat, "max"), "min_ess_bulk": worst(t.ess_bulk, "min"),
                "min_ess_tail": worst(t.ess_tail, "min"), "divergences": self.divergences,
                "min_bfmi": self.min_bfmi, "treedepth_share": self.treedepth_share, "status": self.status,
                "chains": self.chains, "draws": self.draws, "rhat_chains": self.rhat_chains}


def _flatten(var) -> tuple[np.ndarray, list[str]]:
    """A posterior variable as ``(chain, draw, n)`` with a label per column."""
    other = [d for d in var.dims if d not in ("chain", "draw")]
    stacked = var.stack(q=other) if other else var.expand_dims(q=[0], axis=-1)
    labels = [",".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in stacked["q"].to_numpy()]
    return stacked.transpose("chain", "draw", "q").to_numpy(), labels


def _rows(name: str, kind: str, family: str, values: np.ndarray, labels: list[str], rhat_chains: int,
          r_hat: np.ndarray | None = None) -> pd.DataFrame:
    """One row per non-constant column of ``values`` ``(chain, draw, n)``: R-hat on the first ``rhat_chains``
    chains, ESS on all (reference levels are constant 0 and are left out)."""
    keep = np.ptp(values.reshape(-1, values.shape[2]), axis=0) > 0
    values = values[:, :, keep]
    labels = [lab for lab, k in zip(labels, keep, strict=True) if k]
    if not labels:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    if r_hat is None:
        r_hat = mcmc.rhat(values[:rhat_chains]) if rhat_chains >= 2 else np.full(len(labels), np.nan)
    else:
        r_hat = r_hat[keep]
    return pd.DataFrame({"name": [f"{name}[{lab}]" for lab in labels], "kind": kind, "family": family,
                         "r_hat": r_hat, "ess_bulk": mcmc.ess_bulk(values), "ess_tail": mcmc.ess_tail(values)})


def _family(name: str, values: np.ndarray, labels: list[str], n_free: int, rhat_chains: int) -> tuple[pd.DataFrame,
                                                                                                        dict]:
    """A family's term rows and its judgement: each term's bulk R-hat against the bound for the largest of
    ``n_free`` well-mixed terms with that term's own within-chain autocorrelation time
    (:func:`~pluralstats.models.gate_bounds.family_bounds`; terms of one family mix unequally, and the largest
    R-hat comes from the slowest ones). The judgement records the term closest to, or furthest past, its bound."""
    first = values[:rhat_chains]
    keep = np.ptp(values.reshape(-1, values.shape[2]), axis=0) > 0
    r_hat = np.full(values.shape[2], np.nan)
    judged = {"family": name, "terms": int(keep.sum()), "free_terms": n_free}
    if rhat_chains >= 2 and keep.any():
        bulk = mcmc.rhat_parts(first[:, :, keep])[0]  # bulk: see gate_bounds on the folded one
        r_hat[keep] = bulk
        taus = np.array([rounded_tau(t) for t in mcmc.within_chain_tau(first[:, :, keep])])
        bounds = {t: family_bounds(n_free, rhat_chains, first.shape[1], t)["max_r_hat"] for t in np.unique(taus)}
        bound = np.array([bounds[t] for t in taus])
        worst = int(np.argmax(bulk - bound))
        judged.update({"max_r_hat": float(bulk[worst]), "max_bound": float(bound[worst]),
                       "largest_r_hat": float(bulk.max()), "mean_r_hat": float(bulk.mean()),
                       "tau": float(taus[worst]), "median_tau": float(np.median(taus))})
    return _rows(name, "family term", name, values, labels, rhat_chains, r_hat=r_hat), judged


def _scalar_names(idata) -> list[str]:
    meta = meta_of(idata)
    post = idata.posterior
    pooled = [str(v) for v in post.data_vars if str(v).startswith("tau_level_")]  # spreads of pooled levels
    taus = [f"tau_{a}" for a in meta.disagreement]
    return [n for n in [f"beta_{a}" for a in meta.attributes] + list(PARAMETERS) + pooled + taus if n in post]


def diagnose(idata, *, contrasts: bool = True, rhat_chains: int | None = None) -> Diagnostics:
    """Judge ``idata`` by the gate's rule (module docstring). ``rhat_chains``: the first batch's chains, on
    which R-hat is judged (None: every chain)."""
    meta = meta_of(idata)
    post = idata.posterior
    n_chains, n_draws = post.sizes["chain"], post.sizes["draw"]
    first = n_chains if rhat_chains is None else int(min(max(rhat_chains, 1), n_chains))
    tables, families = [], []
    for name in _scalar_names(idata):
        tables.append(_rows(name, "parameter", "", *_flatten(post[name]), first))
    if contrasts:
        for pair in reference_contrast_draws(idata):
            diff = pair["diff"].transpose("chain", "draw", "dimension")
            attr, level, ref = (pair.attrs[k] for k in ("attribute", "level_a", "level_b"))
            labels = [f"{attr}: {level} - {ref}, {d}" for d in diff["dimension"].to_numpy()]
            tables.append(_rows("contrast", "contrast", "", diff.to_numpy(), labels, first))
    for name, zero_sum in interaction_families(meta).items():
        var = post[name]
        # free terms: a zero-sum axis of L terms has L - 1
        n_free = int(np.prod([n - 1 if d in zero_sum else n for d, n in var.sizes.items()
                              if d not in ("chain", "draw")]))
        rows, judged = _family(name, *_flatten(var), n_free, first)
        tables.append(rows)
        families.append(judged)
    table = pd.concat([t for t in tables if len(t)], ignore_index=True) if any(len(t) for t in tables) \
        else pd.DataFrame(columns=TABLE_COLUMNS)
    fams = pd.DataFrame(families)
    stats = idata.sample_stats if "sample_stats" in idata.groups() else None
    divergences = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
    shape = {"families": fams, "rhat_chains": first, "chains": n_chains, "draws": n_draws}
    if post.attrs.get("prior_only"):
        return Diagnostics(table, divergences, checked=False, **shape,
                           problems=["prior draws (prior-check), not a posterior"])
    if stats is None or meta.backend == "advi":
        return Diagnostics(table, divergences, checked=False, **shape,
                           problems=["approximate backend (ADVI): its draws say nothing about convergence"])
    if first < GATE_CHAINS:
        return Diagnostics(table, divergences, checked=False, **shape,
                           problems=[f"{first} chain{'s' if first != 1 else ''}: the gate's rule needs "
                                     f"{GATE_CHAINS} (--chains {GATE_CHAINS}); a first look only"])
    bfmi, share = _bfmi(stats), _treedepth_share(stats)
    problems, failed = _judge(table, fams, divergences, bfmi, share)
    return Diagnostics(table=table, divergences=divergences, checked=True, problems=problems, min_bfmi=bfmi,
                       treedepth_share=share, failed=failed, **shape)


def _judge(table: pd.DataFrame, fams: pd.DataFrame, divergences: int, bfmi: float,
           share: float) -> tuple[list[str], set[str]]:
    problems, failed = [], set()
    scalar = table[table.family == ""]
    bad_rhat = scalar[scalar.r_hat > MAX_RHAT]
    if len(bad_rhat):
        failed.add("r_hat")
        worst = bad_rhat.loc[bad_rhat.r_hat.idxmax()]
        problems.append(f"R-hat > {MAX_RHAT} for {len(bad_rhat)} quantities (max {worst.r_hat:.3f}, "
                        f"{worst['name']})")
    for fam in fams.itertuples():
        if not hasattr(fam, "max_bound") or not np.isfinite(getattr(fam, "max_bound", np.nan)):
            continue
        if fam.max_r_hat > fam.max_bound:
            failed.add("r_hat")
            problems.append(f"{fam.family}: a term's bulk R-hat {fam.max_r_hat:.4f} above {fam.max_bound:.4f}, the "
                            f"99th percentile of the largest among {fam.free_terms} well-mixed terms mixing as it "
                            f"does (tau {fam.tau:g})")
    bad_ess = table[(table.ess_bulk < MIN_ESS) | (table.ess_tail < MIN_ESS)]
    if len(bad_ess):
        failed.add("ess")
        worst = bad_ess.loc[np.minimum(bad_ess.ess_bulk, bad_ess.ess_tail).idxmin()]
        problems.append(f"bulk or tail ESS < {MIN_ESS:g} for {len(bad_ess)} quantities (min bulk "
                        f"{table.ess_bulk.min():.0f}, min tail {table.ess_tail.min():.0f}, e.g. {worst['name']}); "
                        "draw more")
    if divergences:
        failed.add("divergences")
        problems.append(f"{divergences} divergent transitions")
    if np.isfinite(bfmi) and bfmi < MIN_BFMI:
        failed.add("bfmi")
        problems.append(f"E-BFMI {bfmi:.2f} < {MIN_BFMI} in a chain (poor exploration of the energy distribution)")
    if share > MAX_TREEDEPTH_SHARE:
        failed.add("treedepth")
        problems.append(f"{share:.1%} of draws hit the maximum tree depth (more than {MAX_TREEDEPTH_SHARE:.0%})")
    return problems, failed


def _bfmi(stats) -> float:
    """The lowest per-chain E-BFMI (ArviZ's estimator; per chain and dimension for a fit sampled one dimension
    at a time), NaN when the sampler stored no energy."""
    import arviz as az

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


def draws_digest(idata) -> str:
    """SHA-256 of every posterior and sampler-statistics array (name, shape, bytes) and of the recorded verdict:
    what a recorded verdict is trusted against."""
    h = hashlib.sha256()
    for group in ("posterior", "sample_stats"):
        if group not in idata.groups():
            continue
        ds = getattr(idata, group)
        for name in sorted(map(str, ds.data_vars)):
            arr = np.ascontiguousarray(ds[name].transpose("chain", "draw", ...).to_numpy())
            h.update(f"{group}/{name}{arr.shape}{arr.dtype}".encode())
            h.update(arr.tobytes())
    attrs = idata.posterior.attrs
    for key in (STATUS_ATTR, PROBLEMS_ATTR, SUMMARY_ATTR, WORST_ATTR, FAMILIES_ATTR, RHAT_CHAINS_ATTR):
        h.update(f"{key}={attrs.get(key)!s}".encode())
    return h.hexdigest()


def record_verdict(idata, diag: Diagnostics) -> None:
    """Write the verdict onto the posterior, where every consumer (and a saved file) finds it: the status, the
    problems, the summary, the eight quantities with the lowest bulk ESS and the families' judgements (JSON),
    the first batch's chains, and a digest of the draws and all of these."""
    attrs = idata.posterior.attrs
    attrs[STATUS_ATTR] = diag.status
    attrs[PROBLEMS_ATTR] = "; ".join(diag.problems)
    attrs[SUMMARY_ATTR] = json.dumps(diag.summary())
    worst = diag.table.assign(low=np.minimum(diag.table.ess_bulk, diag.table.ess_tail)).sort_values("low")
    attrs[WORST_ATTR] = worst.head(8)[TABLE_COLUMNS].to_json(orient="records")
    attrs[FAMILIES_ATTR] = diag.families.to_json(orient="records")
    attrs[RHAT_CHAINS_ATTR] = int(diag.rhat_chains)
    attrs[DIGEST_ATTR] = draws_digest(idata)


def _trusted(idata) -> bool:
    attrs = idata.posterior.attrs
    return STATUS_ATTR in attrs and attrs.get(DIGEST_ATTR) == draws_digest(idata)


def _rediagnose(idata) -> None:
    """Judge the draws that are there (a recorded first batch is honoured when it is a plausible one)."""
    n_chains = idata.posterior.sizes["chain"]
    recorded = idata.posterior.attrs.get(RHAT_CHAINS_ATTR)
    try:
        first = int(recorded) if recorded is not None else n_chains
    except (TypeError, ValueError):
        first = n_chains
    first = first if GATE_CHAINS <= first <= n_chains else n_chains
    if "formula" in idata.posterior.attrs:  # a Bambi formula's posterior: its own terms are judged too
        from .formula_posterior import diagnose_formula

        record_verdict(idata, diagnose_formula(idata, rhat_chains=first))
        return
    record_verdict(idata, diagnose(idata, rhat_chains=first))


def recorded_diagnostics(idata) -> tuple[dict, pd.DataFrame]:
    """The summary and worst quantities of the posterior's verdict (diagnosed again unless the recorded one
    matches the draws)."""
    verdict_of(idata)
    attrs = idata.posterior.attrs
    worst = pd.DataFrame(json.loads(attrs[WORST_ATTR]), columns=TABLE_COLUMNS)
    return json.loads(attrs[SUMMARY_ATTR]), worst


def recorded_families(idata) -> pd.DataFrame:
    """The families' judgements of the posterior's verdict (empty for the additive model)."""
    verdict_of(idata)
    return pd.DataFrame(json.loads(idata.posterior.attrs.get(FAMILIES_ATTR) or "[]"))


def verdict_of(idata) -> tuple[str, str]:
    """``(status, problems)`` of the posterior: the recorded verdict when its digest matches the draws, else the
    draws diagnosed now (and recorded on the in-memory posterior)."""
    if not _trusted(idata):
        _rediagnose(idata)
    attrs = idata.posterior.attrs
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
        raise DiagnosticsError(note + f" (refit with {GATE_CHAINS} chains and more --draws or --tune; or pass "
                               "--allow-bad-diagnostics to use it anyway, and say so wherever its numbers go)")
    return note + " (used under --allow-bad-diagnostics)"


def check_diagnostics(diag: Diagnostics) -> None:
    """Raise :class:`DiagnosticsError` listing every failed check."""
    if not diag.ok:
        raise DiagnosticsError("; ".join(diag.problems) + " (rerun with more --draws/--tune, or pass "
                               "--allow-bad-diagnostics to keep the output anyway)")
