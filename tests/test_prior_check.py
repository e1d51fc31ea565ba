"""The prior predictive check: draws from the priors on the survey's design, gaps that follow the prior scale."""

from __future__ import annotations

import numpy as np
import pytest

from pluralstats.estimates.prior_check import prior_check, sample_prior
from pluralstats.models.diagnostics import require_diagnostics
from pluralstats.survey.simulate import SimulationConfig, simulate_survey
from tests.hostile.conftest import run_cli

SMALL = SimulationConfig(n_participants=80, prompts_per_language=6, responses_per_prompt=3, prompts_per_participant=3)
OPTIONS = {"dimensions": ["toxicity"], "attributes": ["gender", "political"], "draws": 300}


@pytest.fixture(scope="module")
def survey():
    return simulate_survey(SMALL, seed=2).survey


def test_gaps_follow_the_prior_scale_of_the_attribute_effects(survey):
    shares, wide = prior_check(survey, **OPTIONS)
    _, narrow = prior_check(survey, beta_prior_sd=0.01, **OPTIONS)
    assert np.allclose(shares.groupby("dimension").share.sum(), 1.0)
    width = lambda g: (g.gap_hi - g.gap_lo).mean()  # noqa: E731
    # Normal(0, 2.5) logit effects: gaps of a rating point or more are plausible a priori; with sd 0.01 only
    # the rater and multinomial noise of a finite group remains
    assert width(wide) > 2.0 > 0.8 > width(narrow)
    assert abs(wide.gap_median).max() < 0.4  # the prior favours no direction


def test_prior_draws_are_never_taken_for_a_posterior(survey):
    from pluralstats.errors import DiagnosticsError

    prior = sample_prior(survey, **OPTIONS)
    with pytest.raises(DiagnosticsError, match="prior draws"):
        require_diagnostics(prior)


def test_prior_check_command_writes_figure_tables_and_manifest(survey, tmp_path):
    from pluralstats.survey import save_survey

    bundle = save_survey(survey, tmp_path / "s")
    out = tmp_path / "pc"
    result = run_cli(["prior-check", bundle, "--out", out, "--dimensions", "toxicity", "--draws", "100"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {"prior_check.png", "prior_gaps.csv", "prior_shares.csv",
                                                "manifest.json"}
