"""A Bambi fit's draws in the package's layout, its per-rater log-likelihood, the gate's verdict on it, and
predictions from it (for :mod:`.formula`, whose docstring describes the layout, the gate and the LOO)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy import sparse

from pluralstats.errors import InputError, shorten
from pluralstats.families import get_family
from pluralstats.survey import Survey

from .diagnostics import Diagnostics, _family, _flatten, _judge, _rows, diagnose, require_diagnostics
from .formula_data import FormulaSpec, additive, build_bambi, spec_of
from .marginal_likelihood import GH_NODES, LL_VAR, marginal_log_likelihood

CHUNK_CELLS = 2_000_000  # draws x ratings per block of the log-likelihood


def _decode(var: xr.DataArray, decoded: Mapping[str, str]) -> xr.DataArray:
    """``var`` with every string coordinate label's coded levels ("01_male, 00_liberal") decoded."""
    for dim in var.dims:
        if dim in ("chain", "draw") or dim not in var.coords:
            continue
        labels = var[dim].to_numpy()
        if labels.dtype.kind in "OUS":
            var = var.assign_coords({dim: [", ".join(decoded.get(p, p) for p in str(lab).split(", "))
                                           for lab in labels]})
    return var


def layout(raw: az.InferenceData, spec: FormulaSpec, model: Any) -> xr.Dataset:
    """Bambi's posterior in the package's layout (module docstring): mapped names where the rating model has the
    quantity, Bambi's names (decoded level labels) for the rest."""
    post = raw.posterior
    dim = spec.dimension
    out: dict[str, xr.DataArray] = {}
    threshold = post["threshold"]
    shift = xr.zeros_like(threshold.isel({threshold.dims[-1]: 0}, drop=True))
    if "1|item" in post:
        item = post["1|item"]
        shift = item.mean("item__factor_dim")
        item = item - shift
        if additive(spec, model):
            item = item.rename({"item__factor_dim": "item"}).reindex(item=spec.data.item_ids.astype(str))
            out["item_effect"] = item.expand_dims(dimension=[dim], axis=3)
        else:
            out["1|item"] = item
    cut = (threshold - shift).rename({threshold.dims[-1]: "cutpoint"})
    out["cutpoints"] = cut.assign_coords(cutpoint=np.arange(1, cut.sizes["cutpoint"] + 1)).expand_dims(
        dimension=[dim], axis=2)
    for source, name in (("1|rater_sigma", "sigma_rater"), ("1|item_sigma", "sigma_item")):
        if source in post:
            out[name] = post[source].expand_dims(dimension=[dim], axis=2)
    if additive(spec, model):
        for attr in model.components[model.family.likelihood.parent].common_terms:
            levels = spec.data.meta.attributes[attr]
            b = _decode(post[attr], spec.decoded).rename({f"{attr}_dim": f"{attr}_level"}).reindex(
                {f"{attr}_level": levels[1:]})
            zero = xr.zeros_like(b.isel({f"{attr}_level": [0]})).assign_coords({f"{attr}_level": [levels[0]]})
            full = xr.concat([zero, b], dim=f"{attr}_level")
            out[f"beta_{attr}"] = full.expand_dims(dimension=[dim], axis=2)
    for name in post.data_vars:
        if name in out or name in ("threshold", "1|item", "1|rater_sigma", "1|item_sigma") or str(name).endswith(
                "__") or (additive(spec, model) and name in spec.attributes):
            continue
        out[str(name)] = _decode(post[name], spec.decoded)
    return xr.Dataset(out, attrs=dict(post.attrs))


def _linear_predictor(model: Any, post: xr.Dataset, draws: np.ndarray, *, without: str = "1|rater") -> np.ndarray:
    """``(len(draws), n_ratings)``: the formula's linear predictor at the stacked posterior ``draws`` (Bambi's
    design matrices and names, as Bambi's own ``predict`` combines them), without the group term ``without``."""
    parent = model.components[model.family.likelihood.parent]
    design = parent.design
    stacked = post.stack(sample=("chain", "draw"))

    def columns(name: str) -> np.ndarray:
        var = stacked[name]
        other = [d for d in var.dims if d != "sample"]
        if len(other) == 2:  # a categorical group term: Bambi's columns run over (factor, expr)
            factor = [d for d in other if d.endswith("__factor_dim")][0]
            var = var.stack(column=(factor, [d for d in other if d != factor][0]))
        elif not other:
            var = var.expand_dims(column=[0])
        else:
            var = var.rename({other[0]: "column"})
        return var.transpose("sample", "column").to_numpy()[draws]

    eta = np.zeros((len(draws), len(model.data)))
    if parent.common_terms:  # the common design matrix's columns are the common terms', in order
        coefs = np.concatenate([columns(name) for name in parent.common_terms], axis=1)
        eta += coefs @ np.asarray(design.common.design_matrix).T
    if design.group:
        matrix = sparse.csc_matrix(design.group.design_matrix)
        for name, piece in design.group.slices.items():
            if name != without:
                eta += (matrix[:, piece] @ columns(name).T).T
    return eta


def rater_log_likelihood(model: Any, raw: az.InferenceData, spec: FormulaSpec, *,
                         nodes: int = GH_NODES) -> xr.DataArray:
    """``(chain, draw, rater)``: each rater's marginal log-likelihood under the formula (module docstring), the
    raters in the order of ``constant_data`` (the package's)."""
    post = raw.posterior
    data = spec.data
    family = get_family(spec.family)
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    y = data.y.astype(int)
    rater = data.obs_rater.astype(int)
    n_raters = len(data.rater_ids)
    cut = post["threshold"].stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy()
    inf = np.full((cut.shape[0], 1), np.inf)
    padded = np.concatenate([-inf, cut, inf], axis=1)
    sigma = (post["1|rater_sigma"].stack(sample=("chain", "draw")).to_numpy() if "1|rater_sigma" in post
             else None)
    out = np.empty((n_chain * n_draw, n_raters))
    step = max(1, CHUNK_CELLS // max(len(y) * 8, 1))
    for start in range(0, n_chain * n_draw, step):
        block = np.arange(start, min(start + step, n_chain * n_draw))
        eta = _linear_predictor(model, post, block)
        lo, hi = padded[block][:, y], padded[block][:, y + 1]
        if sigma is None:
            logp = family.category_logp(eta, lo, hi)
            out[block] = np.stack([np.bincount(rater, weights=row, minlength=n_raters) for row in logp])
        else:
            s = np.broadcast_to(sigma[block][:, None], eta.shape)
            out[block] = marginal_log_likelihood(eta, lo, hi, s, rater, n_raters, family, nodes=nodes)
    return xr.DataArray(out.reshape(n_chain, n_draw, n_raters), dims=("chain", "draw", "rater"),
                        coords={"chain": post["chain"].to_numpy(), "draw": post["draw"].to_numpy(),
                                "rater": data.rater_ids.astype(str)}, name=LL_VAR)


def _families(idata: az.InferenceData) -> dict[str, int]:
    """The posterior's families of exchangeable terms and their free terms: every group term's effects (Bambi
    names them ``expr|factor``), the centred item intercepts (``item_effect`` or ``1|item``) with one term fewer."""
    out = {}
    for name in map(str, idata.posterior.data_vars):
        if name == "item_effect" or ("|" in name and not name.endswith("_sigma")):
            var = idata.posterior[name]
            size = int(np.prod([n for d, n in var.sizes.items() if d not in ("chain", "draw", "dimension")]))
            out[name] = size - 1 if name in ("item_effect", "1|item") else size
    return out


def diagnose_formula(idata: az.InferenceData, *, rhat_chains: int | None = None) -> Diagnostics:
    """The gate's verdict on a :func:`to_bambi` posterior: the package's checks
    (:func:`~pluralstats.models.diagnostics.diagnose`: cut points, sds, level effects and contrasts of the
    additive layout, the sampler's checks), plus every other common term and sd as a reported quantity and every
    group term's effects as a family (size-aware bound), judged by the same rule."""
    base = diagnose(idata, rhat_chains=rhat_chains)
    post = idata.posterior
    first = base.rhat_chains
    judged = {str(n).split("[")[0] for n in base.table.name} | {"contrast"}
    families = _families(idata)
    tables, fams = [base.table], [base.families] if len(base.families) else []
    rows = []
    for name in map(str, post.data_vars):
        if name in judged or name in families or name.startswith(("beta_", "sigma_")) or name == "cutpoints":
            continue
        rows.append(_rows(name, "parameter", "", *_flatten(post[name]), first))
    for name, n_free in families.items():
        table, judgement = _family(name, *_flatten(post[name]), n_free, first)
        rows.append(table)
        fams.append(pd.DataFrame([judgement]))
    tables += [r for r in rows if len(r)]
    table = pd.concat([t for t in tables if len(t)], ignore_index=True) if any(len(t) for t in tables) else base.table
    families_frame = pd.concat(fams, ignore_index=True) if fams else pd.DataFrame()
    shape = {"families": families_frame, "rhat_chains": first, "chains": base.chains, "draws": base.draws,
             "min_bfmi": base.min_bfmi, "treedepth_share": base.treedepth_share}
    if not base.checked:
        return Diagnostics(table, base.divergences, checked=False, problems=list(base.problems), **shape)
    problems, failed = _judge(table, families_frame, base.divergences, base.min_bfmi, base.treedepth_share)
    return Diagnostics(table, base.divergences, checked=True, problems=problems, failed=failed, **shape)


def bambi_model(survey: Survey, idata: az.InferenceData) -> tuple[Any, az.InferenceData]:
    """``(model, posterior)`` in Bambi's own terms: the ``bambi.Model`` of ``idata``'s formula rebuilt on ``survey``
    (no sampling; the survey must be the one fitted) and the draws under Bambi's names, attribute levels coded as
    the model sees them (reference first). For ``model.predict`` and ``bambi.interpret`` (whose ``comparisons`` and
    ``predictions`` fail in Bambi 0.17 on a cumulative model with several covariates; see
    :func:`formula_comparisons`).

    The thresholds are the posterior's ``cutpoints`` and the item intercepts its centred ones (module docstring):
    every prediction for the survey's items is Bambi's own; one for a *new* item (``sample_new_groups``) is
    centred on the survey's mean item rather than on Bambi's zero, a shift the data do not identify."""
    spec = spec_of(survey, idata)
    model = build_bambi(spec, "bambi")
    model.build()
    post = idata.posterior
    out: dict[str, xr.DataArray] = {"threshold": post["cutpoints"].isel(dimension=0, drop=True).rename(
        {"cutpoint": "threshold_dim"})}
    for name, source in (("1|rater_sigma", "sigma_rater"), ("1|item_sigma", "sigma_item")):
        if source in post:
            out[name] = post[source].isel(dimension=0, drop=True)
    if "item_effect" in post:
        out["1|item"] = post["item_effect"].isel(dimension=0, drop=True).rename({"item": "item__factor_dim"})
    for name in map(str, post.data_vars):
        if name.startswith("beta_") and name[5:] in spec.attributes:
            attr = name[5:]
            out[attr] = post[name].isel(dimension=0, drop=True).isel({f"{attr}_level": slice(1, None)}).rename(
                {f"{attr}_level": f"{attr}_dim"})
        elif name not in ("cutpoints", "sigma_rater", "sigma_item", "item_effect"):
            out[name] = post[name]
    coords = model.backend.model.coords
    for name, var in out.items():
        out[name] = var.assign_coords({d: list(coords[d]) for d in var.dims if d in coords}).transpose(
            "chain", "draw", ...)
    return model, az.InferenceData(posterior=xr.Dataset(out))


def formula_comparisons(survey: Survey, idata: az.InferenceData, attribute: str, level_a: str, level_b: str, *,
                        by: str | None = None, prob: float = 0.95, allow_bad: bool = False,
                        suppress_small: bool = True, rows_per_block: int = 1000) -> pd.DataFrame:
    """Average predictive comparison of ``attribute``'s ``level_a`` against ``level_b`` under a :func:`to_bambi`
    posterior of any formula (interactions included), from Bambi's own predictions (``model.predict``, the
    engine of ``bambi.interpret``).

    What it is: for every rating of the dimension, Bambi's predicted category probabilities P(rating = k) with the
    rating's rater and item at their *estimated* effects and every other covariate as observed, once with the
    rater's ``attribute`` set to ``level_a`` and once to ``level_b``; averaged over the ratings (within each level of
    ``by``, an attribute, when given: e.g. the gender comparison among liberal and among conservative raters of an
    interaction formula). That is ``bambi.interpret.comparisons(model, idata, {attribute: [b, a]},
    average_by=True)``'s estimand (unit-level comparisons averaged), computed here because Bambi 0.17's
    ``interpret.comparisons`` and ``predictions`` fail on a cumulative model with more than one covariate (their
    summary step). Per posterior draw; one row per quantity (and ``by`` level): ``mean``, the expected rating
    (rating points), ``share>=k`` the percentage rating at least the dimension's positive threshold k, and
    ``P(rating=j)`` each category's probability in percent. ``mean_a``, ``mean_b``: posterior means of A's and B's
    averages; ``diff`` (A - B) its posterior mean with the central ``prob`` interval ``diff_lo``..``diff_hi`` and
    ``p_positive`` = P(diff > 0).

    It differs from the package's contrasts (:mod:`~pluralstats.models.contrasts`, additive formula only), which
    predict a *new* rater (own effect integrated over Normal(0, sigma_rater)) on every survey item with the other
    attributes standardised to the sample's raters; here the survey's own raters and their rated items are kept.

    The gate applies (:func:`~pluralstats.models.diagnostics.require_diagnostics`; ``allow_bad`` lets a failed
    posterior through, its note in ``frame.attrs["diagnostics"]``). Privacy rule: a level of ``attribute`` with fewer
    than survey.toml's ``min_group_size`` raters is refused, and a ``by`` level's rows are blanked
    (``suppressed``), unless not ``suppress_small``.
    """

    note = require_diagnostics(idata, allow_bad=allow_bad)
    model, posterior = bambi_model(survey, idata)
    spec = spec_of(survey, idata)
    _check_comparison(spec, attribute, level_a, level_b, by, prob, suppress_small)
    data, attrs = spec.data, list(spec.data.meta.attributes)
    group = np.zeros(len(data.y), dtype=int) if by is None else data.rater_levels[data.obs_rater, attrs.index(by)]
    group_levels = ["all"] if by is None else list(spec.coded[by])
    totals = _predicted_totals(model, posterior, spec, attribute, (level_a, level_b), group, len(group_levels),
                               rows_per_block)
    hidden = np.zeros(len(group_levels), dtype=bool)
    if by is not None and suppress_small:
        raters = np.bincount(data.rater_levels[:, attrs.index(by)], minlength=len(group_levels))
        hidden = raters < data.meta.min_group_size
    counts = np.bincount(group, minlength=len(group_levels))
    out = []
    for g, level in enumerate(group_levels):
        if counts[g] == 0:
            continue
        row = {"dimension": spec.dimension, "attribute": attribute, "level_a": level_a, "level_b": level_b,
               "by": by or "", "by_level": level, "ratings": int(counts[g])}
        out += [{**row, **estimates, "suppressed": bool(hidden[g])} for estimates in _comparison_rows(
            totals[0][:, g] / counts[g], totals[1][:, g] / counts[g], spec, prob, bool(hidden[g]))]
    frame = pd.DataFrame(out)
    frame.attrs.update(estimand="average predictive comparison over the dimension's ratings (their raters' and "
                                "items' estimated effects), Bambi's model.predict", diagnostics=note or "passed")
    return frame


def _check_comparison(spec: FormulaSpec, attribute: str, level_a: str, level_b: str, by: str | None, prob: float,
                      suppress_small: bool) -> None:
    """InputError for a comparison :func:`formula_comparisons` cannot make: an attribute or level the formula does
    not have, twice the same level, a bad ``prob``, or (``suppress_small``) a level with fewer than k raters."""
    for name in [attribute] + ([by] if by is not None else []):
        if name not in spec.attributes:
            raise InputError(f"Attribute '{shorten(name, 60)}' is not in the formula; it uses "
                             f"{', '.join(spec.attributes) or '(no attribute)'}")
    if by == attribute:
        raise InputError("by must be another attribute than the one compared")
    levels = list(spec.coded[attribute])
    for level in (level_a, level_b):
        if level not in levels:
            raise InputError(f"Unknown level '{shorten(level, 60)}' of '{attribute}'; known: {', '.join(levels)}")
    if level_a == level_b:
        raise InputError("Give two different levels")
    if not 0 < prob < 1:
        raise InputError(f"prob must be between 0 and 1; got {prob}")
    data = spec.data
    k = data.meta.min_group_size
    sizes = np.bincount(data.rater_levels[:, list(data.meta.attributes).index(attribute)], minlength=len(levels))
    small = [lv for lv in (level_a, level_b) if sizes[levels.index(lv)] < k]
    if small and suppress_small:
        raise InputError(f"group(s) {', '.join(f'{attribute}={lv}' for lv in small)} have fewer than k={k} raters: "
                         "their estimates are suppressed (suppress_small=False shows them)")


def _predicted_totals(model: Any, posterior: az.InferenceData, spec: FormulaSpec, attribute: str,
                      levels: tuple[str, str], group: np.ndarray, n_groups: int,
                      rows_per_block: int) -> list[np.ndarray]:
    """For each of ``levels``: ``(draws, n_groups, categories)``, the sums over each group's ratings of Bambi's
    predicted category probabilities with every rater's ``attribute`` set to that level (blocks of rows keep the
    draws x rows x categories array small)."""
    n_samples = posterior.posterior.sizes["chain"] * posterior.posterior.sizes["draw"]
    totals = [np.zeros((n_samples, n_groups, spec.data.meta.scale_max)) for _ in levels]
    for start in range(0, len(spec.frame), rows_per_block):
        rows = spec.frame.iloc[start:start + rows_per_block]
        where = group[start:start + rows_per_block]
        for total, level in zip(totals, levels, strict=True):
            block = rows.assign(**{attribute: spec.coded[attribute][level]})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p = model.predict(posterior, data=block, kind="response_params", inplace=False).posterior["p"]
            p = p.stack(sample=("chain", "draw")).transpose("sample", "__obs__", ...).to_numpy()
            for g in np.unique(where):
                total[:, g] += p[:, where == g].sum(axis=1)
    return totals


def _comparison_rows(a: np.ndarray, b: np.ndarray, spec: FormulaSpec, prob: float, hidden: bool) -> list[dict]:
    """One row per quantity (expected rating, share >= k, each category's probability in %) of the per-draw
    category probabilities ``a`` and ``b`` ``(draws, categories)``; a ``hidden`` row's estimates are blanked."""
    meta = spec.data.meta
    scale = np.arange(1, meta.scale_max + 1)
    threshold = meta.thresholds.get(spec.dimension)
    quantities = {"mean": lambda q: q @ scale}
    if threshold:
        quantities[f"share>={threshold}"] = lambda q: 100 * q[..., threshold - 1:].sum(axis=-1)
    quantities.update({f"P(rating={c})": (lambda q, c=c: 100 * q[..., c - 1]) for c in scale})
    rows = []
    for name, fn in quantities.items():
        qa, qb = fn(a), fn(b)
        diff = qa - qb
        estimates = {"mean_a": float(qa.mean()), "mean_b": float(qb.mean()), "diff": float(diff.mean()),
                     "diff_lo": float(np.quantile(diff, (1 - prob) / 2)),
                     "diff_hi": float(np.quantile(diff, (1 + prob) / 2)), "p_positive": float((diff > 0).mean())}
        rows.append({"quantity": name, **({key: np.nan for key in estimates} if hidden else estimates)})
    return rows
