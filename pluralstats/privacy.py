"""Small-cell suppression and rater pseudonyms: the one privacy rule every output applies.

Rule. A group (a level of one attribute) with fewer than k raters (survey.toml ``min_group_size``)
is *small*. Within one attribute and dimension:

1. every small level is suppressed (primary suppression);
2. if any level is suppressed, the smallest remaining levels (ties by name) are suppressed as well
   until at least two are and together they hold at least k raters (complementary suppression).

Step 2 is what statistical agencies do for tables with margins: a published total (the "all" row of
``describe``, the whole survey's rating distribution, the number of raters) minus the published cells
gives back the suppressed cells' pooled value, so the pool must be at least two cells and k raters.
A suppressed cell shows neither its estimate nor its counts. A table with one block per dimension hides
the union of the blocks' choices in every dimension of the attribute: a rater count is usually the same
in every dimension, so a complement hidden in one dimension but shown in another would give it away.

Model-based outputs (contrasts, ``compare``) publish no total from which a level's estimate could be
subtracted, so they apply step 1 only (``complementary=False``); outputs that show observed data per
group (descriptives, the predictive check's observed shares) apply both steps.

Participant ids never leave the bundle: the posterior and everything derived from it name raters by
:func:`pseudonyms` (``r0001``... in the sorted order of the ids), so the bundle alone maps them back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

#: the ``suppressed`` column of a masked table
SUPPRESSED = "suppressed"


def small_mark(k: int) -> str:
    """How a suppressed group is shown in printed tables and figures."""
    return f"<{k}"


def suppressed_levels(sizes: Mapping[str, int] | pd.Series, k: int, *, complementary: bool = True) -> list[str]:
    """The levels to suppress among ``sizes`` (level -> raters) under the module rule, smallest first."""
    order = sorted(((int(n), str(level)) for level, n in dict(sizes).items()))
    hidden = [(n, level) for n, level in order if n < k]
    if not hidden or not complementary:
        return [level for _, level in hidden]
    rest = [cell for cell in order if cell not in hidden]
    while rest and (len(hidden) < 2 or sum(n for n, _ in hidden) < k):
        hidden.append(rest.pop(0))
    return [level for _, level in hidden]


def mask_rows(table: pd.DataFrame, hidden: Iterable[bool], columns: Sequence[str]) -> pd.DataFrame:
    """A copy of ``table`` with ``columns`` blanked (NaN) where ``hidden``, and a boolean ``suppressed``
    column (ORed with an existing one, so masking twice keeps the first mark)."""
    out = table.copy()
    hidden = np.asarray(list(hidden), dtype=bool)
    if SUPPRESSED in out:
        hidden = hidden | out[SUPPRESSED].fillna(False).astype(bool).to_numpy()
    cols = [c for c in columns if c in out]
    if hidden.any():
        for col in cols:  # counts stay integers (nullable), so a CSV shows 14, not 14.0; text stays text
            if pd.api.types.is_integer_dtype(out[col]):
                out[col] = out[col].astype("Int64")
                out.loc[hidden, col] = pd.NA
            elif pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col]):
                out[col] = out[col].astype(float)
                out.loc[hidden, col] = np.nan
            else:
                out[col] = out[col].astype(object)
                out.loc[hidden, col] = None
    out[SUPPRESSED] = hidden
    return out


def mask_groups(table: pd.DataFrame, k: int, columns: Sequence[str], *, size: str = "n_raters",
                level: str = "level", within: Sequence[str] = ("attribute", "dimension"),
                together: Sequence[str] = ("attribute",), complementary: bool = True,
                suppress: bool = True) -> pd.DataFrame:
    """Suppress the rows of a per-group table under the module rule.

    ``table`` has one row per ``level`` within each combination of ``within`` (e.g. attribute and
    dimension) and the group's raters in ``size``; ``columns`` (estimates and counts, ``size``
    included if it should be hidden) are blanked on suppressed rows. A one-level block (the overall
    "all" row) is suppressed only when it is itself small. Blocks that agree on ``together`` (the
    dimensions of one attribute) hide the union of their levels (module notes). ``suppress=False`` (the
    explicit ``--no-suppress-small``) marks nothing and blanks nothing.
    """
    hidden = pd.Series(False, index=table.index)
    if not suppress or table.empty:
        return mask_rows(table, hidden.to_numpy(), columns)
    blocks = [block for _, block in table.groupby(list(within), sort=False)]
    union: dict[tuple, set[str]] = {}
    for block in blocks:
        key = tuple(block[c].iloc[0] for c in together)
        union.setdefault(key, set()).update(
            suppressed_levels(block.set_index(level)[size], k, complementary=complementary))
    for block in blocks:
        hidden[block.index] = block[level].astype(str).isin(union[tuple(block[c].iloc[0] for c in together)])
    return mask_rows(table, hidden.to_numpy(), columns)


def pseudonyms(ids: Sequence[str]) -> np.ndarray:
    """``r0001``, ``r0002``... for ``ids`` in their sorted order (wider when there are more than 9999)."""
    ranks = pd.Series(list(ids)).astype(str).rank(method="dense").astype(int).to_numpy()
    width = max(4, len(str(len(ranks))))
    return np.array([f"r{r:0{width}d}" for r in ranks], dtype=object)
