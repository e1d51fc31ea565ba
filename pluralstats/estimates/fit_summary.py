"""What ``fit-survey`` shows after a fit, as tables: the posterior summary of the effects and sds (a small
level's rows marked for suppression) and each disagreement scale tau with its interval."""

from __future__ import annotations

import numpy as np
import pandas as pd


def parameter_summary(idata, suppress_small: bool = True) -> pd.DataFrame:
    """Posterior mean, sd and central 95% interval of every attribute effect (``beta_*``, on the latent scale,
    reference levels 0 and left out) and sd (``sigma_*``); ``suppressed`` marks a level with fewer than k raters
    (its effect, and its own rater sd with a rater variance by that attribute), whose numbers are blanked."""
    from pluralstats.models import meta_of
    from pluralstats.models.contrasts import small_levels

    post = idata.posterior
    meta = meta_of(idata)
    small = [(attr, dim, lv) for (attr, dim), levels in small_levels(idata).items() for lv in levels]
    hidden = {(f"beta_{attr}", frozenset((dim, lv))) for attr, dim, lv in small}
    hidden |= {("sigma_rater", frozenset((dim, lv))) for attr, dim, lv in small if attr == meta.rater_variance_by}
    rows = []
    for name in (v for v in post.data_vars if v.startswith(("beta_", "sigma_"))):
        values = post[name].stack(sample=("chain", "draw")).transpose("sample", ...)
        flat = values.to_numpy().reshape(values.sizes["sample"], -1)
        coords = [dict(zip(values.dims[1:], np.unravel_index(i, values.shape[1:]), strict=True))
                  for i in range(flat.shape[1])]
        for j, at in enumerate(coords):
            x = flat[:, j]
            if not np.isfinite(x).all() or x.std() == 0:  # a reference level (fixed at 0)
                continue
            labels = [str(values[d].to_numpy()[k]) for d, k in at.items()]
            key = (name, frozenset(labels))
            row = {"parameter": f"{name}[{', '.join(labels)}]" if labels else name, "mean": x.mean(), "sd": x.std(),
                   "lo": np.quantile(x, 0.025), "hi": np.quantile(x, 0.975),
                   "suppressed": suppress_small and key in hidden}
            if row["suppressed"]:
                row.update(mean=np.nan, sd=np.nan, lo=np.nan, hi=np.nan)
            rows.append(row)
    return pd.DataFrame(rows, columns=["parameter", "mean", "sd", "lo", "hi", "suppressed"])


def tau_summary(idata) -> pd.DataFrame:
    """Per disagreement attribute and dimension: tau (the sd of the group x item terms, logits: how much the
    attribute's groups disagree about which responses are better, beyond their level shift), its posterior mean
    and central 95% interval."""
    from pluralstats.models import meta_of

    meta = meta_of(idata)
    rows = []
    for attr in meta.disagreement:
        tau = idata.posterior[f"tau_{attr}"]
        for dim in meta.dimensions:
            x = tau.sel(dimension=dim).to_numpy().ravel()
            rows.append({"attribute": attr, "dimension": dim, "mean": x.mean(), "lo": np.quantile(x, 0.025),
                         "hi": np.quantile(x, 0.975)})
    return pd.DataFrame(rows, columns=["attribute", "dimension", "mean", "lo", "hi"])
