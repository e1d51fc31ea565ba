"""The rater model: expected rating per dimension for a (prompt, response), overall and for a group.

Fitted on the survey's ratings of *train* prompts only (``prompt_split``). Per dimension:

* **overall head**: ridge regression (penalty by generalised cross-validation) of each item's mean
  rating on text features (:mod:`pluralstats.evaluate.features`), items weighted by rating count;
* **group heads** (partial pooling): for every level of every demographic attribute with at least
  ``min_raters`` raters, a ridge regression of that group's item means on the same features, fitted
  to the *residual* from the overall head, so a small group's head is shrunk toward the overall one.
  A group given as several attributes (``{"political": "liberal", "gender": "male"}``) adds their
  deltas (as the rating model's additive attribute effects do).

Predictions are expected ratings on the survey's 1..scale_max scale, clipped to it. The held-out
Spearman correlation (``heldout_spearman``) is between predicted and observed item means on the
evaluation prompts, per dimension (for the fit's group when one is given).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.io import atomic_path
from pluralstats.survey.split import prompt_split

from .features import pair_features, resolve_encoder

ALPHAS = np.logspace(-2, 3, 12)
Group = dict[str, str] | str | None


#: fewest held-out items a Spearman correlation is computed on
MIN_HELDOUT_ITEMS = 3


def _require_group_size(train: pd.DataFrame, group: dict[str, str] | None, k: int) -> None:
    """InputError when the default group has fewer than ``k`` raters on the training prompts: it would get no
    head of its own (its predictions would be everyone's) and too few people to speak for (never the count)."""
    if not group:
        return
    members = train
    for attribute, level in group.items():
        members = members[members[attribute].astype(str) == level]
    if members.participant_id.nunique() < k:
        label = "&".join(f"{a}={lv}" for a, lv in group.items())
        raise InputError(f"--group {label} has fewer than k={k} raters on the training prompts: the rater cannot "
                         "be fitted for it (pick a larger group, or leave --group out)")


@dataclass
class _Head:
    coef: np.ndarray
    intercept: float


def _ridge(Z: np.ndarray, basis: np.ndarray, y: np.ndarray, w: np.ndarray) -> _Head:
    """Ridge in the training rows' span ``Z = X @ basis.T``; the coefficients are mapped back to X's space.

    A ridge solution always lies in the span of the training rows, so this is exact and much faster
    when features outnumber items.
    """
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=ALPHAS).fit(Z, y, sample_weight=w)
    return _Head((basis.T @ model.coef_).astype(np.float32), float(model.intercept_))


def _row_basis(X: np.ndarray) -> np.ndarray:
    """Orthonormal basis (rows) of the span of X's rows, centred and uncentred directions both kept."""
    _, s, vt = np.linalg.svd(np.vstack([X, X.mean(0, keepdims=True)]), full_matrices=False)
    return vt[s > s[0] * 1e-6]


def _item_means(ratings: pd.DataFrame) -> pd.DataFrame:
    return ratings.groupby(["dimension", "item_id"]).rating.agg(["mean", "size"]).reset_index()


@dataclass
class RaterModel:
    """Rates (prompt, response) texts on the survey's dimensions; see the module docstring."""

    dimensions: list[str]
    scale_max: int
    encoder: str
    heads: dict[str, dict[str, _Head]] = field(default_factory=dict)  # "overall" | "attr=level" -> dim -> head
    levels: dict[str, list[str]] = field(default_factory=dict)
    polarity: dict[str, str] = field(default_factory=dict)
    default_group: dict[str, str] | None = None
    heldout_spearman: dict[str, float] = field(default_factory=dict)
    n_train_items: int = 0

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, survey, *, group: Group = None, split: pd.Series | None = None, seed: int = 0,
            encoder: str = "auto", min_raters: int = 5) -> RaterModel:
        """Fit on train prompts (``split``: prompt_id -> train/eval; default ``prompt_split(seed)``)."""
        split = prompt_split(survey.items, 0.2, seed) if split is None else split
        items = survey.items.assign(side=survey.items.prompt_id.map(split).fillna("train"))
        encoder = resolve_encoder(encoder)
        train_ids = set(items.item_id[items.side == "train"])
        ratings = survey.ratings_with_attributes()
        model = cls(dimensions=list(survey.dimensions), scale_max=survey.config.scale_max, encoder=encoder,
                    levels={a: survey.levels(a) for a in survey.attributes},
                    polarity={d: v.polarity for d, v in survey.config.dimensions.items()},
                    n_train_items=len(train_ids))
        model.default_group = model.resolve_group(group)
        train = ratings[ratings.item_id.isin(train_ids)]
        _require_group_size(train, model.default_group, max(min_raters, survey.config.min_group_size))
        X = pair_features(list(items.prompt), list(items.response), encoder)  # after the checks: it is the slow part
        row = pd.Series(np.arange(len(items)), index=items.item_id)
        basis = _row_basis(X[row[sorted(train_ids)]])
        Z = X @ basis.T
        overall = _item_means(train)
        model.heads["overall"] = {}
        for dim in model.dimensions:
            m = overall[overall.dimension == dim]
            model.heads["overall"][dim] = _ridge(Z[row[m.item_id]], basis, m["mean"].to_numpy(), m["size"].to_numpy())
        for attribute, levels in model.levels.items():
            for level in levels:
                members = train[train[attribute].astype(str) == level]
                if members.participant_id.nunique() < min_raters:
                    continue
                means = _item_means(members)
                heads = {}
                for dim in model.dimensions:
                    m = means[means.dimension == dim]
                    idx = row[m.item_id].to_numpy()
                    residual = m["mean"].to_numpy() - model._apply(X[idx], dim, None)
                    heads[dim] = _ridge(Z[idx], basis, residual, m["size"].to_numpy())
                model.heads[f"{attribute}={level}"] = heads
        model.heldout_spearman = model._heldout(ratings, items, X, row)
        return model

    def _heldout(self, ratings, items, X, row) -> dict[str, float]:
        """Spearman of predicted and observed held-out item means per dimension (the default group's raters);
        NaN where fewer than :data:`MIN_HELDOUT_ITEMS` held-out items were rated."""
        from scipy.stats import spearmanr

        held = ratings[ratings.item_id.isin(items.item_id[items.side == "eval"])]
        for attribute, level in (self.default_group or {}).items():
            held = held[held[attribute].astype(str) == level]
        means = _item_means(held)
        out = {}
        for dim in self.dimensions:
            m = means[means.dimension == dim]
            if len(m) < MIN_HELDOUT_ITEMS:
                out[dim] = float("nan")
                continue
            pred = self._apply(X[row[m.item_id]], dim, self.default_group)
            out[dim] = float(spearmanr(pred, m["mean"]).statistic)
        return out

    # ------------------------------------------------------------------ predicting
    def resolve_group(self, group: Group) -> dict[str, str] | None:
        """``{"political": "liberal"}``, ``"political=liberal"`` or ``"liberal"`` -> a dict (None: overall)."""
        if group is None or group == {} or group == "all":
            return None
        if isinstance(group, str):
            parts = [g.strip() for g in group.split(",") if g.strip()]
            resolved = {}
            for part in parts:
                if "=" in part:
                    attribute, level = (s.strip() for s in part.split("=", 1))
                else:
                    holders = [a for a, lv in self.levels.items() if part in lv]
                    if len(holders) != 1:
                        raise InputError(f"Group '{part}' is {'ambiguous' if holders else 'unknown'}; "
                                         f"known: {self._listing()}")
                    attribute, level = holders[0], part
                resolved[attribute] = level
            group = resolved
        for attribute, level in group.items():
            if level not in self.levels.get(attribute, []):
                raise InputError(f"Unknown group {attribute}={level}; known: {self._listing()}")
        return dict(group)

    def _listing(self) -> str:
        return "; ".join(f"{a}: {', '.join(v)}" for a, v in self.levels.items())

    def _apply(self, X: np.ndarray, dim: str, group: dict[str, str] | None) -> np.ndarray:
        head = self.heads["overall"][dim]
        pred = X @ head.coef + head.intercept
        for attribute, level in (group or {}).items():
            delta = self.heads.get(f"{attribute}={level}", {}).get(dim)
            if delta is not None:  # a group too small for its own head falls back to overall
                pred = pred + X @ delta.coef + delta.intercept
        return pred

    def predict(self, prompts: list[str], responses: list[str], group: Group = None) -> pd.DataFrame:
        """Expected rating (1..scale_max) per dimension, one row per (prompt, response)."""
        if len(prompts) != len(responses):
            raise ValueError("prompts and responses must have the same length")
        resolved = self.resolve_group(group) if group is not None else self.default_group
        if not responses:
            return pd.DataFrame(columns=self.dimensions, dtype=float)
        X = pair_features(list(prompts), list(responses), self.encoder)
        return pd.DataFrame({d: np.clip(self._apply(X, d, resolved), 1, self.scale_max)
                             for d in self.dimensions})

    def utility(self, prompts: list[str], responses: list[str], weights: dict[str, float],
                group: Group = None) -> np.ndarray:
        """Polarity-aware weighted score in [0, 1]: 1 is best on every weighted dimension."""
        unknown = set(weights) - set(self.dimensions)
        if unknown:
            raise InputError(f"Unknown dimensions {sorted(unknown)}; known: {', '.join(self.dimensions)}")
        pred = self.predict(prompts, responses, group)
        total = sum(abs(w) for w in weights.values()) or 1.0
        return sum(w * self.utility_from(pred, d) for d, w in weights.items()) / total

    def utility_from(self, predictions: pd.DataFrame, dimension: str) -> np.ndarray:
        """One dimension's predicted rating mapped to [0, 1] with its polarity (1 = best)."""
        scaled = (predictions[dimension].to_numpy() - 1) / (self.scale_max - 1)
        return scaled if self.polarity.get(dimension, "higher_is_better") == "higher_is_better" else 1 - scaled

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write ``rater.json`` and ``heads.npz`` atomically into ``folder``."""
        arrays = {}
        for key, heads in self.heads.items():
            for dim, head in heads.items():
                arrays[f"{key}|{dim}|coef"] = head.coef
                arrays[f"{key}|{dim}|intercept"] = np.array([head.intercept])
        meta = {"dimensions": self.dimensions, "scale_max": self.scale_max, "encoder": self.encoder,
                "levels": self.levels, "polarity": self.polarity, "default_group": self.default_group,
                "heldout_spearman": self.heldout_spearman, "n_train_items": self.n_train_items,
                "heads": sorted(self.heads)}
        with atomic_path(folder, is_dir=True) as tmp:
            np.savez(tmp / "heads.npz", **arrays)
            (tmp / "rater.json").write_text(json.dumps(meta, indent=2) + "\n")
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path) -> RaterModel:
        """A rater model saved with ``save`` (``rater.json`` and ``heads.npz`` in ``folder``); InputError if not one."""
        folder = Path(folder)
        if not (folder / "rater.json").exists():
            raise InputError(f"{folder} is not a saved rater model (no rater.json)")
        meta = json.loads((folder / "rater.json").read_text())
        arrays = np.load(folder / "heads.npz")
        heads: dict[str, dict[str, _Head]] = {}
        for key in meta["heads"]:
            heads[key] = {d: _Head(arrays[f"{key}|{d}|coef"], float(arrays[f"{key}|{d}|intercept"][0]))
                          for d in meta["dimensions"] if f"{key}|{d}|coef" in arrays}
        return cls(dimensions=meta["dimensions"], scale_max=meta["scale_max"], encoder=meta["encoder"],
                   heads=heads, levels=meta["levels"], polarity=meta["polarity"],
                   default_group=meta["default_group"], heldout_spearman=meta["heldout_spearman"],
                   n_train_items=meta["n_train_items"])
