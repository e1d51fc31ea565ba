"""Prior sensitivity of the paper-scale simulation: tau and the largest contrasts under three sets of priors.

The paper-scale simulated survey (1,095 participants, the planted effects of ``PAPER_EFFECTS``, group x item
terms planted with sd ``--tau`` on political) is fitted three times with the same sampler settings: under the
default priors (attribute effects Normal(0, 2.5), tau HalfNormal(0.5)), a wider set (Normal(0, 5),
HalfNormal(1.0)) and a narrower one (Normal(0, 1), HalfNormal(0.25)). The table gives, per prior set and
dimension, tau's posterior mean and 95% interval and the ``--top`` largest contrasts (by the default fit's
absolute difference of expected ratings) with theirs, plus each fit's worst R-hat and bulk ESS: a number
that moves by more than its interval's half-width between prior sets is one the data do not pin down.

Each fit is ``fit-survey --disagreement political``'s (4 chains x 1,000 draws, dimensions sampled apart).
The committed table and its command are in ``analyses/prior_sensitivity.md``:

    python analyses/prior_sensitivity.py --out outputs/prior_sensitivity
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

#: (label, attribute effects' prior sd, tau's HalfNormal sd)
PRIOR_SETS = (("default", 2.5, 0.5), ("wide", 5.0, 1.0), ("narrow", 1.0, 0.25))
DISAGREEMENT = "political"


def fit_under(survey, beta_sd: float, tau_sd: float, draws: int | None, seed: int):
    """The paper-scale model under one prior set, as ``fit-survey --disagreement political`` fits it (the gate's
    4 chains, its draws unless ``draws``; the table reports each fit's R-hat and ESS)."""
    from pluralstats.models.fit import fit_survey
    from pluralstats.models.priors import Priors

    return fit_survey(survey, disagreement=[DISAGREEMENT], draws=draws, seed=seed, progress=False,
                      beta_prior_sd=beta_sd, priors=Priors(tau_sd=tau_sd))


def summarise(idata, label: str, contrasts: pd.DataFrame | None, top: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tau rows, contrast rows) of one fit; ``contrasts``: the default fit's top rows to report (None: pick)."""
    import arviz as az

    from pluralstats.models.contrasts import all_contrasts

    summary = az.summary(idata, kind="diagnostics")
    worst = {"max_r_hat": float(summary.r_hat.max()), "min_ess_bulk": float(summary.ess_bulk.min())}
    tau = idata.posterior[f"tau_{DISAGREEMENT}"]
    rows = []
    for dim in tau["dimension"].to_numpy():
        draws = tau.sel(dimension=dim).to_numpy().ravel()
        lo, hi = np.quantile(draws, [0.025, 0.975])
        rows.append({"priors": label, "quantity": f"tau_{DISAGREEMENT}", "dimension": dim, "estimate": draws.mean(),
                     "lo": lo, "hi": hi, **worst})
    table = all_contrasts(idata)
    if contrasts is None:
        table = table.reindex(table["diff"].abs().sort_values(ascending=False).index).head(top)
    else:
        table = table.merge(contrasts[["dimension", "attribute", "level_a", "level_b"]])
    named = table.assign(priors=label, quantity="contrast " + table.attribute + ": " + table.level_a + " - "
                         + table.level_b, estimate=table["diff"], lo=table.diff_lo, hi=table.diff_hi, **worst)
    return pd.DataFrame(rows), named


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--draws", type=int, default=None, help="Draws per chain (default: the gate's rule).")
    parser.add_argument("--tau", type=float, default=0.5, help="Planted sd of the group x item terms.")
    parser.add_argument("--top", type=int, default=6, help="Largest contrasts to follow across prior sets.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--participants", type=int, default=None,
                        help="Simulated participants (default: the paper-scale 1,095; fewer for a smoke test).")
    args = parser.parse_args(argv)

    from pluralstats.survey.simulate import SimulationConfig, simulate_survey

    # group x item terms planted on the fitted attribute only, so that the model fitted is the one simulated
    planted = {"disagreement_by": {DISAGREEMENT: args.tau}}
    config = SimulationConfig(**planted, **({"n_participants": args.participants} if args.participants else {}))
    survey = simulate_survey(config, seed=args.seed).survey
    taus, contrasts, chosen = [], [], None
    for label, beta_sd, tau_sd in PRIOR_SETS:
        start = time.perf_counter()
        idata = fit_under(survey, beta_sd, tau_sd, args.draws, args.seed)
        tau_rows, contrast_rows = summarise(idata, label, chosen, args.top)
        chosen = contrast_rows if chosen is None else chosen
        taus.append(tau_rows)
        contrasts.append(contrast_rows)
        print(f"{label}: fitted in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    columns = ["priors", "quantity", "dimension", "estimate", "lo", "hi", "max_r_hat", "min_ess_bulk"]
    table = pd.concat(taus + contrasts, ignore_index=True)[columns]
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "prior_sensitivity.csv", index=False)
    wide = table.pivot_table(index=["quantity", "dimension"], columns="priors", values="estimate")
    print(wide.round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
