"""Planted group effects in a simulated survey, checked against the simulation's truth.

The simulator's planted effects are additive shifts of a group's ratings (``eta + beta_group``). In a
cumulative-logit model an additive shift moves every response of a prompt alike, so it leaves each
group's *ordering* of the responses, and therefore its preference pairs, unchanged in expectation:
test 1 checks exactly that. A group effect that preference data can carry must depend on the response;
test 2 plants the strongest such effect (conservative raters reverse the emotional-awareness scale) on
top of the simulated ratings and checks that the two groups' pairs disagree in that direction on that
dimension and agree, with each other and with the true item effects, elsewhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pluralstats.prefs import build_preferences
from pluralstats.survey.simulate import SimulationConfig, simulate_survey
from pluralstats.survey.simulation_config import PlantedEffect

DIMS = ("emotional_awareness", "toxicity", "helpfulness")
SMALL = {"n_participants": 400, "prompts_per_language": 8, "prompts_per_participant": 4}


def directions(survey, group: str, dimension: str, strategy: str = "mean", pairing: str = "across") -> pd.Series:
    """+1 when the lower item id of a pair is chosen, -1 otherwise; indexed by the unordered pair."""
    df, _ = build_preferences(survey, strategy=strategy, groups=[group], objective=dimension, eval_fraction=0.0,
                              pairing=pairing)
    low = df[["chosen_item_id", "rejected_item_id"]].min(axis=1)
    high = df[["chosen_item_id", "rejected_item_id"]].max(axis=1)
    return pd.Series(np.where(df.chosen_item_id == low, 1, -1), index=pd.MultiIndex.from_arrays([low, high]))


def truth_agreement(sim, dimension: str, sides: pd.Series) -> float:
    """Share of pairs whose chosen response has the better true item effect (polarity applied)."""
    effect = pd.Series(sim.truth["item_effects"][dimension])
    sign = sim.survey.config.dimensions[dimension].sign
    low, high = sides.index.get_level_values(0), sides.index.get_level_values(1)
    true_side = np.where(sign * (effect[low].to_numpy() - effect[high].to_numpy()) > 0, 1, -1)
    return float((true_side == sides.to_numpy()).mean())


def agreement(a: pd.Series, b: pd.Series) -> float:
    both = a.index.intersection(b.index)
    return float((a[both] == b[both]).mean())


def test_additive_planted_shift_leaves_pair_directions_unchanged():
    effect = PlantedEffect("emotional_awareness", "political", "conservative", "liberal", 40.0)
    sim = simulate_survey(SimulationConfig(**SMALL, effects=(effect,)), seed=4)
    for dim in DIMS:
        lib, con = directions(sim.survey, "liberal", dim), directions(sim.survey, "conservative", dim)
        assert agreement(lib, con) > 0.8, dim
        assert truth_agreement(sim, dim, lib) > 0.8 and truth_agreement(sim, dim, con) > 0.8, dim


@pytest.fixture(scope="module")
def reversed_sim():
    sim = simulate_survey(SimulationConfig(**SMALL, effects=()), seed=5)
    ratings = sim.survey.ratings
    conservative = set(sim.survey.participants.participant_id[sim.survey.participants.political == "conservative"])
    planted = ratings.participant_id.isin(conservative) & (ratings.dimension == "emotional_awareness")
    ratings.loc[planted, "rating"] = sim.survey.config.scale_max + 1 - ratings.loc[planted, "rating"]
    return sim


@pytest.mark.parametrize(("strategy", "pairing"), [("mean", "across"), ("majority", "across"), ("mean", "within")])
def test_response_dependent_planted_effect_shows_in_the_planted_direction(reversed_sim, strategy, pairing):
    sim = reversed_sim
    lib = {d: directions(sim.survey, "liberal", d, strategy, pairing) for d in DIMS}
    con = {d: directions(sim.survey, "conservative", d, strategy, pairing) for d in DIMS}
    ea = "emotional_awareness"
    # affected dimension: liberals follow the true item effects, conservatives the reverse
    assert truth_agreement(sim, ea, lib[ea]) > 0.8
    assert truth_agreement(sim, ea, con[ea]) < 0.2
    assert agreement(lib[ea], con[ea]) < 0.2
    # unaffected dimensions: both follow the truth and each other
    for dim in ("toxicity", "helpfulness"):
        assert agreement(lib[dim], con[dim]) > 0.8, dim
        assert min(truth_agreement(sim, dim, lib[dim]), truth_agreement(sim, dim, con[dim])) > 0.8, dim
