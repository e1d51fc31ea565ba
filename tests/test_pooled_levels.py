"""Partially pooled attribute levels: a tiny group is shrunk toward its attribute's mean, not the reference."""

from __future__ import annotations

import numpy as np
import pytest

from pluralstats.models import fit_survey
from pluralstats.survey.simulate import SimulationConfig, simulate_survey

# five levels, no planted effect, one level with ~3 raters: its fixed-effect estimate is noise around 0
SHARES = {"race_ethnicity": {"white": 0.4, "black": 0.2, "hispanic": 0.2, "asian": 0.18, "other": 0.02}}
DESIGN = SimulationConfig(n_participants=150, prompts_per_language=6, responses_per_prompt=3,
                          prompts_per_participant=3, attribute_shares=SHARES, other_effect_sd=0.0, effects=())
FIT = {"dimensions": ["toxicity"], "attributes": ["race_ethnicity"], "draws": 500, "tune": 400, "chains": 2,
       "seed": 1, "progress": False, "check": False}


@pytest.fixture(scope="module")
def fits():
    survey = simulate_survey(DESIGN, seed=5).survey
    n_small = int((survey.participants.race_ethnicity == "other").sum())
    return n_small, fit_survey(survey, **FIT), fit_survey(survey, pooled_levels=True, **FIT)


def _centred(idata) -> np.ndarray:
    """Draws of beta_race_ethnicity[toxicity, .] minus their mean over levels: (sample, level)."""
    beta = idata.posterior["beta_race_ethnicity"].stack(s=("chain", "draw")).transpose("s", ...).to_numpy()[:, 0]
    return beta - beta.mean(axis=1, keepdims=True)


@pytest.mark.slow  # two fits: about 45 s on 2 cores
def test_small_level_shrinks_toward_the_attribute_mean(fits):
    n_small, fixed, pooled = fits
    assert 1 <= n_small <= 5  # a level of a few raters, as the option is meant for
    small = list(pooled.posterior["race_ethnicity_level"].to_numpy()).index("other")
    f, p = _centred(fixed)[:, small], _centred(pooled)[:, small]
    # pooled: pulled toward the attribute mean, and far less uncertain than a fixed effect of ~3 raters
    assert abs(p.mean()) < abs(f.mean()) or abs(p.mean()) < 0.1
    assert p.std() < 0.7 * f.std()
    beta = pooled.posterior["beta_race_ethnicity"].to_numpy()
    assert np.abs(beta.sum(axis=-1)).max() < 1e-6  # zero-sum over levels: no reference level
    assert "tau_level_race_ethnicity" in pooled.posterior and pooled.posterior.attrs["pooled_levels"] == 1
