"""The tuned-model side of compare: model differences from shift draws, and agreement with the survey."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from pluralstats.errors import InputError
from pluralstats.evaluate.compare_models import agreement, model_name_for, model_side
from pluralstats.evaluate.shift import ShiftFit


def known_fit(seed: int = 0) -> ShiftFit:
    """A posterior with known draws: control mean 2.0; liberal -0.4, conservative -0.1 on toxicity."""
    rng = np.random.default_rng(seed)
    chains, draws = 2, 2000
    beta = np.empty((chains, draws, 2, 2))  # tuned (conservative, liberal) x dimension
    beta[..., 0, 0] = rng.normal(-0.1, 0.05, (chains, draws))
    beta[..., 1, 0] = rng.normal(-0.4, 0.05, (chains, draws))
    beta[..., :, 1] = rng.normal(0.2, 0.05, (chains, draws, 2))
    mu = np.stack([np.full((chains, draws), 2.0), np.full((chains, draws), 3.0)], axis=-1)
    idata = az.from_dict(posterior={"beta": beta, "mu": mu},
                         coords={"tuned": ["conservative", "liberal"], "dimension": ["toxicity", "helpfulness"]},
                         dims={"beta": ["tuned", "dimension"], "mu": ["dimension"]})
    return ShiftFit(idata, ["control", "conservative", "liberal"], ["toxicity", "helpfulness"], "control")


def test_model_side_is_difference_of_shifts_in_points_and_percent():
    side = model_side(known_fit(), "liberal", "conservative").set_index("dimension")
    tox = side.loc["toxicity"]
    assert tox["diff"] == pytest.approx(-0.3, abs=0.01)
    assert tox.lo < -0.3 < tox.hi and tox.hi < 0
    # percent of the conservative model's expected toxicity (2.0 - 0.1 = 1.9)
    assert tox.model_rel_pct == pytest.approx(100 * -0.3 / 1.9, abs=0.6)
    assert len(tox.draws) == 4000
    assert side.loc["helpfulness", "lo"] < 0 < side.loc["helpfulness", "hi"]


def test_agreement_same_sign_ratio_and_gap():
    rng = np.random.default_rng(1)
    survey = rng.normal(-0.6, 0.05, 4000)
    same = agreement(survey, rng.normal(-0.3, 0.05, 4000))
    assert same["p_same_sign"] > 0.99
    assert same["ratio"] == pytest.approx(0.5, abs=0.03) and same["ratio_lo"] < 0.5 < same["ratio_hi"]
    assert same["gap"] == pytest.approx(0.3, abs=0.01)
    opposite = agreement(survey, rng.normal(0.3, 0.05, 4000))
    assert opposite["p_same_sign"] < 0.01 and opposite["ratio"] < 0
    unsure = agreement(survey, rng.normal(0.0, 0.05, 4000))
    assert 0.3 < unsure["p_same_sign"] < 0.7


def test_model_names_match_groups():
    models = ["control", "political=liberal", "conservative"]
    assert model_name_for("liberal", models) == "political=liberal"
    assert model_name_for("political=conservative", models) == "conservative"
    with pytest.raises(InputError, match="No single evaluated model"):
        model_name_for("female", models)
