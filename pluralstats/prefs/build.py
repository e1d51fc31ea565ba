"""Build a preference dataset: scale -> raters (group / jury) -> strategy -> objective -> pairs.

Order of operations (each rule in its module): the held-out split picks the prompts
(:mod:`pluralstats.survey.split`); ratings of the objective's dimensions on those prompts are collapsed to
the scale (:mod:`.scales`); the raters are selected and weighted (:mod:`.pools`); each response is
judged by the strategy (looked up in :mod:`.strategy_registry`; built-in rules in :mod:`.evidence`,
:mod:`.predictive`); responses of one prompt are paired
(:mod:`.pairing`). Everything is vectorised over ratings, items and candidate pairs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.options import parse_weights
from pluralstats.survey import Survey
from pluralstats.survey.split import prompt_split

from . import predictive as post
from .evidence import PAIRINGS, within_evidence
from .pairing import assemble, candidate_pairs
from .pools import check_sizes, hidden_members, member_ratings, pool_hidden, resolve_pool, withhold_counts
from .scales import collapse_cuts
from .strategy_registry import DimensionData, get_strategy

SPLIT_USES = ("train", "eval", "all")


@dataclass
class PrefsSummary:
    """What was built: per-dimension pair statistics and per-group rater counts."""

    strategy: str
    scale: int
    group: str
    objective: str
    weights: dict[str, float]
    cuts: dict[str, list[int]]
    split_counts: dict[str, int]
    use: str
    pairing: str
    by_dimension: pd.DataFrame = field(repr=False)
    groups: pd.DataFrame = field(repr=False)
    items_incomplete: int = 0
    #: the posterior's diagnostics verdict for the posterior strategy ("passed", or the note of a posterior
    #: used under allow_bad_diagnostics); None for empirical strategies
    diagnostics: str | None = None
    #: the strategy's own settings as used (its ``Options``, defaults filled in)
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The summary as plain data (its tables as lists of records), for the manifest."""
        out = asdict(self)
        out["by_dimension"] = self.by_dimension.to_dict(orient="records")
        out["groups"] = self.groups.to_dict(orient="records")
        return out


def objective_weights(survey: Survey, objective: str,
                      weights: Mapping[str, float] | str | None) -> dict[str, float]:
    """``"toxicity"`` -> ``{"toxicity": 1}``; ``"multi"`` -> the weights (default: 1 for every dimension)."""
    dims = survey.dimensions
    if objective != "multi":
        if objective not in dims:
            raise InputError(f"Unknown objective '{objective}'; use one of {', '.join(dims)} or 'multi'")
        if weights:
            raise InputError("--weights is for --objective multi")
        return {objective: 1.0}
    if isinstance(weights, str):
        weights = parse_weights(weights)
    chosen = dict(weights) if weights else dict.fromkeys(dims, 1.0)
    unknown = sorted(set(chosen) - set(dims))
    if unknown:
        raise InputError(f"Unknown dimension(s) in --weights: {', '.join(unknown)}; known: {', '.join(dims)}")
    if any(not np.isfinite(w) or w < 0 for w in chosen.values()) or not any(w > 0 for w in chosen.values()):
        raise InputError(f"Objective weights must be >= 0 with at least one positive; got {chosen}")
    return {d: float(w) for d, w in chosen.items() if w > 0}


def resolve_split(survey: Survey, split: pd.Series | str | Path | None, eval_fraction: float,
                  seed: int) -> pd.Series:
    """The prompt split: a recorded one (Series or file), or a fresh seeded :func:`prompt_split`."""
    if split is None:
        try:
            return prompt_split(survey.items, eval_fraction, seed)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
    if not isinstance(split, pd.Series):
        from .dataset import load_split

        split = load_split(split)
    missing = sorted(set(survey.items.prompt_id) - set(split.index))
    if missing:
        raise InputError(f"The given split lacks {len(missing)} prompt(s) of this survey "
                         f"(e.g. {missing[:3]})")
    return split


def select_ratings(survey: Survey, dimensions: Sequence[str], *, groups: Sequence[str] = (),
                   jury: str | Mapping[str, float] | None = None, use: str = "train",
                   split: pd.Series | str | Path | None = None, eval_fraction: float = 0.2, seed: int = 0,
                   allow_small_groups: bool = False):
    """The ratings a preference set is built from: ``(split, all raters' ratings, pool, the pool's ratings,
    per-group sizes)`` on the ``use`` prompts and ``dimensions``; small groups refused unless allowed.
    Shared by the paired (:func:`build_preferences`) and unpaired (KTO) builders, so both pick alike."""
    if use not in SPLIT_USES:
        raise InputError(f"use must be one of {SPLIT_USES}, got '{use}'")
    side = resolve_split(survey, split, eval_fraction, seed)
    prompts = side.index if use == "all" else side.index[side == use]
    ratings = survey.ratings_with_attributes()
    ratings = ratings[ratings.dimension.isin(dimensions) & ratings.prompt_id.isin(prompts)]
    pool = resolve_pool(survey, groups, jury)
    frame = member_ratings(ratings, pool)
    group_stats = check_sizes(frame, pool, survey.config.min_group_size, allow_small_groups)
    group_stats = withhold_counts(group_stats, hidden_members(ratings, pool, survey.config.min_group_size))
    return side, ratings, pool, frame, group_stats


def build_preferences(
    survey: Survey, *, scale: int | None = 5, strategy: str = "majority", groups: Sequence[str] = (),
    jury: str | Mapping[str, float] | None = None, objective: str = "toxicity",
    weights: Mapping[str, float] | str | None = None, posterior: object = None, seed: int = 0,
    cuts: Sequence[int] | None = None, eval_fraction: float = 0.2, use: str = "train",
    split: pd.Series | str | Path | None = None, allow_small_groups: bool = False,
    probability_fn: post.ProbabilityFn | None = None, pairing: str = "across", allow_bad_diagnostics: bool = False,
    **options: Any,
) -> tuple[pd.DataFrame, PrefsSummary]:
    """Preference pairs (TRL form + provenance) and a summary; every rule is in the module docstrings.

    ``options``: the strategy's own settings (the fields of its ``Options``, e.g. ``veto_share`` of
    minority-veto, ``max_draws`` of posterior; None: the default); a key the strategy does not have is an
    :class:`InputError`. ``seed`` seeds the prompt split (and a strategy's own randomness, e.g. the draw
    subsample); ``split`` reuses a recorded split instead. ``probability_fn`` replaces
    :func:`pluralstats.models.category_probabilities`. The posterior strategy refuses a posterior fitted to other
    ratings than ``survey``'s, or one without the survey's fingerprint
    (:func:`~pluralstats.models.data.check_same_survey`), and one that failed (or could not be given) its
    convergence checks (:class:`~pluralstats.errors.DiagnosticsError`) unless ``allow_bad_diagnostics``.
    """
    config = survey.config
    scale = config.scale_max if scale is None else int(scale)
    rule = get_strategy(strategy)  # unknown names: InputError listing the installed strategies
    settings = rule.make_options(**options)
    rule.check_options(settings, survey)
    if pairing not in PAIRINGS or pairing not in rule.pairings:
        raise InputError(f"pairing must be one of {PAIRINGS} ('within' needs an empirical strategy; "
                         f"{strategy} takes {', '.join(rule.pairings)}), got '{pairing}'")
    if rule.needs_posterior and posterior is None:
        raise InputError(f"The {strategy} strategy needs a fitted posterior (--posterior posterior.nc)")
    obj = objective_weights(survey, objective, weights)
    cut_map = collapse_cuts(config, scale, cuts)
    side, ratings, pool, frame, group_stats = select_ratings(survey, list(obj), groups=groups, jury=jury, use=use,
                                                             split=split, eval_fraction=eval_fraction, seed=seed,
                                                             allow_small_groups=allow_small_groups)
    # items judged: rated on every objective dimension (by the pool; by anyone for the model)
    items, incomplete = _judged_items(survey, ratings if rule.needs_posterior else frame, len(obj))
    a, b = candidate_pairs(items)
    if len(a) == 0:
        raise InputError(f"No prompt has two or more responses rated on {', '.join(obj)} by the selected "
                         f"raters (group {pool.label}, {use} prompts); nothing to pair")
    idata, diagnostics = _posterior(rule, posterior, survey, probability_fn, allow_bad_diagnostics)
    shares = np.array([m.share for m in pool.members])
    total_w = sum(obj.values())
    e_ab, e_ba, s_a, s_b = (np.zeros(len(a)) for _ in range(4))
    rows = []
    for dim, w in obj.items():
        data = DimensionData(survey=survey, frame=frame, ratings=ratings, items=items, index=pd.Index(items.item_id),
                             dimension=dim, scale=scale, cuts=cut_map[dim], sign=config.dimensions[dim].sign,
                             pool=pool, pairing=pairing, seed=seed, options=settings, posterior=idata,
                             probability_fn=probability_fn)
        probs = rule.distributions(data)
        mean_diff = None
        if pairing == "across":
            d_ab, d_ba = rule.across_evidence(probs, a, b)
        else:
            d_ab, d_ba, mean_diff = within_evidence(frame, data.index, a, b, dim, scale, cut_map[dim], data.sign,
                                                    shares)
        pair_scores = rule.pair_scores(data, probs, a, b, mean_diff)  # None: the strategy compares evidence
        e_ab += w * d_ab / total_w
        e_ba += w * d_ba / total_w
        if pair_scores is not None:
            s_a += w * pair_scores[0] / total_w
            s_b += w * pair_scores[1] / total_w
        one = rule.decide(a, b, d_ab, d_ba, *(pair_scores or (None, None)))
        rows.append(_stat_row(pool.label, dim, one, frame[frame.dimension == dim], items))
    final = rule.decide(a, b, e_ab, e_ba, s_a, s_b)
    if objective == "multi":
        rows.append(_stat_row(pool.label, "multi", final, frame, items))
    df = assemble(final, items, dimension=objective if objective == "multi" else next(iter(obj)), group=pool.label,
                  strategy=strategy, scale=scale)
    by_dimension = withhold_counts(pd.DataFrame(rows), [pool_hidden(pool, list(group_stats.suppressed))] * len(rows))
    summary = PrefsSummary(
        strategy=strategy, scale=scale, group=pool.label, objective=objective, weights=obj,
        cuts={d: list(cut_map[d]) for d in obj}, split_counts=side.value_counts().to_dict(), use=use,
        pairing=pairing, by_dimension=by_dimension, groups=group_stats, items_incomplete=incomplete,
        diagnostics=diagnostics, options=dataclasses.asdict(settings),
    )
    return df, summary


def _judged_items(survey: Survey, source: pd.DataFrame, n_dimensions: int) -> tuple[pd.DataFrame, int]:
    """The responses rated on every objective dimension in ``source`` (ordered by prompt), and how many of the
    responses rated there are left out for lacking a dimension."""
    rated = source.groupby("item_id").dimension.nunique()
    complete = rated.index[rated == n_dimensions]
    items = survey.items[survey.items.item_id.isin(complete)].sort_values(["prompt_id", "item_id"])
    return items.reset_index(drop=True), int(source.item_id.nunique() - len(complete))


def _posterior(rule, posterior: object, survey: Survey, probability_fn, allow_bad: bool) -> tuple[object, str | None]:
    """The loaded posterior for a strategy that needs one (else None), checked to be this survey's and gated:
    its verdict ("passed", or the note of one used under ``allow_bad``)."""
    if not rule.needs_posterior:
        return None, None
    idata = post.load(posterior)
    if probability_fn is not None:  # a stand-in probability_fn (tests) has no posterior to check
        return idata, None
    from pluralstats.models.data import check_same_survey
    from pluralstats.models.diagnostics import require_diagnostics

    check_same_survey(idata, survey, "The posterior")
    return idata, require_diagnostics(idata, allow_bad=allow_bad) or "passed"


def _stat_row(group: str, dimension: str, decision, frame: pd.DataFrame, items: pd.DataFrame) -> dict:
    used = frame[frame.item_id.isin(items.item_id)]
    return {"group": group, "dimension": dimension, "candidate_pairs": decision.candidates,
            "pairs": len(decision.chosen), "ties": decision.ties, "conflicting": decision.conflicting,
            "raters": int(used.participant_id.nunique()), "items": int(used.item_id.nunique()),
            "ratings": int(used.drop_duplicates(["participant_id", "item_id", "dimension"]).shape[0])}
