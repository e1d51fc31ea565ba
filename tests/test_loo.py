"""Leave-one-rater-out: the marginal likelihood against brute-force integration, and LOO picks a planted model."""

from __future__ import annotations

from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import norm

from pluralstats.errors import InputError
from pluralstats.estimates.loo import add_log_likelihood, compare_models
from pluralstats.estimates.rater_likelihood import rater_log_likelihood
from pluralstats.models import fit_survey
from pluralstats.survey.simulate import SimulationConfig, simulate_survey
from pluralstats.survey.simulation_config import PlantedEffect

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


def test_loo_of_one_posterior_and_its_saved_check_groups_open_in_arviz(true_model, wrong_model, survey, tmp_path):
    """`loo POST` prints one model's estimates and Pareto k table; `--save` writes a file that az.loo,
    az.compare and az.plot_ppc read with no glue, holding no participant id."""
    import matplotlib

    matplotlib.use("Agg")
    from click.testing import CliRunner

    from pluralstats.cli import cli
    from pluralstats.estimates.loo import loo_summary
    from pluralstats.models import save_posterior

    saved = {}
    for name, idata in (("gender", true_model), ("age", wrong_model)):
        path = save_posterior(idata.copy(), tmp_path / f"{name}.nc")
        saved[name] = tmp_path / f"{name}_checks.nc"
        result = CliRunner().invoke(cli, ["loo", str(path), "--save", str(saved[name]), "--ppc-draws", "50",
                                          "--out", str(tmp_path / f"{name}.csv")])
        assert result.exit_code == 0, result.output
        for word in ("elpd_loo", "p_loo", "Pareto k", "good (k <="):
            assert word in result.output, result.output
    estimates, bands = loo_summary(true_model.copy())
    table = pd.read_csv(tmp_path / "gender.csv")
    assert table.loc[table.row == "elpd_loo", "estimate"].item() == pytest.approx(estimates.loc["elpd_loo", "estimate"])
    assert bands.raters.sum() == true_model.constant_data.sizes["rater"]
    # p_loo's se is positive and smaller than p_loo's own size here (a handful of parameters, 160 raters)
    assert 0 < estimates.loc["p_loo", "se"] < estimates.loc["p_loo", "estimate"]

    files = {name: az.from_netcdf(str(path)) for name, path in saved.items()}
    loo = az.loo(files["gender"])
    assert loo.n_data_points == true_model.constant_data.sizes["rater"]
    assert loo.elpd_loo == pytest.approx(estimates.loc["elpd_loo", "estimate"])
    compared = az.compare(files)
    assert compared.index[0] == "gender"
    axes = az.plot_ppc(files["gender"], num_pp_samples=20)
    assert np.size(axes) >= 1
    reread = files["gender"]
    assert reread.posterior_predictive["rating"].shape[-1] == reread.observed_data["rating"].size
    ids = set(survey.participants.participant_id.astype(str))
    raters = set(reread.log_likelihood["rater"].to_numpy().astype(str))
    assert raters and not raters & ids
    raw = Path(saved["gender"]).read_bytes()
    assert not any(pid.encode() in raw for pid in list(ids)[:40])


def test_loo_save_refuses_two_posteriors_an_input_and_a_users_file(true_model, tmp_path):
    from click.testing import CliRunner

    from pluralstats.cli import cli
    from pluralstats.models import save_posterior

    path = save_posterior(true_model.copy(), tmp_path / "a.nc")
    result = CliRunner().invoke(cli, ["loo", str(path), str(path), "--save", str(tmp_path / "s.nc")])
    assert result.exit_code == 2 and "exactly one posterior" in result.output
    assert not (tmp_path / "s.nc").exists()
    before = path.read_bytes()
    onto_input = CliRunner().invoke(cli, ["loo", str(path), "--save", str(path)])
    assert onto_input.exit_code == 2 and "is the input" in onto_input.output and path.read_bytes() == before
    (tmp_path / "mine.nc").write_text("mine")
    users = CliRunner().invoke(cli, ["loo", str(path), "--save", str(tmp_path / "mine.nc")])
    assert users.exit_code == 2 and (tmp_path / "mine.nc").read_text() == "mine"
    for _ in range(2):  # a rerun replaces the file it wrote
        again = CliRunner().invoke(cli, ["loo", str(path), "--save", str(tmp_path / "s.nc"), "--ppc-draws", "10"])
        assert again.exit_code == 0, again.output
