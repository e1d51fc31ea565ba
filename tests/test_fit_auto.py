"""Sampler choices fit_survey makes from the data: tuning length, parametrisations, dimensions apart (the gate's
top-ups: tests/test_gate.py)."""

from __future__ import annotations

from pluralstats.models.data import build_model_data
from pluralstats.models.fit import LONG_TUNE, choose_backend, default_tune, fit_survey
from pluralstats.models.rating import use_centred, use_centred_raters
from pluralstats.samplers import get_sampler
from pluralstats.survey.simulate import SimulationConfig, simulate_survey

FEW_PER_RATER = SimulationConfig(n_participants=80, prompts_per_language=6, responses_per_prompt=4,
                                 prompts_per_participant=3)  # 12 ratings per rater and dimension
MANY_PER_RATER = SimulationConfig(n_participants=40, prompts_per_language=12, responses_per_prompt=5,
                                  prompts_per_participant=10)  # 50 (17 per item)
BOTH_PINNED = SimulationConfig(n_participants=100, prompts_per_language=5, responses_per_prompt=4,
                               prompts_per_participant=5)  # 20 per rater, 50 per item


def test_tuning_is_longer_when_raters_give_many_ratings():
    few = build_model_data(simulate_survey(FEW_PER_RATER, seed=0).survey, ["toxicity"], None)
    many = build_model_data(simulate_survey(MANY_PER_RATER, seed=0).survey, ["toxicity"], None)
    assert default_tune(few, "nutpie") == (get_sampler("nutpie").default_tune, "")
    tune, why = default_tune(many, "nutpie")
    assert tune == LONG_TUNE and "50 ratings each" in why
    assert default_tune(many, "pymc") == (get_sampler("pymc").default_tune, "")  # PyMC's own adaptation is already long


def test_auto_backend_is_jax_for_one_dimension_and_numba_for_several(monkeypatch):
    survey = simulate_survey(FEW_PER_RATER, seed=0).survey
    one = build_model_data(survey, ["toxicity"], None)
    two = build_model_data(survey, ["toxicity", "emotional_awareness"], None)
    assert choose_backend(one)[0] == "jax" and choose_backend(two) == ("nutpie", "")
    monkeypatch.setitem(__import__("sys").modules, "jax", None)  # JAX not installed: numba, and it says why
    backend, why = choose_backend(one)
    assert backend == "nutpie" and "not installed" in why


def test_rater_effects_are_centred_only_for_one_dimension_at_a_time_with_both_effects_pinned():
    few = build_model_data(simulate_survey(FEW_PER_RATER, seed=0).survey, ["toxicity"], None)
    pinned = build_model_data(simulate_survey(BOTH_PINNED, seed=0).survey, ["toxicity"], None)
    assert use_centred(pinned, "item") and not use_centred(few, "item")
    assert not use_centred_raters(few, one_dimension=True, centred_items=True)  # 12 ratings each: the funnel
    assert use_centred_raters(pinned, one_dimension=True, centred_items=True)
    assert not use_centred_raters(pinned, one_dimension=True, centred_items=False)  # items loose (POPQUORN)
    assert not use_centred_raters(pinned, one_dimension=False, centred_items=True)  # several dimensions at once
    pinned.meta.rater_variance_by = "political"  # an sd per level: only the non-centred form has it
    assert not use_centred_raters(pinned, one_dimension=True, centred_items=True)


def test_choices_from_the_data_are_made_and_recorded():
    survey = simulate_survey(BOTH_PINNED, seed=0).survey
    settings = {"dimensions": ["toxicity", "helpfulness"], "attributes": ["political"], "backend": "jax",
                "draws": 30, "tune": 30, "seed": 0, "progress": False, "check": False}
    auto = fit_survey(survey, **settings)
    attrs = auto.posterior.attrs
    assert attrs["split_dimensions"] == 1 and attrs["centered_raters"] == 1
    assert "one at a time" in attrs["auto_choices"] and "centred rater effects: raters give 20" in attrs["auto_choices"]
    assert "rater_effect_t" not in auto.posterior  # a sampling device, not a result
    whole = fit_survey(survey, **settings, split_dimensions=False)
    assert whole.posterior.attrs["split_dimensions"] == 0 and whole.posterior.attrs["centered_raters"] == 0
    joint = fit_survey(survey, **settings, joint=True)
    assert joint.posterior.attrs["split_dimensions"] == 0 and joint.posterior.attrs["centered_raters"] == 0
    loose_items = fit_survey(survey, **settings, centered_items=False)
    assert loose_items.posterior.attrs["centered_raters"] == 0
    few = fit_survey(simulate_survey(FEW_PER_RATER, seed=0).survey, **settings)
    assert few.posterior.attrs["split_dimensions"] == 1 and few.posterior.attrs["centered_raters"] == 0
