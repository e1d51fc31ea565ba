"""Sampler choices fit_survey makes from the data: tuning length, and more chains when only ESS falls short."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pluralstats.models import fit
from pluralstats.models.data import build_model_data
from pluralstats.models.diagnostics import Diagnostics, diagnose
from pluralstats.models.fit import DEFAULT_TUNE, LONG_TUNE, default_tune, fit_survey, more_chains_may_pass
from pluralstats.models.rating import use_centred, use_centred_raters
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
    assert default_tune(few, "nutpie") == (DEFAULT_TUNE["nutpie"], "")
    tune, why = default_tune(many, "nutpie")
    assert tune == LONG_TUNE and "50 ratings each" in why
    assert default_tune(many, "pymc") == (DEFAULT_TUNE["pymc"], "")  # PyMC's own adaptation is already long


def _diag(r_hat=1.0, ess=1000.0, divergences=0, bfmi=0.9, treedepth=0.0) -> Diagnostics:
    table = pd.DataFrame({"name": ["a", "b"], "kind": "parameter", "r_hat": [1.0, r_hat],
                          "ess_bulk": [900.0, ess], "ess_tail": [900.0, 800.0]})
    problems = ["x"] if (r_hat > 1.01 or ess < 400 or divergences or bfmi < 0.3 or treedepth > 0.01) else []
    return Diagnostics(table, divergences, problems=problems, min_bfmi=bfmi, treedepth_share=treedepth)


@pytest.mark.parametrize(("diag", "expected"), [
    (_diag(ess=250.0), True),  # ESS alone: more draws help
    (_diag(), False),  # passed: nothing to add
    (_diag(r_hat=1.03), True),  # more chains estimate R-hat better; chains that disagree keep it high
    (_diag(ess=250.0, r_hat=1.2), False),  # far apart: not a matter of draws
    (_diag(ess=250.0, divergences=2), False),
    (_diag(ess=250.0, bfmi=0.2), False),
    (_diag(ess=250.0, treedepth=0.05), False),
])
def test_only_an_ess_or_rhat_shortfall_earns_more_chains(diag, expected):
    assert more_chains_may_pass(diag) is expected


@pytest.fixture(scope="module")
def few_survey():
    return simulate_survey(FEW_PER_RATER, seed=1).survey


def test_chains_are_added_until_the_gate_passes_or_the_cap(few_survey, monkeypatch):
    # 40 draws per chain cannot reach ESS 400 with two chains; so few draws can give an R-hat beyond what the
    # decision (tested above) tops up: here only the adding is under test. JAX compiles in seconds.
    monkeypatch.setattr(fit, "TOP_UP_MAX_RHAT", 2.0)
    settings = {"dimensions": ["toxicity"], "backend": "jax", "draws": 40, "tune": 100, "seed": 2, "progress": False}
    capped = fit_survey(few_survey, **settings, max_chains=4)
    assert capped.posterior.sizes["chain"] == 4
    assert list(capped.posterior["chain"].to_numpy()) == [0, 1, 2, 3]
    assert capped.sample_stats.sizes["chain"] == 4
    assert "2 more chains" in capped.posterior.attrs["auto_choices"]
    first_two = fit_survey(few_survey, **settings, max_chains=2)
    assert first_two.posterior.sizes["chain"] == 2 and first_two.posterior.attrs["auto_choices"] == ""
    # the added chains come after the first ones, which are kept as they were
    np.testing.assert_array_equal(capped.posterior["sigma_rater"].isel(chain=[0, 1]).to_numpy(),
                                  first_two.posterior["sigma_rater"].to_numpy())
    # the added chains are independent draws, not copies
    assert not np.array_equal(capped.posterior["sigma_rater"].isel(chain=2).to_numpy(),
                              capped.posterior["sigma_rater"].isel(chain=0).to_numpy())
    assert diagnose(capped).table.ess_bulk.min() > diagnose(first_two).table.ess_bulk.min()


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
