"""The diagnostics gate: every consumer refuses a failed or unchecked posterior unless told otherwise."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pluralstats.errors import DiagnosticsError
from pluralstats.models import load_posterior, save_posterior
from pluralstats.models.diagnostics import STATUS_ATTR, diagnose, require_diagnostics, verdict_of
from tests.hostile.conftest import run_cli


def _strip_verdict(idata):
    for key in [k for k in idata.posterior.attrs if k.startswith("diagnostics_")]:
        del idata.posterior.attrs[key]
    return idata


@pytest.fixture
def failed_posterior(hostile_posterior, tmp_path):
    """The passing posterior with its second chain shifted on the cut points: R-hat fails; no verdict stored."""
    idata = _strip_verdict(load_posterior(hostile_posterior))
    cut = idata.posterior["cutpoints"].values
    cut[1] += 1.0
    idata.posterior["cutpoints"].values[:] = cut
    return save_posterior(idata, tmp_path / "failed.nc")


@pytest.fixture
def one_chain_posterior(hostile_posterior, tmp_path):
    idata = load_posterior(hostile_posterior)
    single = idata.isel(chain=[0])
    _strip_verdict(single)
    return save_posterior(single, tmp_path / "one-chain.nc")


def test_fit_survey_records_a_passing_verdict(hostile_posterior):
    idata = load_posterior(hostile_posterior)
    assert idata.posterior.attrs[STATUS_ATTR] == "passed"
    assert require_diagnostics(idata) is None
    summary = json.loads(idata.posterior.attrs["diagnostics_summary"])
    assert summary["max_r_hat"] <= 1.01 and summary["min_ess_bulk"] >= 400 and summary["min_bfmi"] >= 0.3


def test_a_posterior_without_verdict_is_diagnosed_on_use(failed_posterior):
    idata = load_posterior(failed_posterior)
    assert STATUS_ATTR not in idata.posterior.attrs
    status, problems = verdict_of(idata)
    assert status == "failed" and "R-hat" in problems
    with pytest.raises(DiagnosticsError, match="R-hat"):
        require_diagnostics(idata)
    assert "allow-bad-diagnostics" in require_diagnostics(idata, allow_bad=True)


@pytest.mark.parametrize("command", ["contrasts", "compare", "plot-posterior"])
def test_consumers_refuse_a_failed_posterior(command, run_bad, failed_posterior, tmp_path):
    out = tmp_path / ("c.csv" if command == "contrasts" else "out")
    args = {"contrasts": ["contrasts", failed_posterior, "--out", out],
            "compare": ["compare", failed_posterior, "--groups", "liberal", "conservative", "--out", out],
            "plot-posterior": ["plot-posterior", failed_posterior, "--out", out]}[command]
    if command == "plot-posterior":  # figures of a failed fit are how one looks at what went wrong
        assert run_cli(args).exit_code == 0
        return
    run_bad(args, expect=3, names=["R-hat", "--allow-bad-diagnostics"], absent=[out])


def test_flag_lets_a_failed_posterior_through_and_says_so(failed_posterior, tmp_path):
    out = tmp_path / "c.csv"
    result = run_cli(["contrasts", failed_posterior, "--out", out, "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    assert "failed its diagnostics" in result.output
    manifest = json.loads((tmp_path / "c.csv.manifest.json").read_text())
    assert "failed its diagnostics" in manifest["diagnostics"]


def test_one_chain_is_unchecked_and_refused(run_bad, one_chain_posterior, tmp_path):
    assert verdict_of(load_posterior(one_chain_posterior))[0] == "unchecked"
    run_bad(["compare", one_chain_posterior, "--groups", "liberal", "conservative", "--out", tmp_path / "o"],
            expect=3, names=["unchecked", "1 chain", "--chains 4"])


def test_low_bfmi_and_saturated_tree_depth_fail(hostile_posterior):
    idata = _strip_verdict(load_posterior(hostile_posterior))
    rng = np.random.default_rng(0)
    stats = idata.sample_stats
    walk = np.cumsum(rng.normal(size=stats["energy"].shape), axis=1)  # energy that barely moves between draws
    idata.sample_stats["energy"] = (stats["energy"].dims, walk)
    depth_hit = np.zeros(stats["maxdepth_reached"].shape, dtype=bool)
    depth_hit[:, ::10] = True  # 10% of draws at the maximum depth
    idata.sample_stats["maxdepth_reached"] = (stats["maxdepth_reached"].dims, depth_hit)
    diag = diagnose(idata, contrasts=False)
    assert diag.status == "failed"
    assert any("E-BFMI" in p for p in diag.problems) and diag.min_bfmi < 0.3
    assert any("tree depth" in p for p in diag.problems) and diag.treedepth_share == pytest.approx(0.1)


def test_advi_posterior_is_unchecked_and_compare_exits_3(run_bad, hostile_survey_dir, tmp_path, monkeypatch):
    """ADVI is a first look: fit-survey writes it and exits 3, saying it is unchecked; compare refuses it with
    exit 3."""
    from pluralstats.samplers import get_sampler

    # a short optimisation: what is tested is the verdict on an ADVI posterior, not ADVI's accuracy
    monkeypatch.setattr(get_sampler("advi"), "n_iter", 2000)
    post = tmp_path / "advi.nc"
    fit = run_cli(["fit-survey", hostile_survey_dir, "--out", post, "--backend", "advi",
                   "--dimensions", "toxicity,helpfulness", "--draws", "200"])
    assert fit.exit_code == 3, fit.output
    assert "Unchecked posterior" in fit.output and post.exists()
    run_bad(["compare", post, "--groups", "liberal", "conservative", "--out", tmp_path / "c"], expect=3,
            names=["unchecked", "ADVI"], watch=[post])


def test_one_chain_fit_is_written_unchecked_and_exits_3(hostile_survey_dir, run_bad, tmp_path):
    """A first look with one chain: fit-survey writes the posterior, says it is unchecked, exits 3 (no crash);
    a reporting command downstream refuses it with exit 3."""
    post = tmp_path / "one.nc"
    run_bad(["fit-survey", hostile_survey_dir, "--out", post, "--dimensions", "toxicity", "--chains", "1",
             "--max-chains", "1", "--draws", "300", "--backend", "jax"],  # JAX compiles in seconds
            expect=3, names=["unchecked", "1 chain"])
    assert post.exists() and verdict_of(load_posterior(post))[0] == "unchecked"
    run_bad(["contrasts", post, "--out", tmp_path / "c.csv"], expect=3, names=["unchecked"], watch=[post],
            absent=[tmp_path / "c.csv"])


@pytest.mark.parametrize("forgery", ["status edited to passed", "one chain kept", "thinned to every 21st draw"])
def test_reporting_commands_judge_the_draws_not_a_stored_status(forgery, hostile_posterior, run_bad, tmp_path):
    """A posterior whose recorded verdict no longer matches its draws is judged again: an edited status, a
    one-chain subset and a thinning of a passing fit all keep their recorded 'passed', and all are refused."""
    idata = load_posterior(hostile_posterior)
    if forgery == "status edited to passed":
        idata.posterior["cutpoints"].values[1] += 1.0
    elif forgery == "one chain kept":
        idata = idata.sel(chain=[0])
    else:
        idata = idata.sel(draw=slice(None, None, 21))
    assert idata.posterior.attrs[STATUS_ATTR] == "passed"
    forged = save_posterior(idata, tmp_path / "forged.nc")
    expected = {"status edited to passed": "R-hat", "one chain kept": "unchecked", "thinned to every 21st draw": "ESS"}
    run_bad(["contrasts", forged, "--out", tmp_path / "c.csv"], expect=3, names=[expected[forgery]],
            watch=[forged], absent=[tmp_path / "c.csv"])
