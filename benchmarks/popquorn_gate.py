"""Does fit-survey's default fit of the real POPQUORN survey pass its own diagnostics gate?

Calls ``fit_survey`` with the options ``pluralstats fit-survey analyses/popquorn/survey.toml
--allow-outside-paths --attributes ATTRS --seed SEED`` passes (``max_chains`` 8, tuning chosen from the data),
plus any ``key=value`` overrides, and prints one JSON line: wall time, the gate's summary, the worst
quantities, leapfrog steps per draw, chains, the choices made from the data and, with ``disagreement=``,
each group x item sd (tau) with its 95% interval per dimension.

    python benchmarks/popquorn_gate.py gender,race_ethnicity 0
    python benchmarks/popquorn_gate.py gender,race_ethnicity 0 tune=1000 centered_raters=True max_chains=2
    python benchmarks/popquorn_gate.py gender,race_ethnicity 0 disagreement=gender,race_ethnicity
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from pluralstats.models.diagnostics import diagnose
from pluralstats.models.fit import MAX_CHAINS, fit_survey
from pluralstats.survey import load_survey

POPQUORN = Path(__file__).resolve().parents[1] / "analyses" / "popquorn" / "survey.toml"


def _value(key: str, text: str):
    if key == "disagreement":
        return text.split(",")
    if text in ("True", "False"):
        return text == "True"
    return int(text) if text.isdigit() else text


def main() -> None:
    attributes, seed = sys.argv[1].split(","), int(sys.argv[2])
    options = {"max_chains": MAX_CHAINS}
    options.update({k: _value(k, v) for k, v in (a.split("=", 1) for a in sys.argv[3:])})
    survey = load_survey(POPQUORN, allow_outside_paths=True)
    start = time.perf_counter()
    idata = fit_survey(survey, attributes=attributes, seed=seed, progress=False, **options)
    wall = time.perf_counter() - start
    diag = diagnose(idata)
    table, attrs = diag.table, idata.posterior.attrs
    print(json.dumps({
        "attrs": attributes, "seed": seed, "kw": options, "wall": round(wall, 1), **diag.summary(),
        "worst": table.sort_values("ess_bulk").head(4)[["name", "r_hat", "ess_bulk", "ess_tail"]].to_dict("records"),
        "worst_rhat": table.sort_values("r_hat").tail(2)[["name", "r_hat"]].to_dict("records"),
        "steps": float(idata.sample_stats.n_steps.mean()), "chains": int(idata.posterior.sizes["chain"]),
        "auto": attrs.get("auto_choices"), "compile": attrs.get("compile_seconds"),
        "split_dimensions": attrs.get("split_dimensions"), "tau": _taus(idata)}, default=str))


def _taus(idata) -> dict:
    """Each group x item sd (``tau_<attribute>``): posterior mean and 95% interval per dimension."""
    out = {}
    for name in idata.posterior.data_vars:
        if str(name).startswith("tau_") and not str(name).startswith("tau_level_"):
            draws = idata.posterior[name]
            lo, hi = draws.quantile([0.025, 0.975], dim=("chain", "draw")).to_numpy()
            out[str(name)] = {str(d): [round(float(m), 3), round(float(a), 3), round(float(b), 3)]
                              for d, m, a, b in zip(draws["dimension"].to_numpy(),
                                                    draws.mean(("chain", "draw")).to_numpy(), lo, hi, strict=True)}
    return out


if __name__ == "__main__":
    main()
