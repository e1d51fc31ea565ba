"""The simulator hits the study's counts and planted effects; descriptives match hand computations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.survey import load_survey
from pluralstats.survey.describe import agreement, conditional_positive_matrix, group_means, rating_distribution
from pluralstats.survey.simulate import SimulationConfig, simulate_survey
from pluralstats.survey.simulation_config import PAPER_EFFECTS, PlantedEffect, with_interactions


def test_paper_scale_counts(paper_survey):
    survey = paper_survey.survey
    assert survey.participants.participant_id.nunique() == 1095
    judgements = survey.ratings.groupby(["participant_id", "item_id"]).size()
    assert len(judgements) == 27375 and (judgements == 5).all()  # every judgement rates all five dimensions
    per_rater = judgements.groupby("participant_id").size()
    assert (per_rater == 25).all()
    assert set(survey.participants.country) == {"us", "de"}
    assert set(survey.items.language) == {"en", "de"}


def test_within_rater_comparisons_exist(paper_survey):
    survey = paper_survey.survey
    rated = survey.ratings.drop_duplicates(["participant_id", "item_id"]).merge(survey.items, on="item_id")
    per_prompt = rated.groupby(["participant_id", "prompt_id"]).size()
    assert (per_prompt == 5).all()  # each participant rates all 5 responses of each of their prompts


def _raw_ratio(survey, dimension, attribute, a, b):
    merged = survey.ratings_with_attributes()
    means = merged[merged.dimension == dimension].groupby(attribute).rating.mean()
    return means[a] / means[b]


@pytest.mark.parametrize(("dimension", "attribute", "a", "b", "target"), [
    ("toxicity", "gender", "male", "female", 0.82),
    ("emotional_awareness", "political", "conservative", "liberal", 1.279),
    ("emotional_awareness", "race_ethnicity", "black", "white", 1.44),
])
def test_planted_effects_visible_in_raw_means(paper_survey, dimension, attribute, a, b, target):
    ratio = _raw_ratio(paper_survey.survey, dimension, attribute, a, b)
    assert ratio == pytest.approx(target, abs=0.04)


def test_truth_contrasts_match_planted_targets(paper_survey):
    truth = {(c["dimension"], c["attribute"], c["level_a"]): c for c in paper_survey.truth["contrasts"]}
    assert truth["toxicity", "gender", "male"]["rel_pct"] == pytest.approx(-18.0, abs=0.01)
    assert truth["emotional_awareness", "political", "conservative"]["rel_pct"] == pytest.approx(27.9, abs=0.01)
    assert truth["emotional_awareness", "race_ethnicity", "black"]["rel_pct"] == pytest.approx(44.0, abs=0.01)
    small = [c for k, c in truth.items() if k not in {("toxicity", "gender", "male"),
             ("emotional_awareness", "political", "conservative"), ("emotional_awareness", "race_ethnicity", "black")}]
    assert max(abs(c["rel_pct"]) for c in small) < 10  # "other effects small"


def test_texts_vary_with_quality_levels(paper_survey):
    items = paper_survey.survey.items.set_index("item_id")
    levels = pd.DataFrame(paper_survey.truth["item_levels"])
    insults = items.response.str.contains("idiot|loser|Idiot|Versager")
    assert insults[levels.toxicity == 3].all() and not insults[levels.toxicity < 3].any()
    empathy = items.response.str.contains("sorry|painful|leid|schmerzhaft")
    assert empathy[levels.emotional_awareness == 3].all() and not empathy[levels.emotional_awareness < 3].any()
    assert items.response.nunique() > 0.9 * len(items)


def test_interactions_change_group_sensitivity_not_planted_contrast():
    effects = with_interactions(PAPER_EFFECTS, 0.5)
    sim = simulate_survey(SimulationConfig(n_participants=600, effects=effects), seed=5)
    [tox] = [c for c in sim.truth["contrasts"] if (c["dimension"], c["level_a"]) == ("toxicity", "male")]
    assert tox["rel_pct"] == pytest.approx(-18.0, abs=0.01)
    merged = sim.survey.ratings_with_attributes().query("dimension == 'toxicity'")
    per_item = merged.groupby(["gender", "item_id"]).rating.mean().unstack(0)
    level = pd.Series(sim.truth["item_levels"]["toxicity"]).reindex(per_item.index)
    slope = {g: np.polyfit(level, per_item[g], 1)[0] for g in ("female", "male")}
    assert 0.35 < slope["male"] / slope["female"] < 0.75  # male raters follow toxic wording about half as much


def test_same_seed_same_survey_other_seed_differs():
    cfg = SimulationConfig(n_participants=40, prompts_per_language=6)
    a, b, c = (simulate_survey(cfg, seed=s).survey.ratings for s in (3, 3, 4))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_custom_planted_effect():
    cfg = SimulationConfig(n_participants=60, prompts_per_language=6,
                           effects=(PlantedEffect("helpfulness", "political", "conservative", "liberal", 30.0),))
    truth = simulate_survey(cfg, seed=1).truth
    [c] = [c for c in truth["contrasts"] if c["dimension"] == "helpfulness" and c["level_a"] == "conservative"]
    assert c["rel_pct"] == pytest.approx(30.0, abs=0.01)


def test_cli_simulate_writes_a_valid_bundle(tmp_path):
    out = tmp_path / "sim"
    result = CliRunner().invoke(cli, ["simulate", "--out", str(out), "--participants", "30",
                                      "--prompts-per-language", "6", "--seed", "2"])
    assert result.exit_code == 0, result.output
    survey = load_survey(out)
    assert survey.ratings.groupby(["participant_id", "item_id"]).ngroups == 30 * 25
    truth = json.loads((out / "truth.json").read_text())
    assert truth["seed"] == 2 and len(truth["contrasts"]) > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 2 and manifest["command"] == "simulate" and "pandas" in manifest["versions"]


def test_figure1_matrix_equals_hand_computation(tiny_bundle):
    matrix = conditional_positive_matrix(load_survey(tiny_bundle))
    # toxicity positive (>=4): p1a2, p2a2, p4b1; helpfulness positive: p1a1, p2a1, p2a2, p3b1, p4b1
    assert matrix.loc["toxicity", "helpfulness"] == pytest.approx(2 / 3)
    assert matrix.loc["helpfulness", "toxicity"] == pytest.approx(2 / 5)
    assert np.diag(matrix.to_numpy()).tolist() == [1.0, 1.0]
    lowered = conditional_positive_matrix(load_survey(tiny_bundle), {"toxicity": 3})
    # toxicity >= 3 adds p3b2 (helpfulness 1): P(help+ | tox+) = 2/4
    assert lowered.loc["toxicity", "helpfulness"] == pytest.approx(2 / 4)


def test_group_means_and_small_cell_suppression(tiny_bundle):
    survey = load_survey(tiny_bundle)
    means = group_means(survey).set_index(["attribute", "level", "dimension"])
    assert means.loc[("gender", "male", "toxicity"), "mean"] == pytest.approx((2 + 4 + 4 + 2) / 4)
    assert means.loc[("all", "all", "toxicity"), "n_raters"] == 4
    survey.config = type(survey.config)(**{**survey.config.__dict__, "min_group_size": 3})
    suppressed = group_means(survey).set_index(["attribute", "level", "dimension"])
    assert suppressed.loc[("gender", "male", "toxicity"), "small_cell"]
    assert np.isnan(suppressed.loc[("gender", "male", "toxicity"), "mean"])


def test_krippendorff_alpha_perfect_and_noisy(paper_survey):
    survey = paper_survey.survey
    perfect = survey.ratings.copy()
    perfect["rating"] = perfect.groupby(["item_id", "dimension"]).rating.transform("first")
    clone = type(survey)(survey.config, perfect, survey.participants, survey.items)
    alpha = agreement(clone).query("attribute == 'all'").alpha_ordinal
    assert np.allclose(alpha, 1.0)
    noisy = agreement(survey).query("attribute == 'all'").alpha_ordinal
    assert ((noisy > 0.05) & (noisy < 0.6)).all()  # real item signal plus rater noise


def test_cli_describe_writes_figure_and_tables(tmp_path):
    bundle = tmp_path / "sim"
    runner = CliRunner()
    runner.invoke(cli, ["simulate", "--out", str(bundle), "--participants", "40", "--prompts-per-language", "6"])
    out = tmp_path / "desc"
    result = runner.invoke(cli, ["describe", str(bundle), "--out", str(out), "--threshold", "toxicity=3"])
    assert result.exit_code == 0, result.output
    for name in ("figure1_conditional.png", "figure1_conditional.pdf", "figure1_conditional.csv",
                 "group_means.csv", "agreement.csv", "rating_distribution.png", "manifest.json"):
        assert (out / name).stat().st_size > 0
    matrix = pd.read_csv(out / "figure1_conditional.csv", index_col=0)
    assert matrix.shape == (5, 5)
    # the written values are the matrix of the bundle under the --threshold given, not the default one
    expected = conditional_positive_matrix(load_survey(bundle), {"toxicity": 3})
    assert list(matrix.index) == list(expected.index) and np.allclose(matrix.to_numpy(), expected.to_numpy())
    assert not np.allclose(expected.to_numpy(), conditional_positive_matrix(load_survey(bundle)).to_numpy())
    assert np.allclose(np.diag(matrix.to_numpy()), 1.0)
    assert "P0" not in result.output  # no participant ids in reports


def test_distribution_rows_follow_survey_order_like_figure1(paper_survey):
    """The distribution plot and Figure 1 list dimensions in survey.toml's order, not alphabetically."""
    survey = paper_survey.survey
    assert list(rating_distribution(survey).index) == survey.dimensions
    assert list(conditional_positive_matrix(survey).index) == survey.dimensions
    assert survey.dimensions != sorted(survey.dimensions)  # else the check would be vacuous


def test_describe_figures_label_dimensions_alike_in_survey_order(paper_survey, tmp_path, monkeypatch):
    """Figure 1 and the distribution plot name the dimensions the same way, in survey.toml's order."""
    import pluralstats.plots.descriptives as descriptives_plots

    figs = []
    save = descriptives_plots.save_figure
    monkeypatch.setattr(descriptives_plots, "save_figure", lambda fig, stem: figs.append(fig) or save(fig, stem))
    survey = paper_survey.survey
    descriptives_plots.plot_conditional_matrix(conditional_positive_matrix(survey), tmp_path / "figure1")
    descriptives_plots.plot_rating_distribution(rating_distribution(survey), tmp_path / "distribution")
    expected = [d.replace("_", " ") for d in survey.dimensions]
    assert [t.get_text() for t in figs[0].axes[0].get_yticklabels()] == expected
    assert [t.get_text() for t in figs[1].axes[0].get_xticklabels()] == expected
