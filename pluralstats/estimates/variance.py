"""Variance components of the rating model: the sds of its random effects and the share of the latent scale
each takes.

Per dimension the model's latent rating of rater ``r`` on item ``i`` is ``fixed + u_r + v_i (+ w_a[i, level_a(r)])
+ e``: rater effects ``u ~ N(0, sigma_rater)`` (one sd per level of an attribute when fitted with
``rater_variance_by``), item effects ``v ~ N(0, sigma_item)``, the group x item disagreement terms ``w_a`` with
scale ``tau_a`` (fits with ``disagreement``) and the latent error ``e`` of the family (logistic: variance
pi^2/3; probit: 1). A component's share is its *realised* variance (the spread it adds to a rating of a random
rater on a random item) over the sum of all of them (the latent variance beyond the attribute effects),
computed per posterior draw, so a share's interval carries every component's uncertainty. The rater, item and
error variances are their scale parameters squared. The disagreement terms of an attribute with L levels sum
to zero over its levels, so a rater's term varies by ``tau^2 (1 - 1/L)``, not ``tau^2``: half of ``tau^2`` for a
two-level attribute. (The zero sums over raters and items shrink those spreads by ``1 - 1/n`` too, negligible
for hundreds of raters or items, and ignored.)

What each sd is on lme4's scale, for the model ``rating ~ attributes + (1 | rater) + (1 | item) +
(1 | item:a)`` (``a`` each disagreement attribute; the column ``sd_lme4``): ``sigma_rater`` and the latent error
are the same; ``tau_a`` is lme4's ``(1 | item:a)`` sd, whose levels lme4 leaves free where this model makes them
sum to zero per item; their mean over the levels, of variance ``tau_a^2 / L``, moves into the item effect, so
``sigma_item`` is ``sqrt(sd_item_lme4^2 + sum_a tau_a^2 / L_a)`` and lme4's item sd is
``sqrt(sigma_item^2 - sum_a tau_a^2 / L_a)`` (per draw, floored at 0). Without disagreement attributes the two
scales agree.

With ``rater_variance_by`` the ``rater`` row is the raters' average variance (each level's variance weighted by
its share of the dimension's raters), so that the rows without a level sum to 1; a level's row gives that
level's sd and its share of the latent variance *of a rater of that level*. A level with fewer than
``min_group_size`` raters has its numbers blanked (``suppressed``), as in every other output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pluralstats.models.contrasts import level_sizes
from pluralstats.models.data import family_of, meta_of

#: columns of :func:`variance_components`; ``share_of`` says what a row's share is a share of
VARIANCE_COLUMNS = ["dimension", "component", "parameter", "attribute", "level", "n_raters", "sd", "sd_lo",
                    "sd_hi", "sd_lme4", "share", "share_lo", "share_hi", "share_of", "suppressed"]
ERROR_COMPONENT = "latent error"
ALL_LATENT = "latent variance"
NOISE_DRAWS = 200_000  # draws that estimate a family's error variance when the family does not state it


def latent_error_variance(idata) -> float:
    """Variance of the latent error of the posterior's family (pi^2/3 for logit, 1 for probit)."""
    family = family_of(idata)
    if family.latent_variance is not None:
        return float(family.latent_variance)
    return float(np.var(family.sample_noise(np.random.default_rng(0), NOISE_DRAWS)))


def _flat(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=float).reshape(-1)


def _row(dim: str, component: str, parameter: str, sd: np.ndarray, share: np.ndarray, share_of: str,
         q: list[float], *, attribute: str = "", level: str = "", n_raters: int | None = None,
         sd_lme4: np.ndarray | None = None) -> dict:
    sd_lo, sd_hi = np.quantile(sd, q)
    share_lo, share_hi = np.quantile(share, q)
    return {"dimension": dim, "component": component, "parameter": parameter, "attribute": attribute,
            "level": level, "n_raters": n_raters, "sd": sd.mean(), "sd_lo": sd_lo, "sd_hi": sd_hi,
            "sd_lme4": (sd if sd_lme4 is None else sd_lme4).mean(), "share": share.mean(), "share_lo": share_lo,
            "share_hi": share_hi, "share_of": share_of}


def variance_components(idata, *, prob: float = 0.95, suppress_small: bool = True) -> pd.DataFrame:
    """Per dimension: posterior mean and central ``prob`` interval of each variance component's sd (rater, each
    level's rater sd under ``rater_variance_by``, item, disagreement per attribute, the latent error) and of its
    share of the latent variance (module notes; columns :data:`VARIANCE_COLUMNS`). A level with fewer than k
    raters has its numbers blanked unless not ``suppress_small``."""
    from pluralstats.privacy import mask_rows

    meta = meta_of(idata)
    post = idata.posterior
    q = [(1 - prob) / 2, (1 + prob) / 2]
    error_var = latent_error_variance(idata)
    by = meta.rater_variance_by
    sizes = level_sizes(idata) if by else {}
    rows = []
    blind: set[str] = set()  # dimensions where every level of ``by`` is small
    for dim in meta.dimensions:
        item_var = _flat(post["sigma_item"].sel(dimension=dim)) ** 2
        taus = {a: _flat(post[f"tau_{a}"].sel(dimension=dim)) ** 2 for a in meta.disagreement}
        # realised: an attribute's terms sum to zero over its L levels (module notes)
        realised = {a: var * (1 - 1 / len(meta.attributes[a])) for a, var in taus.items()}
        item_lme4 = np.sqrt(np.maximum(item_var - sum(var / len(meta.attributes[a]) for a, var in taus.items()), 0))
        rest = item_var + sum(realised.values()) + error_var  # latent variance beyond the raters'
        if by:
            levels = meta.attributes[by]
            counts = np.array([sizes[(by, dim)][lv] for lv in levels], dtype=float)
            level_var = {lv: _flat(post["sigma_rater"].sel(dimension=dim, **{f"{by}_level": lv})) ** 2
                         for lv in levels}
            # a small level is left out of the average too: with the shown levels' sds and sizes and the
            # total number of raters, the average would give its sd away
            weights = np.where(suppress_small & (counts < meta.min_group_size), 0.0, counts)
            if not weights.any():
                weights = counts  # every level is small: the row is suppressed below
            rater_var = sum(level_var[lv] * w for lv, w in zip(levels, weights, strict=True)) / weights.sum()
            parameter = (f"sigma_rater (average over {by}"
                         + (", levels with at least k raters" if (weights < counts).any() else "")
                         + ", weighted by raters)")
        else:
            rater_var = _flat(post["sigma_rater"].sel(dimension=dim)) ** 2
            parameter = "sigma_rater"
        total = rater_var + rest
        rows.append(_row(dim, "rater", parameter, np.sqrt(rater_var), rater_var / total, ALL_LATENT, q))
        if by and suppress_small and (counts < meta.min_group_size).all():
            blind.add(dim)
        if by:
            for lv, n in zip(levels, counts, strict=True):
                var = level_var[lv]
                rows.append(_row(dim, "rater", f"sigma_rater[{lv}]", np.sqrt(var), var / (var + rest),
                                 f"latent variance of a {by}={lv} rater", q, attribute=by, level=lv,
                                 n_raters=int(n)))
        rows.append(_row(dim, "item", "sigma_item", np.sqrt(item_var), item_var / total, ALL_LATENT, q,
                         sd_lme4=item_lme4))
        for attr, var in taus.items():
            rows.append(_row(dim, f"disagreement ({attr})", f"tau_{attr}", np.sqrt(var), realised[attr] / total,
                             ALL_LATENT, q, attribute=attr))
        error = np.full_like(total, error_var)
        rows.append(_row(dim, ERROR_COMPONENT, f"{meta.family} error", np.sqrt(error), error / total, ALL_LATENT,
                         q))
    frame = pd.DataFrame(rows, columns=VARIANCE_COLUMNS[:-1])
    frame["n_raters"] = frame["n_raters"].astype("Int64")
    small = frame.level.ne("") & (frame.n_raters.fillna(meta.min_group_size) < meta.min_group_size)
    in_blind = frame.dimension.isin(blind)
    # every level small: the rater sd is theirs alone, and every share (of a total holding it) would give it away
    hidden = ((small | (in_blind & frame.component.eq("rater"))).to_numpy(dtype=bool)) & suppress_small
    frame.loc[in_blind, ["share", "share_lo", "share_hi"]] = np.nan
    return mask_rows(frame, hidden, ["n_raters", "sd", "sd_lo", "sd_hi", "sd_lme4", "share", "share_lo", "share_hi"])


def _cell(text: object) -> str:
    """A markdown table cell: a level or dimension name from the data must not open a new cell or row."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def variance_markdown(table: pd.DataFrame, *, k: int, prob: float = 0.95, note: str | None = None) -> str:
    """The :func:`variance_components` table as markdown: sd and share (%) with their intervals; a suppressed
    level shows "<k raters" only."""
    from pluralstats.privacy import small_mark

    pct = f"{prob:.0%}"
    lines = [f"# Variance components (posterior mean [{pct} interval])", ""]
    if note:
        lines += [f"**Diagnostics:** {note}", ""]
    lines += ["Share: of the latent variance (rater + item + disagreement + latent error; a disagreement "
              "attribute with L levels adds its realised tau^2 (1 - 1/L)); a level's row: of the latent variance "
              "of a rater of that level. sd (lme4): the sd lme4's (1 | item) + (1 | item:attribute) model would "
              "report (item: without the disagreement terms' mean over levels).", "",
              "| dimension | component | parameter | raters | sd | sd (lme4) | share |",
              "|---|---|---|---:|---|---:|---|"]
    for r in table.itertuples():
        name = _cell(r.component + (f" ({r.attribute}={r.level})" if r.level else ""))
        head = f"| {_cell(r.dimension)} | {name} | {_cell(r.parameter)} |"
        if r.suppressed:
            lines.append(f"{head} {small_mark(k)} | (suppressed) | | |")
            continue
        raters = "" if pd.isna(r.n_raters) else str(r.n_raters)
        lines.append(f"{head} {raters} | {r.sd:.3f} [{r.sd_lo:.3f}, "
                     f"{r.sd_hi:.3f}] | {r.sd_lme4:.3f} | {r.share:.1%} [{r.share_lo:.1%}, {r.share_hi:.1%}] |")
    return "\n".join(lines) + "\n"
