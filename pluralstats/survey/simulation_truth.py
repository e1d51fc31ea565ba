"""The truth of a simulated design: the simulator's cutpoints, the expected rating under the cumulative model,
and the expected rating of a new rater of a level (averaged over the survey's items, the rater-effect distribution
and the composition on the other attributes), the contrast definition the rating model estimates, with which
:mod:`.simulate` calibrates planted relative differences to logits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from pluralstats.errors import InputError
from pluralstats.families import Family, get_family

from .simulation_config import PlantedEffect

CUTPOINT_SHIFT = {"toxicity": 0.9, "stereotypical_bias": 1.1, "emotional_awareness": 0.6,
                  "sensitivity": 0.0, "helpfulness": -0.2}


def cutpoints(scale_max: int, dimension: str) -> np.ndarray:
    """The simulator's ordinal cutpoints for ``dimension``: evenly spaced, shifted per dimension."""
    return np.linspace(-1.8, 1.8, scale_max - 1) + CUTPOINT_SHIFT.get(dimension, 0.0)


def expected_rating(eta: np.ndarray, cuts: np.ndarray, family: str | Family | None = None) -> np.ndarray:
    """E[y | eta] under the cumulative model of ``family`` (None: logit): 1 + sum_k P(y > k)."""
    return 1.0 + get_family(family).sf(cuts - eta[..., None]).sum(axis=-1)


class _ContrastTruth:
    """Expected rating of a new rater of a level, averaged over items, rater effects, composition.

    For each dimension the average over items and rater effects is a smooth function of the fixed
    part of eta, F(x) = mean_{i,u} E[y | x + v_i + u]; it is tabulated once on a fine grid (Gauss-Hermite
    nodes for u) and interpolated, which keeps calibration fast and accurate to ~1e-4 rating points.
    """

    GRID = np.linspace(-10.0, 10.0, 801)

    def __init__(self, participants: pd.DataFrame, item_effects: dict, beta: dict, cuts: dict, sigma: float,
                 effects: tuple[PlantedEffect, ...] = (), family: Family | None = None,
                 sigma_by: dict[str, dict[str, float]] | None = None):
        self.participants, self.beta, self.effects = participants, beta, effects
        self.family = get_family(family)
        self.item_effects, self.cuts = item_effects, cuts
        self.sigma, self.sigma_by = sigma, dict(sigma_by or {})
        self.unit_nodes, weights = np.polynomial.hermite_e.hermegauss(11)
        self.weights = weights / weights.sum()
        self.tables: dict[tuple, np.ndarray] = {}

    def table(self, dimension: str, slope: float, sd: float | None = None) -> np.ndarray:
        """F(x) on GRID for raters whose item effects are scaled by ``slope`` and whose own effects have sd
        ``sd`` (default the config's sigma_rater; computed once)."""
        sd = self.sigma if sd is None else sd
        key = (dimension, round(float(slope), 12), round(float(sd), 12))
        if key not in self.tables:
            nodes = sd * self.unit_nodes
            v = slope * self.item_effects[dimension]
            shifts = (v[:, None] + nodes[None, :]).ravel()
            w = np.broadcast_to(self.weights[None, :] / v.size, (v.size, nodes.size)).ravel()
            self.tables[key] = np.concatenate([expected_rating(chunk[:, None] + shifts[None, :], self.cuts[dimension],
                                                               self.family) @ w
                                               for chunk in np.array_split(self.GRID, 8)])
        return self.tables[key]

    def slopes(self, dimension: str, attribute: str | None = None, level: str | None = None) -> np.ndarray:
        """Each participant's slope on ``dimension``, with ``attribute`` set to ``level`` if given."""
        out = np.ones(len(self.participants))
        for eff in self.effects:
            if eff.dimension != dimension or eff.slope_ratio == 1.0:
                continue
            if eff.attribute == attribute:
                out *= eff.slope_ratio if level == eff.level_a else 1.0
            else:
                out *= np.where(self.participants[eff.attribute].to_numpy() == eff.level_a, eff.slope_ratio, 1.0)
        return out

    def sds(self, attribute: str | None = None, level: str | None = None) -> np.ndarray:
        """Each participant's rater-effect sd, with ``attribute`` set to ``level`` if given."""
        out = np.full(len(self.participants), float(self.sigma))
        for attr, by_level in self.sigma_by.items():
            values = self.participants[attr].astype(str).to_numpy()
            if attr == attribute:
                values = np.full(len(values), level)
            out = np.array([by_level.get(v, self.sigma) for v in values], dtype=float)
        return out

    def mean_rating(self, dimension: str, attribute: str, level: str, beta_level: float | None = None) -> float:
        beta_d = self.beta[dimension]
        others = np.zeros(len(self.participants))
        for a, effects in beta_d.items():
            if a != attribute:
                others += self.participants[a].map(effects).to_numpy()
        b = beta_d[attribute][level] if beta_level is None else beta_level
        slopes = self.slopes(dimension, attribute, level)
        sds = self.sds(attribute, level)
        total = 0.0
        for slope, sd in np.unique(np.column_stack([slopes, sds]), axis=0):
            mask = (slopes == slope) & (sds == sd)
            total += np.interp(b + others[mask], self.GRID, self.table(dimension, slope, sd)).sum()
        return float(total / len(self.participants))

    def contrast(self, dimension: str, attribute: str, level_a: str, level_b: str) -> dict:
        mean_a = self.mean_rating(dimension, attribute, level_a)
        mean_b = self.mean_rating(dimension, attribute, level_b)
        return {"dimension": dimension, "attribute": attribute, "level_a": level_a, "level_b": level_b,
                "mean_a": mean_a, "mean_b": mean_b, "diff": mean_a - mean_b,
                "rel_pct": 100.0 * (mean_a / mean_b - 1.0)}

    def calibrate(self, effect: PlantedEffect) -> float:
        """The logit effect of level_a that yields the planted relative difference."""
        mean_b = self.mean_rating(effect.dimension, effect.attribute, effect.level_b)
        target = mean_b * (1 + effect.rel_pct / 100.0)

        def gap(b: float) -> float:
            return self.mean_rating(effect.dimension, effect.attribute, effect.level_a, b) - target

        lo, hi = gap(-8.0) + target, gap(8.0) + target
        if not lo < target < hi:
            # small designs: the item effects and the other planted effects leave no room on the scale
            raise InputError(
                f"impossible design: the planted {effect.rel_pct:+g}% on {effect.dimension} "
                f"({effect.attribute}={effect.level_a} vs {effect.level_b}) needs a mean rating of {target:.2f}, "
                f"but only {lo:.2f}..{hi:.2f} can be reached with these participants and responses; "
                "use more participants (--participants) or prompts (--prompts-per-language)")
        return float(brentq(gap, -8.0, 8.0, xtol=1e-8))
