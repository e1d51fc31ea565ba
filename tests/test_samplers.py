"""The sampler registry: the installed backends, a sampler added from outside the package (one class and one
registration, no edit of the package) reaching ``fit_survey`` and ``fit-survey --backend``, the gate's rule
applying to it, and the numpyro backend's message when numpyro is not installed."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.errors import InputError
from pluralstats.models.fit import fit_survey
from pluralstats.samplers import (
    available_samplers,
    describe_samplers,
    get_sampler,
    register_sampler,
    unregister_sampler,
)
from pluralstats.samplers.nutpie import NutpieJax
from pluralstats.survey import save_survey
from pluralstats.survey.simulate import SimulationConfig, simulate_survey

pytest.importorskip("jax")  # installed by `make install` (the project's jax extra)

SMALL = SimulationConfig(n_participants=60, prompts_per_language=6, responses_per_prompt=4, prompts_per_participant=3)


class Counting(NutpieJax):
    """nutpie on JAX that counts what the fit asks of it."""

    name = "counting-test"
    help = "test sampler"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int]] = []

    def compile(self, model, var_names):
        self.calls.append(("compile", len(var_names)))
        return super().compile(model, var_names)

    def draw(self, compiled, *, chains, **kwargs):
        self.calls.append(("draw", chains))
        return super().draw(compiled, chains=chains, **kwargs)


@pytest.fixture
def counting():
    sampler = Counting()
    register_sampler(sampler)
    yield sampler
    unregister_sampler(sampler.name)


def test_installed_samplers_and_unknown_name():
    assert {"advi", "jax", "numpyro", "nutpie", "pymc"} <= set(available_samplers())
    assert {r["name"] for r in describe_samplers()} >= {"nutpie", "advi"}
    assert get_sampler("nutpie").reusable and not get_sampler("advi").exact and get_sampler("pymc").exact
    with pytest.raises(InputError, match="Unknown backend 'nope'; choose one of advi, jax, numpyro, nutpie, pymc"):
        fit_survey(simulate_survey(SMALL, seed=0).survey, dimensions=["toxicity"], backend="nope", progress=False)


def test_runtime_sampler_reaches_the_api_and_the_cli(counting, tmp_path):
    survey = simulate_survey(SMALL, seed=0).survey
    idata = fit_survey(survey, dimensions=["toxicity"], backend="counting-test", draws=60, tune=60, seed=1,
                       progress=False)
    assert idata.posterior.attrs["backend"] == "counting-test"
    # compiled once; the gate's first batch is 4 chains, and a top-up (if any) adds 4 more from the same compile
    assert counting.calls[0][0] == "compile" and [c for c in counting.calls if c[0] == "compile"] == counting.calls[:1]
    assert [n for what, n in counting.calls if what == "draw"][0] == 4
    assert idata.posterior.sizes["chain"] == 4 * (len(counting.calls) - 1)
    assert np.isfinite(idata.posterior["sigma_item"].to_numpy()).all()
    bundle = save_survey(survey, tmp_path / "bundle")
    out = tmp_path / "p.nc"
    result = CliRunner().invoke(cli, ["fit-survey", str(bundle), "--out", str(out), "--dimensions", "toxicity",
                                      "--backend", "counting-test", "--draws", "60", "--tune", "60",
                                      "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.with_name("p.nc.manifest.json").read_text())["options"]["backend"] == "counting-test"
    result = CliRunner().invoke(cli, ["fit-survey", str(bundle), "--out", str(tmp_path / "q.nc"), "--backend", "nope"])
    assert result.exit_code == 2 and "Unknown backend 'nope'" in result.output and "counting-test" in result.output


def test_numpyro_backend_runs_or_says_what_to_install():
    survey = simulate_survey(SMALL, seed=0).survey
    if importlib.util.find_spec("numpyro") is None:
        with pytest.raises(InputError, match=r"--backend numpyro needs numpyro: pip install 'pluralstats\[bench\]'"):
            fit_survey(survey, dimensions=["toxicity"], backend="numpyro", draws=50, tune=50, progress=False)
        return
    idata = fit_survey(survey, dimensions=["toxicity"], backend="numpyro", draws=50, tune=50, progress=False)
    assert idata.posterior.sizes["chain"] >= 4 and idata.posterior.attrs["backend"] == "numpyro"


def test_jax_chains_in_worker_processes_join_in_order_and_repeat(monkeypatch):
    """Above its work threshold the JAX sampler spreads the chains over worker processes: the chains come back
    joined in order (4 chains, the workers' 2 + 2), the same seed gives the same draws, another seed others, and
    the time the workers spent compiling is counted in compile_seconds."""
    monkeypatch.setattr(NutpieJax, "min_work", 0)
    survey = simulate_survey(SMALL, seed=0).survey
    fits = [fit_survey(survey, dimensions=["toxicity"], backend="jax", draws=50, tune=50, seed=s, progress=False)
            for s in (3, 3, 4)]
    first, again, other = (f.posterior["sigma_item"].to_numpy() for f in fits)
    assert first.shape[:2] == (4, 50) and np.array_equal(first, again) and not np.array_equal(first, other)
    assert not np.array_equal(first[0], first[2])  # the two workers' chains differ
    assert fits[0].posterior.attrs["compile_seconds"] > 1.0 and "sample_stats" in fits[0].groups()
