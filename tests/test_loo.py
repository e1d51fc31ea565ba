"""Leave-one-rater-out: the marginal likelihood against brute-force integration, and LOO picks a planted model."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import norm

from pluralstats.errors import InputError
from pluralstats.models import fit_survey
from pluralstats.models.loo import add_log_likelihood, compare_models, rater_log_likelihood
from pluralstats.survey.simulate import PlantedEffect, SimulationConfig, simulate_survey

# a strong planted gender effect on toxicity, nothing planted on age
PLANTED = SimulationConfig(n_participants=160, prompts_per_language=6, responses_per_prompt=3,
                           prompts_per_participant=3, other_effect_sd=0.0,
                           effects=(PlantedEffect("toxicity", "gender", "male", "female", -40.0),))
FIT = {"dimensions": ["toxicity"], "draws": 400, "tune": 300, "chains": 2, "seed": 1, "progress": False,
       "check": False}


@pytest.fixture(scope="module")
def survey():
    return simulate_survey(PLANTED, seed=4).survey


@pytest.fixture(scope="module")
def true_model(survey):
    return fit_survey(survey, attributes=["gender"], **FIT)


@pytest.fixture(scope="module")
def wrong_model(survey):
    return fit_survey(survey, attributes=["age_group"], **FIT)


def _brute_force(idata, rater: int, sample: int) -> float:
    """log of the integral over the rater effect, by the trapezoid rule on a fine grid (textbook link)."""
    post = idata.posterior.stack(s=("chain", "draw")).isel(s=sample)
    cd = idata.constant_data
    mine = cd["obs_rater"].to_numpy() == rater
    items = cd["obs_item"].to_numpy()[mine]
    y = cd["obs_rating"].to_numpy()[mine]
    level = cd["rater_level"].to_numpy()[rater]
    eta = post["item_effect"].to_numpy()[items, 0]
    for j, attr in enumerate(cd["attribute"].to_numpy()):
        eta = eta + post[f"beta_{attr}"].to_numpy()[0, level[j]]
    cuts = np.concatenate([[-np.inf], post["cutpoints"].to_numpy()[0], [np.inf]])
    sigma = float(post["sigma_rater"].to_numpy()[0])
    u = np.linspace(-10 * sigma, 10 * sigma, 20001)
    z = eta[:, None] + u[None, :]
    p = expit(cuts[y][:, None] - z) - expit(cuts[y - 1][:, None] - z)
    integrand = np.prod(p, axis=0) * norm.pdf(u, 0, sigma)
    return float(np.log(np.trapezoid(integrand, u)))


def test_marginal_likelihood_matches_brute_force_integration(true_model):
    ll = rater_log_likelihood(true_model).stack(s=("chain", "draw")).transpose("rater", "s").to_numpy()
    for rater, sample in [(0, 0), (7, 123), (42, 555), (99, 799)]:
        assert ll[rater, sample] == pytest.approx(_brute_force(true_model, rater, sample), rel=1e-6)


def test_az_loo_and_waic_work_on_the_saved_group(true_model, tmp_path):
    from pluralstats.models import load_posterior, save_posterior

    idata = add_log_likelihood(true_model.copy())
    reread = load_posterior(save_posterior(idata, tmp_path / "p.nc"))
    loo = az.loo(reread)
    waic = az.waic(reread)
    assert loo.n_data_points == reread.constant_data.sizes["rater"]
    assert np.isfinite(loo.elpd_loo) and abs(loo.elpd_loo - waic.elpd_waic) < 5


def test_loo_prefers_the_model_with_the_planted_effect(true_model, wrong_model):
    table, warnings_out = compare_models({"gender": true_model, "age": wrong_model})
    assert table.index[0] == "gender"
    assert table.loc["age", "elpd_diff"] > 2 * table.loc["age", "dse"], table


def test_loo_refuses_models_of_other_data(true_model, survey):
    ratings = survey.ratings
    fewer = ratings.drop(ratings.index[ratings.dimension == "toxicity"][:30])  # 30 fewer toxicity ratings
    other = fit_survey(survey.__class__(survey.config, fewer, survey.participants, survey.items),
                       attributes=["gender"], **{**FIT, "draws": 50, "tune": 50})
    with pytest.raises(InputError, match="other ratings"):
        compare_models({"a": true_model, "b": other})
