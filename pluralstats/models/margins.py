"""Population margins as a :class:`~.composition.Composition`: a margins file or frame of joint cells over the
model's attributes (a column per attribute, plus ``share``), or of margins only (``attribute``, ``level``,
``share``), which are raked (iterative proportional fitting, :func:`rake`) into a joint table starting from the
survey's own joint distribution of the raters' levels, so that the listed margins are met and the survey's
associations between attributes are kept. Cells no rater of the survey is in stay empty; a listed level no rater
has cannot be given its share and is refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.survey import match_level, resolve_level

from .composition import Composition
from .data import ModelMeta

#: tolerance on the sum of a margins file's shares
SHARE_TOLERANCE = 1e-3
#: raking stops when every margin is within this of its target, and gives up after RAKE_ITERATIONS sweeps
RAKE_TOLERANCE = 1e-10
RAKE_ITERATIONS = 10_000


def read_margins(path: str | Path, meta: ModelMeta, sample_levels: np.ndarray | None = None) -> Composition:
    """:func:`margins_composition` of a margins CSV file (InputError when it is not a file)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--weights must be sample, equal or a margins CSV file; '{path}' is none of these")
    return margins_composition(pd.read_csv(path, dtype=str, keep_default_na=False), meta, path.name, sample_levels)


def _is_long(frame: pd.DataFrame, meta: ModelMeta) -> bool:
    names = {str(c).strip().casefold() for c in frame.columns}
    own = {a.casefold() for a in meta.attributes}
    return names == {"attribute", "level", "share"} and own != {"attribute", "level"}


def _share(value: object, name: str, line: int) -> float:
    try:
        share = float(str(value).strip())
    except (TypeError, ValueError):
        raise InputError(f"{name}, line {line}: share '{str(value)[:30]}' is not a number") from None
    if not np.isfinite(share) or share < 0:
        raise InputError(f"{name}, line {line}: share {share} is not a non-negative number")
    return share


def margins_composition(frame: pd.DataFrame, meta: ModelMeta, name: str,
                        sample_levels: np.ndarray | None = None) -> Composition:
    """Validate population shares against the model: joint cells, or margins only (then raked, module notes).

    Joint: every model attribute must be a column (names matched case-insensitively) and no other column is
    allowed; every cell's levels must be levels of the model (case-insensitive), cells must be unique and
    shares non-negative numbers summing to 1 (within :data:`SHARE_TOLERANCE`); cells left out have share 0.
    Margins only (columns ``attribute``, ``level``, ``share``): raked from ``sample_levels`` (the survey raters'
    level indices; None: every cell equally, enough to validate the file before a fit). Errors name the
    offending line of the file (header = line 1).
    """
    if _is_long(frame, meta):
        return _raked_composition(frame, meta, name, sample_levels)
    columns = {str(c).strip().casefold(): c for c in frame.columns}
    missing = [a for a in meta.attributes if a.casefold() not in columns]
    extra = [str(c) for c in frame.columns if str(c).strip().casefold() not in
             {a.casefold() for a in meta.attributes} | {"share"}]
    if missing or extra or "share" not in columns:
        raise InputError(f"{name}: the columns must be the model's attributes ({', '.join(meta.attributes)}) and "
                         f"share, or attribute, level and share (margins only); missing: "
                         f"{', '.join(missing + ([] if 'share' in columns else ['share'])) or '-'}; "
                         f"not in the model: {', '.join(extra) or '-'}")
    if frame.empty:
        raise InputError(f"{name}: no cells")
    levels = np.zeros((len(frame), len(meta.attributes)), dtype=int)
    shares = np.zeros(len(frame))
    seen: dict[tuple[int, ...], int] = {}
    for i, row in enumerate(frame.itertuples(index=False)):
        line = i + 2
        values = dict(zip(frame.columns, row, strict=True))
        for j, attr in enumerate(meta.attributes):
            try:
                levels[i, j] = meta.attributes[attr].index(
                    match_level(meta.attributes, attr, str(values[columns[attr.casefold()]]).strip()))
            except InputError as exc:
                raise InputError(f"{name}, line {line}: {exc}") from None
        shares[i] = _share(values[columns["share"]], name, line)
        cell = tuple(levels[i])
        if cell in seen:
            raise InputError(f"{name}, line {line}: the same cell as line {seen[cell]}")
        seen[cell] = line
    if abs(shares.sum() - 1) > SHARE_TOLERANCE:
        raise InputError(f"{name}: the shares sum to {shares.sum():.6g}, not 1 (tolerance {SHARE_TOLERANCE})")
    return Composition(levels, shares / shares.sum(), name)


def read_long_margins(frame: pd.DataFrame, meta: ModelMeta, name: str) -> dict[str, np.ndarray]:
    """A margins-only frame (attribute, level, share) -> {attribute: share per level, in the model's order};
    a level left out has share 0. Each listed attribute's shares must sum to 1."""
    columns = {str(c).strip().casefold(): c for c in frame.columns}
    if frame.empty:
        raise InputError(f"{name}: no margins")
    margins: dict[str, np.ndarray] = {}
    seen: dict[tuple[str, int], int] = {}
    for i, row in enumerate(frame.itertuples(index=False)):
        line = i + 2
        values = dict(zip(frame.columns, row, strict=True))
        try:
            attr, level = resolve_level(meta.attributes, f"{str(values[columns['attribute']]).strip()}="
                                                         f"{str(values[columns['level']]).strip()}")
        except InputError as exc:
            raise InputError(f"{name}, line {line}: {exc}") from None
        k = meta.attributes[attr].index(level)
        if (attr, k) in seen:
            raise InputError(f"{name}, line {line}: {attr}={level} again (line {seen[(attr, k)]})")
        seen[(attr, k)] = line
        margins.setdefault(attr, np.zeros(len(meta.attributes[attr])))[k] = _share(values[columns["share"]], name,
                                                                                  line)
    for attr, shares in margins.items():
        if abs(shares.sum() - 1) > SHARE_TOLERANCE:
            raise InputError(f"{name}: the shares of {attr} sum to {shares.sum():.6g}, not 1 "
                             f"(tolerance {SHARE_TOLERANCE})")
        margins[attr] = shares / shares.sum()
    return margins


def rake(seed: np.ndarray, cells: np.ndarray, margins: Mapping[int, np.ndarray]) -> np.ndarray:
    """Iterative proportional fitting: the shares (summing to 1) closest to ``seed`` (counts per cell) whose
    margins are ``margins`` ({attribute index: share per level}); ``cells``: (n_cells, n_attributes) level
    indices. A cell with seed 0 stays 0. InputError when a level with a target share has no seed mass or the
    margins cannot all be met on the seed's cells."""
    table = np.asarray(seed, dtype=float) / np.sum(seed)
    for j, target in margins.items():
        have = np.bincount(cells[:, j], weights=table, minlength=len(target))
        empty = (have <= 0) & (target > 0)
        if empty.any():
            raise InputError(f"level {int(np.flatnonzero(empty)[0])} of attribute {j} has a share but no rater")
    for _ in range(RAKE_ITERATIONS):
        worst = 0.0
        for j, target in margins.items():
            have = np.bincount(cells[:, j], weights=table, minlength=len(target))
            worst = max(worst, float(np.abs(have - target).max()))
            factor = np.divide(target, have, out=np.zeros_like(target), where=have > 0)
            table = table * factor[cells[:, j]]
        if worst < RAKE_TOLERANCE:
            return table / table.sum()
    raise InputError("the margins cannot all be met on the cells the survey's raters fill (raking did not "
                     "converge)")


def _raked_composition(frame: pd.DataFrame, meta: ModelMeta, name: str,
                       sample_levels: np.ndarray | None) -> Composition:
    """Margins only: raked from the survey's raters (or every cell equally when they are not known yet)."""
    margins = read_long_margins(frame, meta, name)
    names = list(meta.attributes)
    if sample_levels is None:
        cells = np.array(list(itertools.product(*(range(len(v)) for v in meta.attributes.values()))), dtype=int)
        cells = cells.reshape(len(cells), len(names))
        seed = np.ones(len(cells))
    else:
        cells, seed = np.unique(np.asarray(sample_levels, dtype=int).reshape(-1, len(names)), axis=0,
                                return_counts=True)
    for attr, shares in margins.items():
        have = np.bincount(cells[:, names.index(attr)], weights=seed, minlength=len(shares))
        empty = [lv for lv, h, t in zip(meta.attributes[attr], have, shares, strict=True) if h <= 0 and t > 0]
        if empty:
            raise InputError(f"{name}: no rater of the survey has {attr}={empty[0]}, so raking from the survey's "
                             "raters cannot give it its share; give joint cells instead")
    try:
        shares = rake(seed, cells, {names.index(a): v for a, v in margins.items()})
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from None
    table = pd.DataFrame({a: np.asarray(meta.attributes[a], dtype=object)[cells[:, j]] for j, a in enumerate(names)})
    table["sample_raters"] = seed.astype(int) if sample_levels is not None else 0
    table["small_cell"] = (table["sample_raters"] < meta.min_group_size) if sample_levels is not None else False
    table["sample_share"] = seed / seed.sum()
    table["share"] = shares
    keep = shares > 0
    label = f"{name} ({', '.join(margins)} raked from the survey's raters)"
    return Composition(cells[keep], shares[keep] / shares[keep].sum(), label, table=table)
