"""Hostile inputs to the commands downstream of the bundle (prefs, fit, finetune, plot, describe, simulate,
contrasts, evaluate, report), plus the valid inputs that used to fail.

Each bad case asserts, through ``run_bad``, exit code 2 and a message naming the culprit.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from pluralstats.models import fit as fit_module
from pluralstats.prefs import build_preferences
from pluralstats.simulate import simulate_survey
from tests.hostile.conftest import SMALL

# --- valid input that used to fail --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_preserve_weights_build_and_lie_in_unit_interval(seed):
    # seed 1 gave a weight of 1.0000000000000002 (a sum of products of shares) that failed the schema
    survey = simulate_survey(SMALL, seed=seed).survey
    pairs, _ = build_preferences(survey, strategy="preserve", allow_small_groups=True)
    assert len(pairs) and ((pairs.weight > 0) & (pairs.weight <= 1)).all()


def test_advi_on_one_dimension_returns_a_posterior(hostile_survey_dir, monkeypatch):
    from pluralstats.survey import load_survey

    # few iterations: this checks the graph compiles and samples, not the quality of the fit
    monkeypatch.setitem(fit_module._SAMPLERS, "advi", functools.partial(fit_module._fit_advi, n_iter=200))
    idata = fit_module.fit_survey(load_survey(hostile_survey_dir), dimensions=["toxicity"], backend="advi",
                                  draws=20, chains=2, progress=False)
    cuts = idata.posterior["cutpoints"]
    assert cuts.sizes["chain"] == 2 and cuts.sizes["draw"] == 20 and list(cuts.dimension.values) == ["toxicity"]
    assert np.isfinite(cuts.values).all() and (np.diff(cuts.values, axis=-1) > 0).all()
