"""The diagnostics gate's rule: ArviZ's statistics vectorised, family bounds from their null law, R-hat on the
first batch only, ESS-only top-ups, unchecked below four chains, and a verdict trusted only against its draws."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest

from pluralstats.models import fit, gate_bounds, mcmc
from pluralstats.models.diagnostics import (
    DIGEST_ATTR,
    GATE_CHAINS,
    STATUS_ATTR,
    Diagnostics,
    diagnose,
    gate_draws,
    verdict_of,
)


def _ar(chains: int, draws: int, n: int, tau: float, seed: int = 0) -> np.ndarray:
    return gate_bounds.ar1_chains(chains, draws, n, tau, np.random.default_rng(seed))


@pytest.mark.parametrize("tau", [0.6, 1.0, 3.0])
def test_vectorised_statistics_equal_arviz(tau):
    x = _ar(4, 200, 12, tau, seed=3)
    x[3, :, :4] += 0.5  # some terms with a chain apart
    x[:, :, 11] = np.round(x[:, :, 11], 1)  # ties
    one = [x[:, :, j] for j in range(x.shape[2])]
    np.testing.assert_allclose(mcmc.rhat(x), [az.rhat(v) for v in one], rtol=1e-12)
    np.testing.assert_allclose(mcmc.ess_bulk(x), [az.ess(v, method="bulk") for v in one], rtol=1e-10)
    np.testing.assert_allclose(mcmc.ess_tail(x), [az.ess(v, method="tail") for v in one], rtol=1e-10)


def test_within_chain_tau_ignores_a_chain_apart():
    x = _ar(4, 1000, 200, 3.0, seed=1)
    shifted = x.copy()
    shifted[0] += 1.0
    assert np.median(mcmc.within_chain_tau(x)) == pytest.approx(3.0, rel=0.15)
    np.testing.assert_allclose(mcmc.within_chain_tau(shifted), mcmc.within_chain_tau(x), rtol=1e-9)
    assert np.median(mcmc.ess_bulk(shifted)) < 0.5 * np.median(mcmc.ess_bulk(x))  # unlike ESS


def test_family_bound_grows_with_size_and_autocorrelation():
    law = gate_bounds.null_law(4, 500, 1.0)
    assert 1.0 < law.max_bound(1) < law.max_bound(100) < law.max_bound(5000) < 1.02
    assert gate_bounds.null_law(4, 500, 3.0).max_bound(100) > law.max_bound(100)
    # a shape never simulated is computed, and the same again from the cache
    fresh = gate_bounds.family_bounds(37, 5, 123, 1.3)
    assert fresh["tau"] == 1.5 and fresh == gate_bounds.family_bounds(37, 5, 123, 1.3)


def test_family_bound_holds_its_false_alarm_rate_and_catches_an_offset_term():
    """Direct simulation of whole families: the largest R-hat of 300 well-mixed terms exceeds the bound in
    about 1% of families; one term with one chain 0.4 sd apart exceeds it almost always (draws as NUTS gives,
    tau 1)."""
    n, reps = 300, 40
    bound = gate_bounds.family_bounds(n, 4, 500, 1.0)["max_r_hat"]
    x = _ar(4, 500, n * reps, 1.0, seed=7)
    largest = mcmc.rhat(x).reshape(reps, n).max(axis=1)
    assert (largest > bound).mean() <= 0.1
    offset = x[:, :, ::n].copy()
    offset[0] += 0.4
    assert (mcmc.rhat(offset) > bound).mean() >= 0.9


def _table(r_hat=1.0, ess=1000.0) -> pd.DataFrame:
    return pd.DataFrame({"name": ["a", "b"], "kind": "parameter", "family": "", "r_hat": [1.0, r_hat],
                         "ess_bulk": [900.0, ess], "ess_tail": [900.0, 800.0]})


@pytest.mark.parametrize(("failed", "top_up"), [
    ({"ess"}, True), (set(), False), ({"r_hat"}, False), ({"ess", "r_hat"}, False), ({"ess", "divergences"}, False),
    ({"ess", "bfmi"}, False), ({"ess", "treedepth"}, False)])
def test_only_an_ess_shortfall_earns_more_draws(failed, top_up):
    diag = Diagnostics(_table(), 0, problems=["x"] if failed else [], failed=failed)
    assert diag.only_ess_failed is top_up


def test_default_draws_keep_the_total_near_2000():
    assert gate_draws(GATE_CHAINS) == 500 and gate_draws(2) == 1000 and gate_draws(3) == 667
    assert gate_draws(GATE_CHAINS, interactions=True) == 1000  # group x item terms: 4,000 in all


@pytest.fixture(scope="module")
def small_survey():
    from pluralstats.survey.simulate import SimulationConfig, simulate_survey

    cfg = SimulationConfig(n_participants=80, prompts_per_language=6, responses_per_prompt=4,
                           prompts_per_participant=3)
    return simulate_survey(cfg, seed=1).survey


def _fake_diagnose(failed: set[str]):
    def fake(idata, *, contrasts=True, rhat_chains=None):
        fake.calls.append((idata.posterior.sizes["chain"], rhat_chains))
        return Diagnostics(_table(), 0, problems=["x"] if failed else [], failed=set(failed), rhat_chains=rhat_chains)
    fake.calls = []
    return fake


@pytest.mark.parametrize(("failed", "chains_after"), [({"ess"}, 8), ({"ess", "r_hat"}, 4)])
def test_chains_are_added_only_for_ess_and_r_hat_stays_the_first_batchs(small_survey, monkeypatch, failed,
                                                                         chains_after):
    fake = _fake_diagnose(failed)
    monkeypatch.setattr(fit, "diagnose", fake)
    settings = {"dimensions": ["toxicity"], "backend": "jax", "draws": 30, "tune": 50, "seed": 2, "progress": False}
    idata = fit.fit_survey(small_survey, **settings, max_chains=8)
    assert idata.posterior.sizes["chain"] == chains_after == idata.sample_stats.sizes["chain"]
    assert all(first == GATE_CHAINS for _, first in fake.calls)  # R-hat is never judged on the added chains
    if chains_after == 8:
        assert "4 more chains" in idata.posterior.attrs["auto_choices"]
        first = fit.fit_survey(small_survey, **settings, max_chains=4)
        np.testing.assert_array_equal(idata.posterior["sigma_rater"].isel(chain=[0, 1, 2, 3]).to_numpy(),
                                      first.posterior["sigma_rater"].to_numpy())


def test_fewer_than_four_chains_are_unchecked(small_survey):
    idata = fit.fit_survey(small_survey, dimensions=["toxicity"], backend="jax", chains=2, draws=100, tune=100,
                           seed=0, progress=False)
    assert verdict_of(idata)[0] == "unchecked" and "needs 4" in verdict_of(idata)[1]


@pytest.fixture(scope="module")
def passed(small_survey):
    idata = fit.fit_survey(small_survey, dimensions=["toxicity"], attributes=["gender", "political"], tune=300,
                           seed=4, progress=False)
    assert verdict_of(idata)[0] == "passed", verdict_of(idata)
    return idata


def test_a_recorded_verdict_is_trusted_only_for_its_own_draws(passed):
    assert passed.posterior.attrs[DIGEST_ATTR]
    forged = passed.copy()
    forged.posterior["cutpoints"].values[1] += 1.0  # a chain apart, the status still says passed
    assert forged.posterior.attrs[STATUS_ATTR] == "passed"
    assert verdict_of(forged)[0] == "failed"
    one_chain = passed.sel(chain=[0])
    assert verdict_of(one_chain)[0] == "unchecked"
    thinned = passed.sel(draw=slice(None, None, 21))
    status, problems = verdict_of(thinned)
    assert status == "failed" and "ESS" in problems
    edited = passed.copy()
    edited.posterior.attrs[STATUS_ATTR] = "passed"
    edited.posterior.attrs["diagnostics_problems"] = ""
    assert verdict_of(edited)[0] == "passed"  # unchanged draws, unchanged verdict: the digest still matches


def test_a_failed_status_edited_to_passed_is_recomputed(passed):
    bad = passed.copy()
    bad.posterior["sigma_rater"].values[2] *= 1.5
    verdict_of(bad)  # records the (failed) verdict of these draws
    assert bad.posterior.attrs[STATUS_ATTR] == "failed"
    bad.posterior.attrs[STATUS_ATTR] = "passed"
    assert verdict_of(bad)[0] == "failed"


def test_diagnose_judges_r_hat_on_the_first_batch(passed):
    import xarray as xr

    def shifted_copy(ds):
        return ds.copy(deep=True).assign_coords(chain=ds["chain"].to_numpy() + 4)

    doubled = passed.copy()
    more = shifted_copy(passed.posterior)
    more["cutpoints"].values[0] += 1.0  # an added chain far apart
    doubled.posterior = xr.concat([passed.posterior, more], dim="chain")
    doubled.sample_stats = xr.concat([passed.sample_stats, shifted_copy(passed.sample_stats)], dim="chain")
    first = diagnose(doubled, rhat_chains=4).table.set_index("name").r_hat
    every = diagnose(doubled).table.set_index("name").r_hat
    np.testing.assert_allclose(first, diagnose(passed).table.set_index("name").r_hat)
    assert every.filter(like="cutpoints").max() > 1.05 > first.filter(like="cutpoints").max()
