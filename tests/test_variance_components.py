"""Variance components (``plot-posterior --kind variance``): the table's sds and shares on posteriors whose
draws are set by hand (fast), and a planted larger item sd than rater sd recovered by a real fit (slow)."""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.estimates.variance import variance_components, variance_markdown
from pluralstats.models import save_posterior
from pluralstats.models.data import build_model_data
from pluralstats.models.diagnostics import DIGEST_ATTR, PROBLEMS_ATTR, STATUS_ATTR, draws_digest
from pluralstats.models.sampling import finish_idata
from pluralstats.survey.simulate import SimulationConfig, simulate_survey

DIMS = ["toxicity", "helpfulness"]
# 60 raters: gender's non_binary level (3%) has fewer than k = 5 raters
SMALL = SimulationConfig(n_participants=60, prompts_per_language=4, responses_per_prompt=3, prompts_per_participant=2,
                         effects=())
LOGIT_ERROR_VAR = np.pi ** 2 / 3


@pytest.fixture(scope="module")
def sim():
    return simulate_survey(SMALL, seed=4)


def _posterior(sim, *, sigma_rater, sigma_item, tau=None, by=None, family="logit", status="passed", k=5):
    """A posterior of ``sim``'s design whose variance draws are normal around the given values (sd 0.02),
    with a stored diagnostics verdict bound to them: what the variance table reads, without sampling."""
    data = build_model_data(sim.survey, DIMS, ["gender", "political"])
    data.meta.family = family
    data.meta.min_group_size = k
    rng = np.random.default_rng(0)

    def draws(value, *shape):
        return np.abs(rng.normal(value, 0.02, (2, 200, *shape)))

    coords = {"dimension": DIMS}
    dims = {"sigma_item": ["dimension"], "sigma_rater": ["dimension"]}
    post = {"sigma_item": draws(sigma_item, len(DIMS))}
    if by:
        data.meta.rater_variance_by = by
        levels = data.meta.attributes[by]
        coords[f"{by}_level"] = levels
        dims["sigma_rater"] = ["dimension", f"{by}_level"]
        post["sigma_rater"] = np.stack([draws(sigma_rater[lv], len(DIMS)) for lv in levels], axis=-1)
    else:
        post["sigma_rater"] = draws(sigma_rater, len(DIMS))
    if tau is not None:
        data.meta.disagreement = ["political"]
        post["tau_political"] = draws(tau, len(DIMS))
        dims["tau_political"] = ["dimension"]
    raw = az.from_dict(posterior=post, coords=coords, dims=dims)
    idata = finish_idata(raw, data, backend="nutpie", joint=False, seconds=0.0)
    idata.posterior.attrs[STATUS_ATTR] = status
    idata.posterior.attrs[PROBLEMS_ATTR] = "" if status == "passed" else "R-hat 1.2 > 1.01 for sigma_item"
    idata.posterior.attrs[DIGEST_ATTR] = draws_digest(idata)  # a verdict stands for these draws only
    return idata


def test_sds_and_shares_of_the_latent_variance(sim):
    table = variance_components(_posterior(sim, sigma_rater=0.4, sigma_item=1.2))
    tox = table[table.dimension == "toxicity"].set_index("component")
    assert list(tox.index) == ["rater", "item", "latent error"]
    assert tox.loc["item", "sd"] > tox.loc["rater", "sd"]
    assert tox.loc["rater", "sd"] == pytest.approx(0.4, abs=0.01)
    assert tox.loc["item", "sd_lo"] < 1.2 < tox.loc["item", "sd_hi"]
    total = 0.4 ** 2 + 1.2 ** 2 + LOGIT_ERROR_VAR
    assert tox.loc["item", "share"] == pytest.approx(1.2 ** 2 / total, abs=0.01)
    assert tox.loc["latent error", "sd"] == pytest.approx(np.sqrt(LOGIT_ERROR_VAR))
    # the shares are of one total, draw by draw: their means add up to 1
    assert tox.share.sum() == pytest.approx(1.0)
    assert (table.share_lo <= table.share).all() and (table.share <= table.share_hi).all()


def test_probit_error_variance_is_one(sim):
    table = variance_components(_posterior(sim, sigma_rater=0.5, sigma_item=0.5, family="probit"))
    error = table[table.component == "latent error"]
    assert error.sd.to_numpy() == pytest.approx(1.0)
    assert error.share.iloc[0] == pytest.approx(1 / 1.5, abs=0.01)


def test_disagreement_tau_is_a_component(sim):
    table = variance_components(_posterior(sim, sigma_rater=0.4, sigma_item=0.6, tau=0.3))
    tau = table[table.component == "disagreement (political)"]
    assert len(tau) == len(DIMS) and (tau.parameter == "tau_political").all()
    assert tau.sd.to_numpy() == pytest.approx(0.3, abs=0.01)
    assert table.groupby("dimension").share.sum().to_numpy() == pytest.approx(1.0)
    # political has two levels: its terms sum to zero over them, so a rater's term varies by tau^2 / 2
    tox = table[table.dimension == "toxicity"].set_index("component")
    total = 0.4 ** 2 + 0.6 ** 2 + 0.3 ** 2 / 2 + LOGIT_ERROR_VAR
    assert tox.loc["disagreement (political)", "share"] == pytest.approx(0.3 ** 2 / 2 / total, abs=0.003)
    assert tox.loc["item", "share"] == pytest.approx(0.6 ** 2 / total, abs=0.005)
    # on lme4's scale the item sd leaves out the terms' mean over the levels (tau^2 / L); the rest agree
    assert tox.loc["item", "sd_lme4"] == pytest.approx(np.sqrt(0.6 ** 2 - 0.3 ** 2 / 2), abs=0.01)
    assert tox.loc["disagreement (political)", "sd_lme4"] == pytest.approx(0.3, abs=0.01)
    assert tox.loc["rater", "sd_lme4"] == pytest.approx(tox.loc["rater", "sd"])


@pytest.mark.parametrize("n_levels", [2, 3, 5])
def test_a_zero_sum_terms_realised_variance_is_tau2_times_1_minus_1_over_L(n_levels):
    """What the shares assume, checked on the model's own prior: ZeroSumNormal(tau) over L levels (and over
    items, as the model has it) gives each term variance tau^2 (1 - 1/L) (1 - 1/items)."""
    import pymc as pm

    tau, items = 0.8, 400
    w = pm.draw(pm.ZeroSumNormal.dist(sigma=tau, shape=(items, n_levels), n_zerosum_axes=2), draws=200,
                random_seed=1)
    assert w.var() == pytest.approx(tau ** 2 * (1 - 1 / n_levels) * (1 - 1 / items), rel=0.03)


def test_levels_get_their_own_rater_sd_and_a_small_level_is_suppressed(sim):
    counts = sim.survey.participants.gender.value_counts()
    assert 0 < counts["non_binary"] < 5 <= counts.drop("non_binary").min()
    sds = {"female": 0.3, "male": 1.0, "non_binary": 2.0}
    idata = _posterior(sim, sigma_rater=sds, sigma_item=0.5, by="gender")
    table = variance_components(idata)
    levels = table[(table.dimension == "toxicity") & (table.level != "")].set_index("level")
    assert levels.loc["male", "sd"] == pytest.approx(1.0, abs=0.01)
    assert levels.loc["male", "share"] == pytest.approx(1.0 / (1.0 + 0.25 + LOGIT_ERROR_VAR), abs=0.01)
    assert levels.loc["non_binary", "suppressed"] and np.isnan(levels.loc["non_binary", "sd"])
    assert levels.loc["non_binary", "n_raters"] is pd.NA
    assert not levels.loc["male", "suppressed"]
    # the rater row averages the levels' variances by raters; a small level is left out of it (with the shown
    # levels and the number of raters, the average would give its sd away) unless suppression is off
    n = {lv: int(sim.survey.participants.gender.eq(lv).sum()) for lv in sds}

    def average(frame, levels):
        rater = frame[(frame.dimension == "toxicity") & (frame.component == "rater") & (frame.level == "")]
        expected = np.sqrt(sum(sds[lv] ** 2 * n[lv] for lv in levels) / sum(n[lv] for lv in levels))
        return rater.sd.iloc[0], expected

    assert average(table, ["female", "male"])[0] == pytest.approx(average(table, ["female", "male"])[1], abs=0.02)
    shown = variance_components(idata, suppress_small=False)
    assert average(shown, list(sds))[0] == pytest.approx(average(shown, list(sds))[1], abs=0.02)
    assert shown.loc[shown.level == "non_binary", "sd"].to_numpy() == pytest.approx(2.0, abs=0.01)
    text = variance_markdown(table, k=5)
    assert "<5" in text and "2.0" not in text.split("non_binary")[1].split("\n")[0]


def test_every_level_small_hides_the_rater_sd_and_all_shares(sim, tmp_path):
    idata = _posterior(sim, sigma_rater={"female": 0.3, "male": 1.0, "non_binary": 2.0}, sigma_item=0.5,
                       by="gender", k=100)
    table = variance_components(idata)
    assert table[table.component == "rater"].suppressed.all() and table.sd[table.component == "rater"].isna().all()
    assert table.share.isna().all()
    assert table.loc[table.component == "item", "sd"].notna().all()
    from pluralstats.plots.variance_plot import plot_variance

    assert plot_variance(table, tmp_path / "v.png")[0].stat().st_size > 1000


def test_cli_writes_table_and_figure_and_gates(sim, tmp_path):
    post = save_posterior(_posterior(sim, sigma_rater=0.4, sigma_item=1.2, tau=0.3), tmp_path / "post.nc")
    out = tmp_path / "figs"
    result = CliRunner().invoke(cli, ["plot-posterior", str(post), "--out", str(out), "--kind", "variance"])
    assert result.exit_code == 0, result.output
    assert (out / "variance_components.png").stat().st_size > 1000 and (out / "variance_components.pdf").exists()
    assert "| toxicity | item | sigma_item |" in (out / "variance_components.md").read_text()
    csv = pd.read_csv(out / "variance_components.csv")
    assert set(csv.component) == {"rater", "item", "disagreement (political)", "latent error"}

    bad = save_posterior(_posterior(sim, sigma_rater=0.4, sigma_item=1.2, status="failed"), tmp_path / "bad.nc")
    refused = CliRunner().invoke(cli, ["plot-posterior", str(bad), "--out", str(tmp_path / "b"), "--kind",
                                       "variance"])
    assert refused.exit_code == 3 and "R-hat" in refused.output
    assert not (tmp_path / "b").exists()
    allowed = CliRunner().invoke(cli, ["plot-posterior", str(bad), "--out", str(tmp_path / "b"), "--kind",
                                       "variance", "--allow-bad-diagnostics"])
    assert allowed.exit_code == 0, allowed.output
    assert "failed its diagnostics" in (tmp_path / "b" / "variance_components.md").read_text()
    manifest = json.loads(next((tmp_path / "b").glob("*manifest*.json")).read_text())
    assert "failed its diagnostics" in manifest["diagnostics"]


@pytest.mark.slow
def test_planted_larger_item_sd_ranks_above_rater_sd(tmp_path):
    """A survey simulated with item sd 1.6 and rater sd 0.7, fitted and drawn through the CLI: the table puts
    the item sd above the rater sd (intervals apart) and the figure is written."""
    from pluralstats.models import fit_survey

    config = SimulationConfig(n_participants=200, prompts_per_language=6, responses_per_prompt=4,
                              prompts_per_participant=3, effects=(), sigma_item=1.6, sigma_rater=0.7)
    sim = simulate_survey(config, seed=4)
    # enough raters and draws that sigma_rater's ESS passes the gate the command applies
    idata = fit_survey(sim.survey, dimensions=["toxicity"], attributes=["political"], draws=500, tune=500,
                       seed=1, progress=False)
    post = save_posterior(idata, tmp_path / "post.nc")
    out = tmp_path / "figs"
    result = CliRunner().invoke(cli, ["plot-posterior", str(post), "--out", str(out), "--kind", "variance"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "variance_components.csv").set_index("component")
    assert table.loc["item", "sd_lo"] > table.loc["rater", "sd_hi"]
    assert table.loc["item", "share"] > table.loc["rater", "share"]
    assert (out / "variance_components.png").stat().st_size > 1000
