"""Who gives feedback: a group filter (ANDed conditions) and an optional jury of groups with shares.

Rules (exact).

* ``groups``: each entry is ``attribute=level`` or a bare ``level`` (resolved by
  :meth:`Survey.resolve_level`, as ``compare`` does); a rater is selected when they match every
  entry. No entries: all raters.
* ``jury``: ``"spec:share,spec:share,..."`` (or a mapping ``{spec: share}``), where a spec is one or
  more conditions joined by ``&`` (``political=liberal&gender=female``). Shares must be positive and
  are rescaled to sum to 1. Members are taken within the ``groups`` filter. A rater who matches
  several members counts once for each (the jury distribution is a mixture of member distributions).
* Evidence weights: a rating by a rater of member ``g`` on item ``i`` and dimension ``d`` has weight
  ``share_g / n_{g,i,d}`` where ``n_{g,i,d}`` is the number of member-``g`` ratings of ``(i, d)``. So
  each member speaks for exactly its share on every item, whatever its size in the survey
  (reweighting to the stated composition). An item no rater of some member rated is judged by the
  members present, their shares rescaled to sum to 1. Without a jury there is one member (share 1)
  and every rating of an item has the same weight ``1 / n_{i,d}``.
* Size rule: a member with no rater in the ratings used is an error; one with fewer than the survey's
  ``min_group_size`` (k) raters is an error unless ``allow_small_groups``. The error says "fewer than k",
  never the member's count.
* Counts shown (:func:`hidden_members`): the raters and ratings of a member are withheld under the privacy
  rule of :mod:`pluralstats.privacy` with complementary suppression, because the whole survey's counts
  (``prefs`` without a group) are published too: a member is withheld when, among the raters matching its
  other conditions, its level of any attribute it fixes is suppressed. So ``--group male`` withholds its
  counts when gender=non_binary is small and male is the next-smallest level (all minus female minus male
  would give non_binary). The pool's own counts are withheld when any member's are, and for a jury whose
  members fix different attributes (the union's count with the members' would give their overlap).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.privacy import suppressed_levels
from pluralstats.survey import Survey


@dataclass(frozen=True)
class Member:
    """One group of raters: ANDed conditions and its share of the jury."""

    label: str
    conditions: tuple[tuple[str, str], ...]
    share: float = 1.0

    @property
    def as_dict(self) -> dict[str, str]:
        """The member's conditions as attribute -> level."""
        return dict(self.conditions)


@dataclass(frozen=True)
class Pool:
    """The selected raters: a filter and one member (no jury) or several (a jury)."""

    label: str
    members: tuple[Member, ...]


def _conditions(survey: Survey, specs: Sequence[str]) -> tuple[tuple[str, str], ...]:
    resolved = [survey.resolve_level(s.strip()) for s in specs if s.strip()]
    attrs = [a for a, _ in resolved]
    clash = sorted({a for a in attrs if attrs.count(a) > 1 and len({lv for b, lv in resolved if b == a}) > 1})
    if clash:
        raise InputError(f"Conditions on {', '.join(clash)} name two levels of one attribute; "
                         "a rater cannot match both (use a jury to combine groups)")
    return tuple(dict.fromkeys(resolved))


def _label(conditions: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{a}={lv}" for a, lv in conditions) or "all"


def parse_jury(spec: str | Mapping[str, float]) -> dict[str, float]:
    """``"political=liberal:0.5,political=conservative:0.5"`` -> ``{spec: share}``."""
    if isinstance(spec, Mapping):
        return {str(k): float(v) for k, v in spec.items()}
    out: dict[str, float] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, share = part.rpartition(":")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = float(share)
        except ValueError:
            raise InputError(f"Jury member '{part}' must be 'group:share', "
                             "e.g. political=liberal:0.5") from None
    return out


def resolve_pool(survey: Survey, groups: Sequence[str] = (),
                 jury: str | Mapping[str, float] | None = None) -> Pool:
    """Turn ``--group`` and ``--jury`` options into a :class:`Pool` (errors name the known levels)."""
    base = _conditions(survey, groups)
    if not jury:
        return Pool(_label(base), (Member(_label(base), base, 1.0),))
    shares = parse_jury(jury)
    if not shares:
        raise InputError("--jury names no group")
    bad = {k: v for k, v in shares.items() if not (np.isfinite(v) and v > 0)}
    if bad:
        raise InputError(f"Jury shares must be positive numbers; got {bad}")
    total = sum(shares.values())
    members = []
    for spec, share in shares.items():
        conditions = _conditions(survey, [*(f"{a}={lv}" for a, lv in base), *spec.split("&")])
        members.append(Member(_label(conditions), conditions, share / total))
    listing = ",".join(f"{m.label}:{m.share:.4g}" for m in members)
    return Pool(f"jury({listing})", tuple(members))


def member_ratings(ratings: pd.DataFrame, pool: Pool) -> pd.DataFrame:
    """Ratings (with rater attributes) repeated once per member their rater belongs to, with columns
    ``member`` (index into ``pool.members``) and ``w`` (the evidence weight of the module rule)."""
    frames = []
    for index, member in enumerate(pool.members):
        mask = np.ones(len(ratings), dtype=bool)
        for attribute, level in member.conditions:
            mask &= (ratings[attribute] == level).to_numpy()
        frames.append(ratings.loc[mask].assign(member=index, _share=member.share))
    out = pd.concat(frames, ignore_index=True)
    n = out.groupby(["member", "item_id", "dimension"], sort=False).rating.transform("size")
    out["w"] = out.pop("_share") / n
    return out


def check_sizes(member_frame: pd.DataFrame, pool: Pool, k: int, allow_small_groups: bool) -> pd.DataFrame:
    """Raters, ratings and items per member; raise when a member is empty or (unless allowed) below k."""
    stats = member_frame.groupby("member").agg(raters=("participant_id", "nunique"),
                                               ratings=("rating", "size"), items=("item_id", "nunique"))
    stats = stats.reindex(range(len(pool.members)), fill_value=0)
    stats.insert(0, "group", [m.label for m in pool.members])
    stats.insert(1, "share", [m.share for m in pool.members])
    empty = stats[stats.raters == 0]
    if len(empty):
        raise InputError(f"Group {', '.join(empty.group)} has no rater in the ratings used "
                         "(check the filter, the objective's dimensions and the split)")
    small = stats[stats.raters < k]
    if len(small) and not allow_small_groups:  # "fewer than k": the count itself is a small cell
        raise InputError(f"Group {', '.join(small.group)} has fewer than k={k} raters. Its preferences would rest "
                         "on too few people; pass --allow-small-groups to build them anyway")
    return stats.reset_index(drop=True)


def hidden_members(ratings: pd.DataFrame, pool: Pool, k: int) -> list[bool]:
    """Per member of ``pool``, whether its counts are withheld (module rule), judged on ``ratings`` (every
    rater's ratings that the preference set could use, with their attributes)."""
    hidden = []
    for member in pool.members:
        hide = False
        for attribute, level in member.conditions:
            mask = np.ones(len(ratings), dtype=bool)
            for other, other_level in member.conditions:
                if other != attribute:
                    mask &= (ratings[other] == other_level).to_numpy()
            sizes = ratings.loc[mask].groupby(attribute).participant_id.nunique()
            hide |= str(level) in suppressed_levels(sizes, k)
        hidden.append(hide)
    return hidden


def withhold_counts(stats: pd.DataFrame, hidden: Sequence[bool] | np.ndarray,
                    columns: Sequence[str] = ("raters", "ratings")) -> pd.DataFrame:
    """``stats`` with ``columns`` None (shown as withheld) on ``hidden`` rows, and a ``suppressed`` column."""
    out = stats.copy()
    hidden = np.asarray(hidden, dtype=bool)
    for column in columns:
        out[column] = [None if h else int(v) for h, v in zip(hidden, out[column], strict=True)]
    out["suppressed"] = hidden
    return out


def pool_hidden(pool: Pool, hidden: Sequence[bool]) -> bool:
    """Whether the pool's own counts are withheld (module rule)."""
    fixed = {tuple(sorted(m.as_dict)) for m in pool.members}
    return any(hidden) or len(fixed) > 1
