"""The tuned-model side of compare: model differences from shift draws, and agreement with the survey."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from pluralstats.errors import InputError
from pluralstats.evaluate.compare_models import agreement, model_name_for, model_side
from pluralstats.evaluate.shift import ShiftFit


def known_fit(seed: int = 0) -> ShiftFit:
    """A posterior with known draws: control mean 2.0; liberal -0.4, conservative -0.1 on toxicity."""
    rng = np.random.default_rng(seed)
    chains, draws = 2, 2000
    beta = np.empty((chains, draws, 2, 2))  # tuned (conservative, liberal) x dimension
    beta[..., 0, 0] = rng.normal(-0.1, 0.05, (chains, draws))
    beta[..., 1, 0] = rng.normal(-0.4, 0.05, (chains, draws))
    beta[..., :, 1] = rng.normal(0.2, 0.05, (chains, draws, 2))
    mu = np.stack([np.full((chains, draws), 2.0), np.full((chains, draws), 3.0)], axis=-1)
    idata = az.from_dict(posterior={"beta": beta, "mu": mu},
                         coords={"tuned": ["conservative", "liberal"], "dimension": ["toxicity", "helpfulness"]},
                         dims={"beta": ["tuned", "dimension"], "mu": ["dimension"]})
    return ShiftFit(idata, ["control", "conservative", "liberal"], ["toxicity", "helpfulness"], "control")


def test_model_side_is_difference_of_shifts_in_points_and_percent():
    side = model_side(known_fit(), "liberal", "conservative").set_index("dimension")
    tox = side.loc["toxicity"]
    assert tox["diff"] == pytest.approx(-0.3, abs=0.01)
    assert tox.lo < -0.3 < tox.hi and tox.hi < 0
    # percent of the conservative model's expected toxicity (2.0 - 0.1 = 1.9)
    assert tox.model_rel_pct == pytest.approx(100 * -0.3 / 1.9, abs=0.6)
    assert len(tox.draws) == 4000
    assert side.loc["helpfulness", "lo"] < 0 < side.loc["helpfulness", "hi"]


def test_agreement_same_sign_ratio_and_gap():
    rng = np.random.default_rng(1)
    survey = rng.normal(-0.6, 0.05, 4000)
    same = agreement(survey, rng.normal(-0.3, 0.05, 4000))
    assert same["p_same_sign"] > 0.99
    assert same["ratio"] == pytest.approx(0.5, abs=0.03) and same["ratio_lo"] < 0.5 < same["ratio_hi"]
    assert same["gap"] == pytest.approx(0.3, abs=0.01)
    opposite = agreement(survey, rng.normal(0.3, 0.05, 4000))
    assert opposite["p_same_sign"] < 0.01 and opposite["ratio"] < 0
    unsure = agreement(survey, rng.normal(0.0, 0.05, 4000))
    assert 0.3 < unsure["p_same_sign"] < 0.7


def test_model_names_match_groups():
    models = ["control", "political=liberal", "conservative"]
    assert model_name_for("liberal", models) == "political=liberal"
    assert model_name_for("political=conservative", models) == "conservative"
    with pytest.raises(InputError, match="No single evaluated model"):
        model_name_for("female", models)


class _ShrunkScorer:
    """Scores each response at half its true distance from 3 (a scorer shrunk toward the mean by 2x)."""

    dimensions = ["toxicity"]
    scale_max = 5

    def __init__(self, truth: dict[str, float]):
        self.truth = truth

    def score(self, prompts, completions):
        import pandas as pd

        return pd.DataFrame({"toxicity": [3 + 0.5 * (self.truth[c] - 3) for c in completions]})


def test_scorer_calibration_recovers_a_planted_shrinkage_on_held_out_prompts_only():
    from types import SimpleNamespace

    import pandas as pd

    from pluralstats.evaluate.calibration import scorer_calibration

    rng = np.random.default_rng(3)
    items = pd.DataFrame({"item_id": [f"i{k}" for k in range(200)], "prompt_id": [f"p{k // 5}" for k in range(200)],
                          "prompt": "q", "response": [f"r{k}" for k in range(200)]})
    truth = dict(zip(items.response, rng.uniform(1.5, 4.5, 200), strict=True))
    ratings = pd.DataFrame([{"item_id": i, "dimension": "toxicity", "rating": truth[r] + rng.normal(0, 0.8)}
                            for i, r in zip(items.item_id, items.response, strict=True) for _ in range(6)])
    split = pd.Series(["eval" if k < 20 else "train" for k in range(40)], index=[f"p{k}" for k in range(40)])
    # the train prompts' items are scored as if the scorer were perfect there: they must not enter
    survey = SimpleNamespace(items=items, ratings=ratings, dimensions=["toxicity"])
    row = scorer_calibration(_ShrunkScorer(truth), survey, split).iloc[0]
    assert row.n_items == 100
    assert row.slope == pytest.approx(2.0, abs=3 * row.slope_se) and 0.02 < row.slope_se < 0.2
    assert row.r > 0.9


def test_model_side_puts_a_calibrated_scorer_difference_in_rating_points():
    from pluralstats.evaluate.calibration import CALIBRATION_ATTR

    fit = known_fit()
    fit.idata.posterior.attrs[CALIBRATION_ATTR] = '{"toxicity": {"slope": 2.0, "slope_se": 0.1, "n_items": 80}}'
    side = model_side(fit, "liberal", "conservative").set_index("dimension")
    tox = side.loc["toxicity"]
    assert tox["diff"] == pytest.approx(-0.3, abs=0.01)  # the scorer's points are kept
    assert tox.model_cal == pytest.approx(-0.6, abs=0.02) and tox.scorer_slope == 2.0
    # the slope's uncertainty widens the interval beyond 2x the scorer-point one
    assert tox.model_cal_hi - tox.model_cal_lo > 2 * (tox.hi - tox.lo)
    assert np.isnan(side.loc["helpfulness", "model_cal"])  # no calibration for that dimension


def test_direction_agreement_rank_correlation_with_bootstrap_interval():
    """Figure 2's direction statistics: rows with both sides, same-sign count, Spearman over rows, and a
    bootstrap interval that is wide for few rows and tight for many well-ordered ones."""
    import pandas as pd
    from scipy.stats import spearmanr

    from pluralstats.evaluate.compare_models import direction_agreement, direction_text

    rng = np.random.default_rng(3)
    implied = rng.normal(0, 0.2, 15)
    model = 0.05 * implied + rng.normal(0, 0.002, 15)  # another scale entirely, the same order
    model[[2, 7]] = -model[[2, 7]]  # two rows point the other way
    frame = pd.DataFrame({"diff": implied * 3, "implied": implied, "model_diff": model * 10, "model_cal": model})
    frame.loc[4, ["implied", "model_cal", "model_diff"]] = np.nan  # a suppressed row: left out
    stats = direction_agreement(frame, seed=1)
    keep = np.arange(15) != 4
    assert stats["n_rows"] == 14
    assert stats["same_direction"] == int((np.sign(implied[keep]) == np.sign(model[keep])).sum())
    assert stats["spearman"] == pytest.approx(spearmanr(implied[keep], model[keep]).statistic)
    assert stats["spearman_lo"] < stats["spearman"] < stats["spearman_hi"] <= 1
    assert "Spearman" in direction_text(stats)
    # without implied or calibration columns the level difference and the scorer difference are used
    plain = direction_agreement(frame.drop(columns=["implied", "model_cal"]).assign(diff=implied, model_diff=model))
    assert plain["n_rows"] == 15 and plain["spearman"] == pytest.approx(spearmanr(implied, model).statistic)
    perfect = direction_agreement(pd.DataFrame({"diff": np.arange(12.0), "model_diff": np.arange(12.0) ** 3}))
    assert perfect["spearman"] == 1 and perfect["spearman_hi"] == 1 and perfect["spearman_lo"] > 0.8
    few = direction_agreement(frame.head(2))
    assert few["n_rows"] == 2 and np.isnan(few["spearman"]) and "3 or more" in few["note"]
