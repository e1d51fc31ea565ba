"""KTO, ORPO and SFT plugins on the tiny model: weights change and the preference margin moves the right way;
KTO's unpaired data from a group's ratings; ``--set`` and the CLI's exit-2 errors."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.errors import InputError
from pluralstats.finetune import DPOTrainConfig, GRPOTrainConfig, TrainConfig
from pluralstats.finetune.kto import KTOPlugin
from pluralstats.finetune.kto_config import KTOTrainConfig
from pluralstats.finetune.orpo import ORPOPlugin
from pluralstats.finetune.orpo_config import ORPOTrainConfig
from pluralstats.finetune.pair_datasets import completion_logps, preference_margins
from pluralstats.finetune.sft import SFTPlugin, chosen_dataset
from pluralstats.finetune.sft_config import SFTTrainConfig
from pluralstats.prefs.unpaired import build_unpaired
from tests.finetune_fixtures import max_change, parameters

FAST = dict(batch_size=8, device="cpu", seed=0, logging_steps=2, progress=False, save_steps=1000)


def _load(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def _with_thresholds(survey, **cuts: int):
    dims = {d: dataclasses.replace(v, positive_threshold=cuts.get(d, v.positive_threshold))
            for d, v in survey.config.dimensions.items()}
    return dataclasses.replace(survey, config=dataclasses.replace(survey.config, dimensions=dims))


def test_config_fields_carry_help():
    for cls in (TrainConfig, DPOTrainConfig, GRPOTrainConfig, KTOTrainConfig, ORPOTrainConfig, SFTTrainConfig):
        missing = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("help")]
        assert not missing, (cls.__name__, missing)


def test_unpaired_labels_follow_polarity_and_threshold(ft_survey):
    with pytest.raises(InputError, match=r"\[dimensions.toxicity\] positive_threshold"):
        build_unpaired(ft_survey, allow_small_groups=True)
    survey = _with_thresholds(ft_survey, toxicity=3, emotional_awareness=4)
    tox = build_unpaired(survey, dimensions=["toxicity"], groups=["political=conservative"],
                         allow_small_groups=True)
    # independently: a toxicity rating is good below the threshold; desirable = more than half good
    ratings = survey.ratings_with_attributes()
    ratings = ratings[(ratings.dimension == "toxicity") & (ratings.political == "conservative")]
    good = (ratings.rating < 3).groupby(ratings.item_id).mean()
    expected = good[(good - 0.5).abs() > 1e-9] > 0.5
    got = tox.set_index("item_id").label
    assert set(got.index) <= set(expected.index) and len(got) > 20
    assert (got == expected.loc[got.index]).all()
    assert tox.label.any() and not tox.label.all() and set(tox.group) == {"political=conservative"}
    both = build_unpaired(survey, dimensions=["toxicity", "emotional_awareness"], allow_small_groups=True)
    assert both.label.mean() < build_unpaired(survey, dimensions=["toxicity"], allow_small_groups=True).label.mean()


def test_kto_changes_weights_and_separates_desirable(tiny_dir, ft_survey, tmp_path):
    base_path, _ = tiny_dir
    frame = build_unpaired(_with_thresholds(ft_survey, toxicity=3, emotional_awareness=4),
                           dimensions=["toxicity", "emotional_awareness"], allow_small_groups=True)
    frame = frame.groupby("label").sample(n=24, random_state=0).reset_index(drop=True)
    base, tok = _load(base_path)

    def gap(model) -> float:  # mean log-prob of desirable minus undesirable responses
        logp = pd.Series(completion_logps(model, tok, list(frame.prompt), list(frame.completion)))
        return float(logp[frame.label].mean() - logp[~frame.label].mean())

    before = gap(base)
    out = KTOPlugin().train(frame, str(base_path), KTOTrainConfig(epochs=2, learning_rate=5e-4, **FAST),
                            tmp_path / "kto")
    tuned, _ = _load(out)
    assert max_change(parameters(base), parameters(tuned)) > 1e-3
    assert gap(tuned) > before + 1.0, (before, gap(tuned))
    assert json.loads((out / "training_log.json").read_text())["method"] == "kto"


@pytest.mark.parametrize("plugin, config", [
    (ORPOPlugin, ORPOTrainConfig(epochs=2, learning_rate=1e-3, beta=0.5, **FAST)),
    (SFTPlugin, SFTTrainConfig(epochs=2, learning_rate=1e-3, **FAST)),
], ids=["orpo", "sft"])
def test_paired_plugins_change_weights_and_raise_margin(plugin, config, tiny_dir, ft_pairs, tmp_path):
    base_path, _ = tiny_dir
    pairs = ft_pairs.head(32)
    base, tok = _load(base_path)
    before = preference_margins(base, tok, pairs).logp_margin.mean()
    out = plugin().train(pairs, str(base_path), config, tmp_path / plugin.name)
    tuned, _ = _load(out)
    after = preference_margins(tuned, tok, pairs).logp_margin.mean()
    assert max_change(parameters(base), parameters(tuned)) > 1e-3
    assert after > before + 1.0, (before, after)


def test_sft_trains_on_unique_chosen_responses(ft_pairs):
    rows = chosen_dataset(ft_pairs).to_pandas()
    assert list(rows.columns) == ["prompt", "completion"]
    assert len(rows) == len(ft_pairs[["prompt", "chosen"]].drop_duplicates())
    assert len(chosen_dataset(ft_pairs, deduplicate=False)) == len(ft_pairs)


def test_cli_kto_from_survey_with_set_options(tiny_dir, ft_survey, tmp_path):
    from pluralstats.survey import save_survey

    base_path, _ = tiny_dir
    save_survey(ft_survey, tmp_path / "plain")
    common = ["finetune", "--method", "kto", "--model", str(base_path), "--device", "cpu"]
    res = CliRunner().invoke(cli, [*common, "--survey", str(tmp_path / "plain"), "--out", str(tmp_path / "o1")])
    assert res.exit_code == 2 and "[dimensions.toxicity] positive_threshold" in res.output
    assert not (tmp_path / "o1").exists()

    save_survey(_with_thresholds(ft_survey, toxicity=3), tmp_path / "cut")
    res = CliRunner().invoke(cli, [*common, "--survey", str(tmp_path / "cut"), "--out", str(tmp_path / "o2"),
                                   "--set", "desirable_wieght=2"])
    assert res.exit_code == 2
    assert "unknown key 'desirable_wieght'" in res.output and "desirable_weight" in res.output
    res = CliRunner().invoke(cli, [*common, "--prefs", "x.parquet", "--out", str(tmp_path / "o3")])
    assert res.exit_code == 2 and "--survey" in res.output
    res = CliRunner().invoke(cli, [*common, "--survey", str(tmp_path / "cut"), "--out", str(tmp_path / "o4"),
                                   "--group", "political=liberal", "--max-steps", "2", "--batch-size", "4",
                                   "--set", "desirable-weight=1.5", "--set", "allow_small_groups=true"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "o4" / "manifest.json").read_text())
    assert manifest["options"]["desirable_weight"] == 1.5 and manifest["options"]["group"] == "political=liberal"


def test_cli_set_and_plugin_options(ft_prefs_path, tmp_path):
    res = CliRunner().invoke(cli, ["finetune", "--method", "orpo", "--prefs", str(ft_prefs_path), "--model", "m",
                                   "--out", str(tmp_path / "o"), "--set", "beta=high"])
    assert res.exit_code == 2 and "beta=high" in res.output and "float" in res.output
    res = CliRunner().invoke(cli, ["plugins", "--options", "kto"])
    assert res.exit_code == 0 and "desirable_weight" in res.output and "undesirable" in res.output
    res = CliRunner().invoke(cli, ["plugins"])
    assert all(name in res.output for name in ("dpo", "grpo", "kto", "orpo", "sft"))
