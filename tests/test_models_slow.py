"""Slow checks of the rating models: paper-scale recovery, joint model, binary scale (run with -m slow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pluralstats.models import all_contrasts, category_probabilities, diagnose, fit_survey, group_contrasts
from pluralstats.survey.simulate import SimulationConfig, simulate_survey
from pluralstats.survey.simulation_config import PlantedEffect

pytestmark = pytest.mark.slow


def test_paper_scale_recovery():
    """All five dimensions at paper scale, default sampler settings: the fit passes its own gate (R-hat <= 1.01,
    bulk and tail ESS >= 400 on every parameter and contrast, no divergences, E-BFMI, tree depth), every
    planted contrast is covered with the right sign."""
    sim = simulate_survey(SimulationConfig(), seed=0)
    idata = fit_survey(sim.survey, progress=False)
    diag = diagnose(idata)
    assert diag.ok, diag.problems
    assert idata.posterior.attrs["diagnostics_status"] == "passed"
    est = all_contrasts(idata)
    truth = pd.DataFrame(sim.truth["contrasts"])
    merged = est.merge(truth, on=["dimension", "attribute", "level_a", "level_b"], suffixes=("", "_true"))
    for eff in sim.truth["planted"]:
        row = merged[(merged.dimension == eff["dimension"]) & (merged.level_a == eff["level_a"])
                     & (merged.attribute == eff["attribute"])].iloc[0]
        assert row.diff_lo <= row.diff_true <= row.diff_hi
        assert np.sign(row["diff"]) == np.sign(row.diff_true)
    assert ((merged.diff_lo <= merged.diff_true) & (merged.diff_true <= merged.diff_hi)).mean() > 0.85


def test_joint_binary_model():
    """A 2-point scale uses one cut point; the joint model estimates a rater correlation matrix."""
    cfg = SimulationConfig(n_participants=100, prompts_per_language=4, responses_per_prompt=3,
                           prompts_per_participant=2, scale_max=2,
                           effects=(PlantedEffect("toxicity", "gender", "male", "female", -15.0),))
    sim = simulate_survey(cfg, seed=0)
    idata = fit_survey(sim.survey, dimensions=["toxicity", "emotional_awareness"], attributes=["gender", "political"],
                       draws=300, tune=300, joint=True, progress=False)
    assert idata.posterior["cutpoints"].sizes["cutpoint"] == 1
    assert idata.posterior["rater_corr"].shape[-2:] == (2, 2)
    row = group_contrasts(idata, "gender", "male", "female", ["toxicity"]).iloc[0]
    assert row.diff_hi < 0  # the planted -15% is found
    assert category_probabilities(idata, "toxicity", {"gender": "male"}).shape[-1] == 2
