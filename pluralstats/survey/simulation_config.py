"""What to simulate: :class:`SimulationConfig` (the design, defaults at the study's scale), the planted group
effects (:class:`PlantedEffect`, the study's :data:`PAPER_EFFECTS`), the simulated attributes' level shares and
reference levels, and the named designs ``simulate --preset`` knows (:data:`PRESETS`).

The generator that draws a survey from a config is :mod:`.simulate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pluralstats.families import DEFAULT_FAMILY

ATTRIBUTE_SHARES: dict[str, dict[str, float]] = {
    "gender": {"female": 0.5, "male": 0.47, "non_binary": 0.03},
    "race_ethnicity": {"white": 0.55, "black": 0.2, "asian": 0.1, "hispanic": 0.1, "other": 0.05},
    "political": {"liberal": 0.5, "conservative": 0.5},
    "age_group": {"18-29": 0.25, "30-44": 0.3, "45-59": 0.25, "60+": 0.2},
    "education": {"secondary": 0.35, "bachelor": 0.4, "graduate": 0.25},
}
REFERENCE_LEVELS = {"gender": "female", "race_ethnicity": "white", "political": "liberal", "politics": "democrat",
                    "race": "white",
                    "age_group": "30-44", "education": "bachelor", "country": "us"}


@dataclass(frozen=True)
class PlantedEffect:
    """Raters of ``level_a`` rate ``dimension`` ``rel_pct`` percent higher than ``level_b`` (the reference)."""

    dimension: str
    attribute: str
    level_a: str
    level_b: str
    rel_pct: float
    slope_ratio: float = 1.0  # level_a raters' sensitivity to response quality on this dimension


def with_interactions(effects: tuple[PlantedEffect, ...], slope_ratio: float = 0.7) -> tuple[PlantedEffect, ...]:
    """The same planted effects, each group also following response quality ``slope_ratio`` times as much."""
    return tuple(PlantedEffect(e.dimension, e.attribute, e.level_a, e.level_b, e.rel_pct, slope_ratio)
                 for e in effects)


PAPER_EFFECTS = (
    PlantedEffect("toxicity", "gender", "male", "female", -18.0),
    PlantedEffect("emotional_awareness", "political", "conservative", "liberal", 27.9),
    PlantedEffect("emotional_awareness", "race_ethnicity", "black", "white", 44.0),
)


@dataclass(frozen=True)
class SimulationConfig:
    """How to simulate a survey (defaults: the study's scale). Participants each rate
    ``prompts_per_participant`` prompts x ``responses_per_prompt`` responses of their language on every dimension;
    ``share_us`` of them are in the US (English), the rest in Germany. Ratings follow an ordinal model with the
    planted ``effects``, other attribute effects ~ N(0, ``other_effect_sd``), rater and item effects with sds
    ``sigma_rater`` and ``sigma_item`` and an item quality slope ``item_slope``; ``disagreement_sd`` > 0 adds group
    x item terms for ``disagreement_attributes``; ``family`` is the latent error's distribution (a name in
    :mod:`pluralstats.families`; ``logit`` is the rating model's default)."""

    n_participants: int = 1095
    prompts_per_participant: int = 5
    responses_per_prompt: int = 5
    prompts_per_language: int = 40
    share_us: float = 0.55
    scale_max: int = 5
    effects: tuple[PlantedEffect, ...] = PAPER_EFFECTS
    other_effect_sd: float = 0.08
    sigma_rater: float = 0.7
    sigma_item: float = 0.4
    item_slope: float = 0.9
    min_group_size: int = 5
    attribute_shares: dict[str, dict[str, float]] = field(default_factory=lambda: ATTRIBUTE_SHARES)
    #: sd (tau, logits) of the planted group x item terms of the attributes in ``disagreement_attributes``
    disagreement_sd: float = 0.0
    disagreement_attributes: tuple[str, ...] | None = None  # None: every attribute in ``attribute_shares``
    family: str = DEFAULT_FAMILY
    #: rater-effect sds of some levels of one attribute, e.g. ``{"political": {"conservative": 1.6}}`` (the other
    #: levels keep ``sigma_rater``); what ``fit-survey --rater-variance-by`` estimates
    sigma_rater_by: dict[str, dict[str, float]] = field(default_factory=dict)
    #: the dimensions rated (None: the study's five)
    dimensions: tuple[str, ...] | None = None
    #: per-attribute sds of planted group x item terms; when given, instead of ``disagreement_sd`` and
    #: ``disagreement_attributes``
    disagreement_by: dict[str, float] = field(default_factory=dict)


#: a stand-in for a public binary toxicity export: one binary dimension, 545 raters who each rate 24 of 120
#: comments (one language), politics in three groups of about 50/35/15%, gender, race with two tiny groups,
#: item sd 3 and rater sd 1 (logits), group x item disagreement sd 0.27 (politics) and 0.12 (gender)
BINARY_TOXICITY = dict(
    n_participants=545, prompts_per_language=60, responses_per_prompt=2, prompts_per_participant=12,
    share_us=1.0, scale_max=2, effects=(), sigma_item=3.0, item_slope=0.0, sigma_rater=1.0,
    dimensions=("toxicity",), disagreement_by={"politics": 0.27, "gender": 0.12},
    attribute_shares={"politics": {"democrat": 0.5, "independent": 0.35, "republican": 0.15},
                      "gender": {"female": 0.5, "male": 0.5},
                      "race": {"white": 0.62, "black": 0.2, "asian": 0.15, "native": 0.015, "pacific": 0.015}},
)

#: named designs ``simulate --preset`` knows
PRESETS = {"binary-toxicity": BINARY_TOXICITY}
