"""POPQUORN offensiveness through the rating model (validation against an independent estimator).

Reads the real POPQUORN ratings through ``analyses/popquorn/survey.toml`` (a column mapping, the
CSV unedited), fits the one-dimension model, prints the race and gender contrasts, and sets the
posterior means beside an independent, non-Bayesian estimator:

    OLS of the rating on the attribute dummies with item fixed effects (within-item demeaning),
    standard errors clustered by rater (CR1). A dummy's coefficient is the adjusted difference in
    mean rating between a level and the reference, on the same rating scale as our contrast.

The two should agree in sign and roughly in size for well-populated groups; for tiny cells (one
"Arab American" rater) the hierarchical model shrinks toward 0 and the OLS estimate is mostly noise.

    python analyses/popquorn/analysis.py --out outputs/popquorn
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from pluralstats.models import all_contrasts, diagnose, fit_survey, load_posterior, save_posterior
from pluralstats.survey import Survey, load_survey

HERE = Path(__file__).resolve().parent


def ols_item_fe(survey: Survey, attributes: list[str]) -> pd.DataFrame:
    """Level-vs-reference differences in mean rating: OLS, item fixed effects, rater-clustered SEs."""
    frame = survey.ratings_with_attributes()
    cols, names = [], []
    for attr in attributes:
        ref = survey.config.attributes[attr]
        for level in survey.levels(attr):
            if level != ref:
                cols.append((frame[attr] == level).to_numpy(float))
                names.append((attr, level, ref))
    x = np.column_stack(cols)
    y = frame.rating.to_numpy(float)
    item = pd.factorize(frame.item_id)[0]
    counts = np.bincount(item)

    def demean(a: np.ndarray) -> np.ndarray:
        sums = np.zeros((counts.size,) + a.shape[1:])
        np.add.at(sums, item, a)
        return a - (sums / counts.reshape((-1,) + (1,) * (a.ndim - 1)))[item]

    xd, yd = demean(x), demean(y)
    xtx_inv = np.linalg.pinv(xd.T @ xd)
    coef = xtx_inv @ xd.T @ yd
    resid = yd - xd @ coef
    rater = pd.factorize(frame.participant_id)[0]
    scores = np.zeros((rater.max() + 1, x.shape[1]))
    np.add.at(scores, rater, xd * resid[:, None])
    g, n, k = scores.shape[0], len(y), x.shape[1] + counts.size
    adj = g / (g - 1) * (n - 1) / (n - k)
    se = np.sqrt(np.diag(xtx_inv @ (scores.T @ scores) @ xtx_inv) * adj)
    z = stats.t.ppf(0.975, g - 1)
    return pd.DataFrame([{"attribute": a, "level_a": lv, "level_b": ref, "ols_diff": c, "ols_lo": c - z * s,
                          "ols_hi": c + z * s} for (a, lv, ref), c, s in zip(names, coef, se, strict=True)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("outputs/popquorn"))
    ap.add_argument("--posterior", type=Path, default=None, help="Reuse a saved fit.")
    ap.add_argument("--draws", type=int, default=3000,
                    help="3000: POPQUORN's small groups mix slowly (min contrast ESS 165-280 at 1000 x 2 chains)")
    ap.add_argument("--tune", type=int, default=None, help="default: the backend's (fit_survey)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        survey = load_survey(HERE / "survey.toml", allow_outside_paths=True)  # its raw export lies outside this folder
    for w in caught:
        print("warning:", w.message)
    attributes = [a for a in ("gender", "race_ethnicity", "age_group", "education") if a in survey.attributes]
    print(f"POPQUORN: {len(survey.ratings)} ratings, {survey.ratings.participant_id.nunique()} raters, "
          f"{survey.ratings.item_id.nunique()} items; attributes {attributes}")
    if args.posterior:
        idata = load_posterior(args.posterior)
    else:
        start = time.perf_counter()
        idata = fit_survey(survey, attributes=attributes, draws=args.draws, tune=args.tune, seed=args.seed,
                           progress=False)
        tune = idata.posterior.attrs["tune"]
        print(f"fit (nutpie, {args.draws}+{tune} x 2 chains): {time.perf_counter() - start:.0f} s")
        save_posterior(idata, args.out / "posterior.nc")
    diag = diagnose(idata)
    print("diagnostics:", json.dumps(diag.summary()), "problems:", diag.problems or "none")
    bayes = all_contrasts(idata, attributes=attributes)
    ols = ols_item_fe(survey, attributes)
    table = bayes.merge(ols, on=["attribute", "level_a", "level_b"])
    sizes = {(a, lv): n for a in attributes for lv, n in survey.group_sizes(a).items()}
    table["n_raters_a"] = [sizes[(a, lv)] for a, lv in zip(table.attribute, table.level_a, strict=True)]
    table.to_csv(args.out / "contrasts_vs_ols.csv", index=False)
    cols = ["attribute", "level_a", "level_b", "n_raters_a", "diff", "diff_lo", "diff_hi", "rel_pct", "rel_lo",
            "rel_hi", "p_positive", "ols_diff", "ols_lo", "ols_hi"]
    with pd.option_context("display.width", 220, "display.max_columns", 30, "display.precision", 3):
        print("\nrace and gender contrasts (expected rating, level - reference; OLS = item-FE, rater-clustered):")
        print(table[table.attribute.isin(["gender", "race_ethnicity"])][cols].to_string(index=False))
        print("\nother attributes:")
        print(table[~table.attribute.isin(["gender", "race_ethnicity"])][cols].to_string(index=False))
    big = table[table.n_raters_a >= survey.config.min_group_size]
    r = np.corrcoef(big["diff"], big.ols_diff)[0, 1]
    print(f"\nagreement over {len(big)} contrasts with >= {survey.config.min_group_size} raters: "
          f"correlation {r:.3f}, mean |Bayes - OLS| {np.abs(big['diff'] - big.ols_diff).mean():.3f}, "
          f"sign agreement {(np.sign(big['diff']) == np.sign(big.ols_diff)).mean():.0%}, "
          f"Bayes interval width / OLS width {((big.diff_hi - big.diff_lo) / (big.ols_hi - big.ols_lo)).mean():.2f}")


if __name__ == "__main__":
    main()
