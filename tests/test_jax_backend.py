"""``--backend jax``: nutpie on a JAX-compiled gradient gives the default backend's results.

The JAX gradient is checked against PyTensor's own compilation of the same graph (value and every gradient
component, at a random point away from the initial one); the sampled posterior is checked against the
default backend's within Monte Carlo error (slow).
"""

from __future__ import annotations

import functools
import sys

import numpy as np
import pytest

from pluralstats.errors import InputError
from pluralstats.models.data import build_model_data
from pluralstats.models.fit import fit_survey
from pluralstats.models.rating import build_model, set_disagreement
from pluralstats.models.sampling import nutpie_compile
from pluralstats.survey.simulate import SimulationConfig, simulate_survey

jax = pytest.importorskip("jax")  # installed by `make install` (the project's jax extra)

SMALL = SimulationConfig(n_participants=60, prompts_per_language=6, responses_per_prompt=4, prompts_per_participant=3)


@pytest.fixture(scope="module")
def survey():
    return simulate_survey(SMALL, seed=0).survey


def test_jax_gradient_equals_pytensor(survey):
    data = build_model_data(survey, ["toxicity", "helpfulness"], None)
    set_disagreement(data, ["political"])  # the group x item terms too: the most gathers
    model = build_model(data)
    reference = model.logp_dlogp_function(ravel_inputs=True)
    reference.set_extra_values({})
    compiled = nutpie_compile(model, "jax")
    jax_logp = functools.partial(compiled._make_logp_func(), **compiled._shared_data)
    start = np.concatenate([np.asarray(v).ravel() for v in model.initial_point().values()])
    x = start + np.random.default_rng(0).normal(0.0, 0.3, start.size)
    (ref_logp, ref_grad), (jax_value, jax_grad) = reference(x), jax_logp(x)
    assert np.isclose(jax_value, ref_logp, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jax_grad), ref_grad, rtol=1e-9, atol=1e-9)
    assert np.abs(ref_grad).max() > 1.0  # a point where the gradient is not trivially zero


def test_missing_jax_is_an_input_error(survey, monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # import jax -> ImportError
    model = build_model(build_model_data(survey, ["toxicity"], None))
    with pytest.raises(InputError, match="jax extra|pluralstats\\[jax\\]"):
        nutpie_compile(model, "jax")


@pytest.mark.slow
def test_jax_posterior_matches_default_backend(survey):
    fits = {b: fit_survey(survey, dimensions=["toxicity"], backend=b, draws=500, seed=3, progress=False)
            for b in ("nutpie", "jax")}
    assert fits["jax"].posterior.attrs["backend"] == "jax"
    import arviz as az

    for name in ("cutpoints", "sigma_rater", "sigma_item", "beta_political"):
        a, b = (az.summary(fits[k], var_names=[name], kind="all") for k in ("nutpie", "jax"))
        a, b = a[a["sd"] > 0], b[b["sd"] > 0]  # reference levels are constant 0
        z = (a["mean"] - b["mean"]).abs() / np.hypot(a["mcse_mean"], b["mcse_mean"])
        assert (z < 4.5).all(), (name, z.max())
