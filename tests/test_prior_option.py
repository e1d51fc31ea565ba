"""`--prior NAME=SD`: parsed into the model's Priors, passed to the fit, bad values refused with exit 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.errors import InputError
from pluralstats.models.priors import DEFAULT_PRIORS, parse_priors


def test_parse_priors_sets_the_named_scales_only():
    priors, given = parse_priors(["tau=1", "Beta=1.5", "sigma_item=0.7"])
    assert (priors.tau_sd, priors.beta_sd, priors.sigma_item_sd) == (1.0, 1.5, 0.7)
    assert priors.sigma_rater_sd == DEFAULT_PRIORS.sigma_rater_sd and given == ["tau", "beta", "sigma_item"]


@pytest.mark.parametrize(("item", "message"), [("gamma=1", "must be NAME=SD"), ("tau", "must be NAME=SD"),
                                               ("tau=abc", "not a number"), ("tau=0", "positive"),
                                               ("tau=-1", "positive"), ("tau=inf", "positive")])
def test_parse_priors_refuses_bad_items(item, message):
    with pytest.raises(InputError, match=message):
        parse_priors([item])
    with pytest.raises(InputError, match="twice"):
        parse_priors(["tau=1", "tau=2"])


@pytest.fixture
def captured(monkeypatch):
    """fit_survey replaced by a stub that records its keyword arguments and stops the command (exit 2)."""
    import pluralstats.models as models

    seen: dict = {}

    def stub(survey, **kwargs):
        seen.update(kwargs)
        raise InputError("stub fit")

    monkeypatch.setattr(models, "fit_survey", stub)
    return seen


def test_fit_survey_passes_the_priors_on(tiny_bundle, tmp_path, captured):
    result = CliRunner().invoke(cli, ["fit-survey", str(tiny_bundle), "--out", str(tmp_path / "p.nc"),
                                      "--prior", "tau=1", "--prior", "beta=1"])
    assert result.exit_code == 2 and "stub fit" in result.output, result.output
    assert captured["priors"].tau_sd == 1.0 and captured["beta_prior_sd"] == 1.0
    captured.clear()
    CliRunner().invoke(cli, ["fit-survey", str(tiny_bundle), "--out", str(tmp_path / "p.nc")])
    assert "priors" not in captured and captured["beta_prior_sd"] == 2.5  # no --prior: the defaults, as before


def test_bad_prior_exits_2_before_fitting(tiny_bundle, tmp_path, captured):
    for args, message in ((["--prior", "tau=x"], "not a number"),
                          (["--prior", "beta=1", "--beta-prior-sd", "2"], "disagree")):
        result = CliRunner().invoke(cli, ["fit-survey", str(tiny_bundle), "--out", str(tmp_path / "p.nc"), *args])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
        assert not captured and not (tmp_path / "p.nc").exists()


@pytest.mark.slow
def test_prior_sensitivity_script_tabulates_three_prior_sets(tmp_path):
    """analyses/prior_sensitivity.py on a small survey: one row per prior set for tau on every dimension and for
    each followed contrast, the same contrasts under every set, and the narrow tau prior pulling tau no higher
    than the wide one."""
    import importlib.util
    from pathlib import Path

    import pandas as pd

    path = Path(__file__).resolve().parents[1] / "analyses" / "prior_sensitivity.py"
    spec = importlib.util.spec_from_file_location("prior_sensitivity", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--out", str(tmp_path), "--participants", "150", "--draws", "150", "--top", "3"]) == 0
    table = pd.read_csv(tmp_path / "prior_sensitivity.csv")
    assert set(table.priors) == {"default", "wide", "narrow"}
    taus = table[table.quantity == "tau_political"].pivot(index="dimension", columns="priors", values="estimate")
    assert len(taus) == 5 and (taus.narrow <= taus.wide + 0.02).all()
    contrasts = table[table.quantity.str.startswith("contrast")]
    assert contrasts.groupby("priors").size().to_dict() == {"default": 3, "narrow": 3, "wide": 3}
