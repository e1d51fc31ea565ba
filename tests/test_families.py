"""Rating-model families: the registry, the numpy and PyTensor likelihoods of each family, and the logit's
closed form against the textbook one (fast); probit recovering a planted effect (slow)."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from click.testing import CliRunner
from scipy import stats
from scipy.special import log_expit

from pluralstats.cli import cli
from pluralstats.errors import InputError
from pluralstats.families import (
    Family,
    available_families,
    get_family,
    register_family,
    unregister_family,
)
from pluralstats.models.data import ModelMeta
from pluralstats.models.rating import BIG

FAMILIES = ["logit", "probit"]
SCIPY = {"logit": stats.logistic, "probit": stats.norm}


def _random_table(rng, n_dim=3, n_cut=4, n=400, spread=3.0):
    """Random cut points (padded with -+BIG), linear predictors and observed categories."""
    cuts = np.sort(rng.normal(0, 2, (n_dim, n_cut)), axis=1)
    padded = np.concatenate([np.full((n_dim, 1), -BIG), cuts, np.full((n_dim, 1), BIG)], axis=1)
    dim = rng.integers(0, n_dim, n)
    y = rng.integers(0, n_cut + 1, n)
    eta = rng.normal(0, spread, n)
    cell = dim * (n_cut + 1) + y
    count = np.bincount(cell, minlength=n_dim * (n_cut + 1)).astype(float)
    return eta, padded, cell, count, cuts[dim], dim, y


@functools.cache
def _graph(family: Family):
    """The compiled graph log-likelihood and its gradient (Python linker: no compilation to wait for; the
    slow test samples the numba-compiled model)."""
    eta, padded = pt.dvector("eta"), pt.dmatrix("padded")
    cell, count = pt.lvector("cell"), pt.dvector("count")
    loglik = family.graph_loglik(eta, padded, cell, count)
    grads = pytensor.grad(loglik, [eta, padded])
    return pytensor.function([eta, padded, cell, count], [loglik, *grads], on_unused_input="ignore",
                           mode="FAST_COMPILE")


def test_both_families_are_installed():
    assert {"logit", "probit"} <= set(available_families())
    assert get_family(None).name == "logit"


@pytest.mark.parametrize("name", FAMILIES)
def test_category_probabilities_sum_to_one_and_match_scipy(name):
    family, dist = get_family(name), SCIPY[name]
    rng = np.random.default_rng(0)
    eta = rng.normal(0, 3, (50, 7))
    cuts = np.sort(rng.normal(0, 2, 4))
    probs = family.category_probs(eta, cuts)
    assert probs.shape == (50, 7, 5)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-12)
    below = np.concatenate([np.zeros(eta.shape + (1,)), dist.cdf(cuts - eta[..., None]),
                            np.ones(eta.shape + (1,))], axis=-1)
    np.testing.assert_allclose(probs, np.diff(below, axis=-1), atol=1e-12)
    np.testing.assert_allclose(family.cdf(cuts), dist.cdf(cuts), rtol=1e-12)
    np.testing.assert_allclose(family.sf(cuts), dist.sf(cuts), rtol=1e-12)
    # the log of a category's probability, far in both tails where differences of probabilities lose it
    lo, hi = np.array([-np.inf, 30.0, -42.0, 1.0]), np.array([-40.0, 31.0, np.inf, 2.0])
    expected = [dist.logcdf(-40.0), dist.logsf(30.0) + np.log1p(-np.exp(dist.logsf(31.0) - dist.logsf(30.0))),
                dist.logsf(-42.0), np.log(dist.cdf(2.0) - dist.cdf(1.0))]
    np.testing.assert_allclose(family.category_logp(0.0, lo, hi), expected, rtol=1e-9)


@pytest.mark.parametrize("name", available_families())
def test_graph_loglik_equals_numpy_loglik(name):
    """The model graph's summed log-likelihood is the numpy one LOO uses, at random parameters, and its
    gradient is finite, also for wild linear predictors next to the -+1e3 outer cut points."""
    family = get_family(name)
    f = _graph(family)
    rng = np.random.default_rng(1)
    for spread in (1.0, 3.0, 30.0):
        eta, padded, cell, count, *_ = _random_table(rng, spread=spread)
        value, g_eta, g_cut = f(eta, padded, cell, count)
        lo, hi = padded[:, :-1].ravel()[cell], padded[:, 1:].ravel()[cell]
        lo, hi = np.where(lo <= -BIG, -np.inf, lo), np.where(hi >= BIG, np.inf, hi)
        expected = family.category_logp(eta, lo, hi)
        assert np.isfinite(expected).all()
        np.testing.assert_allclose(value, expected.sum(), rtol=1e-9)
        assert np.isfinite(g_eta).all() and np.isfinite(g_cut).all()
        if spread == 1.0:  # the gradient too, by central differences in eta
            step = 1e-6
            e = np.zeros_like(eta)
            e[:5] = step
            numeric = (family.category_logp(eta + e, lo, hi) - family.category_logp(eta - e, lo, hi))[:5] / (2 * step)
            np.testing.assert_allclose(g_eta[:5], numeric, rtol=1e-5, atol=1e-7)


def test_logit_graph_equals_the_textbook_form():
    """The logit family's closed form (the model's speed trick) is the two-softplus cumulative logit."""
    f = _graph(get_family("logit"))
    rng = np.random.default_rng(2)
    eta, padded, cell, count, *_ = _random_table(rng)
    lo, hi = padded[:, :-1].ravel()[cell], padded[:, 1:].ravel()[cell]
    # log(sigmoid(hi - eta) - sigmoid(lo - eta)) = log_sigmoid(hi - eta) + log_sigmoid(eta - lo) + log(1 - e^(lo-hi))
    textbook = log_expit(hi - eta) + log_expit(eta - lo) + np.log(-np.expm1(lo - hi))
    np.testing.assert_allclose(f(eta, padded, cell, count)[0], textbook.sum(), rtol=1e-12)


def test_probit_outer_cut_points_are_safe():
    """With probit, log Phi(-1e3 - eta) is finite (erfcx), so the outer categories have exact log-probability
    and a finite gradient even at |eta| in the hundreds."""
    f = _graph(get_family("probit"))
    padded = np.array([[-BIG, -1.0, 0.5, BIG]])
    eta = np.array([-300.0, -5.0, 0.0, 5.0, 300.0, 0.2])
    cell = np.array([0, 0, 1, 2, 2, 1])
    value, g_eta, g_cut = f(eta, padded, cell, np.bincount(cell, minlength=3).astype(float))
    expected = (stats.norm.logcdf(-1.0 - eta[:2]).sum() + np.log(np.diff(stats.norm.cdf([-1.0, 0.5])))[0]
                + stats.norm.logsf(0.5 - eta[3:5]).sum() + np.log(np.diff(stats.norm.cdf([-1.0 - 0.2, 0.5 - 0.2])))[0])
    np.testing.assert_allclose(value, expected, rtol=1e-10)
    assert np.isfinite(g_eta).all() and np.isfinite(g_cut).all()


def test_registry_errors_and_runtime_registration():
    with pytest.raises(InputError, match="Unknown family 'cloglog'; installed: logit, probit"):
        get_family("cloglog")

    class Cauchit(Family):
        name = "cauchit"
        help = "Cauchy latent error"

        def cdf(self, x):
            return stats.cauchy.cdf(x)

        def log_cdf(self, x):
            return stats.cauchy.logcdf(x)

        def sf(self, x):
            return stats.cauchy.sf(x)

        def log_sf(self, x):
            return stats.cauchy.logsf(x)

        def sample_noise(self, rng, size):
            return rng.standard_cauchy(size)

    register_family(Cauchit)
    try:
        assert "cauchit" in available_families()
        probs = get_family("cauchit").category_probs(np.array([0.3]), np.array([-1.0, 1.0]))
        np.testing.assert_allclose(probs.sum(), 1.0)
    finally:
        unregister_family("cauchit")
    assert "cauchit" not in available_families()
    with pytest.raises(TypeError):
        register_family(object)


def test_old_metadata_without_a_family_is_logit():
    meta = ModelMeta(dimensions=["toxicity"], attributes={}, scale_max=5, polarity={})
    old = json.loads(meta.to_json())
    del old["family"]
    assert ModelMeta.from_json(json.dumps(old)).family == "logit"


@pytest.mark.parametrize("command", [["fit-survey", "BUNDLE", "--out", "x.nc"], ["simulate", "--out", "x"]])
def test_unknown_family_exits_2_listing_the_installed_ones(command, tmp_path):
    bundle = tmp_path / "b"
    bundle.mkdir()
    args = [str(bundle) if a == "BUNDLE" else str(tmp_path / a) if a in ("x.nc", "x") else a for a in command]
    result = CliRunner().invoke(cli, [*args, "--family", "cloglog"])
    assert result.exit_code == 2, result.output
    assert "unknown family 'cloglog'; installed: logit, probit" in result.output


@pytest.mark.slow
def test_probit_recovers_a_planted_effect_on_probit_data():
    """A survey simulated with probit noise, fitted with the probit family: the planted contrast (computed by
    the simulator with the same family) and the latent effect lie in their 95% intervals, and the family is
    recorded and used by prediction, replication and LOO."""
    from pluralstats.estimates.ppc import replicate_ratings
    from pluralstats.estimates.rater_likelihood import rater_log_likelihood
    from pluralstats.models import fit_survey, group_contrasts, meta_of
    from pluralstats.survey.simulate import SimulationConfig, simulate_survey
    from pluralstats.survey.simulation_config import PlantedEffect

    effect = PlantedEffect("toxicity", "gender", "male", "female", -25.0)
    cfg = SimulationConfig(n_participants=240, prompts_per_language=8, responses_per_prompt=4,
                           prompts_per_participant=3, effects=(effect,), family="probit")
    sim = simulate_survey(cfg, seed=4)
    assert sim.truth["config"]["family"] == "probit"
    idata = fit_survey(sim.survey, dimensions=["toxicity"], attributes=["gender"], draws=200, tune=400,
                       seed=2, progress=False, family="probit")
    assert meta_of(idata).family == "probit" and idata.posterior.attrs["family"] == "probit"
    truth = next(c for c in sim.truth["contrasts"] if c["attribute"] == "gender" and c["level_a"] == "male"
                 and c["dimension"] == "toxicity")
    row = group_contrasts(idata, "gender", "male", "female", ["toxicity"]).iloc[0]
    assert row.diff_lo <= truth["diff"] <= row.diff_hi, (truth, row.to_dict())
    assert row.diff_hi < 0
    beta = idata.posterior["beta_gender"].sel(dimension="toxicity", gender_level="male").to_numpy().ravel()
    planted = sim.truth["beta"]["toxicity"]["gender"]["male"]
    lo, hi = np.quantile(beta, [0.025, 0.975])
    assert lo <= planted <= hi, (planted, lo, hi)
    sigma = idata.posterior["sigma_rater"].to_numpy().ravel()
    assert np.quantile(sigma, 0.025) <= cfg.sigma_rater <= np.quantile(sigma, 0.975)
    assert np.isfinite(rater_log_likelihood(idata, max_draws=20).to_numpy()).all()
    replicated = replicate_ratings(idata, n_draws=20)
    assert replicated.min() >= 1 and replicated.max() <= 5
