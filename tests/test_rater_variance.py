"""Group-specific rater variance (``rater_variance_by``): the grid integration with per-unit sds (fast) and a
planted larger spread among one group's raters recovered by the fit (slow)."""

from __future__ import annotations

import numpy as np
import pytest

from pluralstats.models.predict import predictive
from pluralstats.survey.simulate import SimulationConfig, simulate_survey

SPREAD = SimulationConfig(n_participants=300, prompts_per_language=8, responses_per_prompt=4,
                          prompts_per_participant=3, effects=(), sigma_rater=0.5,
                          sigma_rater_by={"political": {"conservative": 1.8}})


def test_per_unit_sds_reduce_to_the_shared_sd_and_mix_by_share():
    rng = np.random.default_rng(0)
    s = rng.normal(0, 0.3, (4, 30))
    sigma = rng.uniform(0.4, 1.2, 4)
    cut = np.sort(rng.normal(0, 1, (4, 4)), axis=1)
    x = rng.normal(0, 1, (4, 6))
    shared = predictive(s, sigma, cut, x)
    np.testing.assert_allclose(predictive(s, np.repeat(sigma[:, None], 30, axis=1), cut, x), shared, atol=1e-12)
    wide = 2.5 * sigma
    per_unit = np.where(np.arange(30) < 10, wide[:, None], sigma[:, None])
    mixed = predictive(s, per_unit, cut, x, what="probs")
    parts = (predictive(s[:, :10], wide, cut, x, what="probs") * 10
             + predictive(s[:, 10:], sigma, cut, x, what="probs") * 20) / 30
    np.testing.assert_allclose(mixed, parts, atol=1e-5)  # separate calls lay their grids differently


def test_simulated_spread_is_planted_per_level():
    sim = simulate_survey(SPREAD, seed=0)
    assert sim.truth["sigma_rater_by"]["political"]["toxicity"] == {"conservative": 1.8, "liberal": 0.5}
    with pytest.raises(ValueError, match="sigma_rater_by"):
        simulate_survey(SimulationConfig(n_participants=50, sigma_rater_by={"nope": {"a": 1.0}}), seed=0)


def test_unknown_or_joint_rater_variance_attribute_is_refused():
    from pluralstats.errors import InputError
    from pluralstats.models.data import build_model_data
    from pluralstats.models.rating import set_rater_variance

    data = build_model_data(simulate_survey(SPREAD, seed=0).survey, ["toxicity"], ["political"])
    with pytest.raises(InputError, match="valid: political"):
        set_rater_variance(data, "gender")
    with pytest.raises(InputError, match="--joint"):
        set_rater_variance(data, "political", joint=True)


@pytest.mark.slow
def test_a_wider_group_of_raters_gets_a_larger_fitted_sd():
    from pluralstats.estimates.ppc import replicate_ratings
    from pluralstats.estimates.rater_likelihood import rater_log_likelihood
    from pluralstats.models import diagnose, fit_survey, group_contrasts, meta_of

    sim = simulate_survey(SPREAD, seed=1)
    idata = fit_survey(sim.survey, dimensions=["toxicity"], attributes=["political", "gender"], draws=250,
                       tune=500, seed=3, progress=False, rater_variance_by="political")
    assert meta_of(idata).rater_variance_by == "political"
    assert idata.posterior.attrs["rater_variance_by"] == "political"
    sigma = idata.posterior["sigma_rater"].sel(dimension="toxicity")
    assert sigma.dims[-1] == "political_level"
    draws = {lv: sigma.sel(political_level=lv).to_numpy().ravel() for lv in ("liberal", "conservative")}
    for level, planted in (("liberal", 0.5), ("conservative", 1.8)):
        lo, hi = np.quantile(draws[level], [0.025, 0.975])
        assert lo <= planted <= hi, (level, planted, lo, hi)
    assert np.quantile(draws["conservative"], 0.025) > np.quantile(draws["liberal"], 0.975)
    gated = set(diagnose(idata).table["name"])
    assert {"sigma_rater[toxicity,liberal]", "sigma_rater[toxicity,conservative]"} <= gated, gated
    row = group_contrasts(idata, "political", "conservative", "liberal", ["toxicity"]).iloc[0]
    assert np.isfinite([row["diff"], row.diff_lo, row.diff_hi]).all()
    assert np.isfinite(rater_log_likelihood(idata, max_draws=20).to_numpy()).all()
    assert replicate_ratings(idata, n_draws=10).min() >= 1
