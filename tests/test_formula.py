"""Bambi formulas (``pluralstats.models.to_bambi``) against the package's own model.

On a small simulated survey (one dimension) the additive formula ``rating ~ gender + political + (1|rater) +
(1|item)`` and ``fit_survey`` with the same attributes estimate the same model up to its parametrisation (Bambi's
rater and item effects are not zero-sum) and the thresholds' prior location: every level effect and every adjusted
contrast agrees within Monte Carlo error plus a small tolerance. The per-rater log-likelihood to_bambi stores is the
package's own LOO computation to rounding; an interaction formula runs, is gated and works with ``az.loo``; bad
formulas are InputErrors naming the column.
"""

from __future__ import annotations

import numpy as np
import pytest

from pluralstats.errors import DiagnosticsError, InputError
from pluralstats.models import all_contrasts, fit_survey, load_posterior, mcmc, meta_of, save_posterior, to_bambi
from pluralstats.models.diagnostics import (
    STATUS_ATTR,
    recorded_diagnostics,
    recorded_families,
    require_diagnostics,
    verdict_of,
)
from pluralstats.models.formula import diagnose_formula, formula_comparisons, formula_settings
from pluralstats.survey.simulate import SimulationConfig, simulate_survey

SMALL = SimulationConfig(n_participants=120, prompts_per_language=6, responses_per_prompt=4, prompts_per_participant=3)
DIMENSION = "toxicity"
ATTRIBUTES = ["gender", "political"]
ADDITIVE = "rating ~ gender + political + (1|rater) + (1|item)"
INTERACTION = "rating ~ gender * political + (1|rater) + (1|item)"
#: Monte Carlo standard errors of the difference allowed, and what the priors' differences may add: the
#: thresholds' prior (Bambi's reference-level thresholds vs the package's centred cut points, both weak) and the
#: zero-sum rater effects move the level effects by about 0.01 logits here (measured; see the report in the test)
MCSE_FACTOR = 4.0
BETA_TOL = 0.05  # logits
CONTRAST_TOL = 0.02  # rating points


@pytest.fixture(scope="module")
def survey():
    return simulate_survey(SMALL, seed=1).survey


@pytest.fixture(scope="module")
def bambi_fit(survey):
    return to_bambi(survey, ADDITIVE, dimension=DIMENSION, seed=1)


@pytest.fixture(scope="module")
def package_fit(survey):
    return fit_survey(survey, dimensions=[DIMENSION], attributes=ATTRIBUTES, seed=1, progress=False)


def _mean_and_mcse(draws: np.ndarray) -> tuple[float, float]:
    """Posterior mean of ``(chain, draw)`` draws and its Monte Carlo standard error (sd / sqrt(bulk ESS))."""
    ess = float(mcmc.ess_bulk(draws[:, :, None])[0])
    return float(draws.mean()), float(draws.std() / np.sqrt(ess))


def test_additive_formula_agrees_with_fit_survey(bambi_fit, package_fit):
    """Level effects (logits) and adjusted contrasts (rating points) agree within MCSE plus a small tolerance."""
    worst = {}
    for attr in ATTRIBUTES:
        levels = meta_of(package_fit).attributes[attr]
        assert meta_of(bambi_fit).attributes[attr] == levels
        for level in levels[1:]:
            draws = [fit.posterior[f"beta_{attr}"].sel(dimension=DIMENSION, **{f"{attr}_level": level})
                     .transpose("chain", "draw").to_numpy() for fit in (bambi_fit, package_fit)]
            (mb, eb), (mp, ep) = (_mean_and_mcse(d) for d in draws)
            allowed = MCSE_FACTOR * np.hypot(eb, ep) + BETA_TOL
            worst[f"beta_{attr}[{level}]"] = (mb - mp, allowed)
            assert abs(mb - mp) < allowed, (attr, level, mb, mp, allowed)
    from pluralstats.models.contrasts import reference_contrast_draws

    pairs = [reference_contrast_draws(fit) for fit in (bambi_fit, package_fit)]
    for b, p in zip(*pairs, strict=True):
        assert (b.attrs["attribute"], b.attrs["level_a"]) == (p.attrs["attribute"], p.attrs["level_a"])
        db, dp = (x["diff"].sel(dimension=DIMENSION).transpose("chain", "draw").to_numpy() for x in (b, p))
        (mb, eb), (mp, ep) = _mean_and_mcse(db), _mean_and_mcse(dp)
        allowed = MCSE_FACTOR * np.hypot(eb, ep) + CONTRAST_TOL
        worst[f"contrast {b.attrs['attribute']}: {b.attrs['level_a']}"] = (mb - mp, allowed)
        assert abs(mb - mp) < allowed, (b.attrs, mb, mp, allowed)
    print({k: (round(d, 4), round(a, 4)) for k, (d, a) in worst.items()})  # shown with -s: the measured agreement
    table = all_contrasts(bambi_fit)  # the package's contrasts read the Bambi posterior as their own
    assert len(table) == 3 and table["diff"].notna().all()


def test_additive_layout_verdict_and_gate(bambi_fit, tmp_path):
    post = bambi_fit.posterior
    assert {"beta_gender", "beta_political", "cutpoints", "sigma_rater", "sigma_item", "item_effect", "1|rater"} \
        <= set(post.data_vars)
    assert post["beta_gender"].sel(gender_level="female").to_numpy().max() == 0.0  # reference level fixed at 0
    np.testing.assert_allclose(post["item_effect"].mean("item").to_numpy(), 0.0, atol=1e-12)  # centred
    assert post.sizes["chain"] == 4 and post.attrs["additive"] == 1 and post.attrs["formula"] == ADDITIVE
    assert all(str(r).startswith("r") for r in bambi_fit.constant_data["rater"].to_numpy())  # pseudonyms only
    status, problems = verdict_of(bambi_fit)
    assert post.attrs[STATUS_ATTR] == status in ("passed", "failed")
    families = recorded_families(bambi_fit)
    assert set(families.family) == {"item_effect", "1|rater"}
    assert families.set_index("family").free_terms.to_dict() == {
        "item_effect": post.sizes["item"] - 1, "1|rater": post.sizes["rater__factor_dim"]}
    summary, worst = recorded_diagnostics(bambi_fit)
    assert summary["rhat_chains"] == 4 and summary["status"] == status
    if status == "passed":
        assert require_diagnostics(bambi_fit) is None
    else:
        with pytest.raises(DiagnosticsError):
            require_diagnostics(bambi_fit)
    # the recorded verdict survives the file (the digest still matches: not diagnosed again by the package)
    path = save_posterior(bambi_fit, tmp_path / "bambi.nc")
    loaded = load_posterior(path)
    assert verdict_of(loaded) == (status, problems)
    assert set(recorded_families(loaded).family) == {"item_effect", "1|rater"}
    settings = formula_settings(loaded)
    assert settings["formula"] == ADDITIVE and settings["sampler"] == "nutpie" and settings["additive"]
    assert settings["priors"]["beta_sd"] == 2.5 and "Normal" in settings["bambi_priors"]["gender"]


def test_log_likelihood_is_the_packages_leave_one_rater_out(bambi_fit, package_fit):
    import arviz as az

    from pluralstats.estimates.loo import compare_models, loo_report, rater_log_likelihood

    stored = bambi_fit.log_likelihood["ratings"]
    assert stored.dims == ("chain", "draw", "rater")
    np.testing.assert_allclose(stored.to_numpy(), rater_log_likelihood(bambi_fit).to_numpy(), atol=1e-8)
    loo = az.loo(bambi_fit)
    assert np.isfinite(loo.elpd_loo)
    report = loo_report({"bambi": bambi_fit})
    assert report.estimates.loc["elpd_loo", "estimate"] == pytest.approx(float(loo.elpd_loo))
    table, _ = compare_models({"bambi": bambi_fit, "package": package_fit})  # the same ratings, raters in order
    assert set(table.index) == {"bambi", "package"}
    assert abs(table.loc["bambi", "elpd_loo"] - table.loc["package", "elpd_loo"]) < 3 * table.dse.max() + 2


@pytest.mark.slow
def test_interaction_formula_runs_with_loo_and_comparisons(survey):
    import arviz as az

    idata = to_bambi(survey, INTERACTION, dimension=DIMENSION, seed=2)
    post = idata.posterior
    assert {"gender", "political", "gender:political", "1|item", "1|rater", "cutpoints", "sigma_rater",
            "sigma_item"} <= set(post.data_vars)
    assert "beta_gender" not in post and meta_of(idata).attributes == {}  # the package's contrasts have no place
    assert list(post["political"]["political_dim"].to_numpy()) == ["conservative"]  # survey.toml's reference
    assert all_contrasts(idata).empty
    status, _ = verdict_of(idata)
    assert status == post.attrs[STATUS_ATTR]
    judged = set(diagnose_formula(idata, rhat_chains=4).table.name.str.split("[").str[0])
    assert {"gender", "political", "gender:political", "cutpoints", "1|item", "1|rater"} <= judged
    loo = az.loo(idata)
    assert np.isfinite(loo.elpd_loo) and loo.n_data_points == len(idata.constant_data["rater"])
    table = formula_comparisons(survey, idata, "gender", "male", "female", by="political", allow_bad=True)
    means = table[table.quantity == "mean"].set_index("by_level")
    assert set(means.index) == {"liberal", "conservative"}
    assert (means.diff_lo <= means["diff"]).all() and (means["diff"] <= means.diff_hi).all()
    assert means["diff"].lt(0).all()  # the simulation plants men rating responses less toxic


@pytest.mark.parametrize("formula, match", [
    ("rating ~ nonsense + (1|rater)", "unknown column.*nonsense"),
    ("rating ~ gender + (1|participant_id)", "participant_id: write rater"),
    ("gender ~ political + (1|rater)", "response must be 'rating'"),
    ("rating ~ gender + (political|rater)", "only the rater intercept"),
    ("rating ~ gender +", "Cannot read the formula"),
])
def test_bad_formulas_are_input_errors(survey, formula, match):
    with pytest.raises(InputError, match=match) as err:
        to_bambi(survey, formula, dimension=DIMENSION)
    pids = set(survey.participants.participant_id.astype(str))
    assert not any(pid in str(err.value) for pid in pids)


def test_dimension_must_be_named_when_there_are_several(survey):
    with pytest.raises(InputError, match="one dimension"):
        to_bambi(survey, ADDITIVE)


@pytest.mark.slow
def test_ess_top_up_keeps_the_first_batch_rhat(survey, monkeypatch):
    """A first batch that passes every check but ESS gets more batches of 4 chains up to max_chains, and R-hat
    stays the first 4 chains'. ESS >= 3000 is out of reach here, so the top-up runs to its limit."""
    from pluralstats.models import diagnostics

    monkeypatch.setattr(diagnostics, "MIN_ESS", 3000)
    idata = to_bambi(survey, ADDITIVE, dimension=DIMENSION, max_chains=8, seed=1, log_likelihood=False)
    summary, _ = recorded_diagnostics(idata)
    assert idata.posterior.sizes["chain"] == 8 and summary["rhat_chains"] == 4 and summary["chains"] == 8
    assert "4 more chains (each 500 draws)" in idata.posterior.attrs["auto_choices"]
    assert verdict_of(idata)[0] == "failed" and "ESS < 3000" in verdict_of(idata)[1]


@pytest.mark.parametrize("extra, message", [
    (["--disagreement", "political"], "--formula states the model; leave out --disagreement"),
    (["--joint"], "leave out --joint"),
    (["--dimensions", "toxicity,sensitivity"], "--formula fits one dimension"),
    (["--backend", "advi"], "not --backend advi"),
])
def test_fit_survey_formula_refuses_what_the_formula_states(tmp_path, extra, message):
    from click.testing import CliRunner

    from pluralstats.cli import cli

    bundle = tmp_path / "b"
    assert CliRunner().invoke(cli, ["simulate", "--out", str(bundle), "--participants", "30"]).exit_code == 0
    args = ["fit-survey", str(bundle), "--out", str(tmp_path / "p.nc"), "--formula",
            "rating ~ gender + (1|rater) + (1|item)"]
    result = CliRunner().invoke(cli, [*args, *(["--dimensions", "toxicity"] if "--dimensions" not in extra else []),
                                      *extra])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "p.nc").exists()


def test_edited_formula_draws_are_judged_again_with_bambi_terms(bambi_fit):
    """Draws changed after the fit are diagnosed again by the formula's own rule: Bambi's rater terms, which the
    package's layout does not name, stay gated (one chain offset by 2 posterior sds in every rater term)."""
    edited = bambi_fit.copy()
    terms = edited.posterior["1|rater"]
    shifted = terms.to_numpy().copy()
    shifted[0] += 2 * terms.std(("chain", "draw")).to_numpy()
    edited.posterior["1|rater"] = terms.copy(data=shifted)
    status, problems = verdict_of(edited)
    assert status == "failed" and "1|rater" in problems
    assert set(recorded_families(edited).family) == {"item_effect", "1|rater"}
