"""Fitting dimensions apart (``fit_survey(split_dimensions=True)``) gives the whole model's posterior.

Nothing links the dimensions of the additive model, so its posterior factorises: each dimension's model is
sampled apart (compiled once, the data swapped) and the draws joined in the whole model's layout. Checked
against the whole model's fit within Monte Carlo error; JAX compiles these small models in seconds.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from pluralstats.models import diagnose
from pluralstats.models.data import build_model_data
from pluralstats.models.fit import fit_survey
from pluralstats.models.sampling import dimension_parts
from pluralstats.survey.simulate import SimulationConfig, simulate_survey

pytest.importorskip("jax")

SMALL = SimulationConfig(n_participants=60, prompts_per_language=6, responses_per_prompt=4, prompts_per_participant=3)
DIMS = ["toxicity", "helpfulness"]


@pytest.fixture(scope="module")
def survey():
    return simulate_survey(SMALL, seed=0).survey


def test_parts_are_each_dimension_s_ratings_with_every_rater_and_item(survey):
    data = build_model_data(survey, DIMS, ["political"])
    parts = dimension_parts(data)
    assert [p.meta.dimensions for p in parts] == [["toxicity"], ["helpfulness"]]
    for j, part in enumerate(parts):
        keep = data.obs_dim == j
        assert list(part.rater_ids) == list(data.rater_ids) and list(part.item_ids) == list(data.item_ids)
        np.testing.assert_array_equal(part.y, data.y[keep])
        np.testing.assert_array_equal(part.obs_rater, data.obs_rater[keep])
        assert (part.obs_dim == 0).all()
    assert data.meta.dimensions == DIMS  # the whole fit's metadata is left as it was
    assert dimension_parts(build_model_data(survey, ["toxicity"], ["political"])) is None


@pytest.mark.slow  # three fits of two dimensions: about a minute on 2 cores
def test_split_fit_is_the_whole_model_s_posterior(survey):
    settings = {"dimensions": DIMS, "attributes": ["political"], "backend": "jax", "draws": 500, "tune": 300,
                "seed": 4, "progress": False}
    split = fit_survey(survey, **settings, split_dimensions=True)
    whole = fit_survey(survey, **settings, split_dimensions=False)
    default = fit_survey(survey, **settings | {"draws": 20, "tune": 20}, check=False)
    assert default.posterior.attrs["split_dimensions"] == 1  # apart unless asked otherwise
    assert split.posterior.attrs["split_dimensions"] == 1 and whole.posterior.attrs["split_dimensions"] == 0
    names = ["cutpoints", "sigma_rater", "sigma_item", "beta_political", "item_effect"]
    for name in names:
        assert split.posterior[name].dims == whole.posterior[name].dims
        a, b = (az.summary(f, var_names=[name]) for f in (split, whole))
        a, b = a[a["sd"] > 0], b[b["sd"] > 0]  # reference levels are constant 0
        assert list(a.index) == list(b.index)
        z = (a["mean"] - b["mean"]).abs() / np.hypot(a["mcse_mean"], b["mcse_mean"])
        assert (z < 4.5).all(), (name, z.max())
        ratio = a["sd"] / b["sd"]
        assert ratio.between(0.8, 1.25).all(), (name, ratio.min(), ratio.max())
    # each dimension's chains are their own sampler runs: the sampler statistics say so per dimension
    assert split.sample_stats["diverging"].dims == ("chain", "draw", "dimension")
    assert list(split.sample_stats["dimension"].to_numpy()) == DIMS
    diag = diagnose(split)
    assert diag.checked and np.isfinite(diag.min_bfmi)


def test_refit_compiles_once_per_design_and_gives_each_survey_its_own_posterior(survey):
    from pluralstats.models import fit

    other = simulate_survey(SMALL, seed=5).survey
    first = build_model_data(survey, ["toxicity"], ["political"])
    second = build_model_data(other, ["toxicity"], ["political"])
    settings = {"draws": 200, "tune": 200, "seed": 1, "backend": "jax"}
    a = fit.refit(first, **settings)
    compiled = next(iter(fit._REFIT.values()))
    b = fit.refit(second, **settings)
    assert next(iter(fit._REFIT.values())) is compiled  # same design: the data were swapped, nothing compiled
    assert list(b.posterior["item"].to_numpy()) == list(second.item_ids)
    # a different survey, so a different posterior (the swapped data are used)
    assert not np.allclose(a.posterior["item_effect"].mean(("chain", "draw")).to_numpy(),
                           b.posterior["item_effect"].mean(("chain", "draw")).to_numpy(), atol=0.05)
